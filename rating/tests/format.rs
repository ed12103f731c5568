//! The binary log format holds: records written by earlier builds still decode and mean what
//! they meant, and records of the current layout are pinned byte for byte.
//!
//! `fixtures/records-vN.txt` holds, a line per scripted input, `kind input-hex decision-hex` as
//! the build of layout version N wrote them (v1: before promised payments). Each is decoded
//! (older versions through `codec::v1`) and must equal what rating the same input gives today.
//! The current version's file must also match today's bytes exactly; `RATEL_BLESS=1` rewrites
//! it, and only ever to add lines at its end or to start a new version's file.

// A test reads and blesses its fixtures: the rating core's rule against I/O is for the core.
#![allow(clippy::disallowed_methods)]

use rating::codec::{decode_decision, decode_input, encode_decision, encode_input, parse_json};
use rating::*;

const SCRIPT: &[&str] = &[
    r#"{"type":"open_account","id":"o1","account":"A1","time":"2026-11-01T09:00:00Z","credit_limit":"50.00","numbers":[{"msisdn":"79001000001","plan":"SMART"}]}"#,
    r#"{"type":"payment","id":"p1","account":"A1","amount":"1000.00","time":"2026-11-01T09:01:00Z"}"#,
    r#"{"type":"usage","id":"u1","msisdn":"79001000001","service":"voice","other":"375291234567","start":"2026-11-02T09:00:00Z","duration":75}"#,
    r#"{"type":"add_number","id":"n1","account":"A1","time":"2026-11-02T10:00:00Z","number":{"msisdn":"79001000002","plan":"DAILY"}}"#,
    r#"{"type":"activate_option","id":"a1","msisdn":"79001000001","option":"TRAVEL","time":"2026-11-03T10:00:00Z"}"#,
    r#"{"type":"deactivate_option","id":"a2","msisdn":"79001000001","option":"TRAVEL","time":"2026-11-04T10:00:00Z"}"#,
    r#"{"type":"set_credit_limit","id":"l1","account":"A1","credit_limit":"300.00","time":"2026-11-05T10:00:00Z"}"#,
    r#"{"type":"tick","id":"t1","account":"A1","time":"2026-12-02T00:00:00Z"}"#,
    r#"{"type":"payment","id":"p1","account":"A1","amount":"1000.00","time":"2026-11-01T09:01:00Z"}"#,
    r#"{"type":"usage","id":"u2","msisdn":"79009999999","service":"sms","other":"79001000001","start":"2026-12-02T09:00:00Z"}"#,
    r#"{"type":"order_detalization","id":"r1","msisdn":"79001000002","month":"2026-11","time":"2026-12-02T10:00:00Z"}"#,
    // Layout version 2.
    r#"{"type":"request_promise","id":"pp1","account":"A1","amount":"200.00","time":"2026-12-02T11:00:00Z"}"#,
    r#"{"type":"payment","id":"p2","account":"A1","amount":"150.00","time":"2026-12-03T11:00:00Z"}"#,
    r#"{"type":"tick","id":"t2","account":"A1","time":"2026-12-06T00:00:00Z"}"#,
    // Layout version 3.
    r#"{"type":"set_balance_alerts","id":"b1","account":"A1","time":"2026-12-06T01:00:00Z","autopay":{"threshold":"500.00","amount":"300.00"},"low_balance":"200.00"}"#,
    r#"{"type":"change_plan","id":"c1","msisdn":"79001000002","plan":"SMART","time":"2026-12-10T10:00:00Z"}"#,
    r#"{"type":"suspend","id":"s1","msisdn":"79001000001","time":"2026-12-11T10:00:00Z"}"#,
    r#"{"type":"tick","id":"t3","account":"A1","time":"2026-12-14T00:00:00Z"}"#,
    r#"{"type":"resume","id":"s2","msisdn":"79001000001","time":"2026-12-14T10:00:00Z"}"#,
    r#"{"type":"report_lost","id":"s3","msisdn":"79001000002","time":"2026-12-15T10:00:00Z"}"#,
    // Layout version 4.
    r#"{"type":"adjust","id":"j1","account":"A1","amount":"-1.50","reason":"billing_error","operator":"op-1","time":"2026-12-15T11:00:00Z"}"#,
    r#"{"type":"refund","id":"f1","account":"A1","charge":"u1","reason":"dispute","operator":"op-1","time":"2026-12-15T11:01:00Z"}"#,
    r#"{"type":"reverse_payment","id":"v1","account":"A1","payment":"p2","reason":"chargeback","operator":"bank","time":"2026-12-15T11:02:00Z"}"#,
];

/// The catalog the fixtures of `version` were written with (the example catalog moves on): the
/// format catalog, with promised payments from version 2 and the lifecycle rules from 3.
fn catalog(version: u8) -> Catalog {
    let mut text = include_str!("fixtures/format-catalog.toml").to_string();
    if version >= 2 {
        text += "\n[promised_payment]\nmax_amount = \"300.00\"\nshare_of_recent_payments = \"0.5\"\nvalidity_days = 3\nfee = \"10.00\"\n";
    }
    if version >= 3 {
        text += "\n[suspension]\ndaily_fee = \"2.00\"\n\n[plan_change]\nold_packages = \"drop\"\n";
    }
    Catalog::from_toml("format-catalog.toml", &text).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Today's inputs and decisions for the script, with the catalog as it was when the fixtures
/// were first written (the example catalog moves on), plus the promised-payment policy.
fn today() -> Vec<(Input, Decision)> {
    let cat = catalog(rating::codec::VERSION);
    // The script is not in time order, and was written before ids had a window.
    let mut s = State::with_window(rating::recent::MAX_WINDOW);
    let mut out: Vec<(Input, Decision)> = Vec::new();
    for l in SCRIPT {
        let mut input = parse_json(l.as_bytes()).unwrap();
        if input.refers_to().is_some() {
            // What the engine records: the named decision's charge or payment, found in the log.
            let found = out
                .iter()
                .rev()
                .find_map(|(_, d)| refund::found(&input, &cat, d));
            assert!(found.is_some(), "{l}");
            input = refund::with_found(&input, found);
        }
        let d = step(&mut s, &cat, &input);
        out.push((input, d));
    }
    out
}

fn line(input: &Input, d: &Decision) -> String {
    let (mut i, mut o) = (Vec::new(), Vec::new());
    encode_input(input, &mut i);
    encode_decision(d, &mut o);
    format!("{} {} {}", input.kind(), hex(&i), hex(&o))
}

fn fixture(version: u8) -> String {
    format!(
        "{}/tests/fixtures/records-v{version}.txt",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A number read from a record before version 4 joined at the earliest instant of its joining
/// day; today's knows the second. Checks the first and takes today's.
fn joining_times_as_today(old: &mut Decision, today: &Decision) {
    let joined: Vec<Timestamp> = match &today.outcome {
        Outcome::Opened { account, .. } => account.numbers.iter().map(|n| n.joined).collect(),
        Outcome::NumberAdded { number, .. } => vec![number.joined],
        _ => Vec::new(),
    };
    let numbers: Vec<&mut rating::state::Number> = match &mut old.outcome {
        Outcome::Opened { account, .. } => account.numbers.iter_mut().collect(),
        Outcome::NumberAdded { number, .. } => vec![number],
        _ => Vec::new(),
    };
    assert_eq!(numbers.len(), joined.len());
    for (n, joined) in numbers.into_iter().zip(joined) {
        assert_eq!(n.joined, rating::codec::v3::earliest_joining(n.anchor));
        assert!(n.joined <= joined, "the earliest instant of its day");
        n.joined = joined;
    }
}

#[test]
fn records_of_every_layout_version_still_read_and_mean_the_same() {
    let now = today();
    let current = fixture(rating::codec::VERSION);
    if std::env::var_os("RATEL_BLESS").is_some() {
        let text: Vec<String> = now.iter().map(|(i, d)| line(i, d)).collect();
        std::fs::write(&current, text.join("\n") + "\n").unwrap();
    }
    for version in 1..=rating::codec::VERSION {
        let text = std::fs::read_to_string(fixture(version)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() >= 10, "v{version}: {} lines", lines.len());
        for (k, old) in lines.iter().enumerate() {
            let mut parts = old.split(' ');
            let (kind, i, d) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            let (i, d) = (unhex(i), unhex(d));
            assert_eq!(i[0], version, "v{version} {kind}: version byte");
            let input = decode_input(&i).unwrap();
            let mut decision = decode_decision(&d).unwrap();
            if version < rating::codec::VERSION {
                // Written with the catalog of their day, and without what later layouts added
                // (alerts and inactivity work, from version 3).
                assert_eq!(decision.catalog, catalog(version).tag());
                decision.catalog = now[k].1.catalog;
                if version < 4 {
                    joining_times_as_today(&mut decision, &now[k].1);
                }
                if version < 3 {
                    assert!(decision.alerts.is_empty() && decision.inactivity.is_none());
                    decision.alerts = now[k].1.alerts.clone();
                    decision.inactivity = now[k].1.inactivity.clone();
                }
            }
            assert_eq!(
                input, now[k].0,
                "v{version} {kind}: the input reads differently"
            );
            assert_eq!(
                decision, now[k].1,
                "v{version} {kind}: rates to another decision today"
            );
            if version == rating::codec::VERSION {
                assert_eq!(*old, line(&now[k].0, &now[k].1), "{kind}: bytes changed");
            }
        }
    }
    assert_eq!(
        std::fs::read_to_string(current).unwrap().lines().count(),
        SCRIPT.len(),
        "the current version's file covers the whole script"
    );
}

#[test]
fn the_promise_in_the_script_is_granted_repaid_and_written_off() {
    let now = today();
    let outcome = |id: &str| &now.iter().find(|(i, _)| i.id() == id).unwrap().1;
    assert!(
        matches!(outcome("pp1").outcome, Outcome::PromiseGranted { .. }),
        "{:?}",
        outcome("pp1")
    );
    match &outcome("p2").outcome {
        Outcome::Paid { repaid, .. } => assert_eq!(repaid.to_string(), "150.00"),
        o => panic!("{o:?}"),
    }
    let w = outcome("t2")
        .written_off
        .as_ref()
        .expect("the rest written off at expiry");
    assert_eq!(w.amount.to_string(), "50.00");
}
