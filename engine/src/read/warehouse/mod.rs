//! The log for the data warehouse (`ratel export`): one flat row per decision and dead letter,
//! with the input's fields, the outcome, the money by kind, the units taken from buckets, the
//! price, the account and the place in the log. Streamed from the log partition by partition,
//! so memory holds one row group whatever the period; restartable from a cursor (each
//! partition's next sequence number), which every export reports for the next.
//!
//! Rows are read from the decisions alone (no state is rebuilt): a decision records every
//! amount and every unit it moved.

mod cursor;
mod parquet;
mod row;
mod sink;
mod text;

pub use cursor::Cursor;
pub use row::{Row, COLUMNS};
use sink::Sink;

use crate::entry::Entry;
use crate::pipeline::Catalogs;
use crate::query::QueryError;
use crate::store::{Store, StoreError};
use rating::Timestamp;
use std::path::Path;

/// The formats an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object a line.
    Jsonl,
    /// A header line, then a line a row (RFC 4180).
    Csv,
    /// Apache Parquet: typed columns, money as DECIMAL(38, 12) (docs/export.md).
    Parquet,
}

/// What to export.
#[derive(Debug, Clone)]
pub struct Request {
    /// Decisions whose event time is in `[from, to)`; dead letters, which have none, only when
    /// neither is given.
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub after: Cursor,
    pub format: Format,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub rows: u64,
    /// Where the next export of what follows starts.
    pub next: String,
}

/// Writes the export to `out`, whole or not at all: into a file beside it, renamed over it at
/// the end.
pub fn export(store: &Store, request: &Request, out: &Path) -> Result<Summary, QueryError> {
    let part = out.with_file_name(format!(
        ".{}.part",
        out.file_name()
            .map_or("export".into(), |n| n.to_string_lossy())
    ));
    let io = |e: std::io::Error| StoreError::Io(format!("{}: {e}", part.display()));
    let file = std::fs::File::create(&part).map_err(io)?;
    let written = write(store, request, file);
    if written.is_err() {
        // Best effort: the error is what the caller needs to hear of.
        let _ = std::fs::remove_file(&part);
    }
    let summary = written?;
    std::fs::rename(&part, out).map_err(io)?;
    Ok(summary)
}

/// Writes the rows the request keeps into `file`, partition by partition.
fn write(store: &Store, request: &Request, file: std::fs::File) -> Result<Summary, QueryError> {
    let mut sink: Box<dyn Sink> = match request.format {
        Format::Jsonl => Box::new(text::Jsonl::new(file)),
        Format::Csv => Box::new(text::Csv::new(file)),
        Format::Parquet => Box::new(parquet::Parquet::new(file)?),
    };
    let mut rows = 0u64;
    let mut next = Cursor::default();
    let mut catalogs = Catalogs::default();
    for partition in 0..store.partitions()? {
        let mut end = request.after.start(partition);
        for item in store.log_from(partition, end) {
            let (seq, entry) = item?;
            end = seq + 1;
            if let Some(row) = row_of((store, &mut catalogs), (partition, seq), &entry, request)? {
                sink.row(row)?;
                rows += 1;
            }
        }
        next.0.push(end);
    }
    sink.finish(&next)?;
    Ok(Summary {
        rows,
        next: next.to_string(),
    })
}

/// The row of a log entry, if the request keeps it.
fn row_of(
    (store, catalogs): (&Store, &mut Catalogs),
    (partition, seq): (u32, u64),
    entry: &Entry,
    request: &Request,
) -> Result<Option<Row>, QueryError> {
    let in_period = |time: Timestamp| {
        request.from.is_none_or(|t| time >= t) && request.to.is_none_or(|t| time < t)
    };
    match entry {
        Entry::Catalog { .. } => Ok(None),
        Entry::Dead { .. } if request.from.is_some() || request.to.is_some() => Ok(None),
        Entry::Dead {
            topic,
            position,
            raw,
            reason,
        } => Ok(Some(row::dead(
            (partition, seq),
            topic,
            *position,
            raw,
            reason,
        ))),
        Entry::Rated {
            position,
            input,
            decision,
        } => {
            let (input, decision) = crate::store::decode_rated(partition, seq, input, decision)?;
            if !in_period(decision.time) {
                return Ok(None);
            }
            let catalog = (catalogs.get(store, decision.catalog)).map_err(QueryError::Engine)?;
            let place = (partition, seq, *position);
            Ok(Some(row::rated(catalog, place, &input, &decision)))
        }
    }
}
