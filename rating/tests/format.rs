//! The binary log format holds still: records written by earlier builds of layout version 1
//! decode, re-encode to the same bytes, and the same inputs rate to the same decision bytes.
//! `fixtures/records-v1.txt` was written by the build that introduced each record; a line is
//! `kind input-hex decision-hex`. New kinds are appended (RATEL_BLESS=1 rewrites the file:
//! only ever to add lines at its end).

use rating::codec::{decode_decision, decode_input, encode_decision, encode_input, parse_json};
use rating::*;

const SCRIPT: &[&str] = &[
    r#"{"type":"open_account","id":"o1","account":"A1","time":"2026-11-01T09:00:00Z","credit_limit":"50.00","numbers":[{"msisdn":"79001000001","plan":"SMART"}]}"#,
    r#"{"type":"payment","id":"p1","account":"A1","amount":"1000.00","time":"2026-11-01T09:01:00Z"}"#,
    r#"{"type":"usage","id":"u1","msisdn":"79001000001","service":"voice","other":"375291234567","start":"2026-11-02T09:00:00Z","duration":75}"#,
    r#"{"type":"add_number","id":"n1","account":"A1","time":"2026-11-02T10:00:00Z","number":{"msisdn":"79001000002","plan":"DAILY"}}"#,
    r#"{"type":"activate_option","id":"a1","msisdn":"79001000001","option":"TRAVEL","time":"2026-11-03T10:00:00Z"}"#,
    r#"{"type":"deactivate_option","id":"a2","msisdn":"79001000001","option":"TRAVEL","time":"2026-11-04T10:00:00Z"}"#,
    r#"{"type":"set_credit_limit","id":"l1","account":"A1","credit_limit":"300.00","time":"2026-11-05T10:00:00Z"}"#,
    r#"{"type":"tick","id":"t1","account":"A1","time":"2026-12-02T00:00:00Z"}"#,
    r#"{"type":"payment","id":"p1","account":"A1","amount":"1000.00","time":"2026-11-01T09:01:00Z"}"#,
    r#"{"type":"usage","id":"u2","msisdn":"79009999999","service":"sms","other":"79001000001","start":"2026-12-02T09:00:00Z"}"#,
    r#"{"type":"order_detalization","id":"r1","msisdn":"79001000002","month":"2026-11","time":"2026-12-02T10:00:00Z"}"#,
];

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn lines() -> Vec<String> {
    // The catalog as it was when the fixture was written (the example catalog moves on).
    let cat = Catalog::from_toml(
        "format-catalog.toml",
        include_str!("fixtures/format-catalog.toml"),
    )
    .unwrap();
    let mut s = State::new();
    SCRIPT
        .iter()
        .map(|l| {
            let input = parse_json(l.as_bytes()).unwrap();
            let d = step(&mut s, &cat, &input);
            let (mut i, mut o) = (Vec::new(), Vec::new());
            encode_input(&input, &mut i);
            encode_decision(&d, &mut o);
            format!("{} {} {}", input.kind(), hex(&i), hex(&o))
        })
        .collect()
}

#[test]
fn records_of_layout_version_1_still_read_and_rate_the_same() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/records-v1.txt");
    let now = lines();
    if std::env::var_os("RATEL_BLESS").is_some() {
        std::fs::write(path, now.join("\n") + "\n").unwrap();
    }
    let recorded = std::fs::read_to_string(path).unwrap();
    let recorded: Vec<&str> = recorded.lines().collect();
    assert_eq!(recorded.len(), SCRIPT.len(), "one line per scripted input");
    for (old, new) in recorded.iter().zip(&now) {
        let mut parts = old.split(' ');
        let (kind, i, d) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let input = decode_input(&unhex(i)).unwrap();
        let decision = decode_decision(&unhex(d)).unwrap();
        let (mut i2, mut d2) = (Vec::new(), Vec::new());
        encode_input(&input, &mut i2);
        encode_decision(&decision, &mut d2);
        assert_eq!(
            (hex(&i2), hex(&d2)),
            (i.to_string(), d.to_string()),
            "{kind} re-encodes differently"
        );
        assert_eq!(
            old, new,
            "{kind} rates to other bytes than the recorded ones"
        );
    }
    let kinds: Vec<&str> = recorded
        .iter()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(kinds.len(), 11);
}
