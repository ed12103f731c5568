//! Passes over a whole log: replay and re-rating, the independent audit, and the read models'
//! rebuild. Each reads the store and runs the pipeline's own rating and projection.

pub mod audit;
pub mod rebuild;
pub mod replay;
pub mod rerate;
