//! A file as a source, read as its writer may leave it: a last line still being written is not
//! consumed until it is whole (or the file is declared complete), a file with no line ends is an
//! error rather than a loop, and a reader that goes away ends a command quietly.

mod common;

use engine::source::{FileSource, Source};
use std::io::Write;
use std::process::{Command, Stdio};

const OPENING: &str = r#"{"type":"open_account","id":"o1","account":"A1","time":"2026-11-01T09:00:00Z","numbers":[{"msisdn":"79001000001","plan":"BASIC"}]}"#;
const PAYMENT: &str = r#"{"type":"payment","id":"pay-1","account":"A1","amount":"250.00","time":"2026-11-01T10:00:00Z"}"#;

#[test]
fn a_half_written_last_line_waits_for_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("in.jsonl");
    let (head, tail) = PAYMENT.split_at(40);
    std::fs::write(&file, format!("{OPENING}\n{head}")).unwrap();

    let mut e = common::example_engine(tmp.path());
    e.run_file(&file).unwrap();
    assert_eq!(
        (e.counters.read, e.counters.dead),
        (1, 0),
        "{:?}",
        e.counters
    );
    let positions = (
        e.offset("file:in.jsonl:commands", 0).unwrap(),
        e.offset("file:in.jsonl:payments", 0).unwrap(),
    );
    assert_eq!(
        positions,
        (Some(OPENING.len() as u64 + 1), None),
        "not past the half line"
    );

    // The writer finishes the line: the next run rates it whole.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    writeln!(f, "{tail}").unwrap();
    drop(f);
    e.run_file(&file).unwrap();
    assert_eq!(
        (e.counters.read, e.counters.dead),
        (2, 0),
        "{:?}",
        e.counters
    );
    assert_eq!(e.state.account("A1").unwrap().balance.to_string(), "250.00");
    let audit = engine::audit::audit(&e.store).unwrap();
    assert!(audit.ok(), "{:#?}", audit.listed);
}

#[test]
fn a_complete_file_reads_its_last_line_without_a_newline() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("in.jsonl");
    std::fs::write(&file, format!("{OPENING}\n{PAYMENT}")).unwrap();
    let open = |complete| {
        let mut src = FileSource::open(file.clone(), 0)
            .unwrap()
            .complete(complete);
        let mut lines = Vec::new();
        src.next_batch(10, &mut lines).unwrap();
        (lines.len(), src.unfinished())
    };
    assert_eq!(open(false), (1, PAYMENT.len() as u64));
    assert_eq!(open(true), (2, 0));

    // Through the binary: left, and said so; then rated with --complete.
    let data = tmp.path().join("data");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "--quiet".to_string(),
            "run".into(),
            "--catalog".into(),
            format!("{}/../catalogs/example.toml", env!("CARGO_MANIFEST_DIR")),
            "--data".into(),
            data.display().to_string(),
            "--source".into(),
            format!("file:{}", file.display()),
        ];
        args.extend(extra.iter().map(std::string::ToString::to_string));
        Command::new(env!("CARGO_BIN_EXE_ratel"))
            .args(&args)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("read 1 "));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--complete"));
    let out = run(&["--complete"]);
    assert!(out.status.success());
    let stats = common::stats(&data);
    assert_eq!(stats["counters"]["read"], 2, "{stats}");
    assert_eq!(stats["counters"]["dead"], 0, "{stats}");
}

#[test]
fn a_file_without_line_ends_is_an_error_not_a_spin() {
    let mut src = FileSource::open("/dev/zero".into(), 0).unwrap();
    let mut lines = Vec::new();
    let err = src
        .next_batch(10, &mut lines)
        .expect_err("no line ends in /dev/zero");
    assert!(err.to_string().contains("no line end"), "{err}");

    let tmp = tempfile::tempdir().unwrap();
    let out = common::bounded(env!("CARGO_BIN_EXE_ratel"), 120)
        .args(["--quiet", "run", "--catalog"])
        .arg(format!(
            "{}/../catalogs/example.toml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .arg("--data")
        .arg(tmp.path().join("data"))
        .args(["--source", "file:/dev/zero"])
        .output()
        .unwrap();
    assert!(!common::timed_out(out.status), "ran on /dev/zero for 120 s");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no line end"));
}

#[test]
fn a_reader_that_goes_away_ends_a_command_without_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("in.jsonl");
    common::append(&file, &[OPENING, PAYMENT]);
    drop(common::example_engine(tmp.path()).run_file(&file));
    let data = tmp.path().join("store");
    for args in [
        vec!["balance", "--all"],
        vec![
            "detalization",
            "79001000001",
            "--month",
            "2026-11",
            "--format",
            "csv",
        ],
        vec!["stats"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ratel"))
            .args(&args)
            .arg("--data")
            .arg(&data)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before the command writes anything (`| head -c 0`).
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        use std::os::unix::process::ExitStatusExt;
        assert!(
            out.status.success() || out.status.signal() == Some(13),
            "{args:?}: {:?} {err}",
            out.status
        );
    }
}

#[test]
fn readers_never_create_a_store_or_wait_for_the_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let typo = tmp.path().join("typo-path");
    for cmd in ["audit", "replay", "stats"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ratel"))
            .args(["--quiet", cmd, "--data"])
            .arg(&typo)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{cmd} on a missing store");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no store at"),
            "{cmd}"
        );
        assert!(!typo.exists(), "{cmd} created {}", typo.display());
    }

    // Beside a writer that holds the store open, the readers read it.
    let file = tmp.path().join("in.jsonl");
    common::append(&file, &[OPENING, PAYMENT]);
    let mut writer = common::example_engine(tmp.path());
    writer.run_file(&file).unwrap();
    let data = tmp.path().join("store");
    for args in [
        vec!["balance", "A1"],
        vec!["balance", "--all"],
        vec!["stats"],
        vec!["audit"],
        vec!["replay"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ratel"))
            .arg("--quiet")
            .args(&args)
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?} beside the writer: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The writer goes on.
    common::append(
        &file,
        &[
            r#"{"type":"payment","id":"pay-2","account":"A1","amount":"1.00","time":"2026-11-01T11:00:00Z"}"#,
        ],
    );
    writer.run_file(&file).unwrap();
    assert_eq!(writer.counters.read, 3);
}

/// `ratel run` with `--source` and the example catalog; its error output when it fails.
fn run_source(dir: &std::path::Path, data: &str, source: &str) -> Result<(), String> {
    let catalog = dir.join("catalog.toml");
    std::fs::write(&catalog, engine::EXAMPLE_CATALOG).unwrap();
    let out = common::bounded(env!("CARGO_BIN_EXE_ratel"), 120)
        .args(["--quiet", "run", "--catalog", catalog.to_str().unwrap()])
        .args([
            "--data",
            dir.join(data).to_str().unwrap(),
            "--source",
            source,
        ])
        .output()
        .unwrap();
    match out.status.success() {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

/// A generated workload as a source: fed again, it rates nothing twice; a store fed one spec
/// refuses another, a store that read a file refuses any (a position of one source means
/// nothing to another), and a bad spec is refused before the store is touched.
#[test]
fn a_generated_source_resumes_its_own_spec_and_refuses_any_other() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let spec = "gen:accounts=60,days=2,seed=3";
    run_source(dir, "gen", spec).unwrap();
    let before = common::stats(&dir.join("gen"));
    let expected = engine::workload::Workload::from_spec("accounts=60,days=2,seed=3")
        .unwrap()
        .lines()
        .count() as u64;
    assert_eq!(before["counters"]["read"].as_u64(), Some(expected));
    run_source(dir, "gen", spec).unwrap();
    assert_eq!(
        common::stats(&dir.join("gen")),
        before,
        "fed again: nothing rated"
    );

    let other = run_source(dir, "gen", "gen:accounts=61,days=2,seed=3").unwrap_err();
    assert!(other.contains("was fed gen:accounts=60"), "{other}");

    let file = dir.join("in.jsonl");
    std::fs::write(&file, format!("{OPENING}\n{PAYMENT}\n")).unwrap();
    run_source(dir, "file", &format!("file:{}", file.display())).unwrap();
    let after_file = run_source(dir, "file", spec).unwrap_err();
    assert!(after_file.contains("read another source"), "{after_file}");

    for (bad, says) in [
        ("gen:accounts=x", "accounts: \"x\""),
        ("gen:colour=red", "\"colour\" is no key"),
        ("gen:accounts=2000000000", "at most 1000000000 accounts"),
        ("gen:events=-1", "events a day"),
        ("gen:duplicates=2", "shares of duplicates"),
        ("gen:transfers=maybe", "neither yes nor no"),
        ("gen:accounts", "no key=value pair"),
    ] {
        let error = run_source(dir, "bad", bad).unwrap_err();
        assert!(error.contains(says), "{bad}: {error}");
    }
    assert!(!dir.join("bad").exists(), "a store made for a bad spec");
}

/// `ratel gen` writes to the standard output what it writes to a file.
#[test]
fn a_workload_to_the_standard_output_is_the_file_s_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("work.jsonl");
    let args = ["gen", "--accounts", "40", "--days", "2", "--seed", "9"];
    common::ratel(&[&args[..], &["--out", file.to_str().unwrap()]].concat());
    let piped = common::ratel(&[&args[..], &["--out", "-"]].concat());
    assert_eq!(piped, std::fs::read_to_string(&file).unwrap());
    assert!(piped.lines().count() > 40 * 2);
}
