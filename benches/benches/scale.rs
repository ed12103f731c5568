//! The scale harness: `ratel run` over a generated subscriber base of each size, fed as it is
//! made (`--source gen:SPEC`, no file), with the same events per account and day at every
//! size, beside the raw floor measured in the same run. Writes `target/ratel-bench/scale.md`.
//!
//! `cargo bench -p ratel-benches --bench scale`
//! - RATEL_SCALE_ACCOUNTS: the sizes, comma-separated (default `10000,100000`; the issue's
//!   `10000,1000000,10000000` takes about an hour and 60 GB of disk at ten million);
//! - RATEL_SCALE_DAYS (default 1) at 8 events per account and day (`population`'s mixture);
//!   a size whose days would make fewer than RATEL_SCALE_MIN_EVENTS events (default 2 400 000)
//!   runs as many more days as reach it: a day of 10 000 accounts lasts under half a second,
//!   too short for RocksDB to flush or compact, and its rate swung by a factor of two from run
//!   to run, so it was no baseline for the others (thirty days of it are steady);
//! - RATEL_SCALE_CACHE_MB: `--state-cache-mb` (default the engine's); RATEL_SCALE_CHECKPOINT:
//!   `--checkpoint-every` (default the engine's);
//! - RATEL_SCALE_REPLAY_MAX (default no limit): replay is measured up to this many accounts
//!   only (it reads the whole log again);
//! - RATEL_SCALE_LINES_MAX: stops each run after this many lines (the openings first), for a
//!   part of a day at ten million accounts;
//! - RATEL_SCALE_RAW_MAX (default no limit): the raw floor writes a second store as large as
//!   the run's, so it is measured up to this many accounts only.
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
    days: u32,
    events: u64,
    run: Measure,
    raw: Option<Measure>,
    replay: Option<Measure>,
    store_bytes: u64,
    held: usize,
    start_up: f64,
    start_up_held: usize,
    /// Where the run's time went: CPU seconds by thread, the accounts it read from memory and
    /// from the store, and what RocksDB read and wrote.
    threads: std::collections::BTreeMap<String, f64>,
    cache: engine::pipeline::CacheCounts,
    io: engine::store::IoFigures,
    families: Vec<engine::store::family_work::FamilyWork>,
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
    let before = cpu_by_thread();
    let (held, run) = step(
        |ran: &Ran| ran.1,
        || {
            let mut e = open(&data, batch, cache_mb);
            let source = engine::generated::Generated::open(&e, &spec).unwrap();
            let mut source = Limited {
                source,
                left: env("RATEL_SCALE_LINES_MAX", u64::MAX),
            };
            // The commit and decoding threads end with the run: their CPU is read as it goes.
            let (mut threads, mut batches) = (Default::default(), 0u64);
            e.run(&mut source, |_, _| {
                batches += 1;
                if batches.is_multiple_of(8) {
                    threads = spent_since(&before);
                }
            })
            .unwrap();
            for (name, seconds) in spent_since(&before) {
                let kept: &mut f64 = threads.entry(name).or_default();
                *kept = kept.max(seconds);
            }
            let figures = (
                e.cache_counts(),
                e.store.io_figures(),
                e.store.work_by_family(),
            );
            (e.state.len(), e.counters.read, threads, figures)
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
    let raw = (accounts <= env("RATEL_SCALE_RAW_MAX", u64::MAX))
        .then(|| raw_write(&work, &data, tmp.path(), batch).0);
    let replay = (accounts <= replay_max).then(|| {
        eprintln!("{accounts} accounts: replay");
        ratel_benches::replay(&data).0
    });
    Size {
        accounts,
        days,
        events: run.events,
        run,
        raw,
        replay,
        store_bytes,
        held: held.0,
        start_up,
        start_up_held,
        threads: held.2,
        cache: held.3 .0,
        io: held.3 .1,
        families: held.3 .2,
    }
}

/// What a run leaves: accounts held, lines read, CPU by thread, the cache's and RocksDB's
/// figures.
type Ran = (
    usize,
    u64,
    std::collections::BTreeMap<String, f64>,
    (
        engine::pipeline::CacheCounts,
        engine::store::IoFigures,
        Vec<engine::store::family_work::FamilyWork>,
    ),
);

/// CPU seconds each thread (by name) spent since `before`.
fn spent_since(
    before: &std::collections::BTreeMap<String, f64>,
) -> std::collections::BTreeMap<String, f64> {
    let mut spent = cpu_by_thread();
    for (name, seconds) in &mut spent {
        *seconds -= before.get(name).copied().unwrap_or(0.0);
    }
    spent.retain(|_, seconds| *seconds > 0.05);
    spent
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
    let min_events = env("RATEL_SCALE_MIN_EVENTS", 2_400_000);
    let batch = env("RATEL_BENCH_BATCH", 16_384) as usize;
    let cache_mb = env("RATEL_SCALE_CACHE_MB", engine::pipeline::DEFAULT_CACHE_MB);
    let replay_max = env("RATEL_SCALE_REPLAY_MAX", u64::MAX);
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../ratel-bench");
    std::fs::create_dir_all(&out).unwrap();
    let mut results = Vec::new();
    for &accounts in &sizes {
        let days = days.max(days_for(min_events, accounts));
        results.push(measure(accounts, days, batch, cache_mb, replay_max));
        let text = report(&results, batch, cache_mb);
        std::fs::write(out.join("scale.md"), &text).unwrap();
    }
    println!("{}", report(&results, batch, cache_mb));
}

/// The days at 8 events an account and day that make at least `events` events.
fn days_for(events: u64, accounts: u64) -> u32 {
    let a_day = accounts.saturating_mul(8).max(1);
    u32::try_from(events.div_ceil(a_day))
        .unwrap_or(u32::MAX)
        .max(1)
}

fn report(results: &[Size], batch: usize, cache_mb: u64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# ratel at scale\n\n`ratel run --source gen:accounts=N,days=D,events=8`, batches of \
         {batch}, WAL synced per batch, `--state-cache-mb {cache_mb}`, on {} cores.\n",
        cores()
    );
    let _ = writeln!(
        s,
        "| accounts | days | events | ratel run events/s | raw floor events/s | ratio | CPU µs an event (run / raw) | peak RSS (run) | accounts held at the end | store bytes an account | start-up | replay events/s (peak RSS) |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let base = results.first().map(|r| r.run.rate());
    for r in results {
        let replay = r.replay.as_ref().map_or("not measured".to_string(), |m| {
            format!("{:.0} ({:.0} MB)", m.rate(), m.peak as f64 / 1e6)
        });
        let (raw_rate, ratio, raw_cpu) = r.raw.as_ref().map_or(
            ("not measured".to_string(), "–".to_string(), "–".to_string()),
            |raw| {
                let ratio = 100.0 * r.run.rate() / raw.rate();
                (
                    format!("{:.0}", raw.rate()),
                    format!("{ratio:.0} %"),
                    format!("{:.2}", raw.cpu_per_event()),
                )
            },
        );
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0} | {} | {} | {:.2} / {} | {:.0} MB | {} | {:.0} | {:.2} s ({} held) | {} |",
            r.accounts,
            r.days,
            r.events,
            r.run.rate(),
            raw_rate,
            ratio,
            r.run.cpu_per_event(),
            raw_cpu,
            r.run.peak as f64 / 1e6,
            r.held,
            r.store_bytes as f64 / r.accounts as f64,
            r.start_up,
            r.start_up_held,
            replay,
        );
    }
    where_the_time_goes(&mut s, results);
    work_by_family(&mut s, results);
    // A single size has nothing to be compared with.
    if let Some(base) = base.filter(|_| results.len() > 1) {
        let _ = writeln!(s);
        for r in &results[1..] {
            let _ = writeln!(
                s,
                "At {} accounts `ratel run` made {:.0} % of its rate at {}.",
                r.accounts,
                100.0 * r.run.rate() / base,
                results[0].accounts
            );
        }
    }
    s
}

/// The second table: where each run's time went.
fn where_the_time_goes(s: &mut String, results: &[Size]) {
    let _ = writeln!(
        s,
        "\nWhere the time went (CPU seconds by thread; the engine's rating thread is the \
         harness's main thread; bytes an event):\n\n| accounts | CPU s by thread | cache hit rate | \
         accounts read from the store an event | written by the engine | WAL | flushed | \
         compaction read / written | write amplification | block cache misses an event |\n\
         |---|---|---|---|---|---|---|---|---|---|"
    );
    for r in results {
        let events = r.events.max(1) as f64;
        let threads: Vec<String> = (r.threads.iter())
            .map(|(name, seconds)| format!("{name} {seconds:.1}"))
            .collect();
        let looked = (r.cache.hits + r.cache.reads).max(1) as f64;
        let io = &r.io;
        let disk = io.wal + io.flushed + io.compaction_written;
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} % | {:.2} | {:.0} | {:.0} | {:.0} | {:.0} / {:.0} | {:.1} | {:.2} |",
            r.accounts,
            threads.join(", "),
            100.0 * r.cache.hits as f64 / looked,
            r.cache.reads as f64 / events,
            io.written as f64 / events,
            io.wal as f64 / events,
            io.flushed as f64 / events,
            io.compaction_read as f64 / events,
            io.compaction_written as f64 / events,
            disk as f64 / io.written.max(1) as f64,
            io.block_cache_misses as f64 / events,
        );
    }
}

/// The third table: RocksDB's flushes and compactions of each family, the costliest first.
fn work_by_family(s: &mut String, results: &[Size]) {
    let _ = writeln!(
        s,
        "\nFlushes and compactions by family (CPU µs and bytes written an event, from RocksDB's \
         statistics of each family):\n\n| accounts | family: CPU µs / bytes |\n|---|---|"
    );
    for r in results {
        let events = r.events.max(1) as f64;
        let mut families = r.families.clone();
        families.sort_by(|a, b| b.cpu_seconds.total_cmp(&a.cpu_seconds));
        let each: Vec<String> = (families.iter())
            .map(|f| {
                let cpu = f.cpu_seconds * 1e6 / events;
                format!("{} {cpu:.2} / {:.0}", f.family, f.written as f64 / events)
            })
            .collect();
        let _ = writeln!(s, "| {} | {} |", r.accounts, each.join(", "));
    }
}

/// A source that ends after `left` lines.
struct Limited<S> {
    source: S,
    left: u64,
}

impl<S: engine::source::Source> engine::source::Source for Limited<S> {
    fn next_batch(
        &mut self,
        max: usize,
        out: &mut Vec<engine::source::Line>,
    ) -> std::io::Result<()> {
        let max = max.min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if max == 0 {
            return Ok(());
        }
        let before = out.len();
        self.source.next_batch(max, out)?;
        self.left -= (out.len() - before) as u64;
        Ok(())
    }

    fn describe(&self) -> String {
        self.source.describe()
    }

    fn committed(&mut self, lines: &[engine::source::Line]) {
        self.source.committed(lines);
    }
}
