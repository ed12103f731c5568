//! A new catalog on a store: plans, options and packages keep their places, and nothing that
//! changes what stored balances and buckets mean (currency, decimals, time zone, a package's
//! unit or services) is taken silently; a deliberate migration is logged.

mod common;

use engine::entry::Entry;
use engine::pipeline::{Config, Engine};
use rating::Catalog;
use std::path::Path;

const OPENING: &str = r#"{"type":"open_account","id":"o1","account":"A1","time":"2026-11-01T09:00:00Z","numbers":[{"msisdn":"79001000001","plan":"SMART"}]}"#;

fn open(data: &Path, text: &str, migrate: bool) -> Result<Engine, engine::pipeline::EngineError> {
    let cat = Catalog::from_toml("catalog.toml", text).unwrap();
    let cfg = Config {
        migrate_catalog: migrate,
        ..Config::default()
    };
    Engine::open(data, cat, text.as_bytes(), cfg)
}

fn rated_store(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("store");
    let file = dir.join("in.jsonl");
    common::append(&file, &[OPENING]);
    let mut e = open(&data, engine::EXAMPLE_CATALOG, false).unwrap();
    e.run_file(&file).unwrap();
    data
}

#[test]
fn a_catalog_that_changes_what_stored_amounts_mean_is_refused_unless_migrated() {
    let example = engine::EXAMPLE_CATALOG;
    // (change, words the refusal names)
    let cases = [
        (
            example.replace(r#"currency = "RUB""#, r#"currency = "USD""#),
            "currency RUB → USD",
        ),
        (
            example.replace("decimals = 2\n", "decimals = 3\n"),
            "decimals 2 → 3",
        ),
        (
            example.replace(
                r#"timezone = "Europe/Moscow""#,
                r#"timezone = "Asia/Tokyo""#,
            ),
            "time zone Europe/Moscow → Asia/Tokyo",
        ),
        (
            example.replacen(
                "unit = \"seconds\"\namount = 18000\nservices = [\"voice\"]",
                "unit = \"bytes\"\namount = 18000\nservices = [\"data\"]",
                1,
            ),
            "package SMART_MINUTES",
        ),
    ];
    for (text, named) in cases {
        assert_ne!(text, example, "{named}: the change was made");
        let tmp = tempfile::tempdir().unwrap();
        let data = rated_store(tmp.path());
        let err = open(&data, &text, false).err().expect("a refusal");
        assert!(err.to_string().contains(named), "{named}: {err}");
        assert!(err.to_string().contains("--migrate-catalog"), "{err}");
        // Nothing was recorded by the refusal; the store still opens with its catalog.
        drop(open(&data, example, false).unwrap());
        // Asked for, the migration is recorded in the log with what it changed.
        let e = open(&data, &text, true).unwrap();
        let labels: Vec<String> = e
            .store
            .log()
            .filter_map(|r| match r.unwrap().2 {
                Entry::Catalog { label, .. } => Some(label),
                _ => None,
            })
            .collect();
        let last = labels.last().unwrap();
        assert!(
            last.contains("migrated from") && last.contains(named),
            "{last}"
        );
    }
}

#[test]
fn a_catalog_that_only_adds_or_reprices_opens_as_before() {
    let tmp = tempfile::tempdir().unwrap();
    let data = rated_store(tmp.path());
    let text = engine::EXAMPLE_CATALOG.replace(
        r#"fees = [{ period = "monthly", amount = "450.00" }]"#,
        r#"fees = [{ period = "monthly", amount = "470.00" }]"#,
    );
    let e = open(&data, &text, false).unwrap();
    let last = e
        .store
        .log()
        .filter_map(|r| match r.unwrap().2 {
            Entry::Catalog { label, .. } => Some(label),
            _ => None,
        })
        .last()
        .unwrap();
    assert!(!last.contains("migrated"), "{last}");
}
