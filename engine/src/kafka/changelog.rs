//! The changelog: each batch's writes to one partition, published to a Kafka topic before the
//! batch is committed to RocksDB, so that an instance given the partition by a rebalance can
//! restore its state (log, accounts, ids, read models, positions) from the topic instead of
//! rating its inputs again (Kafka Streams restores its state stores the same way).
//!
//! A *piece* is one partition's share of one batch (`Commit::shares`), cut into chunks of at most
//! [`CHUNK`] bytes: the bytes of a RocksDB WriteBatch, with the ids of the writer's column
//! families (another store may number them otherwise), the partition's log sequence numbers
//! before and after the batch, and the catalog in force. A restore applies whole pieces only,
//! and only a piece that starts where the store's log of the partition ends: a store holds a
//! prefix of the partition's history, never a mix (see ARCHITECTURE.md, "The changelog").

use crate::kafka::{self, Deliveries};
use crate::store::{Commit, Store, StoreError};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::Message;

pub use changelog_piece::{Piece, PieceError, CHUNK, MAX_CHUNKS, MAX_FAMILIES, VERSION};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The default topic name.
pub const DEFAULT_TOPIC: &str = "ratel.changelog";
/// How long a restore waits for the topic without receiving anything before it gives up.
pub const RESTORE_STALL: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ChangelogError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("changelog piece: {0}")]
    Piece(#[from] PieceError),
    #[error("changelog: {0}")]
    Stalled(String),
}

/// Publishes each batch's pieces and waits for the broker to acknowledge them.
pub struct Changelog {
    producer: ThreadedProducer<kafka::DeliveryContext>,
    topic: String,
    writer: u64,
    catalog: u64,
    families: Vec<(u32, String)>,
    pub pieces: u64,
    pub bytes: u64,
}

/// The changelog's producer: idempotent, waiting for every replica, room for a piece of one
/// [`CHUNK`] and its header, and the offset of each partition's last delivery kept (a store
/// records how far its changelog reaches).
pub fn producer(brokers: &str) -> Result<ThreadedProducer<kafka::DeliveryContext>, KafkaError> {
    producer_config(brokers)
        .create_with_context(kafka::DeliveryContext(Arc::new(Deliveries::with_offsets())))
}

/// The settings of [`producer`].
pub fn producer_config(brokers: &str) -> rdkafka::ClientConfig {
    let mut c = kafka::client_config(brokers);
    c.set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "1")
        .set("max.in.flight.requests.per.connection", "1")
        .set("message.max.bytes", "2000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("compression.type", "lz4");
    c
}

impl Changelog {
    pub fn open(
        brokers: &str,
        topic: &str,
        store: &Store,
        catalog: u64,
    ) -> Result<Changelog, ChangelogError> {
        let producer = producer(brokers)?;
        // Tells this run's pieces from another's: the process and the moment it started.
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Ok(Changelog {
            producer,
            topic: topic.to_string(),
            writer: started ^ (u64::from(std::process::id()) << 40),
            catalog,
            families: store.families(),
            pieces: 0,
            bytes: 0,
        })
    }

    /// Publishes each partition's share of `commit` and waits for the broker; then records in `commit`
    /// how far the changelog of each partition reaches, so that a restore starts there.
    pub fn publish(&mut self, store: &Store, commit: &mut Commit) -> Result<(), ChangelogError> {
        let shares = commit.shares();
        if shares.is_empty() {
            return Ok(());
        }
        let d = self.producer.context().0.clone();
        for (p, bytes) in &shares {
            let (from, to) = commit
                .ranges
                .iter()
                .find(|r| r.0 == *p)
                .map(|r| (r.1, r.2))
                .expect("every partition with a share has its range (Commit::complete_ranges)");
            let published = store.meta_u64(&crate::keys::published(*p))?.unwrap_or(0);
            let chunks: Vec<&[u8]> = bytes.chunks(CHUNK).collect();
            assert!(
                chunks.len() as u32 <= MAX_CHUNKS,
                "a batch's share fits a piece"
            );
            for (i, chunk) in chunks.iter().enumerate() {
                let piece = Piece {
                    writer: self.writer,
                    partition: *p,
                    catalog: self.catalog,
                    from,
                    to,
                    published,
                    chunk: i as u32,
                    chunks: chunks.len() as u32,
                    families: self.families.clone(),
                    data: chunk.to_vec(),
                };
                let payload = piece.encode();
                let key = format!("{p}/{from}/{i}");
                self.bytes += payload.len() as u64;
                self.pieces += 1;
                let record = BaseRecord::to(&self.topic)
                    .partition(*p as i32)
                    .key(key.as_bytes())
                    .payload(&payload[..]);
                kafka::send(&self.producer, record)?;
            }
        }
        kafka::flush(&self.producer, &d)?;
        let last = (self.producer.context().0.last.as_ref())
            .expect("the changelog's deliveries keep offsets")
            .lock()
            .expect("not poisoned");
        for (p, _) in &shares {
            if let Some(&o) = last.get(&(*p as i32)) {
                store.put_meta(
                    commit,
                    &crate::keys::changelog_offset(*p),
                    &((o + 1) as u64).to_le_bytes(),
                );
            }
        }
        Ok(())
    }
}

/// Creates the changelog topic if it is missing (compacted: never deleted by age; see
/// ARCHITECTURE.md), and checks that it has the input topics' partition count.
pub fn ensure_topic(
    brokers: &str,
    topic: &str,
    partitions: u32,
) -> Result<(), crate::kafka::KafkaSourceError> {
    use crate::kafka::KafkaSourceError;
    let c: BaseConsumer = kafka::client_config(brokers).create()?;
    let md = c.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let have = md
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len() as u32)
        .filter(|&n| n > 0);
    match have {
        Some(n) if n == partitions => Ok(()),
        Some(n) => Err(KafkaSourceError::Topology(format!(
            "the changelog topic {topic} has {n} partitions, the input topics {partitions}: a partition's changelog is the partition of the same number"
        ))),
        None => kafka::create_topics_with(
            brokers,
            &[topic],
            partitions,
            &[("cleanup.policy", "compact")],
        ),
    }
}

/// What a restore of one partition did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    /// Pieces (whole batches) applied.
    pub batches: u64,
    /// The partition's log: next sequence number before and after.
    pub from: u64,
    pub to: u64,
    /// Messages read, and why the restore stopped before the end of the topic, if it did.
    pub read: u64,
    pub stopped: Option<&'static str>,
}

/// Brings a partition of a store up to the changelog: reads the topic partition from where
/// the store last was in it to its end, and applies each whole batch that continues the store's
/// log. Stops at the first batch that does not continue it (its writer's catalog differs, or
/// the history has a gap); what is applied is committed batch by batch, each with its offset.
pub fn restore(
    brokers: &str,
    topic: &str,
    store: &Store,
    catalog: u64,
    partition: u32,
) -> Result<Restored, ChangelogError> {
    let p = partition;
    let local = store.meta_u64(&crate::keys::sequence(p))?.unwrap_or(0);
    let mut r = Restored {
        from: local,
        to: local,
        ..Restored::default()
    };
    let consumer = restore_consumer(brokers)?;
    let (low, high) = consumer.fetch_watermarks(topic, p as i32, Duration::from_secs(10))?;
    let start = match store.meta_u64(&crate::keys::changelog_offset(p))? {
        Some(o) => (o as i64).max(low),
        None => low,
    };
    if start >= high {
        return Ok(r);
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, p as i32, Offset::Offset(start))?;
    consumer.assign(&tpl)?;
    let mut assembly = Assembly::default();
    let mut last_message = Instant::now();
    let mut next = start;
    while next < high {
        let Some(m) = consumer.poll(Duration::from_millis(200)) else {
            if last_message.elapsed() > RESTORE_STALL {
                return Err(ChangelogError::Stalled(format!(
                    "{topic} partition {p}: nothing received for {} s at offset {next} of {high}",
                    RESTORE_STALL.as_secs()
                )));
            }
            continue;
        };
        let m = m?;
        last_message = Instant::now();
        next = m.offset() + 1;
        r.read += 1;
        let piece = match Piece::decode(m.payload().unwrap_or_default()) {
            Ok(x) if x.partition == p => x,
            Ok(_) => {
                r.stopped = Some("a piece of another partition");
                break;
            }
            Err(e) => {
                tracing::warn!(partition = p, offset = m.offset(), error = %e, "unreadable changelog message");
                r.stopped = Some("an unreadable piece");
                break;
            }
        };
        let Some((first, bytes)) = assembly.add(piece) else {
            continue;
        };
        r.stopped = apply_batch(store, catalog, &mut r, &first, &bytes, next as u64)?;
        if r.stopped.is_some() {
            break;
        }
    }
    Ok(r)
}

/// A consumer that reads a changelog partition it is assigned, outside any group's offsets.
fn restore_consumer(brokers: &str) -> Result<BaseConsumer, ChangelogError> {
    Ok(kafka::client_config(brokers)
        .set("group.id", "ratel-changelog-restore")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("fetch.max.bytes", "52428800")
        .set("max.partition.fetch.bytes", "4194304")
        .create()?)
}

/// The batch being put together from its chunks: its first piece, the bytes so far, and the
/// chunks received.
#[derive(Default)]
struct Assembly {
    pending: Option<(Piece, Vec<u8>, u32)>,
}

impl Assembly {
    /// Adds a piece; the batch's first piece and its bytes once the batch is whole.
    fn add(&mut self, piece: Piece) -> Option<(Piece, Vec<u8>)> {
        let continues = self.pending.as_ref().is_some_and(|(first, _, got)| {
            first.writer == piece.writer && first.from == piece.from && piece.chunk == *got
        });
        if piece.chunk == 0 {
            let data = piece.data.clone();
            self.pending = Some((piece, data, 1));
        } else if continues {
            let (_, bytes, got) = self.pending.as_mut().expect("continues a pending batch");
            bytes.extend_from_slice(&piece.data);
            *got += 1;
        } else {
            // A chunk of a batch whose start was not read (a run that stopped mid-batch).
            self.pending = None;
            return None;
        }
        if (self.pending.as_ref()).is_some_and(|(first, _, got)| *got < first.chunks) {
            return None;
        }
        let (first, bytes, _) = self.pending.take().expect("set above");
        Some((first, bytes))
    }
}

/// Applies a whole batch that continues the partition's log, committed with the changelog
/// offset after it; or says why the restore stops. A batch already in the store only moves the
/// offset.
fn apply_batch(
    store: &Store,
    catalog: u64,
    restored: &mut Restored,
    first: &Piece,
    bytes: &[u8],
    next: u64,
) -> Result<Option<&'static str>, ChangelogError> {
    let p = first.partition;
    let offset_key = crate::keys::changelog_offset(p);
    if first.to <= restored.to && first.from < restored.to {
        // Already in the store (this store wrote it, or restored it before).
        let mut c = Commit::default();
        store.put_meta(&mut c, &offset_key, &next.to_le_bytes());
        store.commit(c, true)?;
        return Ok(None);
    }
    if first.from != restored.to {
        return Ok(Some("a gap in the partition's history"));
    }
    if first.catalog != catalog {
        return Ok(Some("a batch rated with another catalog"));
    }
    let published = store.meta_u64(&crate::keys::published(p))?.unwrap_or(0);
    let mut c = Commit::default();
    c.batch = store.translate(&first.families, bytes)?;
    store.put_meta(&mut c, &offset_key, &next.to_le_bytes());
    // The store's own (not in any partition's share): what its positions are offsets of.
    store.put_meta(&mut c, crate::keys::SOURCE, b"kafka");
    if first.published > published {
        store.put_meta(
            &mut c,
            &crate::keys::published(p),
            &first.published.to_le_bytes(),
        );
    }
    store.commit(c, true)?;
    restored.batches += 1;
    restored.to = first.to;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::GLOBAL;

    fn piece(data: Vec<u8>) -> Piece {
        Piece {
            writer: 7,
            partition: 2,
            catalog: 99,
            from: 10,
            to: 20,
            published: 5,
            chunk: 0,
            chunks: 1,
            families: vec![(1, "log".into()), (3, "meta".into())],
            data,
        }
    }

    /// A piece's bytes are those of the layout before its data was written as bytes (a
    /// `Vec<u8>` through serde): pieces published by either build are read by the other.
    #[test]
    fn a_piece_s_bytes_are_those_of_version_2_as_first_written() {
        #[derive(serde::Serialize)]
        struct Before {
            writer: u64,
            partition: u32,
            catalog: u64,
            from: u64,
            to: u64,
            published: u64,
            chunk: u32,
            chunks: u32,
            families: Vec<(u32, String)>,
            data: Vec<u8>,
        }
        use bincode::Options;
        let p = piece((0..=255).collect());
        let mut before = vec![VERSION];
        bincode::DefaultOptions::new()
            .with_fixint_encoding()
            .serialize_into(
                &mut before,
                &Before {
                    writer: p.writer,
                    partition: p.partition,
                    catalog: p.catalog,
                    from: p.from,
                    to: p.to,
                    published: p.published,
                    chunk: p.chunk,
                    chunks: p.chunks,
                    families: p.families.clone(),
                    data: p.data.clone(),
                },
            )
            .unwrap();
        assert_eq!(p.encode(), before);
        assert_eq!(Piece::decode(&before).unwrap(), p);
    }

    #[test]
    fn a_piece_reads_back_as_written_and_malformed_ones_are_refused() {
        let p = piece(vec![1, 2, 3]);
        assert_eq!(Piece::decode(&p.encode()).unwrap(), p);
        let bad = |p: Piece| Piece::decode(&p.encode()).unwrap_err().to_string();
        assert!(bad(Piece {
            chunk: 1,
            ..piece(vec![])
        })
        .contains("chunk 1 of 1"));
        assert!(bad(Piece {
            chunks: 0,
            ..piece(vec![])
        })
        .contains("chunk 0 of 0"));
        assert!(bad(Piece {
            to: 9,
            ..piece(vec![])
        })
        .contains("sequence 10 .. 9"));
        let mut bytes = p.encode();
        bytes[0] = 9;
        assert!(Piece::decode(&bytes)
            .unwrap_err()
            .to_string()
            .contains("version 9"));
        assert!(Piece::decode(&[]).is_err());
        assert!(Piece::decode(&p.encode()[..20]).is_err());
    }

    /// A partition's share of a batch, translated into another store, writes exactly that
    /// partition's keys: nothing of another partition and nothing of the store's own.
    #[test]
    fn a_share_carries_its_partition_s_writes_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(&dir.path().join("a")).unwrap();
        let b = Store::open(&dir.path().join("b")).unwrap();
        let mut c = Commit::marked();
        a.put_meta(&mut c.writes_of(0), "seq/0", b"zero");
        {
            let mut one = c.writes_of(1);
            a.put_meta(&mut one, "seq/1", b"one");
            a.put_meta(&mut one, "watermark/1", b"one too");
        }
        a.put_meta(&mut c.writes_of(GLOBAL), "stats/read", b"nobody's");
        a.put_meta(&mut c.writes_of(0), "pos/0", b"zero again");
        // A delete travels as well as a put.
        c.writes_of(1)
            .batch
            .delete_cf(a.db().cf_handle(crate::store::CF_STATE).unwrap(), "acct");
        let shares = c.shares();
        assert_eq!(shares.iter().map(|s| s.0).collect::<Vec<_>>(), [0, 1]);
        let families = a.families();
        assert!(families.iter().any(|(_, n)| n == "meta"));
        let one = b.translate(&families, &shares[1].1).unwrap();
        assert_eq!(one.len(), 3);
        b.write(one).unwrap();
        assert_eq!(b.meta_bytes("seq/1").unwrap().as_deref(), Some(&b"one"[..]));
        assert_eq!(
            b.meta_bytes("watermark/1").unwrap().as_deref(),
            Some(&b"one too"[..])
        );
        for k in ["seq/0", "pos/0", "stats/read"] {
            assert_eq!(b.meta_bytes(k).unwrap(), None, "{k}");
        }
        let zero = b.translate(&families, &shares[0].1).unwrap();
        assert_eq!(zero.len(), 2);
        // The same bytes with the family ids of a store that has no such family are refused.
        let wrong: Vec<(u32, String)> = families
            .iter()
            .map(|(i, n)| (*i, format!("{n}-elsewhere")))
            .collect();
        assert!(b.translate(&wrong, &shares[0].1).is_err());
        assert!(b.translate(&families, &shares[0].1[..5]).is_err());
        // An unmarked commit has no shares.
        let mut plain = Commit::default();
        a.put_meta(&mut plain, "seq/0", b"x");
        assert!(plain.shares().is_empty());
    }

    #[test]
    #[should_panic(expected = "every write of a marked commit is marked")]
    fn a_write_left_unmarked_is_a_bug() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(dir.path()).unwrap();
        let mut c = Commit::marked();
        a.put_meta(&mut c.writes_of(0), "seq/0", b"zero");
        a.put_meta(&mut c, "seq/1", b"one");
        c.shares();
    }

    /// A write made outside `writes_of` is found by the next one: it would otherwise travel in
    /// that one's partition's share.
    #[test]
    #[should_panic(expected = "made outside `writes_of`")]
    fn a_write_outside_a_partition_is_found_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(dir.path()).unwrap();
        let mut c = Commit::marked();
        a.put_meta(&mut c.writes_of(0), "seq/0", b"zero");
        a.put_meta(&mut c, "seq/1", b"one");
        a.put_meta(&mut c.writes_of(1), "watermark/1", b"one too");
    }
}
