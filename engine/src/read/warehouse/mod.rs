//! The log for the data warehouse (`ratel export`): one flat row per decision and dead letter,
//! with the input's fields, the outcome, the money by kind, the units taken from buckets, the
//! price, the account and the place in the log. Streamed from the log partition by partition,
//! so memory holds one row group whatever the period; restartable from a cursor (each
//! partition's next sequence number), which every export reports for the next.
//!
//! Rows are read from the decisions alone (no state is rebuilt): a decision records every
//! amount and every unit it moved.

mod parquet;
mod row;
mod text;

pub use row::{Row, COLUMNS};

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

/// Where an export starts: each partition's first sequence number to export (absent: 0).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor(pub Vec<u64>);

impl Cursor {
    /// `0=1200,1=983` (partition=next seq); empty: from the start.
    pub fn parse(text: &str) -> Result<Cursor, String> {
        let mut next = Vec::new();
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let (partition, seq) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: a cursor is partition=seq, comma separated"))?;
            let partition: usize = (partition.trim().parse())
                .map_err(|_| format!("{partition:?}: not a partition"))?;
            if partition >= crate::partition::MAX_PARTITIONS as usize {
                return Err(format!(
                    "partition {partition} is past the most a store has"
                ));
            }
            let seq: u64 =
                (seq.trim().parse()).map_err(|_| format!("{seq:?}: not a sequence number"))?;
            if next.len() <= partition {
                next.resize(partition + 1, 0);
            }
            next[partition] = seq;
        }
        Ok(Cursor(next))
    }

    fn start(&self, partition: u32) -> u64 {
        self.0.get(partition as usize).copied().unwrap_or(0)
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = (self.0.iter().enumerate())
            .map(|(partition, seq)| format!("{partition}={seq}"))
            .collect();
        f.write_str(&parts.join(","))
    }
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

/// A writer of rows in one format.
trait Sink {
    fn row(&mut self, row: Row) -> Result<(), StoreError>;
    /// Ends the file; `next` is the cursor after it.
    fn finish(self: Box<Self>, next: &Cursor) -> Result<(), StoreError>;
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

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn a_cursor_reads_back_what_it_prints() {
        let cursor = Cursor::parse("2=7, 0=1200").unwrap();
        assert_eq!(cursor, Cursor(vec![1200, 0, 7]));
        assert_eq!(cursor.to_string(), "0=1200,1=0,2=7");
        assert_eq!(Cursor::parse(&cursor.to_string()).unwrap(), cursor);
        assert_eq!(Cursor::parse("").unwrap(), Cursor::default());
        for bad in [
            "0",
            "=1",
            "0=",
            "a=1",
            "0=1=2",
            "-1=3",
            "0=18446744073709551616",
            "4096=1",
        ] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
    }
}
