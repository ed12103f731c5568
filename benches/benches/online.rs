//! Online charging in the rating core: a session's first request (a grant from money), an
//! update, a grant found by bisection when the money is short, and the end (the session charged
//! as one CDR). Each is one `rate` against a state where the session stands as it would.
//! `cargo bench -p ratel-benches --bench online`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rating::event::*;
use rating::*;
use rust_decimal::Decimal;
use std::hint::black_box;

/// The `ratel` binary's allocator, so that what is measured is what runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CATALOG: &str = include_str!("../../catalogs/example.toml");
const NUMBER: Msisdn = Msisdn(79001234567);

fn t(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

/// An account on BASIC (pay as you go: voice in money) paid `money`.
fn account(cat: &Catalog, money: &str) -> State {
    let mut s = State::new();
    let opening = Input::OpenAccount(OpenAccount {
        id: "o".into(),
        account: "A1".into(),
        time: t("2026-11-01T07:00:00Z"),
        credit_limit: Decimal::ZERO,
        numbers: vec![NewNumber {
            msisdn: NUMBER,
            plan: "BASIC".into(),
            options: vec![],
        }],
    });
    let payment = Input::Payment(Payment {
        id: "p".into(),
        account: Some("A1".into()),
        msisdn: None,
        amount: money.parse().unwrap(),
        time: t("2026-11-01T07:00:01Z"),
    });
    step(&mut s, cat, &opening);
    step(&mut s, cat, &payment);
    s
}

fn request(number: u32, step: SessionStep, time: &str, used: u64) -> Input {
    let time = t(time);
    Input::Session(SessionRequest {
        id: SessionRequest::id_for("gw;bench", number, step, time),
        session: "gw;bench".into(),
        request: number,
        step,
        msisdn: NUMBER,
        service: Service::Voice,
        direction: Direction::Out,
        other: Some("79161234567".into()),
        location: Zone::Home,
        rating_group: None,
        time,
        requested: Some(60),
        used,
    })
}

fn online(c: &mut Criterion) {
    let cat = Catalog::from_toml("example.toml", CATALOG).unwrap();
    let mut g = c.benchmark_group("online");
    g.throughput(Throughput::Elements(1));
    let rich = account(&cat, "1000.00");
    let initial = request(0, SessionStep::Initial, "2026-11-25T10:00:00Z", 0);
    g.bench_function("reserve_initial", |b| {
        b.iter(|| {
            black_box(rate(&rich, &cat, black_box(&initial)));
        });
    });
    let mut open = rich.clone();
    step(&mut open, &cat, &initial);
    let update = request(1, SessionStep::Update, "2026-11-25T10:01:00Z", 60);
    g.bench_function("reserve_update", |b| {
        b.iter(|| {
            black_box(rate(&open, &cat, black_box(&update)));
        });
    });
    let end = request(1, SessionStep::Terminate, "2026-11-25T10:01:00Z", 45);
    g.bench_function("commit_terminate", |b| {
        b.iter(|| {
            black_box(rate(&open, &cat, black_box(&end)));
        });
    });
    // 2.00 pays 80 s: after 60 s used, 20 s of the 60 asked, found by bisection.
    let mut short = account(&cat, "2.00");
    step(&mut short, &cat, &initial);
    g.bench_function("reserve_bisected", |b| {
        b.iter(|| {
            black_box(rate(&short, &cat, black_box(&update)));
        });
    });
    g.finish();
}

criterion_group!(benches, online);
criterion_main!(benches);
