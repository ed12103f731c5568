//! `ratel cgrates import` and the CGRateS-style `ratel quote`, as an operator runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ratel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ratel"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("ratel runs")
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rating/tests/fixtures/cgrates/operator")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `ratel cgrates import` of the project's fixture into `out`; its stderr (the warnings).
fn import_fixture(out: &Path) -> String {
    let dir = fixture();
    let args = [
        "cgrates",
        "import",
        "--dir",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let done = ratel(&args);
    assert!(done.status.success(), "{}", text(&done.stderr));
    text(&done.stderr)
}

#[test]
fn import_then_quote() {
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("op.toml");
    let cat_s = cat.to_str().unwrap();
    let err = import_fixture(&cat);
    assert!(
        err.contains("warning: Timings.csv:8: timing ASAP is *asap"),
        "{err}"
    );
    assert!(
        err.contains("warning: DestinationRates.csv:12: DR_US_DISC: *disconnect"),
        "{err}"
    );
    assert!(err.contains("with 2 warning(s)"), "{err}");
    let written = std::fs::read_to_string(&cat).unwrap();
    assert!(written.contains("rounding_decimals = 5"), "{written}");

    // Arguments after the catalog, tenant and start, separated by spaces.
    let quote_args = |extra: &[&str]| {
        let mut a = vec!["quote", "--catalog", cat_s, "--tenant", "ratel.test"];
        a.extend_from_slice(&["--start", "2026-11-25T18:59:30Z"]);
        a.extend_from_slice(extra);
        ratel(&a)
    };
    let quote = |extra: &str| quote_args(&extra.split_whitespace().collect::<Vec<_>>());
    let out = quote("--service voice --subject zed --destination 4989123 --usage 90s");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "1.6");

    let out = quote("--service voice --subject zed --destination 4989123 --usage 1m30s --json");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["cost"], "1.6");
    assert_eq!(j["connect_fee"], "0.25");
    assert_eq!(j["spans"].as_array().unwrap().len(), 2);
    assert_eq!(j["spans"][1]["timing"], "OFFPEAK_EVENING");
    assert_eq!(j["spans"][1]["increment_cost"], "0.005");
    assert_eq!(j["rounding"]["method"], "*up");

    let out = quote_args(
        &[
            "--service",
            "data",
            "--category",
            "data",
            "--subject",
            "zed",
        ]
        .into_iter()
        .chain(["--destination", "", "--usage", "1000000"])
        .collect::<Vec<_>>(),
    );
    assert_eq!(text(&out.stdout).trim(), "0.49", "{}", text(&out.stderr));

    // Mistakes get a clear error and a non-zero exit, not a price.
    for (args, says) in [
        (
            "--service voice --subject zed --destination 4989 --usage 90",
            "has no unit",
        ),
        (
            "--service fax --subject zed --destination 4989 --usage 1",
            "unknown service",
        ),
        (
            "--service voice --subject zed --destination 7495 --usage 60s",
            "not authorised",
        ),
    ] {
        let out = quote(args);
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn import_refuses_what_is_not_a_plan() {
    let dir = tempfile::tempdir().unwrap();
    let out = ratel(&[
        "cgrates",
        "import",
        "--dir",
        "/nonexistent/plan",
        "--out",
        dir.path().join("x.toml").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not a folder"),
        "{}",
        text(&out.stderr)
    );

    // A quote on a catalog without a CGRateS plan says so.
    let ex = dir.path().join("example.toml");
    std::fs::write(&ex, engine::EXAMPLE_CATALOG).unwrap();
    let out = ratel(&[
        "quote",
        "--catalog",
        ex.to_str().unwrap(),
        "--tenant",
        "t",
        "--subject",
        "s",
        "--destination",
        "1",
        "--usage",
        "1s",
        "--service",
        "voice",
        "--start",
        "2026-11-25T10:00:00Z",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("holds no CGRateS tariff plan"),
        "{}",
        text(&out.stderr)
    );
}

/// The imported catalog runs accounts: a number on the tenant's plan is the CGRateS subject of
/// its MSISDN, and what CGRateS would price is what the balance loses, duplicates once.
#[test]
fn an_imported_catalog_rates_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("op.toml");
    import_fixture(&cat);
    let work = dir.path().join("w.jsonl");
    let u1 = r#"{"type":"usage","id":"u1","msisdn":"4912345","service":"voice","direction":"out","other":"4989123","start":"2026-11-25T18:59:30Z","duration":90}"#;
    let lines = [
        r#"{"type":"open_account","id":"c1","account":"A1","time":"2026-11-24T00:00:00Z","credit_limit":"0","numbers":[{"msisdn":"4912345","plan":"ratel.test"}]}"#,
        r#"{"type":"payment","id":"p1","account":"A1","amount":"10.00","time":"2026-11-24T00:00:01Z"}"#,
        u1, // 1.60, as quoted above
        r#"{"type":"usage","id":"u2","msisdn":"4912345","service":"voice","direction":"in","other":"4989123","start":"2026-11-25T19:00:00Z","duration":90}"#, // incoming: free
        r#"{"type":"usage","id":"u3","msisdn":"4912345","service":"sms","other":"4989123","start":"2026-11-25T19:05:00Z"}"#, // 0.09
        r#"{"type":"usage","id":"u4","msisdn":"4912345","service":"data","start":"2026-11-25T19:06:00Z","bytes":1000000}"#, // 0.49
        r#"{"type":"usage","id":"u5","msisdn":"4912345","service":"voice","direction":"out","other":"7495123","start":"2026-11-25T19:07:00Z","duration":60}"#, // not authorised
        u1,
    ];
    std::fs::write(&work, lines.join("\n") + "\n").unwrap();
    let data = dir.path().join("data");
    let (c, d) = (cat.to_str().unwrap(), data.to_str().unwrap());
    let source = format!("file:{}", work.display());
    let out = ratel(&[
        "run",
        "--quiet",
        "--catalog",
        c,
        "--data",
        d,
        "--source",
        &source,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("read 8 · rated 6 · rejected 1 · duplicates 1"),
        "{}",
        text(&out.stdout)
    );
    let out = ratel(&["balance", "--data", d, "A1"]);
    let b: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The imported catalog keeps 4 decimals of its currency (--currency-decimals).
    assert_eq!(b["balance"], "7.8200", "10 − 1.60 − 0.09 − 0.49");
    let out = ratel(&["audit", "--data", d]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    let out = ratel(&["replay", "--quiet", "--data", d]);
    assert!(
        out.status.success()
            && text(&out.stdout).contains("every decision reproduced byte for byte"),
        "{}",
        text(&out.stdout)
    );
}
