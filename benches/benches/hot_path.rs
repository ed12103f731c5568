//! The rating hot path: one CDR of each service against an account with packages, and a quote.
//! `cargo bench -p ratel-benches --bench hot_path`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
// Not criterion 0.5's `black_box`, which without its nightly feature copies a value with
// volatile reads: for a decision of a few hundred bytes that copy was a tenth of the time
// measured. The standard one hides a value from the optimizer without moving it. Routines
// return nothing, so criterion has nothing of its own to copy.
use rating::event::*;
use rating::*;
use rust_decimal::Decimal;
use std::hint::black_box;

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
            b.iter(|| {
                black_box(rate(black_box(&state), black_box(&cat), black_box(input)));
            });
        });
    }
    // Rate and apply: the decision is computed and the state changed. A fresh id each time,
    // five minutes of event time apart, so that the account's memory of ids holds three days'
    // worth (864 ids: a busy subscriber) as it would live, and a payment a week. Runs of
    // 100 000 (347 days: monthly renewals, packages used up and paid calls included) each
    // start from the opened account.
    const RUN: usize = 100_000;
    let inputs: Vec<Input> = (0..RUN)
        .map(|i| {
            let at = t("2026-11-01T08:00:00Z").plus(300 * i as u64);
            if i % 2016 == 1000 {
                return Input::Payment(Payment {
                    id: format!("pay:{i:08}").into(),
                    account: Some("A1".into()),
                    msisdn: None,
                    amount: Decimal::new(400_000, 2),
                    time: at,
                });
            }
            let mut u = usage(
                &format!("msc1:{i:08}"),
                Service::Voice,
                Some("79161234567"),
                30,
            );
            if let Input::Usage(u) = &mut u {
                u.start = at;
            }
            u
        })
        .collect();
    g.bench_function("voice_rate_and_apply", |b| {
        b.iter_custom(|iters| {
            let mut spent = std::time::Duration::ZERO;
            let mut left = iters as usize;
            while left > 0 {
                let n = left.min(RUN);
                let mut s = state.clone();
                let started = std::time::Instant::now();
                for input in &inputs[..n] {
                    black_box(step(&mut s, &cat, input));
                }
                spent += started.elapsed();
                left -= n;
            }
            spent
        });
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
        b.iter(|| {
            let _ = black_box(quote(black_box(&cat), black_box(&q)));
        });
    });
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
