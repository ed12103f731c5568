//! Kafka: the input topics consumed as a source, `ratel produce`, and the engine on the topics
//! (`stream`), with its changelog (state handed over between instances) and its outbox (the
//! output topics, fed from the log).

pub mod changelog;
mod client;
mod consume;
pub mod directory;
pub mod outbox;
mod produce;
pub mod stream;
pub mod watch;

pub use client::*;
pub use consume::*;
pub use produce::*;
