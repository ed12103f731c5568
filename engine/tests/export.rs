//! `ratel export`: every decision of a period for the data warehouse, in JSON lines, CSV and
//! Parquet. The formats hold the same rows; their sums equal the audit's and their counts the
//! store's counters; an export restarted from the cursor the last one reported adds exactly
//! what followed; Parquet is read back by an independent reader (pyarrow).

mod common;

use engine::workload::Workload;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A store rated from a workload (three partitions), and the workload's file.
fn store(dir: &Path, lines: Option<usize>) -> (PathBuf, PathBuf) {
    let raw = dir.join("raw.jsonl");
    let w = Workload {
        accounts: 150,
        days: 12,
        seed: 9,
        bad: 0.002,
        ..Workload::default()
    };
    w.write(&mut std::fs::File::create(&raw).unwrap(), |_| {})
        .unwrap();
    let file = dir.join("w.jsonl");
    common::time_sorted(&raw, &file);
    if let Some(n) = lines {
        let text = std::fs::read_to_string(&file).unwrap();
        let head: Vec<&str> = text.lines().take(n).collect();
        std::fs::write(&file, head.join("\n") + "\n").unwrap();
    }
    let data = dir.join("store");
    rate(&data, &file);
    (data, file)
}

fn rate(data: &Path, file: &Path) {
    let cfg = engine::pipeline::Config {
        partitions: 3,
        ..engine::pipeline::Config::default()
    };
    common::example_engine_with(data, cfg)
        .run_file(file)
        .unwrap();
}

/// `ratel export … --json`: the summary (rows, next cursor).
fn export(data: &Path, format: &str, out: &Path, more: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "export",
        "--json",
        "--data",
        data.to_str().unwrap(),
        "--format",
        format,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(more);
    serde_json::from_str(&common::ratel(&args)).unwrap()
}

/// The rows of a JSON lines export.
fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn money(row: &serde_json::Value, column: &str) -> Decimal {
    Decimal::from_str(row[column].as_str().unwrap()).unwrap()
}

fn sum(rows: &[serde_json::Value], column: &str) -> Decimal {
    rows.iter().map(|r| money(r, column)).sum()
}

#[test]
fn the_formats_hold_the_same_rows_and_add_up_to_the_audit() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, _) = store(tmp.path(), None);
    let (j, c) = (tmp.path().join("all.jsonl"), tmp.path().join("all.csv"));
    let summary = export(&data, "jsonl", &j, &[]);
    assert_eq!(export(&data, "csv", &c, &[]), summary);
    let rows = jsonl(&j);
    assert_eq!(summary["rows"].as_u64(), Some(rows.len() as u64));

    // Every line read, tick and derived input has its row: the counters' sum.
    let stats = common::stats(&data);
    let counter = |name: &str| stats["counters"][name].as_u64().unwrap();
    let counted = [
        "rated",
        "rejected",
        "duplicates",
        "dead",
        "ticks",
        "derived",
    ]
    .map(counter)
    .iter()
    .sum::<u64>();
    assert_eq!(rows.len() as u64, counted, "{stats}");
    let of = |outcome: &str| rows.iter().filter(|r| r["outcome"] == outcome).count() as u64;
    assert_eq!(of("dead"), counter("dead"));
    assert_eq!(of("duplicate"), counter("duplicates"));
    assert_eq!(of("ticked"), counter("ticks"));
    assert!(of("dead") > 0 && of("charged") > 1000);

    // The money adds up to what the audit books, kind by kind.
    let store = engine::store::Store::open_follower(&data).unwrap();
    let audit = engine::audit::audit(&store).unwrap();
    assert!(audit.ok(), "{:#?}", audit.listed);
    assert_eq!(sum(&rows, "usage"), audit.charges);
    assert_eq!(sum(&rows, "fees"), audit.fees);
    assert_eq!(sum(&rows, "payments"), audit.payments);
    assert!(audit.charges > Decimal::ZERO && audit.fees > Decimal::ZERO);
    // A row's movements are its money, kind by kind.
    for row in &rows {
        let movements: Vec<serde_json::Value> =
            serde_json::from_str(row["movements"].as_str().unwrap()).unwrap();
        let out: Decimal = (movements.iter())
            .filter(|m| {
                !["payment", "promise", "transfer_in", "transfer_refund"]
                    .contains(&m["kind"].as_str().unwrap())
            })
            .map(|m| money(m, "amount"))
            .sum();
        assert_eq!(out, money(row, "money_out"), "{row}");
    }

    // CSV holds the same rows, cell for cell.
    let mut reader = csv::Reader::from_path(&c).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, engine::warehouse::COLUMNS);
    let mut n = 0;
    for (record, row) in reader.records().zip(&rows) {
        let record = record.unwrap();
        for (column, cell) in header.iter().zip(record.iter()) {
            let expected = match &row[column] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(cell, expected, "{column} of row {n}");
        }
        n += 1;
    }
    assert_eq!(n, rows.len());
}

#[test]
fn an_export_restarted_from_its_cursor_adds_exactly_what_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, file) = store(tmp.path(), Some(6_000));
    let first = tmp.path().join("first.jsonl");
    let summary = export(&data, "jsonl", &first, &[]);
    let cursor = summary["next"].as_str().unwrap().to_string();
    assert_eq!(cursor.split(',').count(), 3, "a partition each: {cursor}");

    // The rest of the workload arrives, in every partition.
    let raw = tmp.path().join("raw.jsonl");
    let rest = tmp.path().join("rest.jsonl");
    common::time_sorted(&raw, &rest);
    let text = std::fs::read_to_string(&rest).unwrap();
    let tail: Vec<&str> = text.lines().skip(6_000).collect();
    std::fs::write(&rest, tail.join("\n") + "\n").unwrap();
    rate(&data, &rest);
    drop(file);

    let second = tmp.path().join("second.jsonl");
    let more = export(&data, "jsonl", &second, &["--after", &cursor]);
    let whole = tmp.path().join("whole.jsonl");
    export(&data, "jsonl", &whole, &[]);
    let key =
        |r: &serde_json::Value| (r["partition"].as_u64().unwrap(), r["seq"].as_u64().unwrap());
    let mut parts: Vec<_> = jsonl(&first).into_iter().chain(jsonl(&second)).collect();
    parts.sort_by_key(key);
    let mut all = jsonl(&whole);
    all.sort_by_key(key);
    assert!(more["rows"].as_u64().unwrap() > 1_000, "{more}");
    assert_eq!(
        parts, all,
        "the two exports are the whole, with nothing twice"
    );

    // Nothing follows the last export: an empty file, the same cursor.
    let none = tmp.path().join("none.jsonl");
    let again = export(
        &data,
        "jsonl",
        &none,
        &["--after", more["next"].as_str().unwrap()],
    );
    assert_eq!(
        (again["rows"].as_u64(), &again["next"]),
        (Some(0), &more["next"])
    );
    assert_eq!(std::fs::read(&none).unwrap(), b"");
}

#[test]
fn a_period_keeps_the_decisions_of_its_event_time() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, _) = store(tmp.path(), None);
    let whole = tmp.path().join("whole.jsonl");
    export(&data, "jsonl", &whole, &[]);
    let (from, to) = ("2026-11-03T00:00:00Z", "2026-11-05T00:00:00Z");
    let period = tmp.path().join("period.jsonl");
    export(&data, "jsonl", &period, &["--from", from, "--to", to]);
    let kept: Vec<_> = jsonl(&whole)
        .into_iter()
        .filter(|r| r["time"].as_str().is_some_and(|t| (from..to).contains(&t)))
        .collect();
    assert!(kept.len() > 500, "{}", kept.len());
    assert_eq!(
        jsonl(&period),
        kept,
        "dead letters, which have no time, left out"
    );
}

#[test]
fn bad_requests_are_refused_and_leave_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, _) = store(tmp.path(), Some(300));
    let ratel = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ratel"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = tmp.path().join("x.jsonl");
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    for (cursor, says) in [
        ("0", "partition=seq"),
        ("x=1", "not a partition"),
        ("0=-1", "not a sequence number"),
        ("99999=1", "past the most"),
    ] {
        let r = ratel(&[
            "export", "--data", d, "--format", "csv", "--out", o, "--after", cursor,
        ]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success() && err.contains(says), "{cursor}: {err}");
    }
    let missing = tmp.path().join("no/such/dir/x.parquet");
    let r = ratel(&[
        "export",
        "--data",
        d,
        "--format",
        "parquet",
        "--out",
        missing.to_str().unwrap(),
    ]);
    assert!(!r.status.success());
    let r = ratel(&[
        "export",
        "--data",
        tmp.path().join("nothing").to_str().unwrap(),
        "--format",
        "csv",
        "--out",
        o,
    ]);
    assert!(!r.status.success() && String::from_utf8_lossy(&r.stderr).contains("no store"));
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Python with pyarrow: `RATEL_PYTHON` (CI makes a virtual environment with it), else
/// `python3` if it has pyarrow. Missing, the test is skipped, unless CI requires its tools.
fn pyarrow() -> Option<PathBuf> {
    let python = std::env::var_os("RATEL_PYTHON").map_or_else(|| "python3".into(), PathBuf::from);
    let has = std::process::Command::new(&python)
        .args(["-c", "import pyarrow.parquet"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has {
        assert!(
            std::env::var_os("RATEL_REQUIRE_TOOLS").is_none(),
            "python with pyarrow is required (RATEL_PYTHON; .ci/run makes it)"
        );
        eprintln!("SKIPPED: no python with pyarrow");
        return None;
    }
    Some(python)
}

const READ_PARQUET: &str = r#"
import json, sys
import pyarrow.parquet as pq
import pyarrow.compute as pc
f = pq.ParquetFile(sys.argv[1])
t = f.read()
sums = {c: str(pc.sum(t[c]).as_py()) for c in ["usage", "fees", "payments", "money_out", "money_in"]}
outcomes = {o["values"]: o["counts"] for o in pc.value_counts(t["outcome"]).to_pylist()}
print(json.dumps({
    "rows": t.num_rows,
    "row_groups": f.metadata.num_row_groups,
    "next": f.schema_arrow.metadata[b"ratel.next"].decode(),
    "types": {c: str(t.schema.field(c).type) for c in ["partition", "time", "usage", "quantity", "input"]},
    "sums": sums,
    "outcomes": outcomes,
    "first_time": str(t["time"][0]),
}))
"#;

#[test]
fn pyarrow_reads_the_parquet_export_and_its_sums_equal_the_audit() {
    let Some(python) = pyarrow() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (data, _) = store(tmp.path(), None);
    let parquet = tmp.path().join("all.parquet");
    let summary = export(&data, "parquet", &parquet, &[]);
    let out = std::process::Command::new(python)
        .args(["-c", READ_PARQUET, parquet.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(read["rows"], summary["rows"]);
    assert_eq!(read["next"], summary["next"]);
    assert_eq!(read["types"]["partition"], "uint32");
    assert_eq!(read["types"]["time"], "timestamp[ms, tz=UTC]");
    assert_eq!(read["types"]["usage"], "decimal128(38, 12)");
    assert_eq!(read["types"]["quantity"], "uint64");
    assert_eq!(read["types"]["input"], "string");

    let store = engine::store::Store::open_follower(&data).unwrap();
    let audit = engine::audit::audit(&store).unwrap();
    let decimal = |name: &str| Decimal::from_str(read["sums"][name].as_str().unwrap()).unwrap();
    assert_eq!(decimal("usage"), audit.charges);
    assert_eq!(decimal("fees"), audit.fees);
    assert_eq!(decimal("payments"), audit.payments);

    // Counted by outcome as the JSON lines export counts them.
    let lines = tmp.path().join("all.jsonl");
    export(&data, "jsonl", &lines, &[]);
    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    for row in jsonl(&lines) {
        *counted
            .entry(row["outcome"].as_str().unwrap().into())
            .or_default() += 1;
    }
    let read_counts: BTreeMap<String, u64> =
        serde_json::from_value(read["outcomes"].clone()).unwrap();
    assert_eq!(read_counts, counted);
}
