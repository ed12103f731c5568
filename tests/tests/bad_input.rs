//! The bad-input corpus: every hostile line a mediation system or an attacker could put in a
//! source, with the outcome ratel must give it. Each line is rated, rejected with its reason, or
//! dead-lettered with its reason and position; none panics, none is lost, and the counts add up.

use engine::entry::Entry;
use engine::pipeline::{Config, Engine};
use rating::codec::decode_decision;
use rating::{Catalog, Outcome};

/// What a line must become.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Rated,
    /// Rejected by the rating core, the reason containing this text.
    Rejected(&'static str),
    /// Dead-lettered by the engine, the reason containing this text.
    Dead(&'static str),
    Duplicate,
    /// A blank line carries no event: it is passed over (its bytes still advance the position),
    /// neither read nor logged.
    Blank,
}
use Expect::*;

fn usage(fields: &str) -> String {
    format!(
        r#"{{"type":"usage","msisdn":"79001234567","service":"voice","other":"79161234567",{fields}}}"#
    )
}

fn corpus() -> Vec<(&'static str, Vec<u8>, Expect)> {
    let t = r#""start":"2026-11-25T10:00:00Z""#;
    let s = |x: String| x.into_bytes();
    vec![
        ("the account the corpus charges", s(r#"{"type":"open_account","id":"open","account":"A1","time":"2026-11-24T00:00:00Z","credit_limit":"0","numbers":[{"msisdn":"79001234567","plan":"BASIC"}]}"#.into()), Rated),
        ("a good call", s(usage(&format!(r#""id":"ok-1",{t},"duration":60"#))), Rated),
        ("truncated JSON", s(usage(&format!(r#""id":"cut",{t},"duration":60"#))[..60].to_string()), Dead("EOF while parsing")),
        ("empty line", vec![], Blank),
        ("whitespace only", s(" \t ".into()), Blank),
        ("not JSON at all", s("CDR|79001234567|60".into()), Dead("expected value")),
        ("a JSON array", s("[1,2,3]".into()), Dead("invalid type")),
        ("oversized line", s(usage(&format!(r#""id":"big",{t},"duration":60,"pad":"{}""#, "x".repeat(70_000)))), Dead("longer than")),
        ("duration as a string", s(usage(&format!(r#""id":"wt-1",{t},"duration":"60""#))), Dead("expected u64")),
        ("msisdn as a number", s(format!(r#"{{"type":"usage","id":"wt-2","msisdn":79001234567,"service":"voice",{t},"duration":60}}"#)), Dead("expected a string")),
        ("missing id", s(usage(&format!(r#"{t},"duration":60"#))), Dead("missing field `id`")),
        ("missing start", s(usage(r#""id":"ms-1","duration":60"#)), Dead("missing field `start`")),
        ("unknown type", s(r#"{"type":"rebate","id":"u-1"}"#.into()), Dead("unknown variant `rebate`")),
        ("unknown service", s(format!(r#"{{"type":"usage","id":"us-1","msisdn":"79001234567","service":"fax",{t}}}"#)), Dead("unknown variant `fax`")),
        ("unknown field", s(usage(&format!(r#""id":"uf-1",{t},"duration":60,"colour":"red""#))), Dead("unknown field `colour`")),
        ("NaN amount", s(r#"{"type":"payment","id":"nan","account":"A1","amount":"NaN","time":"2026-11-25T10:00:00Z"}"#.into()), Dead("not a plain decimal")),
        ("amount as a float", s(r#"{"type":"payment","id":"flt","account":"A1","amount":10.5,"time":"2026-11-25T10:00:00Z"}"#.into()), Dead("floating point")),
        ("exponent in an amount", s(r#"{"type":"payment","id":"exp","account":"A1","amount":"1e3","time":"2026-11-25T10:00:00Z"}"#.into()), Dead("not a plain decimal")),
        ("more decimals than the currency", s(r#"{"type":"payment","id":"dec","account":"A1","amount":"10.001","time":"2026-11-25T10:00:00Z"}"#.into()), Rejected("more decimals")),
        ("an absurd amount", s(r#"{"type":"payment","id":"huge-pay","account":"A1","amount":"100000000000000","time":"2026-11-25T10:00:00Z"}"#.into()), Dead("limit")),
        ("a good payment", s(r#"{"type":"payment","id":"pay","account":"A1","amount":"100.00","time":"2026-11-25T10:00:00Z"}"#.into()), Rated),
        ("negative duration", s(usage(&format!(r#""id":"neg",{t},"duration":-60"#))), Dead("integer `-60`")),
        ("huge duration", s(usage(&format!(r#""id":"huge",{t},"duration":18446744073709551615"#))), Rejected("above the limit")),
        ("huge data volume", s(format!(r#"{{"type":"usage","id":"huge-data","msisdn":"79001234567","service":"data",{t},"bytes":18446744073709551615}}"#)), Rejected("above the limit")),
        ("negative data volume", s(format!(r#"{{"type":"usage","id":"neg-data","msisdn":"79001234567","service":"data",{t},"bytes":-1}}"#)), Dead("integer `-1`")),
        ("timestamp before 1970", s(usage(r#""id":"old","start":"1969-12-31T23:59:59Z","duration":60"#)), Dead("1970")),
        ("timestamp after 9999", s(usage(r#""id":"future","start":"10000-01-01T00:00:00Z","duration":60"#)), Dead("not RFC 3339")),
        ("timestamp far outside the workload", s(usage(r#""id":"far","start":"2150-01-01T00:00:00Z","duration":60"#)), Dead("outside")),
        ("timestamp that is no time", s(usage(r#""id":"bad-t","start":"yesterday","duration":60"#)), Dead("RFC 3339")),
        ("unknown number", s(format!(r#"{{"type":"usage","id":"un-1","msisdn":"79990000000","service":"voice","other":"79161234567",{t},"duration":60}}"#)), Rejected("unknown number")),
        ("malformed number", s(format!(r#"{{"type":"usage","id":"mn-1","msisdn":"+7-900-123","service":"voice",{t},"duration":60}}"#)), Dead("is not an MSISDN")),
        ("other party that is no number", s(usage(&format!(r#""id":"ud-1",{t},"duration":60,"other":"*#06#""#)).replace(r#""other":"79161234567","#, "")), Rejected("is not a number")),
        ("unknown destination", s(usage(&format!(r#""id":"ud-2",{t},"duration":60,"other":"999000""#)).replace(r#""other":"79161234567","#, "")), Rejected("999000")),
        ("unknown plan", s(r#"{"type":"open_account","id":"open-2","account":"A2","time":"2026-11-24T00:00:00Z","credit_limit":"0","numbers":[{"msisdn":"79001234599","plan":"GOLD"}]}"#.into()), Rejected("unknown plan")),
        ("unknown account", s(r#"{"type":"payment","id":"pay-x","account":"NOPE","amount":"1.00","time":"2026-11-25T10:00:00Z"}"#.into()), Rejected("unknown account")),
        ("a repeat of a good call", s(usage(&format!(r#""id":"ok-1",{t},"duration":60"#))), Duplicate),
        ("the same id with different content", s(usage(&format!(r#""id":"ok-1",{t},"duration":3600"#))), Duplicate),
        ("a time years ahead of the clock", s(usage(r#""id":"ahead","start":"2099-06-01T10:00:00Z","duration":60"#)), Dead("s ahead of the")),
        ("an id in the engine's own namespace", s(r#"{"type":"payment","id":"ratel:credit:2:A1:t7","account":"A1","amount":"1.00","time":"2026-11-25T10:00:00Z"}"#.into()), Dead("made by the engine")),
        ("a tick with an id the engine would make", s(r#"{"type":"tick","id":"ratel:tick:20261126:A1","account":"A1","time":"2026-11-25T10:00:00Z"}"#.into()), Dead("made by the engine")),
        ("zeros beyond the currency's decimals", s(r#"{"type":"payment","id":"zeros","account":"A1","amount":"100.000000","time":"2026-11-25T10:00:00Z"}"#.into()), Rejected("more decimals")),
        ("a fraction of a second", s(usage(r#""id":"frac","start":"2026-11-25T10:00:00.5Z","duration":60"#)), Dead("fraction of a second")),
        ("an account id of digits", s(r#"{"type":"open_account","id":"open-3","account":"79005550001","time":"2026-11-25T00:00:00Z","numbers":[{"msisdn":"79001234598","plan":"BASIC"}]}"#.into()), Dead("digits alone")),
        ("an account id naming a group", s(r#"{"type":"open_account","id":"open-4","account":"ACME/sales","time":"2026-11-25T00:00:00Z","numbers":[{"msisdn":"79001234597","plan":"BASIC"}]}"#.into()), Dead("names a group")),
        ("a payment naming an account and another's number", s(r#"{"type":"payment","id":"pay-y","account":"A1","msisdn":"79990000000","amount":"1.00","time":"2026-11-25T10:00:00Z"}"#.into()), Rejected("not that account's")),
        ("usage before its number joined", s(usage(r#""id":"before","start":"2026-11-23T12:00:00Z","duration":60"#)), Rejected("before the number joined")),
        ("usage on the joining day, before the second it joined", s(usage(r#""id":"before-second","start":"2026-11-23T22:00:00Z","duration":60"#)), Rejected("before the number joined its account at")),
        ("invalid UTF-8", b"{\"type\":\"usage\",\"id\":\"\xff\xfe\"}".to_vec(), Dead("UTF-8")),
        ("a NUL byte", b"{\"type\":\"usage\",\0}".to_vec(), Dead("key must be a string")),
    ]
}

#[test]
fn every_bad_line_gets_its_outcome_and_nothing_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = corpus();
    let file = tmp.path().join("bad.jsonl");
    // The file is read as the topics it would be produced to, merged by event time
    // (ARCHITECTURE.md, "Order"): each log entry is matched to its line by where the line
    // starts (a dead letter) or ends (a decision).
    let mut bytes = Vec::new();
    let mut starts = std::collections::HashMap::new();
    let mut ends = std::collections::HashMap::new();
    let mut lines = 0;
    for (_, line, want) in &corpus {
        let start = bytes.len() as u64;
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
        if *want != Blank {
            starts.insert(start, lines);
            ends.insert(bytes.len() as u64, lines);
            lines += 1;
        }
    }
    std::fs::write(&file, &bytes).unwrap();

    let cat = Catalog::from_toml("example", engine::EXAMPLE_CATALOG).unwrap();
    let mut e = Engine::open(
        &tmp.path().join("db"),
        cat,
        engine::EXAMPLE_CATALOG.as_bytes(),
        Config {
            batch: 7,
            sync: true,
            ..Config::default()
        },
    )
    .unwrap();
    e.run_file(&file).unwrap();

    // The log without the catalog record and the engine's own ticks, by line.
    let mut got: Vec<Option<(bool, String)>> = vec![None; lines];
    for item in e.store.log() {
        let (_, _, entry) = item.unwrap();
        let (line, what) = match entry {
            Entry::Catalog { .. } => continue,
            Entry::Dead {
                reason, position, ..
            } => {
                // A dead letter says where its line starts in the source.
                let line = starts.get(&position).copied();
                (
                    line.unwrap_or_else(|| panic!("{position}: {reason}")),
                    (false, reason),
                )
            }
            Entry::Rated {
                input,
                decision,
                position,
            } => {
                if rating::codec::decode_input(&input)
                    .is_ok_and(|i| matches!(i, rating::Input::Tick(_)))
                {
                    continue;
                }
                let d = decode_decision(&decision).unwrap();
                let what = match d.outcome {
                    Outcome::Rejected(r) => format!("rejected: {r}"),
                    Outcome::Duplicate => "duplicate".into(),
                    _ => "rated".into(),
                };
                (ends[&position], (true, what))
            }
        };
        assert!(
            got[line].replace(what).is_none(),
            "line {line} decided twice"
        );
    }
    let got: Vec<(bool, String)> = got
        .into_iter()
        .enumerate()
        .map(|(i, g)| g.unwrap_or_else(|| panic!("line {i} is not in the log")))
        .collect();
    let events: Vec<_> = corpus.iter().filter(|(_, _, x)| *x != Blank).collect();
    assert_eq!(
        got.len(),
        events.len(),
        "one log entry per line: nothing lost, nothing added"
    );
    let mut wrong = Vec::new();
    for ((name, _, want), (decided, what)) in events.iter().zip(&got) {
        let ok = match want {
            Rated => *decided && what == "rated",
            Duplicate => *decided && what == "duplicate",
            Rejected(r) => *decided && what.starts_with("rejected: ") && what.contains(r),
            Dead(r) => !decided && what.contains(r),
            Blank => unreachable!("filtered above"),
        };
        if !ok {
            wrong.push(format!(
                "{name}: want {want:?}, got {} {what:?}",
                if *decided { "decided" } else { "dead" }
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    let c = e.store.counters().unwrap();
    assert_eq!(c.read, events.len() as u64);
    assert_eq!(
        c.read,
        c.rated + c.rejected + c.duplicates + c.dead,
        "{c:?}"
    );
    let count = |f: fn(&Expect) -> bool| corpus.iter().filter(|(_, _, x)| f(x)).count() as u64;
    assert_eq!(c.dead, count(|x| matches!(x, Dead(_))));
    assert_eq!(c.rejected, count(|x| matches!(x, Rejected(_))));
    assert_eq!(c.duplicates, count(|x| matches!(x, Duplicate)));
    // The one good call was charged once, whatever its repeats said.
    let a = e.store.account("A1").unwrap().unwrap();
    let audit = engine::audit::audit(&e.store).unwrap();
    assert!(audit.ok(), "{:#?}", audit.listed);
    assert_eq!(audit.payments, rust_decimal::Decimal::new(10_000, 2));
    assert_eq!(a.balance, audit.payments - audit.charges - audit.fees);
}
