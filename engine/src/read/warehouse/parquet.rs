//! Rows as Apache Parquet, through the `parquet` crate's column writers: one row group for each
//! [`ROW_GROUP_ROWS`] rows (all memory holds), Snappy pages, money as DECIMAL(38, 12) in
//! 16-byte two's complement, times as UTC milliseconds. The file's key-value metadata carries
//! `ratel.next`, the cursor an export of what follows starts from.

use super::cursor::Cursor;
use super::row::{Row, COLUMNS};
use super::sink::Sink;
use crate::store::StoreError;
use parquet::basic::Compression;
use parquet::data_type::{
    ByteArray, ByteArrayType, FixedLenByteArray, FixedLenByteArrayType, Int32Type, Int64Type,
};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use rust_decimal::Decimal;
use std::sync::Arc;

/// The most rows a row group holds.
pub const ROW_GROUP_ROWS: usize = 65_536;

/// The most bytes of values a row group holds before it is written: with the rows' cap, all
/// the writer keeps in memory, however long the period exported.
pub const ROW_GROUP_BYTES: usize = 16 << 20;

/// The scale of money columns: the most decimals a catalog's currency may have.
const MONEY_SCALE: u32 = 12;

/// The schema, its fields in [`COLUMNS`] order.
const SCHEMA: &str = "message decision {
  required int32 partition (INTEGER(32,false));
  required int64 seq (INTEGER(64,false));
  required int64 source_position (INTEGER(64,false));
  required binary event (STRING);
  optional int64 time (TIMESTAMP(MILLIS,true));
  optional binary account (STRING);
  optional binary msisdn (STRING);
  required binary input_type (STRING);
  required binary outcome (STRING);
  optional binary reason (STRING);
  optional binary reason_text (STRING);
  optional binary service (STRING);
  optional binary direction (STRING);
  optional binary other_party (STRING);
  optional int64 quantity (INTEGER(64,false));
  required fixed_len_byte_array(16) usage (DECIMAL(38,12));
  required fixed_len_byte_array(16) fees (DECIMAL(38,12));
  required fixed_len_byte_array(16) payments (DECIMAL(38,12));
  required fixed_len_byte_array(16) money_out (DECIMAL(38,12));
  required fixed_len_byte_array(16) money_in (DECIMAL(38,12));
  required int64 bucket_units (INTEGER(64,false));
  required binary takes (STRING);
  optional binary rate (STRING);
  optional binary destination (STRING);
  required binary movements (STRING);
  required binary catalog (STRING);
  required binary input (STRING);
}";

/// One column's values of the row group being filled; `levels` (1 present, 0 null) for an
/// optional column.
enum Values {
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Text(Vec<ByteArray>),
    Money(Vec<FixedLenByteArray>),
}

struct Column {
    values: Values,
    levels: Option<Vec<i16>>,
}

/// One cell of a row, as its column stores it.
enum Cell {
    Int32(i32),
    Int64(Option<i64>),
    Text(Option<String>),
    Money(Decimal),
}

pub(super) struct Parquet {
    writer: SerializedFileWriter<std::fs::File>,
    columns: Vec<Column>,
    rows: usize,
    /// The bytes of the values held.
    bytes: usize,
}

fn failed(error: impl std::fmt::Display) -> StoreError {
    StoreError::Io(format!("writing the export as Parquet: {error}"))
}

impl Parquet {
    pub(super) fn new(file: std::fs::File) -> Result<Parquet, StoreError> {
        let schema = Arc::new(parquet::schema::parser::parse_message_type(SCHEMA).map_err(failed)?);
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("ratel {}", env!("CARGO_PKG_VERSION")))
            .build();
        let columns = (schema.get_fields().iter())
            .map(|field| {
                let optional = field.is_optional();
                let values = match field.get_physical_type() {
                    parquet::basic::Type::INT32 => Values::Int32(Vec::new()),
                    parquet::basic::Type::INT64 => Values::Int64(Vec::new()),
                    parquet::basic::Type::FIXED_LEN_BYTE_ARRAY => Values::Money(Vec::new()),
                    _ => Values::Text(Vec::new()),
                };
                Column {
                    values,
                    levels: optional.then(Vec::new),
                }
            })
            .collect::<Vec<_>>();
        assert_eq!(columns.len(), COLUMNS.len(), "the schema has every column");
        let writer =
            SerializedFileWriter::new(file, schema, Arc::new(properties)).map_err(failed)?;
        Ok(Parquet {
            writer,
            columns,
            rows: 0,
            bytes: 0,
        })
    }

    /// Writes the rows held as one row group.
    fn flush(&mut self) -> Result<(), StoreError> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = self.writer.next_row_group().map_err(failed)?;
        let mut columns = self.columns.iter_mut();
        while let Some(mut writer) = group.next_column().map_err(failed)? {
            let column = columns.next().expect("a column for every field");
            let levels = column.levels.as_deref();
            match &mut column.values {
                Values::Int32(v) => writer.typed::<Int32Type>().write_batch(v, levels, None),
                Values::Int64(v) => writer.typed::<Int64Type>().write_batch(v, levels, None),
                Values::Text(v) => writer.typed::<ByteArrayType>().write_batch(v, levels, None),
                Values::Money(v) => writer
                    .typed::<FixedLenByteArrayType>()
                    .write_batch(v, levels, None),
            }
            .map_err(failed)?;
            writer.close().map_err(failed)?;
            column.clear();
        }
        group.close().map_err(failed)?;
        (self.rows, self.bytes) = (0, 0);
        Ok(())
    }
}

impl Column {
    fn clear(&mut self) {
        match &mut self.values {
            Values::Int32(v) => v.clear(),
            Values::Int64(v) => v.clear(),
            Values::Text(v) => v.clear(),
            Values::Money(v) => v.clear(),
        }
        if let Some(levels) = &mut self.levels {
            levels.clear();
        }
    }

    /// Holds the cell; the bytes it takes.
    fn push(&mut self, cell: Cell) -> Result<usize, StoreError> {
        let (present, bytes) = match (&mut self.values, cell) {
            (Values::Int32(v), Cell::Int32(x)) => (push_some(v, Some(x)), 4),
            (Values::Int64(v), Cell::Int64(x)) => (push_some(v, x), 8),
            (Values::Text(v), Cell::Text(x)) => {
                let bytes = x.as_ref().map_or(0, String::len);
                (
                    push_some(v, x.map(|x| ByteArray::from(x.into_bytes()))),
                    bytes,
                )
            }
            (Values::Money(v), Cell::Money(x)) => (push_some(v, Some(money(x)?)), 16),
            _ => unreachable!("a cell of its column's type"),
        };
        match &mut self.levels {
            Some(levels) => levels.push(i16::from(present)),
            None => assert!(present, "a required column has a value in every row"),
        }
        Ok(bytes + 2)
    }
}

/// Pushes a value that is there; whether it was.
fn push_some<T>(values: &mut Vec<T>, value: Option<T>) -> bool {
    value.map(|x| values.push(x)).is_some()
}

/// An amount as DECIMAL(38, 12): its unscaled value in 16 bytes, big-endian.
fn money(amount: Decimal) -> Result<FixedLenByteArray, StoreError> {
    if amount.scale() > MONEY_SCALE {
        return Err(failed(format!(
            "{amount} has more than {MONEY_SCALE} decimals"
        )));
    }
    let unscaled = amount.mantissa() * 10i128.pow(MONEY_SCALE - amount.scale());
    Ok(FixedLenByteArray::from(unscaled.to_be_bytes().to_vec()))
}

/// A row's cells, in [`COLUMNS`] order.
fn cells(row: Row) -> [Cell; 27] {
    let count = |x: u64| Cell::Int64(Some(x as i64));
    let text = |x: String| Cell::Text(Some(x));
    let name = |x: Option<&'static str>| Cell::Text(x.map(str::to_string));
    [
        Cell::Int32(row.partition as i32),
        count(row.seq),
        count(row.source_position),
        text(row.event),
        Cell::Int64(row.time.map(|t| t.0.saturating_mul(1000))),
        Cell::Text(row.account),
        Cell::Text(row.msisdn),
        text(row.input_type),
        text(row.outcome.to_string()),
        name(row.reason),
        Cell::Text(row.reason_text),
        name(row.service),
        Cell::Text(row.direction),
        Cell::Text(row.other_party),
        Cell::Int64(row.quantity.map(|x| x as i64)),
        Cell::Money(row.usage),
        Cell::Money(row.fees),
        Cell::Money(row.payments),
        Cell::Money(row.money_out),
        Cell::Money(row.money_in),
        count(row.bucket_units),
        text(row.takes),
        Cell::Text(row.rate),
        Cell::Text(row.destination),
        text(row.movements),
        text(row.catalog),
        text(row.input),
    ]
}

impl Sink for Parquet {
    fn row(&mut self, row: Row) -> Result<(), StoreError> {
        for (column, cell) in self.columns.iter_mut().zip(cells(row)) {
            self.bytes += column.push(cell)?;
        }
        self.rows += 1;
        if self.rows == ROW_GROUP_ROWS || self.bytes >= ROW_GROUP_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, next: &Cursor) -> Result<(), StoreError> {
        self.flush()?;
        let next = KeyValue::new("ratel.next".to_string(), next.to_string());
        self.writer.append_key_value_metadata(next);
        let file = self.writer.into_inner().map_err(failed)?;
        file.sync_all().map_err(failed)
    }
}
