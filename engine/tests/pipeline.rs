//! The pipeline over a real RocksDB store: every line accounted for, duplicates charged once,
//! replay reproduces every decision, re-rating reports exactly what a price change moves.

mod common;

use engine::pipeline::{Config, Engine};
use engine::store::Store;
use engine::workload::Workload;
use rating::Catalog;
use rust_decimal::Decimal;
use std::io::{BufRead, Write};
use std::path::Path;

fn example() -> Catalog {
    Catalog::from_toml("example", engine::EXAMPLE_CATALOG).unwrap()
}

fn rate_file(data: &Path, cat_text: &str, file: &Path, batch: usize) -> Engine {
    let cat = Catalog::from_toml("catalog", cat_text).unwrap();
    let mut e = Engine::open(
        data,
        cat,
        cat_text.as_bytes(),
        Config {
            batch,
            sync: true,
            ..Config::default()
        },
    )
    .unwrap();
    e.run_file(file).unwrap();
    // Whatever a test does next, the store it got passes the independent audit.
    let audit = engine::audit::audit(&e.store).unwrap();
    assert!(audit.ok(), "{:#?}", audit.listed);
    e
}

fn workload(dir: &Path, w: Workload) -> (std::path::PathBuf, u64) {
    let p = dir.join("w.jsonl");
    let n = w
        .write(&mut std::fs::File::create(&p).unwrap(), |_| {})
        .unwrap();
    (p, n)
}

fn balances(data: &Path) -> Vec<String> {
    let store = Store::open(data).unwrap();
    let cat = example();
    store
        .accounts()
        .map(|a| serde_json::to_string(&engine::report::account_view(&cat, &a.unwrap())).unwrap())
        .collect()
}

#[test]
fn every_line_is_rated_rejected_or_dead_lettered_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let (file, lines) = workload(
        tmp.path(),
        Workload {
            accounts: 200,
            days: 5,
            seed: 3,
            duplicates: 0.02,
            bad: 0.02,
            ..Workload::default()
        },
    );
    // Add the hostile lines of the engine issue by hand, too.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    let extra = [
        "{\"type\":\"usage\",\"id\":\"x1\",\"msisdn\":\"79000000001\",\"service\":\"voice\",\"other\":\"79001234567\",\"start\":\"2026-11-06T10:00:00Z\",\"duration\":-1}",
        "{\"type\":\"usage\",\"id\":\"x2\",\"msisdn\":\"79900000001\",\"service\":\"voice\",\"other\":\"79001234567\",\"start\":\"2026-11-06T10:00:00Z\",\"duration\":10}",
        "{\"type\":\"payment\",\"id\":\"x3\",\"account\":\"ACC1\",\"amount\":\"1.001\",\"time\":\"2026-11-06T10:00:00Z\"}",
        "{\"type\":\"payment\",\"id\":\"x4\",\"account\":\"ACC1\",\"amount\":\"1.00\",\"time\":\"2150-01-01T00:00:00Z\"}",
        "{\"type\":\"usage\",\"id\":\"x5\",\"msisdn\":\"79000000001\",\"service\":\"sms\",\"other\":\"79001234567\",\"start\":\"1995-01-01T00:00:00Z\"}",
        "\u{1}\u{2}garbage",
    ];
    for l in extra {
        writeln!(f, "{l}").unwrap();
    }
    writeln!(f, "{}", "x".repeat(100_000)).unwrap();
    drop(f);
    let e = rate_file(&tmp.path().join("db"), engine::EXAMPLE_CATALOG, &file, 1000);
    let c = e.counters;
    assert_eq!(c.read, lines + extra.len() as u64 + 1);
    assert_eq!(
        c.read,
        c.rated + c.rejected + c.duplicates + c.dead,
        "{c:?}"
    );
    assert!(c.dead >= 5 && c.rejected >= 2 && c.duplicates > 0, "{c:?}");
    // Every dead letter carries its reason and where it was.
    let store = &e.store;
    let mut dead = Vec::new();
    for item in store.log() {
        if let (
            _,
            _,
            engine::entry::Entry::Dead {
                position,
                reason,
                raw,
                ..
            },
        ) = item.unwrap()
        {
            assert!(!reason.is_empty());
            dead.push((position, reason, raw.len()));
        }
    }
    assert_eq!(dead.len() as u64, c.dead);
    let reasons: Vec<&str> = dead.iter().map(|d| d.1.as_str()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("invalid value: integer `-1`")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("outside 2000-01-01")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("longer than 65536 bytes")),
        "{reasons:?}"
    );
    // The dead letter's position points at its line.
    let text = std::fs::read(&file).unwrap();
    for (position, _, _) in &dead {
        assert!(*position == 0 || text[*position as usize - 1] == b'\n');
    }
}

#[test]
fn every_line_twice_gives_the_balances_of_every_line_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (file, _) = workload(
        tmp.path(),
        Workload {
            accounts: 150,
            days: 10,
            seed: 5,
            duplicates: 0.0,
            bad: 0.0,
            ..Workload::default()
        },
    );
    let twice = tmp.path().join("twice.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&twice).unwrap());
    for line in std::io::BufReader::new(std::fs::File::open(&file).unwrap()).lines() {
        let line = line.unwrap();
        writeln!(out, "{line}\n{line}").unwrap();
    }
    drop(out);
    let once = rate_file(
        &tmp.path().join("once"),
        engine::EXAMPLE_CATALOG,
        &file,
        700,
    );
    let doubled = rate_file(
        &tmp.path().join("twice"),
        engine::EXAMPLE_CATALOG,
        &twice,
        700,
    );
    assert_eq!(doubled.counters.duplicates, once.counters.read);
    drop((once, doubled));
    assert_eq!(
        balances(&tmp.path().join("once")),
        balances(&tmp.path().join("twice"))
    );
}

#[test]
fn replay_reproduces_every_decision_and_the_state() {
    let tmp = tempfile::tempdir().unwrap();
    let (file, _) = workload(
        tmp.path(),
        Workload {
            accounts: 300,
            days: 35,
            seed: 9,
            ..Workload::default()
        },
    );
    let e = rate_file(&tmp.path().join("db"), engine::EXAMPLE_CATALOG, &file, 4096);
    let report = engine::replay::replay(&e.store, |_| {}).unwrap();
    assert!(
        report.ok(),
        "{:?} {:?}",
        report.mismatches.first(),
        report.state_differences
    );
    assert_eq!(
        report.decisions,
        e.counters.rated
            + e.counters.rejected
            + e.counters.duplicates
            + e.counters.ticks
            + e.counters.derived
    );
    assert!(
        e.counters.ticks > 0,
        "35 days with daily plans need ticks for idle accounts"
    );
}

#[test]
fn a_new_catalog_mid_stream_is_recorded_and_replay_uses_each_in_turn() {
    let tmp = tempfile::tempdir().unwrap();
    let (file, _) = workload(
        tmp.path(),
        Workload {
            accounts: 100,
            days: 4,
            seed: 11,
            ..Workload::default()
        },
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let half = text.len() / 2;
    let cut = half + text[half..].find('\n').unwrap() + 1;
    let (first, second) = (tmp.path().join("a.jsonl"), tmp.path().join("b.jsonl"));
    std::fs::write(&first, &text[..cut]).unwrap();
    std::fs::write(&second, &text).unwrap(); // the same file, grown: the position carries on
    let data = tmp.path().join("db");
    drop(rate_file(&data, engine::EXAMPLE_CATALOG, &first, 1000));
    let dearer = engine::EXAMPLE_CATALOG.replace(r#"price = "3.00""#, r#"price = "4.00""#);
    let e = rate_file(&data, &dearer, &second, 1000);
    let catalogs = e
        .store
        .log()
        .filter(|i| matches!(i.as_ref().unwrap().2, engine::entry::Entry::Catalog { .. }))
        .count();
    assert_eq!(catalogs, 2);
    let report = engine::replay::replay(&e.store, |_| {}).unwrap();
    assert!(report.ok(), "{:?}", report.mismatches.first());
}

#[test]
fn rerating_with_a_corrected_price_reports_each_changed_item() {
    let tmp = tempfile::tempdir().unwrap();
    let (file, _) = workload(
        tmp.path(),
        Workload {
            accounts: 200,
            days: 6,
            seed: 13,
            duplicates: 0.0,
            bad: 0.0,
            ..Workload::default()
        },
    );
    let e = rate_file(&tmp.path().join("db"), engine::EXAMPLE_CATALOG, &file, 2048);
    // National calls cost 3.00 a minute; the corrected catalog says 3.60.
    let corrected = Catalog::from_toml(
        "corrected",
        &engine::EXAMPLE_CATALOG.replace(r#"price = "3.00""#, r#"price = "3.60""#),
    )
    .unwrap();
    let from = rating::Timestamp::parse_rfc3339("2026-11-03T00:00:00Z").unwrap();
    let to = rating::Timestamp::parse_rfc3339("2026-11-05T00:00:00Z").unwrap();
    let r = engine::rerate::rerate(&e.store, &corrected, from, to).unwrap();
    assert!(!r.differences.is_empty());
    for d in &r.differences {
        assert_eq!(d.kind, "usage", "only the price of calls changed: {d:?}");
        assert!(
            d.time.as_str() >= "2026-11-03" && d.time.as_str() < "2026-11-05",
            "{}",
            d.time
        );
        // Money-paid national minutes go up by 0.60 each: the difference is a multiple of 0.60.
        assert!(
            d.difference > Decimal::ZERO && (d.difference / Decimal::new(60, 2)).fract().is_zero(),
            "{d:?}"
        );
    }
    let total: Decimal = r.differences.iter().map(|d| d.difference).sum();
    let by_account: Decimal = r.totals.values().map(|t| t.difference).sum();
    assert_eq!(total, by_account);
    assert_eq!(r.net, -total, "dearer calls take more from the balances");
    assert!(r
        .to_csv()
        .starts_with("account,msisdn,event,time,kind,old,new,difference\n"));
}

/// Every movement is compared, not usage alone: a doubled monthly fee, a bigger package and a
/// dearer detalization each show as their own kind, and nothing else differs.
#[test]
fn rerating_compares_fees_and_package_grants_too() {
    let tmp = tempfile::tempdir().unwrap();
    let (file, _) = workload(
        tmp.path(),
        Workload {
            accounts: 120,
            days: 40,
            seed: 21,
            duplicates: 0.0,
            bad: 0.0,
            ..Workload::default()
        },
    );
    // Post-paid: every fee is taken, the doubled ones too.
    let postpaid = common::postpaid();
    let e = rate_file(&tmp.path().join("db"), &postpaid, &file, 2048);
    let text = postpaid.as_str();
    // SMART's monthly fee, 450.00, doubled; its monthly minutes package, doubled.
    let doubled = text
        .replacen(
            r#"{ period = "monthly", amount = "450.00" }"#,
            r#"{ period = "monthly", amount = "900.00" }"#,
            1,
        )
        .replacen(
            "id = \"SMART_SMS\"\nunit = \"messages\"\namount = 100\n",
            "id = \"SMART_SMS\"\nunit = \"messages\"\namount = 200\n",
            1,
        );
    assert!(
        doubled.contains("900.00") && doubled.contains("messages\"\namount = 200\n"),
        "the example catalog's SMART fee and SMS package"
    );
    let new = Catalog::from_toml("doubled", &doubled).unwrap();
    let all = (
        rating::Timestamp(0),
        rating::Timestamp(rating::time::MAX_TIME),
    );
    let r = engine::rerate::rerate(&e.store, &new, all.0, all.1).unwrap();
    let kinds = r.by_kind();
    let monthly = kinds.get("monthly_fee").copied().unwrap_or_default();
    assert!(monthly.0 > 50 && monthly.1 > Decimal::ZERO, "{kinds:?}");
    // Every monthly fee that differs went from 450.00 to 900.00 (whole months; a change of
    // plan mid-month is prorated).
    let whole = r
        .differences
        .iter()
        .filter(|d| d.kind == "monthly_fee" && d.old == Decimal::new(45000, 2));
    assert!(whole.clone().count() > 50);
    assert!(whole.clone().all(|d| d.new == Decimal::new(90000, 2)));
    // Dearer months leave less money: usage paid from money may come out otherwise (a
    // number blocked sooner), but the net effect is the fees' at least in part.
    assert!(r.net < Decimal::ZERO, "{}", r.net);
    let by_account: Decimal = (r.totals.iter())
        .filter(|((_, kind), _)| kind == "monthly_fee")
        .map(|(_, t)| t.difference)
        .sum();
    assert_eq!(by_account, monthly.1);
    // SMART's SMS packages: every whole month's grant that differs is twice the recorded one;
    // a month joined part way is granted its share, rounded to a unit, of the doubled package.
    let sms: Vec<_> = r
        .differences
        .iter()
        .filter(|d| d.kind == "units:SMART_SMS")
        .collect();
    assert!(sms.len() > 50, "{kinds:?}");
    let whole: Vec<_> = sms.iter().filter(|d| d.old == Decimal::from(100)).collect();
    assert!(whole.len() > 50, "{} whole months", whole.len());
    assert!(
        whole.iter().all(|d| d.new == Decimal::from(200)),
        "{whole:?}"
    );
    let off =
        |d: &&&engine::rerate::Difference| (d.new - d.old * Decimal::TWO).abs() > Decimal::ONE;
    assert!(
        !sms.iter().any(|d| off(&d)),
        "{:?}",
        sms.iter().find(|d| off(d))
    );

    // The same catalog re-rates to no difference at all.
    let same = Catalog::from_toml("same", text).unwrap();
    let r = engine::rerate::rerate(&e.store, &same, all.0, all.1).unwrap();
    assert!(
        r.differences.is_empty() && r.totals.is_empty(),
        "{:?}",
        r.differences.first()
    );
    assert!(r.decisions_compared > 10_000);
}

/// `ratel rerate --apply`: the corrections it writes, rated into the store, bring every
/// account's balance to what the corrected catalog gives; the same re-rating applied twice adds
/// nothing; the corrections' money is the report's net effect; audit and replay still pass.
#[test]
fn rerating_applied_brings_the_balances_to_the_corrected_catalog() {
    let tmp = tempfile::tempdir().unwrap();
    let (file, _) = workload(
        tmp.path(),
        Workload {
            accounts: 80,
            days: 20,
            seed: 5,
            ..Workload::default()
        },
    );
    let text = engine::EXAMPLE_CATALOG;
    let dearer = text
        .replacen(
            r#"{ period = "monthly", amount = "450.00" }"#,
            r#"{ period = "monthly", amount = "520.00" }"#,
            1,
        )
        .replace(r#"price = "3.00""#, r#"price = "3.40""#)
        .replacen(
            "id = \"SMART_SMS\"\nunit = \"messages\"\namount = 100\n",
            "id = \"SMART_SMS\"\nunit = \"messages\"\namount = 150\n",
            1,
        )
        .replacen("amount = 10737418240\n", "amount = 5368709120\n", 1);
    assert!(
        dearer.contains("amount = 150") && dearer.contains("amount = 5368709120"),
        "the example catalog's SMART_SMS and SMART_DATA"
    );
    let (store, reference) = (tmp.path().join("store"), tmp.path().join("reference"));
    drop(rate_file(&store, text, &file, 700));
    drop(rate_file(&reference, &dearer, &file, 700));
    let new_catalog = tmp.path().join("dearer.toml");
    std::fs::write(&new_catalog, &dearer).unwrap();
    let in_force = tmp.path().join("example.toml");
    std::fs::write(&in_force, text).unwrap();
    let (s, n, r) = (
        store.to_str().unwrap(),
        new_catalog.to_str().unwrap(),
        tmp.path().join("r.csv"),
    );
    let apply = |name: &str| {
        let fixes = tmp.path().join(name);
        let said = common::ratel(&[
            "rerate",
            "--data",
            s,
            "--catalog",
            n,
            "--out",
            r.to_str().unwrap(),
            "--apply",
            fixes.to_str().unwrap(),
        ]);
        common::ratel(&[
            "run",
            "--catalog",
            in_force.to_str().unwrap(),
            "--data",
            s,
            "--source",
            &format!("file:{}", fixes.display()),
            "--complete",
        ]);
        (said, std::fs::read_to_string(&fixes).unwrap())
    };
    let (said, fixes) = apply("fixes.jsonl");
    let adjusted: Decimal = fixes
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "adjust")
        .map(|v| v["amount"].as_str().unwrap().parse::<Decimal>().unwrap())
        .sum();
    assert!(adjusted < Decimal::ZERO, "dearer: money taken out, {said}");
    assert!(
        said.contains(&format!("net effect on balances {adjusted}")),
        "{said}"
    );
    assert!(said.contains(&format!("({adjusted} net)")), "{said}");

    // Every account the corrections reached holds what the corrected catalog gives it.
    let money = |data: &Path| -> std::collections::BTreeMap<String, Decimal> {
        let (state, _) = Store::open_follower(data).unwrap().load_state().unwrap();
        state
            .accounts()
            .map(|a| (a.id.to_string(), a.balance))
            .collect()
    };
    let (now, wanted) = (money(&store), money(&reference));
    assert_eq!(now.len(), wanted.len());
    let differ: Vec<_> = now.iter().filter(|(a, b)| wanted[*a] != **b).collect();
    assert!(differ.is_empty(), "{differ:?}");
    // And every number the SMS the bigger package leaves it, through goodwill grants.
    let grants = fixes
        .lines()
        .filter(|l| l.contains(r#""type":"grant""#))
        .count();
    assert!(grants > 10, "{fixes}");
    let takes = fixes
        .lines()
        .filter(|l| l.contains(r#""type":"take""#))
        .count();
    assert!(
        takes > 10,
        "the smaller data package: units taken back {fixes}"
    );
    let units = |data: &Path, package: &str| -> std::collections::BTreeMap<String, u64> {
        let opened = Store::open_follower(data).unwrap();
        let (state, _) = opened.load_state().unwrap();
        let cat = Catalog::from_toml("c", text).unwrap();
        // The latest event time: both stores rated the same file, and the corrections' time.
        let at =
            rating::Timestamp(opened.meta_u64(engine::keys::WATERMARK).unwrap().unwrap() as i64);
        (state.accounts().flat_map(|a| &a.numbers))
            .map(|n| {
                let live = (n.buckets.iter())
                    .filter(|b| {
                        projections::view::package_name(&cat, b.package) == package
                            && b.valid_until > at
                    })
                    .map(|b| b.remaining)
                    .sum();
                (n.msisdn.to_string(), live)
            })
            .collect()
    };
    assert_eq!(units(&store, "SMART_SMS"), units(&reference, "SMART_SMS"));
    assert_eq!(units(&store, "SMART_DATA"), units(&reference, "SMART_DATA"));

    // The same re-rating again finds nothing left to correct; the first file fed again (under
    // another name) is all repeats.
    let before = Store::open_follower(&store).unwrap().counters().unwrap();
    let (said, again) = apply("fixes-again.jsonl");
    assert_eq!(again, "", "{said}");
    let copy = tmp.path().join("fixes-copy.jsonl");
    std::fs::write(&copy, &fixes).unwrap();
    common::ratel(&[
        "run",
        "--catalog",
        in_force.to_str().unwrap(),
        "--data",
        s,
        "--source",
        &format!("file:{}", copy.display()),
        "--complete",
    ]);
    let after = Store::open_follower(&store).unwrap().counters().unwrap();
    assert_eq!(
        (
            after.duplicates - before.duplicates,
            after.rated - before.rated
        ),
        (fixes.lines().count() as u64, 0)
    );
    assert_eq!(money(&store), now);
    assert_eq!(units(&store, "SMART_DATA"), units(&reference, "SMART_DATA"));
    let st = Store::open_follower(&store).unwrap();
    let audit = engine::audit::audit(&st).unwrap();
    assert!(audit.ok(), "{:#?}", audit.listed);
    let replayed = engine::replay::replay(&st, |_| {}).unwrap();
    assert!(replayed.ok(), "{:?}", replayed.mismatches.first());
}

#[test]
fn a_catalog_that_reorders_plans_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (file, _) = workload(
        tmp.path(),
        Workload {
            accounts: 20,
            days: 1,
            seed: 1,
            ..Workload::default()
        },
    );
    let data = tmp.path().join("db");
    drop(rate_file(&data, engine::EXAMPLE_CATALOG, &file, 1000));
    // Move the first plan (SMART) to the end.
    let text = engine::EXAMPLE_CATALOG;
    let (start, end) = (
        text.find("[[plans]]\nid = \"SMART\"").unwrap(),
        text.find("[[plans]]\nid = \"DAILY\"").unwrap(),
    );
    let options = text.find("# ---- Options").unwrap();
    let reordered = format!(
        "{}{}{}{}",
        &text[..start],
        &text[end..options],
        &text[start..end],
        &text[options..]
    );
    let cat = Catalog::from_toml("reordered", &reordered).unwrap();
    let err = Engine::open(&data, cat, reordered.as_bytes(), Config::default())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("plans"), "{err}");
}

/// The `seen` family's entries, in key order (stores made before records held their ids).
fn seen_entries(store: &Store) -> Vec<(Vec<u8>, Vec<u8>)> {
    let db = store.db();
    let cf = db.cf_handle(engine::store::CF_SEEN).unwrap();
    db.iterator_cf(cf, rocksdb::IteratorMode::Start)
        .map(|kv| {
            let (k, v) = kv.unwrap();
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

#[test]
fn ids_past_their_accounts_window_are_forgotten_and_those_held_come_back_from_the_records_and_the_tail(
) {
    let tmp = tempfile::tempdir().unwrap();
    let (file, _) = workload(
        tmp.path(),
        Workload {
            accounts: 60,
            days: 12,
            seed: 11,
            duplicates: 0.05,
            ..Workload::default()
        },
    );
    let data = tmp.path().join("data");
    let cat = example();
    let cfg = Config {
        window: Some(86_400),
        batch: 300,
        checkpoint: 1_000,
        ..Config::default()
    };
    let mut e = Engine::open(
        &data,
        cat.clone(),
        engine::EXAMPLE_CATALOG.as_bytes(),
        cfg.clone(),
    )
    .unwrap();
    e.run_file(&file).unwrap();
    let c = e.counters;
    let decided = c.rated + c.rejected + c.ticks + c.derived;
    let held = e.state.seen_count();
    // A day's window over twelve days: most ids are gone.
    assert!(
        (held as u64) < decided / 4,
        "{held} ids held of {decided} decided"
    );
    // Every id held is within a window and a quarter of its account's latest rated event.
    for a in e.state.accounts() {
        let r = e.state.recent(&a.id).unwrap();
        if let Some(h) = r.horizon(86_400) {
            assert!(r.ids().all(|(_, t)| t.0 >= h.0 - 86_400 / 4));
        }
    }
    assert!(seen_entries(&e.store).is_empty(), "ids live in the records");
    let (at, end) = checkpoint_and_end(&e.store);
    assert!(
        at > 0 && at < end,
        "a checkpoint and a tail after it: {at} of {end}"
    );
    // Replay decides everything again with the store's window, byte for byte.
    let report = engine::replay::replay(&e.store, |_| {}).unwrap();
    assert!(report.ok(), "{report:?}");
    let audit = engine::audit::audit(&e.store).unwrap();
    assert!(audit.ok(), "{:#?}", audit.listed);
    // A new process holds exactly the ids this one held: the checkpoint's records, then the
    // tail applied (to the accounts it changed, which the new process holds from its start).
    let live = e.state.clone();
    drop(e);
    let e = Engine::open(&data, cat, engine::EXAMPLE_CATALOG.as_bytes(), cfg).unwrap();
    assert!(
        e.state.len() < live.len(),
        "only the tail's accounts are read at the start"
    );
    let mut again = 0;
    for a in live.accounts() {
        let (account, recent) = e.account_with_ids(&a.id).unwrap().unwrap();
        assert_eq!(&account, a);
        assert_eq!(Some(&recent), live.recent(&a.id), "{}", a.id);
        again += recent.len();
    }
    assert_eq!(again, held);
    // The window is the store's: another one is refused with a clear error.
    drop(e);
    let err = Engine::open(
        &data,
        example(),
        engine::EXAMPLE_CATALOG.as_bytes(),
        Config {
            window: Some(7_200),
            ..Config::default()
        },
    )
    .err()
    .unwrap();
    assert!(
        err.to_string().contains("fixed when a store is made"),
        "{err}"
    );
}

/// A store made before account records held their ids kept each id under a key of its own in
/// the `seen` family (older still, keyed by the id alone with the place of its entry). Its first
/// open moves them into the records, with a checkpoint of every account, and an input rated
/// before the move and sent again after it is still a repeat.
#[test]
fn a_store_that_kept_its_ids_apart_moves_them_into_the_records_and_knows_every_repeat() {
    let tmp = tempfile::tempdir().unwrap();
    let (half, again) = sent_again(tmp.path(), 41);

    let old = tmp.path().join("old");
    run(&old, 1 << 20, &half);
    // Rewrite the store as the build before wrote it: account records of layout 3 (the
    // account alone) current at the log's end, and every id held in `seen`.
    let held = {
        let store = Store::open(&old).unwrap();
        let (state, _) = store.load_state().unwrap();
        let db = store.db();
        let (state_cf, seen_cf, meta) = (
            db.cf_handle(engine::store::CF_STATE).unwrap(),
            db.cf_handle(engine::store::CF_SEEN).unwrap(),
            db.cf_handle("meta").unwrap(),
        );
        let mut c = engine::store::Commit::default();
        for a in state.accounts() {
            let mut v = vec![3u8];
            v.extend(without_joining_times(a));
            c.batch.put_cf(state_cf, a.id.as_bytes(), v);
        }
        let mut n = 0;
        for item in store.log() {
            let (p, seq, entry) = item.unwrap();
            let engine::entry::Entry::Rated { decision, .. } = entry else {
                continue;
            };
            let d = rating::codec::decode_decision(&decision).unwrap();
            let Some((account, rated)) = rating::decision::remembered_by(&d) else {
                continue;
            };
            let digest = rating::recent::IdDigest::of(&d.event);
            let recent = state.recent(account).unwrap();
            if !recent.ids().any(|(x, _)| x == digest) && !recent.kept().contains(&digest) {
                continue;
            }
            n += 1;
            if n % 2 == 0 {
                store.put_seen_as_before(&mut c, account, &d.event, d.time, rated, (p, seq));
            } else {
                let mut at = p.to_be_bytes().to_vec();
                at.extend(seq.to_be_bytes());
                c.batch.put_cf(seen_cf, d.event.as_bytes(), at);
            }
        }
        assert_eq!(n, state.seen_count());
        let end = store.meta_u64("seq/0").unwrap().unwrap();
        c.batch.put_cf(meta, "checkpoint/0", end.to_le_bytes());
        store.commit(c, true).unwrap();
        n
    };
    {
        let store = Store::open(&old).unwrap();
        let (state, changed) = store.load_state().unwrap();
        assert_eq!(state.seen_count(), held);
        assert!(changed.is_empty());
        assert!(seen_entries(&store).is_empty(), "the family is emptied");
        let db = store.db();
        let state_cf = db.cf_handle(engine::store::CF_STATE).unwrap();
        for kv in db.iterator_cf(state_cf, rocksdb::IteratorMode::Start) {
            assert_eq!(
                kv.unwrap().1[0],
                rating::record::ACCOUNT_LAYOUT,
                "every record is rewritten with its ids"
            );
        }
        // Read again, the records give the same ids.
        let (again, _) = store.load_state().unwrap();
        for a in state.accounts() {
            assert_eq!(again.recent(&a.id), state.recent(&a.id), "{}", a.id);
        }
    }
    goes_on_as_one_never_changed(tmp.path(), &old, &again);
    let audit = engine::audit::audit(&Store::open(&old).unwrap()).unwrap();
    assert!(audit.ok(), "{:#?}", audit.listed);
}

/// A store whose records hold 128-bit digests of their ids (layout 4) is read as it is: the low
/// halves are today's digests, so an input rated before and sent again after is still a repeat,
/// and the next checkpoints write layout 5.
#[test]
fn a_store_whose_records_hold_128_bit_digests_knows_every_repeat() {
    #[derive(serde::Deserialize)]
    struct Now {
        ids: Vec<(u64, i64)>,
        latest: Option<i64>,
        oldest: i64,
        kept: Vec<u64>,
    }
    #[derive(serde::Serialize)]
    struct Before {
        ids: Vec<([u64; 2], i64)>,
        latest: Option<i64>,
        oldest: i64,
    }
    let tmp = tempfile::tempdir().unwrap();
    let (half, again) = sent_again(tmp.path(), 43);

    let old = tmp.path().join("old");
    run(&old, 1, &half);
    {
        let store = Store::open(&old).unwrap();
        let db = store.db();
        let cf = db.cf_handle(engine::store::CF_STATE).unwrap();
        let mut ids = 0;
        let records: Vec<_> = db
            .iterator_cf(cf, rocksdb::IteratorMode::Start)
            .map(|kv| kv.unwrap())
            .collect();
        for (k, v) in records {
            assert_eq!(v[0], rating::record::ACCOUNT_LAYOUT);
            let id = std::str::from_utf8(&k).unwrap();
            let (a, recent) = rating::record::decode_account(id, &v).unwrap();
            // The ids in the fixed-width form a layout-4 record held them in.
            let fixed = bincode::serialize(&recent.unwrap().record()).unwrap();
            let now: Now = bincode::deserialize(&fixed).unwrap();
            ids += now.ids.len() + now.kept.len();
            // Layout 4 held every id in the window: those held for ever today were held as of
            // the account's clock then.
            let clock = now.latest.unwrap_or(now.oldest);
            let window = now
                .ids
                .iter()
                .copied()
                .chain(now.kept.iter().map(|&d| (d, clock)));
            let before = Before {
                // The high half is not read: any value will do.
                ids: window.map(|(d, t)| ([d, !d], t)).collect(),
                latest: now.latest,
                oldest: now.oldest,
            };
            let mut v = vec![4u8];
            v.extend(without_joining_times(&a));
            bincode::serialize_into(&mut v, &before).unwrap();
            db.put_cf(cf, k, v).unwrap();
        }
        assert!(ids > 200, "{ids} ids held");
    }
    goes_on_as_one_never_changed(tmp.path(), &old, &again);
}

/// A generated workload of 80 accounts in `dir`: a file of its first half, and that file grown
/// to the whole workload followed by the second half of its first half, sent again.
fn sent_again(dir: &Path, seed: u64) -> (std::path::PathBuf, std::path::PathBuf) {
    let (file, half) = workload_and_half(
        dir,
        Workload {
            accounts: 80,
            days: 4,
            seed,
            ..Workload::default()
        },
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let first = std::fs::read_to_string(&half).unwrap();
    let lines: Vec<&str> = first.lines().collect();
    // The first half's file, grown: the same name, so that a store resumes it where it stopped.
    let grown = dir.join("grown");
    std::fs::create_dir_all(&grown).unwrap();
    let again = grown.join(half.file_name().unwrap());
    std::fs::write(&again, text + &lines[lines.len() / 2..].join("\n") + "\n").unwrap();
    (half, again)
}

/// Rates `again` (from [`sent_again`]) on into `old`, a store of its first half written another
/// way, and into a new store: the balances and counters are the same, and the lines sent again
/// are repeats.
fn goes_on_as_one_never_changed(dir: &Path, old: &Path, again: &Path) {
    run(old, 2_000, again);
    let every = dir.join("every");
    run(&every, 1, again);
    assert_eq!(balances(&every), balances(old));
    let (a, b) = (
        Store::open(&every).unwrap().counters().unwrap(),
        Store::open(old).unwrap().counters().unwrap(),
    );
    assert_eq!(a, b);
    // A fifth of the lines are sent again; at least half of those were rated the first time.
    let lines = std::fs::read_to_string(again).unwrap().lines().count() as u64;
    assert!(
        a.duplicates >= lines / 10,
        "the lines sent again are repeats: {a:?}"
    );
}

/// An account in the bytes records of layouts 3 to 6 held it: today's, without each number's
/// joining time and unpaid fees (its last two fields; the fees an empty list, 8 bytes of length).
fn without_joining_times(a: &rating::Account) -> Vec<u8> {
    let mut bytes = bincode::serialize(a).unwrap();
    for n in &a.numbers {
        assert!(n.unpaid.is_empty());
        let number = bincode::serialize(n).unwrap();
        let at = bytes
            .windows(number.len())
            .position(|w| w == number)
            .expect("a number's bytes are in its account's");
        let end = at + number.len();
        bytes.drain(end - 16..end);
    }
    bytes
}

/// Where partition 0's checkpoint is, and its log's end.
fn checkpoint_and_end(store: &Store) -> (u64, u64) {
    (
        store.meta_u64("checkpoint/0").unwrap().unwrap(),
        store.meta_u64("seq/0").unwrap().unwrap(),
    )
}

/// A generated workload in `dir`, and a file of its first half.
fn workload_and_half(dir: &Path, w: Workload) -> (std::path::PathBuf, std::path::PathBuf) {
    let (file, _) = workload(dir, w);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let half = dir.join("half.jsonl");
    std::fs::write(&half, lines[..lines.len() / 2].join("\n") + "\n").unwrap();
    (file, half)
}

/// Rates `file` into `data` in batches of 300, with `checkpoint` entries between checkpoints.
fn run(data: &Path, checkpoint: u64, file: &Path) {
    // Post-paid: the records of older layouts these runs are turned into hold no unpaid fees.
    let text = common::postpaid();
    let mut e = Engine::open(
        data,
        Catalog::from_toml("postpaid.toml", &text).unwrap(),
        text.as_bytes(),
        Config {
            batch: 300,
            sync: false,
            checkpoint,
            ..Config::default()
        },
    )
    .unwrap();
    e.run_file(file).unwrap();
}

/// Account records are written at checkpoints, not with every batch: a start, and every reader
/// of the store, apply the log's tail after the last checkpoint. Whatever the spacing, and with
/// a restart between checkpoints, the state is the one of a store that writes every changed
/// account with every batch; replay and the audit agree.
#[test]
fn checkpoints_and_the_log_s_tail_give_the_state_of_every_batch_written_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (file, half) = workload_and_half(
        tmp.path(),
        Workload {
            accounts: 150,
            days: 8,
            seed: 21,
            ..Workload::default()
        },
    );
    let every = tmp.path().join("every");
    run(&every, 1, &file);
    let sparse = tmp.path().join("sparse");
    run(&sparse, 2_500, &half); // the process ends between two checkpoints
    run(&sparse, 2_500, &file); // and a new one resumes from the record and the tail

    assert_eq!(balances(&every), balances(&sparse));
    let store = Store::open(&sparse).unwrap();
    let (at, end) = checkpoint_and_end(&store);
    assert!(
        at > 2_500 && at < end,
        "a checkpoint was made and a tail follows it: {at} of {end}"
    );
    let mut tail_accounts = 0;
    for a in store.accounts() {
        let a = a.unwrap();
        let one = store.account(&a.id).unwrap().unwrap();
        assert_eq!(
            one, a,
            "one account read alone is the account read with all"
        );
        tail_accounts += 1;
    }
    assert_eq!(tail_accounts, 150);
    let report = engine::replay::replay(&store, |_| {}).unwrap();
    assert!(report.ok(), "{:?}", report.state_differences);
    let audit = engine::audit::audit(&store).unwrap();
    assert!(audit.ok(), "{:#?}", audit.listed);
}

/// Replay compares each stored account record with the replayed state at the point of the log
/// where the record was written (its partition's checkpoint), in the same pass that re-rates
/// the log: a record changed behind the engine's back, or one missing, is reported.
#[test]
fn replay_finds_a_record_that_does_not_follow_from_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let (file, half) = workload_and_half(
        tmp.path(),
        Workload {
            accounts: 120,
            days: 8,
            seed: 23,
            ..Workload::default()
        },
    );
    let data = tmp.path().join("d");
    run(&data, 2_500, &half);
    run(&data, 2_500, &file);
    let store = Store::open(&data).unwrap();
    let clean = engine::replay::replay(&store, |_| {}).unwrap();
    assert!(clean.ok(), "{:?}", clean.state_differences);
    let (at, end) = checkpoint_and_end(&store);
    assert!(
        at > 0 && at < end,
        "records, and a tail after them: {at} of {end}"
    );

    let db = store.db();
    let cf = db.cf_handle(engine::store::CF_STATE).unwrap();
    let keys: Vec<Box<[u8]>> = db
        .iterator_cf(cf, rocksdb::IteratorMode::Start)
        .map(|kv| kv.unwrap().0)
        .collect();
    assert!(keys.len() > 100, "{} records", keys.len());
    // One record's balance a kopeck higher, another record gone.
    let v = db.get_cf(cf, &keys[7]).unwrap().unwrap();
    let id = std::str::from_utf8(&keys[7]).unwrap();
    let (mut a, ids) = rating::record::decode_account(id, &v).unwrap();
    a.balance += rust_decimal::Decimal::new(1, 2);
    let mut changed = Vec::new();
    rating::record::encode_account(&a, &ids.unwrap(), &mut changed);
    db.put_cf(cf, &keys[7], changed).unwrap();
    db.delete_cf(cf, &keys[11]).unwrap();

    // The account whose record went is named too; so with every account rebuilt held in
    // memory, and with none held (each waiting in the scratch store between chunks).
    let mut named = vec![
        a.id.to_string(),
        String::from_utf8(keys[11].to_vec()).unwrap(),
    ];
    named.sort();
    for cache_mb in [engine::pipeline::DEFAULT_CACHE_MB, 0] {
        let limits = engine::replay::Limits {
            cache_mb,
            scratch: Some(tmp.path().to_path_buf()),
        };
        let r = engine::replay::replay_within(&store, &limits, |_| {}).unwrap();
        assert!(r.mismatches.is_empty(), "{:?}", r.mismatches.first());
        let mut expected = named.clone();
        expected.push(format!(
            "partition 0: {} accounts stored, {} opened before its checkpoint",
            keys.len() - 1,
            keys.len()
        ));
        assert_eq!(r.state_differences, expected, "cache of {cache_mb} MB");
    }
    // An entry of a partition the store does not have is corruption, named, not a panic.
    let log = db.cf_handle(engine::store::CF_LOG).unwrap();
    let (_, entry) = db
        .iterator_cf(log, rocksdb::IteratorMode::Start)
        .nth(5)
        .unwrap()
        .unwrap();
    db.put_cf(log, engine::store::log_key(9, 0), entry).unwrap();
    let err = engine::replay::replay(&store, |_| {}).expect_err("a corrupt log");
    assert!(
        err.to_string()
            .contains("log entry 9/0 in a store of 1 partitions"),
        "{err}"
    );
}

/// A store made before checkpoints wrote every changed account with every batch and has no
/// `checkpoint/<p>`: its first open takes its records as current where its log ends, and the
/// runs after it make checkpoints like any other.
#[test]
fn a_store_made_before_checkpoints_is_read_as_current_and_goes_on_with_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let (file, half) = workload_and_half(
        tmp.path(),
        Workload {
            accounts: 100,
            days: 6,
            seed: 31,
            ..Workload::default()
        },
    );
    let old = tmp.path().join("old");
    run(&old, 1, &half); // every batch writes its accounts, as before checkpoints
    {
        // Opened as the engine opens it: a RocksDB opened without the spending family's merge
        // operator stops its recovery at the first merge and loses the batches after it.
        let store = Store::open(&old).unwrap();
        let db = store.db();
        let meta = db.cf_handle("meta").unwrap();
        assert!(db.get_cf(meta, "checkpoint/0").unwrap().is_some());
        db.delete_cf(meta, "checkpoint/0").unwrap();
    }
    run(&old, 2_000, &file);
    let every = tmp.path().join("every");
    run(&every, 1, &file);
    assert_eq!(balances(&every), balances(&old));
    let store = Store::open(&old).unwrap();
    assert!(store.meta_u64("checkpoint/0").unwrap().unwrap() > 0);
    let audit = engine::audit::audit(&store).unwrap();
    assert!(audit.ok(), "{:#?}", audit.listed);
}
