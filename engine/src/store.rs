//! The RocksDB store: the event log, the account state beside it (with the ids each account
//! remembers), and the source positions, all changed together by one synced WriteBatch per
//! batch of input.
//!
//! Column families and keys:
//! - `log`: `[partition u32 BE][seq u64 BE]` → [`Entry`]: ordered by partition and sequence.
//! - `by_account`: `[len u8][account id][partition u32 BE][seq u64 BE]` → empty: an account's
//!   entries are one prefix range.
//! - `state`: account id → `[6][bincode (Account, RecentRecord)]`: the account's record as of
//!   its partition's checkpoint, with the ids it remembers (`rating::recent`) as digests.
//! - `seen`: written by stores made before records held their ids (`[len u8][account id]
//!   [event id]` → `[partition u32 BE][seq u64 BE][time i64 BE][rated u8]`, or older, the id
//!   alone → `[partition][seq]`); now only emptied, when `load_state` moves such a store's ids
//!   into its records.
//! - `reports`: `[msisdn u64 BE][month u32 BE]` → empty: the free monthly reports taken.
//! - the read models' families (`projections::models`), written in the same batches.
//! - `meta`: `pos/<partition>` (a file's position), `pos/<topic>/<partition>` (the next Kafka
//!   offset), `seq/<partition>`, `checkpoint/<partition>` (the partition's accounts' records in
//!   `state` are current as of this seq of its log: the entries from it on are its tail, which
//!   every reader of the state applies; a store made before checkpoints has none and wrote
//!   every changed account with every batch, so its tail begins at `seq/<partition>`),
//!   `watermark/<partition>`, `watermark` (the latest of all),
//!   `partitions` (their count, fixed for a store), `window` (seconds an account remembers its
//!   inputs' ids, fixed for a store), `source` (`file` or `kafka`), `published/<partition>` (the log's entries
//!   before this seq are on the output topics), `changelog/<partition>` (the changelog offset the
//!   store has written or restored up to), `stats/<partition>/<name>` (counters; `stats/<name>`
//!   in stores made before partitions counted apart), `catalog/<tag hex>` (the catalog
//!   file's bytes), `catalog`: the tag in force.

use crate::record::Entry;
use rating::codec::{decode_decision, decode_input};
use rating::recent::Recent;
use rating::{Account, Decision, Input, State};
use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, WriteBatch, WriteOptions, DB};
use rustc_hash::FxHashSet;
use std::path::Path;

/// A key and its value as RocksDB gives them.
pub type KeyValue = (Box<[u8]>, Box<[u8]>);

pub const CF_LOG: &str = "log";
pub const CF_BY_ACCOUNT: &str = "by_account";
pub const CF_STATE: &str = "state";
pub const CF_SEEN: &str = "seen";
pub const CF_META: &str = "meta";
pub const CF_REPORTS: &str = "reports";
const CFS: [&str; 6] = [
    CF_LOG,
    CF_BY_ACCOUNT,
    CF_STATE,
    CF_SEEN,
    CF_META,
    CF_REPORTS,
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("RocksDB at {path}: {source}")]
    Db {
        path: String,
        source: rocksdb::Error,
    },
    #[error("corrupt store: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Io(String),
    #[error("no store at {0}: nothing was run with this --data (a reader never creates one)")]
    Missing(String),
}

pub struct Store {
    db: DB,
    path: String,
    /// A follower's own log folder, removed after the database closes (fields drop in order).
    _scratch: Option<tempfile::TempDir>,
}

pub use crate::keys::{account_key, log_key, seen_key};

/// The partition and seq a log key names.
fn log_place(k: &[u8]) -> Result<(u32, u64), StoreError> {
    if k.len() != 12 {
        return Err(StoreError::Corrupt("log key of wrong length".into()));
    }
    Ok((
        u32::from_be_bytes(k[..4].try_into().expect("4")),
        u64::from_be_bytes(k[4..].try_into().expect("8")),
    ))
}

const SEEN_VALUE: usize = 21;

fn seen_value(partition: u32, seq: u64, t: rating::Timestamp, rated: bool) -> [u8; SEEN_VALUE] {
    let mut v = [0u8; SEEN_VALUE];
    v[..12].copy_from_slice(&log_key(partition, seq));
    v[12..20].copy_from_slice(&t.0.to_be_bytes());
    v[20] = u8::from(rated);
    v
}

/// Counters kept with every commit.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub read: u64,
    pub rated: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub dead: u64,
    pub ticks: u64,
    /// Inputs the engine made from its own decisions (a transfer's credit or refund): logged,
    /// not read, and counted apart from `rated`, `rejected` and `duplicates`.
    pub derived: u64,
}

impl Counters {
    const NAMES: [&'static str; 7] = [
        "read",
        "rated",
        "rejected",
        "duplicates",
        "dead",
        "ticks",
        "derived",
    ];
    fn values(&self) -> [u64; 7] {
        [
            self.read,
            self.rated,
            self.rejected,
            self.duplicates,
            self.dead,
            self.ticks,
            self.derived,
        ]
    }
    /// Adds `o`'s counts to these.
    pub fn add(&mut self, o: &Counters) {
        for (i, v) in o.values().into_iter().enumerate() {
            let sum = self.values()[i] + v;
            self.set(i, sum);
        }
    }

    fn set(&mut self, i: usize, v: u64) {
        match i {
            0 => self.read = v,
            1 => self.rated = v,
            2 => self.rejected = v,
            3 => self.duplicates = v,
            4 => self.dead = v,
            5 => self.ticks = v,
            _ => self.derived = v,
        }
    }
}

/// Everything one batch changes, written atomically.
#[derive(Default)]
pub struct Commit {
    pub batch: WriteBatch,
    pub entries: u64,
    /// Which partition each run of the batch's writes belongs to, when asked for (the
    /// changelog publishes each partition's share of a batch): the writes up to a mark's end
    /// and after the mark before it are that mark's partition's.
    marks: Option<Vec<Mark>>,
    /// Each partition whose log the batch extended: its sequence numbers before and after.
    pub ranges: Vec<(u32, u64, u64)>,
}

/// Writes to a [`Commit`] that belong to one partition ([`Commit::writes_of`]).
pub struct PartitionWrites<'a> {
    commit: &'a mut Commit,
    partition: u32,
}

impl std::ops::Deref for PartitionWrites<'_> {
    type Target = Commit;
    fn deref(&self) -> &Commit {
        self.commit
    }
}

impl std::ops::DerefMut for PartitionWrites<'_> {
    fn deref_mut(&mut self) -> &mut Commit {
        self.commit
    }
}

impl Drop for PartitionWrites<'_> {
    fn drop(&mut self) {
        self.commit.mark(self.partition);
    }
}

/// The partition of the store's own bookkeeping (counters, the global watermark): in no
/// partition's share.
pub const GLOBAL: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Mark {
    partition: u32,
    /// `WriteBatch::data().len()` and `len()` at the mark.
    end: usize,
    count: usize,
}

/// The header of a WriteBatch's bytes: a sequence number (8 bytes) and a count (4, LE).
const BATCH_HEADER: usize = 12;

/// The most bytes a commit reserves ahead (a batch may still grow past it).
const MAX_RESERVED: usize = 256 << 20;
/// The most marks a commit reserves room for ahead (24 MiB; it may still grow past it).
const MAX_MARKS_RESERVED: usize = 1 << 20;

impl Commit {
    /// An empty commit whose batch reserves `bytes` (at most 256 MiB): a batch of the size of
    /// the last grows without copying itself over and over as it doubles. With `marks`, it is
    /// marked as in [`Commit::marked`], with room for that many marks (at most a million).
    pub fn reserving(bytes: usize, marks: Option<usize>) -> Commit {
        Commit {
            batch: WriteBatch::with_capacity_bytes(bytes.min(MAX_RESERVED)),
            marks: marks.map(|n| Vec::with_capacity(n.min(MAX_MARKS_RESERVED))),
            ..Commit::default()
        }
    }

    /// The marks made so far (0 if unmarked).
    pub fn marks(&self) -> usize {
        self.marks.as_ref().map_or(0, Vec::len)
    }

    /// A commit that keeps track of which partition each write belongs to.
    pub fn marked() -> Commit {
        Commit {
            marks: Some(Vec::new()),
            ..Commit::default()
        }
    }

    /// Writes made through the returned handle are `partition`'s ([`GLOBAL`]: the store's own
    /// bookkeeping), filed under it when the handle is dropped. In a commit that keeps track of
    /// partitions every write goes through one: a write made outside is found by the next handle
    /// (or by [`Commit::shares`]) and stops the engine, rather than travel in another
    /// partition's share of the changelog.
    pub fn writes_of(&mut self, partition: u32) -> PartitionWrites<'_> {
        if let Some(marks) = &self.marks {
            assert_eq!(
                marks.last().map_or(0, |m| m.count),
                self.batch.len(),
                "a write of a commit that keeps track of partitions was made outside `writes_of`"
            );
        }
        PartitionWrites {
            commit: self,
            partition,
        }
    }

    /// The writes since the last mark belong to `partition` (or [`GLOBAL`]).
    fn mark(&mut self, partition: u32) {
        if let Some(m) = &mut self.marks {
            let end = self.batch.data().len();
            let count = self.batch.len();
            if m.last().is_some_and(|l| l.end == end) {
                return;
            }
            m.push(Mark {
                partition,
                end,
                count,
            });
        }
    }

    /// Gives every partition with marked writes but no range (it logged nothing: only an
    /// account record or a forgotten id) the empty range at its log's end `seq(p)`.
    pub fn complete_ranges(&mut self, seq: impl Fn(u32) -> u64) {
        let Some(marks) = &self.marks else {
            return;
        };
        for m in marks {
            if m.partition != GLOBAL && !self.ranges.iter().any(|r| r.0 == m.partition) {
                let s = seq(m.partition);
                self.ranges.push((m.partition, s, s));
            }
        }
    }

    /// Each partition's share of the batch, as the bytes of a WriteBatch of its own (empty
    /// when the commit was not marked).
    pub fn shares(&self) -> Vec<(u32, Vec<u8>)> {
        let Some(marks) = &self.marks else {
            return Vec::new();
        };
        let data = self.batch.data();
        assert_eq!(
            marks.last().map_or(BATCH_HEADER, |m| m.end),
            data.len().max(BATCH_HEADER),
            "every write of a marked commit is marked"
        );
        // Each share's size first, so that each (megabytes) is allocated once rather than
        // grown by doubling and copying.
        let mut sizes: Vec<(u32, usize)> = Vec::new();
        let mut start = BATCH_HEADER;
        for m in marks {
            if m.partition != GLOBAL {
                match sizes.iter_mut().find(|(p, _)| *p == m.partition) {
                    Some((_, size)) => *size += m.end - start,
                    None => sizes.push((m.partition, BATCH_HEADER + m.end - start)),
                }
            }
            start = m.end;
        }
        let mut out: Vec<(u32, Vec<u8>, u32)> = (sizes.into_iter())
            .map(|(p, size)| {
                let mut bytes = Vec::with_capacity(size);
                bytes.resize(BATCH_HEADER, 0);
                (p, bytes, 0)
            })
            .collect();
        let (mut start, mut before) = (BATCH_HEADER, 0usize);
        for m in marks {
            if m.partition != GLOBAL {
                let i = out
                    .iter()
                    .position(|(p, ..)| *p == m.partition)
                    .expect("every partition's share was sized");
                out[i].1.extend_from_slice(&data[start..m.end]);
                out[i].2 += (m.count - before) as u32;
            }
            start = m.end;
            before = m.count;
        }
        out.into_iter()
            .map(|(p, mut bytes, count)| {
                bytes[8..12].copy_from_slice(&count.to_le_bytes());
                (p, bytes)
            })
            .collect()
    }
}

/// The most bytes of write-ahead log kept before the families holding its oldest part are
/// flushed. RocksDB's default is four times all memtables (here gigabytes): the families that
/// take a few keys a batch (positions, counters, records) never fill a memtable, so a run of
/// ten million events kept 4.1 GB of log that the next open read back for 8.5 s, and a
/// restart after a crash would too.
pub const MAX_WAL_BYTES: u64 = 512 << 20;

impl Store {
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_as(dir, None)
    }

    /// Opens a store that must exist already, to write it (a rebuild of the read models): a
    /// mistyped `--data` is an error, never a new empty store.
    pub fn open_existing(dir: &Path) -> Result<Store, StoreError> {
        Store::must_exist(dir)?;
        Store::open(dir)
    }

    fn must_exist(dir: &Path) -> Result<(), StoreError> {
        if dir.join("CURRENT").is_file() {
            Ok(())
        } else {
            Err(StoreError::Missing(dir.display().to_string()))
        }
    }

    /// Opens a store that another process (`ratel run`) may be writing, to read it: a RocksDB
    /// secondary instance that reads the primary's files and follows it by [`Store::catch_up`].
    /// It takes no lock and creates nothing: a store that is not there is an error.
    pub fn open_follower(dir: &Path) -> Result<Store, StoreError> {
        Store::must_exist(dir)?;
        let scratch = tempfile::Builder::new()
            .prefix("ratel-follower-")
            .tempdir()
            .map_err(|e| StoreError::Io(format!("creating a follower's folder: {e}")))?;
        let mut s = Store::open_as(dir, Some(scratch.path()))?;
        s._scratch = Some(scratch);
        Ok(s)
    }

    /// Reads what the primary committed since the last call (a follower only).
    pub fn catch_up(&self) -> Result<(), StoreError> {
        self.db.try_catch_up_with_primary().map_err(|e| self.err(e))
    }

    /// The database, for the read models' queries and staging.
    pub fn db(&self) -> &DB {
        &self.db
    }

    fn open_as(dir: &Path, follower: Option<&Path>) -> Result<Store, StoreError> {
        let path = dir.display().to_string();
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_paranoid_checks(true);
        // A damaged write-ahead log is an error, not a place to stop reading: RocksDB's default
        // (point in time) replays the log up to the first bad record and drops every committed
        // batch after it without a word. Only a record torn at the very end (the write in
        // flight when the process died, never acknowledged) is passed over.
        opts.set_wal_recovery_mode(rocksdb::DBRecoveryMode::TolerateCorruptedTailRecords);
        opts.increase_parallelism(2);
        opts.set_max_background_jobs(2);
        opts.set_write_buffer_size(64 << 20);
        opts.set_max_total_wal_size(MAX_WAL_BYTES);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        // The index, state and read-model families are written in bulk with keys in no
        // order, and never looked up on the write path: a vector memtable appends in O(1) and
        // sorts once at flush, where a skip list pays a search per key (a run took four times
        // as long with skip lists).
        opts.set_allow_concurrent_memtable_write(false);
        let cfs = CFS.iter().map(|n| {
            let mut o = Options::default();
            o.set_compression_type(rocksdb::DBCompressionType::Lz4);
            o.set_write_buffer_size(64 << 20);
            // The log's keys come in order (partition, then seq), which a skip list appends
            // at the cost of a comparison or two; a vector would sort them again at flush (a
            // run of a million events took 7 % longer).
            if *n != CF_META && *n != CF_LOG {
                o.set_memtable_factory(rocksdb::MemtableFactory::Vector);
            }
            if *n == CF_LOG {
                o.set_max_write_buffer_number(projections::models::BUSIEST_MEMTABLES);
            }
            if *n == CF_SEEN || *n == CF_STATE {
                let mut t = rocksdb::BlockBasedOptions::default();
                t.set_bloom_filter(10.0, false);
                o.set_block_based_table_factory(&t);
            }
            ColumnFamilyDescriptor::new(*n, o)
        });
        let cfs: Vec<_> = cfs
            .chain(projections::models::descriptors(follower.is_none()))
            .collect();
        let db = match follower {
            None => DB::open_cf_descriptors(&opts, dir, cfs),
            Some(scratch) => {
                opts.create_if_missing(false);
                opts.set_max_open_files(-1);
                DB::open_cf_descriptors_as_secondary(&opts, dir, scratch, cfs)
            }
        }
        .map_err(|source| StoreError::Db {
            path: path.clone(),
            source,
        })?;
        Ok(Store {
            db,
            path,
            _scratch: None,
        })
    }

    /// Reads every key and value of every family, with each block's checksum verified and
    /// nothing kept in the cache (the audit's first pass): a damaged table file anywhere, in
    /// the log, the state, the index or a read model, is an error naming its family. The keys
    /// read, by family.
    pub fn verify_all(&self) -> Result<Vec<(&'static str, u64)>, StoreError> {
        let mut read = Vec::new();
        for name in CFS.iter().chain(&projections::models::FAMILIES) {
            let mut opts = rocksdb::ReadOptions::default();
            opts.set_verify_checksums(true);
            opts.fill_cache(false);
            let mut keys = 0u64;
            for kv in self
                .db
                .iterator_cf_opt(self.cf(name), opts, rocksdb::IteratorMode::Start)
            {
                kv.map_err(|e| StoreError::Corrupt(format!("{}: family {name}: {e}", self.path)))?;
                keys += 1;
            }
            read.push((*name, keys));
        }
        Ok(read)
    }

    /// The column families' names by the ids RocksDB gave them in this store (the ids a
    /// WriteBatch's bytes carry; another store may have given other ids).
    pub fn families(&self) -> Vec<(u32, String)> {
        struct Ids(Vec<u32>);
        impl rocksdb::WriteBatchIteratorCf for Ids {
            fn put_cf(&mut self, id: u32, _: &[u8], _: &[u8]) {
                self.0.push(id);
            }
            fn delete_cf(&mut self, _: u32, _: &[u8]) {}
            fn merge_cf(&mut self, _: u32, _: &[u8], _: &[u8]) {}
        }
        let names: Vec<&str> = CFS
            .iter()
            .chain(&projections::models::FAMILIES)
            .copied()
            .collect();
        let mut b = WriteBatch::default();
        for n in &names {
            b.put_cf(self.cf(n), b"", b"");
        }
        let mut ids = Ids(Vec::new());
        b.iterate_cf(&mut ids);
        ids.0
            .into_iter()
            .zip(names)
            .map(|(i, n)| (i, n.to_string()))
            .collect()
    }

    /// Translates a WriteBatch written by a store whose families had the ids `families` into
    /// this store's ids.
    pub fn translate(
        &self,
        families: &[(u32, String)],
        data: &[u8],
    ) -> Result<WriteBatch, StoreError> {
        struct Into<'a> {
            store: &'a Store,
            ids: &'a [(u32, String)],
            out: WriteBatch,
            unknown: Option<u32>,
        }
        impl<'a> Into<'a> {
            fn cf(&mut self, id: u32) -> Option<&'a rocksdb::ColumnFamily> {
                let (store, ids) = (self.store, self.ids);
                let name = ids.iter().find(|(i, _)| *i == id).map(|(_, n)| n.as_str());
                let cf = name.and_then(|n| store.db.cf_handle(n));
                if cf.is_none() {
                    self.unknown.get_or_insert(id);
                }
                cf
            }
        }
        impl rocksdb::WriteBatchIteratorCf for Into<'_> {
            fn put_cf(&mut self, id: u32, k: &[u8], v: &[u8]) {
                if let Some(cf) = self.cf(id) {
                    self.out.put_cf(cf, k, v);
                }
            }
            fn delete_cf(&mut self, id: u32, k: &[u8]) {
                if let Some(cf) = self.cf(id) {
                    self.out.delete_cf(cf, k);
                }
            }
            fn merge_cf(&mut self, id: u32, k: &[u8], v: &[u8]) {
                if let Some(cf) = self.cf(id) {
                    self.out.merge_cf(cf, k, v);
                }
            }
        }
        if data.len() < BATCH_HEADER {
            return Err(StoreError::Corrupt(
                "a write batch shorter than its header".into(),
            ));
        }
        let count = u32::from_le_bytes(data[8..12].try_into().expect("4 bytes"));
        let src = WriteBatch::from_data(data);
        let mut t = Into {
            store: self,
            ids: families,
            out: WriteBatch::default(),
            unknown: None,
        };
        src.iterate_cf(&mut t);
        if let Some(id) = t.unknown {
            return Err(StoreError::Corrupt(format!(
                "a write batch names column family {id}, which this store does not have"
            )));
        }
        if t.out.len() != count as usize {
            return Err(StoreError::Corrupt(format!(
                "a write batch says it holds {count} writes, {} read",
                t.out.len()
            )));
        }
        Ok(t.out)
    }

    /// Writes a batch as it is (a restored one), synced.
    pub fn write(&self, b: WriteBatch) -> Result<(), StoreError> {
        let mut w = WriteOptions::default();
        w.set_sync(true);
        self.db.write_opt(b, &w).map_err(|e| self.err(e))
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column families are created at open")
    }

    fn err(&self, source: rocksdb::Error) -> StoreError {
        StoreError::Db {
            path: self.path.clone(),
            source,
        }
    }

    pub fn meta_u64(&self, key: &str) -> Result<Option<u64>, StoreError> {
        match self
            .db
            .get_cf(self.cf(CF_META), key)
            .map_err(|e| self.err(e))?
        {
            None => Ok(None),
            Some(v) => {
                Ok(Some(u64::from_le_bytes(v.as_slice().try_into().map_err(
                    |_| StoreError::Corrupt(format!("meta {key}")),
                )?)))
            }
        }
    }

    pub fn meta_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.db
            .get_cf(self.cf(CF_META), key)
            .map_err(|e| self.err(e))
    }

    /// The store's counters: every partition's (`stats/<p>/<name>`), and what a store made
    /// before partitions kept their own counted (`stats/<name>`, no longer written).
    pub fn counters(&self) -> Result<Counters, StoreError> {
        let mut c = self.legacy_counters()?;
        for p in 0..self.partitions()? {
            c.add(&self.partition_counters(p)?);
        }
        Ok(c)
    }

    /// What a store made before partitions kept their own counters counted.
    pub fn legacy_counters(&self) -> Result<Counters, StoreError> {
        let mut c = Counters::default();
        for (i, n) in Counters::NAMES.iter().enumerate() {
            c.set(
                i,
                self.meta_u64(&crate::keys::counter(None, n))?.unwrap_or(0),
            );
        }
        Ok(c)
    }

    /// A partition's counters: they move with its log (the changelog carries them).
    pub fn partition_counters(&self, p: u32) -> Result<Counters, StoreError> {
        let mut c = Counters::default();
        for (i, n) in Counters::NAMES.iter().enumerate() {
            c.set(
                i,
                self.meta_u64(&crate::keys::counter(Some(p), n))?
                    .unwrap_or(0),
            );
        }
        Ok(c)
    }

    /// How long this store's accounts remember their inputs' ids (`meta window`, seconds; see
    /// `rating::recent`): fixed when the store is made. A store made before ids had a window
    /// gets the longest one; a store not made yet has none.
    pub fn window(&self) -> Result<Option<i64>, StoreError> {
        Ok(match self.meta_u64(crate::keys::WINDOW)? {
            Some(w) => Some(w as i64),
            None if self.meta_u64(&crate::keys::sequence(0))?.is_some() => {
                Some(rating::recent::MAX_WINDOW)
            }
            None => None,
        })
    }

    /// A state with this store's window, empty (for passes that rebuild it from the log).
    pub fn empty_state(&self) -> Result<State, StoreError> {
        let w = self.window()?.unwrap_or(rating::recent::DEFAULT_WINDOW);
        if !(rating::recent::MIN_WINDOW..=rating::recent::MAX_WINDOW).contains(&w) {
            return Err(StoreError::Corrupt(format!("window of {w} s")));
        }
        Ok(State::with_window(w))
    }

    /// Where each of `partitions` partitions' tail begins: its checkpoint, or in a store made
    /// before checkpoints, its log's end.
    pub fn checkpoints(&self, partitions: u32) -> Result<Vec<u64>, StoreError> {
        (0..partitions)
            .map(|p| match self.meta_u64(&crate::keys::checkpoint(p))? {
                Some(c) => Ok(c),
                None => Ok(self.meta_u64(&crate::keys::sequence(p))?.unwrap_or(0)),
            })
            .collect()
    }

    pub(crate) fn partitions(&self) -> Result<u32, StoreError> {
        let n = self.meta_u64(crate::keys::PARTITIONS)?.unwrap_or(1);
        u32::try_from(n)
            .ok()
            .filter(|&n| (1..=crate::partition::MAX_PARTITIONS).contains(&n))
            .ok_or_else(|| StoreError::Corrupt(format!("{n} partitions")))
    }

    /// The account records as stored, without their tails.
    pub(crate) fn records(&self) -> Result<State, StoreError> {
        self.records_and_layout().map(|(s, _)| s)
    }

    /// [`Store::records`], and whether any record is of a layout before records held their
    /// account's ids.
    fn records_and_layout(&self) -> Result<(State, bool), StoreError> {
        let mut s = self.empty_state()?;
        let mut before = false;
        for kv in self.db.iterator_cf(self.cf(CF_STATE), IteratorMode::Start) {
            let (_, v) = kv.map_err(|e| self.err(e))?;
            before |= !restore_record(&mut s, &v)?;
        }
        Ok((s, before))
    }

    /// Applies every partition's tail (its entries from its checkpoint on) to `s`, in log order;
    /// returns the accounts whose records it changed.
    fn apply_tails(&self, s: &mut State) -> Result<FxHashSet<rating::AccountId>, StoreError> {
        let mut changed = FxHashSet::default();
        let n = self.partitions()?;
        for (p, from) in (0..n).zip(self.checkpoints(n)?) {
            for item in self.log_bytes_from(p, from) {
                let (seq, v) = item?;
                if let Some(a) = apply_entry(s, p, seq, &v)? {
                    changed.insert(a);
                }
            }
        }
        Ok(changed)
    }

    /// Remembers, in `s`, the input of every decision in the log before each partition's
    /// checkpoint, in log order (as rating did when it made them).
    fn recall_ids(&self, s: &mut State) -> Result<(), StoreError> {
        let n = self.partitions()?;
        for (p, to) in (0..n).zip(self.checkpoints(n)?) {
            for item in self.log_from(p, 0) {
                let (seq, entry) = item?;
                if seq >= to {
                    break;
                }
                let Entry::Rated { decision, .. } = entry else {
                    continue;
                };
                let d = decode_decision_at(p, seq, &decision)?;
                if let Some((account, rated)) = rating::decision::remembered_by(&d) {
                    let for_ever = rating::decision::held_for_ever(&d);
                    s.restore_seen(account, &d.event, d.time, rated, for_ever);
                }
            }
        }
        Ok(())
    }

    /// The state as of the last commit: the account records with the ids they remember, the
    /// free reports taken, then the log's tails applied. With it, the accounts the tails
    /// changed, whose records the next checkpoint must write.
    ///
    /// A store made before records held their ids kept them in the `seen` family, an id a key,
    /// with the input's time but not the time its account held it at. They are recalled
    /// instead from the log before the checkpoints, decision by decision as live rating
    /// remembered them, so that the ids and their times are exactly those of an engine that
    /// never stopped; then a checkpoint of every account writes them into the records, in the
    /// synced batch that empties the family.
    pub fn load_state(&self) -> Result<(State, FxHashSet<rating::AccountId>), StoreError> {
        let (mut s, older) = self.records_and_layout()?;
        let before = older
            || self
                .db
                .iterator_cf(self.cf(CF_SEEN), IteratorMode::Start)
                .next()
                .transpose()
                .map_err(|e| self.err(e))?
                .is_some();
        if before {
            self.recall_ids(&mut s)?;
        }
        for kv in self
            .db
            .iterator_cf(self.cf(CF_REPORTS), IteratorMode::Start)
        {
            let (k, _) = kv.map_err(|e| self.err(e))?;
            let k: [u8; 12] = k[..]
                .try_into()
                .map_err(|_| StoreError::Corrupt("report key of wrong length".into()))?;
            let m = u64::from_be_bytes(k[..8].try_into().expect("8"));
            let month = u32::from_be_bytes(k[8..].try_into().expect("4"));
            s.restore_free_report(rating::Msisdn(m), rating::Month(month));
        }
        let changed = self.apply_tails(&mut s)?;
        if !before {
            return Ok((s, changed));
        }
        let mut c = Commit::default();
        // No valid key sorts at or after [ff ff]: a key is an account id's length and UTF-8
        // bytes, or (older) an id's UTF-8 bytes, and UTF-8 has no ff byte.
        c.batch
            .delete_range_cf(self.cf(CF_SEEN), &[][..], &[0xffu8, 0xff][..]);
        let mut buf = Vec::new();
        for a in s.accounts() {
            let recent = s.recent(&a.id).expect("an account's ids");
            self.put_account(&mut c, a, recent, &mut buf);
        }
        let n = self.partitions()?;
        for p in 0..n {
            let end = self.meta_u64(&crate::keys::sequence(p))?.unwrap_or(0);
            self.put_meta(&mut c, &crate::keys::checkpoint(p), &end.to_le_bytes());
        }
        self.commit(c, true)?;
        tracing::info!(
            accounts = s.len(),
            ids = s.seen_count(),
            "the ids each account remembers moved into its record"
        );
        Ok((s, FxHashSet::default()))
    }

    /// Every account as of the last commit (records and tails), ordered by id.
    pub fn accounts(&self) -> impl Iterator<Item = Result<Account, StoreError>> + '_ {
        let all = self.records().and_then(|mut s| {
            self.apply_tails(&mut s)?;
            let mut all: Vec<Account> = s.accounts().cloned().collect();
            all.sort_unstable_by(|a, b| a.id.as_bytes().cmp(b.id.as_bytes()));
            Ok(all)
        });
        let items: Vec<Result<Account, StoreError>> = match all {
            Ok(all) => all.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        };
        items.into_iter()
    }

    /// One account as of the last commit: its record, and the entries of its partition's tail
    /// that concern it (found through `by_account`).
    pub fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        // A follower (`ratel serve`) catches up with the writer between two of its reads: a
        // checkpoint landing between the record and the markers would pair a record with the
        // wrong tail. Markers only grow, so the same markers before and after the reads mean
        // one view of the store; otherwise the reads are made again.
        let n = self.partitions()?;
        for _ in 0..8 {
            let before = self.checkpoints(n)?;
            let read = self.account_as_of(id, &before);
            if self.checkpoints(n)? == before {
                return read;
            }
        }
        Err(StoreError::Io(format!(
            "account {id}: the store made eight checkpoints while it was read"
        )))
    }

    fn account_as_of(&self, id: &str, checkpoints: &[u64]) -> Result<Option<Account>, StoreError> {
        let mut s = self.empty_state()?;
        if let Some(v) = self
            .db
            .get_cf(self.cf(CF_STATE), id)
            .map_err(|e| self.err(e))?
        {
            restore_record(&mut s, &v)?;
        }
        let prefix = account_key(id, 0, 0);
        let prefix = &prefix[..prefix.len() - 12];
        let it = self.db.iterator_cf(
            self.cf(CF_BY_ACCOUNT),
            IteratorMode::From(prefix, rocksdb::Direction::Forward),
        );
        for kv in it {
            let (k, _) = kv.map_err(|e| self.err(e))?;
            let Some(at) = k.strip_prefix(prefix).filter(|at| at.len() == 12) else {
                break;
            };
            let p = u32::from_be_bytes(at[..4].try_into().expect("4"));
            let seq = u64::from_be_bytes(at[4..].try_into().expect("8"));
            if checkpoints.get(p as usize).is_none_or(|&c| seq < c) {
                continue;
            }
            let entry = self
                .db
                .get_cf(self.cf(CF_LOG), at)
                .map_err(|e| self.err(e))?
                .ok_or_else(|| StoreError::Corrupt(format!("index of {id} names {p}/{seq}")))?;
            apply_entry(&mut s, p, seq, &entry)?;
        }
        Ok(s.account(id).cloned())
    }

    /// The log in order: (partition, seq, entry).
    pub fn log(&self) -> impl Iterator<Item = Result<(u32, u64, Entry), StoreError>> + '_ {
        self.db
            .iterator_cf(self.cf(CF_LOG), IteratorMode::Start)
            .map(move |kv| {
                let (k, v) = kv.map_err(|e| self.err(e))?;
                let (partition, seq) = log_place(&k)?;
                let e = Entry::decode(&v)
                    .map_err(|e| StoreError::Corrupt(format!("log {partition}/{seq}: {e}")))?;
                Ok((partition, seq, e))
            })
    }

    /// One partition's entries from `from` (a seq) on, in order.
    pub fn log_from(
        &self,
        partition: u32,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, Entry), StoreError>> + '_ {
        self.log_bytes_from(partition, from).map(move |item| {
            let (seq, v) = item?;
            Entry::decode(&v)
                .map(|e| (seq, e))
                .map_err(|e| StoreError::Corrupt(format!("log {partition}/{seq}: {e}")))
        })
    }

    /// [`Store::log_from`], the entries as stored.
    fn log_bytes_from(
        &self,
        partition: u32,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, Box<[u8]>), StoreError>> + '_ {
        let start = log_key(partition, from);
        self.db
            .iterator_cf(
                self.cf(CF_LOG),
                IteratorMode::From(&start, rocksdb::Direction::Forward),
            )
            .map_while(move |kv| {
                let (k, v) = match kv {
                    Ok(kv) => kv,
                    Err(e) => return Some(Err(self.err(e))),
                };
                if k.len() != 12 || k[..4] != partition.to_be_bytes() {
                    return None;
                }
                Some(Ok((u64::from_be_bytes(k[4..].try_into().expect("8")), v)))
            })
    }

    /// Every log entry as stored, in order, handed to `f` without a copy of its key or value;
    /// `f` returns false to stop the scan.
    pub fn scan_log(&self, mut f: impl FnMut(u32, u64, &[u8]) -> bool) -> Result<(), StoreError> {
        // A pass over the whole log: its blocks would only push the ones that readers of the
        // same store (a follower's queries) use out of the block cache.
        let mut o = rocksdb::ReadOptions::default();
        o.fill_cache(false);
        let mut it = self.db.raw_iterator_cf_opt(self.cf(CF_LOG), o);
        it.seek_to_first();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let (partition, seq) = log_place(k)?;
            if !f(partition, seq, v) {
                return Ok(());
            }
            it.next();
        }
        it.status().map_err(|e| self.err(e))
    }

    /// Raw log pairs, for digests.
    pub fn log_raw(&self) -> impl Iterator<Item = Result<KeyValue, StoreError>> + '_ {
        self.db
            .iterator_cf(self.cf(CF_LOG), IteratorMode::Start)
            .map(move |kv| kv.map_err(|e| self.err(e)))
    }

    /// Sequence numbers of an account's entries.
    pub fn account_entries(&self, account: &str) -> Result<Vec<(u32, u64)>, StoreError> {
        let prefix = {
            let mut p = account_key(account, 0, 0);
            p.truncate(p.len() - 12);
            p
        };
        let mut out = Vec::new();
        for kv in self.db.iterator_cf(
            self.cf(CF_BY_ACCOUNT),
            IteratorMode::From(&prefix, rocksdb::Direction::Forward),
        ) {
            let (k, _) = kv.map_err(|e| self.err(e))?;
            if !k.starts_with(&prefix) || k.len() != prefix.len() + 12 {
                break;
            }
            let tail = &k[prefix.len()..];
            out.push((
                u32::from_be_bytes(tail[..4].try_into().expect("4")),
                u64::from_be_bytes(tail[4..].try_into().expect("8")),
            ));
        }
        Ok(out)
    }

    pub fn put_entry(
        &self,
        c: &mut Commit,
        partition: u32,
        seq: u64,
        entry: &Entry,
        account: Option<&str>,
        buf: &mut Vec<u8>,
    ) {
        buf.clear();
        entry.encode(buf);
        c.batch
            .put_cf(self.cf(CF_LOG), log_key(partition, seq), &buf[..]);
        if let Some(a) = account {
            c.batch
                .put_cf(self.cf(CF_BY_ACCOUNT), account_key(a, partition, seq), []);
        }
        c.entries += 1;
    }

    /// Records that `account` remembers the input `id` of time `t` (`rated` or rejected),
    /// decided at `at` (partition, seq), as stores made before records held their ids did
    /// (for the tests of reading such a store).
    #[doc(hidden)]
    pub fn put_seen_as_before(
        &self,
        c: &mut Commit,
        account: &str,
        id: &str,
        t: rating::Timestamp,
        rated: bool,
        at: (u32, u64),
    ) {
        c.batch.put_cf(
            self.cf(CF_SEEN),
            seen_key(account, id),
            seen_value(at.0, at.1, t, rated),
        );
    }

    pub fn put_free_report(&self, c: &mut Commit, m: rating::Msisdn, month: rating::Month) {
        c.batch.put_cf(
            self.cf(CF_REPORTS),
            crate::keys::free_report_key(m, month),
            [],
        );
    }

    /// Writes an account's record: the account and the ids it remembers.
    pub fn put_account(&self, c: &mut Commit, a: &Account, recent: &Recent, buf: &mut Vec<u8>) {
        rating::record::encode_account(a, recent, buf);
        c.batch.put_cf(self.cf(CF_STATE), a.id.as_bytes(), &buf[..]);
    }

    pub fn put_meta(&self, c: &mut Commit, key: &str, value: &[u8]) {
        c.batch.put_cf(self.cf(CF_META), key, value);
    }

    pub fn put_counters(&self, c: &mut Commit, partition: u32, k: &Counters) {
        for (n, v) in Counters::NAMES.iter().zip(k.values()) {
            self.put_meta(
                c,
                &crate::keys::counter(Some(partition), n),
                &v.to_le_bytes(),
            );
        }
    }

    /// Writes the batch with the WAL synced: when this returns, the batch survives a crash.
    pub fn commit(&self, c: Commit, sync: bool) -> Result<(), StoreError> {
        let mut w = WriteOptions::default();
        w.set_sync(sync);
        self.db.write_opt(c.batch, &w).map_err(|e| self.err(e))
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        for n in CFS.iter().chain(&projections::models::FAMILIES) {
            self.db.flush_cf(self.cf(n)).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    pub fn property(&self, name: &str) -> Option<String> {
        self.db.property_value(name).ok().flatten()
    }
}

/// Applies a log entry's decision to `s` (a catalog or dead entry changes nothing); returns the
/// account whose record it changed.
fn apply_entry(
    s: &mut State,
    p: u32,
    seq: u64,
    bytes: &[u8],
) -> Result<Option<rating::AccountId>, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(format!("log {p}/{seq}: {e}"));
    let Entry::Rated { decision, .. } = Entry::decode(bytes).map_err(|e| corrupt(e.to_string()))?
    else {
        return Ok(None);
    };
    let d = rating::codec::decode_decision(&decision).map_err(|e| corrupt(e.to_string()))?;
    rating::decision::apply(s, &d).map_err(|e| corrupt(e.to_string()))?;
    Ok(rating::decision::changed_by(&d).cloned())
}

/// Puts an account record into `s`; false if the record holds no ids (a layout before 4).
fn restore_record(s: &mut State, v: &[u8]) -> Result<bool, StoreError> {
    let (a, recent) =
        rating::record::decode_account(v).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let id = a.id.clone();
    s.restore(a);
    Ok(match recent {
        Some(r) => {
            s.restore_recent(&id, r);
            true
        }
        None => false,
    })
}

/// The input and the recorded decision of a rated entry; a record that does not decode is
/// corruption of the store, named by its place in the log.
pub(crate) fn decode_rated(
    partition: u32,
    seq: u64,
    input: &[u8],
    decision: &[u8],
) -> Result<(Input, Decision), StoreError> {
    let d = decode_decision_at(partition, seq, decision)?;
    Ok((decode_input_at(partition, seq, input)?, d))
}

/// The input of a rated entry, named by its place in the log if it does not decode.
pub(crate) fn decode_input_at(partition: u32, seq: u64, input: &[u8]) -> Result<Input, StoreError> {
    decode_input(input).map_err(|e| StoreError::Corrupt(format!("input {partition}/{seq}: {e}")))
}

/// The recorded decision of a rated entry, for passes that need no input.
pub(crate) fn decode_decision_at(
    partition: u32,
    seq: u64,
    decision: &[u8],
) -> Result<Decision, StoreError> {
    decode_decision(decision)
        .map_err(|e| StoreError::Corrupt(format!("decision {partition}/{seq}: {e}")))
}
