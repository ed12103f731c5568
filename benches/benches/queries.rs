//! Query latency of the read models with a million accounts loaded: a busy number's balance,
//! packages, and a month's detalization (1 000 items) with its JSON, read through a follower as
//! `ratel serve` reads. `cargo bench -p ratel-benches --bench queries` (RATEL_BENCH_ACCOUNTS,
//! default 1 000 000). The store is built once into target/bench-queries-N and reused.

use criterion::{criterion_group, criterion_main, Criterion};
use engine::pipeline::{Config, Engine};
use engine::query::{self, Context, Scope};
use engine::store::Store;
use rating::Catalog;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The `ratel` binary's allocator, so that what is measured is what runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CATALOG: &str = include_str!("../../catalogs/example.toml");
const BUSY: &str = "79000000000";
const ITEMS: u64 = 1_000;

fn accounts() -> u64 {
    std::env::var("RATEL_BENCH_ACCOUNTS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(1_000_000)
}

fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A million accounts opened and paid in on 1 November; the busy number makes 1 000 calls,
/// messages and sessions over November.
fn build(dir: &Path, n: u64) {
    let input = dir.with_extension("jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    let t0 = 1_793_480_400; // 2026-11-01 00:00 MSK
    for i in 0..n {
        let plan = if i % 3 == 0 { "SMART" } else { "BASIC" };
        writeln!(f, r#"{{"type":"open_account","id":"o{i}","account":"ACC{i}","time":"{}","numbers":[{{"msisdn":"{}","plan":"{plan}"}}]}}"#, rfc3339(t0 + 60), 79_000_000_000 + i).unwrap();
        writeln!(
            f,
            r#"{{"type":"payment","id":"p{i}","account":"ACC{i}","amount":"500.00","time":"{}"}}"#,
            rfc3339(t0 + 61)
        )
        .unwrap();
    }
    for k in 0..ITEMS {
        let t = rfc3339(t0 + 3_600 + (k as i64) * 2_500);
        let line = match k % 4 {
            0 | 1 => format!(
                r#"{{"type":"usage","id":"c{k}","msisdn":"{BUSY}","service":"voice","other":"7495{:07}","start":"{t}","duration":{}}}"#,
                k,
                30 + k % 300
            ),
            2 => format!(
                r#"{{"type":"usage","id":"s{k}","msisdn":"{BUSY}","service":"sms","other":"7916{k:07}","start":"{t}"}}"#
            ),
            _ => format!(
                r#"{{"type":"usage","id":"d{k}","msisdn":"{BUSY}","service":"data","start":"{t}","bytes":{}}}"#,
                100_000 + k * 1000
            ),
        };
        writeln!(f, "{line}").unwrap();
    }
    f.flush().unwrap();
    drop(f);
    let cat = Catalog::from_toml("example.toml", CATALOG).unwrap();
    let cfg = Config {
        sync: false,
        ..Config::default()
    };
    let mut e = Engine::open(dir, cat, CATALOG.as_bytes(), cfg).unwrap();
    e.run_file(&input).unwrap();
    e.store.flush().unwrap();
    std::fs::remove_file(&input).unwrap();
    std::fs::write(dir.join("BUILT"), n.to_string()).unwrap();
}

fn store_dir(n: u64) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join(format!("bench-queries-{n}"));
    if !dir.join("BUILT").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        eprintln!(
            "building a store of {n} accounts in {} (once)",
            dir.display()
        );
        build(&dir, n);
    }
    dir
}

fn bench(c: &mut Criterion) {
    let n = accounts();
    let dir = store_dir(n);
    let store = Store::open_follower(&dir).unwrap();
    let ctx = Context::load(&store).unwrap();
    assert_eq!(store.accounts().take(2).count(), 2);
    let month = query::period(&ctx, Some("2026-11"), None, None).unwrap();
    let r = query::detalization(&store, &ctx, BUSY, month, &[], Scope::Everything).unwrap();
    assert!(r.rows.len() >= ITEMS as usize, "{} items", r.rows.len());

    let mut g = c.benchmark_group(format!("queries/{n}-accounts"));
    g.bench_function("balance", |b| {
        b.iter(|| query::balance(&store, &ctx, BUSY).unwrap());
    });
    g.bench_function("packages", |b| {
        b.iter(|| query::packages(&store, &ctx, BUSY).unwrap());
    });
    g.bench_function("detalization_month_1000_items", |b| {
        b.iter(|| query::detalization(&store, &ctx, BUSY, month, &[], Scope::Everything).unwrap());
    });
    g.bench_function("detalization_month_1000_items_json", |b| {
        b.iter(|| {
            let r = query::detalization(&store, &ctx, BUSY, month, &[], Scope::Everything).unwrap();
            projections::export::json(&r)
        });
    });
    g.bench_function("detalization_month_1000_items_pdf", |b| {
        b.iter(|| {
            let r = query::detalization(&store, &ctx, BUSY, month, &[], Scope::Everything).unwrap();
            projections::pdf::render(&r).unwrap()
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
