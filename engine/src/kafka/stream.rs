//! `ratel run --source kafka:…`: the engine on the input topics. A batch's life is spread over
//! five threads, each busy with a different batch: the decoding thread decodes batch N+3 while
//! the engine's thread (which also reads the topics) rates batch N+2, the changelog thread
//! publishes batch N+1's changelog pieces and waits for the broker, the commit thread writes
//! batch N to RocksDB, and the outbox's thread publishes what batch N-1 decided
//! (crate::outbox). At most [`IN_FLIGHT`] batches are rated and not yet durable, and one waits
//! for the outbox, so the output topics lag the log by at most three batches, and a crash
//! repeats at most those batches' messages (the outbox's pointer moves only after the broker
//! acknowledged them). A rebalance waits until the batches in flight are durable before it
//! gives up or restores a partition, starts each partition after the lines already sent to be
//! written, and makes the batch being decoded stale (it is read again).

use crate::changelog::{Changelog, ChangelogError, Restored};
use crate::kafka::{Group, KafkaSource, KafkaSourceError, Topics};
use crate::outbox::{Outbox, OutboxError};
use crate::pipeline::{spawn_decoder, Appended, Config, Engine, EngineError};
use crate::source::Source;
use crate::store::{Commit, Counters, Store, StoreError};
use rating::Catalog;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Kafka(#[from] KafkaSourceError),
    #[error("publishing to the output topics: {0}")]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Changelog(#[from] ChangelogError),
}

/// How a run reads and writes Kafka.
#[derive(Debug, Clone)]
pub struct Options {
    pub group: Group,
    pub topics: Topics,
    /// Stop once every assigned partition has been at its end this long.
    pub exit_when_idle: Option<std::time::Duration>,
    /// Publish decisions, notifications and dead letters.
    pub publish: bool,
    pub idempotent: bool,
    /// The changelog topic each partition's writes go to before they are committed, and from
    /// which an instance that is given a partition restores it; `None`: no changelog (a
    /// partition moves by being rated again from its inputs).
    pub changelog: Option<String>,
    /// Ready (`/readyz`) once every owned partition is within this many messages of its end.
    pub ready_lag: u64,
}

/// Opens the store for the input topics (their partition count is the store's) and rates what
/// they carry until told to stop; `on_batch` sees the engine and the counters as of each
/// committed batch (the engine may have rated the next one already).
pub fn run(
    data: &Path,
    cat: Catalog,
    catalog_bytes: &[u8],
    brokers: &str,
    cfg: Config,
    options: &Options,
    mut on_batch: impl FnMut(&Engine, &Counters),
) -> Result<Engine, StreamError> {
    let partitions = crate::kafka::input_partitions(brokers, &options.topics)?;
    let mut engine = Engine::open(data, cat, catalog_bytes, Config { partitions, ..cfg })?;
    let busy = Arc::new(Busy::default());
    let mut src = open_source(brokers, options, &cfg, &engine, &busy)?;
    let changelog = match &options.changelog {
        Some(topic) => Some(open_changelog(
            brokers,
            topic,
            options,
            &mut engine,
            &mut src,
        )?),
        None => None,
    };
    // Room for a batch's appended decisions, given back by the outbox: as many as can be in
    // use at once (filled, queued, published) would wait here, and one more.
    let (give_back, spare) = sync_channel::<Vec<Appended>>(IN_FLIGHT + 2);
    let mut publisher = match options.publish {
        true => Some(start_publisher(brokers, options, &mut engine, give_back)?),
        false => None,
    };
    let store = engine.store.clone();
    std::thread::scope(|scope| -> Result<(), StreamError> {
        let (to_changelog, rated) = sync_channel::<Commit>(0);
        let (to_commit, published) = sync_channel::<Result<Commit, StreamError>>(0);
        // Never full: at most IN_FLIGHT results wait, so the commit thread never waits for the
        // engine (which may be waiting, in a rebalance, for the commit thread to be done).
        let (written, results) = sync_channel::<Result<(), StreamError>>(IN_FLIGHT);
        spawn_changelog_thread(scope, rated, to_commit, changelog, store, busy.clone())?;
        let commit_store = engine.store.clone();
        let writer = spawn_commit_thread(scope, published, written, commit_store, cfg.sync, &busy)?;
        // Decoding a line needs only its bytes (as in `Engine::run`): a thread of its own
        // decodes the batch just read while this one rates the batch read before it.
        // Each batch is tagged with the rebalances seen when it was read.
        let (to_decoder, decoded) = spawn_decoder::<u64>(scope)?;
        let mut rating = Rating::new(
            &mut engine,
            &mut src,
            results,
            publisher.as_mut(),
            &mut on_batch,
        );
        let outcome = rating.rate(
            cfg.batch,
            &to_decoder,
            &decoded,
            &to_changelog,
            &busy,
            &spare,
        );
        // A run that ends early may leave a batch with the decoder: it stops at its next send.
        drop(to_decoder);
        drop(decoded);
        drop(to_changelog);
        // What is in flight lands (or fails) before the run returns, whatever ended it.
        let last = rating.land_all();
        writer.join().expect("the commit thread does not panic");
        // A thread that failed ends the loop with "ended"; landing says why.
        last.and(outcome)
    })?;
    if let Some(p) = publisher {
        p.finish()?;
    }
    Ok(engine)
}

/// The input topics as a source for an engine that writes each batch before it reads the next
/// (`ratel online`: a rebalance, which happens only while it polls, finds nothing in flight),
/// and the changelog its writes go to first and partitions it is given are restored from.
pub fn synchronous_source(
    brokers: &str,
    options: &Options,
    engine: &mut Engine,
) -> Result<(KafkaSource, Option<Changelog>), StreamError> {
    let cfg = engine.config().clone();
    let never_busy = Arc::new(Busy::default());
    let mut src = open_source(brokers, options, &cfg, engine, &never_busy)?;
    let changelog = match &options.changelog {
        Some(topic) => Some(open_changelog(brokers, topic, options, engine, &mut src)?),
        None => None,
    };
    Ok((src, changelog))
}

/// The input topics as a source, each partition started where the store is; a rebalance waits
/// until no batch is in flight.
fn open_source(
    brokers: &str,
    options: &Options,
    cfg: &Config,
    engine: &Engine,
    busy: &Arc<Busy>,
) -> Result<KafkaSource, StreamError> {
    let mut src = KafkaSource::open(brokers, &options.group, &options.topics, |t, p| {
        engine.offset(t, p).ok().flatten()
    })?;
    src.exit_when_idle = options.exit_when_idle;
    src.max_ahead = cfg.max_ahead;
    let quiet = busy.clone();
    src.quiesce_with(Box::new(move || quiet.wait()));
    let mut watch = crate::kafka::watch::Watch::new(engine.store.clone(), options.ready_lag);
    src.on_turn = Some(Box::new(move |source| watch.look(source)));
    Ok(src)
}

/// The changelog a run publishes each batch's writes to; and, for the source, how a partition
/// it is given is restored from it first.
fn open_changelog(
    brokers: &str,
    topic: &str,
    options: &Options,
    engine: &mut Engine,
    src: &mut KafkaSource,
) -> Result<Changelog, StreamError> {
    let partitions = engine.partitions();
    crate::changelog::ensure_topic(brokers, topic, partitions)?;
    let (brokers_owned, topic_owned) = (brokers.to_string(), topic.to_string());
    let (store, tag) = (engine.store.clone(), engine.cat.tag());
    let inputs: Vec<String> = (options.topics.inputs().iter())
        .map(std::string::ToString::to_string)
        .collect();
    src.restore_with(Box::new(move |partition| {
        restore_partition(
            &brokers_owned,
            &topic_owned,
            &store,
            tag,
            &inputs,
            partition,
        )
    }));
    engine.mark_partitions();
    Ok(Changelog::open(
        brokers,
        topic,
        &engine.store,
        engine.cat.tag(),
    )?)
}

/// Restores a partition from the changelog: the input offsets the store holds for it after,
/// or none when there was nothing to restore.
fn restore_partition(
    brokers: &str,
    topic: &str,
    store: &Store,
    tag: u64,
    inputs: &[String],
    partition: u32,
) -> Option<Vec<(String, i64)>> {
    let restored = crate::changelog::restore(brokers, topic, store, tag, partition);
    match &restored {
        Ok(r) if r.batches > 0 => tracing::info!(
            partition,
            batches = r.batches,
            from = r.from,
            to = r.to,
            "restored from the changelog"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(partition, error = %e, "restoring from the changelog"),
    }
    if let Ok(Restored {
        stopped: Some(why), ..
    }) = &restored
    {
        tracing::warn!(
            partition,
            why,
            "the changelog restore stopped early; the rest is rated from the inputs"
        );
    }
    if matches!(restored, Ok(Restored { batches: 0, .. })) {
        return None;
    }
    // What was applied is committed with its offsets, whatever stopped it.
    let mut positions = Vec::new();
    for input in inputs {
        let key = crate::keys::position(Some(input), partition);
        if let Ok(Some(offset)) = store.meta_u64(&key) {
            positions.push((input.clone(), offset as i64));
        }
    }
    Some(positions)
}

/// The outbox, on its thread, after publishing what a crash left unpublished.
fn start_publisher(
    brokers: &str,
    options: &Options,
    engine: &mut Engine,
    give_back: SyncSender<Vec<Appended>>,
) -> Result<Publisher, StreamError> {
    let partitions = engine.partitions();
    let mut out = Outbox::open(
        brokers,
        &options.topics,
        &engine.store,
        partitions,
        options.idempotent,
    )?;
    // What a crash left unpublished goes out before anything new is read.
    out.publish(&engine.store, |p| engine.seq(p), &[])?;
    engine.keep_appended();
    Ok(Publisher::start(out, engine.store.clone(), give_back))
}

fn thread_error(error: std::io::Error) -> StreamError {
    StreamError::Engine(EngineError::Source(error))
}

fn commit_thread_ended() -> StreamError {
    EngineError::Store(StoreError::Io("the commit thread ended".into())).into()
}

/// The changelog's thread: publishes each rated batch's pieces and waits for the broker, then
/// hands the batch to the commit thread. A batch goes through these two threads after it is
/// rated, each busy while the other does the same for the batch before or after it (see
/// IN_FLIGHT). The changelog of a batch is acknowledged before its commit begins: it is never
/// behind the store.
fn spawn_changelog_thread<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    rated: Receiver<Commit>,
    to_commit: SyncSender<Result<Commit, StreamError>>,
    mut changelog: Option<Changelog>,
    store: Arc<Store>,
    busy: Arc<Busy>,
) -> Result<(), StreamError> {
    std::thread::Builder::new()
        .name("ratel-changelog".into())
        .spawn_scoped(scope, move || {
            for mut c in rated {
                let r = match &mut changelog {
                    // Before the commit: a crash between the two leaves a batch a restore
                    // applies, never a gap in the history.
                    Some(log) => {
                        let started = std::time::Instant::now();
                        let published = log.publish(&store, &mut c);
                        metrics::histogram!(crate::operations::metrics::CHANGELOG_SECONDS)
                            .record(started.elapsed());
                        published.map(|()| c).map_err(Into::into)
                    }
                    None => Ok(c),
                };
                let failed = r.is_err();
                if to_commit.send(r).is_err() {
                    // The commit thread failed and ended: this batch will never be done,
                    // and a rebalance must not wait for it.
                    busy.done();
                    break;
                }
                if failed {
                    break;
                }
            }
        })
        .map_err(thread_error)?;
    Ok(())
}

/// The commit thread: writes each published batch to RocksDB and says how it went.
fn spawn_commit_thread<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    published: Receiver<Result<Commit, StreamError>>,
    written: SyncSender<Result<(), StreamError>>,
    store: Arc<Store>,
    sync: bool,
    busy: &Arc<Busy>,
) -> Result<std::thread::ScopedJoinHandle<'scope, ()>, StreamError> {
    let busy = busy.clone();
    std::thread::Builder::new()
        .name("ratel-commit".into())
        .spawn_scoped(scope, move || {
            for r in published {
                let r = r.and_then(|c| {
                    (store.commit_batch(c, sync)).map_err(|e| EngineError::from(e).into())
                });
                busy.done();
                let failed = r.is_err();
                if written.send(r).is_err() || failed {
                    break;
                }
            }
        })
        .map_err(thread_error)
}

/// The engine's thread in a Kafka run: reads, rates, and lands batches once durable.
struct Rating<'a, F: FnMut(&Engine, &Counters)> {
    engine: &'a mut Engine,
    src: &'a mut KafkaSource,
    /// Rated batches not yet durable, oldest first.
    in_flight: VecDeque<InFlight>,
    results: Receiver<Result<(), StreamError>>,
    publisher: Option<&'a mut Publisher>,
    on_batch: &'a mut F,
    partitions: u32,
    /// A restore found a partition ahead in the changelog: the next hand-over tells the outbox.
    restored: bool,
    /// A batch is with the decoder.
    ahead: bool,
}

impl<'a, F: FnMut(&Engine, &Counters)> Rating<'a, F> {
    fn new(
        engine: &'a mut Engine,
        src: &'a mut KafkaSource,
        results: Receiver<Result<(), StreamError>>,
        publisher: Option<&'a mut Publisher>,
        on_batch: &'a mut F,
    ) -> Self {
        let partitions = engine.partitions();
        Rating {
            engine,
            src,
            in_flight: VecDeque::with_capacity(IN_FLIGHT),
            results,
            publisher,
            on_batch,
            partitions,
            restored: false,
            ahead: false,
        }
    }

    /// Reads and rates batches until the source ends or something fails.
    fn rate(
        &mut self,
        batch: usize,
        to_decoder: &SyncSender<(u64, Vec<crate::source::Line>)>,
        decoded: &Receiver<(u64, crate::pipeline::Decoded)>,
        to_changelog: &SyncSender<Commit>,
        busy: &Busy,
        spare: &Receiver<Vec<Appended>>,
    ) -> Result<(), StreamError> {
        loop {
            let mut lines = Vec::with_capacity(batch);
            // With a batch to rate or in flight, an empty poll returns at once rather than
            // wait for input: the tail's decisions go out without waiting for more traffic.
            self.src.yield_when_idle = self.ahead || !self.in_flight.is_empty();
            self.src
                .next_batch(batch, &mut lines)
                .map_err(EngineError::Source)?;
            if self.src.take_restored() {
                // The restore waited for the batches in flight to be durable; the state is
                // read again from the store, which now holds them and what was restored.
                self.land_all()?;
                self.engine.reload()?;
                self.restored = true;
            }
            let rebalances = self.src.rebalances();
            // A batch read before a rebalance is dropped unrated: nothing of it was sent to
            // be written, so every partition it read is read again from where the store is
            // (or belongs to another instance now).
            let current = match std::mem::take(&mut self.ahead) {
                true => {
                    let (read_at, batch) = decoded.recv().expect("the decoder answers every batch");
                    (read_at == rebalances).then_some(batch)
                }
                false => None,
            };
            if !lines.is_empty() {
                to_decoder
                    .send((rebalances, lines))
                    .expect("the decoder outlives the loop");
                self.ahead = true;
            }
            match current {
                Some((lines, parsed)) => {
                    self.rate_batch(lines, parsed, to_changelog, busy, spare)?;
                }
                None if self.ahead => {}
                None if self.in_flight.is_empty() && self.src.ended() => return Ok(()),
                // A pause, not the end: a restore landed what was in flight while the source
                // yielded (it once ended the run here, silently, after a hand-over).
                None if self.in_flight.is_empty() => {}
                None => self.land()?,
            }
        }
    }

    /// Rates a decoded batch and sends it on to be published and written.
    fn rate_batch(
        &mut self,
        lines: Vec<crate::source::Line>,
        parsed: Vec<Result<rating::Input, String>>,
        to_changelog: &SyncSender<Commit>,
        busy: &Busy,
        spare: &Receiver<Vec<Appended>>,
    ) -> Result<(), StreamError> {
        // A transfer's credit for a partition another instance owns is not rated here.
        let owned: Vec<u32> = self.src.assigned().collect();
        self.engine.own(Some(&owned));
        // A refund finds the charge it names in the store: what is in flight lands first.
        if crate::pipeline::holds_reference(&parsed) {
            self.land_all()?;
        }
        let commit = self.engine.prepare_parsed(&lines, parsed)?;
        let next = InFlight {
            lines,
            seqs: (0..self.partitions).map(|p| self.engine.seq(p)).collect(),
            appended: (self.engine).take_appended(spare.try_recv().unwrap_or_default()),
            counters: self.engine.counters,
        };
        if self.in_flight.len() == IN_FLIGHT {
            self.land()?;
        }
        busy.add();
        self.src.advance(&next.lines);
        if to_changelog.send(commit).is_err() {
            busy.done();
            return Err(commit_thread_ended());
        }
        self.in_flight.push_back(next);
        Ok(())
    }

    /// The oldest batch in flight is durable: the source, the outbox and the caller hear of it.
    fn land(&mut self) -> Result<(), StreamError> {
        let landed = (self.in_flight.pop_front()).expect("a batch in flight to land");
        (self.results.recv()).unwrap_or_else(|_| Err(commit_thread_ended()))?;
        self.src.committed(&landed.lines);
        if let Some(publisher) = &mut self.publisher {
            // A restored partition's entries that its last owner published are not sent
            // again.
            let skip = match std::mem::take(&mut self.restored) {
                true => published_marks(self.engine, self.partitions)?,
                false => Vec::new(),
            };
            metrics::gauge!(crate::operations::metrics::OUTBOX_BACKLOG)
                .increment(landed.appended.len() as f64);
            publisher.hand_over(landed.seqs, skip, landed.appended)?;
        }
        (self.on_batch)(self.engine, &landed.counters);
        Ok(())
    }

    /// Lands every batch in flight, or stops at the first that failed.
    fn land_all(&mut self) -> Result<(), StreamError> {
        while !self.in_flight.is_empty() {
            self.land()?;
        }
        Ok(())
    }
}

/// How far each partition's log is published already.
fn published_marks(engine: &Engine, partitions: u32) -> Result<Vec<u64>, StreamError> {
    (0..partitions)
        .map(|p| {
            let published = engine.store.meta_u64(&crate::keys::published(p));
            Ok(published.map_err(EngineError::from)?.unwrap_or(0))
        })
        .collect()
}

/// Rated batches not yet durable: one publishing its changelog pieces, one being written to
/// RocksDB. The state in memory runs this many batches ahead of the store at most.
pub const IN_FLIGHT: usize = 2;
// The engine keeps in memory what the batches in flight read (`pipeline::MOST_IN_FLIGHT`).
const _: () = assert!(IN_FLIGHT as u64 <= crate::pipeline::MOST_IN_FLIGHT);

/// A batch being written: what the source, the outbox and the caller hear once it is durable.
struct InFlight {
    lines: Vec<crate::source::Line>,
    /// Each partition's log's end, and the counters, as of this batch.
    seqs: Vec<u64>,
    appended: Vec<Appended>,
    counters: Counters,
}

/// How many batches are being published or written; a restore waits until none is (it reads
/// the store's log end and must not apply, from the changelog, a batch the writer is about to
/// commit).
#[derive(Default)]
struct Busy {
    batches: Mutex<usize>,
    done: Condvar,
}

impl Busy {
    fn add(&self) {
        let mut n = self.batches.lock().expect("not poisoned");
        assert!(*n < IN_FLIGHT, "at most IN_FLIGHT batches are in flight");
        *n += 1;
        metrics::gauge!(crate::operations::metrics::IN_FLIGHT).set(*n as f64);
    }

    fn done(&self) {
        let mut n = self.batches.lock().expect("not poisoned");
        *n = n.checked_sub(1).expect("a batch done was in flight");
        metrics::gauge!(crate::operations::metrics::IN_FLIGHT).set(*n as f64);
        if *n == 0 {
            self.done.notify_all();
        }
    }

    fn wait(&self) {
        let mut n = self.batches.lock().expect("not poisoned");
        while *n > 0 {
            n = self.done.wait(n).expect("not poisoned");
        }
    }
}

/// A committed batch for the outbox: how far each partition's log reaches, and what the batch
/// appended (so that it is published from memory, not read back).
struct Batch {
    seqs: Vec<u64>,
    /// Each partition's log is published up to here already (after a restore), if not empty.
    skip: Vec<u64>,
    appended: Vec<Appended>,
}

/// The outbox on its own thread: serializing and flushing a batch's messages overlaps the
/// rating of the next one.
struct Publisher {
    tx: Option<SyncSender<Batch>>,
    thread: Option<JoinHandle<Result<(), OutboxError>>>,
}

impl Publisher {
    /// Publishes the batches handed over, in order, and gives each batch's appended decisions
    /// back, emptied, through `give_back` (the engine fills them again: their memory is
    /// already the process's, not fresh pages the kernel must zero).
    fn start(
        mut out: Outbox,
        store: Arc<Store>,
        give_back: SyncSender<Vec<Appended>>,
    ) -> Publisher {
        // One batch waits while one is published: enough to overlap, and a bound on memory.
        let (tx, rx) = sync_channel::<Batch>(1);
        let thread = std::thread::Builder::new()
            .name("ratel-outbox".into())
            .spawn(move || {
                for mut b in rx {
                    for (p, &to) in b.skip.iter().enumerate() {
                        out.skip_to(p as u32, to);
                    }
                    let started = std::time::Instant::now();
                    out.publish(&store, |p| b.seqs[p as usize], &b.appended)?;
                    metrics::histogram!(crate::operations::metrics::OUTBOX_SECONDS)
                        .record(started.elapsed());
                    metrics::gauge!(crate::operations::metrics::OUTBOX_BACKLOG)
                        .decrement(b.appended.len() as f64);
                    b.appended.clear();
                    // Full, or the engine gone: the room is freed instead.
                    let _ = give_back.try_send(b.appended);
                }
                Ok(())
            })
            .expect("a thread starts");
        Publisher {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    /// Queues a batch, waiting while the one before it is still queued.
    fn hand_over(
        &mut self,
        seqs: Vec<u64>,
        skip: Vec<u64>,
        appended: Vec<Appended>,
    ) -> Result<(), StreamError> {
        let tx = self
            .tx
            .as_ref()
            .expect("a running publisher has its sender");
        if tx
            .send(Batch {
                seqs,
                skip,
                appended,
            })
            .is_err()
        {
            // The thread ends while its sender lives only when it fails: say why.
            self.finish_mut()?;
            unreachable!("the outbox thread ended without an error");
        }
        Ok(())
    }

    /// Publishes what is queued and stops.
    fn finish(mut self) -> Result<(), StreamError> {
        self.finish_mut()
    }

    fn finish_mut(&mut self) -> Result<(), StreamError> {
        self.tx = None;
        match self.thread.take().expect("joined once").join() {
            Ok(r) => r.map_err(StreamError::Outbox),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for Publisher {
    /// On an error elsewhere the engine stops; what was handed over is still published (a
    /// restart would publish it anyway, from the log).
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
