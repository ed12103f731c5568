//! The RocksDB store: the event log, the account state beside it (with the ids each account
//! remembers), and the source positions, all changed together by one synced WriteBatch per
//! batch of input.
//!
//! Column families and keys:
//! - `log`: `[partition u32 BE][seq u64 BE]` → [`Entry`]: ordered by partition and sequence.
//! - `by_account`: `[len u8][account id][partition u32 BE][seq u64 BE]` → empty: an account's
//!   entries are one prefix range.
//! - `state`: account id → `[layout u8][the record]` (`rating::record`): the account's record as
//!   of its partition's checkpoint, with the ids it remembers (`rating::recent`) as digests; the
//!   account's id is the key alone.
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
//!   file's bytes), `catalog`: the tag in force, `file/<name>` (an input file's record:
//!   `crate::file_record`; its positions are `pos/file:<name>:<kind>/<partition>`).

mod accounts;
pub mod changed;
mod commit;
mod counters;
pub mod entry;
pub mod family_work;
pub mod files;
pub mod keys;
mod state;

use crate::entry::Entry;
use commit::BATCH_HEADER;
pub use commit::{Commit, NumberHeld, PartitionWrites, GLOBAL};
pub use counters::Counters;
use rating::codec::{decode_decision, decode_input};
use rating::recent::Recent;
use rating::{Account, Decision, Input, State};
use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, WriteBatch, WriteOptions, DB};
use std::path::Path;

/// A key and its value as RocksDB gives them.
pub type KeyValue = (Box<[u8]>, Box<[u8]>);

pub const CF_LOG: &str = "log";
pub const CF_BY_ACCOUNT: &str = "by_account";
pub const CF_STATE: &str = "state";
pub const CF_SEEN: &str = "seen";
pub const CF_META: &str = "meta";
pub const CF_REPORTS: &str = "reports";
pub const CF_HOLDERS: &str = "holders";
pub const CF_DUE: &str = "due";
const CFS: [&str; 8] = [
    CF_LOG,
    CF_BY_ACCOUNT,
    CF_STATE,
    CF_SEEN,
    CF_META,
    CF_REPORTS,
    CF_HOLDERS,
    CF_DUE,
];

/// The families read on the write path, by key: a vector memtable would sort itself for each
/// look-up.
const LOOKED_UP: [&str; 5] = [CF_META, CF_LOG, CF_STATE, CF_REPORTS, CF_HOLDERS];
/// The families whose values the engine reads into its own memory, a key at a time in no
/// order, when an account it does not hold is needed: their blocks are stored uncompressed,
/// found by a hash within the block, and not kept in RocksDB's block cache
/// ([`Store::reading_in`]). With ten million accounts, decompressing a block for each record
/// read and churning the block cache took a fifth of the rating thread (perf, 2026-12-07).
const READ_INTO_MEMORY: [&str; 2] = [CF_STATE, CF_HOLDERS];

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
    #[error("the store at {path} is still being made: it has no family {family} yet")]
    Unfinished { path: String, family: &'static str },
    #[error("no store at {0}: nothing was run with this --data (a reader never creates one)")]
    Missing(String),
    #[error("the read models of {path} are of layout {found}, and this build reads layout {}: run `ratel projections rebuild --data {path}` once (it projects the log again)", projections::models::LAYOUT)]
    OldModels { path: String, found: u64 },
}

/// Bytes RocksDB moved since a store was opened ([`Store::io_figures`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IoFigures {
    /// The keys and values the engine wrote.
    pub written: u64,
    pub wal: u64,
    pub flushed: u64,
    pub compaction_read: u64,
    pub compaction_written: u64,
    pub block_cache_hits: u64,
    pub block_cache_misses: u64,
}

pub struct Store {
    db: DB,
    /// The options the database was opened with: their statistics are RocksDB's tickers.
    options: Options,
    path: String,
    /// A follower's own log folder, removed after the database closes (fields drop in order).
    _scratch: Option<tempfile::TempDir>,
}

pub use crate::keys::{account_key, log_key, seen_key};

/// How each of the engine's own families is stored.
fn family_descriptor(family: &&'static str) -> ColumnFamilyDescriptor {
    let mut o = Options::default();
    o.set_compression_type(rocksdb::DBCompressionType::Lz4);
    o.set_write_buffer_size(64 << 20);
    // The log's keys come in order (partition, then seq), which a skip list appends
    // at the cost of a comparison or two; a vector would sort them again at flush (a
    // run of a million events took 7 % longer).
    if !LOOKED_UP.contains(family) {
        o.set_memtable_factory(rocksdb::MemtableFactory::Vector);
    }
    if *family == CF_LOG {
        o.set_max_write_buffer_number(projections::models::BUSIEST_MEMTABLES);
    }
    if *family == CF_SEEN || *family == CF_STATE || *family == CF_HOLDERS {
        let mut t = rocksdb::BlockBasedOptions::default();
        t.set_bloom_filter(10.0, false);
        if READ_INTO_MEMORY.contains(family) {
            t.set_data_block_index_type(rocksdb::DataBlockIndexType::BinaryAndHash);
            o.set_compression_type(rocksdb::DBCompressionType::None);
        }
        o.set_block_based_table_factory(&t);
    }
    ColumnFamilyDescriptor::new(*family, o)
}

/// The partition and seq a log key names.
fn log_place(key: &[u8]) -> Result<(u32, u64), StoreError> {
    if key.len() != 12 {
        return Err(StoreError::Corrupt("log key of wrong length".into()));
    }
    Ok((
        u32::from_be_bytes(key[..4].try_into().expect("4")),
        u64::from_be_bytes(key[4..].try_into().expect("8")),
    ))
}

const SEEN_VALUE: usize = 21;

fn seen_value(partition: u32, seq: u64, at: rating::Timestamp, rated: bool) -> [u8; SEEN_VALUE] {
    let mut v = [0u8; SEEN_VALUE];
    v[..12].copy_from_slice(&log_key(partition, seq));
    v[12..20].copy_from_slice(&at.0.to_be_bytes());
    v[20] = u8::from(rated);
    v
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
        // Tickers only (stalls, block cache hits): no histograms or timers on the write path.
        opts.enable_statistics();
        opts.set_statistics_level(rocksdb::statistics::StatsLevel::ExceptHistogramOrTimers);
        let cfs = CFS.iter().map(family_descriptor);
        // A follower opens the families the writer made: a store written before a family
        // existed has none until its writer opens it again.
        let made = match follower {
            Some(_) => DB::list_cf(&opts, dir).unwrap_or_default(),
            None => Vec::new(),
        };
        // The families are listed before the open: a store its writer is making at that moment
        // may list none of them yet and then open with only some (a family every reader needs
        // missing). Only the families added later may be absent.
        if follower.is_some() {
            let added_later = [CF_HOLDERS, CF_DUE];
            let needed = CFS.iter().filter(|n| !added_later.contains(n));
            if let Some(absent) = needed.into_iter().find(|n| !made.iter().any(|m| m == *n)) {
                return Err(StoreError::Unfinished {
                    path,
                    family: absent,
                });
            }
        }
        let cfs = cfs.filter(|d| follower.is_none() || made.iter().any(|m| m == d.name()));
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
            options: opts,
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
            // A follower of a store its writer has not opened since a family was added.
            let Some(family) = self.db.cf_handle(name) else {
                continue;
            };
            let mut opts = rocksdb::ReadOptions::default();
            opts.set_verify_checksums(true);
            opts.fill_cache(false);
            let mut keys = 0u64;
            for kv in self
                .db
                .iterator_cf_opt(family, opts, rocksdb::IteratorMode::Start)
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
            fn put_cf(&mut self, id: u32, key: &[u8], bytes: &[u8]) {
                if let Some(cf) = self.cf(id) {
                    self.out.put_cf(cf, key, bytes);
                }
            }
            fn delete_cf(&mut self, id: u32, key: &[u8]) {
                if let Some(cf) = self.cf(id) {
                    self.out.delete_cf(cf, key);
                }
            }
            fn merge_cf(&mut self, id: u32, key: &[u8], bytes: &[u8]) {
                if let Some(cf) = self.cf(id) {
                    self.out.merge_cf(cf, key, bytes);
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
    pub fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut w = WriteOptions::default();
        w.set_sync(true);
        self.db.write_opt(batch, &w).map_err(|e| self.err(e))
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

    /// Whether any `meta` key begins with `prefix`.
    pub fn meta_has_prefix(&self, prefix: &str) -> Result<bool, StoreError> {
        let mode = IteratorMode::From(prefix.as_bytes(), rocksdb::Direction::Forward);
        match self.db.iterator_cf(self.cf(CF_META), mode).next() {
            None => Ok(false),
            Some(item) => Ok(item
                .map_err(|e| self.err(e))?
                .0
                .starts_with(prefix.as_bytes())),
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
    pub fn partition_counters(&self, partition: u32) -> Result<Counters, StoreError> {
        let mut c = Counters::default();
        for (i, n) in Counters::NAMES.iter().enumerate() {
            c.set(
                i,
                self.meta_u64(&crate::keys::counter(Some(partition), n))?
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
    pub fn scan_log(
        &self,
        mut visit: impl FnMut(u32, u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        // A pass over the whole log: its blocks would only push the ones that readers of the
        // same store (a follower's queries) use out of the block cache.
        let mut o = rocksdb::ReadOptions::default();
        o.fill_cache(false);
        let mut it = self.db.raw_iterator_cf_opt(self.cf(CF_LOG), o);
        it.seek_to_first();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let (partition, seq) = log_place(k)?;
            if !visit(partition, seq, v) {
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
        commit: &mut Commit,
        partition: u32,
        seq: u64,
        entry: &Entry,
        account: Option<&str>,
        buf: &mut Vec<u8>,
    ) {
        buf.clear();
        entry.encode(buf);
        commit
            .batch
            .put_cf(self.cf(CF_LOG), log_key(partition, seq), &buf[..]);
        if let Some(a) = account {
            commit
                .batch
                .put_cf(self.cf(CF_BY_ACCOUNT), account_key(a, partition, seq), []);
        }
        commit.entries += 1;
    }

    /// Records that `account` remembers the input `id` of time `time` (`rated` or rejected),
    /// decided at `at` (partition, seq), as stores made before records held their ids did
    /// (for the tests of reading such a store).
    #[doc(hidden)]
    pub fn put_seen_as_before(
        &self,
        commit: &mut Commit,
        account: &str,
        id: &str,
        time: rating::Timestamp,
        rated: bool,
        at: (u32, u64),
    ) {
        commit.batch.put_cf(
            self.cf(CF_SEEN),
            seen_key(account, id),
            seen_value(at.0, at.1, time, rated),
        );
    }

    pub fn put_free_report(
        &self,
        commit: &mut Commit,
        msisdn: rating::Msisdn,
        month: rating::Month,
    ) {
        commit.batch.put_cf(
            self.cf(CF_REPORTS),
            crate::keys::free_report_key(msisdn, month),
            [],
        );
    }

    /// Writes an account's record: the account and the ids it remembers.
    pub fn put_account(
        &self,
        commit: &mut Commit,
        account: &Account,
        recent: &Recent,
        buf: &mut Vec<u8>,
    ) {
        rating::record::encode_account(account, recent, buf);
        commit
            .batch
            .put_cf(self.cf(CF_STATE), account.id.as_bytes(), &buf[..]);
    }

    /// Fails unless the read models are of the layout this build reads and writes.
    pub fn check_models_layout(&self) -> Result<(), StoreError> {
        let found = self.meta_u64(crate::keys::MODELS_LAYOUT)?.unwrap_or(1);
        if found == projections::models::LAYOUT {
            return Ok(());
        }
        Err(StoreError::OldModels {
            path: self.path.clone(),
            found,
        })
    }

    /// Records that the read models are of this build's layout (a new store, or one rebuilt).
    pub fn put_models_layout(&self, commit: &mut Commit) {
        let layout = projections::models::LAYOUT.to_le_bytes();
        self.put_meta(commit, crate::keys::MODELS_LAYOUT, &layout);
    }

    pub fn put_meta(&self, commit: &mut Commit, key: &str, value: &[u8]) {
        commit.batch.put_cf(self.cf(CF_META), key, value);
    }

    pub fn put_counters(&self, commit: &mut Commit, partition: u32, counters: &Counters) {
        for (n, v) in Counters::NAMES.iter().zip(counters.values()) {
            self.put_meta(
                commit,
                &crate::keys::counter(Some(partition), n),
                &v.to_le_bytes(),
            );
        }
    }

    /// Writes the batch with the WAL synced: when this returns, the batch survives a crash.
    pub fn commit(&self, writes: Commit, sync: bool) -> Result<(), StoreError> {
        let mut w = WriteOptions::default();
        w.set_sync(sync);
        self.db.write_opt(writes.batch, &w).map_err(|e| self.err(e))
    }

    /// Sets RocksDB's own figures as metrics: pending compaction, memtables and live table
    /// files over every family, write stalls and block cache hits since the store opened.
    pub fn record_figures(&self) {
        use crate::operations::metrics as m;
        use rocksdb::statistics::Ticker;
        let families = CFS.iter().chain(&projections::models::FAMILIES);
        let mut sums = [0u64; 3];
        for name in families {
            let Some(cf) = self.db.cf_handle(name) else {
                continue;
            };
            let properties = [
                "rocksdb.estimate-pending-compaction-bytes",
                "rocksdb.cur-size-all-mem-tables",
                "rocksdb.live-sst-files-size",
            ];
            for (sum, property) in sums.iter_mut().zip(properties) {
                *sum += self
                    .db
                    .property_int_value_cf(&cf, property)
                    .ok()
                    .flatten()
                    .unwrap_or(0);
            }
        }
        for (name, sum) in [m::PENDING_COMPACTION, m::MEMTABLES, m::LIVE_SST]
            .into_iter()
            .zip(sums)
        {
            metrics::gauge!(name).set(sum as f64);
        }
        let ticker = |t| self.options.get_ticker_count(t);
        metrics::counter!(m::WRITE_STALL).absolute(ticker(Ticker::StallMicros) / 1_000_000);
        metrics::counter!(m::BLOCK_CACHE_HITS).absolute(ticker(Ticker::BlockCacheHit));
        metrics::counter!(m::BLOCK_CACHE_MISSES).absolute(ticker(Ticker::BlockCacheMiss));
    }

    /// What RocksDB read and wrote since the store was opened, for the scale harness's account
    /// of where the time goes (its write and read amplification).
    pub fn io_figures(&self) -> IoFigures {
        use rocksdb::statistics::Ticker;
        let ticker = |t| self.options.get_ticker_count(t);
        IoFigures {
            written: ticker(Ticker::BytesWritten),
            wal: ticker(Ticker::WalFileBytes),
            flushed: ticker(Ticker::FlushWriteBytes),
            compaction_read: ticker(Ticker::CompactReadBytes),
            compaction_written: ticker(Ticker::CompactWriteBytes),
            block_cache_hits: ticker(Ticker::BlockCacheHit),
            block_cache_misses: ticker(Ticker::BlockCacheMiss),
        }
    }

    /// [`Store::commit`] of a rated batch, timed as the commit latency ratel exports.
    pub fn commit_batch(&self, writes: Commit, sync: bool) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let written = self.commit(writes, sync);
        metrics::histogram!(crate::operations::metrics::COMMIT_SECONDS).record(started.elapsed());
        written
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A follower that lists a store's families while its writer is making them, and opens it
    /// once the read models' families are there, must not open without the families it reads
    /// (it did, and panicked at its first read of the counters).
    #[test]
    fn a_follower_of_a_store_still_being_made_is_an_error_not_a_panic() {
        let tmp = tempfile::tempdir().unwrap();
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let halfway = projections::models::FAMILIES
            .iter()
            .chain(&[CF_LOG, CF_STATE]);
        drop(DB::open_cf(&opts, tmp.path(), halfway).unwrap());
        match Store::open_follower(tmp.path()) {
            Err(StoreError::Unfinished { family, .. }) => assert_eq!(family, CF_BY_ACCOUNT),
            Err(other) => panic!("another error: {other}"),
            Ok(store) => panic!("opened: {:?}", store.counters().map(|c| c.read)),
        }
        // Once its writer made it, the same store opens.
        drop(Store::open(tmp.path()).unwrap());
        let follower = Store::open_follower(tmp.path()).unwrap();
        assert_eq!(follower.counters().unwrap().read, 0);
    }
}
