//! ratel's read models: what the self-care portal and the back office read. They are derived
//! data: [`project`] turns one logged decision into updates of the models, written in the same
//! RocksDB WriteBatch as the decision, and `ratel projections rebuild` recreates them all from
//! the log with the same function.
//!
//! Three layers, each importing only from those before it:
//! - `models/`: the rows (a detalization item, a payment, the spending categories; [`item`]) and
//!   the column families, their keys, the merge operator that sums spending, and the queries over
//!   them ([`models`]).
//! - [`project`]: decision → updates; pure.
//! - `present/`: what people read: balance and packages of an account ([`view`]), a detalization
//!   as CSV or JSON ([`export`]) or as a printable PDF ([`pdf`]).

// Product code only: a test may be a long story.
#![warn(clippy::too_many_lines)]

pub mod models;
mod present;
pub mod project;

pub use models::item;
pub use present::{export, pdf, view};

pub use item::{Category, Item, PaymentKind, PaymentRow, What};
pub use models::{Detalization, ModelError, Spending, Updates};
pub use project::project;
