//! `ratel run --source kafka:…`: the engine on the input topics, publishing what each committed
//! batch decided (crate::outbox) on a second thread while the next batch is read and rated. The
//! hand-over holds one batch, so the output topics lag the log by at most two batches, and a
//! crash repeats at most those batches' messages (the outbox's pointer moves only after the
//! broker acknowledged them).

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
    loop {
        lines.clear();
        src.next_batch(cfg.batch, &mut lines)
            .map_err(EngineError::Source)?;
        if lines.is_empty() {
            break;
        }
        engine.process(&lines)?;
        src.committed(&lines);
        if let Some(p) = &mut publisher {
            let seqs = (0..partitions).map(|p| engine.seq(p)).collect();
            p.hand_over(seqs, engine.take_appended())?;
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
    fn hand_over(&mut self, seqs: Vec<u64>, appended: Vec<Appended>) -> Result<(), StreamError> {
        let tx = self
            .tx
            .as_ref()
            .expect("a running publisher has its sender");
        if tx.send(Batch { seqs, appended }).is_err() {
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
