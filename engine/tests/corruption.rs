//! A RocksDB file damaged on disk is detected and reported, never silently read: bytes flipped in
//! the middle of the log's table file make `ratel audit`, `replay` and `stats` fail with a clear
//! error that names the corruption.

mod common;

use engine::pipeline::Config;
use engine::workload::Workload;
use std::process::Command;

#[test]
fn flipped_bytes_in_a_table_file_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("w.jsonl");
    Workload {
        accounts: 60,
        days: 10,
        seed: 5,
        ..Workload::default()
    }
    .write(&mut std::fs::File::create(&file).unwrap(), |_| {})
    .unwrap();
    let data = tmp.path().join("data");
    {
        let cfg = Config {
            batch: 1000,
            sync: true,
            ..Config::default()
        };
        let mut e = common::example_engine_with(&data, cfg);
        e.run_file(&file).unwrap();
        // Everything into table files, so that the damage is where a disk would do it.
        e.store.flush().unwrap();
    }
    // The log's largest table file (not the store's largest: `detail` writes its first levels
    // uncompressed).
    let sst = {
        let store = engine::store::Store::open(&data).unwrap();
        let files = store.db().live_files().unwrap();
        let log = files
            .iter()
            .filter(|f| f.column_family_name == engine::store::CF_LOG)
            .max_by_key(|f| f.size)
            .expect("a flushed store has the log in table files");
        data.join(log.name.trim_start_matches('/'))
    };
    let ratel = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ratel"))
            .args(args)
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap()
    };
    let d = data.to_str().unwrap();
    assert!(
        ratel(&["audit", "--data", d]).status.success(),
        "the undamaged store audits clean"
    );

    // Damage a stretch in the middle of the log's table file.
    let mut bytes = std::fs::read(&sst).unwrap();
    let mid = bytes.len() / 3;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(&sst, bytes).unwrap();

    for cmd in ["audit", "replay", "stats"] {
        let out = ratel(&["--quiet", cmd, "--data", d]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{cmd} read a damaged store without noticing"
        );
        assert!(err.to_lowercase().contains("corrupt"), "{cmd}: {err}");
    }
}

/// Rates a small workload into `data` and leaves it in the write-ahead log (no flush).
fn rated_into_the_wal(dir: &std::path::Path, data: &std::path::Path) {
    let file = dir.join("w.jsonl");
    Workload {
        accounts: 40,
        days: 6,
        seed: 9,
        ..Workload::default()
    }
    .write(&mut std::fs::File::create(&file).unwrap(), |_| {})
    .unwrap();
    let cfg = Config {
        batch: 200,
        // Every batch writes its accounts' records: the state family has table files too.
        checkpoint: 1,
        ..Config::default()
    };
    common::example_engine_with(data, cfg)
        .run_file(&file)
        .unwrap();
}

#[test]
fn a_flipped_byte_in_the_write_ahead_log_is_an_error_not_a_shorter_store() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    rated_into_the_wal(tmp.path(), &data);
    let wal = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .expect("the batches are in a write-ahead log");
    let mut bytes = std::fs::read(&wal).unwrap();
    assert!(bytes.len() > 100_000, "{} bytes of log", bytes.len());
    // One byte in the middle: every batch after it was committed and acknowledged.
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&wal, bytes).unwrap();

    let opened = engine::store::Store::open(&data);
    let err = opened.err().expect("a store with a corrupt log opened");
    assert!(err.to_string().to_lowercase().contains("corrupt"), "{err}");
    for cmd in ["audit", "replay", "stats", "balance"] {
        let mut args = vec!["--quiet", cmd, "--data", data.to_str().unwrap()];
        if cmd == "balance" {
            args.push("ACC1");
        }
        let out = Command::new(env!("CARGO_BIN_EXE_ratel"))
            .args(&args)
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{cmd} read a store whose log is corrupt"
        );
    }
}

/// The largest table file of `family` in the store at `data`.
fn table_of(data: &std::path::Path, family: &str) -> std::path::PathBuf {
    let store = engine::store::Store::open(data).unwrap();
    let files = store.db().live_files().unwrap();
    let f = files
        .iter()
        .filter(|f| f.column_family_name == family)
        .max_by_key(|f| f.size)
        .unwrap_or_else(|| panic!("a flushed store has {family} in table files"));
    data.join(f.name.trim_start_matches('/'))
}

#[test]
fn the_audit_reads_every_family_it_vouches_for() {
    let tmp = tempfile::tempdir().unwrap();
    let clean = tmp.path().join("clean");
    rated_into_the_wal(tmp.path(), &clean);
    engine::store::Store::open(&clean).unwrap().flush().unwrap();
    for family in ["detail", "by_account", "meta", "state", "spending"] {
        let data = tmp.path().join(family);
        let copy = Command::new("cp")
            .args(["-r", clean.to_str().unwrap(), data.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(copy.success());
        let sst = table_of(&data, family);
        let mut bytes = std::fs::read(&sst).unwrap();
        // A stretch inside the data blocks (not the footer, which opening checks anyway).
        let mid = bytes.len() / 4;
        for b in &mut bytes[mid..mid + 16] {
            *b ^= 0x5a;
        }
        std::fs::write(&sst, bytes).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_ratel"))
            .args(["--quiet", "audit", "--data", data.to_str().unwrap()])
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(!out.status.success(), "the audit passed a damaged {family}");
        assert!(
            err.contains("corrupt") || err.contains("checksum"),
            "{family}: {err}"
        );
    }
}
