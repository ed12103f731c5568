//! Replay: the log's inputs rated again from an empty state, with the catalog each entry was
//! decided with, every decision checked byte for byte, then the rebuilt state checked against
//! the stored one.

use crate::entry::Entry;
use crate::pipeline::{Catalogs, EngineError};
use crate::store::{decode_decision_at, decode_input_at, Store, StoreError};
use rating::codec::encode_decision;
use rating::{apply, rate, Decision, Input, Outcome, State};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Mismatch {
    pub partition: u32,
    pub seq: u64,
    pub event: String,
    pub recorded: String,
    pub replayed: String,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct ReplayReport {
    pub entries: u64,
    pub decisions: u64,
    pub dead: u64,
    pub mismatches: Vec<Mismatch>,
    /// Accounts whose rebuilt state differs from the stored state.
    pub state_differences: Vec<String>,
    pub accounts: usize,
}

impl ReplayReport {
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty() && self.state_differences.is_empty()
    }
}

/// Keeps at most this many mismatches in a report (the count goes on).
const MAX_REPORTED: usize = 100;

pub fn replay(
    store: &Store,
    mut progress: impl FnMut(u64),
) -> Result<(ReplayReport, State), EngineError> {
    let mut state = store.empty_state()?;
    let mut r = ReplayReport::default();
    let n = store.partitions()?;
    let records = match store.records() {
        Ok(records) => Some(records),
        Err(StoreError::Corrupt(e)) => {
            r.state_differences
                .push(format!("the stored records do not read: {e}"));
            None
        }
        Err(e) => return Err(e.into()),
    };
    let mut checks = Checks::new(n, store.checkpoints(n)?, records.as_ref());
    // Each partition is replayed with its own accounts only, as live rating decided it: an
    // input keyed by a number no account held then went to the number's partition, where the
    // account that took the number later, in another partition, must not be seen. The
    // partitions done are gathered here.
    let mut done = store.empty_state()?;
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
            (&mut state, &mut done),
            &mut r,
            &mut checks,
            &mut progress,
        )
    })?;
    checks.finish(&state, &mut r);
    absorb(&mut done, state);
    let state = done;
    progress(r.decisions);
    if !r.mismatches.is_empty() {
        // The stored state follows the recorded decisions, which differ from the replayed
        // ones: what that makes of the accounts is shown as the stored state reads.
        stored_differences(store, &state, &mut r)?;
    }
    r.accounts = state.len();
    Ok((r, state))
}

/// The rebuilt state against the stored one, read as every reader reads it (records, then the
/// log's tail). Replay needs it only when a decision differed: otherwise the tail's recorded
/// decisions are the replayed ones, and [`Checks`] compared the records where they stand.
fn stored_differences(
    store: &Store,
    state: &State,
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
        if state.account(&a.id) != Some(&a) && report.state_differences.len() < MAX_REPORTED {
            report.state_differences.push(a.id.to_string());
        }
    }
    if stored != state.len() {
        report.state_differences.push(format!(
            "{} accounts stored, {} rebuilt",
            stored,
            state.len()
        ));
    }
    Ok(())
}

/// The stored account records against the replayed state, each partition's at the point of
/// its log where they were written (its checkpoint): an account lives in one partition and only
/// that partition's entries change it, so once replay has applied the entries before a
/// partition's checkpoint, that partition's accounts must equal their records. After the
/// checkpoint the stored state is the records with the tail's recorded decisions applied, and
/// replay compares each of those decisions byte for byte. One pass over the log checks both.
struct Checks<'a> {
    checkpoints: Vec<u64>,
    /// Each partition's records.
    records: Vec<Vec<&'a rating::Account>>,
    /// Accounts each partition's log opened before its checkpoint: as many as it has records.
    opened: Vec<usize>,
    /// The partitions before this one have been checked.
    next: u32,
    /// No records could be read: nothing to compare them with.
    skip: bool,
}

impl<'a> Checks<'a> {
    fn new(partitions: u32, checkpoints: Vec<u64>, records: Option<&'a State>) -> Checks<'a> {
        let mut by_partition = vec![Vec::new(); partitions as usize];
        for a in records.into_iter().flat_map(rating::State::accounts) {
            let p = crate::partition::of_bytes(a.id.as_bytes(), partitions);
            by_partition[p as usize].push(a);
        }
        Checks {
            checkpoints,
            records: by_partition,
            opened: vec![0; partitions as usize],
            next: 0,
            skip: records.is_none(),
        }
    }

    /// Replay is about to apply entry `seq` of `partition`: every partition whose
    /// checkpoint that passes is compared.
    fn reach(
        &mut self,
        partition: u32,
        seq: u64,
        state: &State,
        report: &mut ReplayReport,
    ) -> Result<(), StoreError> {
        let Some(&at) = self.checkpoints.get(partition as usize) else {
            return Err(StoreError::Corrupt(format!(
                "log entry {partition}/{seq} in a store of {} partitions",
                self.checkpoints.len()
            )));
        };
        while self.next < partition || (self.next == partition && seq >= at) {
            self.check(self.next, state, report);
        }
        Ok(())
    }

    /// A replayed decision of `partition` (one [`Checks::reach`] accepted) at `seq` opened an
    /// account.
    fn opened(&mut self, partition: u32, seq: u64) {
        if seq < self.checkpoints[partition as usize] {
            self.opened[partition as usize] += 1;
        }
    }

    fn finish(&mut self, state: &State, report: &mut ReplayReport) {
        while (self.next as usize) < self.checkpoints.len() {
            self.check(self.next, state, report);
        }
    }

    fn check(&mut self, part: u32, state: &State, report: &mut ReplayReport) {
        assert_eq!(self.next, part, "partitions are checked in order");
        self.next += 1;
        if self.skip {
            return;
        }
        let records = &self.records[part as usize];
        for a in records {
            if state.account(&a.id) != Some(*a) && report.state_differences.len() < MAX_REPORTED {
                report.state_differences.push(a.id.to_string());
            }
        }
        if records.len() != self.opened[part as usize] {
            report.state_differences.push(format!(
                "partition {part}: {} accounts stored, {} opened before its checkpoint",
                records.len(),
                self.opened[part as usize]
            ));
        }
    }
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

/// Rates every decision of the log again, as [`read_log`] hands it over, into `state`.
fn rate_again(
    store: &Store,
    chunks: std::sync::mpsc::Receiver<Result<Chunk, StoreError>>,
    (state, done): (&mut State, &mut State),
    replayed: &mut ReplayReport,
    checks: &mut Checks,
    progress: &mut impl FnMut(u64),
) -> Result<(), EngineError> {
    let mut rerating = Rerating {
        store,
        catalogs: Catalogs::default(),
        in_force: None,
        buf: Vec::new(),
    };
    let mut current = None;
    for chunk in chunks {
        let chunk = chunk?;
        let rated = |k: usize| match &chunk.reads.get(k)?.kind {
            Kind::Rated { input, .. } => Some(input),
            _ => None,
        };
        let mut ahead = rating::prefetch::Ahead::default();
        for (j, read) in chunk.reads.iter().enumerate() {
            ahead.before(state, j, rated);
            replayed.entries += 1;
            let (partition, seq) = (read.partition, read.seq);
            checks.reach(partition, seq, state, replayed)?;
            if current != Some(partition) {
                absorb(done, std::mem::replace(state, store.empty_state()?));
                current = Some(partition);
            }
            let (input, decision) = match &read.kind {
                Kind::Catalog(tag) => {
                    rerating.catalogs.get(store, *tag)?;
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
                rerating.rate(state, input, decision, (partition, seq), report)?;
            replayed.mismatches.extend(mismatch);
            apply_replayed(state, checks, partition, seq, &again)?;
        }
    }
    Ok(())
}

/// Moves a replayed partition's accounts, with their ids and free reports, into `done`.
fn absorb(done: &mut State, partition: State) {
    for (msisdn, month) in partition.free_reports() {
        done.restore_free_report(msisdn, month);
    }
    for account in partition.accounts() {
        let recent = partition.recent(&account.id).cloned().unwrap_or_default();
        done.restore(account.clone());
        done.restore_recent(&account.id, recent);
    }
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

/// Applies a replayed decision of `partition` at `seq`, counting the account it opens for
/// [`Checks`].
fn apply_replayed(
    state: &mut State,
    checks: &mut Checks,
    partition: u32,
    seq: u64,
    decision: &Decision,
) -> Result<(), EngineError> {
    if matches!(decision.outcome, Outcome::Opened { .. }) {
        checks.opened(partition, seq);
    }
    apply(state, decision)?;
    Ok(())
}
