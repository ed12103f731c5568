//! Partitions: a file rated over N partitions decides every account exactly as over one (the
//! partition only decides whose log holds an entry), and a store keeps its count.

mod common;

use engine::pipeline::{Config, Engine};
use engine::workload::Workload;
use std::path::Path;

fn rate(file: &Path, dir: &Path, partitions: u32) -> Engine {
    let text = engine::EXAMPLE_CATALOG;
    let cat = rating::Catalog::from_toml("example.toml", text).unwrap();
    let cfg = Config {
        batch: 777,
        partitions,
        ..Config::default()
    };
    let mut e = Engine::open(dir, cat, text.as_bytes(), cfg).unwrap();
    e.run_file(file).unwrap();
    e
}

#[test]
fn partitions_decide_every_account_as_one_does() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("w.jsonl");
    let w = Workload {
        accounts: 200,
        days: 30,
        seed: 11,
        ..Workload::default()
    };
    w.write(&mut std::fs::File::create(&file).unwrap(), |_| {})
        .unwrap();
    let one = rate(&file, &tmp.path().join("one"), 1);
    let four = rate(&file, &tmp.path().join("four"), 4);

    let (a, b) = (one.counters, four.counters);
    assert_eq!(
        (a.read, a.rated, a.rejected, a.duplicates, a.dead, a.ticks),
        (b.read, b.rated, b.rejected, b.duplicates, b.dead, b.ticks)
    );
    assert!(a.ticks > 0 && a.rated > 1000, "{a:?}");
    let mut n = 0;
    for acct in one.state.accounts() {
        assert_eq!(
            four.state.account(&acct.id),
            Some(acct),
            "account {}",
            acct.id
        );
        n += 1;
    }
    assert_eq!(n, four.state.len());

    // Every partition holds a log of its own, and each account's entries are in one of them.
    let mut per_partition = [0u64; 4];
    for item in four.store.log() {
        let (p, _, _) = item.unwrap();
        per_partition[p as usize] += 1;
    }
    assert!(per_partition.iter().all(|&n| n > 100), "{per_partition:?}");
    for acct in four.state.accounts().take(50) {
        let want = engine::partition::of_bytes(acct.id.as_bytes(), 4);
        for (p, _) in four.store.account_entries(&acct.id).unwrap() {
            assert_eq!(p, want, "account {}", acct.id);
        }
    }

    // Replay of the partitioned log reproduces it byte for byte; the audit balances.
    drop(four);
    let store = engine::store::Store::open(&tmp.path().join("four")).unwrap();
    let (r, _) = engine::replay::replay(&store, |_| {}).unwrap();
    assert!(
        r.mismatches.is_empty() && r.state_differences.is_empty(),
        "{r:?}"
    );
    let audit = engine::audit::audit(&store).unwrap();
    assert_eq!(audit.discrepancies, 0, "{:?}", audit.listed);
    drop(store);

    // A store keeps its partition count.
    let text = engine::EXAMPLE_CATALOG;
    let cat = rating::Catalog::from_toml("example.toml", text).unwrap();
    let cfg = Config {
        partitions: 2,
        ..Config::default()
    };
    let err = Engine::open(&tmp.path().join("four"), cat, text.as_bytes(), cfg)
        .err()
        .expect("a store of 4 partitions refuses 2");
    assert!(err.to_string().contains("4 partitions"), "{err}");
}
