//! The throughput harness: one command that measures, on generated workloads of several sizes,
//! every step of ratel beside its raw limit, in one run, and writes a report with a plot.
//!
//! `cargo bench -p ratel-benches --bench harness`
//! - RATEL_BENCH_ACCOUNTS: the sizes, accounts, comma-separated (default `10000,100000`; the
//!   issue's `10000,1000000,10000000` needs about 25 GB of memory and hours at 10 million);
//! - RATEL_BENCH_DAYS (default 3) at 8 events per account and day, so that events grow with
//!   accounts and rates compare across sizes;
//! - RATEL_BENCH_BATCH (default 16384); RATEL_TANSU: the broker (else `tansu` on PATH; without
//!   one the Kafka step is left out and the report says so).
//!
//! Steps, each as events per second and as a ratio to its raw limit:
//! 1. rating in memory (decode, rate, apply) / decoding the same lines alone;
//! 2. `ratel run` from the file into RocksDB, WAL synced per batch / (3) RocksDB writing the
//!    same keys and values in as many synced batches;
//! 4. `ratel replay` (every decision again, compared byte for byte) / reading the log;
//! 5. ratel from the broker (consume, rate, commit, publish) / rdkafka consuming the same topics.
//!
//! With each, the CPU it spent per event and the cores it kept busy (this process's threads
//! and the broker's), and the peak resident memory of the process during the step; per size,
//! the bytes of state per account in memory (counted by the allocator) and on disk, and the
//! most `ratel run` could do on these cores: rating's CPU plus the raw write's, per event. Writes
//! `target/ratel-bench/report.md` and `target/ratel-bench/throughput.svg`.

use plotters::prelude::*;
use ratel_benches::*;
use std::fmt::Write as _;

#[global_allocator]
static A: ratel_benches::Counting = ratel_benches::Counting;

/// One size's results.
struct Size {
    accounts: u64,
    events: u64,
    /// (step, ratel, raw)
    steps: Vec<(&'static str, Measure, Measure)>,
    state_bytes: u64,
    ids: u64,
    disk_state: u64,
    disk_all: u64,
    /// An account's record (`rating::record`) in bytes: the median, 90th and 99th percentiles
    /// and the largest.
    records: [usize; 4],
    /// The records of typical prepaid accounts ([`typical_records`]).
    typical: TypicalRecords,
}

/// The records of typical prepaid accounts: one number. Medians of the whole record, of the
/// account without its ids, of the ids it remembers and of its number's buckets.
#[derive(Default)]
struct TypicalRecords {
    accounts: usize,
    record: usize,
    account_part: usize,
    ids: usize,
    buckets: usize,
}

/// The sizes of `state`'s account records: median, 90th and 99th percentiles, largest.
fn record_sizes(state: &rating::State) -> [usize; 4] {
    let mut bytes = Vec::new();
    let mut sizes: Vec<usize> = (state.accounts())
        .map(|account| {
            let recent = state
                .recent(&account.id)
                .expect("every account holds its ids");
            rating::record::encode_account(account, recent, &mut bytes);
            bytes.len()
        })
        .collect();
    sizes.sort_unstable();
    let at = |share: f64| sizes[((sizes.len() - 1) as f64 * share) as usize];
    match sizes.is_empty() {
        true => [0; 4],
        false => [at(0.5), at(0.9), at(0.99), at(1.0)],
    }
}

/// The medians of [`TypicalRecords`] among `state`'s accounts of one number. The account's part is its record
/// written with no ids; the ids' part is the rest.
fn typical_records(state: &rating::State) -> TypicalRecords {
    let mut bytes = Vec::new();
    let no_ids = rating::recent::Recent::default();
    let (mut records, mut account_parts, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    let mut buckets = Vec::new();
    for account in state.accounts().filter(|a| a.numbers.len() == 1) {
        buckets.push(account.numbers[0].buckets.len());
        let recent = (state.recent(&account.id)).expect("every account holds its ids");
        rating::record::encode_account(account, recent, &mut bytes);
        records.push(bytes.len());
        rating::record::encode_account(account, &no_ids, &mut bytes);
        account_parts.push(bytes.len());
        ids.push(recent.len() + recent.kept().len());
    }
    let median = |mut values: Vec<usize>| {
        values.sort_unstable();
        values.get(values.len() / 2).copied().unwrap_or(0)
    };
    TypicalRecords {
        accounts: records.len(),
        record: median(records),
        account_part: median(account_parts),
        ids: median(ids),
        buckets: median(buckets),
    }
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p).map_or(0, |d| {
        d.filter_map(Result::ok)
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => dir_size(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}

/// The logical bytes (keys and values) of the account state and the remembered ids.
fn state_on_disk(data: &std::path::Path) -> u64 {
    let store = engine::store::Store::open(data).unwrap();
    let db = store.db();
    ["state", "seen"]
        .iter()
        .map(|cf| {
            let h = db.cf_handle(cf).unwrap();
            db.iterator_cf(h, rocksdb::IteratorMode::Start)
                .map(|kv| kv.map_or(0, |(k, v)| (k.len() + v.len()) as u64))
                .sum::<u64>()
        })
        .sum()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sizes: Vec<u64> = std::env::var("RATEL_BENCH_ACCOUNTS")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().replace('_', "").parse().ok())
        .collect();
    let days = env("RATEL_BENCH_DAYS", 3) as u32;
    let batch = env("RATEL_BENCH_BATCH", 16_384) as usize;
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../ratel-bench");
    std::fs::create_dir_all(&out).unwrap();
    let mut results = Vec::new();
    let mut kafka_found = false;
    for &accounts in &sizes {
        let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let dir = tmp.path();
        eprintln!("{accounts} accounts: generating");
        let work = workload(dir, accounts, days, 8.0);
        eprintln!(
            "{accounts} accounts: {} events; rating in memory",
            work.lines
        );
        let before = ratel_benches::live();
        let (memory, decode, state) = in_memory(&work);
        let state_bytes = (ratel_benches::live() - before).max(0) as u64;
        let ids = state.seen_count() as u64;
        let records = record_sizes(&state);
        let typical = typical_records(&state);
        drop(state);
        eprintln!("{accounts} accounts: ratel run");
        let data = dir.join("store");
        let (run, _) = file_run(&work, &data, batch);
        eprintln!("{accounts} accounts: raw write");
        let (raw, _) = raw_write(&work, &data, dir, batch);
        eprintln!("{accounts} accounts: replay");
        let (replay, read) = replay(&data);
        let mut steps = vec![
            ("rating in memory / decoding alone", memory, decode),
            ("ratel run, file → RocksDB / raw RocksDB write", run, raw),
            ("replay / reading the log", replay, read),
        ];
        // A broker of its own per size: its topics hold this size's workload alone.
        if let Some(b) = Broker::start() {
            kafka_found = true;
            eprintln!("{accounts} accounts: Kafka");
            let k = kafka(&b, &work, dir, 3, batch, true, true);
            steps.push(("ratel from Kafka / rdkafka consuming", k.run, k.raw));
            if let Some(r) = k.restore {
                steps.push(("restore from the changelog / rdkafka consuming", r, k.raw));
            }
        }
        results.push(Size {
            accounts,
            events: work.lines,
            steps,
            state_bytes,
            ids,
            disk_state: state_on_disk(&data),
            disk_all: dir_size(&data),
            records,
            typical,
        });
        // After every size: a long run that stops early still leaves what it measured.
        std::fs::write(
            out.join("report.md"),
            report(&results, days, batch, kafka_found),
        )
        .unwrap();
        plot(&results, &out.join("throughput.svg"));
    }
    println!("{}", report(&results, days, batch, kafka_found));
    eprintln!("wrote {}", out.join("report.md").display());
}

fn report(results: &[Size], days: u32, batch: usize, kafka: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# ratel throughput harness\n\nGenerated workloads of {days} days at 8 events per account and day \
         (with the generator's duplicates and bad lines), batch {batch}, WAL synced per batch, on \
         this machine ({} cores). Each step beside its raw limit, in the same run.{}\n",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        if kafka { "" } else { " No broker was found (RATEL_TANSU): the Kafka step is left out." }
    );
    let _ = writeln!(
        s,
        "| accounts | events | step | ratel events/s | raw events/s | ratio | CPU µs an event (ratel / raw) | cores busy (ratel / raw) | peak memory (ratel) |\n|---|---|---|---|---|---|---|---|---|"
    );
    for r in results {
        for (name, m, raw) in &r.steps {
            let _ = writeln!(
                s,
                "| {} | {} | {name} | {:.0} | {:.0} | {:.0} % | {:.2} / {:.2} | {:.2} / {:.2} | {:.0} MB |",
                r.accounts,
                r.events,
                m.rate(),
                raw.rate(),
                100.0 * m.rate() / raw.rate(),
                m.cpu_per_event(),
                raw.cpu_per_event(),
                m.cores(),
                raw.cores(),
                m.peak as f64 / 1e6
            );
        }
    }
    // The machine's limits as CPU: a step's CPU an event against what its cores allow at a
    // rate. `ratel run` has to rate (the in-memory step's CPU) and write (the raw write's
    // CPU) every event, on the same cores.
    let _ = writeln!(
        s,
        "\nCPU is this process's (every thread, RocksDB's too) and the broker's, from /proc. On {} cores:\n",
        cores()
    );
    for r in results {
        let (memory, run, raw) = (&r.steps[0].1, &r.steps[1].1, &r.steps[1].2);
        let floor = memory.cpu_per_event() + raw.cpu_per_event();
        let _ = writeln!(
            s,
            "- {} accounts: rating in memory {:.2} + the raw write {:.2} = {:.2} CPU µs an event, so at most {:.0} events/s for `ratel run` if the two overlapped perfectly (it spent {:.2}). {}",
            r.accounts,
            memory.cpu_per_event(),
            raw.cpu_per_event(),
            floor,
            1e6 * cores() as f64 / floor.max(1e-9),
            run.cpu_per_event(),
            budget("a million events a second", 1e6, run)
        );
    }
    for r in results {
        let (memory, decode) = (&r.steps[0].1, &r.steps[0].2);
        let (replay, read) = (&r.steps[2].1, &r.steps[2].2);
        // Replay reads every entry and rates it again: rating's CPU is the in-memory step's
        // less its decoding of JSON, which replay does not do.
        let rating = (memory.cpu_per_event() - decode.cpu_per_event()).max(0.0);
        let _ = writeln!(
            s,
            "- {} accounts, replay: reading the log {:.2} + rating and applying {:.2} = {:.2} CPU µs an event, so at most {:.0} decisions/s if the two overlapped perfectly (it spent {:.2}). {}",
            r.accounts,
            read.cpu_per_event(),
            rating,
            read.cpu_per_event() + rating,
            1e6 * cores() as f64 / (read.cpu_per_event() + rating).max(1e-9),
            replay.cpu_per_event(),
            budget("three million events a second", 3e6, replay)
        );
    }
    let _ = writeln!(
        s,
        "\n| accounts | state in memory per account | ids held | state and ids on disk per account | whole store per account | account record: median / p90 / p99 / largest |\n|---|---|---|---|---|---|"
    );
    for r in results {
        let [median, p90, p99, largest] = r.records;
        let _ = writeln!(
            s,
            "| {} | {} B | {} | {} B | {} B | {median} / {p90} / {p99} / {largest} B |",
            r.accounts,
            r.state_bytes / r.accounts.max(1),
            r.ids,
            r.disk_state / r.accounts.max(1),
            r.disk_all / r.accounts.max(1)
        );
    }
    let _ = writeln!(
        s,
        "\nAccounts of one number, medians:\n\n| accounts | accounts of one number | record | the account without its ids | ids remembered | buckets |\n|---|---|---|---|---|---|"
    );
    for r in results {
        let t = &r.typical;
        let _ = writeln!(
            s,
            "| {} | {} | {} B | {} B | {} | {} |",
            r.accounts, t.accounts, t.record, t.account_part, t.ids, t.buckets
        );
    }
    if let (Some(first), Some(last)) = (results.first(), results.last()) {
        if results.len() > 1 {
            let _ = writeln!(
                s,
                "\nFrom {} to {} accounts, `ratel run` went from {:.0} to {:.0} events/s ({:.2}×).",
                first.accounts,
                last.accounts,
                first.steps[1].1.rate(),
                last.steps[1].1.rate(),
                last.steps[1].1.rate() / first.steps[1].1.rate()
            );
        }
    }
    let _ = writeln!(s, "\n![throughput](throughput.svg)");
    s
}

fn plot(results: &[Size], path: &std::path::Path) {
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).unwrap();
    let xs: Vec<f64> = results.iter().map(|r| r.accounts as f64).collect();
    let (x0, x1) = (
        xs.iter().copied().fold(f64::MAX, f64::min) / 2.0,
        xs.iter().copied().fold(0.0, f64::max) * 2.0,
    );
    let ymax = results
        .iter()
        .flat_map(|r| {
            r.steps
                .iter()
                .flat_map(|(_, m, raw)| [m.rate(), raw.rate()])
        })
        .fold(1.0, f64::max)
        * 2.0;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "ratel: events per second by step and size (solid: ratel, dashed: raw limit)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((x0..x1).log_scale(), (1_000.0..ymax).log_scale())
        .unwrap();
    chart
        .configure_mesh()
        .x_desc("accounts")
        .y_desc("events per second")
        .draw()
        .unwrap();
    let steps = results.first().map_or(0, |r| r.steps.len());
    for i in 0..steps {
        let color = Palette99::pick(i).to_rgba();
        let name = results[0].steps[i].0;
        let ours: Vec<(f64, f64)> = results
            .iter()
            .filter_map(|r| r.steps.get(i).map(|s| (r.accounts as f64, s.1.rate())))
            .collect();
        let raw: Vec<(f64, f64)> = results
            .iter()
            .filter_map(|r| r.steps.get(i).map(|s| (r.accounts as f64, s.2.rate())))
            .collect();
        chart
            .draw_series(LineSeries::new(ours.clone(), color.stroke_width(2)))
            .unwrap()
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        chart
            .draw_series(ours.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .unwrap();
        chart
            .draw_series(DashedLineSeries::new(raw, 6, 4, color.stroke_width(1)))
            .unwrap();
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerLeft)
        .draw()
        .unwrap();
    root.present().unwrap();
}
