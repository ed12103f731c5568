//! Tools around the engine: the synthetic workload generator, as lines or as a source, and the
//! CGRateS import.

pub mod cgrates;
pub mod generated;
pub mod population;
pub mod workload;
