//! Tools around the engine: the synthetic workload generator and the CGRateS import.

pub mod cgrates;
pub mod workload;
