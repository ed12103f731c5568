//! The scale harness: `ratel run` over a generated subscriber base of each size, fed as it is
//! made (`--source gen:SPEC`, no file), with the same events per account and day at every
//! size, beside the raw floor measured in the same run. Writes `target/ratel-bench/scale.md`.
//!
//! `cargo bench -p ratel-benches --bench scale`
//! - RATEL_SCALE_ACCOUNTS: the sizes, comma-separated (default `10000,100000`; the issue's
//!   `10000,1000000,10000000` takes about an hour and 60 GB of disk at ten million);
//! - RATEL_SCALE_DAYS (default 1) at 8 events per account and day (`population`'s mixture);
//! - RATEL_SCALE_CACHE_MB: `--state-cache-mb` (default the engine's); RATEL_SCALE_CHECKPOINT:
//!   `--checkpoint-every` (default the engine's);
//! - RATEL_SCALE_REPLAY_MAX (default 1 000 000): replay holds every account in memory, so it
//!   is measured up to this many accounts only.
//!
//! At each size: events/s and CPU µs an event of the run, its peak resident set, the store's
//! bytes per account, the start-up (the store opened and one event rated), replay's rate, and
//! the raw floor: the keys and values the run left, written to a fresh RocksDB in as many
//! synced batches (`ratel_benches::raw_write`).

use ratel_benches::*;
use std::fmt::Write as _;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Size {
    accounts: u64,
    events: u64,
    run: Measure,
    raw: Measure,
    replay: Option<Measure>,
    store_bytes: u64,
    held: usize,
    start_up: f64,
    start_up_held: usize,
}

fn config(batch: usize, cache_mb: u64) -> engine::pipeline::Config {
    let checkpoint = env(
        "RATEL_SCALE_CHECKPOINT",
        engine::pipeline::DEFAULT_CHECKPOINT,
    );
    engine::pipeline::Config {
        batch,
        sync: true,
        state_cache_mb: cache_mb,
        checkpoint,
        ..engine::pipeline::Config::default()
    }
}

fn open(data: &std::path::Path, batch: usize, cache_mb: u64) -> engine::pipeline::Engine {
    let bytes = engine::EXAMPLE_CATALOG.as_bytes();
    engine::pipeline::Engine::open(data, example(), bytes, config(batch, cache_mb)).unwrap()
}

fn measure(accounts: u64, days: u32, batch: usize, cache_mb: u64, replay_max: u64) -> Size {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = tmp.path().join("store");
    let spec = format!("accounts={accounts},days={days},events=8");
    eprintln!("{accounts} accounts: ratel run --source gen:{spec}");
    let (held, run) = step(
        |(_, lines): &(usize, u64)| *lines,
        || {
            let mut e = open(&data, batch, cache_mb);
            let mut source = engine::generated::Generated::open(&e, &spec).unwrap();
            e.run(&mut source, |_, _| {}).unwrap();
            (e.state.len(), e.counters.read)
        },
    );
    eprintln!(
        "{accounts} accounts: {} events at {:.0}/s",
        run.events,
        run.rate()
    );
    let store_bytes = {
        let store = engine::store::Store::open(&data).unwrap();
        store.flush().unwrap();
        dir_size(&data)
    };
    let (start_up, start_up_held) = start_up(&data, (batch, cache_mb), &spec, run.events);
    eprintln!("{accounts} accounts: raw write");
    let work = Work {
        path: data.clone(),
        lines: run.events,
        bytes: 0,
        accounts,
        days,
    };
    let (raw, _) = raw_write(&work, &data, tmp.path(), batch);
    let replay = (accounts <= replay_max).then(|| {
        eprintln!("{accounts} accounts: replay");
        ratel_benches::replay(&data).0
    });
    Size {
        accounts,
        events: run.events,
        run,
        raw,
        replay,
        store_bytes,
        held: held.0,
        start_up,
        start_up_held,
    }
}

/// Seconds to open the store and rate one event (the workload's first usage line, under an id
/// of its own), and the accounts then held.
/// The line goes at the position the run ended at, so that the store's position stays.
fn start_up(
    data: &std::path::Path,
    (batch, cache_mb): (usize, u64),
    spec: &str,
    position: u64,
) -> (f64, usize) {
    let w = engine::workload::Workload::from_spec(spec).unwrap();
    let usage = (w.lines())
        .find(|l| l.contains("\"type\":\"usage\""))
        .expect("a usage line");
    let line = engine::source::Line {
        topic: None,
        partition: 0,
        position,
        at: position,
        bytes: usage
            .replacen("\"id\":\"", "\"id\":\"start-up-", 1)
            .into_bytes(),
        oversized: false,
        far_ahead: false,
        file: None,
    };
    let started = Instant::now();
    let mut e = open(data, batch, cache_mb);
    e.process(std::slice::from_ref(&line)).unwrap();
    (started.elapsed().as_secs_f64(), e.state.len())
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.metadata().map_or(0, |m| m.len()))
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sizes: Vec<u64> = std::env::var("RATEL_SCALE_ACCOUNTS")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().replace('_', "").parse().ok())
        .collect();
    let days = env("RATEL_SCALE_DAYS", 1) as u32;
    let batch = env("RATEL_BENCH_BATCH", 16_384) as usize;
    let cache_mb = env("RATEL_SCALE_CACHE_MB", engine::pipeline::DEFAULT_CACHE_MB);
    let replay_max = env("RATEL_SCALE_REPLAY_MAX", 1_000_000);
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../ratel-bench");
    std::fs::create_dir_all(&out).unwrap();
    let mut results = Vec::new();
    for &accounts in &sizes {
        results.push(measure(accounts, days, batch, cache_mb, replay_max));
        let text = report(&results, days, batch, cache_mb);
        std::fs::write(out.join("scale.md"), &text).unwrap();
    }
    println!("{}", report(&results, days, batch, cache_mb));
}

fn report(results: &[Size], days: u32, batch: usize, cache_mb: u64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# ratel at scale\n\n`ratel run --source gen:accounts=N,days={days},events=8`, batches of \
         {batch}, WAL synced per batch, `--state-cache-mb {cache_mb}`, on {} cores.\n",
        cores()
    );
    let _ = writeln!(
        s,
        "| accounts | events | ratel run events/s | raw floor events/s | ratio | CPU µs an event (run / raw) | peak RSS (run) | accounts held at the end | store bytes an account | start-up | replay events/s |\n|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let base = results.first().map(|r| r.run.rate());
    for r in results {
        let replay = r
            .replay
            .as_ref()
            .map_or("not measured".to_string(), |m| format!("{:.0}", m.rate()));
        let _ = writeln!(
            s,
            "| {} | {} | {:.0} | {:.0} | {:.0} % | {:.2} / {:.2} | {:.0} MB | {} | {:.0} | {:.2} s ({} held) | {} |",
            r.accounts,
            r.events,
            r.run.rate(),
            r.raw.rate(),
            100.0 * r.run.rate() / r.raw.rate().max(1e-9),
            r.run.cpu_per_event(),
            r.raw.cpu_per_event(),
            r.run.peak as f64 / 1e6,
            r.held,
            r.store_bytes as f64 / r.accounts as f64,
            r.start_up,
            r.start_up_held,
            replay,
        );
    }
    if let (Some(base), Some(last)) = (base, results.last()) {
        let _ = writeln!(
            s,
            "\nAt {} accounts `ratel run` made {:.0} % of its rate at {}.",
            last.accounts,
            100.0 * last.run.rate() / base,
            results[0].accounts
        );
    }
    s
}
