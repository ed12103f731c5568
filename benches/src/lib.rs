//! The measurements the throughput benchmarks and the harness share: each runs one step of
//! ratel over a generated workload and the raw limit it is set beside, in the same process, and
//! returns seconds, events, the CPU time and the peak memory of the step.

use engine::pipeline::{Config, Engine};
use engine::source::FileSource;
use engine::workload::Workload;
use mimalloc::MiMalloc;
use rating::Catalog;
use rocksdb::{Options, WriteBatch, WriteOptions, DB};
use std::alloc::{GlobalAlloc, Layout};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicIsize, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A number from the environment (underscores allowed), or `default`.
pub fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// One timed step: events per second, the CPU it took and the resident memory it peaked at.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measure {
    pub events: u64,
    pub secs: f64,
    /// CPU seconds (user and system, every thread) of this process during the step, and of
    /// the broker when one is running ([`Broker`]): on this machine's cores, what the step cost
    /// beside what it took.
    pub cpu: f64,
    /// Peak resident set of the process during the step, in bytes (Linux: VmHWM, reset before
    /// the step), or 0 where it cannot be read.
    pub peak: u64,
}

impl Measure {
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.secs.max(1e-9)
    }

    /// Cores busy on average during the step.
    pub fn cores(&self) -> f64 {
        self.cpu / self.secs.max(1e-9)
    }

    /// CPU microseconds an event.
    pub fn cpu_per_event(&self) -> f64 {
        1e6 * self.cpu / (self.events.max(1) as f64)
    }
}

/// The machine's cores, as the standard library sees them.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// A report's cell for a step's CPU: seconds, and the cores busy on average.
pub fn cpu_cell(m: &Measure) -> String {
    format!("{:.1} ({:.2} of {})", m.cpu, m.cores(), cores())
}

/// What a target rate leaves a step on this machine: its cores' CPU time an event at that
/// rate, beside what the step spent an event. A step that spends more cannot reach the
/// target on these cores, whatever overlaps with what.
pub fn budget(target: &str, rate: f64, m: &Measure) -> String {
    format!(
        "At {target} ({rate:.0} events/s) the machine's {} cores give at most {:.2} CPU µs an event; the step spent {:.2}.",
        cores(),
        allowed(rate),
        m.cpu_per_event()
    )
}

/// The CPU microseconds an event that this machine's cores give at `rate` events a second.
pub fn allowed(rate: f64) -> f64 {
    1e6 * cores() as f64 / rate.max(1e-9)
}

/// The broker's process id while one runs (0: none): its CPU counts in every step.
static BROKER_PID: AtomicU32 = AtomicU32::new(0);

/// CPU seconds (user and system) used so far by the process `pid` ("self": this one), from
/// `/proc/PID/stat`; 0 where it cannot be read.
fn cpu_of(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name, in parentheses, may hold spaces: the fields start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    // utime and stime are fields 14 and 15 of stat(5); the first after the name is field 3.
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    // SAFETY: sysconf reads a constant of the system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    match (ticks(14), ticks(15)) {
        (Some(u), Some(s)) => (u + s) as f64 / hz,
        _ => 0.0,
    }
}

/// CPU seconds used so far by each thread of this process, by thread name with its digits
/// dropped (librdkafka's and RocksDB's threads are numbered), and by the broker ("broker") if
/// one runs: where a step's CPU went (see [`cpu_spent`]).
pub fn cpu_by_thread() -> BTreeMap<String, f64> {
    let mut by = BTreeMap::new();
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            let tid = t.file_name().to_string_lossy().into_owned();
            let name = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
                .unwrap_or_default()
                .trim()
                .replace(|c: char| c.is_ascii_digit(), "");
            *by.entry(name).or_insert(0.0) += cpu_of(&format!("self/task/{tid}"));
        }
    }
    if let Some(b) = broker_cpu() {
        by.insert("broker".into(), b);
    }
    by
}

/// CPU seconds used so far by the running broker, if one runs.
fn broker_cpu() -> Option<f64> {
    let broker = BROKER_PID.load(Ordering::Relaxed);
    (broker != 0).then(|| cpu_of(&broker.to_string()))
}

/// The CPU seconds each thread name spent between two [`cpu_by_thread`] readings, most first
/// (a thread that ended in between is missing: its time stays in the process's total).
pub fn cpu_spent(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> Vec<(String, f64)> {
    let mut spent: Vec<(String, f64)> = after
        .iter()
        .map(|(n, &a)| (n.clone(), a - before.get(n).copied().unwrap_or(0.0)))
        .filter(|(_, s)| *s > 0.0)
        .collect();
    spent.sort_by(|a, b| b.1.total_cmp(&a.1));
    spent
}

/// CPU seconds used so far by this process and the running broker, if any.
pub fn cpu_now() -> f64 {
    cpu_of("self") + broker_cpu().unwrap_or(0.0)
}

/// Resets the process's peak resident set, so that the next [`peak`] is the step's own.
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak resident set since the last [`reset_peak`], in bytes.
pub fn peak() -> u64 {
    memory_status("VmHWM:")
}

/// The process's resident set now, in bytes.
pub fn resident() -> u64 {
    memory_status("VmRSS:")
}

/// A field of the process's status in bytes (Linux), or 0 where it cannot be read.
fn memory_status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Runs `f` as a step: timed, its peak memory read.
pub fn step<T>(events: impl FnOnce(&T) -> u64, f: impl FnOnce() -> T) -> (T, Measure) {
    reset_peak();
    let (started, cpu) = (Instant::now(), cpu_now());
    let out = f();
    let secs = started.elapsed().as_secs_f64();
    let m = Measure {
        events: events(&out),
        secs,
        cpu: cpu_now() - cpu,
        peak: peak(),
    };
    (out, m)
}

/// A generated workload written to a file.
pub struct Work {
    pub path: PathBuf,
    pub lines: u64,
    pub bytes: u64,
    pub accounts: u64,
    pub days: u32,
}

/// Writes a generated workload of `accounts` over `days` at `per_day` events per account and
/// day (seed 1, the generator's duplicates and bad lines).
pub fn workload(dir: &Path, accounts: u64, days: u32, per_day: f64) -> Work {
    let path = dir.join("work.jsonl");
    let w = Workload {
        accounts,
        days,
        events_per_day: per_day,
        seed: 1,
        ..Workload::default()
    };
    let lines = w
        .write(
            &mut std::io::BufWriter::new(std::fs::File::create(&path).unwrap()),
            |_| {},
        )
        .unwrap();
    let bytes = std::fs::metadata(&path).unwrap().len();
    Work {
        path,
        lines,
        bytes,
        accounts,
        days,
    }
}

pub fn example() -> Catalog {
    Catalog::from_toml("example", engine::EXAMPLE_CATALOG).unwrap()
}

/// Lines decoded at a time by [`in_memory`].
const IN_MEMORY_CHUNK: usize = 4096;

/// Rating in memory: every line decoded, rated and applied, nothing written; beside it, its raw
/// limit: decoding the same lines alone.
pub fn in_memory(work: &Work) -> (Measure, Measure, rating::State) {
    let text = std::fs::read(&work.path).unwrap();
    let (_, decode) = step(
        |n: &u64| *n,
        || {
            let mut n = 0;
            for l in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                std::hint::black_box(rating::codec::parse_json(l).ok());
                n += 1;
            }
            n
        },
    );
    let cat = example();
    // Decoded and rated a chunk at a time, as the engine rates a batch: the chunk's inputs to
    // come are known, so their accounts are asked of memory ahead (`rating::prefetch`).
    let (state, rated) = step(
        |_: &rating::State| decode.events,
        || {
            let mut s = rating::State::new();
            let mut lines = text.split(|&b| b == b'\n').filter(|l| !l.is_empty());
            let mut chunk = Vec::with_capacity(IN_MEMORY_CHUNK);
            loop {
                chunk.clear();
                let mut taken = 0;
                for l in lines.by_ref().take(IN_MEMORY_CHUNK) {
                    taken += 1;
                    chunk.extend(rating::codec::parse_json(l).ok());
                }
                if taken == 0 {
                    break;
                }
                let mut ahead = rating::prefetch::Ahead::default();
                for (j, i) in chunk.iter().enumerate() {
                    ahead.before(&s, j, |k| chunk.get(k));
                    std::hint::black_box(rating::step(&mut s, &cat, i));
                }
            }
            s
        },
    );
    (rated, decode, state)
}

/// `ratel run` from the file into a RocksDB store at `data`, WAL synced per batch.
pub fn file_run(work: &Work, data: &Path, batch: usize) -> (Measure, u64) {
    let (e, m) = step(
        |_: &Engine| work.lines,
        || {
            let mut e = Engine::open(
                data,
                example(),
                engine::EXAMPLE_CATALOG.as_bytes(),
                Config {
                    batch,
                    sync: true,
                    ..Config::default()
                },
            )
            .unwrap();
            let mut src = FileSource::open(work.path.clone(), 0).unwrap();
            e.run(&mut src, |_, _| {}).unwrap();
            e
        },
    );
    // Untimed: everything into table files, so that a read-only reader sees it all.
    e.store.flush().unwrap();
    let entries = e.store.log().count() as u64;
    (m, entries)
}

/// The store's column families a run writes.
fn families() -> Vec<&'static str> {
    let mut names = vec![
        "log",
        "by_account",
        "state",
        "seen",
        "reports",
        "holders",
        "due",
    ];
    names.extend(projections::models::FAMILIES);
    names
}

/// The bytes of the keys and values (with their family's name) in the families a run writes.
pub fn stored_bytes(store: &engine::store::Store) -> u64 {
    let db = store.db();
    let mut total = 0;
    for cf in families() {
        let h = db.cf_handle(cf).unwrap();
        for kv in db.iterator_cf(h, rocksdb::IteratorMode::Start) {
            let (k, v) = kv.unwrap();
            total += (cf.len() + k.len() + v.len()) as u64;
        }
    }
    total
}

/// At most this many bytes of keys and values are copied for the raw write: a large store's
/// whole contents would not fit in memory beside it.
pub const RAW_SAMPLE_BYTES: usize = 1 << 30;

/// The raw limit of a run: the keys and values the run left in the store's log, index, seen,
/// state and read-model families, written to a fresh RocksDB in batches of as many bytes as
/// the run's batches held, WAL synced per batch. A store larger than [`RAW_SAMPLE_BYTES`] is
/// sampled (every k-th key of each family) and the rate scaled by the share written. Returns
/// the measure (events: the run's lines, in proportion) and the store's bytes.
pub fn raw_write(work: &Work, data: &Path, dir: &Path, batch: usize) -> (Measure, u64) {
    let names = families();
    // Opened as the engine opens it: the spending family needs its merge operator to be read.
    let store = engine::store::Store::open(data).unwrap();
    let db = store.db();
    let total = stored_bytes(&store) as usize;
    let every = total.div_ceil(RAW_SAMPLE_BYTES).max(1);
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for cf in &names {
        let h = db.cf_handle(cf).unwrap();
        for (i, kv) in db.iterator_cf(h, rocksdb::IteratorMode::Start).enumerate() {
            if i % every != 0 {
                continue;
            }
            let (k, v) = kv.unwrap();
            let mut key = cf.as_bytes().to_vec();
            key.extend_from_slice(&k);
            pairs.push((key, v.to_vec()));
        }
    }
    drop(store);
    let sampled: usize = pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
    opts.set_write_buffer_size(64 << 20);
    let raw = DB::open(&opts, dir.join("raw")).unwrap();
    let batches = (work.lines as f64 / batch as f64).ceil().max(1.0);
    let per_batch = ((total as f64 / batches).ceil() as usize).max(1);
    let mut wo = WriteOptions::default();
    wo.set_sync(true);
    let share = sampled as f64 / total.max(1) as f64;
    let (_, m) = step(
        |_: &()| (work.lines as f64 * share).round() as u64,
        || {
            let mut b = WriteBatch::default();
            let mut size = 0;
            for (k, v) in &pairs {
                b.put(k, v);
                size += k.len() + v.len();
                if size >= per_batch {
                    raw.write_opt(std::mem::take(&mut b), &wo).unwrap();
                    size = 0;
                }
            }
            if !b.is_empty() {
                raw.write_opt(b, &wo).unwrap();
            }
        },
    );
    (m, total as u64)
}

/// `ratel replay` of the store: every decision rated again and compared byte for byte (events:
/// log entries); beside it, its raw limit: reading and decoding every entry of the log.
pub fn replay(data: &Path) -> (Measure, Measure) {
    let store = engine::store::Store::open(data).unwrap();
    let (n, read) = step(
        |n: &u64| *n,
        || store.log().map(Result::unwrap).map(drop).count() as u64,
    );
    let (report, m) = step(
        |_: &engine::replay::ReplayReport| n,
        || engine::replay::replay(&store, |_| {}).unwrap(),
    );
    assert!(report.ok(), "replay found differences: {report:?}");
    (m, read)
}

/// A tansu broker on a loopback port, killed when dropped.
pub struct Broker {
    child: std::process::Child,
    pub addr: String,
}

impl Drop for Broker {
    fn drop(&mut self) {
        BROKER_PID.store(0, Ordering::Relaxed);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Broker {
    /// Starts `tansu` (RATEL_TANSU, else on PATH) with memory storage; `None` if it cannot run.
    pub fn start() -> Option<Broker> {
        let tansu = std::env::var("RATEL_TANSU").unwrap_or_else(|_| "tansu".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = std::process::Command::new(&tansu)
            .args(["broker", "--listener-url", &url])
            .args(["--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        BROKER_PID.store(child.id(), Ordering::Relaxed);
        let b = Broker {
            child,
            addr: format!("127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(&b.addr).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(b)
    }
}

/// What a Kafka measurement found.
pub struct FromKafka {
    pub raw: Measure,
    pub run: Measure,
    pub produce_secs: f64,
    pub join_secs: f64,
    pub bytes: u64,
    /// A fresh store restored from the changelog ratel kept (log entries a second), when it
    /// kept one.
    pub restore: Option<Measure>,
    /// Where ratel's step spent its CPU: seconds by thread name, and the broker's.
    pub threads: Vec<(String, f64)>,
    /// ratel's outputs (when it published) and changelog (when it kept one), published again
    /// by rdkafka alone ([`raw_publish`]).
    pub publishing: Vec<Published>,
    /// The store ratel left, written again by RocksDB alone ([`raw_write`]).
    pub writing: Measure,
    /// The workload decoded, rated and applied in memory ([`in_memory`]).
    pub rating: Measure,
}

/// The workload produced to the broker's input topics (`partitions` each), then (1) consumed
/// by rdkafka alone from the beginning, (2) consumed, rated, committed (WAL synced per batch)
/// and, with `publish`, published by ratel, timed from its first batch to the one that
/// completes the input (joining the group is not throughput).
pub fn kafka(
    broker: &Broker,
    work: &Work,
    dir: &Path,
    partitions: u32,
    batch: usize,
    publish: bool,
    idempotent: bool,
) -> FromKafka {
    use engine::kafka::{Group, Topics};
    use rdkafka::Message;
    let brokers = &broker.addr;
    let lines = work.lines;
    let topics = Topics::default();
    let mut names = topics.inputs().to_vec();
    names.extend(topics.outputs());
    engine::kafka::create_topics(brokers, &names, partitions).unwrap();
    let started = Instant::now();
    engine::kafka::produce(
        brokers,
        &topics,
        &work.path,
        idempotent,
        engine::kafka::BATCH_MESSAGES,
        |_| {},
    )
    .unwrap();
    let produce_secs = started.elapsed().as_secs_f64();

    reset_peak();
    // Timed from the first message, as ratel is from its first batch: connecting and the
    // first fetch's round trips are not throughput.
    let (mut n, mut bytes) = (0u64, 0usize);
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    // CPU at the first message and at every 1024th after it (reading /proc for every message
    // would be a cost of its own): the window misses at most 1 023 messages' CPU.
    let (mut cpu_first, mut cpu_last) = (0.0, 0.0);
    drain(
        brokers,
        "raw-reader",
        &topics.inputs(),
        partitions,
        &[("max.partition.fetch.bytes", "1048576")],
        |m| {
            bytes += m.payload().map_or(0, <[u8]>::len);
            n += 1;
            last = Instant::now();
            if first.is_none() {
                cpu_first = cpu_now();
                cpu_last = cpu_first;
            } else if n % 1024 == 0 {
                cpu_last = cpu_now();
            }
            first.get_or_insert(last);
        },
    );
    let raw = Measure {
        events: n,
        secs: last.duration_since(first.unwrap_or(last)).as_secs_f64(),
        cpu: cpu_last - cpu_first,
        peak: peak(),
    };
    assert_eq!(n, lines, "the broker holds every message produced");

    let changelog = (std::env::var("RATEL_BENCH_CHANGELOG").as_deref() != Ok("0"))
        .then(|| engine::changelog::DEFAULT_TOPIC.to_string());
    let o = engine::stream::Options {
        group: Group {
            id: "ratel-bench".into(),
            instance: None,
        },
        topics,
        exit_when_idle: Some(Duration::from_secs(3)),
        publish,
        idempotent,
        // The production default; RATEL_BENCH_CHANGELOG=0 measures without it.
        changelog: changelog.clone(),
        ready_lag: engine::kafka::watch::DEFAULT_READY_LAG,
    };
    reset_peak();
    let started = Instant::now();
    let mut first: Option<(Instant, f64, BTreeMap<String, f64>)> = None;
    let mut done: Option<(Instant, f64, BTreeMap<String, f64>)> = None;
    let e = engine::stream::run(
        &dir.join("kafka-store"),
        example(),
        engine::EXAMPLE_CATALOG.as_bytes(),
        brokers,
        Config {
            batch,
            sync: true,
            ..Config::default()
        },
        &o,
        |_, c| {
            first.get_or_insert_with(|| (Instant::now(), cpu_now(), cpu_by_thread()));
            if c.read >= lines && done.is_none() {
                done = Some((Instant::now(), cpu_now(), cpu_by_thread()));
            }
        },
    )
    .unwrap();
    assert_eq!(e.counters.read, lines, "ratel read every message");
    let (first, cpu_first, threads_first) = first.expect("a batch");
    let (done, cpu_done, threads_done) = done.expect("the batch that completes the input");
    let threads = cpu_spent(&threads_first, &threads_done);
    let run = Measure {
        events: lines,
        secs: done.duration_since(first).as_secs_f64(),
        cpu: cpu_done - cpu_first,
        peak: peak(),
    };
    drop(e);
    // The floor under ratel's step: each part of the work it cannot skip, done alone.
    // Each topic as ratel publishes it, and the charges and the changelog also without
    // compression (LZ4 is most of librdkafka's thread in ratel's run) and the charges without
    // payloads: the floor counts the cheapest.
    let again_as = |topic, changelog, bare, uncompressed| Again {
        topic,
        changelog,
        bare,
        uncompressed,
    };
    let mut again: Vec<Again<'_>> = Vec::new();
    if publish {
        let charges = o.topics.charges_topic.as_str();
        again.extend(o.topics.outputs().map(|t| again_as(t, false, false, false)));
        again.push(again_as(charges, false, false, true));
        again.push(again_as(charges, false, true, false));
    }
    if let Some(t) = changelog.as_deref() {
        again.push(again_as(t, true, false, false));
        again.push(again_as(t, true, false, true));
    }
    let batches = lines.div_ceil(batch as u64);
    let publishing = raw_publish(brokers, &again, partitions, idempotent, lines, batches);
    let (writing, _) = raw_write(work, &dir.join("kafka-store"), dir, batch);
    let (rating, ..) = in_memory(work);
    // What a new owner of every partition does first: a fresh store brought up to the
    // changelog, partition by partition.
    let restore = changelog.map(|topic| {
        let fresh = Engine::open(
            &dir.join("restored-store"),
            example(),
            engine::EXAMPLE_CATALOG.as_bytes(),
            Config {
                partitions,
                ..Config::default()
            },
        )
        .unwrap();
        let tag = fresh.cat.tag();
        reset_peak();
        let (started, cpu) = (Instant::now(), cpu_now());
        let mut entries = 0;
        for p in 0..partitions {
            let r = engine::changelog::restore(brokers, &topic, &fresh.store, tag, p).unwrap();
            assert_eq!(r.stopped, None, "partition {p} restored to the end");
            entries += r.to - r.from;
        }
        Measure {
            events: entries,
            secs: started.elapsed().as_secs_f64(),
            cpu: cpu_now() - cpu,
            peak: peak(),
        }
    });
    FromKafka {
        raw,
        run,
        produce_secs,
        join_secs: first.duration_since(started).as_secs_f64(),
        bytes: bytes as u64,
        restore,
        threads,
        publishing,
        writing,
        rating,
    }
}

/// Reads every partition of `topics` from the beginning (assigned, not subscribed: no group's
/// offsets count), with `extra` settings, and calls `each` for every message until none has
/// come for 2 s (30 s before the first).
fn drain(
    brokers: &str,
    group: &str,
    topics: &[&str],
    partitions: u32,
    extra: &[(&str, &str)],
    mut each: impl FnMut(rdkafka::message::BorrowedMessage<'_>),
) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Offset, TopicPartitionList};
    let mut config = engine::kafka::client_config(brokers);
    config
        .set("group.id", group)
        .set("fetch.max.bytes", "52428800");
    for (k, v) in extra {
        config.set(*k, *v);
    }
    let c: BaseConsumer = config.create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for t in topics {
        for p in 0..partitions as i32 {
            tpl.add_partition_offset(t, p, Offset::Beginning).unwrap();
        }
    }
    c.assign(&tpl).unwrap();
    let (mut any, mut last) = (false, Instant::now());
    while last.elapsed() < Duration::from_secs(if any { 2 } else { 30 }) {
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            each(m.unwrap());
            (any, last) = (true, Instant::now());
        }
    }
}

/// One of ratel's topics for [`raw_publish`] to publish again.
#[derive(Debug, Clone, Copy)]
pub struct Again<'a> {
    pub topic: &'a str,
    /// With the changelog's producer settings (`changelog::producer_config`), else the
    /// outbox's (`kafka::producer_config`).
    pub changelog: bool,
    /// Each message without its payload: key and headers only, the least a message costs.
    pub bare: bool,
    /// With `compression.type=none` instead of the producer's LZ4.
    pub uncompressed: bool,
}

/// One topic of ratel's published again by rdkafka alone: what it held after ratel's run, and
/// the measure of producing it.
pub struct Published {
    /// ratel's topic.
    pub topic: String,
    /// Published without payloads ([`Again::bare`]).
    pub bare: bool,
    /// Published without compression ([`Again::uncompressed`]).
    pub uncompressed: bool,
    pub messages: u64,
    /// Keys and payloads, as published again.
    pub bytes: u64,
    pub measure: Measure,
}

/// The raw limit of ratel's publishing: every message ratel left on each topic of `again`,
/// read back into memory, then produced again by rdkafka alone to a fresh topic (`floor.`,
/// `bare.` and `uncompressed.` as they apply, and the name): same partitions, keys, payloads
/// and headers, with the settings of the producer ratel uses for that topic, flushed after each of `batches` shares as ratel
/// flushes after each batch; one topic after another, so that each has its own measure. Only
/// the producing is timed (events: `events`, the run's lines).
pub fn raw_publish(
    brokers: &str,
    again: &[Again<'_>],
    partitions: u32,
    idempotent: bool,
    events: u64,
    batches: u64,
) -> Vec<Published> {
    use rdkafka::message::OwnedMessage;
    use rdkafka::producer::{BaseRecord, Producer};
    use rdkafka::Message;
    let read = |topic: &str| {
        let mut out = Vec::new();
        let extra = [("message.max.bytes", "2000000")];
        drain(
            brokers,
            "raw-publish-reader",
            &[topic],
            partitions,
            &extra,
            |m| out.push(m.detach()),
        );
        out
    };
    let mut held: BTreeMap<&str, Vec<OwnedMessage>> = BTreeMap::new();
    for a in again {
        if !held.contains_key(a.topic) {
            held.insert(a.topic, read(a.topic));
        }
    }
    let name = |a: &Again<'_>| {
        format!(
            "floor.{}{}{}",
            if a.bare { "bare." } else { "" },
            if a.uncompressed { "uncompressed." } else { "" },
            a.topic
        )
    };

    let names: Vec<String> = again.iter().map(name).collect();
    engine::kafka::create_topics(
        brokers,
        &names.iter().map(String::as_str).collect::<Vec<_>>(),
        partitions,
    )
    .unwrap();
    again
        .iter()
        .zip(&names)
        .map(|(a, topic)| {
            let messages = &held[a.topic];
            fn payload(m: &OwnedMessage, bare: bool) -> Option<&[u8]> {
                if bare {
                    None
                } else {
                    m.payload()
                }
            }
            let mut config = match a.changelog {
                true => engine::changelog::producer_config(brokers),
                false => engine::kafka::producer_config(
                    brokers,
                    idempotent,
                    engine::kafka::BATCH_MESSAGES,
                ),
            };
            if a.uncompressed {
                config.set("compression.type", "none");
            }
            // Deliveries counted only: the offsets the changelog keeps are of no use here.
            let producer: rdkafka::producer::ThreadedProducer<engine::kafka::DeliveryContext> =
                config
                    .create_with_context(engine::kafka::DeliveryContext(Default::default()))
                    .unwrap();
            // Connected before the step: starting a producer is not its throughput.
            producer
                .client()
                .fetch_metadata(Some(topic), Duration::from_secs(10))
                .unwrap();
            let (_, measure) = step(
                |_: &()| events,
                || {
                    // Flushed as ratel flushes: after each batch's share of the messages.
                    let every = messages.len().div_ceil(batches.max(1) as usize).max(1);
                    for (i, m) in messages.iter().enumerate() {
                        if i > 0 && i % every == 0 {
                            engine::kafka::flush(&producer, &producer.context().0).unwrap();
                        }
                        let mut r = BaseRecord::to(topic).partition(m.partition());
                        if let Some(k) = m.key() {
                            r = r.key(k);
                        }
                        if let Some(v) = payload(m, a.bare) {
                            r = r.payload(v);
                        }
                        if let Some(h) = m.headers() {
                            r = r.headers(h.as_borrowed().detach());
                        }
                        engine::kafka::send(&producer, r).unwrap();
                    }
                    engine::kafka::flush(&producer, &producer.context().0).unwrap();
                },
            );
            Published {
                topic: a.topic.to_string(),
                bare: a.bare,
                uncompressed: a.uncompressed,
                messages: messages.len() as u64,
                bytes: messages
                    .iter()
                    .map(|m| {
                        (m.key().map_or(0, <[u8]>::len) + payload(m, a.bare).map_or(0, <[u8]>::len))
                            as u64
                    })
                    .sum(),
                measure,
            }
        })
        .collect()
}

/// The `ratel` binary's allocator (mimalloc), counting the bytes live, for a binary to install
/// as its global allocator (`#[global_allocator] static A: Counting = Counting;`): the state's
/// size in memory.
pub struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

/// The bytes live under [`Counting`].
pub fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { MiMalloc.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { MiMalloc.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { MiMalloc.realloc(p, l, new) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPU reading follows work: a thread that spins sees it grow by what it spun, and it
    /// never runs ahead of the wall clock on this machine's cores.
    #[test]
    fn cpu_time_grows_with_work_and_stays_within_the_cores() {
        let (wall, start) = (Instant::now(), cpu_now());
        let mut x = 0u64;
        while cpu_now() - start < 0.2 {
            assert!(
                wall.elapsed() < Duration::from_secs(60),
                "a minute of spinning showed no CPU time"
            );
            for i in 0..100_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
        }
        let used = cpu_now() - start;
        // /proc counts in clock ticks: allow one tick a core of rounding.
        let most = wall.elapsed().as_secs_f64() * cores() as f64 + 0.05;
        assert!(
            used >= 0.2 && used <= most,
            "{used} s of CPU in {most} s of cores"
        );
        assert_eq!(cpu_of("not-a-process"), 0.0);
        let m = Measure {
            events: 1_000,
            secs: 0.5,
            cpu: 0.25,
            peak: 0,
        };
        assert_eq!((m.cores(), m.cpu_per_event()), (0.5, 250.0));
    }
}
