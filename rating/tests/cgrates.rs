//! CGRateS compatibility, as specifications: a tariff plan written in CGRateS's CSV format
//! (tests/fixtures/cgrates/operator, our own), a call, and the price CGRateS's algorithm gives,
//! worked by hand in the comments. The public CGRateS plans in ../shared/cgrates are checked at
//! the end when they are present.

// A test reads and blesses its fixtures: the rating core's rule against I/O is for the core.
#![allow(clippy::disallowed_methods)]

use rating::cgrates::csv::{import, Warning};
use rating::cgrates::{parse_duration, CgrQuote, CgrRequest, PriceError, Tariff};
use rating::Catalog;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::PathBuf;

macro_rules! fixture {
    ($($name:literal),*) => {{
        let mut m = BTreeMap::new();
        $(m.insert($name.to_string(), include_str!(concat!("fixtures/cgrates/operator/", $name)).to_string());)*
        m
    }};
}

fn operator_files() -> BTreeMap<String, String> {
    fixture!(
        "Destinations.csv",
        "Timings.csv",
        "Rates.csv",
        "DestinationRates.csv",
        "RatingPlans.csv",
        "RatingProfiles.csv"
    )
}

fn operator() -> Tariff {
    Tariff::compile(&import(&operator_files(), 5).unwrap().tariff).unwrap()
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// Prices usage written as CGRateS writes it: a duration for calls, a count otherwise.
fn price(
    t: &Tariff,
    category: &str,
    subject: &str,
    dest: &str,
    start: &str,
    usage: &str,
) -> Result<CgrQuote, PriceError> {
    let voice = category == "call";
    let usage = if voice {
        parse_duration(usage).unwrap()
    } else {
        usage.parse().unwrap()
    };
    t.price(&CgrRequest {
        tenant: "ratel.test",
        category,
        subject,
        destination: dest,
        start: chrono::DateTime::parse_from_rfc3339(start).unwrap(),
        usage,
        voice,
    })
}

struct Case {
    rule: &'static str,
    category: &'static str,
    subject: &'static str,
    destination: &'static str,
    start: &'static str,
    usage: &'static str,
    cost: &'static str,
    spans: usize,
}

const fn call(
    rule: &'static str,
    subject: &'static str,
    destination: &'static str,
    start: &'static str,
    usage: &'static str,
    cost: &'static str,
    spans: usize,
) -> Case {
    Case {
        rule,
        category: "call",
        subject,
        destination,
        start,
        usage,
        cost,
        spans,
    }
}

#[test]
fn prices_follow_cgrates() {
    // 2026-11-25 is a Wednesday; 2026-11-28 a Saturday; 2027-01-01 a Friday.
    #[rustfmt::skip]
    let cases = [
        // PEAK (from 08:00) and OFFPEAK_MORNING (from 00:00) both hold at 10:00 with weight 10:
        // the timing that started later wins. RT_PEAK: the first minute whole (1.2), then 30 s
        // at 1.2/min per second (30 × 0.02); the connect fee 0.25 once. *up 2.
        call("slot change at 60 s, connect fee once", "zed", "4989123", "2026-11-25T10:00:00Z", "90s", "2.05", 2),
        // 18:59:30: 30 s of peak rounds up to its 1 min increment and swallows 19:00:00–19:00:30;
        // the remaining 30 s are off-peak (OFFPEAK_EVENING started later) in RT_OFFPEAK's
        // per-second slot: 0.25 + 1.2 + 30 × 0.005.
        call("peak to off-peak at 19:00", "zed", "4989123", "2026-11-25T18:59:30Z", "90s", "1.60", 2),
        // Thursday 23:59 off-peak (0.6 for the first minute), then at midnight New Year's Day
        // (weight 20) takes over: 0.05 a minute. 0.25 + 0.6 + 0.05.
        call("crossing midnight into a holiday", "zed", "4989123", "2026-12-31T23:59:00Z", "120s", "0.90", 2),
        // Even on a timing of *any the call is split at midnight: two spans of 30 × 0.00167.
        call("split at midnight on *any", "zed", "4915123", "2026-11-25T23:59:30Z", "60s", "0.2002", 2),
        call("weekend", "zed", "4989123", "2026-11-28T10:00:00Z", "90s", "1.00", 2),
        // Timings read the call's own wall clock: 19:30 at +03:00 is off-peak there.
        call("the call's own time zone", "zed", "4989123", "2026-11-25T19:30:00+03:00", "60s", "0.85", 1),
        // 7 s at 0.1/min per second: raw 0.01167, 7 increments of 0.00167 = 0.01169, + 0.1
        // connect fee = 0.11169, then each destination rate's own final rounding.
        call("*middle to 4 decimals", "zed", "4915123", "2026-11-25T10:00:00Z", "7s", "0.1117", 1),
        call("*up to 2 decimals", "up", "4915123", "2026-11-25T10:00:00Z", "7s", "0.12", 1),
        call("*down to 2 decimals", "down", "4915123", "2026-11-25T10:00:00Z", "7s", "0.11", 1),
        // 1/min per second is 0.01667 a second at 5 decimals: 2 min cost 2.0004 + 0.5 → 2.51.
        call("per-increment rounding shows in the price", "zed", "12125551234", "2026-11-25T10:00:00Z", "2m", "2.51", 1),
        // 10 min: 10.002 + 0.5, capped by *free at 5.
        call("max cost *free", "zed", "12125551234", "2026-11-25T10:00:00Z", "10m", "5", 1),
        // alice's plan has the same cap with *disconnect, which does not change a price; she
        // has her own profile, so *any does not serve her; US is in her plan.
        call("max cost *disconnect", "alice", "12125551234", "2026-11-25T10:00:00Z", "10m", "10.51", 1),
        // alice's plan does not rate Germany: her fallback *any does.
        call("fallback to *any", "alice", "4989123", "2026-11-25T10:00:00Z", "60s", "1.45", 1),
        // bob → carol → *any: two levels of fallback.
        call("fallback through two subjects", "bob", "4930123", "2026-11-25T10:00:00Z", "60s", "1.45", 1),
        call("the subject's own plan first", "bob", "4916555", "2026-11-25T10:00:00Z", "60s", "0.05", 1),
        // 4930 is rated only at night: by day the longest active match is 49.
        call("longest prefix among active destinations (night)", "zed", "4930123", "2026-11-25T03:00:00Z", "60s", "0.01", 1),
        call("longest prefix among active destinations (day)", "zed", "4930123", "2026-11-25T10:00:00Z", "60s", "1.45", 1),
        // 4916 is in DST_DE_MOBILE (weight 10) and DST_DE_VODA (weight 30): VODA wins.
        call("highest weight among destinations of a prefix", "zed", "4916555", "2026-11-25T10:00:00Z", "60s", "0.05", 1),
        call("prefixes are literal", "zed", "voicemail", "2026-11-25T10:00:00Z", "30s", "0", 1),
        // dave's plan changes at 12:00Z: the first minute on RP_RETAIL (0.1 + 0.1002), the
        // second on RP_NEW (60 × 0.01); the final rounding is DR_MOBILE's, the one with the
        // most decimals (*middle 4).
        call("split at an activation", "dave", "4915123", "2026-06-01T11:59:00Z", "120s", "0.8002", 2),
        call("after the activation", "dave", "4915123", "2026-07-01T10:00:00Z", "60s", "0.6", 1),
        // SMS: per message on the *any destination.
        Case { rule: "SMS", category: "sms", subject: "zed", destination: "4989123", start: "2026-11-25T10:00:00Z", usage: "3", cost: "0.27", spans: 1 },
        // 1,000,000 bytes = 10 started 100 KB steps = 1,024,000 bytes: raw 0.48828, 10 × 0.04883.
        Case { rule: "data", category: "data", subject: "zed", destination: "", start: "2026-11-25T10:00:00Z", usage: "1000000", cost: "0.49", spans: 1 },
        // Data is not split at midnight: one span of 489 steps of 0.04883.
        Case { rule: "data across midnight", category: "data", subject: "zed", destination: "", start: "2026-11-25T23:59:59Z", usage: "50000000", cost: "23.88", spans: 1 },
    ];
    let t = operator();
    let mut failures = Vec::new();
    for c in &cases {
        match price(&t, c.category, c.subject, c.destination, c.start, c.usage) {
            Ok(q) if q.cost == d(c.cost) && q.spans.len() == c.spans => {}
            Ok(q) => failures.push(format!(
                "{}: got {} in {} spans, want {} in {}\n{}",
                c.rule,
                q.cost,
                q.spans.len(),
                c.cost,
                c.spans,
                serde_json::to_string_pretty(&q).unwrap()
            )),
            Err(e) => failures.push(format!("{}: {e}", c.rule)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn breakdown_shows_spans_increments_and_rounding() {
    let q = price(
        &operator(),
        "call",
        "zed",
        "4989123",
        "2026-11-25T18:59:30Z",
        "90s",
    )
    .unwrap();
    assert_eq!(q.connect_fee, d("0.25"));
    // The first span, rounded up to a minute, swallowed 19:00:00–19:00:30 of the off-peak.
    assert_eq!(q.billed_usage, 90 * rating::cgrates::SECOND);
    let s: Vec<_> = q
        .spans
        .iter()
        .map(|s| {
            (
                s.start.as_str(),
                s.timing.as_str(),
                s.rate.as_str(),
                s.slot,
                s.increments,
                s.increment_cost,
                s.cost,
            )
        })
        .collect();
    assert_eq!(
        s,
        [
            (
                "2026-11-25T18:59:30Z",
                "PEAK",
                "RT_PEAK",
                0,
                1,
                d("1.2"),
                d("1.2")
            ),
            (
                "2026-11-25T19:00:30Z",
                "OFFPEAK_EVENING",
                "RT_OFFPEAK",
                1,
                30,
                d("0.005"),
                d("0.15")
            ),
        ]
    );
    assert_eq!(q.total, d("1.60"));
    assert_eq!((q.rounding.decimals, q.rounding.global_decimals), (2, 5));
    // The midnight split of a New Year call names the holiday timing on its second span.
    let q = price(
        &operator(),
        "call",
        "zed",
        "4989123",
        "2026-12-31T23:59:00Z",
        "120s",
    )
    .unwrap();
    assert_eq!(q.spans[1].start, "2027-01-01T00:00:00Z");
    assert_eq!(q.spans[1].timing, "NEW_YEAR");
    // The fallback says who rated the call.
    let q = price(
        &operator(),
        "call",
        "bob",
        "4930123",
        "2026-11-25T10:00:00Z",
        "60s",
    )
    .unwrap();
    assert_eq!(
        (
            q.spans[0].subject.as_str(),
            q.spans[0].destination.as_str(),
            q.spans[0].prefix.as_str()
        ),
        ("*any", "DST_DE", "49")
    );
}

#[test]
fn what_cannot_be_priced_is_an_error_not_a_price() {
    let t = operator();
    let at = "2026-11-25T10:00:00Z";
    assert!(matches!(
        price(&t, "call", "zed", "7495123", at, "60s"),
        Err(PriceError::NotAuthorised { .. })
    ));
    assert!(matches!(
        price(&t, "call", "zed", "4989", "2025-06-01T10:00:00Z", "60s"),
        Err(PriceError::NotActive { .. })
    ));
    assert!(matches!(
        price(&t, "mms", "zed", "4989", at, "1"),
        Err(PriceError::NoProfile { .. })
    ));
    // A night-only destination chosen at 05:59:30 has no interval after 06:00.
    assert!(matches!(
        price(&t, "call", "zed", "4930123", "2026-11-25T05:59:30Z", "120s"),
        Err(PriceError::NoInterval { .. })
    ));
    let huge = CgrRequest {
        tenant: "ratel.test",
        category: "call",
        subject: "zed",
        destination: "4989",
        start: chrono::DateTime::parse_from_rfc3339(at).unwrap(),
        usage: u64::MAX,
        voice: true,
    };
    assert!(matches!(t.price(&huge), Err(PriceError::TooLarge(_))));
}

#[test]
fn import_warns_by_file_and_line() {
    let w = import(&operator_files(), 5).unwrap().warnings;
    let at: Vec<(&str, u64)> = w.iter().map(|w| (w.file.as_str(), w.line)).collect();
    assert_eq!(
        at,
        [("Timings.csv", 8), ("DestinationRates.csv", 12)],
        "{w:?}"
    );

    let mut files = BTreeMap::new();
    files.insert("Destinations.csv".to_string(), "D1,49\n".to_string());
    files.insert(
        "Rates.csv".to_string(),
        "#h\nR1,0,1,60s,1s,0s\nR2,0,1,1x,1s,0s\nR3,0,1e2,60s,1s,0s\n".to_string(),
    );
    files.insert(
        "DestinationRates.csv".to_string(),
        "DR1,D1,R1,*up,2,0,\nDR2,D1,R2,*up,2,0,\nDR3,D9,R1,*up,2,0,\nDR4,D1,R1,*sideways,2,0,\n"
            .to_string(),
    );
    files.insert(
        "RatingPlans.csv".to_string(),
        "RP1,DR1,*any,10\nRP1,DR1,NOPE,10\nRP1,DR1,*any,10,extra\n".to_string(),
    );
    files.insert("RatingProfiles.csv".to_string(), "t,call,*any,2026-01-01T00:00:00Z,RP1,\nt,call,x,yesterday,RP1,\nt,call,y,2026-01-01T00:00:00Z,RP9,\n".to_string());
    let imp = import(&files, 5).unwrap();
    let got: Vec<String> = imp.warnings.iter().map(Warning::to_string).collect();
    let want = [
        "Rates.csv:3: rate R2: RateUnit: duration \"1x\" has an unknown unit \"x\"; row skipped",
        "Rates.csv:4: rate R3: Rate: amount \"1e2\" is not a plain decimal number; row skipped",
        "DestinationRates.csv:2: DR2: unknown rate R2; row skipped",
        "DestinationRates.csv:3: DR3: unknown destination D9; row skipped",
        "DestinationRates.csv:4: DR4: rounding method *sideways is not *up, *down or *middle; row skipped",
        "RatingPlans.csv:2: RP1: unknown timing NOPE; row skipped",
        "RatingPlans.csv:3: 5 columns, ratel reads the first 4; the rest is ignored",
        "RatingProfiles.csv:2: t:call:x: activation time \"yesterday\" is not RFC 3339; row skipped",
        "RatingProfiles.csv:3: t:call:y: unknown rating plan RP9; row skipped",
    ];
    assert_eq!(got, want);
    // What was kept still prices.
    let t = Tariff::compile(&imp.tariff).unwrap();
    let q = t
        .price(&CgrRequest {
            tenant: "t",
            category: "call",
            subject: "x",
            destination: "491",
            start: chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z").unwrap(),
            usage: 60 * rating::cgrates::SECOND,
            voice: true,
        })
        .unwrap();
    // 60 × 0.01667 = 1.0002, *up to 2 decimals.
    assert_eq!(q.cost, d("1.01"));
}

#[test]
fn an_imported_plan_is_a_catalog_that_prices_the_same() {
    let imp = import(&operator_files(), 5).unwrap();
    let text = format!(
        "[catalog]\nid = \"op\"\nversion = \"1\"\ncurrency = \"EUR\"\ndecimals = 4\ntimezone = \"UTC\"\nrounding = {{ method = \"half_up\", decimals = 4 }}\n\n{}",
        toml::to_string(&toml::Table::from_iter([("cgrates".to_string(), toml::Value::try_from(&imp.tariff).unwrap())])).unwrap()
    );
    let cat = Catalog::from_toml("op.toml", &text).unwrap();
    let from_catalog = cat.cgrates.as_ref().expect("the catalog holds the tariff");
    let direct = operator();
    for (subject, dest, start, usage) in [
        ("zed", "4989123", "2026-11-25T18:59:30Z", "90s"),
        ("dave", "4915123", "2026-06-01T11:59:00Z", "120s"),
    ] {
        assert_eq!(
            price(from_catalog, "call", subject, dest, start, usage),
            price(&direct, "call", subject, dest, start, usage)
        );
    }
    // A catalog problem in the [cgrates] table is named like any other.
    let broken = text.replace("rate_unit = \"60s\"", "rate_unit = \"60q\"");
    let err = Catalog::from_toml("op.toml", &broken).unwrap_err();
    assert!(
        err.problems()
            .iter()
            .any(|p| p.item.starts_with("cgrates.rates.") && p.problem.contains("60q")),
        "{err}"
    );
}

/// ../shared/cgrates: CGRateS's own published plans. Not part of the project; skipped if absent.
fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("RATEL_CGRATES_PLANS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/cgrates"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: CGRateS plans not found at {} (set RATEL_CGRATES_PLANS)",
            dir.display()
        );
        None
    }
}

fn read_plan(dir: &std::path::Path) -> BTreeMap<String, String> {
    rating::cgrates::csv::FILES
        .iter()
        .filter_map(|f| {
            std::fs::read_to_string(dir.join(f))
                .ok()
                .map(|t| (f.to_string(), t))
        })
        .collect()
}

#[test]
fn every_public_cgrates_plan_imports() {
    let Some(root) = shared() else { return };
    let mut n = 0;
    for group in ["tariffplans", "inline"] {
        let Ok(entries) = std::fs::read_dir(root.join(group)) else {
            continue;
        };
        for e in entries.flatten() {
            let files = read_plan(&e.path());
            let imp =
                import(&files, 5).unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
            Tariff::compile(&imp.tariff)
                .unwrap_or_else(|p| panic!("{}: {p:?}", e.path().display()));
            n += 1;
        }
    }
    assert!(n >= 11, "found {n} plans");
}

#[test]
fn public_plans_price_as_worked_by_hand() {
    let Some(root) = shared() else { return };
    // (plan, category, subject, destination, usage, cost), on Wednesday 2026-11-25 10:00Z.
    #[rustfmt::skip]
    let cases = [
        // The README's example: 120 s of RT_20CNT (1002 calling 1001 on RP_1002) costs
        // 0.4 + 0.2 + 60 × 0.00167 = 0.7002, not 0.7.
        ("tariffplans/tutorial", "call", "1002", "1001", "120s", "0.7002"),
        // 45 s on RT_20CNT bill the first whole minute: 0.4 + 0.2.
        ("tariffplans/tutorial", "call", "1002", "1001", "45s", "0.6"),
        // 1001 calls 1003 on RP_1001: 0.01 a second; *disconnect at 0.12 does not cap a price.
        ("tariffplans/tutorial", "call", "1001", "1003", "20m", "12"),
        ("tariffplans/tutorial", "sms", "1001", "1003", "3", "0.03"),
        // RP_RETAIL2 caps calls to 1007 at 0.62 with *free: 2 min at 0.01 a second would be 1.2.
        ("tariffplans/oldtutorial", "call", "1001", "1007", "2m", "0.62"),
        // The *any subject at peak to 10xx: RT_40CNT, 0.8 + 0.4 for the first minute.
        ("tariffplans/oldtutorial", "call", "1005", "1099", "60s", "1.2"),
        // 1002 has its own destination (weight 20): 0.01 a minute; anything else is *any's.
        ("tariffplans/tp_destination_with_any", "call", "1001", "1002", "60s", "0.01"),
        ("tariffplans/tp_destination_with_any", "call", "1001", "2001", "60s", "0.3"),
        // One unit of cost per 1024 bytes.
        ("tariffplans/tutorial2", "data", "1001", "", "4096", "4"),
        // RT_10C_CN: only a connect fee.
        ("tariffplans/tutorial2", "call", "RPF_SPECIAL_BLC", "1002", "5m", "0.1"),
    ];
    for (dir, category, subject, dest, usage, cost) in cases {
        let t = Tariff::compile(&import(&read_plan(&root.join(dir)), 5).unwrap().tariff).unwrap();
        let voice = category == "call";
        let got = t.price(&CgrRequest {
            tenant: "cgrates.org",
            category,
            subject,
            destination: dest,
            start: chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z").unwrap(),
            usage: if voice {
                parse_duration(usage).unwrap()
            } else {
                usage.parse().unwrap()
            },
            voice,
        });
        assert_eq!(
            got.map(|q| q.cost),
            Ok(d(cost)),
            "{dir}: {subject} → {dest}, {usage}"
        );
    }
}

#[test]
fn a_plan_priced_by_cgrates_is_checked() {
    let imp = import(&operator_files(), 5).unwrap();
    let tariff = toml::to_string(&toml::Table::from_iter([(
        "cgrates".to_string(),
        toml::Value::try_from(&imp.tariff).unwrap(),
    )]))
    .unwrap();
    let head = "[catalog]\nid = \"op\"\nversion = \"1\"\ncurrency = \"EUR\"\ndecimals = 4\ntimezone = \"UTC\"\nrounding = { method = \"half_up\", decimals = 4 }\n";
    let rates = "[[rates]]\nid = \"R\"\nunit = \"messages\"\nslots = [{ from = 0, price = \"1\", per = 1, increment = 1 }]\n";
    let cases = [
        ("[[plans]]\nid = \"P\"\ncgrates = { tenant = \"ratel.test\" }\n", true, ""),
        ("[[plans]]\nid = \"P\"\ncgrates = { tenant = \"nobody\" }\n", true, "no CGRateS rating profile of tenant \"nobody\""),
        ("[[plans]]\nid = \"P\"\ncgrates = { tenant = \"ratel.test\" }\nprices = [{ service = \"sms\", rate = \"R\" }]\n", true, "no prices or packages of its own"),
        ("[[plans]]\nid = \"P\"\ncgrates = { tenant = \"ratel.test\" }\n[[options]]\nid = \"O\"\nprices = [{ service = \"sms\", rate = \"R\" }]\n", true, "may join a plan priced by CGRateS"),
        ("[[plans]]\nid = \"P\"\ncgrates = { tenant = \"ratel.test\" }\n", false, "the catalog has no [cgrates] tariff plan"),
    ];
    for (plans, with_tariff, problem) in cases {
        let text = format!(
            "{head}{rates}{plans}\n{}",
            if with_tariff { tariff.as_str() } else { "" }
        );
        match Catalog::from_toml("op.toml", &text) {
            Ok(_) => assert!(problem.is_empty(), "accepted, wanted {problem:?}:\n{plans}"),
            Err(e) => assert!(
                !problem.is_empty() && e.problems().iter().any(|p| p.problem.contains(problem)),
                "{plans}: {e}"
            ),
        }
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// The CSV reader takes hostile text (mutated fixture rows, arbitrary bytes) and answers
        /// with a plan and warnings, or an error; never a panic.
        #[test]
        fn import_never_panics(
            file in 0usize..6,
            edits in proptest::collection::vec((any::<usize>(), any::<char>()), 0..8),
            cut in any::<usize>(),
            noise in ".{0,200}",
        ) {
            let mut files = operator_files();
            let name = rating::cgrates::csv::FILES[file];
            let mut chars: Vec<char> = files[name].chars().collect();
            for (at, c) in edits {
                let n = chars.len();
                chars[at % n] = c;
            }
            let n = chars.len();
            chars.truncate(cut % (n + 1));
            let mut text: String = chars.into_iter().collect();
            text.push_str(&noise);
            files.insert(name.to_string(), text);
            if let Ok(imp) = import(&files, 5) {
                prop_assert!(Tariff::compile(&imp.tariff).is_ok(), "an import always compiles");
            }
        }

        /// Over random calls: a price is never negative, never below the connect fee unless
        /// capped, and a longer call never costs less than a shorter one from the same moment.
        #[test]
        fn longer_never_cheaper(
            subject in prop::sample::select(vec!["zed", "alice", "bob", "dave", "up", "down"]),
            dest in prop::sample::select(vec!["4989123", "4915123", "4916555", "4930123", "12125551234", "voicemail", "7495"]),
            start in 1_767_225_600i64..1_798_761_600, // 2026
            offset in -12i32..14,
            a in 0u64..7_200,
            extra in 0u64..7_200,
        ) {
            let t = operator();
            let start = chrono::DateTime::from_timestamp(start, 0).unwrap()
                .with_timezone(&chrono::FixedOffset::east_opt(offset * 3600).unwrap());
            let req = |secs: u64| CgrRequest { tenant: "ratel.test", category: "call", subject, destination: dest, start, usage: secs * rating::cgrates::SECOND, voice: true };
            let (short, long) = (t.price(&req(a)), t.price(&req(a + extra)));
            if let (Ok(s), Ok(l)) = (&short, &long) {
                prop_assert!(s.cost >= Decimal::ZERO);
                prop_assert!(s.cost <= l.cost, "{} s cost {}, {} s cost {}", a, s.cost, a + extra, l.cost);
                prop_assert!(s.billed_usage >= s.usage);
                if s.max_cost.is_none() {
                    prop_assert!(s.total >= s.connect_fee);
                }
            }
        }
    }
}
