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
//! compaction keeps the truth of each.

use crate::kafka::{self, DeliveryContext, KafkaSourceError};
pub use crate::store::NumberHeld;
use rating::Msisdn;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The default topic name.
pub const DEFAULT_TOPIC: &str = "ratel.directory";
/// How long opening waits to have read the topic to its end.
pub const CATCH_UP: Duration = Duration::from_secs(30);
/// The most partitions one number may be claimed by at once (a number moving between accounts
/// is claimed by two for a moment); more claims push the oldest out.
const MAX_CLAIMS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error(transparent)]
    Topic(#[from] KafkaSourceError),
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("the directory topic {0} was not read to its end within {1:?}")]
    Behind(String, Duration),
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

/// What the topic says, as far as it has been read.
#[derive(Default)]
struct Map {
    owners: FxHashMap<u32, Owner>,
    /// The partitions that claim each number, the latest claim last.
    numbers: FxHashMap<u64, Vec<u32>>,
}

impl Map {
    /// See [`Directory::differences`].
    fn differences(
        &self,
        partitions: &[u32],
        held: impl Iterator<Item = (Msisdn, u32)>,
    ) -> Vec<NumberHeld> {
        let mut placed: FxHashMap<u64, u32> = FxHashMap::default();
        for (&m, claims) in &self.numbers {
            if let Some(&p) = claims.last().filter(|p| partitions.contains(p)) {
                placed.insert(m, p);
            }
        }
        let mut differences = Vec::new();
        for (msisdn, partition) in held.filter(|(_, p)| partitions.contains(p)) {
            if placed.remove(&msisdn.0) != Some(partition) {
                differences.push(NumberHeld {
                    msisdn,
                    partition,
                    held: true,
                });
            }
        }
        for (m, partition) in placed {
            differences.push(NumberHeld {
                msisdn: Msisdn(m),
                partition,
                held: false,
            });
        }
        differences
    }

    /// Applies one message.
    fn apply(&mut self, entry: Entry) {
        match entry {
            Entry::Owner {
                partition,
                owner: Some(owner),
            } => {
                self.owners.insert(partition, owner);
            }
            Entry::Owner {
                partition,
                owner: None,
            } => {
                self.owners.remove(&partition);
            }
            Entry::Number {
                msisdn,
                partition,
                held,
            } => {
                let claims = self.numbers.entry(msisdn).or_default();
                claims.retain(|&claimed| claimed != partition);
                if held {
                    if claims.len() == MAX_CLAIMS {
                        claims.remove(0);
                    }
                    claims.push(partition);
                }
                if claims.is_empty() {
                    self.numbers.remove(&msisdn);
                }
            }
        }
    }
}

/// The directory: published to as this instance's partitions change, and followed by a thread
/// of its own.
pub struct Directory {
    map: Arc<RwLock<Map>>,
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
    /// returning; a thread follows it from then on.
    pub fn open(brokers: &str, topic: &str) -> Result<Directory, DirectoryError> {
        ensure_topic(brokers, topic)?;
        let consumer: BaseConsumer = kafka::client_config(brokers)
            .set("group.id", "ratel-directory")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .create()?;
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(topic, 0, Offset::Beginning)?;
        consumer.assign(&assignment)?;
        let (_, end) = consumer.fetch_watermarks(topic, 0, Duration::from_secs(10))?;
        let map = Arc::new(RwLock::new(Map::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let read = Arc::new(AtomicI64::new(0));
        let reader = {
            let (map, stop, read) = (map.clone(), stop.clone(), read.clone());
            std::thread::Builder::new()
                .name("ratel-directory".into())
                .spawn(move || follow(&consumer, &map, &stop, &read))
                .map_err(DirectoryError::Reader)?
        };
        let started = Instant::now();
        while read.load(Ordering::Acquire) < end {
            if started.elapsed() > CATCH_UP {
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
    ) -> Vec<NumberHeld> {
        let map = self.map.read().expect("not poisoned");
        map.differences(partitions, held)
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
    pub fn whereabouts(&self, msisdn: Msisdn) -> Whereabouts {
        let map = self.map.read().expect("not poisoned");
        match map.numbers.get(&msisdn.0).and_then(|claims| claims.last()) {
            Some(&p) => Whereabouts::Partition(p, map.owners.get(&p).cloned()),
            None => Whereabouts::Nowhere,
        }
    }

    /// The owner of `partition`, as far as the topic has been read.
    pub fn owner(&self, partition: u32) -> Option<Owner> {
        let map = self.map.read().expect("not poisoned");
        map.owners.get(&partition).cloned()
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
fn follow(consumer: &BaseConsumer, map: &RwLock<Map>, stop: &AtomicBool, read: &AtomicI64) {
    while !stop.load(Ordering::Acquire) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                let key = message.key().unwrap_or_default();
                // A message of another form (a later version's) is skipped.
                if let Some(entry) = Entry::decode(key, message.payload()) {
                    map.write().expect("not poisoned").apply(entry);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn held(msisdn: u64, partition: u32, held: bool) -> Entry {
        Entry::Number {
            msisdn,
            partition,
            held,
        }
    }

    #[test]
    fn the_latest_claim_of_a_number_wins_and_a_release_takes_only_its_own() {
        let mut map = Map::default();
        map.apply(held(79_001_000_001, 3, true));
        map.apply(held(79_001_000_001, 5, true));
        assert_eq!(map.numbers[&79_001_000_001], vec![3, 5]);
        map.apply(held(79_001_000_001, 5, false));
        assert_eq!(map.numbers[&79_001_000_001], vec![3]);
        map.apply(held(79_001_000_001, 3, false));
        assert!(!map.numbers.contains_key(&79_001_000_001));
    }

    #[test]
    fn the_differences_with_a_store_claim_what_is_missing_and_release_what_is_gone() {
        let mut map = Map::default();
        for (msisdn, partition) in [(1, 0), (2, 0), (3, 1), (4, 1)] {
            map.apply(held(msisdn, partition, true));
        }
        // The store's partition 0 holds 1 and 4 (moved from 1); 3 is partition 1's, not given.
        let store = [(Msisdn(1), 0), (Msisdn(4), 0), (Msisdn(3), 1)];
        let mut found = map.differences(&[0], store.into_iter());
        found.sort_by_key(|n| n.msisdn.0);
        let number = |m, partition, held| NumberHeld {
            msisdn: Msisdn(m),
            partition,
            held,
        };
        assert_eq!(found, vec![number(2, 0, false), number(4, 0, true)]);
        for n in &found {
            map.apply(held(n.msisdn.0, n.partition, n.held));
        }
        assert!(
            map.differences(&[0], store.into_iter()).is_empty(),
            "put right"
        );
    }

    #[test]
    fn an_owner_is_the_last_written_and_a_tombstone_removes_it() {
        let mut map = Map::default();
        let owner = |host: &str| Entry::Owner {
            partition: 7,
            owner: Some(Owner {
                host: host.into(),
                uri: format!("aaa://{host}:3868"),
            }),
        };
        map.apply(owner("a"));
        map.apply(owner("b"));
        assert_eq!(map.owners[&7].host, "b");
        map.apply(Entry::Owner {
            partition: 7,
            owner: None,
        });
        assert!(map.owners.is_empty());
    }

    #[test]
    fn claims_beyond_the_limit_push_the_oldest_out() {
        let mut map = Map::default();
        for partition in 0..10u32 {
            map.apply(held(5, partition, true));
        }
        assert_eq!(map.numbers[&5], vec![6, 7, 8, 9]);
    }
}
