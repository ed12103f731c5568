//! ratel's engine: the shell around the pure rating core. It moves bytes (sources), persists
//! (the RocksDB event log and state), recovers, replays and re-rates. `rating` decides; this
//! crate never computes a price itself.

pub mod audit;
pub mod cgrates;
pub mod changed;
pub mod changelog;
pub mod file_topics;
pub mod kafka;
pub mod keys;
pub mod models;
pub mod outbox;
pub mod partition;
pub mod pipeline;
pub mod query;
pub mod record;
pub mod replay;
pub mod report;
pub mod serve;
pub mod source;
pub mod store;
pub mod stream;
pub mod topics;
pub mod workload;

/// The example catalog, shipped inside the binary so that `ratel demo` runs anywhere.
pub const EXAMPLE_CATALOG: &str = include_str!("../../catalogs/example.toml");
