//! What rating reads and writes: input events, account state (numbers, buckets, the ids an
//! account remembers) and decisions, with `apply`, which changes state by exactly what a
//! decision records. Built on the units and the tariff.

pub mod apply;
pub mod decision;
pub mod event;
pub(crate) mod footprint;
pub(crate) mod heap;
pub mod movement;
pub mod number;
pub mod recent;
pub mod session;
pub(crate) mod small_vec;
pub mod state;
pub mod take;
