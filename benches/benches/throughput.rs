//! Throughput of `ratel run` from a file into RocksDB with the production sync policy (WAL synced
//! per batch), beside the raw rate of writing the same bytes to RocksDB with the same batches and
//! sync policy, in one run.
//!
//! `cargo bench -p ratel-benches --bench throughput` (RATEL_BENCH_EVENTS, default 1 000 000;
//! RATEL_BENCH_BATCH, default 16384). Writes target/throughput.md.

use engine::pipeline::{Config, Engine};
use engine::source::FileSource;
use engine::workload::Workload;
use rating::Catalog;
use rocksdb::{Options, WriteBatch, WriteOptions, DB};
use std::time::Instant;

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
    let events = env("RATEL_BENCH_EVENTS", 1_000_000);
    let batch = env("RATEL_BENCH_BATCH", 16_384) as usize;
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = tmp.path();

    // A month of traffic sized to the requested number of events.
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
    let bytes_in = std::fs::metadata(&work).unwrap().len();

    // (1) ratel run: file → rate → RocksDB, WAL synced per batch.
    let cat = Catalog::from_toml("example", engine::EXAMPLE_CATALOG).unwrap();
    let data = dir.join("store");
    let started = Instant::now();
    let mut e = Engine::open(
        &data,
        cat,
        engine::EXAMPLE_CATALOG.as_bytes(),
        Config {
            batch,
            sync: true,
            ..Config::default()
        },
    )
    .unwrap();
    let mut src = FileSource::open(work.clone(), 0).unwrap();
    e.run(&mut src, |_, _| {}).unwrap();
    let run_secs = started.elapsed().as_secs_f64();
    let entries = e.store.log().count() as u64;
    drop(e);

    // (2) The same bytes, written raw: every key and value the run left in the store, in batches
    // of the same number of log entries, WAL synced per batch.
    let src_db = DB::open_cf_for_read_only(
        &Options::default(),
        &data,
        ["log", "by_account", "state", "seen", "meta"],
        false,
    )
    .unwrap();
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for cf in ["log", "by_account", "seen", "state"] {
        let h = src_db.cf_handle(cf).unwrap();
        for kv in src_db.iterator_cf(h, rocksdb::IteratorMode::Start) {
            let (k, v) = kv.unwrap();
            let mut key = cf.as_bytes().to_vec();
            key.extend_from_slice(&k);
            pairs.push((key, v.to_vec()));
        }
    }
    let raw_bytes: usize = pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
    opts.set_write_buffer_size(64 << 20);
    let raw = DB::open(&opts, dir.join("raw")).unwrap();
    let per_batch = (pairs.len() as f64 / (lines as f64 / batch as f64).ceil()).ceil() as usize;
    let mut wo = WriteOptions::default();
    wo.set_sync(true);
    let started = Instant::now();
    for chunk in pairs.chunks(per_batch.max(1)) {
        let mut b = WriteBatch::default();
        for (k, v) in chunk {
            b.put(k, v);
        }
        raw.write_opt(b, &wo).unwrap();
    }
    let raw_secs = started.elapsed().as_secs_f64();

    let run_rate = lines as f64 / run_secs;
    let raw_rate = lines as f64 / raw_secs;
    let report = format!(
        "# ratel throughput\n\n\
         workload: {lines} lines ({accounts} accounts, {days} days, {:.1} MB), {entries} log entries, batch {batch}\n\n\
         | what | seconds | events/s |\n|---|---|---|\n\
         | ratel run, file → RocksDB, WAL synced per batch | {run_secs:.2} | {run_rate:.0} |\n\
         | raw RocksDB write of the same {:.1} MB, same batches and sync | {raw_secs:.2} | {raw_rate:.0} |\n\n\
         ratio run/raw: {:.0} %\n",
        bytes_in as f64 / 1e6,
        raw_bytes as f64 / 1e6,
        100.0 * run_rate / raw_rate
    );
    println!("{report}");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../throughput.md");
    std::fs::write(&out, &report).unwrap();
}
