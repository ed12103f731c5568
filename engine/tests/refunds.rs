//! Refunds and payment reversals through the engine: the charge or payment they name is found
//! in the store, among the batches in flight, or earlier in the same batch, and only among its
//! own account's; whatever a line claims the charge took is not believed. The audit counts
//! them, notices a refund beyond its charge, and replay and the read models follow.

mod common;

use engine::entry::Entry;
use engine::pipeline::Config;
use engine::store::Store;
use rating::codec::{decode_decision, encode_decision};
use rating::Outcome;
use std::path::Path;

const LINES: &[&str] = &[
    r#"{"type":"open_account","id":"o1","account":"A1","time":"2026-11-01T09:00:00Z","numbers":[{"msisdn":"79001000001","plan":"BASIC"}]}"#,
    r#"{"type":"open_account","id":"o2","account":"A2","time":"2026-11-01T09:00:00Z","numbers":[{"msisdn":"79001000002","plan":"BASIC"}]}"#,
    r#"{"type":"payment","id":"pay-1","account":"A1","amount":"100.00","time":"2026-11-01T10:00:00Z"}"#,
    r#"{"type":"payment","id":"pay-2","account":"A2","amount":"100.00","time":"2026-11-01T10:00:00Z"}"#,
    r#"{"type":"grant","id":"g-1","msisdn":"79001000001","package":"SMART_MINUTES","amount":600,"validity_days":7,"reason":"network_outage","operator":"petrov","time":"2026-11-02T12:00:00Z"}"#,
    // 600 s from the goodwill bucket, 300 s in money.
    r#"{"type":"usage","id":"c-1","msisdn":"79001000001","service":"voice","direction":"out","other":"79161234567","start":"2026-11-03T12:00:00Z","duration":900}"#,
    r#"{"type":"usage","id":"c-2","msisdn":"79001000002","service":"voice","direction":"out","other":"79161234567","start":"2026-11-03T12:00:00Z","duration":60}"#,
    r#"{"type":"refund","id":"r-1","account":"A1","charge":"c-1","units":120,"reason":"dropped_call","operator":"ivanova","time":"2026-11-04T10:00:00Z"}"#,
    r#"{"type":"refund","id":"r-2","account":"A1","charge":"c-1","reason":"dropped_call","operator":"ivanova","time":"2026-11-04T10:01:00Z"}"#,
    // Another account's charge; the same charge once more; a claim of what the charge took.
    r#"{"type":"refund","id":"r-3","account":"A1","charge":"c-2","reason":"dispute","operator":"ivanova","time":"2026-11-04T10:02:00Z"}"#,
    r#"{"type":"refund","id":"r-4","account":"A1","charge":"c-1","amount":"0.01","reason":"dispute","operator":"ivanova","time":"2026-11-04T10:03:00Z"}"#,
    r#"{"type":"refund","id":"r-5","account":"A2","charge":"c-9","reason":"dispute","operator":"ivanova","time":"2026-11-04T10:04:00Z","found":{"time":"2026-11-03T12:00:00Z","msisdn":"79001000002","money":"1000.00","takes":[],"units_value":"0"}}"#,
    r#"{"type":"reverse_payment","id":"v-1","account":"A2","payment":"pay-2","reason":"chargeback","operator":"bank","time":"2026-11-04T11:00:00Z"}"#,
    r#"{"type":"reverse_payment","id":"v-2","account":"A2","payment":"pay-2","reason":"chargeback","operator":"bank","time":"2026-11-04T11:01:00Z"}"#,
    r#"{"type":"reverse_payment","id":"v-1","account":"A2","payment":"pay-2","reason":"chargeback","operator":"bank","time":"2026-11-04T11:00:00Z"}"#,
    // Named before it was made: nothing to refund yet.
    r#"{"type":"refund","id":"r-6","account":"A2","charge":"c-3","reason":"dispute","operator":"ivanova","time":"2026-11-04T12:00:00Z"}"#,
    r#"{"type":"usage","id":"c-3","msisdn":"79001000002","service":"voice","direction":"out","other":"79161234567","start":"2026-11-04T12:30:00Z","duration":60}"#,
];

/// Rated in batches of `batch` lines.
fn rated(dir: &Path, batch: usize) -> (std::path::PathBuf, engine::pipeline::Engine) {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("in.jsonl");
    common::append(&file, LINES);
    let data = dir.join("store");
    let cfg = Config {
        batch,
        ..Config::default()
    };
    let mut e = common::example_engine_with(&data, cfg);
    e.run_file(&file).unwrap();
    (data, e)
}

#[test]
fn a_refund_finds_its_charge_wherever_the_batches_cut_and_never_another_accounts() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, whole) = rated(&tmp.path().join("whole"), 64);
    let a1 = whole.state.account("A1").unwrap();
    let a2 = whole.state.account("A2").unwrap();
    // A1: 100.00 paid; the call's money all back; the bucket whole again.
    assert_eq!(a1.balance.to_string(), "100.00");
    let bucket = &a1.numbers[0].buckets[0];
    assert_eq!((bucket.remaining, bucket.total), (600, 600));
    // A2: its payment reversed, two calls charged, none refunded.
    assert!(a2.balance < rust_decimal::Decimal::ZERO, "{}", a2.balance);
    assert_eq!(
        (
            whole.counters.rated,
            whole.counters.rejected,
            whole.counters.duplicates
        ),
        (11, 5, 1),
        "{:?}",
        whole.counters
    );
    for batch in [1, 2, 3, 5] {
        let (_, cut) = rated(&tmp.path().join(format!("b{batch}")), batch);
        for a in whole.state.accounts() {
            assert_eq!(Some(a), cut.state.account(&a.id), "batches of {batch}");
        }
        assert_eq!(
            cut.counters.rejected, whole.counters.rejected,
            "batches of {batch}"
        );
    }
}

#[test]
fn the_audit_counts_refunds_and_reversals_and_the_read_models_show_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, e) = rated(tmp.path(), 3);
    drop(e);
    let store = Store::open_follower(&data).unwrap();
    let audit = engine::audit::audit(&store).unwrap();
    assert!(audit.ok(), "{:#?}", audit.listed);
    assert_eq!(audit.reversed.to_string(), "100.00");
    assert!(audit.refunded > rust_decimal::Decimal::ZERO);
    assert!(
        audit.totals_line().contains("+ refunded ")
            && audit.totals_line().contains("− payments reversed 100.00"),
        "{}",
        audit.totals_line()
    );
    let replayed = engine::replay::replay(&store, |_| {}).unwrap();
    assert!(replayed.ok(), "{:?}", replayed.mismatches.first());
    let stats = common::stats(&data);
    let rejections = stats["rejections"].to_string();
    for code in ["unknown_charge", "refund_refused"] {
        assert!(rejections.contains(code), "{rejections}");
    }
    drop(store);
    let d = data.to_str().unwrap();
    let rows: serde_json::Value = serde_json::from_str(&common::ratel(&[
        "detalization",
        "--data",
        d,
        "79001000001",
        "--month",
        "2026-11",
        "--service",
        "refund",
    ]))
    .unwrap();
    let rows = rows["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r["other"] == "c-1"), "{rows:?}");
    let spending: serde_json::Value = serde_json::from_str(&common::ratel(&[
        "spending", "--data", d, "A2", "--from", "2026-11", "--to", "2026-11",
    ]))
    .unwrap();
    let kinds: Vec<(&str, &str)> = (spending["payments"].as_array().unwrap().iter())
        .map(|p| (p["kind"].as_str().unwrap(), p["amount"].as_str().unwrap()))
        .collect();
    assert!(
        kinds.contains(&("payment_reversed", "-100.00")),
        "{kinds:?}"
    );
    // The chargeback is the operator's correction: money taken out, in adjustments.
    let adjustments = &spending["months"][0]["categories"]["adjustments"];
    assert_eq!(adjustments, "100.00", "{spending}");
    let explained = common::ratel(&["explain", "--data", d, "r-2"]);
    assert!(explained.contains("outcome  refunded"), "{explained}");
    common::ratel(&["projections", "rebuild", "--data", d]);
    assert_eq!(
        common::stats(&data)["models_sha256"],
        stats["models_sha256"]
    );
}

#[test]
fn the_audit_notices_a_refund_beyond_its_charge() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, e) = rated(tmp.path(), 64);
    drop(e);
    // r-2 gives back a kopeck more than the charge had left, and says so in its balance.
    let store = Store::open(&data).unwrap();
    let (p, seq, entry) = (store.log().map(Result::unwrap))
        .find(|(_, _, e)| matches!(e, Entry::Rated { decision, .. } if decode_decision(decision).unwrap().event == "r-2"))
        .unwrap();
    let Entry::Rated {
        position,
        input,
        decision,
    } = entry
    else {
        unreachable!()
    };
    let mut d = decode_decision(&decision).unwrap();
    let Outcome::Refunded {
        money,
        balance_after,
        ..
    } = &mut d.outcome
    else {
        panic!("{d:?}")
    };
    *money += rust_decimal::Decimal::new(1, 2);
    *balance_after += rust_decimal::Decimal::new(1, 2);
    let mut bytes = Vec::new();
    encode_decision(&d, &mut bytes);
    let mut out = Vec::new();
    Entry::Rated {
        position,
        input,
        decision: bytes,
    }
    .encode(&mut out);
    let db = store.db();
    db.put_cf(
        db.cf_handle("log").unwrap(),
        engine::store::log_key(p, seq),
        out,
    )
    .unwrap();
    drop(store);
    let audit = engine::audit::audit(&Store::open(&data).unwrap()).unwrap();
    assert!(
        audit
            .listed
            .iter()
            .any(|l| l.starts_with(&format!("{p}/{seq}: refunds")) && l.contains("of charge c-1")),
        "{:#?}",
        audit.listed
    );
}
