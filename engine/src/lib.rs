//! ratel's engine: the shell around the pure rating core. It moves bytes (sources), persists
//! (the RocksDB event log and state), recovers, replays and re-rates. `rating` decides; this
//! crate never computes a price itself.

// Product code only: a test may be a long story.
#![warn(clippy::too_many_lines)]

mod input;
pub mod kafka;
pub mod online;
pub mod operations;
mod passes;
pub mod pipeline;
mod read;
pub mod store;
mod tools;

pub use input::{file_record, file_topics, folder, partition, source, topics};
pub use kafka::{changelog, directory, outbox, stream};
pub use passes::{audit, rebuild, replay, rerate};
pub use read::{decisions, query, report, serve, warehouse};
pub use store::{changed, entry, files, keys};
pub use tools::{cgrates, generated, population, workload};

/// The example catalog, shipped inside the binary so that `ratel demo` runs anywhere.
pub const EXAMPLE_CATALOG: &str = include_str!("../../catalogs/example.toml");
