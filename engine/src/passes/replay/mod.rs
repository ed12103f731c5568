//! Replay: the log's inputs rated again from an empty state, with the catalog each entry was
//! decided with, every decision checked byte for byte, then the rebuilt state checked against
//! the stored one. Its memory is bounded by [`Limits`], not by the accounts: the accounts
//! rebuilt wait in a scratch store when they are not held ([`rebuilt`]).

use crate::entry::Entry;
use crate::pipeline::{Catalogs, EngineError};
use crate::store::{decode_decision_at, decode_input_at, Store, StoreError};
use rating::codec::encode_decision;
use rating::{apply, rate, Decision, Input, Outcome, State};

mod checks;
mod rebuilt;
mod report;

use checks::Checks;
use rebuilt::Rebuilt;
use report::MAX_REPORTED;
pub use report::{Mismatch, ReplayReport};

/// What a replay may hold in memory, and where it puts the rest.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The accounts held in memory, in megabytes of their footprints, as the engine's cache counts
    /// them (`--state-cache-mb`).
    pub cache_mb: u64,
    /// The folder of the scratch store (made in it and removed after): the system's temporary
    /// folder if `None`.
    pub scratch: Option<std::path::PathBuf>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            cache_mb: crate::pipeline::DEFAULT_CACHE_MB,
            scratch: None,
        }
    }
}

/// [`replay_within`] the default [`Limits`].
pub fn replay(store: &Store, progress: impl FnMut(u64)) -> Result<ReplayReport, EngineError> {
    replay_within(store, &Limits::default(), progress)
}

/// Replays the whole log, partition by partition, with the accounts rebuilt held within
/// `limits` ([`rebuilt`]).
pub fn replay_within(
    store: &Store,
    limits: &Limits,
    mut progress: impl FnMut(u64),
) -> Result<ReplayReport, EngineError> {
    let mut r = ReplayReport::default();
    let n = store.partitions()?;
    let mut checks = Checks::new(store, n)?;
    let window = store.empty_state()?.window();
    let mut rebuilt = Rebuilt::new(window, limits.cache_mb, limits.scratch.as_deref())?;
    // Reading the log and decoding its inputs need nothing of the state: a thread of its own
    // does them, a chunk ahead of rating.
    std::thread::scope(|scope| {
        let (to_rater, chunks) = std::sync::mpsc::sync_channel::<Result<Chunk, StoreError>>(2);
        std::thread::Builder::new()
            .name("ratel-replay-read".into())
            .spawn_scoped(scope, move || read_log(store, to_rater))
            .map_err(|e| StoreError::Io(format!("starting the log's reader: {e}")))?;
        // Returning drops `chunks`: a reader still sending stops.
        rate_again(
            store,
            chunks,
            &mut rebuilt,
            (&mut r, &mut checks),
            &mut progress,
        )
    })?;
    checks.finish((store, &rebuilt), &mut r)?;
    progress(r.decisions);
    if !r.mismatches.is_empty() {
        // The stored state follows the recorded decisions, which differ from the replayed
        // ones: what that makes of the accounts is shown as the stored state reads.
        rebuilt.finish()?;
        stored_differences(store, (&rebuilt, n), &mut r)?;
    }
    r.accounts = rebuilt.accounts();
    r.held_at_most = rebuilt.held_at_most;
    r.read_back = rebuilt.read_back;
    Ok(r)
}

/// The rebuilt state against the stored one, read as every reader reads it (records, then the
/// log's tail). Replay needs it only when a decision differed: otherwise the tail's recorded
/// decisions are the replayed ones, and [`Checks`] compared the records where they stand.
fn stored_differences(
    store: &Store,
    (rebuilt, partitions): (&Rebuilt, u32),
    report: &mut ReplayReport,
) -> Result<(), EngineError> {
    let mut stored = 0usize;
    for a in store.accounts() {
        // A tail that does not apply is a difference, not a failure of the replay.
        let a = match a {
            Ok(a) => a,
            Err(StoreError::Corrupt(e)) => {
                report.state_differences.push(format!(
                    "the stored state does not follow from the log: {e}"
                ));
                break;
            }
            Err(e) => return Err(e.into()),
        };
        stored += 1;
        let partition = crate::partition::of_bytes(a.id.as_bytes(), partitions);
        if rebuilt.account(partition, &a.id)?.as_ref() != Some(&a)
            && report.state_differences.len() < MAX_REPORTED
        {
            report.state_differences.push(a.id.to_string());
        }
    }
    if stored != rebuilt.accounts() {
        report.state_differences.push(format!(
            "{} accounts stored, {} rebuilt",
            stored,
            rebuilt.accounts()
        ));
    }
    Ok(())
}

/// Log entries read and decoded ahead of rating, at most [`CHUNK`] at a time, with the bytes
/// of their decisions side by side in one buffer: the reading thread allocates nothing an
/// entry for the rating thread to free.
#[derive(Default)]
struct Chunk {
    reads: Vec<Read>,
    decisions: Vec<u8>,
}
const CHUNK: usize = 4_096;

/// A log entry as replay needs it, at its place in the log.
struct Read {
    partition: u32,
    seq: u64,
    kind: Kind,
}

impl Read {
    /// The input of a rated entry.
    fn input(&self) -> Option<&Input> {
        match &self.kind {
            Kind::Rated { input, .. } => Some(input),
            _ => None,
        }
    }
}

enum Kind {
    Catalog(u64),
    Dead,
    Rated {
        input: Input,
        /// Where its decision's bytes are in [`Chunk::decisions`].
        decision: std::ops::Range<usize>,
    },
}

/// Sends the whole log, in order and in chunks, until the end, an error, or a receiver gone.
fn read_log(store: &Store, out: std::sync::mpsc::SyncSender<Result<Chunk, StoreError>>) {
    let mut chunk = Chunk::default();
    let mut failed = None;
    let mut gone = false;
    let scanned = store.scan_log(|partition, seq, bytes| {
        let read = (|| -> Result<Read, StoreError> {
            let corrupt = |e| StoreError::Corrupt(format!("log {partition}/{seq}: {e}"));
            let kind = match Entry::rated_parts(bytes).map_err(corrupt)? {
                Some((_, input, decision)) => {
                    let at = chunk.decisions.len();
                    chunk.decisions.extend_from_slice(decision);
                    Kind::Rated {
                        input: decode_input_at(partition, seq, input)?,
                        decision: at..chunk.decisions.len(),
                    }
                }
                None => match Entry::decode(bytes).map_err(corrupt)? {
                    Entry::Catalog { tag, .. } => Kind::Catalog(tag),
                    Entry::Dead { .. } => Kind::Dead,
                    Entry::Rated { .. } => unreachable!("rated_parts reads every rated entry"),
                },
            };
            Ok(Read {
                partition,
                seq,
                kind,
            })
        })();
        match read {
            Ok(read) => chunk.reads.push(read),
            Err(e) => {
                failed = Some(e);
                return false;
            }
        }
        if chunk.reads.len() == CHUNK {
            let full = std::mem::replace(
                &mut chunk,
                Chunk {
                    reads: Vec::with_capacity(CHUNK),
                    decisions: Vec::with_capacity(CHUNK * 128),
                },
            );
            gone = out.send(Ok(full)).is_err();
            return !gone;
        }
        true
    });
    if gone {
        return;
    }
    if let Some(e) = failed.or(scanned.err()) {
        let _ = out.send(Err(e));
        return;
    }
    if !chunk.reads.is_empty() {
        let _ = out.send(Ok(chunk));
    }
}

/// Rates every decision of the log again, as [`read_log`] hands it over, into `rebuilt`.
fn rate_again(
    store: &Store,
    chunks: std::sync::mpsc::Receiver<Result<Chunk, StoreError>>,
    rebuilt: &mut Rebuilt,
    (replayed, checks): (&mut ReplayReport, &mut Checks),
    progress: &mut impl FnMut(u64),
) -> Result<(), EngineError> {
    let mut rerating = Rerating {
        store,
        catalogs: Catalogs::default(),
        in_force: None,
        buf: Vec::new(),
    };
    for chunk in chunks {
        let chunk = chunk?;
        // The chunk's entries of one partition at a time: their accounts brought in first.
        let mut from = 0;
        while let Some(first) = chunk.reads.get(from) {
            let part = first.partition;
            let run = chunk.reads[from..].partition_point(|r| r.partition == part);
            checks.reach((part, first.seq), (store, rebuilt), replayed)?;
            if rebuilt.partition() != Some(part) {
                rebuilt.enter(part)?;
            }
            let inputs = chunk.reads[from..from + run].iter().filter_map(Read::input);
            rebuilt.hold_for(inputs)?;
            let entries = from..from + run;
            replay_run(
                &chunk,
                entries,
                rebuilt,
                (&mut rerating, checks),
                replayed,
                progress,
            )?;
            rebuilt.evict()?;
            from += run;
        }
    }
    Ok(())
}

/// Replays the entries `entries` of `chunk`, all of one partition, whose accounts `rebuilt`
/// holds.
fn replay_run(
    chunk: &Chunk,
    entries: std::ops::Range<usize>,
    rebuilt: &mut Rebuilt,
    (rerating, checks): (&mut Rerating, &mut Checks),
    replayed: &mut ReplayReport,
    progress: &mut impl FnMut(u64),
) -> Result<(), EngineError> {
    let rated = |k: usize| chunk.reads.get(k).and_then(Read::input);
    let mut ahead = rating::prefetch::Ahead::default();
    for j in entries {
        let read = &chunk.reads[j];
        ahead.before(&rebuilt.state, j, rated);
        replayed.entries += 1;
        let (partition, seq) = (read.partition, read.seq);
        checks.reach((partition, seq), (rerating.store, rebuilt), replayed)?;
        let (input, decision) = match &read.kind {
            Kind::Catalog(tag) => {
                rerating.catalogs.get(rerating.store, *tag)?;
                rerating.in_force = Some(*tag);
                continue;
            }
            Kind::Dead => {
                replayed.dead += 1;
                continue;
            }
            Kind::Rated { input, decision } => (input, &chunk.decisions[decision.clone()]),
        };
        replayed.decisions += 1;
        if replayed.decisions.is_multiple_of(65_536) {
            progress(replayed.decisions);
        }
        let report = replayed.mismatches.len() < MAX_REPORTED;
        let (again, mismatch) =
            rerating.rate(&rebuilt.state, input, decision, (partition, seq), report)?;
        replayed.mismatches.extend(mismatch);
        if matches!(again.outcome, Outcome::Opened { .. }) {
            checks.opened(partition, seq);
        }
        apply(&mut rebuilt.state, &again)?;
    }
    Ok(())
}

/// Rating the log's inputs again, each with the catalog its decision names.
struct Rerating<'a> {
    store: &'a Store,
    catalogs: Catalogs,
    /// The catalog of the partition's latest catalog entry: the one its decisions name until
    /// the next.
    in_force: Option<u64>,
    buf: Vec<u8>,
}

impl Rerating<'_> {
    /// An input rated again, and how it differs from the logged decision (when `report`). A
    /// decision is rated again with the catalog in force and compared as bytes; the recorded
    /// decision is decoded only when the bytes differ (its tag is among them, so equal bytes
    /// name the same catalog), or when it has an older layout.
    fn rate(
        &mut self,
        state: &State,
        input: &Input,
        decision: &[u8],
        (partition, seq): (u32, u64),
        report: bool,
    ) -> Result<(Decision, Option<Mismatch>), EngineError> {
        let current = decision.first() == Some(&rating::codec::VERSION);
        if let (Some(tag), true) = (self.in_force, current) {
            let again = rate(state, self.catalogs.get(self.store, tag)?, input);
            self.buf.clear();
            encode_decision(&again, &mut self.buf);
            if self.buf == decision {
                return Ok((again, None));
            }
        }
        let recorded = decode_decision_at(partition, seq, decision)?;
        let cat = self.catalogs.get(self.store, recorded.catalog)?;
        let again = rate(state, cat, input);
        self.buf.clear();
        encode_decision(&again, &mut self.buf);
        // A decision of an older layout is compared in today's: what it says, read the
        // documented way, re-encoded (docs/events.md, "Evolving the format").
        let same = if current {
            self.buf == decision
        } else {
            let mut now = Vec::new();
            encode_decision(&recorded, &mut now);
            self.buf == now
        };
        let mismatch = (!same && report).then(|| Mismatch {
            partition,
            seq,
            event: recorded.event.to_string(),
            recorded: format!("{recorded:?}"),
            replayed: format!("{again:?}"),
        });
        Ok((again, mismatch))
    }
}
