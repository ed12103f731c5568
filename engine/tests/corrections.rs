//! Corrections through the engine: `adjust` and `grant` lines rated from a file are counted by
//! the audit (its totals equation names what the operator put in and took out), replayed byte
//! for byte, shown in the number's detalization and in spending's `adjustments` category, in the
//! payment history, and exported with their movements.

mod common;

use std::path::Path;

const LINES: &[&str] = &[
    r#"{"type":"open_account","id":"o1","account":"A1","time":"2026-11-01T09:00:00Z","numbers":[{"msisdn":"79001000001","plan":"BASIC"}]}"#,
    r#"{"type":"payment","id":"pay-1","account":"A1","amount":"100.00","time":"2026-11-01T10:00:00Z"}"#,
    r#"{"type":"adjust","id":"adj-1","account":"A1","msisdn":"79001000001","amount":"-12.50","reason":"billing_error","operator":"ivanova","time":"2026-11-02T10:00:00Z"}"#,
    r#"{"type":"adjust","id":"adj-2","account":"A1","amount":"30.00","reason":"goodwill","operator":"ivanova","time":"2026-11-02T11:00:00Z"}"#,
    r#"{"type":"adjust","id":"adj-2","account":"A1","amount":"30.00","reason":"goodwill","operator":"ivanova","time":"2026-11-02T11:00:00Z"}"#,
    r#"{"type":"grant","id":"g-1","msisdn":"79001000001","package":"SMART_MINUTES","amount":600,"validity_days":7,"reason":"network_outage","operator":"petrov","time":"2026-11-02T12:00:00Z"}"#,
    r#"{"type":"usage","id":"c-1","msisdn":"79001000001","service":"voice","direction":"out","other":"79161234567","start":"2026-11-03T12:00:00Z","duration":300}"#,
    r#"{"type":"adjust","id":"adj-3","account":"A1","amount":"5.001","reason":"goodwill","operator":"ivanova","time":"2026-11-03T13:00:00Z"}"#,
    r#"{"type":"grant","id":"g-2","msisdn":"79001000001","package":"NOPE","amount":60,"validity_days":1,"reason":"x","operator":"petrov","time":"2026-11-03T14:00:00Z"}"#,
    // A SMART account: its opening's 550.00 of fees earn 55 points.
    r#"{"type":"open_account","id":"o2","account":"A2","time":"2026-11-01T09:00:00Z","numbers":[{"msisdn":"79001000002","plan":"SMART"}]}"#,
    r#"{"type":"redeem_points","id":"r-1","account":"A2","reward":"HOUR_OF_CALLS","msisdn":"79001000002","time":"2026-11-04T10:00:00Z"}"#,
    r#"{"type":"redeem_points","id":"r-2","account":"A2","points":5,"time":"2026-11-04T11:00:00Z"}"#,
    r#"{"type":"redeem_points","id":"r-3","account":"A2","reward":"HOUR_OF_CALLS","msisdn":"79001000002","time":"2026-11-04T12:00:00Z"}"#,
];

fn rated(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("in.jsonl");
    common::append(&file, LINES);
    let data = dir.join("store");
    let mut e = common::postpaid_engine_with(&data, engine::pipeline::Config::default());
    e.run_file(&file).unwrap();
    assert_eq!(
        (e.counters.rated, e.counters.rejected, e.counters.duplicates),
        (9, 3, 1),
        "{:?}",
        e.counters
    );
    assert_eq!(e.state.account("A1").unwrap().balance.to_string(), "117.50");
    let a2 = e.state.account("A2").unwrap();
    assert_eq!(
        (a2.loyalty.points, a2.balance.to_string()),
        (0, "-547.50".into()),
        "55 points: 50 into an hour of calls, 5 into 2.50, none left for a second hour"
    );
    data
}

#[test]
fn the_audit_counts_corrections_and_replay_reproduces_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = rated(tmp.path());
    let store = engine::store::Store::open_follower(&data).unwrap();
    let audit = engine::audit::audit(&store).unwrap();
    assert!(audit.ok(), "{:#?}", audit.listed);
    assert_eq!(
        (
            audit.adjusted_in.to_string(),
            audit.adjusted_out.to_string()
        ),
        ("30.00".into(), "12.50".into())
    );
    assert!(
        audit
            .totals_line()
            .ends_with("+ adjusted in 30.00 − adjusted out 12.50 + points redeemed 2.50 + refunded 0 − payments reversed 0"),
        "{}",
        audit.totals_line()
    );
    assert_eq!(audit.balances, audit.moved());
    let replayed = engine::replay::replay(&store, |_| {}).unwrap();
    assert!(replayed.ok(), "{:?}", replayed.mismatches.first());
    let stats = common::stats(&data);
    let rejections = stats["rejections"].to_string();
    assert!(
        rejections.contains("unknown_package") && rejections.contains("amount_decimals"),
        "{rejections}"
    );
    // The read models projected live equal those projected again from the log.
    drop(store);
    common::ratel(&["projections", "rebuild", "--data", data.to_str().unwrap()]);
    assert_eq!(
        common::stats(&data)["models_sha256"],
        stats["models_sha256"]
    );
}

#[test]
fn corrections_show_in_detalization_spending_and_payments() {
    let tmp = tempfile::tempdir().unwrap();
    let data = rated(tmp.path());
    let d = data.to_str().unwrap();
    let rows: serde_json::Value = serde_json::from_str(&common::ratel(&[
        "detalization",
        "--data",
        d,
        "79001000001",
        "--month",
        "2026-11",
    ]))
    .unwrap();
    let rows = rows["rows"].as_array().unwrap();
    let of = |service: &str| {
        rows.iter()
            .filter(|r| r["service"] == service)
            .collect::<Vec<_>>()
    };
    let adjustments = of("adjustment");
    assert_eq!(
        adjustments.len(),
        1,
        "only the adjustment that names the number: {rows:?}"
    );
    assert_eq!(adjustments[0]["money"], "12.50");
    assert_eq!(adjustments[0]["other"], "billing_error");
    assert!(
        !adjustments[0].to_string().contains("ivanova"),
        "who corrected is not the subscriber's to read"
    );
    let grants = of("grant");
    assert_eq!(grants.len(), 1);
    assert_eq!(
        (grants[0]["other"].as_str(), grants[0]["quantity"].as_str()),
        (Some("SMART_MINUTES"), Some("10:00"))
    );
    let call = &of("voice")[0];
    assert_eq!(
        (call["money"].as_str(), call["from_packages"].as_str()),
        (Some("0.00"), Some("5:00"))
    );
    // The filter knows the new services.
    let only: serde_json::Value = serde_json::from_str(&common::ratel(&[
        "detalization",
        "--data",
        d,
        "79001000001",
        "--month",
        "2026-11",
        "--service",
        "adjustment,grant",
    ]))
    .unwrap();
    assert_eq!(only["rows"].as_array().unwrap().len(), 2);

    // Spending: the account's adjustments are what was taken out less what was put in.
    let spending: serde_json::Value = serde_json::from_str(&common::ratel(&[
        "spending", "--data", d, "A1", "--from", "2026-11", "--to", "2026-11",
    ]))
    .unwrap();
    let month = &spending["months"][0];
    assert_eq!(month["categories"]["adjustments"], "-17.50", "{spending}");
    let payments = spending["payments"].as_array().unwrap();
    let adjusted: Vec<&str> = (payments.iter())
        .filter(|p| p["kind"] == "adjustment")
        .map(|p| p["amount"].as_str().unwrap())
        .collect();
    assert_eq!(adjusted, ["-12.50", "30.00"], "{payments:?}");

    // The export carries the movements; the explanation, the bucket granted.
    let out = tmp.path().join("x.jsonl");
    common::ratel(&[
        "export",
        "--data",
        d,
        "--format",
        "jsonl",
        "--out",
        out.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains(r#"\"kind\":\"adjustment_out\""#)
            && text.contains(r#"\"kind\":\"adjustment_in\""#),
        "{text}"
    );
    let balance: serde_json::Value =
        serde_json::from_str(&common::ratel(&["balance", "--data", d, "A2"])).unwrap();
    assert_eq!(balance["loyalty_points"], 0, "{balance}");
    let packages = common::ratel(&["packages", "--data", d, "79001000002"]);
    assert!(
        packages.contains("loyalty points"),
        "the reward's bucket and its origin: {packages}"
    );
    let explained = common::ratel(&["explain", "--data", d, "g-1"]);
    assert!(
        explained.contains("outcome  granted") && explained.contains("SMART_MINUTES +600"),
        "{explained}"
    );
}
