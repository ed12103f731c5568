//! `ratel run --source kafka:…`: the engine on the input topics, publishing what each committed
//! batch decided before it reads the next (crate::outbox), so that the output topics lag the log
//! by at most one batch, and a crash repeats at most that batch's messages.

use crate::kafka::{Group, KafkaSource, KafkaSourceError, Topics};
use crate::outbox::{Outbox, OutboxError};
use crate::pipeline::{Config, Engine, EngineError};
use crate::source::Source;
use rating::Catalog;
use std::path::Path;

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
    let mut outbox = match o.publish {
        true => Some(Outbox::open(
            brokers,
            &o.topics,
            &engine.store,
            partitions,
            o.idempotent,
        )?),
        false => None,
    };
    // What a crash left unpublished goes out before anything new is read.
    if let Some(out) = &mut outbox {
        out.publish(&engine.store, |p| engine.seq(p), &[])?;
        engine.keep_appended();
    }
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
        if let Some(out) = &mut outbox {
            out.publish(&engine.store, |p| engine.seq(p), engine.appended())?;
        }
        on_batch(&engine);
    }
    Ok(engine)
}
