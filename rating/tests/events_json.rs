//! The JSON input form (docs/events.md) and the versioned binary form of the log.

mod common;
use rating::codec::*;
use rating::*;

const EXAMPLES: &[&str] = &[
    r#"{"type":"open_account","id":"cmd-1","account":"ACC-1","time":"2026-11-01T10:00:00+03:00","credit_limit":"100.00","numbers":[{"msisdn":"79001234567","plan":"SMART","options":["MESSENGERS"]}]}"#,
    r#"{"type":"payment","id":"pay-1","account":"ACC-1","amount":"500.00","time":"2026-11-01T10:05:00Z"}"#,
    r#"{"type":"payment","id":"pay-2","msisdn":"79001234567","amount":"100","time":"2026-11-02T10:05:00Z"}"#,
    r#"{"type":"usage","id":"msc1:cdr-1","msisdn":"79001234567","service":"voice","direction":"out","other":"79161234567","start":"2026-11-25T10:00:00Z","duration":95}"#,
    r#"{"type":"usage","id":"msc1:cdr-2","msisdn":"79001234567","service":"voice","direction":"in","other":"74951234567","start":"2026-11-25T10:00:00Z","duration":30,"location":"international"}"#,
    r#"{"type":"usage","id":"smsc:1","msisdn":"79001234567","service":"sms","other":"79001112233","start":"2026-11-25T10:00:00Z"}"#,
    r#"{"type":"usage","id":"mmsc:1","msisdn":"79001234567","service":"mms","other":"79161112233","start":"2026-11-25T10:00:00Z","count":2}"#,
    r#"{"type":"usage","id":"pgw:1","msisdn":"79001234567","service":"data","start":"2026-11-25T10:00:00Z","bytes":1048576,"rating_group":10}"#,
    r#"{"type":"add_number","id":"cmd-2","account":"ACC-1","time":"2026-11-03T10:00:00Z","number":{"msisdn":"79001234568","plan":"DAILY"}}"#,
    r#"{"type":"activate_option","id":"cmd-3","msisdn":"79001234567","option":"TRAVEL","time":"2026-11-04T10:00:00Z"}"#,
    r#"{"type":"deactivate_option","id":"cmd-4","msisdn":"79001234567","option":"TRAVEL","time":"2026-11-05T10:00:00Z"}"#,
    r#"{"type":"set_credit_limit","id":"cmd-5","account":"ACC-1","credit_limit":"300.00","time":"2026-11-05T10:00:00Z"}"#,
    r#"{"type":"tick","id":"tick-ACC-1-20261201","account":"ACC-1","time":"2026-12-01T00:00:00Z"}"#,
    r#"{"type":"set_balance_alerts","id":"cmd-6","account":"ACC-1","time":"2026-12-02T10:00:00Z","autopay":{"threshold":"100.00","amount":"300.00"},"low_balance":"150.00"}"#,
    r#"{"type":"set_spending_limit","id":"cmd-7","msisdn":"79001234568","limit":"300.00","time":"2026-12-02T10:01:00Z"}"#,
    r#"{"type":"set_group","id":"cmd-12","msisdn":"79001234568","group":"sales","time":"2026-12-02T10:02:00Z"}"#,
    r#"{"type":"change_plan","id":"cmd-8","msisdn":"79001234568","plan":"SMART","time":"2026-12-03T10:00:00Z"}"#,
    r#"{"type":"suspend","id":"cmd-9","msisdn":"79001234568","time":"2026-12-04T10:00:00Z"}"#,
    r#"{"type":"resume","id":"cmd-10","msisdn":"79001234568","time":"2026-12-10T10:00:00Z"}"#,
    r#"{"type":"report_lost","id":"cmd-11","msisdn":"79001234568","time":"2026-12-11T10:00:00Z"}"#,
];

/// A second account for the transfer example, and the transfer (to a number of another account).
const TRANSFER: &[&str] = &[
    r#"{"type":"open_account","id":"cmd-20","account":"ACC-2","time":"2026-11-01T10:00:00Z","numbers":[{"msisdn":"79161112233","plan":"BASIC"}]}"#,
    r#"{"type":"payment","id":"pay-20","account":"ACC-1","amount":"3000.00","time":"2026-12-12T09:00:00Z"}"#,
    r#"{"type":"transfer","id":"tr-1","from":"79001234567","to":"79161112233","amount":"50.00","time":"2026-12-12T10:00:00Z"}"#,
];

#[test]
fn the_documented_examples_parse_round_trip_and_rate() {
    let cat = common::postpaid();
    // The examples are grouped by kind, not by time: commands of early November come after
    // usage of late November, later than the default window lets an input come.
    let mut state = State::with_window(rating::recent::MAX_WINDOW);
    for line in EXAMPLES.iter().chain(TRANSFER) {
        let input = parse_json(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
        let again = parse_json(to_json(&input).as_bytes()).unwrap();
        assert_eq!(input, again, "JSON round trip");
        let mut bin = Vec::new();
        encode_input(&input, &mut bin);
        assert_eq!(decode_input(&bin).unwrap(), input, "binary round trip");
        let d = step(&mut state, &cat, &input);
        assert!(
            !matches!(d.outcome, Outcome::Rejected(_) | Outcome::Duplicate),
            "{line} → {:?}",
            d.outcome
        );
        let mut db = Vec::new();
        encode_decision(&d, &mut db);
        assert_eq!(decode_decision(&db).unwrap(), d);
    }
}

/// Refunds and reversals name earlier decisions (what the engine finds is recorded in `found`).
const REFERRING: &[&str] = &[
    r#"{"type":"refund","id":"rf-1","account":"ACC-1","charge":"cdr-881","reason":"dropped_call","operator":"ivanova","time":"2026-12-14T09:00:00Z"}"#,
    r#"{"type":"refund","id":"rf-2","account":"ACC-1","charge":"cdr-882","amount":"1.20","units":60,"reason":"dispute","operator":"ivanova","time":"2026-12-14T09:01:00Z"}"#,
    r#"{"type":"reverse_payment","id":"cb-1","account":"ACC-1","payment":"pay-77","reason":"chargeback","operator":"bank-gw","time":"2026-12-14T09:02:00Z"}"#,
];

#[test]
fn the_refund_examples_parse_and_round_trip() {
    for line in REFERRING {
        let input = parse_json(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert!(input.refers_to().is_some());
        assert_eq!(parse_json(to_json(&input).as_bytes()).unwrap(), input);
        let mut bin = Vec::new();
        encode_input(&input, &mut bin);
        assert_eq!(decode_input(&bin).unwrap(), input);
    }
}

#[test]
fn the_docs_hold_the_same_examples() {
    let doc = include_str!("../../docs/events.md");
    for line in EXAMPLES.iter().chain(&TRANSFER[2..]).chain(REFERRING) {
        assert!(
            doc.contains(line),
            "docs/events.md lacks the example {line}"
        );
    }
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "EOF"),
        (b"{", "EOF"),
        (br#"{"type":"usage"}"#, "missing field"),
        (br#"{"type":"rebate","id":"x"}"#, "unknown variant"),
        (br#"{"type":"refund","id":"x"}"#, "missing field"),
        (br#"{"type":"refund","id":"x","account":"A","charge":"c","amount":"-1.00","reason":"r","operator":"o","time":"2026-11-01T00:00:00Z"}"#, "amount is positive"),
        (br#"{"type":"refund","id":"x","account":"A","charge":"c","units":0,"reason":"r","operator":"o","time":"2026-11-01T00:00:00Z"}"#, "units are 1 to"),
        (br#"{"type":"reverse_payment","id":"x","account":"A","payment":"p","reason":"Chargeback!","operator":"o","time":"2026-11-01T00:00:00Z"}"#, "a reason is a code"),
        (br#"{"type":"payment","id":"p","account":"A","amount":1.5,"time":"2026-11-01T00:00:00Z"}"#, "invalid type"),
        (br#"{"type":"payment","id":"p","account":"A","amount":"NaN","time":"2026-11-01T00:00:00Z"}"#, "not a plain decimal"),
        (br#"{"type":"payment","id":"p","account":"A","amount":"1e3","time":"2026-11-01T00:00:00Z"}"#, "not a plain decimal"),
        (br#"{"type":"usage","id":"u","msisdn":"79001234567","service":"voice","start":"2026-11-25T10:00:00Z","duration":-5}"#, "invalid value"),
        (br#"{"type":"usage","id":"u","msisdn":"79001234567","service":"fax","start":"2026-11-25T10:00:00Z"}"#, "unknown variant"),
        (br#"{"type":"usage","id":"u","msisdn":"0123","service":"sms","start":"2026-11-25T10:00:00Z"}"#, "not an MSISDN"),
        (br#"{"type":"usage","id":"u","msisdn":"79001234567","service":"sms","start":"1969-12-31T00:00:00Z"}"#, "outside 1970..9999"),
        (br#"{"type":"usage","id":"u","msisdn":"79001234567","service":"sms","start":"yesterday"}"#, "RFC 3339"),
        (br#"{"type":"usage","id":"","msisdn":"79001234567","service":"sms","start":"2026-11-25T10:00:00Z"}"#, "id must be"),
        (br#"{"type":"usage","id":"u","msisdn":"79001234567","service":"sms","start":"2026-11-25T10:00:00Z","colour":"red"}"#, "unknown field"),
        (b"\xff\xfe", "UTF-8"),
    ];
    for (bytes, words) in cases {
        let err = parse_json(bytes).expect_err(&String::from_utf8_lossy(bytes));
        assert!(
            err.to_string().contains(words),
            "{}: expected …{words}…, got {err}",
            String::from_utf8_lossy(bytes)
        );
    }
    assert!(matches!(
        parse_json(&vec![b' '; MAX_INPUT_BYTES + 1]),
        Err(DecodeError::TooLarge(_))
    ));
}

#[test]
fn binary_records_carry_their_version() {
    let input = parse_json(EXAMPLES[1].as_bytes()).unwrap();
    let mut bin = Vec::new();
    encode_input(&input, &mut bin);
    assert_eq!(bin[0], VERSION);
    let mut future = bin.clone();
    future[0] = VERSION + 1;
    assert_eq!(
        decode_input(&future),
        Err(DecodeError::UnknownVersion(VERSION + 1))
    );
    assert!(matches!(
        decode_input(&bin[..bin.len() - 1]),
        Err(DecodeError::Corrupt(_))
    ));
    assert_eq!(decode_input(&[]), Err(DecodeError::Empty));
}
