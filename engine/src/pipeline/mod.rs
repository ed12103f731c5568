//! The pipeline: lines from a source are decoded, rated, applied and appended to the log, a batch
//! at a time; each batch is one synced WriteBatch with the source position it reached, so that a
//! restart resumes exactly after the last commit.

use crate::changed::Changed;
use crate::entry::Entry;
use crate::source::{Line, Source};
use crate::store::{Commit, Counters, Store, StoreError, GLOBAL};
use compact_str::CompactString;
use rating::codec::{encode_decision, encode_input, parse_json};
use rating::event::Tick;
use rating::{apply, rate, Catalog, Decision, Input, Outcome, State, Timestamp};
use std::path::Path;

mod cache;
mod memory;
pub mod meter;
mod reference;
pub use cache::{CacheCounts, DEFAULT_CACHE_MB, MOST_IN_FLIGHT};
pub(crate) use memory::{among, candidates, reads_of, Budget, Reads};
pub use reference::holds_reference;

/// Limits of a batch: the most lines rated and committed together.
pub const DEFAULT_BATCH: usize = 16_384;
pub const MAX_BATCH: usize = 1 << 20;
/// How many log entries may follow the last checkpoint before the next one writes the changed
/// accounts' records: what a start (or a reader of the state) applies again at most.
pub const DEFAULT_CHECKPOINT: u64 = 1 << 16;
/// The most accounts changed since the last checkpoint: a checkpoint is made at the batch that
/// reaches it, whatever the tail's length (bounds the memory of the set and the checkpoint's size).
pub const MAX_CHANGED: usize = 1 << 20;
/// A checkpoint waits until the tail holds this many entries for each record it would write:
/// with many accounts, a million entries change most of them, and checkpoints every million
/// entries would write a record (the account and its ids, ~1 KB) for every other event.
pub const ENTRIES_PER_RECORD: u64 = 4;
/// However many accounts changed, the tail is at most this many checkpoint intervals long.
pub const LONGEST_TAIL: u64 = 4;

/// Whether a batch that leaves `tail` log entries after the last checkpoint, and `changed`
/// accounts changed since, writes a checkpoint (`every`: [`Config::checkpoint`]).
pub fn checkpoint_due(tail: u64, changed: usize, every: u64) -> bool {
    if changed >= MAX_CHANGED {
        return true;
    }
    if tail < every {
        return false;
    }
    every == 1
        || tail >= ENTRIES_PER_RECORD.saturating_mul(changed as u64)
        || tail >= LONGEST_TAIL.saturating_mul(every)
}

/// Event times outside this window are dead-lettered: a clock that is decades off is an error
/// upstream, not usage (2000-01-01 .. 2100-01-01).
pub const EARLIEST: Timestamp = Timestamp(946_684_800);
pub const LATEST: Timestamp = Timestamp(4_102_444_800);

/// A batch of lines and what each decoded to ([`parse_line`]).
pub type Decoded = (Vec<Line>, Vec<Result<Input, String>>);

/// Starts the thread that decodes batches of lines ([`parse_line`]) ahead of the rating
/// thread: each batch goes in with a tag of the caller's and comes back, in order, with it and
/// what each line decoded to. At most one batch waits on either side. The thread ends when the
/// sender is dropped, or at its next send once the receiver is.
#[allow(clippy::type_complexity)]
pub fn spawn_decoder<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
) -> Result<
    (
        std::sync::mpsc::SyncSender<(T, Vec<Line>)>,
        std::sync::mpsc::Receiver<(T, Decoded)>,
    ),
    EngineError,
> {
    let (to_decoder, undecoded) = std::sync::mpsc::sync_channel::<(T, Vec<Line>)>(1);
    let (decoded_out, decoded) = std::sync::mpsc::sync_channel::<(T, Decoded)>(1);
    std::thread::Builder::new()
        .name("ratel-decode".into())
        .spawn_scoped(scope, move || {
            for (tag, lines) in undecoded {
                let parsed = lines.iter().map(parse_line).collect();
                if decoded_out.send((tag, (lines, parsed))).is_err() {
                    break;
                }
            }
        })
        .map_err(EngineError::Source)?;
    Ok((to_decoder, decoded))
}

/// Decodes a line into the input it carries, or says why it cannot be rated: what can be known
/// from its bytes alone (the state decides the rest), so that a thread of its own can do it
/// ahead of rating.
pub fn parse_line(line: &Line) -> Result<Input, String> {
    if line.oversized {
        return Err(format!(
            "line longer than {} bytes",
            crate::source::MAX_LINE_BYTES
        ));
    }
    let i = parse_json(&line.bytes).map_err(|e| e.to_string())?;
    let t = i.time();
    if i.id().starts_with(rating::event::DERIVED_ID_PREFIX) {
        Err(format!(
            "id {:?}: ids beginning with {:?} are made by the engine, never read from a source",
            i.id(),
            rating::event::DERIVED_ID_PREFIX
        ))
    } else if matches!(i, Input::Session(_)) {
        Err(
            "a session request comes from the network through `ratel online`, never from a source"
                .into(),
        )
    } else if i.is_derived() {
        Err(format!(
            "{} is made by the engine from its own log, never read from a source",
            i.kind()
        ))
    } else if t < EARLIEST || t >= LATEST {
        Err(format!("event time {t} is outside {EARLIEST} .. {LATEST}"))
    } else {
        Ok(i)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("source: {0}")]
    Source(#[from] std::io::Error),
    #[error("catalog {0} is recorded in the log but its file is not in the store")]
    MissingCatalog(String),
    #[error("catalog: {0}")]
    Catalog(#[from] rating::CatalogError),
    #[error("{0}")]
    Models(String),
    #[error("the log and the state disagree: {0}")]
    Inconsistent(#[from] rating::ApplyError),
    #[error("partitions: {0}")]
    Partitions(String),
    #[error("window: {0}")]
    Window(String),
    #[error("the new catalog {0}: the state refers to plans, options and packages by position, so a new catalog must keep the old ones in place and only add after them")]
    IncompatibleCatalog(String),
    #[error("the new catalog {0}")]
    CatalogMeaning(String),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub batch: usize,
    /// Sync the WAL at every commit (production). Off only for experiments.
    pub sync: bool,
    /// How many partitions the accounts are spread over (crate::partition). A file's inputs are
    /// split by their keys; a Kafka source's come partitioned and are checked. Fixed for a store.
    pub partitions: u32,
    /// How long an account remembers its inputs' ids, in seconds of event time
    /// (`rating::recent`): fixed when a store is made; `None` takes the store's, or the default.
    pub window: Option<i64>,
    /// Log entries between checkpoints of the account records (see `Store::load_state`), at
    /// least, and at least [`ENTRIES_PER_RECORD`] for each record written (up to
    /// [`LONGEST_TAIL`] times this): see [`checkpoint_due`]. 1 writes every changed account
    /// with every batch.
    pub checkpoint: u64,
    /// How far ahead of its partition's clock (the latest event time it accepted) an input may
    /// be, in seconds: one further ahead is dead-lettered, not rated (a clock decades off
    /// upstream would otherwise tick every account to its date). Inputs after a longer outage
    /// need a larger bound for the run that catches up.
    pub max_ahead: i64,
    /// Accept a new catalog that changes what stored amounts and buckets mean (currency,
    /// decimals, time zone, a package's unit): a deliberate migration, recorded in the log.
    pub migrate_catalog: bool,
    /// The megabytes of accounts held in memory beyond those the batches in flight need
    /// (`cache`): the store holds every account.
    pub state_cache_mb: u64,
}

/// [`Config::max_ahead`] unless configured: seven days, longer than a weekend's outage upstream.
pub const DEFAULT_MAX_AHEAD: i64 = 7 * 86_400;

impl Default for Config {
    fn default() -> Self {
        Config {
            batch: DEFAULT_BATCH,
            sync: true,
            partitions: 1,
            window: None,
            checkpoint: DEFAULT_CHECKPOINT,
            max_ahead: DEFAULT_MAX_AHEAD,
            migrate_catalog: false,
            state_cache_mb: DEFAULT_CACHE_MB,
        }
    }
}

/// An entry the last batch appended, kept for the outbox (`Engine::keep_appended`) so that it
/// need not read the batch back from RocksDB.
// Nearly every entry is a decision: boxing it would allocate once per input for the rare
// dead line's sake.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Appended {
    Decided {
        partition: u32,
        seq: u64,
        input: &'static str,
        decision: Decision,
    },
    Dead {
        partition: u32,
        seq: u64,
        entry: Entry,
    },
}

/// What the engine keeps of each partition's log: the next sequence number and its event time.
#[derive(Debug, Clone, Copy)]
struct Part {
    seq: u64,
    watermark: Timestamp,
}

pub struct Engine {
    /// Shared with the outbox's thread, which reads the log and moves its own pointer.
    pub store: std::sync::Arc<Store>,
    pub cat: Catalog,
    pub state: State,
    cfg: Config,
    parts: Vec<Part>,
    /// The latest event time of all partitions: "now" for the read models.
    watermark: Timestamp,
    /// The store's counters: `legacy` and every partition's added up after each batch.
    pub counters: Counters,
    /// What this engine decided since it opened, and its rejections by reason (the metrics';
    /// the store's counters and log hold every run's).
    pub decided: Counters,
    pub rejections: std::collections::BTreeMap<&'static str, u64>,
    part_counters: Vec<Counters>,
    legacy: Counters,
    buf: Vec<u8>,
    dbuf: Vec<u8>,
    ebuf: Vec<u8>,
    updates: projections::Updates,
    appended: Option<Vec<Appended>>,
    /// Mark each batch's writes by partition (`Commit::shares`), for the changelog.
    marked: bool,
    /// The accounts changed since the last checkpoint (their records in the store are older
    /// than the state), and each partition's seq at its checkpoint.
    changed: Changed,
    checkpointed: Vec<u64>,
    /// The bytes of the last batch's write, and its marks: the next reserves as much and an
    /// eighth.
    batch_bytes: usize,
    batch_marks: usize,
    /// The partitions this instance owns when it shares them with others (a consumer group);
    /// `None`: it owns them all.
    owned: Option<Vec<bool>>,
    /// The decisions of the batch that its refunds and reversals name.
    references: reference::References,
    /// What the engine knows of the accounts the state holds.
    held: cache::Held,
}

/// The commit thread of a file run: writes each batch it is given, and says how it went. A
/// rendezvous: the writer takes a batch only when it is done with the last.
#[allow(clippy::type_complexity)]
fn spawn_writer<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    store: std::sync::Arc<Store>,
    sync: bool,
) -> Result<
    (
        std::sync::mpsc::SyncSender<Commit>,
        std::sync::mpsc::Receiver<Result<(), StoreError>>,
        std::thread::ScopedJoinHandle<'scope, ()>,
    ),
    EngineError,
> {
    let (to_writer, batches) = std::sync::mpsc::sync_channel::<Commit>(0);
    let (written, results) = std::sync::mpsc::sync_channel::<Result<(), StoreError>>(1);
    let writer = std::thread::Builder::new()
        .name("ratel-commit".into())
        .spawn_scoped(scope, move || {
            for c in batches {
                let r = store.commit_batch(c, sync);
                let failed = r.is_err();
                if written.send(r).is_err() || failed {
                    break;
                }
            }
        })
        .map_err(EngineError::Source)?;
    Ok((to_writer, results, writer))
}

/// What a read from the source gave.
enum Reading {
    /// A batch, handed to the decoder.
    Batch,
    /// Nothing for now (the source yielded, see `Source::yield_when_idle`).
    Paused,
    /// The end of the source, or a stop asked for.
    End,
}

/// Reads a batch and hands it to the decoder; `busy`: the caller has work to finish, so a
/// source with nothing now yields rather than wait for input.
fn read_into(
    source: &mut dyn Source,
    batch: usize,
    to_decoder: &std::sync::mpsc::SyncSender<((), Vec<Line>)>,
    busy: bool,
) -> Result<Reading, EngineError> {
    source.yield_when_idle(busy);
    // A stop asked for ends the reading between batches: what was read is rated and landed.
    if crate::operations::shutdown::requested() {
        return Ok(Reading::End);
    }
    let mut lines = Vec::with_capacity(batch);
    source.next_batch(batch, &mut lines)?;
    if lines.is_empty() {
        return Ok(match source.paused() {
            true => Reading::Paused,
            false => Reading::End,
        });
    }
    to_decoder
        .send(((), lines))
        .expect("the decoder outlives the run");
    Ok(Reading::Batch)
}

/// The window of event time an account remembers its inputs' ids for: fixed when the store is
/// made (it decides which inputs are repeats and which come too late).
fn fix_window(store: &Store, asked: Option<i64>) -> Result<(), EngineError> {
    let recorded = store.window()?;
    let window = match (recorded, asked) {
        (Some(r), Some(w)) if r != w => {
            return Err(EngineError::Window(format!(
                "the store's accounts remember ids for {r} s, {w} s asked: the window is fixed when a store is made (it decides which inputs are repeats and which come too late)"
            )))
        }
        (Some(r), _) => r,
        (None, w) => w.unwrap_or(rating::recent::DEFAULT_WINDOW),
    };
    if !(rating::recent::MIN_WINDOW..=rating::recent::MAX_WINDOW).contains(&window) {
        return Err(EngineError::Window(format!(
            "{window} s: a window is {} to {} s",
            rating::recent::MIN_WINDOW,
            rating::recent::MAX_WINDOW
        )));
    }
    if store.meta_u64(crate::keys::WINDOW)?.is_none() {
        let mut c = Commit::default();
        store.put_meta(&mut c, crate::keys::WINDOW, &(window as u64).to_le_bytes());
        store.commit(c, true)?;
    }
    Ok(())
}

/// The partition count asked is one a store may have, and this store's if it has one; whether
/// the store is new.
fn check_partitions(store: &Store, partitions: u32) -> Result<bool, EngineError> {
    if !(1..=crate::partition::MAX_PARTITIONS).contains(&partitions) {
        return Err(EngineError::Partitions(format!(
            "{} partitions: a store has 1 to {}",
            partitions,
            crate::partition::MAX_PARTITIONS
        )));
    }
    // A store made before partitions existed has one.
    let recorded = store.meta_u64(crate::keys::PARTITIONS)?.unwrap_or(1);
    let fresh = store.meta_u64(&crate::keys::sequence(0))?.is_none();
    if !fresh && recorded != u64::from(partitions) {
        return Err(EngineError::Partitions(format!(
            "the store holds {recorded} partitions, {partitions} asked: accounts are placed by partition, so a store keeps its count (re-partitioning is a replay into a new store)"
        )));
    }
    Ok(fresh)
}

fn tag_hex(tag: u64) -> String {
    format!("{tag:016x}")
}

impl Engine {
    /// Opens the store at `dir` and makes `catalog` (read from `catalog_bytes`) the one in force,
    /// recording it in the log of every partition if it differs from the last one.
    pub fn open(
        dir: &Path,
        cat: Catalog,
        catalog_bytes: &[u8],
        cfg: Config,
    ) -> Result<Engine, EngineError> {
        let store = std::sync::Arc::new(Store::open(dir)?);
        fix_window(&store, cfg.window)?;
        let (state, changed) = store.load_tails()?;
        let changed = Changed::of_ids(&state, &changed);
        let cfg = Config {
            batch: cfg.batch.clamp(1, MAX_BATCH),
            checkpoint: cfg.checkpoint.max(1),
            ..cfg
        };
        let fresh = check_partitions(&store, cfg.partitions)?;
        if !fresh {
            store.check_models_layout()?;
        }
        let global = Timestamp(store.meta_u64(crate::keys::WATERMARK)?.unwrap_or(0) as i64);
        let parts = load_parts(&store, cfg.partitions, global)?;
        let legacy = store.legacy_counters()?;
        let part_counters = (0..cfg.partitions)
            .map(|p| store.partition_counters(p))
            .collect::<Result<Vec<_>, _>>()?;
        let mut e = Engine {
            store,
            cat,
            state,
            cfg,
            parts,
            watermark: global,
            counters: Counters::default(),
            part_counters,
            decided: Counters::default(),
            rejections: std::collections::BTreeMap::new(),
            legacy,
            buf: Vec::new(),
            dbuf: Vec::new(),
            ebuf: Vec::new(),
            updates: projections::Updates::default(),
            appended: None,
            marked: false,
            changed,
            checkpointed: Vec::new(),
            batch_bytes: 0,
            batch_marks: 0,
            owned: None,
            references: reference::References::default(),
            held: cache::Held::default(),
        };
        e.held = cache::Held::with_budget(e.cfg.state_cache_mb);
        e.add_up();
        e.record_catalog(catalog_bytes, fresh)?;
        e.mark_checkpoints()?;
        e.store.index_accounts(&e.cat, e.cfg.partitions)?;
        e.held.note_all(&mut e.state);
        // A scrape reads the store's figures while it is open, and nothing once it closed.
        let store = std::sync::Arc::downgrade(&e.store);
        crate::operations::metrics::on_scrape(Box::new(move || {
            if let Some(store) = store.upgrade() {
                store.record_figures();
            }
        }));
        Ok(e)
    }

    /// Makes the engine's catalog the one in force: recorded in the log of every partition if
    /// it differs from the last one (checked compatible with it), or if the store is new.
    fn record_catalog(&mut self, catalog_bytes: &[u8], fresh: bool) -> Result<(), EngineError> {
        let current = self.store.meta_u64(crate::keys::CATALOG_IN_FORCE)?;
        let mut label = format!("{} {}", self.cat.id, self.cat.version);
        if let Some(old) = current.filter(|&t| t != self.cat.tag()) {
            let old = recorded_catalog(&self.store, old)?;
            let changes = compatible(&old, &self.cat, self.cfg.migrate_catalog)?;
            if !changes.is_empty() {
                tracing::warn!(changes = %changes.join("; "), "catalog migration");
                label = format!("{label}; migrated from {old}: {}", changes.join("; "));
            }
        }
        if current != Some(self.cat.tag()) || fresh {
            let mut c = Commit::default();
            for p in 0..self.cfg.partitions {
                let part = &mut self.parts[p as usize];
                let entry = Entry::Catalog {
                    tag: self.cat.tag(),
                    fingerprint: self.cat.fingerprint,
                    effective: part.watermark,
                    label: label.clone(),
                };
                self.store
                    .put_entry(&mut c, p, part.seq, &entry, None, &mut self.ebuf);
                part.seq += 1;
                self.store
                    .put_meta(&mut c, &crate::keys::sequence(p), &part.seq.to_le_bytes());
            }
            self.store
                .put_meta(&mut c, &crate::keys::catalog(self.cat.tag()), catalog_bytes);
            self.store.put_meta(
                &mut c,
                crate::keys::CATALOG_IN_FORCE,
                &self.cat.tag().to_le_bytes(),
            );
            self.store.put_meta(
                &mut c,
                crate::keys::PARTITIONS,
                &u64::from(self.cfg.partitions).to_le_bytes(),
            );
            if fresh {
                self.store.put_models_layout(&mut c);
            }
            self.store.commit(c, true)?;
            tracing::info!(catalog = %self.cat, "catalog recorded in the log");
        }
        Ok(())
    }

    /// Each partition's checkpoint. A store made before checkpoints holds current records: say
    /// so before any batch leaves its records behind.
    fn mark_checkpoints(&mut self) -> Result<(), EngineError> {
        self.checkpointed = self.store.checkpoints(self.cfg.partitions)?;
        let mut c = Commit::default();
        for (p, &at) in self.checkpointed.iter().enumerate() {
            let key = crate::keys::checkpoint(p as u32);
            if self.store.meta_u64(&key)?.is_none() {
                self.store.put_meta(&mut c, &key, &at.to_le_bytes());
            }
        }
        if !c.batch.is_empty() {
            self.store.commit(c, true)?;
        }
        Ok(())
    }

    /// Keep what each batch appends (see `appended`).
    pub fn keep_appended(&mut self) {
        self.appended.get_or_insert_with(Vec::new);
    }

    /// Reads the state and the partitions' logs' ends from the store again, after something
    /// other than this engine wrote it (a restore from the changelog). Nothing may be in flight.
    pub fn reload(&mut self) -> Result<(), EngineError> {
        let (state, changed) = self.store.load_tails()?;
        self.changed = Changed::of_ids(&state, &changed);
        self.state = state;
        self.held.clear();
        self.store.index_accounts(&self.cat, self.cfg.partitions)?;
        self.held.note_all(&mut self.state);
        self.parts = load_parts(&self.store, self.cfg.partitions, self.watermark)?;
        self.checkpointed = self.store.checkpoints(self.cfg.partitions)?;
        for p in &self.parts {
            self.watermark = self.watermark.max(p.watermark);
        }
        for (p, c) in self.part_counters.iter_mut().enumerate() {
            *c = self.store.partition_counters(p as u32)?;
        }
        self.add_up();
        Ok(())
    }

    fn add_up(&mut self) {
        let mut total = self.legacy;
        for c in &self.part_counters {
            total.add(c);
        }
        self.counters = total;
    }

    /// Commits a prepared batch with the engine's sync policy.
    pub fn commit(&self, writes: Commit) -> Result<(), EngineError> {
        Ok(self.store.commit(writes, self.cfg.sync)?)
    }

    /// Tell each batch's writes apart by partition (`Commit::shares`), for the changelog.
    pub fn mark_partitions(&mut self) {
        self.marked = true;
    }

    /// From now on this instance owns only `partitions` (a consumer group's assignment): a
    /// transfer whose credit belongs to a partition it does not own is dead-lettered, not rated
    /// (see ARCHITECTURE.md, "Transfers"). `None`: it owns every partition.
    pub fn own(&mut self, partitions: Option<&[u32]>) {
        self.owned = partitions.map(|ps| {
            let mut owned = vec![false; self.cfg.partitions as usize];
            for &p in ps {
                if let Some(o) = owned.get_mut(p as usize) {
                    *o = true;
                }
            }
            owned
        });
    }

    /// Whether this instance owns `partition` (every partition, unless told otherwise by
    /// [`Engine::own`]).
    pub fn owns(&self, partition: u32) -> bool {
        match &self.owned {
            Some(owned) => owned.get(partition as usize) == Some(&true),
            None => partition < self.cfg.partitions,
        }
    }

    /// The partition an input would be rated in, its numbers' accounts as the state held in
    /// memory knows them (read them in first: [`Engine::hold_numbers`]).
    pub fn partition_of_input(&self, input: &Input) -> u32 {
        self.key_of(input).partition(self.cfg.partitions)
    }

    /// The key of an input, its numbers' accounts as this instance's state knows them.
    fn key_of<'a>(&'a self, input: &'a Input) -> crate::partition::Key {
        crate::partition::key(input, |m| {
            self.state.account_of_number(m).map(|a| a.id.as_str())
        })
    }

    /// Why a decision cannot be recorded by this instance: it sends a transfer whose credit
    /// belongs to a partition another instance owns. Delivering the credit there is not built;
    /// rating it here, into this store's copy of that partition, would give the money to an
    /// account whose owner never hears of it.
    fn crosses_instances(&self, decision: &Decision) -> Option<String> {
        let owned = self.owned.as_ref()?;
        let credit = rating::transfer::derived(decision)?;
        let Input::TransferCredit(c) = &credit else {
            return None;
        };
        let q = self.key_of(&credit).partition(self.cfg.partitions);
        (!owned[q as usize]).then(|| {
            format!(
                "transfer to {}: its credit belongs to partition {q}, which another instance \
                 owns; transfers between instances are not built (nothing was moved)",
                c.to
            )
        })
    }

    /// What the last batch appended, in order, if kept.
    pub fn appended(&self) -> &[Appended] {
        self.appended.as_deref().unwrap_or_default()
    }

    /// What the last batch appended, in order, if kept, handed over (to the outbox's thread).
    /// `room` takes its place (the next batch empties it first): at best one the outbox handed
    /// back, whose memory is already the process's, rather than a fresh allocation the kernel
    /// must zero page by page (a batch's decisions are megabytes).
    pub fn take_appended(&mut self, mut room: Vec<Appended>) -> Vec<Appended> {
        let Some(a) = self.appended.as_mut() else {
            return Vec::new();
        };
        // The room the largest batch so far needed, rather than growing by doubling.
        room.reserve(a.capacity());
        std::mem::replace(a, room)
    }

    pub fn partitions(&self) -> u32 {
        self.cfg.partitions
    }

    /// How the engine was opened.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Position a file source must resume from.
    pub fn position(&self) -> Result<u64, EngineError> {
        Ok(self
            .store
            .meta_u64(&crate::keys::position(None, 0))?
            .unwrap_or(0))
    }

    /// The next offset to read of a topic partition, if any was committed.
    pub fn offset(&self, topic: &str, partition: u32) -> Result<Option<u64>, EngineError> {
        Ok(self
            .store
            .meta_u64(&crate::keys::position(Some(topic), partition))?)
    }

    /// The latest event time a partition accepted.
    pub fn watermark(&self, partition: u32) -> Timestamp {
        self.parts[partition as usize].watermark
    }

    /// The next sequence number of a partition's log.
    pub fn seq(&self, partition: u32) -> u64 {
        self.parts[partition as usize].seq
    }

    /// Rates a file of JSON lines from where the last commit ended to its last whole line, read
    /// as the topics it would be produced to (`crate::file_topics`); a file read to its end
    /// before is skipped.
    pub fn run_file(&mut self, path: &std::path::Path) -> Result<(), EngineError> {
        match self.file_topics(path, false)? {
            crate::file_topics::Opened::Topics(mut src) => self.run(&mut *src, |_, _| {}),
            crate::file_topics::Opened::Finished => Ok(()),
        }
    }

    /// A file read as topics, resuming after what this store rated of it (`complete`: see
    /// [`crate::source::FileSource::complete`]), or skipped if it was read to its end; an
    /// error if it changed after it was read (`crate::store::files`).
    pub fn file_topics(
        &self,
        path: &std::path::Path,
        complete: bool,
    ) -> Result<crate::file_topics::Opened, EngineError> {
        let mut numbers = self.known_numbers()?;
        Ok(crate::store::files::open(
            &self.store,
            path,
            self.placement(complete),
            &mut numbers,
        )?)
    }

    /// How this store places a file's lines.
    pub fn placement(&self, complete: bool) -> crate::file_topics::Placement {
        crate::file_topics::Placement {
            partitions: self.cfg.partitions,
            complete,
            max_ahead: self.cfg.max_ahead,
        }
    }

    /// The numbers whose accounts the state knows, for keying a file's lines over partitions
    /// as the engine will check them; with one partition keys do not matter, and none are
    /// gathered.
    pub fn known_numbers(&self) -> Result<crate::partition::Numbers, EngineError> {
        let mut numbers = crate::partition::Numbers::default();
        if self.cfg.partitions > 1 {
            for held in self.store.all_holders() {
                let (msisdn, account) = held?;
                numbers.insert(msisdn, &account);
            }
            // The batch in flight's numbers may not have landed; the state holds them.
            for account in self.state.accounts() {
                for number in &account.numbers {
                    let holder = self.state.account_of_number(number.msisdn);
                    if holder.is_some_and(|h| h.id == account.id) {
                        numbers.insert(number.msisdn, &account.id);
                    }
                }
            }
        }
        Ok(numbers)
    }

    /// Rates everything the source yields, committing batch by batch. `on_batch` sees progress
    /// after each commit.
    ///
    /// The lines of the next batch are decoded by a thread of their own while this one is
    /// rated (`parse_line`: decoding needs only a line's bytes).
    ///
    /// A batch is written by a thread of its own while the next one is rated: the WAL's sync
    /// and the memtables' inserts overlap with rating instead of following it. At most one
    /// batch is in flight, and the source hears of a batch only once it is durable. The state
    /// in memory runs one batch ahead of the store; a failed write ends the run with its error
    /// (the state in memory is then dropped, and a restart resumes from what was committed, as
    /// after a crash).
    pub fn run(
        &mut self,
        source: &mut dyn Source,
        mut on_batch: impl FnMut(&Engine, u64),
    ) -> Result<(), EngineError> {
        let store = self.store.clone();
        let sync = self.cfg.sync;
        std::thread::scope(|scope| {
            let (to_writer, results, writer) = spawn_writer(scope, store, sync)?;
            // Decoding a line needs nothing but its bytes: a thread of its own decodes the
            // batch after the one being rated.
            let (to_decoder, decoded) = spawn_decoder::<()>(scope)?;
            let mut in_flight: Vec<Line> = Vec::with_capacity(self.cfg.batch);
            let mut landed = |e: &mut Engine, lines: &[Line], source: &mut dyn Source| {
                let r = results
                    .recv()
                    .unwrap_or_else(|_| Err(StoreError::Io("the commit thread ended".into())));
                r?;
                source.committed(lines);
                if let Some(last) = lines.last() {
                    on_batch(e, last.position);
                }
                Ok::<(), EngineError>(())
            };
            // Batches handed to the decoder and not yet taken back; what ended the reading.
            let (mut decoding, mut read) = (0usize, Ok(Reading::Batch));
            let outcome = loop {
                // Two batches ahead: one decoded while this thread rates the other. A source
                // waits for input only when nothing else is left to do.
                while decoding < 2 && matches!(read, Ok(Reading::Batch)) {
                    let busy = decoding + in_flight.len() > 0;
                    read = read_into(source, self.cfg.batch, &to_decoder, busy);
                    decoding += usize::from(matches!(read, Ok(Reading::Batch)));
                }
                if matches!(read, Ok(Reading::Paused)) {
                    read = Ok(Reading::Batch);
                    if decoding == 0 {
                        // Nothing more for now: what is in flight lands rather than wait.
                        if let Err(e) = landed(self, &std::mem::take(&mut in_flight), source) {
                            break Err(e);
                        }
                        continue;
                    }
                }
                if decoding == 0 {
                    // Everything read was rated: the run ends as the reading did.
                    break read.map(|_| ());
                }
                let ((), (lines, parsed)) =
                    decoded.recv().expect("the decoder answers every batch");
                decoding -= 1;
                // A refund finds the charge it names in the store: what is in flight lands first.
                if holds_reference(&parsed) && !in_flight.is_empty() {
                    let landing = std::mem::take(&mut in_flight);
                    if let Err(e) = landed(self, &landing, source) {
                        break Err(e);
                    }
                }
                let c = match self.prepare_parsed(&lines, parsed) {
                    Ok(c) => c,
                    Err(e) => break Err(e),
                };
                if !in_flight.is_empty() {
                    if let Err(e) = landed(self, &in_flight, source) {
                        break Err(e);
                    }
                }
                if to_writer.send(c).is_err() {
                    break Err(StoreError::Io("the commit thread ended".into()).into());
                }
                in_flight = lines;
            };
            // A run that ends early leaves batches with the decoder: it stops at its next send.
            drop(to_decoder);
            drop(decoded);
            drop(to_writer);
            // What is in flight lands (or fails) before the run returns, whatever ended it.
            let last = if in_flight.is_empty() {
                Ok(())
            } else {
                landed(self, &in_flight, source)
            };
            writer.join().expect("the commit thread does not panic");
            outcome.and(last)
        })
    }

    /// The partition an input of `line` belongs to, or why it cannot be rated here.
    fn partition_of(&self, line: &Line, input: &Input) -> Result<u32, String> {
        let n = self.cfg.partitions;
        // One partition and a file: nothing to place or check (the common case, per line).
        if n == 1 && line.topic.is_none() {
            return Ok(0);
        }
        let key = self.key_of(input);
        if line.topic.is_none() || crate::topics::is_online(line.topic.as_deref()) {
            return Ok(key.partition(n));
        }
        // From Kafka: the producer placed it. An input keyed by an account must be in that
        // account's partition, or its partition's log would decide about another's account;
        // an opening too, or the account would live apart from its later traffic.
        if line.partition >= n {
            return Err(format!(
                "partition {} of {}, but the store has {n} partitions",
                line.partition,
                line.topic.as_deref().unwrap_or_default()
            ));
        }
        if let crate::partition::Key::Account(a) = &key {
            let expected = key.partition(n);
            if expected != line.partition {
                return Err(format!(
                    "mis-keyed: account {a} belongs to partition {expected}, the message came on {}",
                    line.partition
                ));
            }
        }
        Ok(line.partition)
    }

    /// Rates one batch of lines and commits it.
    pub fn process(&mut self, lines: &[Line]) -> Result<(), EngineError> {
        let c = self.prepare(lines)?;
        self.store.commit(c, self.cfg.sync)?;
        Ok(())
    }

    /// Rates one batch of lines into the state and the write that makes it durable (its log
    /// entries, state, ids, read models, positions and counters), not yet written.
    pub fn prepare(&mut self, lines: &[Line]) -> Result<Commit, EngineError> {
        let parsed: Vec<_> = lines.iter().map(parse_line).collect();
        self.prepare_parsed(lines, parsed)
    }

    /// [`Engine::prepare`] of lines already decoded by [`parse_line`], one result a line.
    pub fn prepare_parsed(
        &mut self,
        lines: &[Line],
        parsed: Vec<Result<Input, String>>,
    ) -> Result<Commit, EngineError> {
        assert_eq!(lines.len(), parsed.len(), "one decoding a line");
        let started = std::time::Instant::now();
        let total = self.counters;
        if let Some(a) = &mut self.appended {
            a.clear();
        }
        let mut c = Commit::reserving(
            self.batch_bytes + self.batch_bytes / 8,
            self.marked
                .then_some(self.batch_marks + self.batch_marks / 8),
        );
        let mut dirty = std::mem::take(&mut self.changed);
        // A partition is touched by a line of its own, and also by a transfer's credit or a
        // tick that another partition's line brought about: what changed is what is stored.
        let before: Vec<Part> = self.parts.clone();
        let counted: Vec<Counters> = self.part_counters.clone();
        let mut ahead = rating::prefetch::Ahead::default();
        // The batch's place in its source, for what is logged while it is rated.
        let _batch = tracing::debug_span!(
            "batch",
            topic = lines.first().and_then(|l| l.topic.as_deref()),
            first = lines.first().map(|l| l.position),
            lines = lines.len()
        )
        .entered();
        self.references.expect(&parsed);
        self.held.next_batch();
        self.hold_for(parsed.iter().filter_map(|p| p.as_ref().ok()))?;
        for (j, (line, input)) in lines.iter().zip(&parsed).enumerate() {
            ahead.before(&self.state, j, |k| parsed.get(k)?.as_ref().ok());
            self.rate_line(line, input, &mut c, &mut dirty)?;
        }
        self.write_checkpoint(&mut c, &mut dirty);
        cache::Held::write_holders(&mut self.parts_held(), &mut c);
        let evicted = self.held.evict(&mut self.state, &mut dirty);
        metrics::counter!(crate::operations::metrics::ACCOUNTS_EVICTED).increment(evicted as u64);
        self.changed = dirty;
        metrics::gauge!(crate::operations::metrics::ACCOUNTS_HELD).set(self.state.len() as f64);
        metrics::gauge!(crate::operations::metrics::ACCOUNTS_HELD_BYTES)
            .set(self.held.bytes() as f64);
        self.write_positions(lines, &mut c);
        self.write_partition_marks(&before, &counted, &mut c);
        self.add_up();
        self.decided.add(&self.counters.since(&total));
        c.complete_ranges(|p| self.parts[p as usize].seq);
        self.batch_bytes = c.batch.size_in_bytes();
        self.batch_marks = c.marks();
        metrics::histogram!(crate::operations::metrics::RATING_SECONDS).record(started.elapsed());
        metrics::histogram!(crate::operations::metrics::BATCH_LINES).record(lines.len() as f64);
        Ok(c)
    }

    /// Rates one line of a batch: a dead letter, or a decision recorded with what it brought
    /// about (ticks before it, a transfer's credit after it).
    fn rate_line(
        &mut self,
        line: &Line,
        input: &Result<Input, String>,
        commit: &mut Commit,
        dirty: &mut Changed,
    ) -> Result<(), EngineError> {
        let input = match input {
            Ok(i) => self.partition_of(line, i).map(|p| (i, p)),
            Err(e) => Err(e.clone()),
        };
        match input {
            Err(reason) => {
                // A line that names no partition is logged in its source's.
                let p = line.partition.min(self.cfg.partitions - 1);
                self.part_counters[p as usize].read += 1;
                self.dead_letter(p, line, reason, commit);
            }
            Ok((input, p)) => {
                self.part_counters[p as usize].read += 1;
                let ahead = line.far_ahead.then(|| {
                    format!(
                        "event time {} is more than {} s ahead of the inputs before and \
                         after it in its topic",
                        input.time(),
                        self.cfg.max_ahead
                    )
                });
                // An online request's time is its arrival, or the network's stamp checked against
                // the server's clock when it arrived (`online::credit_control`), not this rule.
                let too_far = || match crate::topics::is_online(line.topic.as_deref()) {
                    true => None,
                    false => self.too_far_ahead(p, input.time()),
                };
                if let Some(reason) = ahead.or_else(too_far) {
                    self.dead_letter(p, line, reason, commit);
                    return Ok(());
                }
                let resolved;
                let input = match input.refers_to() {
                    Some(_) => {
                        let recorded = |tag| recorded_catalog(&self.store, tag);
                        resolved =
                            (self.references).resolve((&self.store, &self.cat), input, recorded)?;
                        &resolved
                    }
                    None => input,
                };
                let mut d = rate(&self.state, &self.cat, input);
                // Only an accepted input moves its partition's clock (and so brings a day's
                // ticks): a refused one, whatever its time, changes nothing. The ticks come
                // before it in the log, so it is rated again after them if any was made.
                if moves_clock(&d) && self.ticks_before(p, input.time(), line.at, commit, dirty)? {
                    d = rate(&self.state, &self.cat, input);
                }
                if let Some(reason) = self.crosses_instances(&d) {
                    self.dead_letter(p, line, reason, commit);
                    return Ok(());
                }
                match &d.outcome {
                    Outcome::Rejected(r) => {
                        self.part_counters[p as usize].rejected += 1;
                        *self.rejections.entry(r.code()).or_default() += 1;
                        tracing::debug!(partition = p, event = %d.event, reason = r.code(), "rejected");
                    }
                    Outcome::Duplicate => self.part_counters[p as usize].duplicates += 1,
                    _ => self.part_counters[p as usize].rated += 1,
                }
                self.record(p, input, &d, line.position, commit, dirty)?;
                self.deliver(&d, line.position, commit, dirty)?;
            }
        }
        Ok(())
    }

    /// At a checkpoint, the accounts changed since the last one and each partition's
    /// checkpoint mark go into the batch.
    fn write_checkpoint(&mut self, commit: &mut Commit, dirty: &mut Changed) {
        // Only this instance's partitions: another's (a consumer group's rebalance took it) is
        // written by its owner, and a write here would fork its history.
        let owned: Vec<bool> = (0..self.cfg.partitions).map(|p| self.owns(p)).collect();
        let tail: u64 = (self.parts.iter().zip(&self.checkpointed).zip(&owned))
            .filter(|(_, &owned)| owned)
            .map(|((part, &at), _)| {
                assert!(
                    at <= part.seq,
                    "a checkpoint {at} past its log's end {}",
                    part.seq
                );
                part.seq - at
            })
            .sum();
        if checkpoint_due(tail, dirty.len(), self.cfg.checkpoint) {
            let mut parts = cache::Parts {
                state: &mut self.state,
                store: &self.store,
                cat: &self.cat,
                partitions: self.cfg.partitions,
            };
            let owns = |p: u32| owned[p as usize];
            (self.held).write_records(&mut parts, commit, dirty, &mut self.buf, owns);
            for (p, part) in self.parts.iter().enumerate() {
                if part.seq != self.checkpointed[p] && owned[p] {
                    let key = crate::keys::checkpoint(p as u32);
                    let mut writes = commit.writes_of(p as u32);
                    self.store
                        .put_meta(&mut writes, &key, &part.seq.to_le_bytes());
                    self.checkpointed[p] = part.seq;
                }
            }
        }
    }

    /// The last position of each source partition in the batch, and the kind of source.
    fn write_positions(&self, lines: &[Line], commit: &mut Commit) {
        let mut ends: Vec<(Option<&str>, u32, u64)> = Vec::new();
        // Online requests have no place in a source to record.
        let from_sources =
            || (lines.iter()).filter(|l| !crate::topics::is_online(l.topic.as_deref()));
        for line in from_sources().rev() {
            let t = line.topic.as_deref();
            if !ends.iter().any(|&(a, b, _)| a == t && b == line.partition) {
                ends.push((t, line.partition, line.position));
            }
        }
        // Each file's record as of its last line here: finished, if that line ends it.
        let mut files: Vec<&crate::source::FileMark> = Vec::new();
        for mark in from_sources().rev().filter_map(|l| l.file.as_deref()) {
            if !files.iter().any(|f| f.name == mark.name) {
                files.push(mark);
            }
        }
        for mark in files {
            self.store.put_meta(
                &mut commit.writes_of(GLOBAL),
                &crate::keys::file(&mark.name),
                &mark.record.to_bytes(),
            );
        }
        if let Some(l) = from_sources().next() {
            let kind: &[u8] = match l.topic.as_deref() {
                None => b"file",
                Some(t) if crate::file_topics::is_file_topic(t) => b"file-topics",
                Some(_) => b"kafka",
            };
            self.store
                .put_meta(&mut commit.writes_of(GLOBAL), crate::keys::SOURCE, kind);
        }
        for (topic, partition, end) in ends {
            self.store.put_meta(
                &mut commit.writes_of(partition),
                &crate::keys::position(topic, partition),
                &end.to_le_bytes(),
            );
        }
    }

    /// Each partition's log end, watermark and counters, where the batch changed them.
    fn write_partition_marks(&self, before: &[Part], counted: &[Counters], commit: &mut Commit) {
        for (p, (part, was)) in self.parts.iter().zip(before).enumerate() {
            if part.seq != was.seq || part.watermark != was.watermark {
                let mut writes = commit.writes_of(p as u32);
                self.store.put_meta(
                    &mut writes,
                    &crate::keys::sequence(p as u32),
                    &part.seq.to_le_bytes(),
                );
                self.store.put_meta(
                    &mut writes,
                    &crate::keys::partition_watermark(p as u32),
                    &(part.watermark.0 as u64).to_le_bytes(),
                );
                writes.ranges.push((p as u32, was.seq, part.seq));
            }
        }
        self.store.put_meta(
            &mut commit.writes_of(GLOBAL),
            crate::keys::WATERMARK,
            &(self.watermark.0 as u64).to_le_bytes(),
        );

        for (p, (now, was)) in self.part_counters.iter().zip(counted).enumerate() {
            if now != was {
                self.store
                    .put_counters(&mut commit.writes_of(p as u32), p as u32, now);
            }
        }
    }

    /// Logs `line` in `partition` as a dead letter: not rated, with the reason.
    fn dead_letter(&mut self, partition: u32, line: &Line, reason: String, commit: &mut Commit) {
        self.part_counters[partition as usize].dead += 1;
        tracing::info!(partition, position = line.at, %reason, "dead letter");
        let entry = Entry::Dead {
            topic: line.topic.as_deref().unwrap_or_default().to_string(),
            position: line.at,
            raw: line.bytes.clone(),
            reason,
        };
        let part = &mut self.parts[partition as usize];
        self.store.put_entry(
            &mut commit.writes_of(partition),
            partition,
            part.seq,
            &entry,
            None,
            &mut self.ebuf,
        );
        if let Some(a) = &mut self.appended {
            a.push(Appended::Dead {
                partition,
                seq: part.seq,
                entry,
            });
        }
        part.seq += 1;
    }

    /// Rates what a decision obliges the engine to deliver (a transfer's credit, a bounced
    /// credit's refund) in its own partition, in the same batch: the debit and its credit (or
    /// refund) commit together or not at all. A chain is at most credit then refund.
    fn deliver(
        &mut self,
        decision: &Decision,
        position: u64,
        commit: &mut Commit,
        dirty: &mut Changed,
    ) -> Result<(), EngineError> {
        let mut next = rating::transfer::derived(decision);
        let mut hops = 0;
        while let Some(input) = next.take() {
            hops += 1;
            assert!(
                hops <= 2,
                "a transfer derives a credit and at most a refund"
            );
            self.hold_for(std::iter::once(&input))?;
            let p = self.key_of(&input).partition(self.cfg.partitions);
            self.ticks_before(p, input.time(), position, commit, dirty)?;
            let d = rate(&self.state, &self.cat, &input);
            self.part_counters[p as usize].derived += 1;
            self.record(p, &input, &d, position, commit, dirty)?;
            next = rating::transfer::derived(&d);
        }
        Ok(())
    }

    fn record(
        &mut self,
        partition: u32,
        input: &Input,
        decided: &Decision,
        position: u64,
        commit: &mut Commit,
        dirty: &mut Changed,
    ) -> Result<(), EngineError> {
        apply(&mut self.state, decided)?;
        self.references.note(decided);
        let seq = self.parts[partition as usize].seq;
        self.buf.clear();
        encode_input(input, &mut self.buf);
        self.dbuf.clear();
        encode_decision(decided, &mut self.dbuf);
        let account = match &decided.outcome {
            Outcome::Opened { account, .. } => Some(account.id.clone()),
            _ => decided.account.clone(),
        };
        let entry = Entry::Rated {
            position,
            input: std::mem::take(&mut self.buf),
            decision: std::mem::take(&mut self.dbuf),
        };
        let mut c = commit.writes_of(partition);
        self.store.put_entry(
            &mut c,
            partition,
            seq,
            &entry,
            account.as_deref(),
            &mut self.ebuf,
        );
        if let Some(a) = &mut self.appended {
            a.push(Appended::Decided {
                partition,
                seq,
                input: input.kind(),
                decision: decided.clone(),
            });
        }
        if let Entry::Rated {
            input, decision, ..
        } = entry
        {
            self.buf = input;
            self.dbuf = decision;
        }
        if let Outcome::DetalizationOrdered {
            msisdn,
            month: Some(month),
            free: true,
            ..
        } = &decided.outcome
        {
            self.store.put_free_report(&mut c, *msisdn, *month);
        }
        self.updates.clear();
        let at = projections::project::LogPos { partition, seq };
        projections::project(&self.cat, &self.state, decided, at, &mut self.updates);
        projections::models::stage(self.store.db(), &mut c.batch, &self.updates);
        if let Some(a) = rating::decision::changed_by(decided) {
            dirty.insert(
                self.state
                    .index_of(a)
                    .expect("an applied decision's account exists"),
            );
        }
        self.parts[partition as usize].seq += 1;
        Ok(())
    }

    /// Why an input at `at` is not rated in `partition`: it is more than
    /// [`Config::max_ahead`] past the later of the partition's clock and the latest event time
    /// any partition accepted (so a quiet partition follows the busy ones).
    fn too_far_ahead(&self, partition: u32, at: Timestamp) -> Option<String> {
        let clock = self.parts[partition as usize].watermark.max(self.watermark);
        (clock.0 > 0 && at.0 > clock.0.saturating_add(self.cfg.max_ahead)).then(|| {
            format!(
                "event time {at} is more than {} s ahead of the clock {clock} (the latest event \
                 time accepted; raise --max-ahead-hours to catch up after a longer outage)",
                self.cfg.max_ahead
            )
        })
    }

    /// When a partition's event time enters a new local day, its accounts with periodic work
    /// due get a tick, so that idle accounts pay their fees and renew their packages too. Ticks
    /// are inputs like any other: logged, and with ids derived from the account and day, so a
    /// repeat is a duplicate. Called for accepted inputs only; says whether a tick was logged.
    fn ticks_before(
        &mut self,
        partition: u32,
        time: Timestamp,
        at: u64,
        commit: &mut Commit,
        dirty: &mut Changed,
    ) -> Result<bool, EngineError> {
        self.watermark = self.watermark.max(time);
        let part = &mut self.parts[partition as usize];
        if time <= part.watermark {
            return Ok(false);
        }
        let old_day = self.cat.calendar.local(part.watermark).date;
        part.watermark = time;
        let day = self.cat.calendar.local(time).date;
        if day <= old_day {
            return Ok(false);
        }
        let boundary = rating::time::start_of_day(&self.cat.tz, day);
        let due = self.due_accounts(partition, boundary, commit)?;
        let ticked = !due.is_empty();
        let stamp = day.format("%Y%m%d").to_string();
        for account in due {
            let input = Input::Tick(Tick {
                id: format!("{}tick:{stamp}:{account}", rating::event::DERIVED_ID_PREFIX).into(),
                account,
                time: boundary,
            });
            let d = rate(&self.state, &self.cat, &input);
            self.part_counters[partition as usize].ticks += 1;
            self.record(partition, &input, &d, at, commit, dirty)?;
        }
        Ok(ticked)
    }
}

impl Engine {
    /// The accounts of `partition` with periodic work due at `boundary` (`rating::work_due`),
    /// ordered by id: those the `due` index lists by then, read in, and those held in memory
    /// (whose entries may not have landed). The entries read are replaced by each account's
    /// due time, or by the next day's for an account not due yet whose time has passed.
    fn due_accounts(
        &mut self,
        partition: u32,
        boundary: Timestamp,
        commit: &mut Commit,
    ) -> Result<Vec<CompactString>, EngineError> {
        let n = self.cfg.partitions;
        let listed = self.store.due_by(partition, boundary)?;
        let ticks: Vec<Input> = (listed.iter())
            .map(|(_, account)| {
                Input::Tick(Tick {
                    id: CompactString::default(),
                    account: account.clone(),
                    time: boundary,
                })
            })
            .collect();
        self.hold_for(ticks.iter())?;
        let mut writes = commit.writes_of(partition);
        for (at, account) in &listed {
            self.store.delete_due(&mut writes, partition, *at, account);
            cache::Held::forget_due(&mut self.state, account);
            let Some(a) = self.state.account(account) else {
                continue;
            };
            if !rating::work_due(&self.cat, a, boundary) {
                let again = rating::due_from(&self.cat, a).max(Timestamp(boundary.0 + 1));
                self.store.put_due(&mut writes, partition, again, account);
            }
        }
        drop(writes);
        let mut due: Vec<CompactString> = (self.state.accounts())
            .filter(|a| rating::work_due(&self.cat, a, boundary))
            .filter(|a| n == 1 || crate::partition::of_bytes(a.id.as_bytes(), n) == partition)
            .map(|a| a.id.clone())
            .collect();
        due.sort_unstable();
        Ok(due)
    }
}

impl Engine {
    fn parts_held(&mut self) -> cache::Parts<'_> {
        cache::Parts {
            state: &mut self.state,
            store: &self.store,
            cat: &self.cat,
            partitions: self.cfg.partitions,
        }
    }

    /// Reads into memory every account that rating `inputs` may read (`cache`).
    fn hold_for<'a>(
        &mut self,
        inputs: impl Iterator<Item = &'a Input> + Clone,
    ) -> Result<(), EngineError> {
        let mut parts = cache::Parts {
            state: &mut self.state,
            store: &self.store,
            cat: &self.cat,
            partitions: self.cfg.partitions,
        };
        Ok(self.held.hold_for(&mut parts, inputs)?)
    }

    /// Reads into memory the accounts holding `numbers` (for a question answered from the
    /// state, not a batch).
    pub fn hold_numbers(&mut self, numbers: &[rating::Msisdn]) -> Result<(), EngineError> {
        let asked: Vec<Input> = (numbers.iter())
            .map(|&msisdn| {
                Input::Suspend(rating::event::NumberCommand {
                    id: CompactString::default(),
                    msisdn,
                    time: Timestamp(0),
                })
            })
            .collect();
        self.hold_for(asked.iter())
    }

    /// The accounts the batches since the open read: found held, or read in from the store.
    pub fn cache_counts(&self) -> CacheCounts {
        self.held.counts
    }

    /// An account as of the last batch rated, with the ids it remembers: held in memory, or
    /// read from the store (whose record is then current: an account the log after a
    /// checkpoint changed is held).
    pub fn account_with_ids(
        &self,
        id: &str,
    ) -> Result<Option<(rating::Account, rating::recent::Recent)>, EngineError> {
        if let Some((account, recent)) =
            (self.state.index_of(id)).and_then(|i| self.state.by_index(i))
        {
            return Ok(Some((account.clone(), recent.clone())));
        }
        Ok(self.store.account_records(&[id])?.pop().flatten())
    }

    /// An account as of the last batch rated ([`Engine::account_with_ids`]).
    pub fn account(&self, id: &str) -> Result<Option<rating::Account>, EngineError> {
        Ok(self.account_with_ids(id)?.map(|(account, _)| account))
    }

    /// Every session open, as of the last batch rated.
    pub fn open_sessions(&self) -> Result<Vec<rating::session::Session>, EngineError> {
        let mut open: Vec<_> = (self.state.accounts().flat_map(|a| &a.sessions))
            .cloned()
            .collect();
        let held = |id: &str| self.state.index_of(id).is_some();
        open.extend(self.store.sessions_not_of(held)?);
        Ok(open)
    }
}

/// Whether a decision accepts its input, so that its time moves the partition's clock: neither
/// a refusal nor a repeat does.
fn moves_clock(decision: &Decision) -> bool {
    !matches!(decision.outcome, Outcome::Rejected(_) | Outcome::Duplicate)
}

/// Each partition's next sequence number and event time, as stored.
fn load_parts(store: &Store, partitions: u32, global: Timestamp) -> Result<Vec<Part>, EngineError> {
    let mut parts = Vec::with_capacity(partitions as usize);
    for p in 0..partitions {
        let seq = store.meta_u64(&crate::keys::sequence(p))?.unwrap_or(0);
        let watermark = match store.meta_u64(&crate::keys::partition_watermark(p))? {
            Some(w) => Timestamp(w as i64),
            // One partition's watermark was the store's before partitions had their own.
            None if partitions == 1 => global,
            None => Timestamp(0),
        };
        parts.push(Part { seq, watermark });
    }
    Ok(parts)
}

/// Loads a catalog recorded in the store by its tag.
pub fn recorded_catalog(store: &Store, tag: u64) -> Result<Catalog, EngineError> {
    let bytes = store
        .meta_bytes(&crate::keys::catalog(tag))?
        .ok_or_else(|| EngineError::MissingCatalog(tag_hex(tag)))?;
    Ok(Catalog::from_bytes(
        &format!("catalog {}", tag_hex(tag)),
        &bytes,
    )?)
}

/// The catalogs a log was decided with, each read from the store once, for the passes over the
/// log (replay, re-projection).
#[derive(Default)]
pub struct Catalogs(std::collections::HashMap<u64, Catalog>);

impl Catalogs {
    pub fn get(&mut self, store: &Store, tag: u64) -> Result<&Catalog, EngineError> {
        Ok(match self.0.entry(tag) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(recorded_catalog(store, tag)?),
        })
    }
}

/// What a new catalog changes in the meaning of what the store holds: its balances' currency
/// and decimals, the time zone its periods and months were counted in, and the unit or services
/// of a package whose buckets accounts hold. Each is named; none may change silently.
fn changed_meaning(old: &Catalog, new: &Catalog) -> Vec<String> {
    let mut changes = Vec::new();
    if old.currency != new.currency {
        changes.push(format!("currency {} → {}", old.currency, new.currency));
    }
    if old.decimals != new.decimals {
        changes.push(format!("decimals {} → {}", old.decimals, new.decimals));
    }
    if old.tz != new.tz {
        changes.push(format!("time zone {} → {}", old.tz.name(), new.tz.name()));
    }
    for (a, b) in old.packages.iter().zip(&new.packages) {
        if a.unit != b.unit || a.services != b.services {
            changes.push(format!(
                "package {}: {:?} of services {:#b} → {:?} of services {:#b}",
                a.id, a.unit, a.services, b.unit, b.services
            ));
        }
    }
    changes
}

/// A catalog may replace another only if every plan, option and package keeps its position, and
/// if it changes no meaning of what the store holds ([`changed_meaning`]) unless the operator
/// migrates on purpose (`migrate`): then the changes are returned, to be logged.
fn compatible(old: &Catalog, new: &Catalog, migrate: bool) -> Result<Vec<String>, EngineError> {
    positions_kept(old, new)?;
    let changes = changed_meaning(old, new);
    if !changes.is_empty() && !migrate {
        return Err(EngineError::CatalogMeaning(format!(
            "{new} changes what the stored balances and buckets mean: {}. Balances would be \
             re-read in the new terms without a conversion; if that is intended, run once with \
             --migrate-catalog, which records the change in the log",
            changes.join("; ")
        )));
    }
    Ok(changes)
}

fn positions_kept(old: &Catalog, new: &Catalog) -> Result<(), EngineError> {
    let same =
        |a: &[String], b: &[String]| a.len() <= b.len() && a.iter().zip(b).all(|(x, y)| x == y);
    let ids = |v: &[rating::catalog::Offer]| v.iter().map(|o| o.id.clone()).collect::<Vec<_>>();
    let pk = |c: &Catalog| c.packages.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
    for (what, a, b) in [
        ("plans", ids(&old.plans), ids(&new.plans)),
        ("options", ids(&old.addons), ids(&new.addons)),
        ("packages", pk(old), pk(new)),
    ] {
        if !same(&a, &b) {
            return Err(EngineError::IncompatibleCatalog(format!(
                "{} changes the order of, or removes, {what} ({} before, {} now)",
                new,
                a.join(","),
                b.join(",")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_waits_for_its_interval_and_for_enough_entries_per_record() {
        const M: u64 = 1 << 20;
        // (tail, changed, every, due)
        let cases = [
            (M - 1, 10, M, false),           // the interval is not over
            (M, 4_000, M, true),             // few accounts: every interval
            (M, 600_000, M, false),          // many: a record for every other entry
            (4 * 600_000, 600_000, M, true), // four entries a record
            (3_999_999, 1_000_000, M, false),
            (4_000_000, 1_000_000, M, true),
            (4 * 2_000, 5_000, 2_000, true), // the longest tail, whatever changed
            (4 * 2_000 - 1, 5_000, 2_000, false),
            (10, MAX_CHANGED, M, true), // the most changed accounts
            (1, 1, 1, true),            // 1: every batch
            (1, 500, 1, true),
            (0, 0, 1, false), // nothing written since
        ];
        for (tail, changed, every, due) in cases {
            assert_eq!(
                checkpoint_due(tail, changed, every),
                due,
                "tail {tail}, changed {changed}, every {every}"
            );
        }
    }
}
