//! `ratel run --source kafka:…`: the engine on the input topics. Three threads share a batch's
//! life: the engine's reads and rates batch N+1 while a commit thread publishes batch N's
//! changelog pieces and writes it to RocksDB, and the outbox's thread publishes what batch N-1
//! decided (crate::outbox). At most one batch is in flight to RocksDB and one waits for the
//! outbox, so the output topics lag the log by at most two batches, and a crash repeats at most
//! those batches' messages (the outbox's pointer moves only after the broker acknowledged them).
//! A rebalance waits until the batch in flight is durable before it gives up or restores a
//! partition, and starts each partition after the lines already sent to be written.

use crate::changelog::{Changelog, ChangelogError, Restored};
use crate::kafka::{Group, KafkaSource, KafkaSourceError, Topics};
use crate::outbox::{Outbox, OutboxError};
use crate::pipeline::{Appended, Config, Engine, EngineError};
use crate::source::Source;
use crate::store::{Commit, Counters, Store, StoreError};
use rating::Catalog;
use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender};
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
    o: &Options,
    mut on_batch: impl FnMut(&Engine, &Counters),
) -> Result<Engine, StreamError> {
    let partitions = crate::kafka::input_partitions(brokers, &o.topics)?;
    let mut engine = Engine::open(data, cat, catalog_bytes, Config { partitions, ..cfg })?;
    let mut src = KafkaSource::open(brokers, &o.group, &o.topics, |t, p| {
        engine.offset(t, p).ok().flatten()
    })?;
    src.exit_when_idle = o.exit_when_idle;
    let busy = Arc::new(Busy::default());
    let quiet = busy.clone();
    src.quiesce_with(Box::new(move || quiet.wait()));
    let mut changelog = match &o.changelog {
        Some(topic) => {
            crate::changelog::ensure_topic(brokers, topic, partitions)?;
            let (b, t, store, tag) = (
                brokers.to_string(),
                topic.clone(),
                engine.store.clone(),
                engine.cat.tag(),
            );
            let inputs: Vec<String> = o.topics.inputs().iter().map(|t| t.to_string()).collect();
            src.restore_with(Box::new(move |p| {
                let r = crate::changelog::restore(&b, &t, &store, tag, p);
                match &r {
                    Ok(r) if r.batches > 0 => tracing::info!(
                        partition = p,
                        batches = r.batches,
                        from = r.from,
                        to = r.to,
                        "restored from the changelog"
                    ),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(partition = p, error = %e, "restoring from the changelog")
                    }
                }
                if let Ok(Restored {
                    stopped: Some(why), ..
                }) = &r
                {
                    tracing::warn!(
                        partition = p,
                        why,
                        "the changelog restore stopped early; the rest is rated from the inputs"
                    );
                }
                if matches!(r, Ok(Restored { batches: 0, .. })) {
                    return None;
                }
                // What was applied is committed with its offsets, whatever stopped it.
                let mut positions = Vec::new();
                for t in &inputs {
                    let key = crate::pipeline::position_key(Some(t), p);
                    if let Ok(Some(o)) = store.meta_u64(&key) {
                        positions.push((t.clone(), o as i64));
                    }
                }
                Some(positions)
            }));
            engine.mark_partitions();
            Some(Changelog::open(
                brokers,
                topic,
                &engine.store,
                engine.cat.tag(),
            )?)
        }
        None => None,
    };
    let mut publisher = match o.publish {
        true => {
            let mut out =
                Outbox::open(brokers, &o.topics, &engine.store, partitions, o.idempotent)?;
            // What a crash left unpublished goes out before anything new is read.
            out.publish(&engine.store, |p| engine.seq(p), &[])?;
            engine.keep_appended();
            Some(Publisher::start(out, engine.store.clone()))
        }
        false => None,
    };
    let mut lines = Vec::with_capacity(cfg.batch);
    // A restore found a partition ahead in the changelog: the next hand-over tells the outbox.
    let mut restored = false;
    let store = engine.store.clone();
    let outcome = std::thread::scope(|scope| -> Result<(), StreamError> {
        // As in `Engine::run`: a batch is published to the changelog and written by a thread
        // of its own while the next one is read and rated; at most one is in flight.
        let (to_writer, batches) = sync_channel::<Commit>(0);
        let (written, results) = sync_channel::<Result<(), StreamError>>(1);
        let writer_busy = busy.clone();
        let writer = std::thread::Builder::new()
            .name("ratel-commit".into())
            .spawn_scoped(scope, move || {
                for mut c in batches {
                    let r = (|| -> Result<(), StreamError> {
                        if let Some(log) = &mut changelog {
                            // Before the commit: the changelog is never behind the store, so a
                            // crash between the two leaves a batch a restore applies, never a
                            // gap in the history.
                            log.publish(&store, &mut c)?;
                        }
                        store.commit(c, cfg.sync).map_err(EngineError::from)?;
                        Ok(())
                    })();
                    writer_busy.set(false);
                    let failed = r.is_err();
                    if written.send(r).is_err() || failed {
                        break;
                    }
                }
            })
            .map_err(|e| StreamError::Engine(EngineError::Source(e)))?;
        let mut in_flight: Option<InFlight> = None;
        // The batch in flight is durable: the source, the outbox and the caller hear of it.
        let mut land = |engine: &Engine,
                        f: InFlight,
                        src: &mut KafkaSource,
                        restored: &mut bool|
         -> Result<(), StreamError> {
            results.recv().unwrap_or_else(|_| {
                Err(EngineError::Store(StoreError::Io("the commit thread ended".into())).into())
            })?;
            src.committed(&f.lines);
            if let Some(p) = &mut publisher {
                // A restored partition's entries that its last owner published are not sent
                // again.
                let skip = match std::mem::take(restored) {
                    true => (0..partitions)
                        .map(|p| engine.store.meta_u64(&format!("published/{p}")))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(EngineError::from)?
                        .into_iter()
                        .map(|v| v.unwrap_or(0))
                        .collect(),
                    false => Vec::new(),
                };
                p.hand_over(f.seqs, skip, f.appended)?;
            }
            on_batch(engine, &f.counters);
            Ok(())
        };
        let outcome = loop {
            lines.clear();
            // With a batch in flight, an empty poll lands it rather than waits for input: the
            // tail's decisions go out without waiting for more traffic.
            src.yield_when_idle = in_flight.is_some();
            if let Err(e) = src.next_batch(cfg.batch, &mut lines) {
                break Err(EngineError::Source(e).into());
            }
            if src.take_restored() {
                // The restore waited for the batch in flight to land; the state is read again
                // from the store, which now holds both.
                if let Some(f) = in_flight.take() {
                    if let Err(e) = land(&engine, f, &mut src, &mut restored) {
                        break Err(e);
                    }
                }
                if let Err(e) = engine.reload() {
                    break Err(e.into());
                }
                restored = true;
            }
            if lines.is_empty() {
                if src.ended() || in_flight.is_none() {
                    break Ok(());
                }
                if let Some(f) = in_flight.take() {
                    if let Err(e) = land(&engine, f, &mut src, &mut restored) {
                        break Err(e);
                    }
                }
                continue;
            }
            // A transfer's credit for a partition another instance owns is not rated here.
            let owned: Vec<u32> = src.assigned().collect();
            engine.own(Some(&owned));
            let c = match engine.prepare(&lines) {
                Ok(c) => c,
                Err(e) => break Err(e.into()),
            };
            let next = InFlight {
                lines: std::mem::take(&mut lines),
                seqs: (0..partitions).map(|p| engine.seq(p)).collect(),
                appended: engine.take_appended(),
                counters: engine.counters,
            };
            if let Some(f) = in_flight.take() {
                if let Err(e) = land(&engine, f, &mut src, &mut restored) {
                    break Err(e);
                }
            }
            busy.set(true);
            src.advance(&next.lines);
            if to_writer.send(c).is_err() {
                busy.set(false);
                break Err(
                    EngineError::Store(StoreError::Io("the commit thread ended".into())).into(),
                );
            }
            lines = Vec::with_capacity(cfg.batch);
            in_flight = Some(next);
        };
        drop(to_writer);
        // What is in flight lands (or fails) before the run returns, whatever ended it.
        let last = match in_flight.take() {
            Some(f) => land(&engine, f, &mut src, &mut restored),
            None => Ok(()),
        };
        writer.join().expect("the commit thread does not panic");
        outcome.and(last)
    });
    outcome?;
    if let Some(p) = publisher {
        p.finish()?;
    }
    Ok(engine)
}

/// A batch being written: what the source, the outbox and the caller hear once it is durable.
struct InFlight {
    lines: Vec<crate::source::Line>,
    /// Each partition's log's end, and the counters, as of this batch.
    seqs: Vec<u64>,
    appended: Vec<Appended>,
    counters: Counters,
}

/// Whether a batch is being written; a restore waits until it is not (it reads the store's
/// log end and must not apply, from the changelog, a batch the writer is about to commit).
#[derive(Default)]
struct Busy {
    flag: Mutex<bool>,
    done: Condvar,
}

impl Busy {
    fn set(&self, v: bool) {
        *self.flag.lock().expect("not poisoned") = v;
        if !v {
            self.done.notify_all();
        }
    }

    fn wait(&self) {
        let mut g = self.flag.lock().expect("not poisoned");
        while *g {
            g = self.done.wait(g).expect("not poisoned");
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
    fn start(mut out: Outbox, store: Arc<Store>) -> Publisher {
        // One batch waits while one is published: enough to overlap, and a bound on memory.
        let (tx, rx) = sync_channel::<Batch>(1);
        let thread = std::thread::Builder::new()
            .name("ratel-outbox".into())
            .spawn(move || {
                for b in rx {
                    for (p, &to) in b.skip.iter().enumerate() {
                        out.skip_to(p as u32, to);
                    }
                    out.publish(&store, |p| b.seqs[p as usize], &b.appended)?;
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
