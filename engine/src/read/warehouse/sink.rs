//! What every format's writer does: take rows, and end the file with the cursor after it.

use super::cursor::Cursor;
use super::row::Row;
use crate::store::StoreError;

/// A writer of rows in one format.
pub(super) trait Sink {
    fn row(&mut self, row: Row) -> Result<(), StoreError>;
    /// Ends the file; `next` is the cursor after it.
    fn finish(self: Box<Self>, next: &Cursor) -> Result<(), StoreError>;
}
