//! Producing to Kafka: the producer's settings, delivery accounting, flushing with a bound, topic
//! creation, and `ratel produce`, which publishes a workload file to the input topics keyed and
//! partitioned as ratel expects.

use super::client::{client_config, KafkaSourceError};
use crate::partition::Numbers;
pub use crate::topics::Topics;
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::Message;
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counts deliveries and keeps the first failure; for a producer that asks (the changelog's),
/// also the highest offset acknowledged in each partition.
#[derive(Default)]
pub struct Deliveries {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub first_error: Mutex<Option<String>>,
    pub last: Option<Mutex<FxHashMap<i32, i64>>>,
}

impl Deliveries {
    /// Deliveries that also keep each partition's highest acknowledged offset.
    pub fn with_offsets() -> Deliveries {
        Deliveries {
            last: Some(Mutex::new(FxHashMap::default())),
            ..Deliveries::default()
        }
    }
}

pub struct DeliveryContext(pub Arc<Deliveries>);

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &rdkafka::message::DeliveryResult<'_>, _: ()) {
        match result {
            Ok(m) => {
                self.0.delivered.fetch_add(1, Ordering::Relaxed);
                if let Some(last) = &self.0.last {
                    let mut last = last.lock().expect("not poisoned");
                    let o = last.entry(m.partition()).or_insert(-1);
                    *o = (*o).max(m.offset());
                }
            }
            Err((e, _)) => {
                self.0.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.0.first_error.lock().expect("not poisoned");
                first.get_or_insert_with(|| e.to_string());
            }
        }
    }
}

/// How long a flush waits without any acknowledgement before it gives up.
pub const FLUSH_STALL: Duration = Duration::from_secs(60);

/// How often a flush looks whether the broker has acknowledged everything.
const FLUSH_POLL: Duration = Duration::from_micros(500);

/// Messages in one produce batch unless told otherwise (librdkafka allows 1 to 1 000 000).
pub const BATCH_MESSAGES: u32 = 10_000;

/// A producer that waits for every replica; idempotent unless told (then a retry after a lost
/// acknowledgement may write a message twice, which consumers drop by its event id anyway). At
/// most `batch_messages` messages go in one record batch.
pub fn producer(
    brokers: &str,
    idempotent: bool,
    batch_messages: u32,
) -> Result<(ThreadedProducer<DeliveryContext>, Arc<Deliveries>), KafkaError> {
    let d = Arc::new(Deliveries::default());
    let p = producer_config(brokers, idempotent, batch_messages)
        .create_with_context(DeliveryContext(d.clone()))?;
    Ok((p, d))
}

/// The settings of [`producer`].
pub fn producer_config(brokers: &str, idempotent: bool, batch_messages: u32) -> ClientConfig {
    let mut c = client_config(brokers);
    c.set(
        "enable.idempotence",
        if idempotent { "true" } else { "false" },
    )
    .set("acks", "all")
    .set("partitioner", "murmur2_random")
    .set("linger.ms", "5")
    .set("max.in.flight.requests.per.connection", "1")
    .set(
        "batch.num.messages",
        batch_messages.clamp(1, 1_000_000).to_string(),
    )
    .set("queue.buffering.max.messages", "1000000")
    .set("compression.type", "lz4")
    // A report for every message delivered is a callback and a free on the polling thread
    // for each (a twentieth of the Kafka run's CPU): only failures are reported, and a
    // flush sees progress in the messages still outstanding.
    .set("delivery.report.only.error", "true");
    c
}

/// Sends a record, waiting while the producer's queue is full.
pub fn send<C: ProducerContext<DeliveryOpaque = ()>>(
    producer: &ThreadedProducer<C>,
    mut record: BaseRecord<'_, [u8], [u8]>,
) -> Result<(), KafkaError> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((
                KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                r,
            )) => {
                record = r;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// Waits until every queued message is delivered or has failed: for as long as the broker keeps
/// acknowledging (a long queue to a slow broker is not an error), but no longer than
/// `FLUSH_STALL` without a single acknowledgement. An error if any message was refused.
pub fn flush<C: ProducerContext>(
    producer: &ThreadedProducer<C>,
    deliveries: &Deliveries,
) -> Result<(), KafkaError> {
    // Progress: a delivery reported, or fewer messages outstanding (a producer may report
    // failures only).
    let acknowledged = || {
        (deliveries.delivered.load(Ordering::Relaxed) + deliveries.failed.load(Ordering::Relaxed))
            .wrapping_sub(producer.in_flight_count().max(0) as u64)
    };
    let (mut seen, mut since) = (acknowledged(), Instant::now());
    loop {
        // `flush` with no time to wait sends what lingers and says whether anything is still
        // queued, in flight or unreported (librdkafka counts a message until its delivery
        // callback has run). rdkafka's own flush with a timeout then polls for up to 100 ms; on
        // a ThreadedProducer the polling thread takes the reports, so every flush lasted
        // 100 ms: 60 % of the Kafka run's time at 16 384-event batches.
        match producer.flush(Duration::ZERO) {
            Ok(()) => break,
            Err(KafkaError::Flush(rdkafka::types::RDKafkaErrorCode::OperationTimedOut)) => {
                let now = acknowledged();
                if now != seen {
                    (seen, since) = (now, Instant::now());
                } else if since.elapsed() >= FLUSH_STALL {
                    return Err(KafkaError::Flush(
                        rdkafka::types::RDKafkaErrorCode::OperationTimedOut,
                    ));
                }
                std::thread::sleep(FLUSH_POLL);
            }
            Err(e) => return Err(e),
        }
    }
    if deliveries.failed.load(Ordering::Relaxed) > 0 {
        let why = deliveries.first_error.lock().expect("not poisoned").clone();
        return Err(KafkaError::MessageProduction(
            rdkafka::types::RDKafkaErrorCode::Fail,
        ))
        .inspect_err(|_| tracing::error!(reason = ?why, "a message was not delivered"));
    }
    Ok(())
}

/// Creates the topics that are missing, with `partitions` partitions each.
pub fn create_topics(
    brokers: &str,
    names: &[&str],
    partitions: u32,
) -> Result<(), KafkaSourceError> {
    create_topics_with(brokers, names, partitions, &[])
}

/// Creates the topics that are missing, with `partitions` partitions each and `config`.
pub fn create_topics_with(
    brokers: &str,
    names: &[&str],
    partitions: u32,
    config: &[(&str, &str)],
) -> Result<(), KafkaSourceError> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> =
        client_config(brokers).create()?;
    let new: Vec<NewTopic<'_>> = names
        .iter()
        .map(|n| {
            config.iter().fold(
                NewTopic::new(n, partitions as i32, TopicReplication::Fixed(1)),
                |t, (k, v)| t.set(k, v),
            )
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| KafkaSourceError::Topology(e.to_string()))?;
    let results = rt.block_on(admin.create_topics(&new, &AdminOptions::new()))?;
    for r in results {
        match r {
            Ok(_) => {}
            Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, e)) => return Err(KafkaSourceError::Topology(format!("creating {t}: {e}"))),
        }
    }
    Ok(())
}

/// What `ratel produce` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Produced {
    pub lines: u64,
    /// Lines that are not inputs: sent to partition 0 of the usage topic, for the engine to
    /// dead-letter with the rest.
    pub unreadable: u64,
}

/// Publishes a workload file to the input topics: each line on its kind's topic, keyed by its
/// account (or number), timestamped with its event time, by the idempotent producer.
pub fn produce(
    brokers: &str,
    topics: &Topics,
    path: &std::path::Path,
    idempotent: bool,
    batch_messages: u32,
    progress: impl FnMut(u64),
) -> Result<Produced, KafkaSourceError> {
    let all = Lines {
        skip: 0,
        take: u64::MAX,
    };
    produce_lines(
        brokers,
        topics,
        path,
        all,
        idempotent,
        batch_messages,
        progress,
    )
}

/// Which lines of a file to publish: a workload published in parts (or a publication resumed)
/// skips the lines already published, yet reads them, so that a number whose account opened
/// there is still keyed by that account.
#[derive(Debug, Clone, Copy)]
pub struct Lines {
    /// Lines (not blank) read for the numbers they name, not published.
    pub skip: u64,
    /// At most this many lines published after them.
    pub take: u64,
}

/// Publishes one line to the topic of its kind, keyed as ratel expects, with its position in
/// the file; whether it was readable. An unreadable line goes to the usage topic's first
/// partition at the time of the line before it, to be dead-lettered there.
fn send_line(
    producer: &ThreadedProducer<DeliveryContext>,
    topics: &Topics,
    numbers: &mut Numbers,
    line: &[u8],
    position: u64,
    last_time: &mut i64,
) -> Result<bool, KafkaSourceError> {
    let headers = OwnedHeaders::new().insert(Header {
        key: "ratel-source-position",
        value: Some(&position.to_string()),
    });
    let Ok(input) = rating::codec::parse_json(line) else {
        let record = BaseRecord::to(&topics.usage_topic)
            .partition(0)
            .payload(line)
            .timestamp(*last_time)
            .headers(headers);
        send(producer, record)?;
        return Ok(false);
    };
    numbers.learn(&input);
    let key = numbers.key(&input);
    let key_bytes = key.bytes();
    *last_time = input.time().0.saturating_mul(1000);
    let topic = topics.inputs()[Topics::rank_of(&input)];
    let record = BaseRecord::to(topic)
        .key(&*key_bytes)
        .payload(line)
        .timestamp(*last_time)
        .headers(headers);
    send(producer, record)?;
    Ok(true)
}

/// [`produce`] of some of a file's lines.
pub fn produce_lines(
    brokers: &str,
    topics: &Topics,
    path: &std::path::Path,
    lines: Lines,
    idempotent: bool,
    batch_messages: u32,
    mut progress: impl FnMut(u64),
) -> Result<Produced, KafkaSourceError> {
    use std::io::BufRead;
    let (producer, deliveries) = producer(brokers, idempotent, batch_messages)?;
    let f = std::fs::File::open(path)
        .map_err(|e| KafkaSourceError::Topology(format!("{}: {e}", path.display())))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, f);
    let mut numbers = Numbers::default();
    let mut out = Produced::default();
    let mut last_time = 0i64;
    let mut line = Vec::new();
    let mut position = 0u64;
    let mut skipped = 0u64;
    while out.lines < lines.take {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| KafkaSourceError::Topology(format!("{}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        position += n as u64;
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if skipped < lines.skip {
            skipped += 1;
            if let Ok(input) = rating::codec::parse_json(&line) {
                numbers.learn(&input);
            }
            continue;
        }
        out.lines += 1;
        if !send_line(
            &producer,
            topics,
            &mut numbers,
            &line,
            position,
            &mut last_time,
        )? {
            out.unreadable += 1;
        }
        if out.lines % 65_536 == 0 {
            progress(position);
        }
    }
    flush(&producer, &deliveries)?;
    progress(position);
    Ok(out)
}
