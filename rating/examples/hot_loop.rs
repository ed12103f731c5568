//! Rates one CDR a million times: a fixed workload for instruction counting
//! (`valgrind --tool=callgrind target/release/examples/hot_loop [N] [intl]`), which, unlike wall
//! time on a shared machine, gives the same number every run. The CDR is a call covered by a
//! package, or with `intl` an international call paid in money (alerts and loyalty looked at).

use rating::event::*;
use rating::*;
use rust_decimal::Decimal;
use std::hint::black_box;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let other = match std::env::args().nth(2).as_deref() {
        Some("intl") => "441234567890",
        _ => "79161234567",
    };
    let cat =
        Catalog::from_toml("example.toml", include_str!("../../catalogs/example.toml")).unwrap();
    let t = |s: &str| Timestamp::parse_rfc3339(s).unwrap();
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
    let cdr = Input::Usage(Usage {
        id: "msc1:00000001".into(),
        msisdn: Msisdn(79001234567),
        service: Service::Voice,
        direction: Direction::Out,
        other: Some(other.into()),
        start: t("2026-11-25T10:00:00Z"),
        duration: Some(95),
        bytes: None,
        count: None,
        location: Zone::Home,
        rating_group: None,
    });
    let mut money = Decimal::ZERO;
    for _ in 0..n {
        let d = rate(black_box(&s), black_box(&cat), black_box(&cdr));
        if let Outcome::Charged(c) = &d.outcome {
            money += c.money;
        }
    }
    println!("{n} CDRs rated, {money} charged");
}
