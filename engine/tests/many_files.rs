//! Many input files into one store: a workload rated as a day's file at a time (one run each, or
//! a folder) ends as the same workload rated as one file; a file fed again is skipped, a file
//! that changed after it was read is refused, and a folder source leaves the operator's files
//! alone unless given a done folder.

mod common;

use engine::file_topics::Opened;
use engine::folder::{Folder, Opener};
use engine::pipeline::{Config, Engine};
use engine::workload::Workload;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// Writes a workload as one file per UTC day of its lines' event time (a line that is not an
/// input goes with the line before it), each in the workload's order, and the same lines as
/// one file, the days' files one after the other. Returns the days' files in order.
fn split_by_day(dir: &Path, whole: &Path) -> Vec<PathBuf> {
    let w = Workload {
        accounts: 120,
        days: 6,
        seed: 5,
        bad: 0.01,
        ..Workload::default()
    };
    let raw = dir.join("raw.jsonl");
    w.write(&mut std::fs::File::create(&raw).unwrap(), |_| {})
        .unwrap();
    let mut days: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let mut day = 0;
    for line in std::io::BufReader::new(std::fs::File::open(&raw).unwrap()).lines() {
        let line = line.unwrap();
        if let Ok(input) = rating::codec::parse_json(line.as_bytes()) {
            day = input.time().0.div_euclid(86_400);
        }
        days.entry(day).or_default().push(line);
    }
    let folder = dir.join("days");
    std::fs::create_dir(&folder).unwrap();
    let mut all = std::fs::File::create(whole).unwrap();
    let mut files = Vec::new();
    for (day, lines) in &days {
        let path = folder.join(format!("cdr-{day}.jsonl"));
        let mut f = std::fs::File::create(&path).unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
            writeln!(all, "{l}").unwrap();
        }
        files.push(path);
    }
    assert!(files.len() >= 6, "{} days", files.len());
    files
}

fn engine(data: &Path, partitions: u32) -> Engine {
    let cfg = Config {
        batch: 500,
        partitions,
        ..Config::default()
    };
    common::example_engine_with(data, cfg)
}

/// A folder source over `dir` for this engine, stopping as soon as it is idle.
fn folder(e: &Engine, dir: &Path, done: Option<PathBuf>) -> Folder {
    let store = e.store.clone();
    let placement = e.placement(true);
    let open: Opener = Box::new(move |path, numbers| {
        engine::files::open(&store, path, placement, numbers).map_err(std::io::Error::other)
    });
    Folder::new(dir.to_path_buf(), open, e.known_numbers().unwrap())
        .unwrap()
        .done_dir(done)
        .unwrap()
        .exit_when_idle(Some(std::time::Duration::ZERO))
}

fn assert_same_end(one: &Engine, other: &Engine, how: &str) {
    let counts = |e: &Engine| {
        let c = e.counters;
        (
            c.read,
            c.rated,
            c.rejected,
            c.duplicates,
            c.dead,
            c.ticks,
            c.derived,
        )
    };
    assert_eq!(counts(one), counts(other), "{how}: counters");
    assert_eq!(one.state.len(), other.state.len(), "{how}: accounts");
    for account in one.state.accounts() {
        assert_eq!(
            other.state.account(&account.id),
            Some(account),
            "{how}: {}",
            account.id
        );
    }
    let audit = engine::audit::audit(&other.store).unwrap();
    assert!(audit.ok(), "{how}: {:#?}", audit.listed);
}

#[test]
fn a_workload_rated_a_day_file_at_a_time_ends_as_one_file_does() {
    for partitions in [1, 3] {
        let tmp = tempfile::tempdir().unwrap();
        let whole = tmp.path().join("whole.jsonl");
        let files = split_by_day(tmp.path(), &whole);

        let mut one = engine(&tmp.path().join("one"), partitions);
        one.run_file(&whole).unwrap();
        assert!(
            one.counters.rated > 1_000 && one.counters.dead > 0,
            "{:?}",
            one.counters
        );

        // One run a file, each a new engine over the store, as a daily job runs.
        let each = tmp.path().join("each");
        for file in &files {
            engine(&each, partitions).run_file(file).unwrap();
        }
        assert_same_end(&one, &engine(&each, partitions), "a run a file");

        // A folder holding them all, in one run.
        let mut by_folder = engine(&tmp.path().join("folder"), partitions);
        let mut src = folder(&by_folder, &tmp.path().join("days"), None);
        by_folder.run(&mut src, |_, _| {}).unwrap();
        assert_eq!((src.finished, src.skipped), (files.len() as u64, 0));
        assert_same_end(&one, &by_folder, "a folder");
        for file in &files {
            assert!(
                file.exists(),
                "without a done folder, files stay where they are"
            );
        }
        // Fed again, every file is skipped.
        let mut src = folder(&by_folder, &tmp.path().join("days"), None);
        by_folder.run(&mut src, |_, _| {}).unwrap();
        assert_eq!((src.finished, src.skipped), (0, files.len() as u64));
        assert_same_end(&one, &by_folder, "a folder fed again");
    }
}

const OPENING: &str = r#"{"type":"open_account","id":"o1","account":"A1","time":"2026-11-01T09:00:00Z","numbers":[{"msisdn":"79001000001","plan":"BASIC"}]}"#;
const PAYMENT: &str = r#"{"type":"payment","id":"pay-1","account":"A1","amount":"250.00","time":"2026-11-01T10:00:00Z"}"#;
const PAYMENT_2: &str = r#"{"type":"payment","id":"pay-2","account":"A1","amount":"1.00","time":"2026-11-01T11:00:00Z"}"#;

fn catalog(dir: &Path) -> PathBuf {
    let path = dir.join("catalog.toml");
    std::fs::write(&path, engine::EXAMPLE_CATALOG).unwrap();
    path
}

/// `ratel run` on a file or folder source: its status and what it printed.
fn ratel_run(dir: &Path, source: &str, more: &[&str]) -> (bool, String) {
    let cat = catalog(dir);
    let data = dir.join("store");
    let mut args = vec![
        "run",
        "--quiet",
        "--catalog",
        cat.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--source",
        source,
    ];
    args.extend_from_slice(more);
    let out = common::bounded(env!("CARGO_BIN_EXE_ratel"), 120)
        .args(&args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn read_count(dir: &Path) -> u64 {
    common::stats(&dir.join("store"))["counters"]["read"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_missing_done_folder_is_named_in_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = tmp.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let source = format!("dir:{}", inbox.display());
    let done = tmp.path().join("no-such-done");
    let more = [
        "--exit-when-idle",
        "0",
        "--done-dir",
        done.to_str().unwrap(),
    ];
    let (ok, out) = ratel_run(tmp.path(), &source, &more);
    assert!(!ok);
    assert!(
        out.contains(&format!("{}: No such file", done.display())),
        "{out}"
    );
}

#[test]
fn a_file_fed_again_is_skipped_and_a_changed_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("cdr.jsonl");
    std::fs::write(&file, format!("{OPENING}\n{PAYMENT}\n")).unwrap();
    let source = format!("file:{}", file.display());
    let (ok, out) = ratel_run(tmp.path(), &source, &["--complete"]);
    assert!(ok, "{out}");
    assert_eq!(read_count(tmp.path()), 2);

    let (ok, out) = ratel_run(tmp.path(), &source, &["--complete"]);
    assert!(
        ok && out.contains("read to its end before: skipped"),
        "{out}"
    );
    assert_eq!(read_count(tmp.path()), 2, "nothing read twice");

    // The same name, other lines: refused, naming what differs.
    let elsewhere = tmp.path().join("other");
    std::fs::create_dir(&elsewhere).unwrap();
    let other = elsewhere.join("cdr.jsonl");
    std::fs::write(&other, format!("{OPENING}\n{PAYMENT_2}\n")).unwrap();
    let (ok, out) = ratel_run(tmp.path(), &format!("file:{}", other.display()), &[]);
    assert!(!ok && out.contains("changed after it was read"), "{out}");
    // Cut short.
    std::fs::write(&other, format!("{OPENING}\n")).unwrap();
    let (ok, out) = ratel_run(tmp.path(), &format!("file:{}", other.display()), &[]);
    assert!(!ok && out.contains("is shorter"), "{out}");
    // Grown after it was complete and read to its end.
    common::append(&file, &[PAYMENT_2]);
    let (ok, out) = ratel_run(tmp.path(), &source, &[]);
    assert!(
        !ok && out.contains("complete when read to its end"),
        "{out}"
    );
    assert_eq!(
        read_count(tmp.path()),
        2,
        "nothing of a refused file is rated"
    );

    // A file its writer may still append to (no --complete) resumes where it stopped.
    let growing = tmp.path().join("growing.jsonl");
    std::fs::write(&growing, format!("{PAYMENT_2}\n")).unwrap();
    let growing_source = format!("file:{}", growing.display());
    assert!(ratel_run(tmp.path(), &growing_source, &[]).0);
    common::append(
        &growing,
        &[
            r#"{"type":"payment","id":"pay-3","account":"A1","amount":"2.00","time":"2026-11-01T12:00:00Z"}"#,
        ],
    );
    let (ok, out) = ratel_run(tmp.path(), &growing_source, &[]);
    assert!(ok, "{out}");
    assert_eq!(read_count(tmp.path()), 4);
    let audit = engine::audit::audit(
        &engine::store::Store::open_follower(&tmp.path().join("store")).unwrap(),
    )
    .unwrap();
    assert!(audit.ok(), "{:#?}", audit.listed);
}

#[test]
fn a_folder_is_read_in_name_order_and_files_move_only_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = tmp.path().join("inbox");
    let done = tmp.path().join("done");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::create_dir_all(&done).unwrap();
    // Name order puts the payment after the opening; written in the other order.
    std::fs::write(inbox.join("2-pay.jsonl"), format!("{PAYMENT}\n")).unwrap();
    std::fs::write(inbox.join("1-open.jsonl"), format!("{OPENING}\n")).unwrap();
    // Being written: left for its writer to rename.
    std::fs::write(inbox.join(".3.jsonl"), format!("{PAYMENT_2}\n")).unwrap();
    std::fs::write(inbox.join("3.jsonl.part"), format!("{PAYMENT_2}\n")).unwrap();
    std::fs::write(inbox.join("3.jsonl.tmp"), format!("{PAYMENT_2}\n")).unwrap();
    // An empty file is read (there is nothing in it) and put away like the others.
    std::fs::write(inbox.join("0-empty.jsonl"), "").unwrap();
    let source = format!("dir:{}", inbox.display());
    let done_arg = done.to_str().unwrap();

    let (ok, out) = ratel_run(
        tmp.path(),
        &source,
        &["--exit-when-idle", "0", "--done-dir", done_arg],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("3 files read to their end, 0 skipped"),
        "{out}"
    );
    let stats = common::stats(&tmp.path().join("store"));
    let counters = &stats["counters"];
    assert_eq!(
        (counters["read"].as_u64(), counters["rated"].as_u64()),
        (Some(2), Some(2)),
        "{stats}"
    );
    let names = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(&done),
        ["0-empty.jsonl", "1-open.jsonl", "2-pay.jsonl"]
    );
    assert_eq!(names(&inbox), [".3.jsonl", "3.jsonl.part", "3.jsonl.tmp"]);

    // The writer renames its file into place; an operator feeds an old file in again. The old
    // one is skipped (and stays: the done folder has one of its name), the new one rated.
    std::fs::rename(inbox.join("3.jsonl.part"), inbox.join("3.jsonl")).unwrap();
    std::fs::copy(done.join("1-open.jsonl"), inbox.join("1-open.jsonl")).unwrap();
    let (ok, out) = ratel_run(
        tmp.path(),
        &source,
        &["--exit-when-idle", "0", "--done-dir", done_arg],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("1 files read to their end, 1 skipped"),
        "{out}"
    );
    assert_eq!(read_count(tmp.path()), 3);
    assert_eq!(names(&inbox), [".3.jsonl", "1-open.jsonl", "3.jsonl.tmp"]);

    // Without a done folder nothing moves; a file that changed under its name stops the run.
    std::fs::write(inbox.join("1-open.jsonl"), format!("{PAYMENT_2}\n")).unwrap();
    let (ok, out) = ratel_run(tmp.path(), &source, &["--exit-when-idle", "0"]);
    assert!(
        !ok && out.contains("1-open.jsonl") && out.contains("changed after it was read"),
        "{out}"
    );
    assert_eq!(read_count(tmp.path()), 3);
}

#[test]
fn a_folder_source_waits_for_files_that_arrive() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = tmp.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("a.jsonl"), format!("{OPENING}\n")).unwrap();
    let writer = {
        let inbox = inbox.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(700));
            std::fs::write(inbox.join(".b.jsonl"), format!("{PAYMENT}\n")).unwrap();
            std::fs::rename(inbox.join(".b.jsonl"), inbox.join("b.jsonl")).unwrap();
        })
    };
    let source = format!("dir:{}", inbox.display());
    let (ok, out) = ratel_run(tmp.path(), &source, &["--exit-when-idle", "5"]);
    writer.join().unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("2 files read to their end"), "{out}");
    assert_eq!(read_count(tmp.path()), 2);
}

#[test]
fn a_store_that_read_one_file_before_files_had_names_resumes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("old.jsonl");
    std::fs::write(&file, format!("{OPENING}\n{PAYMENT}\n")).unwrap();
    let data = tmp.path().join("store");
    engine(&data, 1).run_file(&file).unwrap();
    // Make it a store of the layout before: its positions under the shared topic names, and
    // no record of the file.
    {
        let store = engine::store::Store::open(&data).unwrap();
        let meta = store.db().cf_handle("meta").unwrap();
        let mut c = engine::store::Commit::default();
        for (own, legacy) in engine::file_topics::topic_names("old.jsonl")
            .iter()
            .zip(engine::file_topics::LEGACY_TOPICS)
        {
            let key = engine::keys::position(Some(own), 0);
            if let Some(v) = store.meta_bytes(&key).unwrap() {
                c.batch
                    .put_cf(meta, engine::keys::position(Some(legacy), 0), v);
            }
            c.batch.delete_cf(meta, key);
        }
        c.batch.delete_cf(meta, engine::keys::file("old.jsonl"));
        store.commit(c, true).unwrap();
    }
    common::append(&file, &[PAYMENT_2]);
    let mut e = engine(&data, 1);
    e.run_file(&file).unwrap();
    assert_eq!(
        (e.counters.read, e.counters.duplicates),
        (3, 0),
        "{:?}",
        e.counters
    );
    // Adopted: its positions and record are its own now, and fed again it reads nothing.
    drop(e);
    let mut e = engine(&data, 1);
    let Opened::Topics(topics) = e.file_topics(&file, false).unwrap() else {
        panic!("not finished: it was not complete");
    };
    assert!(topics.exhausted());
    e.run_file(&file).unwrap();
    assert_eq!(e.counters.read, 3);
    // Another file now starts from its own beginning.
    let next = tmp.path().join("next.jsonl");
    std::fs::write(&next, format!("{}\n", PAYMENT.replace("pay-1", "pay-9"))).unwrap();
    e.run_file(&next).unwrap();
    assert_eq!((e.counters.read, e.counters.rated), (4, 4));
}

/// A run that waits for files for ever commits the last lines of what came without waiting
/// for the next file (it once held its last batch back until more input came), and SIGTERM
/// stops it with exit status 0.
#[test]
fn a_folder_source_that_waits_commits_what_came_and_stops_cleanly_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = tmp.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    // Three batches of 50 lines and a few: the last batch is the one that was held back.
    let lines = common::fault_workload(&inbox.join("a.jsonl"), 3).min(170);
    let whole = std::fs::read_to_string(inbox.join("a.jsonl")).unwrap();
    let kept: String = whole
        .lines()
        .take(lines as usize)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(inbox.join("a.jsonl"), kept).unwrap();
    let cat = catalog(tmp.path());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ratel"))
        .args(["--quiet", "run", "--batch", "50", "--catalog"])
        .arg(&cat)
        .arg("--data")
        .arg(tmp.path().join("store"))
        .arg("--source")
        .arg(format!("dir:{}", inbox.display()))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let read = || {
        engine::store::Store::open_follower(&tmp.path().join("store"))
            .ok()
            .and_then(|s| s.counters().ok())
            .map_or(0, |c| c.read)
    };
    while read() < lines {
        assert!(
            std::time::Instant::now() < deadline,
            "read {} of {lines}",
            read()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid = child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "after SIGTERM: {}", out.status);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains(&format!("read {lines} ")), "{printed}");
}
