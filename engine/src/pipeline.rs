//! The pipeline: lines from a source are decoded, rated, applied and appended to the log, a batch
//! at a time; each batch is one synced WriteBatch with the source position it reached, so that a
//! restart resumes exactly after the last commit.

use crate::record::Entry;
use crate::source::{Line, Source};
use crate::store::{Commit, Counters, Store, StoreError};
use compact_str::CompactString;
use rating::codec::{encode_decision, encode_input, parse_json};
use rating::event::Tick;
use rating::{apply, rate, Catalog, Decision, Input, Outcome, State, Timestamp};
use rustc_hash::FxHashSet;
use std::path::Path;

/// Limits of a batch: the most lines rated and committed together.
pub const DEFAULT_BATCH: usize = 16_384;
pub const MAX_BATCH: usize = 1 << 20;

/// Event times outside this window are dead-lettered: a clock that is decades off is an error
/// upstream, not usage (2000-01-01 .. 2100-01-01).
pub const EARLIEST: Timestamp = Timestamp(946_684_800);
pub const LATEST: Timestamp = Timestamp(4_102_444_800);

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
    #[error("the new catalog {0}: the state refers to plans, options and packages by position, so a new catalog must keep the old ones in place and only add after them")]
    IncompatibleCatalog(String),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub batch: usize,
    /// Sync the WAL at every commit (production). Off only for experiments.
    pub sync: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            batch: DEFAULT_BATCH,
            sync: true,
        }
    }
}

pub struct Engine {
    pub store: Store,
    pub cat: Catalog,
    pub state: State,
    cfg: Config,
    partition: u32,
    seq: u64,
    watermark: Timestamp,
    pub counters: Counters,
    buf: Vec<u8>,
    dbuf: Vec<u8>,
    ebuf: Vec<u8>,
    updates: projections::Updates,
}

fn tag_hex(tag: u64) -> String {
    format!("{tag:016x}")
}

impl Engine {
    /// Opens the store at `dir` and makes `catalog` (read from `catalog_bytes`) the one in force,
    /// recording it in the log if it differs from the last one.
    pub fn open(
        dir: &Path,
        cat: Catalog,
        catalog_bytes: &[u8],
        cfg: Config,
    ) -> Result<Engine, EngineError> {
        let store = Store::open(dir)?;
        let state = store.load_state()?;
        let partition = 0;
        let seq = store.meta_u64(&format!("seq/{partition}"))?.unwrap_or(0);
        let watermark = Timestamp(store.meta_u64("watermark")?.unwrap_or(0) as i64);
        let counters = store.counters()?;
        let cfg = Config {
            batch: cfg.batch.clamp(1, MAX_BATCH),
            ..cfg
        };
        let mut e = Engine {
            store,
            cat,
            state,
            cfg,
            partition,
            seq,
            watermark,
            counters,
            buf: Vec::new(),
            dbuf: Vec::new(),
            ebuf: Vec::new(),
            updates: projections::Updates::default(),
        };
        let current = e.store.meta_u64("catalog")?;
        if let Some(old) = current.filter(|&t| t != e.cat.tag()) {
            compatible(&recorded_catalog(&e.store, old)?, &e.cat)?;
        }
        if current != Some(e.cat.tag()) {
            let mut c = Commit::default();
            let entry = Entry::Catalog {
                tag: e.cat.tag(),
                fingerprint: e.cat.fingerprint,
                effective: e.watermark,
                label: format!("{} {}", e.cat.id, e.cat.version),
            };
            e.store
                .put_entry(&mut c, e.partition, e.seq, &entry, None, &mut e.ebuf);
            e.seq += 1;
            e.store.put_meta(
                &mut c,
                &format!("catalog/{}", tag_hex(e.cat.tag())),
                catalog_bytes,
            );
            e.store
                .put_meta(&mut c, "catalog", &e.cat.tag().to_le_bytes());
            e.store.put_meta(
                &mut c,
                &format!("seq/{}", e.partition),
                &e.seq.to_le_bytes(),
            );
            e.store.commit(c, true)?;
            tracing::info!(catalog = %e.cat, "catalog recorded in the log");
        }
        Ok(e)
    }

    /// Position the source must resume from.
    pub fn position(&self) -> Result<u64, EngineError> {
        Ok(self
            .store
            .meta_u64(&format!("pos/{}", self.partition))?
            .unwrap_or(0))
    }

    /// Rates a file of JSON lines from where the last commit ended to its end.
    pub fn run_file(&mut self, path: &std::path::Path) -> Result<(), EngineError> {
        let mut src = crate::source::FileSource::open(path.to_path_buf(), self.position()?)?;
        self.run(&mut src, |_, _| {})
    }

    /// Rates everything the source yields, committing batch by batch. `on_batch` sees progress.
    pub fn run(
        &mut self,
        source: &mut dyn Source,
        mut on_batch: impl FnMut(&Engine, u64),
    ) -> Result<(), EngineError> {
        let mut lines = Vec::with_capacity(self.cfg.batch);
        loop {
            lines.clear();
            source.next_batch(self.cfg.batch, &mut lines)?;
            let Some(last) = lines.last() else { break };
            let end = last.position;
            self.process(&lines)?;
            on_batch(self, end);
        }
        Ok(())
    }

    /// Rates one batch of lines and commits it.
    pub fn process(&mut self, lines: &[Line]) -> Result<(), EngineError> {
        let mut c = Commit::default();
        let mut dirty: FxHashSet<CompactString> = FxHashSet::default();
        for line in lines {
            self.counters.read += 1;
            let input = if line.oversized {
                Err(format!(
                    "line longer than {} bytes",
                    crate::source::MAX_LINE_BYTES
                ))
            } else {
                parse_json(&line.bytes).map_err(|e| e.to_string())
            };
            let input = input.and_then(|i| {
                let t = i.time();
                if t < EARLIEST || t >= LATEST {
                    Err(format!("event time {t} is outside {EARLIEST} .. {LATEST}"))
                } else {
                    Ok(i)
                }
            });
            match input {
                Err(reason) => {
                    self.counters.dead += 1;
                    let entry = Entry::Dead {
                        position: line.at,
                        raw: line.bytes.clone(),
                        reason,
                    };
                    self.store.put_entry(
                        &mut c,
                        line.partition,
                        self.seq,
                        &entry,
                        None,
                        &mut self.ebuf,
                    );
                    self.seq += 1;
                }
                Ok(input) => {
                    self.ticks_before(input.time(), line.at, &mut c, &mut dirty)?;
                    let d = rate(&self.state, &self.cat, &input);
                    match d.outcome {
                        Outcome::Rejected(_) => self.counters.rejected += 1,
                        Outcome::Duplicate => self.counters.duplicates += 1,
                        _ => self.counters.rated += 1,
                    }
                    self.record(&input, &d, line.position, &mut c, &mut dirty)?;
                }
            }
        }
        for a in &dirty {
            let acct = self.state.account(a).expect("a dirty account exists");
            self.store.put_account(&mut c, acct, &mut self.buf);
        }
        let p = self.partition;
        if let Some(last) = lines.last() {
            self.store
                .put_meta(&mut c, &format!("pos/{p}"), &last.position.to_le_bytes());
        }
        self.store
            .put_meta(&mut c, &format!("seq/{p}"), &self.seq.to_le_bytes());
        self.store.put_meta(
            &mut c,
            "watermark",
            &(self.watermark.0 as u64).to_le_bytes(),
        );
        self.store.put_counters(&mut c, &self.counters);
        self.store.commit(c, self.cfg.sync)?;
        Ok(())
    }

    fn record(
        &mut self,
        input: &Input,
        d: &Decision,
        position: u64,
        c: &mut Commit,
        dirty: &mut FxHashSet<CompactString>,
    ) -> Result<(), EngineError> {
        apply(&mut self.state, d)?;
        self.buf.clear();
        encode_input(input, &mut self.buf);
        self.dbuf.clear();
        encode_decision(d, &mut self.dbuf);
        let account = match &d.outcome {
            Outcome::Opened { account, .. } => Some(account.id.clone()),
            _ => d.account.clone(),
        };
        let entry = Entry::Rated {
            position,
            input: std::mem::take(&mut self.buf),
            decision: std::mem::take(&mut self.dbuf),
        };
        self.store.put_entry(
            c,
            self.partition,
            self.seq,
            &entry,
            account.as_deref(),
            &mut self.ebuf,
        );
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
        } = &d.outcome
        {
            self.store.put_free_report(c, *msisdn, *month);
        }
        self.updates.clear();
        let at = projections::project::LogPos {
            partition: self.partition,
            seq: self.seq,
        };
        projections::project(&self.cat, &self.state, d, at, &mut self.updates);
        projections::models::stage(self.store.db(), &mut c.batch, &self.updates);
        if d.outcome != Outcome::Duplicate {
            self.store.put_seen(c, &d.event, self.partition, self.seq);
            if let Some(a) = account {
                dirty.insert(a);
            }
        }
        self.seq += 1;
        Ok(())
    }

    /// When event time enters a new local day, accounts with periodic work due get a tick, so
    /// that idle accounts pay their fees and renew their packages too. Ticks are inputs like any
    /// other: logged, and with ids derived from the account and day, so a repeat is a duplicate.
    fn ticks_before(
        &mut self,
        t: Timestamp,
        at: u64,
        c: &mut Commit,
        dirty: &mut FxHashSet<CompactString>,
    ) -> Result<(), EngineError> {
        if t <= self.watermark {
            return Ok(());
        }
        let old_day = self.cat.calendar.local(self.watermark).date;
        self.watermark = t;
        let day = self.cat.calendar.local(t).date;
        if day <= old_day || self.state.is_empty() {
            return Ok(());
        }
        let boundary = rating::time::start_of_day(&self.cat.tz, day);
        let mut due: Vec<CompactString> = self
            .state
            .accounts()
            .filter(|a| a.next_due() <= boundary)
            .map(|a| a.id.clone())
            .collect();
        due.sort_unstable();
        let stamp = day.format("%Y%m%d").to_string();
        for account in due {
            let input = Input::Tick(Tick {
                id: format!("tick:{account}:{stamp}").into(),
                account,
                time: boundary,
            });
            let d = rate(&self.state, &self.cat, &input);
            self.counters.ticks += 1;
            self.record(&input, &d, at, c, dirty)?;
        }
        Ok(())
    }
}

/// Loads a catalog recorded in the store by its tag.
pub fn recorded_catalog(store: &Store, tag: u64) -> Result<Catalog, EngineError> {
    let bytes = store
        .meta_bytes(&format!("catalog/{}", tag_hex(tag)))?
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

/// A catalog may replace another only if every plan, option and package keeps its position.
fn compatible(old: &Catalog, new: &Catalog) -> Result<(), EngineError> {
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
