//! The read models in RocksDB: their column families, keys and the queries over them.
//!
//! - `detail`: `[msisdn u64 BE][time i64 BE, sign flipped][partition u32 BE][seq u64 BE][n u16 BE]`
//!   → [`Item`]: a number's items are one range, in time order.
//! - `payments`: `[len u8][account][time][partition][seq][n u16]` → [`PaymentRow`].
//! - `spending`: `[len u8][account][month u32 BE][1][msisdn u64 BE][category u8]` (a number's,
//!   while that account held it) or `[len u8][account][month][0][category]` (the account's own,
//!   of no number) → the sum, a 16-byte `Decimal`, added to by a merge operator so that a batch
//!   never reads. An item adds to one key: an account's month is the sum of its keys of that
//!   month (a key an account also kept under its own prefix cost a second merged write an item,
//!   a tenth of the background work at ten million accounts).
//! - `numbers`: `[msisdn u64 BE][time][partition][seq]` → [`HoldingRow`]: the accounts that held
//!   a number, joining and released, in order.
//!
//! A number changes hands (released with its account, then given to another): every row of a
//! number names the account it belongs to, and the queries take the account they may show.

pub mod item;

use crate::item::{
    decode_row, Category, HoldingChange, HoldingRow, Item, LogPos, PaymentRow, Sums,
};
use rating::{Month, Msisdn, Timestamp};
use rocksdb::{ColumnFamilyDescriptor, Direction, IteratorMode, MergeOperands, Options, DB};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

pub const CF_DETAIL: &str = "detail";
pub const CF_PAYMENTS: &str = "payments";
pub const CF_SPENDING: &str = "spending";
pub const CF_NUMBERS: &str = "numbers";
pub const FAMILIES: [&str; 4] = [CF_DETAIL, CF_PAYMENTS, CF_SPENDING, CF_NUMBERS];

/// The layout of the read models' keys and rows, recorded in the store. A store whose models are
/// of an older layout has them rebuilt from the log (`ratel projections rebuild`) before it is
/// written or served. 2: a number's rows name their account, and its holders are kept. 3: an
/// item's spending is one key, under its account and month, and rows are of version 3
/// ([`item::ROW_VERSION`]).
pub const LAYOUT: u64 = 3;

/// The most items one detalization query returns: a month of a very busy number is a few
/// thousand; a query over years must page.
pub const MAX_ITEMS: usize = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Detail,
    Payments,
    Numbers,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Detail => CF_DETAIL,
            Family::Payments => CF_PAYMENTS,
            Family::Numbers => CF_NUMBERS,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("read models: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("read models are corrupt: {0}")]
    Corrupt(String),
    #[error("a query of more than {MAX_ITEMS} items: narrow the period")]
    TooMany,
}

/// Memtables the busiest families (the engine's log, and `detail`: each a row a usage event)
/// may fill while earlier ones flush. With RocksDB's two, a run of ten million events stopped
/// its writes five times waiting for a flush, and took 6 % longer.
pub const BUSIEST_MEMTABLES: i32 = 4;

/// Descriptors of the read models' column families, for the store to open with its own.
///
/// The writer (`for_writer`) only appends to them and never reads them on its path, so it gets
/// vector memtables (append, sort once at flush): a skip list would search per key, and these
/// keys arrive in no useful order. A follower answers queries from its memtables, so it keeps
/// the skip lists that make reads cheap. RocksDB does not persist the memtable's kind: the two
/// opens of one database may choose differently.
pub fn descriptors(for_writer: bool) -> Vec<ColumnFamilyDescriptor> {
    FAMILIES
        .iter()
        .map(|name| {
            let mut o = Options::default();
            o.set_compression_type(rocksdb::DBCompressionType::Lz4);
            o.set_write_buffer_size(64 << 20);
            if for_writer {
                o.set_memtable_factory(rocksdb::MemtableFactory::Vector);
            }
            if *name == CF_DETAIL {
                o.set_max_write_buffer_number(BUSIEST_MEMTABLES);
                // The first two levels of the busiest family are rewritten soonest: compressing
                // them at flush was work that compaction undid (ten million events: 44.1 and
                // 45.3 s against 45.1 and 47.0, 5 % less CPU; the store ~2 % larger).
                use rocksdb::DBCompressionType::{Lz4, None as Plain};
                o.set_compression_per_level(&[Plain, Plain, Lz4, Lz4, Lz4, Lz4, Lz4]);
            }
            if *name == CF_SPENDING {
                o.set_merge_operator_associative("ratel.add_decimal", add_decimal);
            }
            ColumnFamilyDescriptor::new(*name, o)
        })
        .collect()
}

fn decimal(bytes: &[u8]) -> Option<Decimal> {
    Some(Decimal::deserialize(bytes.try_into().ok()?))
}

/// Sums 16-byte decimals. A value that is not one, or a sum that overflows, fails the merge:
/// RocksDB then reports corruption instead of a wrong sum.
fn add_decimal(_key: &[u8], existing: Option<&[u8]>, ops: &MergeOperands) -> Option<Vec<u8>> {
    let mut sum = existing.map_or(Some(Decimal::ZERO), decimal)?;
    for op in ops {
        sum = sum.checked_add(decimal(op)?)?;
    }
    Some(sum.serialize().to_vec())
}

fn time_bytes(at: Timestamp) -> [u8; 8] {
    ((at.0 as u64) ^ (1 << 63)).to_be_bytes()
}

pub fn detail_key(msisdn: Msisdn, time: Timestamp, at: LogPos, index: u16) -> [u8; 30] {
    let mut k = [0u8; 30];
    k[..28].copy_from_slice(&holding_key(msisdn, time, at));
    k[28..].copy_from_slice(&index.to_be_bytes());
    k
}

/// `numbers`: a number joining or leaving an account, at `time` by the decision at `at`.
pub fn holding_key(msisdn: Msisdn, time: Timestamp, at: LogPos) -> [u8; 28] {
    let mut k = [0u8; 28];
    k[..8].copy_from_slice(&msisdn.0.to_be_bytes());
    k[8..16].copy_from_slice(&time_bytes(time));
    k[16..20].copy_from_slice(&at.partition.to_be_bytes());
    k[20..].copy_from_slice(&at.seq.to_be_bytes());
    k
}

fn account_prefix(account: &str) -> Vec<u8> {
    let id = &account.as_bytes()[..account.len().min(255)];
    let mut k = Vec::with_capacity(1 + id.len() + 24);
    k.push(id.len() as u8);
    k.extend_from_slice(id);
    k
}

pub fn payment_key(account: &str, time: Timestamp, at: LogPos) -> Vec<u8> {
    let mut k = account_prefix(account);
    k.extend_from_slice(&time_bytes(time));
    k.extend_from_slice(&at.partition.to_be_bytes());
    k.extend_from_slice(&at.seq.to_be_bytes());
    k
}

/// Spending of the number `msisdn` while `account` held it, or the account's own (`None`: of
/// no number), in a month and category.
pub fn spending_key(
    account: &str,
    month: Month,
    msisdn: Option<Msisdn>,
    category: Category,
) -> Vec<u8> {
    let mut k = spending_month_prefix(account, month);
    match msisdn {
        Some(m) => {
            k.push(SPENDING_OF_NUMBER);
            k.extend_from_slice(&m.0.to_be_bytes());
        }
        None => k.push(SPENDING_OF_ACCOUNT),
    }
    k.push(category as u8);
    k
}

const SPENDING_OF_ACCOUNT: u8 = 0;
const SPENDING_OF_NUMBER: u8 = 1;

fn spending_month_prefix(account: &str, month: Month) -> Vec<u8> {
    at_month(&account_prefix(account), month)
}

/// An account's spending keys of `month` start with this (`prefix`: the account's).
fn at_month(prefix: &[u8], month: Month) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 14);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&month.0.to_be_bytes());
    k
}

fn cf<'a>(db: &'a DB, name: &str) -> &'a rocksdb::ColumnFamily {
    db.cf_handle(name)
        .expect("the store opens the read models' families")
}

/// Writes for the models, staged for the batch that logs their decision.
#[derive(Default, Debug)]
pub struct Updates {
    pub puts: Vec<(Family, Vec<u8>, Vec<u8>)>,
    /// Spending: amounts added to the sums under these keys.
    pub adds: Vec<(Vec<u8>, Decimal)>,
}

impl Updates {
    pub fn clear(&mut self) {
        self.puts.clear();
        self.adds.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.adds.is_empty()
    }
}

/// Stages updates into the batch that logs their decision.
pub fn stage(db: &DB, batch: &mut rocksdb::WriteBatch, updates: &Updates) {
    for (family, k, v) in &updates.puts {
        batch.put_cf(cf(db, family.name()), k, v);
    }
    let spending = cf(db, CF_SPENDING);
    for (k, amount) in &updates.adds {
        batch.merge_cf(spending, k, amount.serialize());
    }
}

/// Deletes every row of every read model (before a rebuild).
pub fn clear(db: &DB) -> Result<(), ModelError> {
    for name in FAMILIES {
        let h = cf(db, name);
        let first = db.iterator_cf(h, IteratorMode::Start).next().transpose()?;
        let last = db.iterator_cf(h, IteratorMode::End).next().transpose()?;
        if let (Some((a, _)), Some((b, _))) = (first, last) {
            let mut end = b.to_vec();
            end.push(0);
            db.delete_range_cf(h, &a[..], &end[..])?;
        }
    }
    Ok(())
}

/// An account's holding of a number: from joining until its release (`None`: it holds it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Holding {
    pub account: String,
    pub from: Timestamp,
    pub until: Option<Timestamp>,
}

/// The most holders a number's history lists: a number is reissued at most every few
/// months (blocked after days at zero, then a restore period), so this is centuries of them.
pub const MAX_HOLDERS: usize = 1_000;

/// The accounts that held a number, in order; the last one may hold it still.
pub fn holders(db: &DB, msisdn: Msisdn) -> Result<Vec<Holding>, ModelError> {
    let prefix = msisdn.0.to_be_bytes();
    let mut out: Vec<Holding> = Vec::new();
    for kv in db.iterator_cf(
        cf(db, CF_NUMBERS),
        IteratorMode::From(&prefix, Direction::Forward),
    ) {
        let (k, v) = kv?;
        if k.len() != 28 || k[..8] != prefix {
            break;
        }
        let at = Timestamp(
            (u64::from_be_bytes(k[8..16].try_into().expect("8 bytes")) ^ (1 << 63)) as i64,
        );
        let row: HoldingRow = decode_row(&v).map_err(ModelError::Corrupt)?;
        match row.change {
            HoldingChange::Joined if out.len() == MAX_HOLDERS => return Err(ModelError::TooMany),
            HoldingChange::Joined => out.push(Holding {
                account: row.account.into(),
                from: at,
                until: None,
            }),
            HoldingChange::Released => {
                if let Some(h) = out
                    .iter_mut()
                    .rev()
                    .find(|h| h.until.is_none() && h.account == row.account.as_str())
                {
                    h.until = Some(at);
                }
            }
        }
    }
    Ok(out)
}

/// The account that holds a number now, if any does.
pub fn account_of(db: &DB, msisdn: Msisdn) -> Result<Option<String>, ModelError> {
    Ok(holders(db, msisdn)?
        .pop()
        .filter(|h| h.until.is_none())
        .map(|h| h.account))
}

/// A stored row: its family, key and value.
pub type RawRow = (&'static str, Box<[u8]>, Box<[u8]>);

/// Every row of every model, in key order: what a rebuild must reproduce.
pub fn dump(db: &DB) -> Result<Vec<RawRow>, ModelError> {
    let mut out = Vec::new();
    for name in FAMILIES {
        for kv in db.iterator_cf(cf(db, name), IteratorMode::Start) {
            let (k, v) = kv?;
            out.push((name, k, v));
        }
    }
    Ok(out)
}

/// A number's items in `[from, to)`, in time order, optionally of some services only
/// (`voice`, `sms`, `mms`, `data`, `fee`, `report`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Detalization {
    pub items: Vec<Item>,
}

/// `account`: only the items of that account's holdings of the number; `None`: every holder's.
pub fn detalization(
    db: &DB,
    msisdn: Msisdn,
    (from, to): (Timestamp, Timestamp),
    services: &[String],
    account: Option<&str>,
) -> Result<Detalization, ModelError> {
    let mut start = [0u8; 16];
    start[..8].copy_from_slice(&msisdn.0.to_be_bytes());
    start[8..].copy_from_slice(&time_bytes(from));
    let mut items = Vec::new();
    for kv in db.iterator_cf(
        cf(db, CF_DETAIL),
        IteratorMode::From(&start, Direction::Forward),
    ) {
        let (k, v) = kv?;
        if k.len() != 30 || k[..8] != start[..8] || k[8..16] >= time_bytes(to)[..] {
            break;
        }
        let item: Item = decode_row(&v).map_err(ModelError::Corrupt)?;
        if account.is_some_and(|a| a != item.account.as_str()) {
            continue;
        }
        if services.is_empty() || services.iter().any(|s| s == item.service_name()) {
            if items.len() == MAX_ITEMS {
                return Err(ModelError::TooMany);
            }
            items.push(item);
        }
    }
    Ok(Detalization { items })
}

/// Payments into an account in `[from, to)`, in time order.
pub fn payments(
    db: &DB,
    account: &str,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<PaymentRow>, ModelError> {
    let prefix = account_prefix(account);
    let mut start = prefix.clone();
    start.extend_from_slice(&time_bytes(from));
    let mut out = Vec::new();
    for kv in db.iterator_cf(
        cf(db, CF_PAYMENTS),
        IteratorMode::From(&start, Direction::Forward),
    ) {
        let (k, v) = kv?;
        if !k.starts_with(&prefix) || k.len() != prefix.len() + 22 {
            break;
        }
        if k[prefix.len()..prefix.len() + 8] >= time_bytes(to)[..] {
            break;
        }
        if out.len() == MAX_ITEMS {
            return Err(ModelError::TooMany);
        }
        out.push(decode_row(&v).map_err(ModelError::Corrupt)?);
    }
    Ok(out)
}

/// Spending by month and category, of a number or of an account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spending {
    pub months: BTreeMap<Month, Sums>,
}

impl Spending {
    pub fn total(&self, month: Month) -> Decimal {
        self.months
            .get(&month)
            .map_or(Decimal::ZERO, |s| s.iter().sum())
    }
}

pub enum Whose<'a> {
    /// A number's spending while the account held it.
    Number(Msisdn, &'a str),
    Account(&'a str),
}

/// The spending of `whose` in the months `from ..= to`.
pub fn spending(db: &DB, whose: Whose, from: Month, to: Month) -> Result<Spending, ModelError> {
    let mut out = Spending::default();
    let mut rows = db.raw_iterator_cf(cf(db, CF_SPENDING));
    let (Whose::Account(account) | Whose::Number(_, account)) = whose;
    let prefix = account_prefix(account);
    match whose {
        Whose::Account(_) => {
            // Every key of the account's months: its numbers' and its own.
            rows.seek(at_month(&prefix, from));
            while let Some(key) = rows.key() {
                let Some((month, _, category)) = spending_place(key, &prefix)? else {
                    break;
                };
                if month > to {
                    break;
                }
                add_sum(&mut out, month, category, rows.value())?;
                rows.next();
            }
        }
        Whose::Number(msisdn, _) => {
            // A seek to the number's keys in each month the account has keys of, and no
            // further: a range of centuries costs what the months with spending cost.
            let mut month = first_month_from(&mut rows, &prefix, from)?;
            while let Some(this) = month.filter(|m| *m <= to) {
                let mut at = at_month(&prefix, this);
                at.push(SPENDING_OF_NUMBER);
                at.extend_from_slice(&msisdn.0.to_be_bytes());
                rows.seek(&at);
                while let Some(key) = rows.key().filter(|k| k.starts_with(&at)) {
                    let place = spending_place(key, &prefix)?;
                    let (_, _, category) = place.expect("the key starts with the account's");
                    add_sum(&mut out, this, category, rows.value())?;
                    rows.next();
                }
                rows.status()?;
                month = match this.0.checked_add(1) {
                    Some(next) => first_month_from(&mut rows, &prefix, Month(next))?,
                    None => None,
                };
            }
        }
    }
    rows.status()?;
    Ok(out)
}

/// The month of the first spending key at or after `month` of the account whose keys start
/// with `prefix`, if it has one.
fn first_month_from(
    rows: &mut rocksdb::DBRawIterator<'_>,
    prefix: &[u8],
    month: Month,
) -> Result<Option<Month>, ModelError> {
    rows.seek(at_month(prefix, month));
    let place = rows.key().map(|key| spending_place(key, prefix));
    let place = place.transpose()?.flatten();
    rows.status()?;
    Ok(place.map(|(month, _, _)| month))
}

/// A spending key of the account whose keys start with `prefix` ([`account_prefix`]): its
/// month, its number (`None`: the account's own) and its category; `None` for a key of another
/// account.
fn spending_place(
    key: &[u8],
    prefix: &[u8],
) -> Result<Option<(Month, Option<Msisdn>, Category)>, ModelError> {
    let Some(tail) = key.strip_prefix(prefix) else {
        return Ok(None);
    };
    let corrupt = || ModelError::Corrupt(format!("spending key of {} bytes", key.len()));
    let (month, rest) = tail.split_first_chunk::<4>().ok_or_else(corrupt)?;
    let (msisdn, category) = match rest {
        [SPENDING_OF_ACCOUNT, category] => (None, *category),
        [SPENDING_OF_NUMBER, msisdn @ .., category] if msisdn.len() == 8 => (
            Some(Msisdn(u64::from_be_bytes(
                msisdn.try_into().expect("8 bytes"),
            ))),
            *category,
        ),
        _ => return Err(corrupt()),
    };
    let category = Category::from_u8(category)
        .ok_or_else(|| ModelError::Corrupt(format!("spending category {category}")))?;
    Ok(Some((Month(u32::from_be_bytes(*month)), msisdn, category)))
}

fn add_sum(
    out: &mut Spending,
    month: Month,
    category: Category,
    value: Option<&[u8]>,
) -> Result<(), ModelError> {
    let amount = value
        .and_then(decimal)
        .ok_or_else(|| ModelError::Corrupt("spending sum of wrong size".into()))?;
    let sum = &mut out.months.entry(month).or_default()[category as usize];
    *sum = sum
        .checked_add(amount)
        .ok_or_else(|| ModelError::Corrupt("spending sums overflow".into()))?;
    Ok(())
}
