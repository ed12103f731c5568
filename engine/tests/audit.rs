//! `ratel audit` passes on what the engine writes and fails on a log that someone tampered with:
//! a charge changed, a charge copied, an entry removed. Replay names a changed charge.

use engine::audit::audit;
use engine::entry::Entry;
use engine::pipeline::{Config, Engine};
use engine::store::{log_key, Store};
use engine::workload::Workload;
use rating::codec::{decode_decision, encode_decision};
use rating::{Catalog, Outcome};
use std::path::Path;

/// Rates a month of a small generated workload, with duplicates and bad lines, into `data`.
fn rated_store(data: &Path, dir: &Path) {
    let file = dir.join("w.jsonl");
    Workload {
        accounts: 120,
        days: 31,
        seed: 11,
        duplicates: 0.02,
        bad: 0.01,
        ..Workload::default()
    }
    .write(&mut std::fs::File::create(&file).unwrap(), |_| {})
    .unwrap();
    let cat = Catalog::from_toml("example", engine::EXAMPLE_CATALOG).unwrap();
    let mut e = Engine::open(
        data,
        cat,
        engine::EXAMPLE_CATALOG.as_bytes(),
        Config {
            batch: 500,
            sync: false,
            ..Config::default()
        },
    )
    .unwrap();
    e.run_file(&file).unwrap();
}

/// Writes (or with `None` deletes) the log entry at `(p, seq)` in RocksDB directly, as an
/// intruder would. The store is opened as the engine opens it: a RocksDB opened without the
/// spending family's merge operator would stop its recovery at the first merge in the WAL and
/// lose the batches after it.
fn tamper(data: &Path, p: u32, seq: u64, entry: Option<Vec<u8>>) {
    let store = Store::open(data).unwrap();
    let db = store.db();
    let log = db.cf_handle("log").unwrap();
    match entry {
        Some(bytes) => db.put_cf(log, log_key(p, seq), bytes).unwrap(),
        None => db.delete_cf(log, log_key(p, seq)).unwrap(),
    }
}

/// The partition, sequence and entry of the first charge that moved money.
fn first_paid_charge(data: &Path) -> (u32, u64, Entry) {
    let store = Store::open(data).unwrap();
    let found = store
        .log()
        .map(Result::unwrap)
        .find(|(_, _, e)| match e {
            Entry::Rated { decision, .. } => matches!(&decode_decision(decision).unwrap().outcome, Outcome::Charged(c) if !c.money.is_zero()),
            _ => false,
        })
        .expect("a month of traffic has a paid charge");
    found
}

fn audit_of(data: &Path) -> engine::audit::AuditReport {
    audit(&Store::open(data).unwrap()).unwrap()
}

#[test]
fn the_engine_s_own_store_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    rated_store(&data, tmp.path());
    let r = audit_of(&data);
    assert!(r.ok(), "{:#?}", r.listed);
    assert!(r.decisions > 10_000 && r.dead > 0 && r.ticks > 0, "{r:?}");
    assert!(!r.payments.is_zero() && !r.charges.is_zero() && !r.fees.is_zero());
}

/// Takes a kopeck off the first paid charge in the log, and nothing else; returns its place,
/// its event id and the money it recorded.
/// The audit's totals line adds up on its face, and to the balances the store holds: payments
/// and promised money in, repayments, write-offs, charges, fees and transfers in flight out.
#[test]
fn the_totals_add_up_to_the_stored_balances() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    rated_store(&data, tmp.path());
    let r = audit_of(&data);
    assert!(r.ok(), "{:#?}", r.listed);
    let stored: rust_decimal::Decimal = Store::open(&data)
        .unwrap()
        .accounts()
        .map(|a| a.unwrap().balance)
        .sum();
    assert_eq!(r.balances, stored);
    assert_eq!(r.moved(), stored, "{}", r.totals_line());
    assert!(
        r.payments > rust_decimal::Decimal::ZERO && r.charges > rust_decimal::Decimal::ZERO,
        "{}",
        r.totals_line()
    );
    let line = r.totals_line();
    assert!(
        line.starts_with(&format!(
            "balances {stored} = payments {} + promised ",
            r.payments
        )),
        "{line}"
    );
}

fn a_kopeck_less(data: &Path) -> (u32, u64, String, rust_decimal::Decimal) {
    let (p, seq, entry) = first_paid_charge(data);
    let Entry::Rated {
        position,
        input,
        decision,
    } = entry
    else {
        unreachable!()
    };
    let mut d = decode_decision(&decision).unwrap();
    let Outcome::Charged(c) = &mut d.outcome else {
        unreachable!()
    };
    let was = c.money;
    c.money -= rust_decimal::Decimal::new(1, 2);
    let mut bytes = Vec::new();
    encode_decision(&d, &mut bytes);
    let mut out = Vec::new();
    Entry::Rated {
        position,
        input,
        decision: bytes,
    }
    .encode(&mut out);
    tamper(data, p, seq, Some(out));
    (p, seq, d.event.to_string(), was)
}

#[test]
fn a_changed_charge_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    rated_store(&data, tmp.path());
    let (p, seq, _, _) = a_kopeck_less(&data);
    let r = audit_of(&data);
    assert!(!r.ok());
    assert!(
        r.listed
            .iter()
            .any(|l| l.starts_with(&format!("{p}/{seq}: balance after"))),
        "{:#?}",
        r.listed
    );
}

#[test]
fn replay_names_a_changed_charge_with_its_event_and_both_decisions() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    rated_store(&data, tmp.path());
    let (p, seq, event, was) = a_kopeck_less(&data);
    let store = Store::open(&data).unwrap();
    let r = engine::replay::replay(&store, |_| {}).unwrap();
    assert!(!r.ok());
    let m = &r.mismatches[0];
    assert_eq!(
        (m.partition, m.seq, m.event.as_str()),
        (p, seq, event.as_str())
    );
    let less = was - rust_decimal::Decimal::new(1, 2);
    assert!(
        m.recorded.contains(&format!("money: {less}")),
        "{}",
        m.recorded
    );
    assert!(
        m.replayed.contains(&format!("money: {was}")),
        "{}",
        m.replayed
    );
    assert_eq!(
        r.mismatches.len(),
        1,
        "only the changed charge: {:#?}",
        r.mismatches
    );
    // The same with no account held between chunks: the stored state is then compared with
    // accounts read back from the scratch store.
    let limits = engine::replay::Limits {
        cache_mb: 0,
        scratch: Some(tmp.path().to_path_buf()),
    };
    let bare = engine::replay::replay_within(&store, &limits, |_| {}).unwrap();
    assert_eq!(bare.mismatches.len(), 1);
    assert_eq!(bare.state_differences, r.state_differences);
    assert_eq!(bare.accounts, r.accounts);
}

#[test]
fn a_copied_charge_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    rated_store(&data, tmp.path());
    let (p, _, entry) = first_paid_charge(&data);
    let mut out = Vec::new();
    entry.encode(&mut out);
    tamper(&data, p, u64::MAX - 1, Some(out));
    let r = audit_of(&data);
    assert!(
        r.listed.iter().any(|l| l.contains("took effect twice")),
        "{:#?}",
        r.listed
    );
}

#[test]
fn a_removed_entry_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    rated_store(&data, tmp.path());
    let (p, seq, _) = first_paid_charge(&data);
    tamper(&data, p, seq, None);
    let r = audit_of(&data);
    assert!(!r.ok());
    assert!(
        r.listed.iter().any(|l| l.contains("the counters say")),
        "{:#?}",
        r.listed
    );
}
