//! The read side: the read models' queries, answered alike by the CLI and the HTTP server, the
//! server itself, and the reports over state and store (balances, counters, the log's digest).

pub mod decisions;
pub mod query;
pub mod report;
pub mod serve;
pub mod warehouse;
