//! Batches: a million mixed events of a generated workload rated in memory (the rating core
//! alone, from a fresh state each time), and one RocksDB commit of a batch as the engine writes
//! it (log entries, account index, seen ids, account states; WAL synced).
//! `cargo bench -p ratel-benches --bench batch` (RATEL_BENCH_EVENTS, default 1 000 000;
//! RATEL_BENCH_BATCH, default 16384).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use engine::entry::Entry;
use engine::store::{Commit, Store};
use engine::workload::Workload;
use rating::codec::{encode_decision, encode_input, parse_json};
use rating::{step, Catalog, Input, State};

/// The `ratel` binary's allocator, so that what is measured is what runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The inputs of a month of generated traffic, about `events` of them (bad lines dropped).
fn inputs(events: u64) -> Vec<Input> {
    let (days, per_day) = (30, 8.0);
    let w = Workload {
        accounts: ((events as f64) / (f64::from(days) * per_day)).ceil() as u64,
        days,
        events_per_day: per_day,
        ..Workload::default()
    };
    let mut out = Vec::new();
    w.write(&mut out, |_| {}).unwrap();
    out.split(|&b| b == b'\n')
        .filter_map(|l| parse_json(l).ok())
        .collect()
}

fn batch(c: &mut Criterion) {
    let cat = Catalog::from_toml("example", engine::EXAMPLE_CATALOG).unwrap();
    let inputs = inputs(env("RATEL_BENCH_EVENTS", 1_000_000));
    let mut g = c.benchmark_group("batch");
    g.sample_size(10);
    g.throughput(Throughput::Elements(inputs.len() as u64));
    g.bench_function("rate_million_mixed_in_memory", |b| {
        b.iter_batched(
            State::new,
            |mut s| {
                for i in &inputs {
                    std::hint::black_box(step(&mut s, &cat, i));
                }
                s
            },
            BatchSize::PerIteration,
        );
    });

    // One batch of the engine's writes, from the first `size` inputs of the workload.
    let size = env("RATEL_BENCH_BATCH", 16_384) as usize;
    let mut s = State::new();
    let mut rows = Vec::with_capacity(size);
    for (i, input) in inputs.iter().take(size).enumerate() {
        let d = step(&mut s, &cat, input);
        let (mut ib, mut db) = (Vec::new(), Vec::new());
        encode_input(input, &mut ib);
        encode_decision(&d, &mut db);
        let entry = Entry::Rated {
            position: i as u64,
            input: ib,
            decision: db,
        };
        rows.push((d.account.map(|a| a.to_string()), entry));
    }
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let mut seq = 0u64;
    let mut buf = Vec::new();
    g.throughput(Throughput::Elements(size as u64));
    // Most batches write their log entries and positions only: the accounts they change are
    // written at the next checkpoint.
    g.bench_function("rocksdb_commit_of_a_batch", |b| {
        b.iter(|| {
            let mut c = Commit::default();
            for (account, entry) in &rows {
                seq += 1;
                store.put_entry(&mut c, 0, seq, entry, account.as_deref(), &mut buf);
            }
            store.commit(c, true).unwrap();
        });
    });
    // A checkpoint writes the record (account and the ids it remembers) of every account
    // changed since the last one: here, those the batch changed.
    g.throughput(Throughput::Elements(s.len() as u64));
    g.bench_function("rocksdb_checkpoint_of_the_batch_s_accounts", |b| {
        b.iter(|| {
            let mut c = Commit::default();
            for a in s.accounts() {
                let recent = s.recent(&a.id).expect("an account's ids");
                store.put_account(&mut c, a, recent, &mut buf);
            }
            store.commit(c, true).unwrap();
        });
    });
    g.finish();
}

criterion_group!(benches, batch);
criterion_main!(benches);
