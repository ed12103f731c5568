//! ratel's read models: what the self-care portal and the back office read. They are derived
//! data: [`project`] turns one logged decision into updates of the models, written in the same
//! RocksDB WriteBatch as the decision, and `ratel projections rebuild` recreates them all from
//! the log with the same function.
//!
//! - [`item`]: the rows (a detalization item, a payment) and the spending categories.
//! - [`project`]: decision → updates; pure.
//! - [`models`]: the column families, their keys, the merge operator that sums spending, and the
//!   queries over them.
//! - [`view`]: balance and packages of an account, from its state and the models.
//! - [`export`]: a detalization as CSV or JSON; [`pdf`]: as a printable PDF.

pub mod export;
pub mod item;
pub mod models;
pub mod pdf;
pub mod project;
pub mod view;

pub use item::{Category, Item, PaymentKind, PaymentRow, What};
pub use models::{Detalization, ModelError, Spending, Updates};
pub use project::project;
