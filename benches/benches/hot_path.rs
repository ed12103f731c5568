//! The rating hot path: one CDR of each service against an account with packages, and a quote.
//! `cargo bench -p ratel-benches --bench hot_path`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rating::event::*;
use rating::*;
use rust_decimal::Decimal;

/// The `ratel` binary's allocator, so that what is measured is what runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CATALOG: &str = include_str!("../../catalogs/example.toml");

fn t(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

fn setup() -> (Catalog, State) {
    let cat = Catalog::from_toml("example.toml", CATALOG).unwrap();
    let mut s = State::new();
    step(
        &mut s,
        &cat,
        &Input::OpenAccount(OpenAccount {
            id: "o".into(),
            account: "A1".into(),
            time: t("2026-11-01T07:00:00Z"),
            credit_limit: Decimal::ZERO,
            numbers: vec![NewNumber {
                msisdn: Msisdn(79001234567),
                plan: "SMART".into(),
                options: vec!["MESSENGERS".into()],
            }],
        }),
    );
    (cat, s)
}

fn usage(id: &str, service: Service, other: Option<&str>, qty: u64) -> Input {
    let (duration, bytes, count) = match service {
        Service::Voice => (Some(qty), None, None),
        Service::Data => (None, Some(qty), None),
        _ => (None, None, Some(qty)),
    };
    Input::Usage(Usage {
        id: id.into(),
        msisdn: Msisdn(79001234567),
        service,
        direction: Direction::Out,
        other: other.map(Into::into),
        start: t("2026-11-25T10:00:00Z"),
        duration,
        bytes,
        count,
        location: Zone::Home,
        rating_group: None,
    })
}

fn hot_path(c: &mut Criterion) {
    let (cat, state) = setup();
    let mut g = c.benchmark_group("rate");
    g.throughput(Throughput::Elements(1));
    let cases = [
        (
            "voice_from_package",
            usage("msc1:00000001", Service::Voice, Some("79161234567"), 95),
        ),
        (
            "voice_international_money",
            usage("msc1:00000002", Service::Voice, Some("441234567890"), 95),
        ),
        (
            "sms_from_package",
            usage("smsc:00000003", Service::Sms, Some("74951234567"), 1),
        ),
        (
            "sms_onnet_free",
            usage("smsc:00000004", Service::Sms, Some("79001112233"), 1),
        ),
        (
            "data_from_package",
            usage("pgw:00000005", Service::Data, None, 1_234_567),
        ),
    ];
    for (name, input) in &cases {
        g.bench_function(*name, |b| {
            b.iter(|| rate(black_box(&state), black_box(&cat), black_box(input)))
        });
    }
    // Rate and apply: the decision is computed and the state changed (a fresh id each time).
    let inputs: Vec<Input> = (0..1_000_000)
        .map(|i| {
            usage(
                &format!("msc1:{i:08}"),
                Service::Voice,
                Some("79161234567"),
                30,
            )
        })
        .collect();
    g.bench_function("voice_rate_and_apply", |b| {
        b.iter_custom(|iters| {
            let mut s = state.clone();
            let started = std::time::Instant::now();
            for i in 0..iters as usize {
                black_box(step(&mut s, &cat, &inputs[i % inputs.len()]));
            }
            started.elapsed()
        })
    });
    g.finish();

    let q = QuoteRequest {
        plan: "SMART".into(),
        options: vec![],
        service: Service::Voice,
        direction: Direction::Out,
        other: Some("79161234567".into()),
        start: t("2026-11-25T16:59:00Z"),
        quantity: 125,
        location: Zone::Home,
        rating_group: None,
    };
    c.bench_function("quote/voice_across_peak_end", |b| {
        b.iter(|| quote(black_box(&cat), black_box(&q)))
    });
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
