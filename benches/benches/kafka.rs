//! Throughput from a real Kafka-protocol broker (tansu, in its own process on loopback): events
//! per second consumed and rated by ratel (input topics → rate → RocksDB with the WAL synced per
//! batch → decisions published to the output topics), beside the raw consume rate of the same
//! topics by rdkafka alone, in one run; with each, the CPU it spent per event (the broker's
//! included), beside what the machine's cores give per event at 70 % of the raw rate. Then the
//! floor under ratel's run: each part of its work done by its library alone (consuming, rating
//! in memory, writing the store ratel left, publishing each topic ratel published again), and
//! their sum beside the same budget.
//!
//! `cargo bench -p ratel-benches --bench kafka` (RATEL_TANSU: the broker binary, else `tansu` on
//! PATH; RATEL_BENCH_EVENTS, default 300 000; RATEL_BENCH_PARTITIONS, default 3;
//! RATEL_BENCH_BATCH, default 16384; RATEL_BENCH_PUBLISH=0 to rate without publishing;
//! RATEL_BENCH_CHANGELOG=0 to keep no changelog; with one, a fresh store is then restored from
//! it and timed).
//! Writes target/kafka-throughput.md.

use std::collections::BTreeMap;

use ratel_benches::{allowed, budget, cpu_cell, env, kafka, workload, Broker, FromKafka, Measure};

/// The `ratel` binary's allocator, so that what is measured is what runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let events = env("RATEL_BENCH_EVENTS", 300_000);
    let partitions = env("RATEL_BENCH_PARTITIONS", 3) as u32;
    let batch = env("RATEL_BENCH_BATCH", 16_384) as usize;
    let publish = env("RATEL_BENCH_PUBLISH", 1) == 1;
    let idempotent = env("RATEL_BENCH_IDEMPOTENT", 1) == 1;
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = tmp.path();
    let broker = Broker::start().expect("tansu runs (set RATEL_TANSU)");
    let (days, per_day) = (30, 8.0);
    let accounts = ((events as f64) / (f64::from(days) * per_day)).ceil() as u64;
    let work = workload(dir, accounts, days, per_day);
    let k = kafka(&broker, &work, dir, partitions, batch, publish, idempotent);
    let report = format!(
        "# ratel throughput from Kafka (tansu, memory storage, loopback)\n\n\
         workload: {} events ({accounts} accounts, {days} days, {:.1} MB), {partitions} partitions per topic, batch {batch}; produced in {:.1} s\n\n\
         | what | seconds | events/s | CPU s (cores busy), broker included | CPU µs an event |\n|---|---|---|---|---|\n\
         | rdkafka alone: consume the input topics | {:.2} | {:.0} | {} | {:.2} |\n\
         | ratel: consume, merge, rate, RocksDB (WAL synced per batch){} | {:.2} | {:.0} | {} | {:.2} |\n\n\
         ratio ratel/raw: {:.0} % (group join before the first batch: {:.1} s, not counted)\n\n\
         {}\n\nratel's CPU by thread (µs an event): {}\n{}",
        work.lines,
        k.bytes as f64 / 1e6,
        k.produce_secs,
        k.raw.secs,
        k.raw.rate(),
        cpu_cell(&k.raw),
        k.raw.cpu_per_event(),
        if publish { ", publish decisions" } else { "" },
        k.run.secs,
        k.run.rate(),
        cpu_cell(&k.run),
        k.run.cpu_per_event(),
        100.0 * k.run.rate() / k.raw.rate(),
        k.join_secs,
        budget("70 % of the raw consume", 0.7 * k.raw.rate(), &k.run),
        k.threads
            .iter()
            .map(|(name, secs)| format!("{name} {:.2}", 1e6 * secs / k.run.events.max(1) as f64))
            .collect::<Vec<_>>()
            .join(", "),
        match &k.restore {
            Some(r) => format!(
                "\nrestore of a fresh store from the changelog: {} log entries in {:.2} s, {:.0} entries/s\n",
                r.events,
                r.secs,
                r.rate()
            ),
            None => "\n(no changelog: RATEL_BENCH_CHANGELOG=0)\n".into(),
        },
    );
    let report = format!("{report}\n{}", floor(&k));
    println!("{report}");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../kafka-throughput.md");
    std::fs::write(&out, &report).unwrap();
}

/// The floor under ratel's step: the parts of its work that no arrangement of it can skip,
/// each measured alone on the same machine (the broker's CPU included), and their sum beside
/// what the cores give at the target. The parts leave out work ratel also does (the read
/// models, encoding the log and the charges, merging the topics): the floor is below ratel's
/// least possible cost.
fn floor(k: &FromKafka) -> String {
    let row = |what: &str, m: &Measure| {
        format!(
            "| {what} | {:.2} | {:.0} | {} | {:.2} |\n",
            m.secs,
            m.rate(),
            cpu_cell(m),
            m.cpu_per_event()
        )
    };
    let mut t = String::from(
        "## The floor: each part of ratel's work alone\n\n\
         | part | seconds | events/s | CPU s (cores busy) | CPU µs an event |\n|---|---|---|---|---|\n",
    );
    t += &row("consume the input topics (rdkafka alone, above)", &k.raw);
    t += &row("decode, rate and apply in memory", &k.rating);
    t += &row(
        "write the store ratel left to a fresh RocksDB (same batches, WAL synced per batch)",
        &k.writing,
    );
    let mut parts = vec![&k.raw, &k.rating, &k.writing];
    for p in &k.publishing {
        t += &row(
            &format!(
                "publish `{}`{}{}: {} messages, {:.1} MB (rdkafka alone, ratel's producer for it)",
                p.topic,
                if p.bare { ", without payloads" } else { "" },
                if p.uncompressed {
                    ", without compression"
                } else {
                    ""
                },
                p.messages,
                p.bytes as f64 / 1e6
            ),
            &p.measure,
        );
    }
    // Each topic counts the cheapest way it was published, with its payloads.
    let mut cheapest: BTreeMap<&str, &Measure> = BTreeMap::new();
    for p in k.publishing.iter().filter(|p| !p.bare) {
        let m = cheapest.entry(&p.topic).or_insert(&p.measure);
        if p.measure.cpu_per_event() < m.cpu_per_event() {
            *m = &p.measure;
        }
    }
    parts.extend(cheapest.values().copied());
    let sum: f64 = parts.iter().map(|m| m.cpu_per_event()).sum();
    let allowed = allowed(0.7 * k.raw.rate());
    t += &format!(
        "\nThe floor: {sum:.2} CPU µs an event, the parts' sum, each topic published the cheapest \
         way measured (ratel spent {:.2}, {:.2} above it). At 70 % of the raw consume the cores \
         give {allowed:.2}: the floor alone is {:.0} % of that.\n",
        k.run.cpu_per_event(),
        k.run.cpu_per_event() - sum,
        100.0 * sum / allowed
    );
    for bare in k.publishing.iter().filter(|p| p.bare) {
        let Some(full) = cheapest.get(bare.topic.as_str()) else {
            continue;
        };
        let least = sum - full.cpu_per_event() + bare.measure.cpu_per_event();
        t += &format!(
            "With `{}` of no content (key and headers only) the floor would be {least:.2} µs an \
             event, {:.0} % of what the cores give.\n",
            bare.topic,
            100.0 * least / allowed
        );
    }
    t
}
