//! A RocksDB file damaged on disk is detected and reported, never silently read: bytes flipped in
//! the middle of the log's table file make `ratel audit`, `replay` and `stats` fail with a clear
//! error that names the corruption.

use engine::pipeline::{Config, Engine};
use engine::workload::Workload;
use rating::Catalog;
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
        let cat = Catalog::from_toml("example", engine::EXAMPLE_CATALOG).unwrap();
        let mut e = Engine::open(
            &data,
            cat,
            engine::EXAMPLE_CATALOG.as_bytes(),
            Config {
                batch: 1000,
                sync: true,
                ..Config::default()
            },
        )
        .unwrap();
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
