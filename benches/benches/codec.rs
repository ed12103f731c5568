//! Encoding and decoding of events: a JSON input line (the fast way for a usage line and the
//! general way of serde's tagged enum), the binary records of the log (input and decision), and
//! an account's record (`rating::record`, what a checkpoint writes and a cache miss reads).
//! `cargo bench -p ratel-benches --bench codec`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
// The standard `black_box`, not criterion 0.5's volatile copy (see hot_path.rs).
use rating::codec::*;
use rating::*;
use std::hint::black_box;

/// The `ratel` binary's allocator, so that what is measured is what runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CATALOG: &str = include_str!("../../catalogs/example.toml");
const OPEN: &str = r#"{"type":"open_account","id":"o","account":"A1","time":"2026-11-01T07:00:00Z","credit_limit":"0.00","numbers":[{"msisdn":"79001234567","plan":"SMART","options":["MESSENGERS"]}]}"#;
const USAGE: &str = r#"{"type":"usage","id":"msc1:00000001","msisdn":"79001234567","service":"voice","direction":"out","other":"441234567890","start":"2026-11-25T10:00:00Z","duration":95}"#;
const PAYMENT: &str = r#"{"type":"payment","id":"pay:00000001","account":"A1","amount":"500.00","time":"2026-11-25T10:05:00Z"}"#;

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_usage_line", |b| {
        b.iter(|| {
            let _ = black_box(parse_json(black_box(USAGE.as_bytes())));
        });
    });
    g.bench_function("parse_usage_line_tagged_enum", |b| {
        b.iter(|| {
            let _ = black_box(parse_json_tagged(black_box(USAGE.as_bytes())));
        });
    });
    g.bench_function("parse_payment_line", |b| {
        b.iter(|| {
            let _ = black_box(parse_json(black_box(PAYMENT.as_bytes())));
        });
    });

    let cat = Catalog::from_toml("example.toml", CATALOG).unwrap();
    let mut state = State::new();
    step(&mut state, &cat, &parse_json(OPEN.as_bytes()).unwrap());
    let input = parse_json(USAGE.as_bytes()).unwrap();
    // An international call paid in money: a charge with a price span.
    let decision = rate(&state, &cat, &input);
    let mut buf = Vec::with_capacity(512);
    g.bench_function("encode_input", |b| {
        b.iter(|| {
            buf.clear();
            encode_input(black_box(&input), &mut buf);
        });
    });
    let mut record = Vec::new();
    encode_input(&input, &mut record);
    g.bench_function("decode_input", |b| {
        b.iter(|| {
            black_box(decode_input(black_box(&record)).unwrap());
        });
    });
    g.bench_function("encode_decision", |b| {
        b.iter(|| {
            buf.clear();
            encode_decision(black_box(&decision), &mut buf);
        });
    });
    let mut record = Vec::new();
    encode_decision(&decision, &mut record);
    g.bench_function("decode_decision", |b| {
        b.iter(|| {
            black_box(decode_decision(black_box(&record)).unwrap());
        });
    });
    account_record(&mut g, &cat, state);
    g.finish();
}

/// The record of a prepaid account of one number after a payment and a day of twelve calls
/// (14 ids remembered), written and read back.
fn account_record(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    cat: &Catalog,
    mut state: State,
) {
    step(&mut state, cat, &parse_json(PAYMENT.as_bytes()).unwrap());
    for hour in 0..12 {
        let line = USAGE
            .replace("00000001", &format!("{:08}", 2 + hour))
            .replace("T10:00:00Z", &format!("T{:02}:17:00Z", 8 + hour));
        step(&mut state, cat, &parse_json(line.as_bytes()).unwrap());
    }
    let (account, recent) = (state.account("A1").unwrap(), state.recent("A1").unwrap());
    assert_eq!(recent.len(), 14);
    let mut buf = Vec::with_capacity(512);
    g.bench_function("encode_account_record", |b| {
        b.iter(|| record::encode_account(black_box(account), black_box(recent), &mut buf));
    });
    let mut bytes = Vec::new();
    record::encode_account(account, recent, &mut bytes);
    g.bench_function("decode_account_record", |b| {
        b.iter(|| black_box(record::decode_account("A1", black_box(&bytes)).unwrap()));
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
