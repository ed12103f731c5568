//! Throughput from a real Kafka-protocol broker (tansu, in its own process on loopback): events
//! per second consumed and rated by ratel (input topics → rate → RocksDB with the WAL synced per
//! batch → decisions published to the output topics), beside the raw consume rate of the same
//! topics by rdkafka alone, in one run.
//!
//! `cargo bench -p ratel-benches --bench kafka` (RATEL_TANSU: the broker binary, else `tansu` on
//! PATH; RATEL_BENCH_EVENTS, default 300 000; RATEL_BENCH_PARTITIONS, default 3;
//! RATEL_BENCH_BATCH, default 16384; RATEL_BENCH_PUBLISH=0 to rate without publishing).
//! Writes target/kafka-throughput.md.

use engine::kafka::{Group, Topics};
use engine::pipeline::Config;
use engine::workload::Workload;
use rating::Catalog;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let events = env("RATEL_BENCH_EVENTS", 300_000);
    let partitions = env("RATEL_BENCH_PARTITIONS", 3) as u32;
    let batch = env("RATEL_BENCH_BATCH", 16_384) as usize;
    let publish = env("RATEL_BENCH_PUBLISH", 1) == 1;
    let idempotent = env("RATEL_BENCH_IDEMPOTENT", 1) == 1;
    let tansu = std::env::var("RATEL_TANSU").unwrap_or_else(|_| "tansu".into());
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = tmp.path();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("tcp://127.0.0.1:{port}");
    let mut broker = Command::new(&tansu)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{tansu}: {e} (set RATEL_TANSU)"));
    let brokers = format!("127.0.0.1:{port}");
    while std::net::TcpStream::connect(&brokers).is_err() {
        std::thread::sleep(Duration::from_millis(100));
    }

    let days = 30;
    let per_day = 8.0;
    let accounts = ((events as f64) / (days as f64 * per_day)).ceil() as u64;
    let work = dir.join("work.jsonl");
    let w = Workload {
        accounts,
        days,
        events_per_day: per_day,
        seed: 1,
        ..Workload::default()
    };
    let lines = w
        .write(
            &mut std::io::BufWriter::new(std::fs::File::create(&work).unwrap()),
            |_| {},
        )
        .unwrap();
    let topics = Topics::default();
    let mut names = topics.inputs().to_vec();
    names.extend(topics.outputs());
    engine::kafka::create_topics(&brokers, &names, partitions).unwrap();
    let started = Instant::now();
    engine::kafka::produce(
        &brokers,
        &topics,
        &work,
        idempotent,
        engine::kafka::BATCH_MESSAGES,
        |_| {},
    )
    .unwrap();
    let produce_secs = started.elapsed().as_secs_f64();

    // (1) rdkafka alone: every message of the input topics, from the beginning.
    let c: BaseConsumer = engine::kafka::client_config(&brokers)
        .set("group.id", "raw-reader")
        .set("fetch.max.bytes", "52428800")
        .set("max.partition.fetch.bytes", "1048576")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    let mut total = 0i64;
    for t in topics.inputs() {
        for p in 0..partitions as i32 {
            tpl.add_partition_offset(t, p, Offset::Beginning).unwrap();
            total += c.fetch_watermarks(t, p, Duration::from_secs(10)).unwrap().1;
        }
    }
    c.assign(&tpl).unwrap();
    let started = Instant::now();
    let (mut n, mut bytes) = (0u64, 0usize);
    let mut last = Instant::now();
    while last.elapsed() < Duration::from_secs(2) {
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            bytes += m.unwrap().payload().map_or(0, <[u8]>::len);
            n += 1;
            last = Instant::now();
        }
    }
    let raw_secs = last.duration_since(started).as_secs_f64();
    eprintln!("high watermarks sum to {total}, {n} consumed, {lines} produced");
    assert_eq!(n, lines, "the broker holds every message produced");
    drop(c);

    // (2) ratel: consume, merge, rate, commit (WAL synced per batch), publish; timed to the
    // batch that completes the input.
    let cat = Catalog::from_toml("example", engine::EXAMPLE_CATALOG).unwrap();
    let o = engine::stream::Options {
        group: Group {
            id: "ratel-bench".into(),
            instance: None,
        },
        topics: topics.clone(),
        exit_when_idle: Some(Duration::from_secs(3)),
        publish,
        idempotent,
    };
    let started = Instant::now();
    let mut first: Option<Instant> = None;
    let mut done: Option<Instant> = None;
    let cfg = Config {
        batch,
        sync: true,
        ..Config::default()
    };
    let e = engine::stream::run(
        &dir.join("store"),
        cat,
        engine::EXAMPLE_CATALOG.as_bytes(),
        &brokers,
        cfg,
        &o,
        |e| {
            first.get_or_insert_with(Instant::now);
            if e.counters.read >= lines && done.is_none() {
                done = Some(Instant::now());
            }
        },
    )
    .unwrap();
    if e.counters.read != lines {
        let c: BaseConsumer = engine::kafka::client_config(&brokers).create().unwrap();
        for t in topics.inputs() {
            for p in 0..partitions {
                eprintln!(
                    "{t}/{p}: ratel at {:?}, broker {:?}",
                    e.offset(t, p).unwrap(),
                    c.fetch_watermarks(t, p as i32, Duration::from_secs(10))
                );
            }
        }
    }
    assert_eq!(e.counters.read, lines);
    // From the first batch: joining the group is not throughput.
    let first_batch = first.unwrap();
    let run_secs = done.unwrap().duration_since(first_batch).as_secs_f64();
    let join_secs = first_batch.duration_since(started).as_secs_f64();
    let _ = broker.kill();

    let raw_rate = lines as f64 / raw_secs;
    let run_rate = lines as f64 / run_secs;
    let report = format!(
        "# ratel throughput from Kafka (tansu, memory storage, loopback)\n\n\
         workload: {lines} events ({accounts} accounts, {days} days, {:.1} MB), {partitions} partitions per topic, batch {batch}; produced in {produce_secs:.1} s\n\n\
         | what | seconds | events/s |\n|---|---|---|\n\
         | rdkafka alone: consume the input topics | {raw_secs:.2} | {raw_rate:.0} |\n\
         | ratel: consume, merge, rate, RocksDB (WAL synced per batch){} | {run_secs:.2} | {run_rate:.0} |\n\n\
         ratio ratel/raw: {:.0} % (group join before the first batch: {join_secs:.1} s, not counted)\n",
        bytes as f64 / 1e6,
        if publish { ", publish decisions" } else { "" },
        100.0 * run_rate / raw_rate
    );
    println!("{report}");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../kafka-throughput.md");
    std::fs::write(&out, &report).unwrap();
}
