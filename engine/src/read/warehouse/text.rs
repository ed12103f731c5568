//! Rows as text: JSON lines, and CSV with a header (both through serde, the columns in
//! [`super::row::COLUMNS`] order).

use super::cursor::Cursor;
use super::row::Row;
use super::sink::Sink;
use crate::store::StoreError;
use std::io::{BufWriter, Write};

fn failed(error: impl std::fmt::Display) -> StoreError {
    StoreError::Io(format!("writing the export: {error}"))
}

pub(super) struct Jsonl(BufWriter<std::fs::File>);

impl Jsonl {
    pub(super) fn new(file: std::fs::File) -> Jsonl {
        Jsonl(BufWriter::with_capacity(1 << 20, file))
    }
}

impl Sink for Jsonl {
    fn row(&mut self, row: Row) -> Result<(), StoreError> {
        serde_json::to_writer(&mut self.0, &row).map_err(failed)?;
        self.0.write_all(b"\n").map_err(failed)
    }

    fn finish(self: Box<Self>, _next: &Cursor) -> Result<(), StoreError> {
        let file = self.0.into_inner().map_err(failed)?;
        file.sync_all().map_err(failed)
    }
}

/// Values are written as they are, for loaders: a cell is not guarded against spreadsheets
/// reading it as a formula (the detalization's CSV, made for people, is).
pub(super) struct Csv {
    writer: csv::Writer<std::fs::File>,
    rows: u64,
}

impl Csv {
    pub(super) fn new(file: std::fs::File) -> Csv {
        let writer = csv::WriterBuilder::new()
            .buffer_capacity(1 << 20)
            .from_writer(file);
        Csv { writer, rows: 0 }
    }
}

impl Sink for Csv {
    fn row(&mut self, row: Row) -> Result<(), StoreError> {
        self.rows += 1;
        self.writer.serialize(row).map_err(failed)
    }

    fn finish(self: Box<Self>, _next: &Cursor) -> Result<(), StoreError> {
        let mut writer = self.writer;
        // An export of no rows still says what its columns are (serde writes the header
        // with the first row).
        if self.rows == 0 {
            writer.write_record(super::row::COLUMNS).map_err(failed)?;
        }
        let file = writer.into_inner().map_err(failed)?;
        file.sync_all().map_err(failed)
    }
}
