//! `ratel explain`, `ratel log` and the rejections of `ratel stats`, through the binary, on a
//! store where every kind of result happens: charges from packages and from money, a payment, a
//! rejection for an unknown number, a repeat, a dead line and the day's ticks.

mod common;
use common::{append, ratel};
use rust_decimal::Decimal;
use serde_json::Value;
use std::path::{Path, PathBuf};

const EVENTS: &[&str] = &[
    r#"{"type":"open_account","id":"open-1","account":"A1","time":"2026-11-02T09:00:00Z","numbers":[{"msisdn":"79001000001","plan":"SMART"},{"msisdn":"79001000002","plan":"BASIC"}]}"#,
    r#"{"type":"payment","id":"pay-1","account":"A1","amount":"1000.00","time":"2026-11-02T09:01:00Z"}"#,
    // SMART, 90 s to Moscow: from the minutes package, 120 s (whole minutes).
    r#"{"type":"usage","id":"c-1","msisdn":"79001000001","service":"voice","other":"74951234567","start":"2026-11-02T10:00:00Z","duration":90}"#,
    // BASIC, 90 s: money.
    r#"{"type":"usage","id":"c-2","msisdn":"79001000002","service":"voice","other":"74951234567","start":"2026-11-02T10:01:00Z","duration":90}"#,
    // Nobody's number.
    r#"{"type":"usage","id":"c-3","msisdn":"79009999999","service":"sms","other":"79161234567","start":"2026-11-02T10:02:00Z"}"#,
    // A repeat of c-2.
    r#"{"type":"usage","id":"c-2","msisdn":"79001000002","service":"voice","other":"74951234567","start":"2026-11-02T10:01:00Z","duration":90}"#,
    // Half a line of JSON: dead.
    r#"{"type":"usage","id":"c-4","msisdn":"79001000002","serv"#,
    // The next day: ticks first.
    r#"{"type":"usage","id":"c-5","msisdn":"79001000002","service":"sms","other":"79161234567","start":"2026-11-03T10:00:00Z"}"#,
];

fn store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    append(&input, EVENTS);
    let catalog = dir.path().join("example.toml");
    std::fs::write(&catalog, engine::EXAMPLE_CATALOG).unwrap();
    let data = dir.path().join("store");
    let source = format!("file:{}", input.display());
    let cat = catalog.to_str().unwrap();
    ratel(&[
        "run",
        "--catalog",
        cat,
        "--data",
        data.to_str().unwrap(),
        "--source",
        &source,
    ]);
    (dir, data)
}

fn explain(data: &Path, event: &str, more: &[&str]) -> Vec<Value> {
    let mut args = vec!["explain", "--json", "--data", data.to_str().unwrap(), event];
    args.extend_from_slice(more);
    let text = ratel(&args);
    serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect()
}

fn log(data: &Path, more: &[&str]) -> Vec<Value> {
    let mut args = vec!["log", "--json", "--data", data.to_str().unwrap()];
    args.extend_from_slice(more);
    ratel(&args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn money(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

#[test]
fn explain_shows_the_input_outcome_money_buckets_price_and_place() {
    let (_dir, data) = store();
    // From the package: 120 s taken from SMART's minutes, no money.
    let [c1] = &explain(&data, "c-1", &[])[..] else {
        panic!("one entry of c-1")
    };
    assert_eq!(c1["outcome"], "charged");
    assert_eq!(c1["input"]["type"], "usage");
    assert_eq!(c1["account"], "A1");
    assert_eq!(c1["money_out"], "0.00");
    assert_eq!(c1["balance_before"], c1["balance_after"]);
    assert_eq!(c1["buckets"][0]["msisdn"], "79001000001");
    assert_eq!(c1["buckets"][0]["package"], "SMART_MINUTES");
    assert_eq!(c1["buckets"][0]["units"], -120);
    assert!(c1["price"]["rate"].is_string(), "{c1}");
    // From money, then its repeat: the same id twice, the second a duplicate moving nothing.
    let c2 = explain(&data, "c-2", &[]);
    assert_eq!(c2.len(), 2, "{c2:?}");
    assert_eq!(
        (&c2[0]["outcome"], &c2[1]["outcome"]),
        (&"charged".into(), &"duplicate".into())
    );
    let (before, after) = (
        money(&c2[0]["balance_before"]),
        money(&c2[0]["balance_after"]),
    );
    assert!(money(&c2[0]["money_out"]) > Decimal::ZERO);
    assert_eq!(
        before - money(&c2[0]["money_out"]) + money(&c2[0]["money_in"]),
        after
    );
    // BASIC: the first minute 1.50, then 30 s at 1.50 a minute: two spans that add up.
    let price = &c2[0]["price"];
    let spans: Decimal = price["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| money(&x["cost"]))
        .sum();
    assert_eq!(
        spans + money(&price["connect_fee"]),
        money(&c2[0]["money_out"]),
        "{price}"
    );
    assert_eq!(money(&c2[0]["money_out"]), "2.25".parse().unwrap());
    assert_eq!(c2[1]["money_out"], "0.00");
    assert!(c2[1]["seq"].as_u64() > c2[0]["seq"].as_u64());
    // Through the account's own entries: the same view of the decision (a repeat changes no
    // account, so only the whole log's reading finds it).
    assert_eq!(explain(&data, "c-2", &["--account", "A1"]), c2[..1]);
    // A rejection, with its reason; a dead line, with why.
    let [c3] = &explain(&data, "c-3", &[])[..] else {
        panic!()
    };
    assert_eq!(
        (&c3["outcome"], &c3["reason"]["code"]),
        (&"rejected".into(), &"unknown_number".into())
    );
    assert!(c3["account"].is_null());
    let [c4] = &explain(&data, "c-4", &[])[..] else {
        panic!()
    };
    assert_eq!(c4["outcome"], "dead");
    assert!(
        c4["input"]["line"].as_str().unwrap().contains("\"serv"),
        "{c4}"
    );
    // A payment moves money in.
    let [pay] = &explain(&data, "pay-1", &[])[..] else {
        panic!()
    };
    assert_eq!(
        (&pay["outcome"], &pay["money_in"]),
        (&"paid".into(), &"1000.00".into())
    );
    // The text form says the same for a person.
    let text = ratel(&["explain", "--data", data.to_str().unwrap(), "c-3"]);
    assert!(
        text.contains("rejected (unknown_number: unknown number 79009999999)"),
        "{text}"
    );
}

#[test]
fn explain_of_an_id_not_in_the_log_is_an_error_that_says_so() {
    let (_dir, data) = store();
    for (id, more) in [
        ("nope", vec![]),
        ("c-1", vec!["--account", "B9"]),
        ("", vec![]),
    ] {
        let out = common::bounded(env!("CARGO_BIN_EXE_ratel"), 60)
            .args(["explain", "--data", data.to_str().unwrap(), id])
            .args(&more)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no input"),
            "{id}"
        );
    }
}

#[test]
fn log_lists_decisions_by_account_number_time_and_outcome() {
    let (_dir, data) = store();
    let events = |views: &[Value]| -> Vec<String> {
        views
            .iter()
            .map(|v| v["event"].as_str().unwrap().to_string())
            .collect()
    };
    // The account's entries, in log order (a repeat changes no account: not among them).
    let a1 = log(&data, &["--account", "A1"]);
    assert_eq!(events(&a1), ["open-1", "pay-1", "c-1", "c-2", "c-5"]);
    // The whole log: the repeat and the dead line too.
    let all = events(&log(&data, &[]));
    assert_eq!(
        all,
        ["open-1", "pay-1", "c-1", "c-2", "c-3", "c-2", "c-4", "c-5"]
    );
    // Balances chain: each decision starts where the one before ended.
    assert!(a1[0]["balance_before"].is_null(), "{}", a1[0]);
    for pair in a1.windows(2) {
        assert_eq!(pair[1]["balance_before"], pair[0]["balance_after"]);
    }
    // By number: the inputs that name it.
    assert_eq!(events(&log(&data, &["--msisdn", "79001000001"])), ["c-1"]);
    // By outcome and reason, over the whole log (a rejection names no account).
    assert_eq!(events(&log(&data, &["--outcome", "rejected"])), ["c-3"]);
    assert_eq!(
        events(&log(&data, &["--reason", "unknown_number"])),
        ["c-3"]
    );
    assert_eq!(events(&log(&data, &["--outcome", "dead"])), ["c-4"]);
    // By time: [from, to).
    let day = log(
        &data,
        &[
            "--account",
            "A1",
            "--from",
            "2026-11-02T10:00:00Z",
            "--to",
            "2026-11-02T10:01:00Z",
        ],
    );
    assert_eq!(events(&day), ["c-1"]);
    // The text form: a line each.
    let text = ratel(&["log", "--data", data.to_str().unwrap(), "--account", "A1"]);
    assert_eq!(text.lines().count(), a1.len());
}

#[test]
fn stats_count_rejections_by_reason() {
    let (_dir, data) = store();
    let s = common::stats(&data);
    assert_eq!(s["rejections"], serde_json::json!({"unknown_number": 1}));
    assert_eq!(s["counters"]["rejected"], 1);
    let text = ratel(&["stats", "--data", data.to_str().unwrap()]);
    assert!(text.contains("rejected    1 unknown_number"), "{text}");
}
