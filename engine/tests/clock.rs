//! A partition's clock: only accepted inputs move it, an input too far ahead of it is
//! dead-lettered, and ticks never run ahead of what was accepted.

mod common;

use engine::entry::Entry;
use engine::pipeline::{Config, Engine};
use std::path::Path;

fn rate_lines(dir: &Path, lines: &[String]) -> Engine {
    rate_lines_with(dir, lines, Config::default())
}

/// Rates `lines` into a fresh store in `dir` with `cfg`; the store passes the audit.
fn rate_lines_with(dir: &Path, lines: &[String], cfg: Config) -> Engine {
    let mut e = common::postpaid_engine_with(&dir.join("store"), cfg);
    let file = dir.join("in.jsonl");
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    common::append(&file, &refs);
    e.run_file(&file).unwrap();
    let audit = engine::audit::audit(&e.store).unwrap();
    assert!(audit.ok(), "{:#?}", audit.listed);
    e
}

/// Two subscribers on a monthly plan over a few days of November, with calls and payments.
fn ordinary() -> Vec<String> {
    let mut v = vec![
        r#"{"type":"open_account","id":"o1","account":"A1","time":"2026-11-01T00:00:00Z","numbers":[{"msisdn":"79001000001","plan":"SMART"}]}"#.to_string(),
        r#"{"type":"open_account","id":"o2","account":"A2","time":"2026-11-01T00:00:00Z","numbers":[{"msisdn":"79001000002","plan":"DAILY"}]}"#.to_string(),
        r#"{"type":"payment","id":"p1","account":"A1","amount":"900.00","time":"2026-11-01T01:00:00Z"}"#.to_string(),
        r#"{"type":"payment","id":"p2","account":"A2","amount":"300.00","time":"2026-11-01T01:00:00Z"}"#.to_string(),
    ];
    for day in 2..=6 {
        for (n, m) in [(1, "79001000001"), (2, "79001000002")] {
            v.push(format!(
                r#"{{"type":"usage","id":"c{n}-{day}","msisdn":"{m}","service":"voice","other":"79161234567","start":"2026-11-0{day}T10:00:00Z","duration":600}}"#
            ));
        }
    }
    v.push(r#"{"type":"payment","id":"p3","account":"A1","amount":"50.00","time":"2026-11-06T12:00:00Z"}"#.into());
    v
}

/// The balances the ordinary inputs alone leave.
fn ordinary_balances() -> Vec<String> {
    balances(&rate_lines(
        tempfile::tempdir().unwrap().path(),
        &ordinary(),
    ))
}

fn balances(e: &Engine) -> Vec<String> {
    ["A1", "A2"]
        .iter()
        .map(|a| e.state.account(a).unwrap().balance.to_string())
        .collect()
}

fn dead_reasons(e: &Engine) -> Vec<String> {
    let mut v = Vec::new();
    for r in e.store.log() {
        if let (_, _, Entry::Dead { reason, .. }) = r.unwrap() {
            v.push(reason);
        }
    }
    v
}

#[test]
fn a_rejected_input_from_the_far_future_moves_no_clock() {
    let expected = ordinary_balances();

    // The issue's reproduction: a usage record for an unknown number dated 2099, among
    // ordinary inputs. It is refused (no account), and so moves nothing.
    let mut lines = ordinary();
    lines.insert(
        5,
        r#"{"type":"usage","id":"x1","msisdn":"1","service":"sms","other":"79161234567","start":"2099-06-01T10:00:00Z"}"#.into(),
    );
    let tmp = tempfile::tempdir().unwrap();
    let e = rate_lines(tmp.path(), &lines);
    assert_eq!(balances(&e), expected, "the far-future line changed money");
    let c = e.counters;
    assert_eq!((c.rejected, c.dead), (0, 1), "{c:?}");
    assert_eq!(
        c.ticks,
        rate_lines(tempfile::tempdir().unwrap().path(), &ordinary())
            .counters
            .ticks
    );
}

#[test]
fn an_input_too_far_ahead_of_its_partition_is_dead_lettered_with_its_reason() {
    let expected = ordinary_balances();

    // A known number's call and a payment, each dated years ahead: both would be accepted, and
    // tick every account to their date. They are dead-lettered, and the rest rates as before.
    let mut lines = ordinary();
    lines.insert(
        6,
        r#"{"type":"usage","id":"far-1","msisdn":"79001000001","service":"sms","other":"79161234567","start":"2099-06-01T10:00:00Z"}"#.into(),
    );
    lines.push(
        r#"{"type":"payment","id":"far-2","account":"A2","amount":"5.00","time":"2026-11-20T00:00:00Z"}"#.into(),
    );
    let tmp = tempfile::tempdir().unwrap();
    let e = rate_lines(tmp.path(), &lines);
    assert_eq!(balances(&e), expected);
    let dead = dead_reasons(&e);
    assert_eq!(dead.len(), 2, "{dead:?}");
    // Ahead of the clock, or (an outlier of its topic, found so by the merge) of the inputs
    // around it.
    assert!(
        dead.iter().all(|r| r.contains("604800 s ahead of the")),
        "{dead:?}"
    );
    assert_eq!(e.counters.rejected, 0);
}

#[test]
fn a_larger_bound_accepts_what_a_smaller_one_refuses() {
    let mut lines = ordinary();
    lines.push(r#"{"type":"payment","id":"later","account":"A1","amount":"1.00","time":"2026-11-20T00:00:00Z"}"#.into());
    let tmp = tempfile::tempdir().unwrap();
    let cfg = Config {
        max_ahead: 30 * 86_400,
        ..Config::default()
    };
    let e = rate_lines_with(tmp.path(), &lines, cfg);
    assert_eq!(e.counters.dead, 0);
    // The catch-up payment moved the clock 14 days: the daily plan paid each day's fee.
    let before = ordinary_balances();
    let after = balances(&e);
    let daily = |b: &str| b.parse::<rust_decimal::Decimal>().unwrap();
    assert_eq!(
        daily(&before[1]) - daily(&after[1]),
        rust_decimal::Decimal::new(21_000, 2)
    );
}

#[test]
fn a_refused_input_with_a_late_time_does_not_tick_anyone() {
    // Refused inputs dated a day ahead (an unknown account's payment, a repeat of a payment)
    // bring no ticks: the ticks of that day come with the first accepted input of it.
    let mut lines = ordinary();
    lines.push(r#"{"type":"payment","id":"nobody","account":"NOPE","amount":"1.00","time":"2026-11-07T09:00:00Z"}"#.into());
    lines.push(r#"{"type":"usage","id":"x2","msisdn":"1","service":"sms","other":"79161234567","start":"2026-11-09T10:00:00Z"}"#.into());
    lines.push(r#"{"type":"payment","id":"p3","account":"A1","amount":"50.00","time":"2026-11-07T09:00:00Z"}"#.into());
    let tmp = tempfile::tempdir().unwrap();
    let e = rate_lines(tmp.path(), &lines);
    let plain = tempfile::tempdir().unwrap();
    let base = rate_lines(plain.path(), &ordinary());
    assert_eq!(e.counters.ticks, base.counters.ticks, "a refusal ticked");
    assert_eq!(balances(&e), balances(&base));
}

#[test]
fn a_known_numbers_usage_years_ahead_is_dead_lettered_even_before_any_clock() {
    // The first usage line of a fresh store, dated 2099 and followed by ordinary usage: no
    // clock yet, but it stands out of its own topic, so the merge gives it at once and it is
    // dead-lettered, holding nothing back.
    let expected = ordinary_balances();
    let mut lines = ordinary();
    lines.insert(
        2,
        r#"{"type":"usage","id":"far-0","msisdn":"79001000001","service":"voice","other":"79161234567","start":"2099-06-01T10:00:00Z","duration":60}"#.into(),
    );
    let tmp = tempfile::tempdir().unwrap();
    let e = rate_lines(tmp.path(), &lines);
    assert_eq!(balances(&e), expected);
    let dead = dead_reasons(&e);
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        dead[0].contains("before and after it in its topic"),
        "{dead:?}"
    );
}

#[test]
fn a_sparse_topic_is_no_outlier() {
    // A payment days after the usage around it, and the next payment later still: it waits
    // its turn and is rated, not dead-lettered.
    let mut lines = ordinary();
    lines.push(r#"{"type":"payment","id":"late-1","account":"A1","amount":"1.00","time":"2026-11-12T00:00:00Z"}"#.into());
    lines.push(r#"{"type":"payment","id":"late-2","account":"A1","amount":"1.00","time":"2026-11-13T00:00:00Z"}"#.into());
    lines.push(r#"{"type":"usage","id":"u-7","msisdn":"79001000002","service":"voice","other":"79161234567","start":"2026-11-07T10:00:00Z","duration":60}"#.into());
    lines.push(r#"{"type":"usage","id":"u-11","msisdn":"79001000002","service":"voice","other":"79161234567","start":"2026-11-11T10:00:00Z","duration":60}"#.into());
    let tmp = tempfile::tempdir().unwrap();
    let e = rate_lines(tmp.path(), &lines);
    assert_eq!(e.counters.dead, 0, "{:?}", dead_reasons(&e));
    assert_eq!(e.counters.rejected, 0, "{:?}", e.counters);
}
