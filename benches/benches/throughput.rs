//! Throughput of `ratel run` from a file into RocksDB with the production sync policy (WAL synced
//! per batch), beside the raw rate of writing the same bytes to RocksDB with the same batches and
//! sync policy, in one run; with each, the CPU it spent per event, beside what the machine's
//! cores give per event at the targets.
//!
//! `cargo bench -p ratel-benches --bench throughput` (RATEL_BENCH_EVENTS, default 1 000 000;
//! RATEL_BENCH_BATCH, default 16384). Writes target/throughput.md. The harness
//! (`--bench harness`) measures this with the other steps.

use ratel_benches::{budget, cpu_cell, env, file_run, raw_write, workload};

/// The `ratel` binary's allocator, so that what is measured is what runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let events = env("RATEL_BENCH_EVENTS", 1_000_000);
    let batch = env("RATEL_BENCH_BATCH", 16_384) as usize;
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = tmp.path();
    // A month of traffic sized to the requested number of events.
    let (days, per_day) = (30, 8.0);
    let accounts = ((events as f64) / (f64::from(days) * per_day)).ceil() as u64;
    let work = workload(dir, accounts, days, per_day);
    let data = dir.join("store");
    let (run, entries) = file_run(&work, &data, batch);
    let (raw, raw_bytes) = raw_write(&work, &data, dir, batch);
    let report = format!(
        "# ratel throughput\n\n\
         workload: {} lines ({accounts} accounts, {days} days, {:.1} MB), {entries} log entries, batch {batch}\n\n\
         | what | seconds | events/s | CPU s (cores busy) | CPU µs an event |\n|---|---|---|---|---|\n\
         | ratel run, file → RocksDB, WAL synced per batch | {:.2} | {:.0} | {} | {:.2} |\n\
         | raw RocksDB write of the same {:.1} MB, same batches and sync | {:.2} | {:.0} | {} | {:.2} |\n\n\
         ratio run/raw: {:.0} %\n\n{}\n{}\n",
        work.lines,
        work.bytes as f64 / 1e6,
        run.secs,
        run.rate(),
        cpu_cell(&run),
        run.cpu_per_event(),
        raw_bytes as f64 / 1e6,
        raw.secs,
        raw.rate(),
        cpu_cell(&raw),
        raw.cpu_per_event(),
        100.0 * run.rate() / raw.rate(),
        budget("a million events a second", 1e6, &run),
        budget("70 % of the raw write", 0.7 * raw.rate(), &run),
    );
    println!("{report}");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../throughput.md");
    std::fs::write(&out, &report).unwrap();
}
