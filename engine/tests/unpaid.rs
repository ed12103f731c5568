//! Fees that need funds through the engine: the example catalog's SMART plan says
//! `when_unpaid = "limit"`, which leaves a number unpaid until a payment covers its fee, refuses an
//! option the money cannot pay, and the audit, replay, the balance view and the read models
//! follow.

mod common;

use engine::pipeline::{Config, Engine};
use std::path::Path;

const LINES: &[&str] = &[
    r#"{"type":"open_account","id":"o1","account":"A1","time":"2026-11-01T09:00:00Z","numbers":[{"msisdn":"79001000001","plan":"SMART"}]}"#,
    r#"{"type":"usage","id":"c-1","msisdn":"79001000001","service":"voice","direction":"out","other":"79161234567","start":"2026-11-01T12:00:00Z","duration":60}"#,
    r#"{"type":"activate_option","id":"a-1","msisdn":"79001000001","option":"MESSENGERS","time":"2026-11-01T13:00:00Z"}"#,
    r#"{"type":"payment","id":"pay-1","account":"A1","amount":"300.00","time":"2026-11-02T10:00:00Z"}"#,
    r#"{"type":"payment","id":"pay-2","account":"A1","amount":"300.00","time":"2026-11-02T11:00:00Z"}"#,
    r#"{"type":"usage","id":"c-2","msisdn":"79001000001","service":"voice","direction":"out","other":"79161234567","start":"2026-11-03T12:00:00Z","duration":60}"#,
];

fn rated(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("in.jsonl");
    common::append(&file, LINES);
    let data = dir.join("store");
    let text = engine::EXAMPLE_CATALOG;
    let cat = rating::Catalog::from_toml("example.toml", text).unwrap();
    let mut e = Engine::open(&data, cat, text.as_bytes(), Config::default()).unwrap();
    e.run_file(&file).unwrap();
    let n = e.state.account("A1").unwrap().numbers[0].clone();
    assert!(!n.is_unpaid(), "settled by the second payment: {n:?}");
    data
}

#[test]
fn an_unpaid_plan_is_settled_by_a_payment_and_the_log_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let data = rated(tmp.path());
    let d = data.to_str().unwrap();
    let explained = common::ratel(&["explain", "--data", d, "a-1"]);
    assert!(explained.contains("insufficient_funds"), "{explained}");
    let c1 = common::ratel(&["explain", "--data", d, "c-1"]);
    assert!(!c1.contains("bucket "), "money only while unpaid: {c1}");
    let c2 = common::ratel(&["explain", "--data", d, "c-2"]);
    assert!(
        c2.contains("bucket ") && c2.contains("SMART_MINUTES"),
        "{c2}"
    );
    let store = engine::store::Store::open_follower(&data).unwrap();
    let audit = engine::audit::audit(&store).unwrap();
    assert!(audit.ok(), "{:#?}", audit.listed);
    let replayed = engine::replay::replay(&store, |_| {}).unwrap();
    assert!(replayed.ok(), "{:?}", replayed.mismatches.first());
    drop(store);
    let stats = common::stats(&data);
    assert!(
        stats["rejections"]
            .to_string()
            .contains("insufficient_funds"),
        "{stats}"
    );
    // Connection 100.00; 435.00 of November's 450.00 (29 of 30 days) when settled; the first
    // call in money.
    let balance: serde_json::Value =
        serde_json::from_str(&common::ratel(&["balance", "--data", d, "A1"])).unwrap();
    assert_eq!(balance["numbers"][0]["status"], "active", "{balance}");
    let paid_in = "600.00".parse::<rust_decimal::Decimal>().unwrap();
    let left: rust_decimal::Decimal = balance["balance"].as_str().unwrap().parse().unwrap();
    let call: rust_decimal::Decimal = {
        let rows: serde_json::Value = serde_json::from_str(&common::ratel(&[
            "detalization",
            "--data",
            d,
            "79001000001",
            "--month",
            "2026-11",
            "--service",
            "voice",
        ]))
        .unwrap();
        rows["rows"][0]["money"].as_str().unwrap().parse().unwrap()
    };
    assert_eq!(
        left,
        paid_in - "535.00".parse::<rust_decimal::Decimal>().unwrap() - call
    );
    common::ratel(&["projections", "rebuild", "--data", d]);
    assert_eq!(
        common::stats(&data)["models_sha256"],
        stats["models_sha256"]
    );
}
