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
    // In event-time order: a file is read as the topics it would be produced to, each topic
    // in the file's order, so an unsorted file's lines of one account can meet in another
    // order when its topics' other lines are spread over more partitions (ARCHITECTURE.md,
    // "Order").
    let raw = tmp.path().join("raw.jsonl");
    w.write(&mut std::fs::File::create(&raw).unwrap(), |_| {})
        .unwrap();
    common::time_sorted(&raw, &file);
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
    let r = engine::replay::replay(&store, |_| {}).unwrap();
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
        if let engine::entry::Entry::Rated { input, .. } = entry {
            let i = rating::codec::decode_input(&input).unwrap();
            at.insert(i.id().to_string(), p);
        }
    }
    assert_eq!(at["t1"], part(x));
    let made = |step: &str, t: &str| rating::transfer::step_id(step, x, t).to_string();
    assert_eq!(at[&made("credit", "t1")], part(y));
    assert_eq!(at[&made("refund", "t2")], part(x));
    let r = engine::audit::audit(&e.store).unwrap();
    assert!(r.ok(), "{:?}", r.listed);
    assert_eq!(
        (r.transfers.to_string(), r.transfers_in_flight),
        ("60.00".into(), 0)
    );
}

/// In a consumer group an instance owns some partitions. A transfer whose credit belongs to a
/// partition another instance owns is dead-lettered with the reason, and nothing moves; once
/// the instance owns both partitions, the same transfer (not a duplicate: it was never rated)
/// goes through.
#[test]
fn a_transfer_to_a_partition_another_instance_owns_is_dead_lettered_not_credited_here() {
    let tmp = tempfile::tempdir().unwrap();
    let text = engine::EXAMPLE_CATALOG;
    let cat = rating::Catalog::from_toml("example.toml", text).unwrap();
    let cfg = Config {
        partitions: 4,
        ..Config::default()
    };
    let mut e = Engine::open(tmp.path(), cat, text.as_bytes(), cfg).unwrap();
    let accounts: Vec<String> = (0..40).map(|i| format!("T{i}")).collect();
    let part = |a: &str| engine::partition::Key::Account(a.into()).partition(4);
    let x = accounts[0].clone();
    let y = accounts
        .iter()
        .find(|a| part(a) != part(&x))
        .unwrap()
        .clone();
    let mut offset = 0u64;
    let mut batch = |e: &mut Engine, lines: &[(&str, &str, String)]| {
        let lines: Vec<engine::source::Line> = lines
            .iter()
            .map(|(topic, account, json)| {
                offset += 1;
                engine::source::Line {
                    topic: Some(std::sync::Arc::from(*topic)),
                    partition: part(account),
                    position: offset,
                    at: offset - 1,
                    bytes: json.clone().into_bytes(),
                    oversized: false,
                    far_ahead: false,
                    file: None,
                }
            })
            .collect();
        let c = e.prepare(&lines).unwrap();
        e.commit(c).unwrap();
    };
    let transfer = r#"{"type":"transfer","id":"t1","from":"79001000001","to":"79001000002","amount":"40.00","time":"2026-11-01T10:00:00Z"}"#;
    // Owning every partition: the accounts open and x is paid.
    e.own(Some(&[0, 1, 2, 3]));
    batch(
        &mut e,
        &[
            (
                "ratel.commands",
                &x,
                format!(
                    r#"{{"type":"open_account","id":"o1","account":"{x}","time":"2026-11-01T09:00:00Z","numbers":[{{"msisdn":"79001000001","plan":"BASIC"}}]}}"#
                ),
            ),
            (
                "ratel.commands",
                &y,
                format!(
                    r#"{{"type":"open_account","id":"o2","account":"{y}","time":"2026-11-01T09:00:00Z","numbers":[{{"msisdn":"79001000002","plan":"BASIC"}}]}}"#
                ),
            ),
            (
                "ratel.payments",
                &x,
                format!(
                    r#"{{"type":"payment","id":"p1","account":"{x}","amount":"100.00","time":"2026-11-01T09:01:00Z"}}"#
                ),
            ),
        ],
    );
    // The group gives y's partition to another instance.
    e.own(Some(&[part(&x)]));
    let y_log = e.seq(part(&y));
    batch(&mut e, &[("ratel.payments", &x, transfer.to_string())]);
    let balance = |e: &Engine, a: &str| e.state.account(a).unwrap().balance.to_string();
    assert_eq!(
        (balance(&e, &x), balance(&e, &y)),
        ("100.00".into(), "0".into())
    );
    assert_eq!(
        e.seq(part(&y)),
        y_log,
        "nothing was written to y's partition"
    );
    assert_eq!(
        (e.counters.dead, e.counters.derived),
        (1, 0),
        "{:?}",
        e.counters
    );
    let dead: Vec<String> = e
        .store
        .log()
        .filter_map(|item| match item.unwrap() {
            (p, _, engine::entry::Entry::Dead { reason, raw, .. }) => {
                assert_eq!(p, part(&x));
                assert_eq!(raw, transfer.as_bytes());
                Some(reason)
            }
            _ => None,
        })
        .collect();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].contains(&format!("partition {}", part(&y)))
            && dead[0].contains("another instance"),
        "{}",
        dead[0]
    );
    // Given y's partition back, the transfer, sent again, is rated: debit and credit.
    e.own(Some(&[part(&x), part(&y)]));
    batch(&mut e, &[("ratel.payments", &x, transfer.to_string())]);
    assert_eq!(
        (balance(&e, &x), balance(&e, &y)),
        ("55.00".into(), "40.00".into())
    );
    assert_eq!(
        (e.counters.dead, e.counters.derived),
        (1, 1),
        "{:?}",
        e.counters
    );
    let r = engine::audit::audit(&e.store).unwrap();
    assert!(r.ok(), "{:?}", r.listed);
}

/// From Kafka, an input keyed by an account must come on that account's partition, an opening
/// too: an account opened on another partition would live apart from its later traffic.
#[test]
fn an_opening_on_the_wrong_kafka_partition_is_dead_lettered() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = Config {
        partitions: 3,
        ..Config::default()
    };
    let mut e = common::example_engine_with(&tmp.path().join("store"), cfg);
    let home = engine::partition::Key::Account("A1".into()).partition(3);
    let topic: std::sync::Arc<str> = "ratel.commands".into();
    let line = |partition: u32, offset: u64| {
        engine::source::Line {
        topic: Some(topic.clone()),
        partition,
        position: offset + 1,
        at: offset,
        bytes: br#"{"type":"open_account","id":"o1","account":"A1","time":"2026-11-01T09:00:00Z","numbers":[{"msisdn":"79001000001","plan":"BASIC"}]}"#.to_vec(),
        oversized: false,
        far_ahead: false,
        file: None,
    }
    };
    e.process(&[line((home + 1) % 3, 0)]).unwrap();
    assert!(
        e.state.account("A1").is_none(),
        "opened on another partition"
    );
    assert_eq!(e.counters.dead, 1);
    let reason = e
        .store
        .log()
        .find_map(|r| match r.unwrap().2 {
            engine::entry::Entry::Dead { reason, .. } => Some(reason),
            _ => None,
        })
        .unwrap();
    assert!(reason.contains("mis-keyed"), "{reason}");
    e.process(&[line(home, 0)]).unwrap();
    assert!(e.state.account("A1").is_some());
}

/// A file is read as the topics it would be produced to: the same lines with each topic's
/// lines in the same order, however the topics interleave in the file, give the same log.
#[test]
fn a_file_is_read_as_its_topics_whatever_their_interleaving() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw.jsonl");
    Workload {
        accounts: 120,
        days: 10,
        seed: 5,
        ..Workload::default()
    }
    .write(&mut std::fs::File::create(&raw).unwrap(), |_| {})
    .unwrap();
    // The same lines, topic by topic: commands, then payments, then usage (and what is no
    // input, which goes with usage), each in the file's order.
    let text = std::fs::read_to_string(&raw).unwrap();
    let rank = |line: &str| match rating::codec::parse_json(line.as_bytes()) {
        Ok(i) => engine::kafka::Topics::rank_of(&i),
        Err(_) => 2,
    };
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_by_key(|l| rank(l));
    let grouped = tmp.path().join("grouped.jsonl");
    std::fs::write(&grouped, lines.join("\n") + "\n").unwrap();

    let one = rate(&raw, &tmp.path().join("raw-store"), 1);
    let two = rate(&grouped, &tmp.path().join("grouped-store"), 1);
    let decisions = |e: &Engine| -> Vec<Vec<u8>> {
        e.store
            .log()
            .filter_map(|r| match r.unwrap().2 {
                engine::entry::Entry::Rated { decision, .. } => Some(decision),
                _ => None,
            })
            .collect()
    };
    assert_eq!(one.counters, two.counters);
    assert!(decisions(&one) == decisions(&two), "the logs differ");
    assert!(one.counters.rated > 1000, "{:?}", one.counters);
}

/// An instance given some of the partitions writes nothing into the others, even right after
/// it opens a store whose log (written when it owned them all) has accounts opened in them
/// since the last checkpoint: those decisions' holders were written with them, and their
/// records are the owner's to checkpoint, as are the partitions' marks. A write there
/// would be a second history of a partition another instance owns, and the changelog's
/// restore would stop at it.
#[test]
fn an_instance_writes_nothing_into_the_partitions_it_does_not_own() {
    let tmp = tempfile::tempdir().unwrap();
    let text = engine::EXAMPLE_CATALOG;
    let open = |checkpoint: u64| {
        let cat = rating::Catalog::from_toml("example.toml", text).unwrap();
        let cfg = Config {
            partitions: 2,
            checkpoint,
            ..Config::default()
        };
        let mut e = Engine::open(tmp.path(), cat, text.as_bytes(), cfg).unwrap();
        e.mark_partitions();
        e
    };
    let line = |position: u64, account: &str, number: u64| {
        engine::source::Line {
        topic: None,
        partition: 0,
        position,
        at: position - 1,
        bytes: format!(
            r#"{{"type":"open_account","id":"o-{account}","account":"{account}","time":"2026-11-01T09:00:00Z","numbers":[{{"msisdn":"{number}","plan":"BASIC"}}]}}"#
        )
        .into_bytes(),
        oversized: false,
        far_ahead: false,
        file: None,
    }
    };
    let part = |a: &str| engine::partition::Key::Account(a.into()).partition(2);
    let accounts: Vec<String> = (0..20).map(|i| format!("P{i}")).collect();
    let mine = accounts.iter().find(|a| part(a) == 0).unwrap();
    let theirs: Vec<&String> = accounts.iter().filter(|a| part(a) == 1).collect();
    let mut e = open(1 << 20);
    let lines: Vec<_> = (theirs.iter().enumerate())
        .map(|(i, a)| line(i as u64 + 1, a, 79_003_000_000 + i as u64))
        .collect();
    let c = e.prepare(&lines).unwrap();
    e.commit(c).unwrap();
    drop(e);
    // Opened again, the second time checkpointing with every batch.
    for checkpoint in [1 << 20, 1] {
        let mut e = open(checkpoint);
        e.own(Some(&[0]));
        let c = e.prepare(&[line(100, mine, 79_003_999_999)]).unwrap();
        let shared: Vec<u32> = c.shares().iter().map(|(p, _)| *p).collect();
        assert_eq!(shared, vec![0], "a batch of partition 0 writes only there");
    }
}
