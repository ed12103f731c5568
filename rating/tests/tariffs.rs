//! Specification of prices: a tariff of the example catalog, a usage item, the expected cost.
//! Quotes touch no state; the same pricing code rates charges.
//!
//! Times are UTC; the catalog reads them in Europe/Moscow (UTC+3). 2026-11-25 is a Wednesday.

mod common;
use common::*;
use rating::*;

struct Case {
    what: &'static str,
    plan: &'static str,
    options: &'static [&'static str],
    service: Service,
    direction: Direction,
    location: Zone,
    other: Option<&'static str>,
    start: &'static str,
    quantity: u64,
    rating_group: Option<u32>,
    cost: &'static str,
}

const fn out(
    what: &'static str,
    plan: &'static str,
    service: Service,
    other: &'static str,
    start: &'static str,
    quantity: u64,
    cost: &'static str,
) -> Case {
    Case {
        what,
        plan,
        options: &[],
        service,
        direction: Direction::Out,
        location: Zone::Home,
        other: Some(other),
        start,
        quantity,
        rating_group: None,
        cost,
    }
}

const fn data(
    what: &'static str,
    plan: &'static str,
    options: &'static [&'static str],
    rg: Option<u32>,
    bytes: u64,
    cost: &'static str,
) -> Case {
    Case {
        what,
        plan,
        options,
        service: Service::Data,
        direction: Direction::Out,
        location: Zone::Home,
        other: None,
        start: "2026-11-25T10:00:00Z",
        quantity: bytes,
        rating_group: rg,
        cost,
    }
}

const fn incoming(what: &'static str, location: Zone, secs: u64, cost: &'static str) -> Case {
    Case {
        what,
        plan: "SMART",
        options: &[],
        service: Service::Voice,
        direction: Direction::In,
        location,
        other: Some("74951234567"),
        start: "2026-11-25T10:00:00Z",
        quantity: secs,
        rating_group: None,
        cost,
    }
}

use Service::*;

const CASES: &[Case] = &[
    // Slots: the first minute is billed whole, then per second.
    out(
        "on-net peak, 45 s: the first minute whole",
        "SMART",
        Voice,
        "79001112233",
        "2026-11-25T10:00:00Z",
        45,
        "2.50",
    ),
    out(
        "on-net peak, 60 s",
        "SMART",
        Voice,
        "79001112233",
        "2026-11-25T10:00:00Z",
        60,
        "2.50",
    ),
    out(
        "on-net peak, 90 s: 2.50 + 30 s at 2.50/min",
        "SMART",
        Voice,
        "79001112233",
        "2026-11-25T10:00:00Z",
        90,
        "3.75",
    ),
    out(
        "zero-second call costs nothing",
        "SMART",
        Voice,
        "79001112233",
        "2026-11-25T10:00:00Z",
        0,
        "0.00",
    ),
    // Time bands.
    out(
        "off-peak Wednesday 21:00 MSK, 61 s: 1.525 rounds up",
        "SMART",
        Voice,
        "74951234567",
        "2026-11-25T18:00:00Z",
        61,
        "1.53",
    ),
    out(
        "peak ends 19:59 + 120 s: first minute peak, second off-peak",
        "SMART",
        Voice,
        "79001112233",
        "2026-11-25T16:59:00Z",
        120,
        "4.00",
    ),
    out(
        "off-peak across midnight: one price, no split",
        "SMART",
        Voice,
        "79001112233",
        "2026-11-25T20:59:30Z",
        90,
        "2.25",
    ),
    out(
        "Saturday noon is the weekend band",
        "SMART",
        Voice,
        "79001112233",
        "2026-11-28T09:00:00Z",
        60,
        "1.50",
    ),
    out(
        "New Year's Eve: the holiday band outweighs peak",
        "SMART",
        Voice,
        "79001112233",
        "2026-12-31T07:00:00Z",
        125,
        "1.50",
    ),
    // 07:59:30 MSK: the off-peak first minute swallows the band change at 08:00 (the whole 60 s
    // increment is billed where it began); the remaining 30 s are peak, per second.
    out(
        "a call from 07:59:30 MSK into peak",
        "SMART",
        Voice,
        "79001112233",
        "2026-11-25T04:59:30Z",
        90,
        "2.75",
    ),
    // Longest prefix: 7900 is on-net, 7495 home off-net, 7 the rest of the country.
    out(
        "national, 61 s billed per minute",
        "SMART",
        Voice,
        "78121234567",
        "2026-11-25T10:00:00Z",
        61,
        "6.00",
    ),
    out(
        "international: connect fee + 10 min",
        "SMART",
        Voice,
        "441234567890",
        "2026-11-25T10:00:00Z",
        600,
        "255.00",
    ),
    out(
        "international: max cost caps 30 min",
        "SMART",
        Voice,
        "441234567890",
        "2026-11-25T10:00:00Z",
        1800,
        "500.00",
    ),
    out(
        "77 is Kazakhstan, not Russia",
        "SMART",
        Voice,
        "77011234567",
        "2026-11-25T10:00:00Z",
        60,
        "30.00",
    ),
    // Messages.
    out(
        "SMS on-net is free",
        "SMART",
        Sms,
        "79001112233",
        "2026-11-25T10:00:00Z",
        1,
        "0",
    ),
    out(
        "SMS off-net",
        "SMART",
        Sms,
        "74951234567",
        "2026-11-25T10:00:00Z",
        1,
        "2.00",
    ),
    out(
        "three SMS abroad",
        "SMART",
        Sms,
        "+375291234567",
        "2026-11-25T10:00:00Z",
        3,
        "19.50",
    ),
    out(
        "MMS on-net is free",
        "SMART",
        Mms,
        "79011112233",
        "2026-11-25T10:00:00Z",
        1,
        "0",
    ),
    out(
        "MMS off-net",
        "SMART",
        Mms,
        "79161112233",
        "2026-11-25T10:00:00Z",
        1,
        "9.90",
    ),
    // Data in volume increments.
    data(
        "150 KB billed as two 100 KB steps at 9.90/MB",
        "SMART",
        &[],
        None,
        153_600,
        "1.94",
    ),
    data(
        "1 MB billed as eleven 100 KB steps",
        "SMART",
        &[],
        None,
        1_048_576,
        "10.64",
    ),
    data(
        "per KB, rounded down: 1500 B is 2 KB",
        "BASIC",
        &[],
        None,
        1_500,
        "0.02",
    ),
    data(
        "per KB, rounded down: 100000 B is 98 KB",
        "BASIC",
        &[],
        None,
        100_000,
        "0.98",
    ),
    data(
        "messenger traffic is free with the option",
        "SMART",
        &["MESSENGERS"],
        Some(10),
        50_000_000,
        "0",
    ),
    data(
        "other traffic is not",
        "SMART",
        &["MESSENGERS"],
        Some(11),
        153_600,
        "1.94",
    ),
    data(
        "messenger traffic without the option",
        "SMART",
        &[],
        Some(10),
        153_600,
        "1.94",
    ),
    // Direction and location.
    incoming("incoming in the home zone is free", Zone::Home, 600, "0"),
    incoming(
        "incoming while roaming abroad",
        Zone::International,
        61,
        "55.00",
    ),
];

#[test]
fn prices_of_the_example_catalog() {
    let cat = example();
    let mut failures = Vec::new();
    for c in CASES {
        let q = QuoteRequest {
            plan: c.plan.into(),
            options: c.options.iter().map(|o| (*o).into()).collect(),
            service: c.service,
            direction: c.direction,
            other: c.other.map(Into::into),
            start: t(c.start),
            quantity: c.quantity,
            location: c.location,
            rating_group: c.rating_group,
        };
        match quote(&cat, &q) {
            Ok(got) if got.money == m(c.cost) => {}
            Ok(got) => failures.push(format!(
                "{}: expected {}, got {} ({:?})",
                c.what, c.cost, got.money, got.spans
            )),
            Err(e) => failures.push(format!(
                "{}: expected {}, got rejection {e}",
                c.what, c.cost
            )),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn a_split_call_shows_its_spans() {
    let cat = example();
    let q = QuoteRequest {
        plan: "SMART".into(),
        options: vec![],
        service: Voice,
        direction: Direction::Out,
        other: Some("79001112233".into()),
        start: t("2026-11-25T16:59:00Z"),
        quantity: 120,
        location: Zone::Home,
        rating_group: None,
    };
    let got = quote(&cat, &q).unwrap();
    let rates: Vec<&str> = got
        .spans
        .iter()
        .map(|s| cat.rates[s.rate as usize].id.as_str())
        .collect();
    assert_eq!(rates, ["VOICE_HOME_PEAK", "VOICE_HOME_OFFPEAK"]);
    assert_eq!(
        got.spans.iter().map(|s| s.units).collect::<Vec<_>>(),
        [60, 60]
    );
    assert_eq!(
        got.spans[1].slot, 1,
        "the second minute is in the per-second slot"
    );
}

#[test]
fn what_cannot_be_priced_is_rejected_with_a_reason() {
    let cat = example();
    let mk = |other: Option<&str>, plan: &str| QuoteRequest {
        plan: plan.into(),
        options: vec![],
        service: Voice,
        direction: Direction::Out,
        other: other.map(Into::into),
        start: t("2026-11-25T10:00:00Z"),
        quantity: 60,
        location: Zone::Home,
        rating_group: None,
    };
    assert!(matches!(
        quote(&cat, &mk(Some("999123"), "SMART")),
        Err(Rejection::UnknownDestination(_))
    ));
    assert!(matches!(
        quote(&cat, &mk(Some("79OO"), "SMART")),
        Err(Rejection::BadOtherParty(_))
    ));
    assert!(matches!(
        quote(&cat, &mk(None, "SMART")),
        Err(Rejection::Malformed(_))
    ));
    assert!(matches!(
        quote(&cat, &mk(Some("79001112233"), "NOPE")),
        Err(Rejection::UnknownPlan(_))
    ));
    let mut roaming_in = mk(Some("79001112233"), "DAILY");
    roaming_in.service = Service::Sms;
    roaming_in.other = Some("441234".into());
    roaming_in.direction = Direction::Out;
    // DAILY prices SMS to any destination, so this one has a rate; a plan without one rejects.
    assert!(quote(&cat, &roaming_in).is_ok());
}

/// CGRateS prices each increment rounded to a global number of decimals; `increment_decimals`
/// gives that: 0.10 a minute billed per second costs 0.00167 a second at 5 decimals.
#[test]
fn per_increment_rounding() {
    let toml = r#"
[catalog]
id = "t"
version = "1"
currency = "EUR"
decimals = 2
timezone = "UTC"
rounding = { method = "half_up", decimals = 4 }
[[destinations]]
id = "ANY"
zone = "home"
network = "offnet"
prefixes = ["1"]
[[rates]]
id = "RT_20CNT"
unit = "seconds"
connect_fee = "0.4"
increment_decimals = 5
slots = [{ from = 0, price = "0.2", per = 60, increment = 60 }, { from = 60, price = "0.1", per = 60, increment = 1 }]
[[plans]]
id = "P"
prices = [{ service = "voice", rate = "RT_20CNT" }]
"#;
    let cat = Catalog::from_toml("inline", toml).unwrap();
    let q = QuoteRequest {
        plan: "P".into(),
        options: vec![],
        service: Voice,
        direction: Direction::Out,
        other: Some("1555".into()),
        start: t("2026-11-25T10:00:00Z"),
        quantity: 120,
        location: Zone::Home,
        rating_group: None,
    };
    assert_eq!(quote(&cat, &q).unwrap().money, m("0.7002"));
}
