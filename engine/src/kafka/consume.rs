//! Consuming from Kafka: the input topics of a consumer group as a [`Source`], merged per
//! partition in event-time order.
//!
//! Ownership of progress: the offsets consumed are committed in the same RocksDB WriteBatch as the
//! log entries and state they produced (`pos/<topic>/<partition>`, by the pipeline). On every
//! assignment the consumer starts each partition at the offset stored there, never at the group's
//! committed offset, which is committed too (asynchronously, after RocksDB) only so that lag
//! monitoring works. A crash anywhere therefore re-reads exactly the messages whose effects were
//! not committed.
//!
//! Order: one partition number of every input topic is one partition of accounts (the topics are
//! co-partitioned). Within it, messages of the three topics are taken in event-time order (the
//! message timestamp, which producers set to the event's time; ties: commands, then payments,
//! then usage), and a topic partition with nothing buffered holds the others back until the
//! broker says it is at its end. Given the same messages, the order is the same however the
//! fetches fall, which is what makes a Kafka run reproducible.

use super::client::{client_config, KafkaSourceError};
use crate::source::{Line, Source, MAX_LINE_BYTES};
pub use crate::topics::Topics;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::Message;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The most messages ratel buffers while it merges a partition's topics. Messages are drained
/// from librdkafka as they come (pausing a partition lost messages on resume in testing), so
/// the buffers hold what one topic runs ahead of another in event time; past this the merge is
/// stuck on a topic that the broker says has data but does not deliver, and the run stops.
pub const MAX_BUFFERED: usize = 2_000_000;

/// The longest a batch waits for more messages once it has some (latency under a trickle).
pub const MAX_BATCH_WAIT: Duration = Duration::from_millis(500);

/// How long a message waits, while another input topic of its partition has nothing buffered,
/// for that topic's earlier messages to arrive (Kafka Streams' `max.task.idle.ms`). A producer
/// sends in event-time order, but its topics reach the broker, and come back in fetches,
/// independently: an empty topic at its cached high watermark may only not have been fetched
/// yet. Waiting costs latency at the live tail, not throughput. It must exceed
/// `FETCH_WAIT` (a fetch parked at the broker answers only after it) with room for a loaded
/// machine: the multi-instance test once saw a CDR arrive after a later payment had waited out
/// 300 ms, while fetches could be parked for librdkafka's default 500 ms.
pub const TOPIC_GRACE: Duration = Duration::from_millis(1000);

/// The longest the broker holds a fetch that has nothing new (librdkafka's `fetch.wait.max.ms`,
/// 500 by default): what arrives at the broker is fetched within about this much.
pub const FETCH_WAIT: Duration = Duration::from_millis(100);

/// The consumer group an instance joins.
#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    /// A stable name of this instance (`group.instance.id`), e.g. the host's.
    pub instance: Option<String>,
}

/// The partition count the input topics share, asked of the brokers without joining a group.
pub fn input_partitions(brokers: &str, topics: &Topics) -> Result<u32, KafkaSourceError> {
    let c: BaseConsumer = client_config(brokers).create()?;
    co_partitioned(&c, &topics.inputs())
}

/// What the rebalance callback and the source share: where each partition starts.
#[derive(Default)]
struct Shared {
    /// Next offset to read, as committed in RocksDB.
    positions: FxHashMap<(String, i32), i64>,
    /// Assigned by the last rebalance.
    assigned: Vec<(String, i32)>,
    /// Set by a rebalance: buffered messages of partitions no longer (or newly) ours are stale.
    changed: bool,
    /// Brings an assigned partition's state up to the changelog before it is read; the next
    /// offsets of its topics if it changed the store.
    restore: Option<Restore>,
    /// Waits, at the start of every rebalance, until the batch being written is durable.
    quiesce: Option<Box<dyn Fn() + Send>>,
    /// A restore changed the store: the engine reloads its state before it rates anything.
    restored: bool,
}

/// See `KafkaSource::restore_with`.
pub type Restore = Box<dyn FnMut(u32) -> Option<Vec<(String, i64)>> + Send>;

pub struct Assignor {
    shared: Arc<Mutex<Shared>>,
}

impl ClientContext for Assignor {}

impl ConsumerContext for Assignor {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let mut shared = self.shared.lock().expect("no thread panics holding it");
        if let Some(q) = &shared.quiesce {
            // A batch in flight lands before its partitions are given up or their offsets
            // read: its offsets are in `positions` already, its changelog pieces published.
            q();
        }
        shared.changed = true;
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let mut assigned = Vec::new();
                for e in tpl.elements() {
                    assigned.push((e.topic().to_string(), e.partition()));
                }
                let mut parts: Vec<i32> = assigned.iter().map(|(_, p)| *p).collect();
                parts.sort_unstable();
                parts.dedup();
                let s = &mut *shared;
                if let Some(restore) = s.restore.as_mut() {
                    // Before the partition is read: its state and offsets may move ahead.
                    for p in parts {
                        if let Some(positions) = restore(p as u32) {
                            for (t, o) in positions {
                                s.positions.insert((t, p), o);
                            }
                            s.restored = true;
                        }
                    }
                }
                for (t, p) in &assigned {
                    let start = match shared.positions.get(&(t.clone(), *p)) {
                        Some(&o) => Offset::Offset(o),
                        None => Offset::Beginning,
                    };
                    if let Err(e) = tpl.set_partition_offset(t, *p, start) {
                        tracing::error!(topic = %t, partition = p, error = %e, "cannot set the start offset");
                    }
                }
                tracing::info!(
                    partitions = assigned.len(),
                    "assigned; starting at the offsets in RocksDB"
                );
                shared.assigned = assigned;
                if let Err(e) = consumer.assign(tpl) {
                    tracing::error!(error = %e, "assign failed");
                }
            }
            _ => {
                if err != RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS {
                    tracing::warn!(?err, "rebalance error; dropping the assignment");
                }
                shared.assigned.clear();
                if let Err(e) = consumer.unassign() {
                    tracing::error!(error = %e, "unassign failed");
                }
            }
        }
    }
}

struct Msg {
    /// When it was fetched (see TOPIC_GRACE).
    arrived: Instant,
    offset: i64,
    time: i64,
    bytes: Vec<u8>,
    oversized: bool,
}

/// The input topics of a consumer group, merged per partition in event-time order.
/// What watches a source at every turn of its reading.
pub type Turn = Box<dyn FnMut(&KafkaSource) + Send>;

pub struct KafkaSource {
    consumer: BaseConsumer<Assignor>,
    shared: Arc<Mutex<Shared>>,
    topics: Vec<Arc<str>>,
    partitions: u32,
    /// Buffered messages by (partition, topic rank).
    queues: FxHashMap<(i32, usize), VecDeque<Msg>>,
    /// Next offset expected by (partition, topic rank), for telling "at the end" from "not
    /// fetched yet".
    next: FxHashMap<(i32, usize), i64>,
    assigned: Vec<i32>,
    /// Stop when every assigned partition has been at its end this long (tests, batch jobs).
    pub exit_when_idle: Option<Duration>,
    idle_since: Option<Instant>,
    /// Called at every turn of the reading, busy or idle (what watches the source).
    pub on_turn: Option<Turn>,
    /// Return an empty batch as soon as nothing arrives (the caller has a batch to finish),
    /// rather than wait for input; `ended` tells that apart from the end.
    pub yield_when_idle: bool,
    ended: bool,
    /// A rebalance happened since the batch began: the batch is dropped, unrated.
    rebalanced: bool,
    /// Rebalances seen so far: a batch read before one is stale (see `rebalances`).
    rebalances: u64,
    /// The end offset the broker last gave for a (partition, topic rank), and when: what
    /// "at its end" is judged by (see [`KafkaSource::at_end`]).
    ends: std::cell::RefCell<FxHashMap<(i32, usize), (Instant, i64)>>,
    /// The time of the message each topic partition gave last in its turn.
    before: FxHashMap<(i32, usize), i64>,
    /// Seconds by which a head must stand out of its own topic to be an outlier
    /// ([`crate::topics::outlier`]).
    pub max_ahead: i64,
}

/// How long an end offset asked of the broker stands before it is asked again: at the live
/// tail an idle topic is asked about at most this often.
pub const END_OFFSET_FOR: Duration = Duration::from_millis(100);

impl KafkaSource {
    /// Subscribes to the input topics as a member of `group`; `positions(topic, partition)` gives
    /// the next offset committed in RocksDB.
    pub fn open(
        brokers: &str,
        group: &Group,
        topics: &Topics,
        positions: impl Fn(&str, u32) -> Option<u64>,
    ) -> Result<KafkaSource, KafkaSourceError> {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let mut config = client_config(brokers);
        if let Some(id) = &group.instance {
            // Static membership: a restarted instance takes its place back without a rebalance.
            config.set("group.instance.id", id);
        }
        let consumer: BaseConsumer<Assignor> = config
            .set("group.id", &group.id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "range")
            .set("fetch.max.bytes", "52428800")
            .set("fetch.wait.max.ms", FETCH_WAIT.as_millis().to_string())
            .set("max.partition.fetch.bytes", "1048576")
            .set("queued.max.messages.kbytes", "65536")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            .create_with_context(Assignor {
                shared: shared.clone(),
            })?;
        let names = topics.inputs();
        let partitions = co_partitioned(&consumer, &names)?;
        {
            let mut s = shared.lock().expect("not poisoned");
            for t in names {
                for p in 0..partitions {
                    if let Some(o) = positions(t, p) {
                        s.positions.insert((t.to_string(), p as i32), o as i64);
                    }
                }
            }
        }
        consumer.subscribe(&names)?;
        Ok(KafkaSource {
            consumer,
            shared,
            topics: names.iter().map(|t| Arc::from(*t)).collect(),
            partitions,
            queues: FxHashMap::default(),
            next: FxHashMap::default(),
            assigned: Vec::new(),
            exit_when_idle: None,
            on_turn: None,
            idle_since: None,
            yield_when_idle: false,
            ended: false,
            rebalanced: false,
            rebalances: 0,
            ends: Default::default(),
            before: FxHashMap::default(),
            max_ahead: crate::pipeline::DEFAULT_MAX_AHEAD,
        })
    }

    /// On every assignment, before a partition is read, `restore(p)` may bring its state in
    /// the store up to the changelog; it returns the partition's next offsets if it did.
    pub fn restore_with(&mut self, restore: Restore) {
        self.shared.lock().expect("not poisoned").restore = Some(restore);
    }

    /// At the start of every rebalance, `quiesce()` waits until the batch being written (if
    /// any) is durable.
    pub fn quiesce_with(&mut self, quiesce: Box<dyn Fn() + Send>) {
        self.shared.lock().expect("not poisoned").quiesce = Some(quiesce);
    }

    /// These lines are being written: a rebalance (which waits for the write, see
    /// `quiesce_with`) starts their partitions after them.
    pub fn advance(&mut self, lines: &[Line]) {
        let ends = ends_of(lines);
        let mut s = self.shared.lock().expect("not poisoned");
        for ((t, p), o) in ends {
            s.positions.insert((t.to_string(), p), o);
        }
    }

    /// How many rebalances this source has seen. Lines returned before a rebalance and not yet
    /// `advance`d are stale: every assigned partition is read again from its position, so the
    /// caller drops them (they are read again, or belong to another instance now).
    pub fn rebalances(&self) -> u64 {
        self.rebalances
    }

    /// The source stopped for good (`exit_when_idle`): an empty batch is the end, not a pause.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// A restore changed the store since the last call: the state in memory is stale.
    pub fn take_restored(&mut self) -> bool {
        std::mem::take(&mut self.shared.lock().expect("not poisoned").restored)
    }

    /// The partitions this instance owns, as of the last batch.
    pub fn assigned(&self) -> impl Iterator<Item = u32> + '_ {
        self.assigned.iter().map(|&p| p as u32)
    }

    /// The partition count the input topics share.
    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    fn rank(&self, topic: &str) -> Option<usize> {
        self.topics.iter().position(|t| &**t == topic)
    }

    /// The input topics' names.
    pub fn topic_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.topics.iter().map(|t| &**t)
    }

    /// The end of a topic partition as the last fetch saw it (no request to the broker).
    pub fn fetched_end(&self, topic: &str, partition: u32) -> Option<u64> {
        self.high_watermark(topic, partition as i32)
            .map(|h| h as u64)
    }

    /// librdkafka's cached high watermark of a topic partition (no request).
    fn high_watermark(&self, topic: &str, partition: i32) -> Option<i64> {
        let t = std::ffi::CString::new(topic).ok()?;
        let (mut low, mut high) = (-1i64, -1i64);
        // SAFETY: the client pointer lives as long as the consumer; the call only reads
        // librdkafka's cached values into the two out-parameters.
        let err = unsafe {
            rdkafka::bindings::rd_kafka_get_watermark_offsets(
                self.consumer.client().native_ptr(),
                t.as_ptr(),
                partition,
                &mut low,
                &mut high,
            )
        };
        (err == RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0).then_some(high)
    }

    /// A rebalance happened: buffered messages are dropped (they were not rated) and each
    /// assigned partition is read again from its committed offset.
    fn take_rebalance(&mut self) {
        let mut s = self.shared.lock().expect("not poisoned");
        if !s.changed {
            return;
        }
        s.changed = false;
        self.rebalanced = true;
        self.rebalances += 1;
        self.queues.clear();
        self.next.clear();
        self.ends.borrow_mut().clear();
        self.before.clear();
        let mut parts: Vec<i32> = Vec::new();
        for (t, p) in &s.assigned {
            let Some(r) = self.topics.iter().position(|x| &**x == t.as_str()) else {
                continue;
            };
            let start = s.positions.get(&(t.clone(), *p)).copied().unwrap_or(0);
            self.next.insert((*p, r), start);
            if !parts.contains(p) {
                parts.push(*p);
            }
        }
        parts.sort_unstable();
        self.assigned = parts;
    }

    /// Whether a topic partition holds nothing past what was read. librdkafka's cached high
    /// watermark only says what the last fetch saw: in a backlog, a topic whose fetched data is
    /// all read looks at its end while the broker holds days more, and the merge would rate the
    /// other topics' later messages first. So an end is confirmed by the end offset asked of
    /// the broker (ListOffsets, as Kafka Streams does since KIP-695), at most every
    /// [`END_OFFSET_FOR`]; a topic the broker cannot answer for is not at its end.
    fn at_end(&self, partition: i32, rank: usize) -> bool {
        let next = self.next.get(&(partition, rank)).copied().unwrap_or(0);
        match self.high_watermark(&self.topics[rank], partition) {
            Some(high) if next < high => return false,
            Some(_) => {}
            None => return false,
        }
        let key = (partition, rank);
        if let Some(&(asked, end)) = self.ends.borrow().get(&key) {
            if asked.elapsed() < END_OFFSET_FOR {
                return next >= end;
            }
        }
        match self
            .consumer
            .fetch_watermarks(&self.topics[rank], partition, Duration::from_secs(5))
        {
            Ok((_, end)) => {
                self.ends.borrow_mut().insert(key, (Instant::now(), end));
                next >= end
            }
            Err(e) => {
                tracing::warn!(error = %e, topic = &*self.topics[rank], partition, "end offset");
                false
            }
        }
    }

    /// A message taken from the head of a topic partition's queue, as a line.
    fn take(&mut self, partition: i32, rank: usize) -> Line {
        let m = self
            .queues
            .get_mut(&(partition, rank))
            .and_then(std::collections::VecDeque::pop_front)
            .expect("the head just seen");
        Line {
            topic: Some(self.topics[rank].clone()),
            partition: partition as u32,
            position: m.offset as u64 + 1,
            at: m.offset as u64,
            bytes: m.bytes,
            oversized: m.oversized,
            far_ahead: false,
            file: None,
        }
    }

    /// Whether the head of topic `r` of partition `p` is an outlier of its topic
    /// ([`crate::topics::outlier`]); `None` while that cannot be told (the message after
    /// it is on the broker, not here yet).
    fn stands_out(&self, partition: i32, rank: usize) -> Option<bool> {
        let Some(q) = self.queues.get(&(partition, rank)) else {
            return Some(false);
        };
        let Some(head) = q.front() else {
            return Some(false);
        };
        let after = match q.get(1) {
            Some(m) => Some(m.time),
            None if self.at_end(partition, rank) => None,
            None => return None,
        };
        let before = self.before.get(&(partition, rank)).copied();
        Some(crate::topics::outlier(
            head.time,
            before,
            after,
            self.max_ahead,
        ))
    }

    /// Moves messages that are ready, in merged order, into `out`.
    fn merge(&mut self, max: usize, out: &mut Vec<Line>) {
        let ranks = self.topics.len();
        for i in 0..self.assigned.len() {
            let p = self.assigned[i];
            while out.len() < max {
                let mut best: Option<(i64, usize, Instant)> = None;
                let (mut blocked, mut empty) = (false, false);
                for r in 0..ranks {
                    match self.queues.get(&(p, r)).and_then(|q| q.front()) {
                        Some(m) => {
                            if best.is_none_or(|(t, _, _)| m.time < t) {
                                best = Some((m.time, r, m.arrived));
                            }
                        }
                        None => {
                            empty = true;
                            if !self.at_end(p, r) {
                                blocked = true;
                            }
                        }
                    }
                }
                // An outlier of its own topic is given at once; a head whose next message is
                // not here yet cannot be judged, and waits for it like an empty topic.
                let mut outlier = None;
                for r in 0..ranks {
                    match self.stands_out(p, r) {
                        Some(true) => outlier = outlier.or(Some(r)),
                        Some(false) => {}
                        None => blocked = true,
                    }
                }
                if let Some(r) = outlier {
                    let mut line = self.take(p, r);
                    line.far_ahead = true;
                    out.push(line);
                    continue;
                }
                let Some((time, r, arrived)) = best.filter(|_| !blocked) else {
                    break;
                };
                if empty && arrived.elapsed() < TOPIC_GRACE {
                    break;
                }
                let line = self.take(p, r);
                out.push(line);
                self.before.insert((p, r), time);
            }
        }
    }

    fn buffered(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum()
    }

    /// Refuses to buffer without end (see MAX_BUFFERED).
    fn check_buffers(&self) -> Result<(), KafkaError> {
        let n = self.buffered();
        if n > MAX_BUFFERED {
            tracing::error!(buffered = n, "the merge of the input topics is stuck");
            return Err(KafkaError::MessageConsumption(
                rdkafka::types::RDKafkaErrorCode::QueueFull,
            ));
        }
        Ok(())
    }

    /// Polls for up to `wait`; false if nothing came.
    fn poll(&mut self, wait: Duration) -> Result<bool, KafkaError> {
        let Some(r) = self.consumer.poll(wait) else {
            self.take_rebalance();
            return Ok(false);
        };
        let m = match r {
            Ok(m) => m,
            Err(KafkaError::PartitionEOF(_)) => return Ok(false),
            Err(e) => {
                // Transient broker errors are retried by librdkafka; they are reported here.
                tracing::warn!(error = %e, "consumer");
                return Ok(false);
            }
        };
        let (p, offset) = (m.partition(), m.offset());
        let rank = self.rank(m.topic());
        let payload = m.payload().unwrap_or_default();
        let oversized = payload.len() > MAX_LINE_BYTES;
        let bytes = payload[..payload.len().min(MAX_LINE_BYTES + 1)].to_vec();
        let time = m.timestamp().to_millis().unwrap_or(0);
        drop(m);
        // A rebalance inside this poll makes what came before it stale.
        self.take_rebalance();
        if let Some(rank) = rank {
            if self.assigned.contains(&p) {
                let want = self.next.insert((p, rank), offset + 1).unwrap_or(offset);
                if offset > want {
                    // Offsets a broker never delivered: transaction markers take one each, but
                    // a wider gap is input lost to retention or compaction before it was rated.
                    tracing::warn!(
                        topic = &*self.topics[rank],
                        partition = p,
                        from = want,
                        to = offset,
                        "offsets skipped"
                    );
                }
                self.queues.entry((p, rank)).or_default().push_back(Msg {
                    arrived: Instant::now(),
                    offset,
                    time,
                    bytes,
                    oversized,
                });
            }
        }
        Ok(true)
    }
}

/// The partition count of the input topics, which must be the same for all (co-partitioned).
fn co_partitioned<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topics: &[&str],
) -> Result<u32, KafkaSourceError> {
    let mut counts = Vec::new();
    for t in topics {
        let md = consumer.fetch_metadata(Some(t), Duration::from_secs(30))?;
        let n = md
            .topics()
            .iter()
            .find(|x| x.name() == *t)
            .map(|x| x.partitions().len())
            .unwrap_or(0);
        if n == 0 {
            return Err(KafkaSourceError::Topology(format!(
                "input topic {t} does not exist (create it, or run `ratel produce --create N`)"
            )));
        }
        counts.push((t.to_string(), n as u32));
    }
    let n = counts[0].1;
    if counts.iter().any(|c| c.1 != n) || n > crate::partition::MAX_PARTITIONS {
        return Err(KafkaSourceError::Topology(format!(
            "the input topics must have the same number of partitions (at most {}): {counts:?}",
            crate::partition::MAX_PARTITIONS
        )));
    }
    Ok(n)
}

/// The next offset of each topic partition after `lines`.
fn ends_of(lines: &[Line]) -> FxHashMap<(Arc<str>, i32), i64> {
    let mut ends: FxHashMap<(Arc<str>, i32), i64> = FxHashMap::default();
    for l in lines {
        if let Some(t) = &l.topic {
            ends.insert((t.clone(), l.partition as i32), l.position as i64);
        }
    }
    ends
}

impl Source for KafkaSource {
    fn next_batch(&mut self, max: usize, out: &mut Vec<Line>) -> std::io::Result<()> {
        loop {
            self.fill(max, out)?;
            if !std::mem::take(&mut self.rebalanced) {
                return Ok(());
            }
            out.clear();
        }
    }

    fn describe(&self) -> String {
        format!("kafka:{}", self.topics.join(","))
    }

    fn committed(&mut self, lines: &[Line]) {
        // `advance` moved the start offsets when the lines went to be written.
        let mut tpl = TopicPartitionList::new();
        for ((t, p), o) in ends_of(lines) {
            if tpl.add_partition_offset(&t, p, Offset::Offset(o)).is_err() {
                continue;
            }
        }
        // For lag monitoring only: RocksDB holds the offsets ratel resumes from.
        if tpl.count() > 0 {
            if let Err(e) = self.consumer.commit(&tpl, CommitMode::Async) {
                tracing::debug!(error = %e, "group offset commit");
            }
        }
    }
}

impl KafkaSource {
    /// Fills a batch; a rebalance meanwhile sets `rebalanced` and the caller starts over.
    fn fill(&mut self, max: usize, out: &mut Vec<Line>) -> std::io::Result<()> {
        let io = |e: KafkaError| std::io::Error::other(e.to_string());
        let started = Instant::now();
        loop {
            // A stop asked for ends the source: what was read is rated and landed first.
            if crate::operations::shutdown::requested() {
                self.ended = true;
                return Ok(());
            }
            if let Some(mut watch) = self.on_turn.take() {
                watch(self);
                self.on_turn = Some(watch);
            }
            if self.rebalanced {
                // Nothing in the batch is rated yet; every assigned partition is read again
                // from the offset RocksDB holds, so none of it is lost or read twice.
                return Ok(());
            }
            self.merge(max, out);
            if out.len() >= max {
                break;
            }
            // Drain what librdkafka has fetched, without waiting (bounded per round; memory is
            // bounded by pausing full partitions and by librdkafka's own prefetch limit).
            let mut got = false;
            for _ in 0..65_536 {
                if !self.poll(Duration::ZERO).map_err(io)? {
                    break;
                }
                got = true;
            }
            if got {
                self.check_buffers().map_err(io)?;
            }
            if got {
                self.idle_since = None;
                continue;
            }
            // A batch fills while messages keep coming, but waits no longer than this for them.
            if !out.is_empty() && started.elapsed() > MAX_BATCH_WAIT {
                break;
            }
            let wait = if out.is_empty() { 50 } else { 5 };
            if self.poll(Duration::from_millis(wait)).map_err(io)? {
                self.idle_since = None;
                continue;
            }
            if !out.is_empty() || self.yield_when_idle {
                break;
            }
            if let Some(idle) = self.exit_when_idle {
                let quiet = !self.assigned.is_empty()
                    && self.buffered() == 0
                    && self
                        .assigned
                        .iter()
                        .all(|&p| (0..self.topics.len()).all(|r| self.at_end(p, r)));
                if quiet {
                    let since = *self.idle_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= idle {
                        self.ended = true;
                        break;
                    }
                } else {
                    self.idle_since = None;
                }
            }
        }
        Ok(())
    }
}
