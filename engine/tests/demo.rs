//! `ratel demo`, the embedded default: a month of generated traffic on the example catalog,
//! rated, and a summary that shows the catalog's fees and the account lifecycle happening.

mod common;

/// The number after `label` in the summary line that starts with `line`.
fn count(out: &str, line: &str, label: &str) -> f64 {
    let l = out
        .lines()
        .find(|l| l.starts_with(line))
        .unwrap_or_else(|| panic!("no line {line:?} in\n{out}"));
    let before = l
        .split(label)
        .next()
        .filter(|b| b.len() < l.len())
        .unwrap_or_else(|| panic!("no {label:?} in {l:?}"));
    before
        .rsplit([' ', ','])
        .find(|w| !w.is_empty() && *w != ":")
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number before {label:?} in {l:?}"))
}

/// The amount after `kind` in the fees line.
fn fee(out: &str, kind: &str) -> f64 {
    let l = out
        .lines()
        .find(|l| l.starts_with("fees:"))
        .expect("a fees line");
    l.trim_start_matches("fees:")
        .split(',')
        .map(str::trim)
        .find_map(|f| f.strip_prefix(&format!("{kind} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn the_demo_summary_shows_fees_promises_blocking_and_the_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let out = common::ratel(&[
        "demo",
        "--data",
        data.to_str().unwrap(),
        "--accounts",
        "400",
        "--days",
        "31",
    ]);
    for kind in [
        "connection",
        "daily",
        "monthly",
        "plan_change",
        "suspension",
    ] {
        assert!(fee(&out, kind) > 0.0, "no {kind} fees in\n{out}");
    }
    assert!(count(&out, "promised payments:", "granted") > 0.0, "{out}");
    assert!(
        count(&out, "promised payments:", "repayments") > 0.0,
        "{out}"
    );
    assert!(count(&out, "lifecycle:", "plan changes") > 0.0, "{out}");
    assert!(count(&out, "lifecycle:", "suspended") > 0.0, "{out}");
    assert!(count(&out, "lifecycle:", "resumed") > 0.0, "{out}");
    assert!(
        count(&out, "alerts:", "blocked at the credit limit") > 0.0,
        "{out}"
    );
    assert!(count(&out, "alerts:", "unblocked") > 0.0, "{out}");
    assert!(count(&out, "alerts:", "autopay requests") > 0.0, "{out}");
    assert!(count(&out, "alerts:", "low balance") > 0.0, "{out}");
    assert!(count(&out, "transfers:", "sent") > 0.0, "{out}");
    assert!(count(&out, "transfers:", "received") > 0.0, "{out}");
    assert!(
        count(&out, "family limits:", "points earned") > 0.0,
        "{out}"
    );
    assert!(out.contains("balanced    true"), "{out}");
    // The store it leaves replays to the same bytes and passes the money audit.
    let store = data.join("store");
    let replay = common::ratel(&["replay", "--data", store.to_str().unwrap()]);
    assert!(
        replay.contains("every decision reproduced byte for byte; state equal"),
        "{replay}"
    );
    let audit = common::ratel(&["audit", "--data", store.to_str().unwrap()]);
    assert!(
        audit.contains("every balance, bucket, id and line accounted for"),
        "{audit}"
    );
}
