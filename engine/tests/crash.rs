//! The engine is killed (SIGKILL) at random points while it rates a generated workload, and
//! restarted, many times; the end state and the log must equal those of one uninterrupted run.

mod common;
use common::{fault_workload, ratel, stats};

use rand::{Rng, SeedableRng};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RATEL: &str = env!("CARGO_BIN_EXE_ratel");

fn catalog(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("catalog.toml");
    std::fs::write(&p, engine::EXAMPLE_CATALOG).unwrap();
    p
}

/// `checkpoint`: log entries between two checkpoints of the account records.
fn run_args<'a>(cat: &'a str, data: &'a str, source: &'a str, checkpoint: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "--catalog",
        cat,
        "--data",
        data,
        "--source",
        source,
        "--batch",
        "256",
        "--checkpoint-every",
        checkpoint,
    ]
}

/// The clean run's checkpoint spacing (the default) and the crashed run's.
const CLEAN: &str = "1048576";
const CRASHED: &str = "2000";

#[test]
fn sigkill_at_random_points_loses_nothing_and_counts_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work.jsonl");
    let lines = fault_workload(&work, 7);
    assert!(lines > 30_000);
    let source = format!("file:{}", work.display());
    killed_again_and_again(tmp.path(), &source, lines, 60);
}

/// A generated workload fed as it is made resumes after a kill at the line after the last one
/// committed: made again from its start, the lines before skipped, none rated twice or lost.
#[test]
fn a_generated_source_killed_at_random_points_resumes_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = "accounts=400,days=6,events=12,seed=7,duplicates=0.01,bad=0.005";
    let lines = engine::workload::Workload::from_spec(spec)
        .unwrap()
        .lines()
        .count() as u64;
    assert!(lines > 25_000, "{lines}");
    killed_again_and_again(tmp.path(), &format!("gen:{spec}"), lines, 30);
}

/// Rates `source` (of `lines` lines, 400 accounts) once uninterrupted and once killed up to
/// `rounds` times; the balances, the log, the counters and the read models must be alike, and
/// the audit clean.
fn killed_again_and_again(dir: &Path, source: &str, lines: u64, rounds: u32) {
    let cat = catalog(dir);
    let cat = cat.to_str().unwrap();

    // One uninterrupted run.
    let clean = dir.join("clean");
    let started = Instant::now();
    ratel(&run_args(cat, clean.to_str().unwrap(), source, CLEAN));
    let full = started.elapsed();

    // The same, killed again and again, with the account records written at checkpoints a few
    // batches apart (the clean run makes none in this workload: its state is one long tail).
    let crashed = dir.join("crashed");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let mut kills = 0;
    for _ in 0..rounds {
        let mut child = Command::new(RATEL)
            .arg("--quiet")
            .args(run_args(cat, crashed.to_str().unwrap(), source, CRASHED))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let wait = Duration::from_micros(rng.gen_range(0..(full.as_micros() as u64 / 4).max(1000)));
        std::thread::sleep(wait);
        match child.try_wait().unwrap() {
            Some(status) => {
                assert!(status.success());
                break;
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
            }
        }
    }
    // Finish whatever is left.
    ratel(&run_args(cat, crashed.to_str().unwrap(), source, CRASHED));
    assert!(kills >= rounds / 6, "only {kills} kills landed mid-run");

    let a = ratel(&["balance", "--data", clean.to_str().unwrap(), "--all"]);
    let b = ratel(&["balance", "--data", crashed.to_str().unwrap(), "--all"]);
    assert_eq!(a.lines().count(), 400);
    assert!(a == b, "balances and buckets differ after {kills} kills");
    let sa = stats(&clean);
    let sb = stats(&crashed);
    // The log, the counters and the read models (their digest) are those of the clean run.
    assert_eq!(
        sa, sb,
        "log, counters or read models differ after {kills} kills"
    );
    assert!(sa["model_rows"].as_u64().unwrap() > 1_000);
    assert_eq!(sa["counters"]["read"].as_u64(), Some(lines));
    let audit = ratel(&["audit", "--data", crashed.to_str().unwrap()]);
    assert!(
        audit.contains("every balance, bucket, id and line accounted for"),
        "{audit}"
    );
    eprintln!("{kills} kills; {lines} lines; log {}", sa["log_sha256"]);
}
