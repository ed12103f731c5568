//! The accounts held in memory are a cache over the store: an engine that holds every account
//! and one that drops every account it may after each batch (`--state-cache-mb 0`) decide
//! alike, entry for entry, over one partition or several, with records written every batch
//! or at checkpoints, and across a restart; and an engine opened on a store reads only what
//! its log after the checkpoints changed. The inputs include redeliveries, so that an account
//! read back from the store must still know the ids it has seen. Replay, likewise, finds the
//! same with its accounts held in memory and with none held between chunks of the log.

mod common;

use engine::pipeline::{Config, Engine};
use engine::store::Store;
use engine::workload::Workload;
use std::path::Path;

fn engine(data: &Path, partitions: u32, cache_mb: u64, checkpoint: u64) -> Engine {
    let text = engine::EXAMPLE_CATALOG;
    let cat = rating::Catalog::from_toml("example.toml", text).unwrap();
    let cfg = Config {
        batch: 97,
        partitions,
        checkpoint,
        state_cache_mb: cache_mb,
        ..Config::default()
    };
    Engine::open(data, cat, text.as_bytes(), cfg).unwrap()
}

/// Every log entry's key and bytes.
fn log_of(data: &Path) -> Vec<engine::store::KeyValue> {
    let store = Store::open(data).unwrap();
    let db = store.db();
    let log = db.cf_handle(engine::store::CF_LOG).unwrap();
    (db.iterator_cf(log, rocksdb::IteratorMode::Start))
        .map(Result::unwrap)
        .collect()
}

fn workload(dir: &Path, accounts: u64, days: u32, seed: u64) -> std::path::PathBuf {
    let raw = dir.join("raw.jsonl");
    let w = Workload {
        accounts,
        days,
        seed,
        ..Workload::default()
    };
    w.write(&mut std::fs::File::create(&raw).unwrap(), |_| {})
        .unwrap();
    let file = dir.join("w.jsonl");
    common::time_sorted(&raw, &file);
    file
}

/// `file` with, after line `later`, every `every`th line sent again `later` lines late: a
/// source that redelivers, so that some repeats find their account held and some read back.
fn with_repeats(file: &Path, later: usize, every: usize) -> std::path::PathBuf {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for (j, line) in lines.iter().enumerate() {
        out.push_str(line);
        out.push('\n');
        if j >= later && (j - later).is_multiple_of(every) {
            out.push_str(lines[j - later]);
            out.push('\n');
        }
    }
    let repeated = file.with_file_name("repeated.jsonl");
    std::fs::write(&repeated, out).unwrap();
    repeated
}

#[test]
fn an_engine_that_drops_every_account_it_may_decides_as_one_that_holds_them_all() {
    let tmp = tempfile::tempdir().unwrap();
    let file = with_repeats(&workload(tmp.path(), 600, 12, 23), 3_000, 37);
    for partitions in [1, 3] {
        let whole = tmp.path().join(format!("whole-{partitions}"));
        let mut e = engine(&whole, partitions, 1024, 1);
        e.run_file(&file).unwrap();
        assert!(e.counters.duplicates > 500, "{:?}", e.counters);
        let accounts = e.state.len();
        // Every account was made in memory and stayed: none read in from the store.
        let held = e.cache_counts();
        assert!(held.reads == 0 && held.hits > 0, "{held:?}");
        drop(e);
        for checkpoint in [1, 5_000] {
            let bare = tmp.path().join(format!("bare-{partitions}-{checkpoint}"));
            let mut e = engine(&bare, partitions, 0, checkpoint);
            let engine::file_topics::Opened::Topics(mut source) =
                e.file_topics(&file, false).unwrap()
            else {
                unreachable!("a new store has read no file")
            };
            // The fewest accounts held after a batch: those the last two batches read, and
            // with records at checkpoints, those changed since.
            let mut fewest = usize::MAX;
            (e.run(&mut *source, |e, _| fewest = fewest.min(e.state.len()))).unwrap();
            assert!(
                fewest < accounts / 4,
                "{fewest} of {accounts} accounts held with no cache"
            );
            let counted = e.cache_counts();
            assert!(counted.reads > accounts as u64, "{counted:?}");
            drop(e);
            assert!(
                log_of(&whole) == log_of(&bare),
                "{partitions} partitions, checkpoint {checkpoint}: the logs differ"
            );
            let store = Store::open(&bare).unwrap();
            let report = engine::replay::replay(&store, |_| {}).unwrap();
            assert!(report.ok(), "{report:?}");
            assert_eq!(report.read_back, 0, "all held within 2 GB");
            // A replay that holds no account between chunks of the log: each waits in the
            // scratch store, and is brought back by the next entry that reads it.
            let limits = engine::replay::Limits {
                cache_mb: 0,
                scratch: Some(tmp.path().to_path_buf()),
            };
            let bare = engine::replay::replay_within(&store, &limits, |_| {}).unwrap();
            assert!(bare.ok(), "{bare:?}");
            assert_eq!(
                (bare.decisions, bare.accounts),
                (report.decisions, report.accounts)
            );
            assert!(
                bare.read_back > 2 * bare.accounts as u64,
                "{} accounts read back, of {}",
                bare.read_back,
                bare.accounts
            );
            let audit = engine::audit::audit(&store).unwrap();
            assert!(audit.ok(), "{:#?}", audit.listed);
        }
    }
}

#[test]
fn a_restart_reads_only_the_accounts_its_log_after_the_checkpoints_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let file = workload(tmp.path(), 200, 12, 7);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let half = tmp.path().join("half.jsonl");
    let (first, second) = lines.split_at(lines.len() / 2);
    std::fs::write(&half, first.join("\n") + "\n").unwrap();

    // The same file's name: a dead letter names the file it came from.
    let whole = tmp.path().join("whole");
    let same_name = tmp.path().join("same").join("half.jsonl");
    std::fs::create_dir_all(same_name.parent().unwrap()).unwrap();
    std::fs::copy(&file, &same_name).unwrap();
    engine(&whole, 2, 1024, 1).run_file(&same_name).unwrap();

    // Records at checkpoints far apart: the restart finds a tail, and reads its accounts only.
    let cut = tmp.path().join("cut");
    let mut e = engine(&cut, 2, 0, 1_000);
    e.run_file(&half).unwrap();
    let tail_accounts = e.state.len();
    drop(e);
    let e = engine(&cut, 2, 0, 1_000);
    assert!(e.state.len() <= tail_accounts + 1, "{} held", e.state.len());
    let store = e.store.clone();
    let (stored, _) = store.load_state().unwrap();
    assert!(e.state.len() < stored.len());
    for a in stored.accounts() {
        assert_eq!(e.account(&a.id).unwrap().as_ref(), Some(a), "{}", a.id);
    }
    drop((e, store));
    // The file grown to the whole workload: resumed where it stopped.
    std::fs::write(&half, first.join("\n") + "\n" + &second.join("\n") + "\n").unwrap();
    engine(&cut, 2, 0, 1_000).run_file(&half).unwrap();
    assert!(log_of(&whole) == log_of(&cut), "the logs differ");
}
