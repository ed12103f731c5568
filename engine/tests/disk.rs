//! A full disk: the store on a small tmpfs (in a private mount namespace, so nothing outlives the
//! test) fills while the engine rates. The engine must stop with a clear error naming the cause,
//! not panic; once space returns it must resume where its last commit ended and reach exactly the
//! log, state and read models of a run that never ran short, with the audit passing.

mod common;
use common::{bounded, fault_workload, ratel, stats};

use std::path::Path;
use std::process::Command;

const RATEL: &str = env!("CARGO_BIN_EXE_ratel");

/// Whether this machine lets the test mount a tmpfs of its own (`unshare` from util-linux, and
/// user namespaces or root). CI must (RATEL_REQUIRE_TOOLS=1); elsewhere the test skips.
fn can_mount(dir: &Path) -> bool {
    let ok = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c"])
        .arg("mount -t tmpfs -o size=1m none \"$0\"")
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("RATEL_REQUIRE_TOOLS").is_none(),
            "the full-disk test needs `unshare` and a tmpfs mount in a user namespace"
        );
        eprintln!("SKIPPED: no tmpfs in a private mount namespace here");
    }
    ok
}

/// In one private mount namespace (the tmpfs lives as long as it does): a run on `small` bytes of
/// disk, then, after growing the tmpfs, the same run again, the audit, and the state written out
/// beside the tmpfs. Every step's exit status and error output are kept in `out`.
const SCRIPT: &str = r#"
set -u
mount -t tmpfs -o "size=$SMALL" none "$MNT" || exit 90
"$RATEL" --quiet run --catalog "$CAT" --data "$MNT/store" --source "file:$WORK" --batch 256 \
  2>"$OUT/first.err"
echo $? >"$OUT/first.status"
df -k "$MNT" >"$OUT/df"
mount -o remount,size=512m "$MNT" || exit 91
"$RATEL" --quiet run --catalog "$CAT" --data "$MNT/store" --source "file:$WORK" --batch 256 \
  >"$OUT/second.out" 2>"$OUT/second.err"
echo $? >"$OUT/second.status"
"$RATEL" --quiet audit --data "$MNT/store" >"$OUT/audit" 2>&1
echo $? >"$OUT/audit.status"
"$RATEL" --quiet balance --all --data "$MNT/store" >"$OUT/balances"
"$RATEL" --quiet stats --json --data "$MNT/store" >"$OUT/stats"
"#;

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn a_full_disk_stops_the_engine_with_a_clear_error_and_it_resumes_when_space_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mnt = dir.join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    if !can_mount(&mnt) {
        return;
    }
    let cat = dir.join("catalog.toml");
    std::fs::write(&cat, engine::EXAMPLE_CATALOG).unwrap();
    let work = dir.join("work.jsonl");
    let lines = fault_workload(&work, 11);
    let (cat, work_s) = (cat.to_str().unwrap(), work.to_str().unwrap());

    // The run that never runs short: its store is some 20 MB, so 8 MB fills part way, and 64 KB
    // before the first batch.
    let clean = dir.join("clean");
    ratel(&[
        "run",
        "--catalog",
        cat,
        "--data",
        clean.to_str().unwrap(),
        "--source",
        &format!("file:{work_s}"),
        "--batch",
        "256",
    ]);
    let want_balances = ratel(&["balance", "--all", "--data", clean.to_str().unwrap()]);
    let want_stats = stats(&clean);
    assert_eq!(want_stats["counters"]["read"].as_u64(), Some(lines));

    for small in ["8m", "64k"] {
        let out = dir.join(format!("out-{small}"));
        std::fs::create_dir(&out).unwrap();
        let status = bounded("unshare", 600)
            .args(["--user", "--map-root-user", "--mount", "sh", "-c", SCRIPT])
            .env("SMALL", small)
            .env("MNT", &mnt)
            .env("RATEL", RATEL)
            .env("CAT", cat)
            .env("WORK", work_s)
            .env("OUT", &out)
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE")
            .status()
            .unwrap();
        assert!(status.success(), "{small}: the script failed: {status:?}");

        // Short of space: a non-zero exit with the cause, not a panic.
        let err = read(&out, "first.err");
        assert_ne!(read(&out, "first.status").trim(), "0", "{small}: {err}");
        assert!(err.contains("No space left on device"), "{small}: {err}");
        assert!(!err.contains("panicked"), "{small}: {err}");
        // Full but for what one more write needed.
        let df = read(&out, "df");
        let used: u32 = df
            .split_whitespace()
            .find_map(|w| w.strip_suffix('%')?.parse().ok())
            .unwrap_or_else(|| panic!("{df}"));
        assert!(used >= 90, "{small}: {df}");

        // Space back: it resumes, and ends where the clean run ended.
        let second = read(&out, "second.err");
        assert_eq!(read(&out, "second.status").trim(), "0", "{small}: {second}");
        assert_eq!(
            read(&out, "audit.status").trim(),
            "0",
            "{}",
            read(&out, "audit")
        );
        assert!(read(&out, "audit").contains("every balance, bucket, id and line accounted for"));
        assert!(
            read(&out, "balances") == want_balances,
            "{small}: balances or buckets differ from the run that had space"
        );
        let got: serde_json::Value = serde_json::from_str(&read(&out, "stats")).unwrap();
        assert_eq!(
            got, want_stats,
            "{small}: the log, counters or read models differ"
        );
    }
}
