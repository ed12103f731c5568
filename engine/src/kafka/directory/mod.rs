//! The directory that lets many instances of `ratel online` share a consumer group: which
//! partition holds a number, and which instance (its Diameter identity) owns a partition. A
//! request for a number another instance owns is answered with that instance's identity
//! (3006, Redirect-Host) rather than decided here, into a partition this instance does not own.
//!
//! It is one compacted topic of one partition, which every instance writes and follows whole
//! (its messages: `directory_entry`):
//! - an instance claims each partition it is given, once the partition is restored;
//! - a batch's numbers taken or given up are published with the batch, before it is committed
//!   (a crash between the two repeats the same claim: rating is deterministic).
//!
//! A number claimed by two partitions (while it moves from one account to another across
//! partitions) is the latest claim's. Every key has one writer, the owner of its partition, so
//! compaction keeps the truth of each. What has been read is kept in a local copy whose memory
//! is bounded ([`map`]), not by the numbers.

mod map;

use crate::kafka::{self, DeliveryContext, KafkaSourceError};
pub use crate::store::NumberHeld;
use map::Map;
use rating::Msisdn;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The default topic name.
pub const DEFAULT_TOPIC: &str = "ratel.directory";
/// How long opening waits for the reading of the topic to move on, until it reaches its end.
pub const CATCH_UP: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error(transparent)]
    Topic(#[from] KafkaSourceError),
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("the reading of the directory topic {0} stopped short of its end for {1:?}")]
    Behind(String, Duration),
    #[error(transparent)]
    Local(#[from] map::LocalCopyError),
    #[error("the directory's reader: {0}")]
    Reader(std::io::Error),
    #[error("an identity of 1 to 255 bytes, host and URI, is needed: {0:?}")]
    Identity(Owner),
}

pub use directory_entry::{Entry, Owner};

/// Where a number is, as the directory knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whereabouts {
    /// No partition claims it.
    Nowhere,
    /// This partition holds it, owned by this instance (if the directory knows one).
    Partition(u32, Option<Owner>),
}

/// The directory: published to as this instance's partitions change, and followed by a thread
/// of its own.
pub struct Directory {
    map: Arc<Map>,
    producer: ThreadedProducer<DeliveryContext>,
    topic: String,
    me: Option<Owner>,
    /// The partitions claimed since the last assignment.
    claimed: Vec<u32>,
    stop: Arc<AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Directory {
    /// Opens the directory topic (made, compacted, if missing), and reads it to its end before
    /// returning; a thread follows it from then on. What it reads is kept in a local copy made
    /// in `scratch` (the system's temporary folder if `None`) and removed when dropped.
    pub fn open(
        brokers: &str,
        topic: &str,
        scratch: Option<&std::path::Path>,
    ) -> Result<Directory, DirectoryError> {
        ensure_topic(brokers, topic)?;
        let map = Arc::new(Map::open(scratch)?);
        let consumer: BaseConsumer = kafka::client_config(brokers)
            .set("group.id", "ratel-directory")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .create()?;
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(topic, 0, Offset::Beginning)?;
        consumer.assign(&assignment)?;
        let (_, end) = consumer.fetch_watermarks(topic, 0, Duration::from_secs(10))?;
        let stop = Arc::new(AtomicBool::new(false));
        let read = Arc::new(AtomicI64::new(0));
        let reader = {
            let (map, stop, read) = (map.clone(), stop.clone(), read.clone());
            std::thread::Builder::new()
                .name("ratel-directory".into())
                .spawn(move || follow(&consumer, &map, &stop, &read))
                .map_err(DirectoryError::Reader)?
        };
        // A directory of millions of numbers takes longer than CATCH_UP to read; a reading that
        // stops moving does not end.
        let (mut moved, mut at) = (Instant::now(), 0);
        while read.load(Ordering::Acquire) < end {
            let now_at = read.load(Ordering::Acquire);
            if now_at > at {
                (moved, at) = (Instant::now(), now_at);
            }
            if moved.elapsed() > CATCH_UP {
                stop.store(true, Ordering::Release);
                return Err(DirectoryError::Behind(topic.to_string(), CATCH_UP));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let deliveries = Arc::new(kafka::Deliveries::default());
        let producer = crate::changelog::producer_config(brokers)
            .create_with_context(DeliveryContext(deliveries))?;
        Ok(Directory {
            map,
            producer,
            topic: topic.to_string(),
            me: None,
            claimed: Vec::new(),
            stop,
            reader: Some(reader),
        })
    }

    /// This instance's identity, claimed for every partition it is given.
    pub fn identify(&mut self, me: Owner) -> Result<(), DirectoryError> {
        if !me.valid() {
            return Err(DirectoryError::Identity(me));
        }
        self.me = Some(me);
        Ok(())
    }

    pub fn me(&self) -> Option<&Owner> {
        self.me.as_ref()
    }

    /// Claims the partitions of an assignment not claimed yet (each once an assignment), and
    /// waits for the broker. Returns the partitions newly claimed.
    pub fn claim(&mut self, assigned: &[u32]) -> Result<Vec<u32>, DirectoryError> {
        let Some(me) = &self.me else {
            return Ok(Vec::new());
        };
        let new: Vec<u32> = (assigned.iter().copied())
            .filter(|p| !self.claimed.contains(p))
            .collect();
        self.claimed = assigned.to_vec();
        if new.is_empty() {
            return Ok(new);
        }
        let claims = new.iter().map(|&partition| Entry::Owner {
            partition,
            owner: Some(me.clone()),
        });
        self.send(claims.collect())?;
        Ok(new)
    }

    /// What to publish so that the directory says of `partitions` what `held` (every number
    /// the store's index holds, with its account's partition) says: a claim for each number
    /// held there that the directory does not place there, a release for each it places there
    /// that is not held there. A store made before the directory, or a publication lost with a
    /// crash, is put right this way each time its partitions are given to an instance.
    pub fn differences(
        &self,
        partitions: &[u32],
        held: impl Iterator<Item = (Msisdn, u32)>,
    ) -> Result<Vec<NumberHeld>, DirectoryError> {
        Ok(self.map.differences(partitions, held)?)
    }

    /// Publishes which partitions now hold or no longer hold the numbers a batch changed, and
    /// waits for the broker.
    pub fn publish(&mut self, numbers: &[NumberHeld]) -> Result<(), DirectoryError> {
        let entries = numbers.iter().map(|number| Entry::Number {
            msisdn: number.msisdn.0,
            partition: number.partition,
            held: number.held,
        });
        self.send(entries.collect())
    }

    /// Sends the entries and waits for the broker to acknowledge them.
    fn send(&self, entries: Vec<Entry>) -> Result<(), DirectoryError> {
        if entries.is_empty() {
            return Ok(());
        }
        for entry in entries {
            let (key, value) = (entry.key(), entry.value());
            let record = BaseRecord::to(&self.topic).partition(0).key(key.as_bytes());
            let record = match &value {
                Some(value) => record.payload(&value[..]),
                None => record,
            };
            kafka::send(&self.producer, record)?;
        }
        Ok(kafka::flush(&self.producer, &self.producer.context().0)?)
    }

    /// Where `msisdn` is, as far as the topic has been read.
    pub fn whereabouts(&self, msisdn: Msisdn) -> Result<Whereabouts, DirectoryError> {
        Ok(match self.map.latest_claim(msisdn)? {
            Some(p) => Whereabouts::Partition(p, self.map.owner(p)),
            None => Whereabouts::Nowhere,
        })
    }

    /// The owner of `partition`, as far as the topic has been read.
    pub fn owner(&self, partition: u32) -> Option<Owner> {
        self.map.owner(partition)
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// Reads the topic into `map` until told to stop; `read` is the next offset applied.
fn follow(consumer: &BaseConsumer, map: &Map, stop: &AtomicBool, read: &AtomicI64) {
    while !stop.load(Ordering::Acquire) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                let key = message.key().unwrap_or_default();
                // A message of another form (a later version's) is skipped.
                if let Some(entry) = Entry::decode(key, message.payload()) {
                    let place = u64::try_from(message.offset()).unwrap_or_default();
                    if let Err(error) = map.apply(entry, place) {
                        // Not read: opening waits no further, and requests find it behind.
                        tracing::error!(%error, "the directory's local copy");
                        return;
                    }
                }
                read.store(message.offset() + 1, Ordering::Release);
            }
            Some(Err(e)) => tracing::warn!(error = %e, "reading the directory"),
            None => {
                // At the end: an empty topic, or everything read, counts as caught up.
                let position = consumer
                    .position()
                    .ok()
                    .and_then(|tpl| (tpl.elements().first()).and_then(|e| e.offset().to_raw()));
                if let Some(at) = position.filter(|&at| at >= 0) {
                    read.fetch_max(at, Ordering::AcqRel);
                }
            }
        }
    }
}

/// Creates the directory topic if it is missing: one partition, compacted.
fn ensure_topic(brokers: &str, topic: &str) -> Result<(), KafkaSourceError> {
    let consumer: BaseConsumer = kafka::client_config(brokers).create()?;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let exists = (metadata.topics().iter())
        .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty());
    if exists {
        return Ok(());
    }
    kafka::create_topics_with(brokers, &[topic], 1, &[("cleanup.policy", "compact")])
}
