//! `ratel run --source kafka:…`: the engine on the input topics, publishing what each committed
//! batch decided (crate::outbox) on a second thread while the next batch is read and rated. The
//! hand-over holds one batch, so the output topics lag the log by at most two batches, and a
//! crash repeats at most those batches' messages (the outbox's pointer moves only after the
//! broker acknowledged them).

use crate::changelog::{Changelog, ChangelogError, Restored};
use crate::kafka::{Group, KafkaSource, KafkaSourceError, Topics};
use crate::outbox::{Outbox, OutboxError};
use crate::pipeline::{Appended, Config, Engine, EngineError};
use crate::source::Source;
use crate::store::Store;
use rating::Catalog;
use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
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
/// they carry until told to stop; `on_batch` sees the engine after each committed batch.
pub fn run(
    data: &Path,
    cat: Catalog,
    catalog_bytes: &[u8],
    brokers: &str,
    cfg: Config,
    o: &Options,
    mut on_batch: impl FnMut(&Engine),
) -> Result<Engine, StreamError> {
    let partitions = crate::kafka::input_partitions(brokers, &o.topics)?;
    let mut engine = Engine::open(data, cat, catalog_bytes, Config { partitions, ..cfg })?;
    let mut src = KafkaSource::open(brokers, &o.group, &o.topics, |t, p| {
        engine.offset(t, p).ok().flatten()
    })?;
    src.exit_when_idle = o.exit_when_idle;
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
                    tracing::warn!(partition = p, why, "the changelog restore stopped early; the rest is rated from the inputs");
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
            Some(Changelog::open(brokers, topic, &engine.store, engine.cat.tag())?)
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
    let mut restored = false;
    loop {
        lines.clear();
        src.next_batch(cfg.batch, &mut lines)
            .map_err(EngineError::Source)?;
        if src.take_restored() {
            engine.reload()?;
            restored = true;
        }
        if lines.is_empty() {
            break;
        }
        let mut c = engine.prepare(&lines)?;
        if let Some(log) = &mut changelog {
            // Before the commit: the changelog is never behind the store, so a crash between
            // the two leaves a batch a restore applies, never a gap in the history.
            log.publish(&engine.store, &mut c, |p| engine.seq(p))?;
        }
        engine.commit(c)?;
        src.committed(&lines);
        if let Some(p) = &mut publisher {
            let seqs = (0..partitions).map(|p| engine.seq(p)).collect();
            // A restored partition's entries that its last owner published are not sent again.
            let skip = match std::mem::take(&mut restored) {
                true => (0..partitions)
                    .map(|p| engine.store.meta_u64(&format!("published/{p}")))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(EngineError::from)?
                    .into_iter()
                    .map(|v| v.unwrap_or(0))
                    .collect(),
                false => Vec::new(),
            };
            p.hand_over(seqs, skip, engine.take_appended())?;
        }
        on_batch(&engine);
    }
    if let Some(p) = publisher {
        p.finish()?;
    }
    Ok(engine)
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
