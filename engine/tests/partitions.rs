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
        (
            a.read,
            a.rated,
            a.rejected,
            a.duplicates,
            a.dead,
            a.ticks,
            a.derived
        ),
        (
            b.read,
            b.rated,
            b.rejected,
            b.duplicates,
            b.dead,
            b.ticks,
            b.derived
        )
    );
    assert!(a.ticks > 0 && a.rated > 1000, "{a:?}");
    assert!(
        a.derived > 0,
        "the workload's transfers were credited: {a:?}"
    );
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

/// A transfer's debit is in the sender's partition and its credit in the receiver's (or its
/// refund back in the sender's), committed in the same batch; a credit from outside is refused.
#[test]
fn a_transfer_crosses_partitions_through_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("t.jsonl");
    // Accounts whose keys land in different partitions of four.
    let accounts: Vec<String> = (0..40).map(|i| format!("T{i}")).collect();
    let part = |a: &str| engine::partition::Key::Account(a.into()).partition(4);
    let x = &accounts[0];
    let y = accounts.iter().find(|a| part(a) != part(x)).unwrap();
    common::append(
        &file,
        &[
            &format!(
                r#"{{"type":"open_account","id":"o1","account":"{x}","time":"2026-11-01T09:00:00Z","numbers":[{{"msisdn":"79001000001","plan":"BASIC"}}]}}"#
            ),
            &format!(
                r#"{{"type":"open_account","id":"o2","account":"{y}","time":"2026-11-01T09:00:00Z","numbers":[{{"msisdn":"79001000002","plan":"BASIC"}}]}}"#
            ),
            &format!(
                r#"{{"type":"payment","id":"p1","account":"{x}","amount":"100.00","time":"2026-11-01T09:01:00Z"}}"#
            ),
            r#"{"type":"transfer","id":"t1","from":"79001000001","to":"79001000002","amount":"40.00","time":"2026-11-01T10:00:00Z"}"#,
            r#"{"type":"transfer","id":"t2","from":"79001000001","to":"79009999999","amount":"20.00","time":"2026-11-01T10:01:00Z"}"#,
            r#"{"type":"transfer","id":"t1","from":"79001000001","to":"79001000002","amount":"40.00","time":"2026-11-01T10:00:00Z"}"#,
            &format!(
                r#"{{"type":"transfer_credit","id":"forged","transfer":"t9","from_account":"{x}","to":"79001000002","amount":"1000.00","time":"2026-11-01T11:00:00Z"}}"#
            ),
        ],
    );
    let e = rate(&file, &tmp.path().join("store"), 4);
    let balance = |a: &str| e.state.account(a).unwrap().balance.to_string();
    // 100 - (40 + 5) - (20 + 5) + 20 back.
    assert_eq!((balance(x), balance(y)), ("50.00".into(), "40.00".into()));
    let c = e.counters;
    assert_eq!(
        (c.read, c.dead, c.duplicates, c.derived),
        (7, 1, 1, 3),
        "{c:?}"
    );
    // Where each step was logged.
    let mut at = std::collections::BTreeMap::new();
    for item in e.store.log() {
        let (p, _, entry) = item.unwrap();
        if let engine::record::Entry::Rated { input, .. } = entry {
            let i = rating::codec::decode_input(&input).unwrap();
            at.insert(i.id().to_string(), p);
        }
    }
    assert_eq!(at["t1"], part(x));
    assert_eq!(at["t1:credit"], part(y));
    assert_eq!(at["t2:refund"], part(x));
    let r = engine::audit::audit(&e.store).unwrap();
    assert!(r.ok(), "{:?}", r.listed);
    assert_eq!(
        (r.transfers.to_string(), r.transfers_in_flight),
        ("60.00".into(), 0)
    );
}
