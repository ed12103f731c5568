//! `--log-format json`: every line a log collector reads from standard error is one JSON
//! object, with the fields of the event (a dead letter's partition and position, a refusal's
//! event id and reason) and the batch it happened in.

mod common;

#[test]
fn json_logs_are_one_object_a_line_with_partition_batch_and_event() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("in.jsonl");
    common::append(
        &file,
        &[
            r#"{"type":"open_account","id":"o1","account":"A1","time":"2026-11-01T09:00:00Z","numbers":[{"msisdn":"79001000001","plan":"BASIC"}]}"#,
            r#"{"type":"payment","id":"p-9","account":"NOBODY","amount":"1.00","time":"2026-11-01T10:00:00Z"}"#,
            r#"{"type":"usage","id":"half"#,
        ],
    );
    let data = tmp.path().join("store");
    let out = common::bounded(env!("CARGO_BIN_EXE_ratel"), 120)
        .args(["--quiet", "--log-format", "json", "run", "--catalog"])
        .arg(format!(
            "{}/../catalogs/example.toml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .arg("--data")
        .arg(&data)
        .arg("--source")
        .arg(format!("file:{}", file.display()))
        .env("RATEL_LOG", "debug")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stderr)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let find = |message: &str| {
        lines
            .iter()
            .find(|l| l["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} in {lines:#?}"))
            .clone()
    };
    let dead = find("dead letter");
    assert_eq!(dead["fields"]["partition"], 0, "{dead}");
    assert!(
        dead["fields"]["reason"].as_str().unwrap().contains("EOF"),
        "{dead}"
    );
    assert_eq!(dead["span"]["name"], "batch", "{dead}");
    let rejected = find("rejected");
    assert_eq!(rejected["fields"]["event"], "p-9", "{rejected}");
    assert_eq!(
        rejected["fields"]["reason"], "unknown_account",
        "{rejected}"
    );
    assert_eq!(rejected["span"]["lines"], 3, "{rejected}");
    assert!(rejected["level"] == "DEBUG" && rejected["timestamp"].is_string());
}
