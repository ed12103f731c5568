//! Repeats: a payment, a transfer or a command takes effect once however late it comes again; a
//! usage record is remembered for its account's window, and the audit holds the engine to
//! exactly that rule (docs/events.md).

mod common;

use rating::codec::decode_decision;
use rating::Outcome;

#[test]
fn a_payment_sent_again_days_later_is_a_duplicate_and_usage_follows_its_window() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("in.jsonl");
    common::append(
        &file,
        &[
            r#"{"type":"open_account","id":"o1","account":"A1","time":"2026-11-01T09:00:00Z","numbers":[{"msisdn":"79001000001","plan":"BASIC"}]}"#,
            r#"{"type":"payment","id":"pay-1","account":"A1","amount":"351.00","time":"2026-11-01T10:00:00Z"}"#,
            r#"{"type":"usage","id":"cdr-1","msisdn":"79001000001","service":"voice","other":"79161234567","start":"2026-11-01T11:00:00Z","duration":60}"#,
            // Five days on: the account's clock moves past the 72-hour window.
            r#"{"type":"usage","id":"cdr-2","msisdn":"79001000001","service":"voice","other":"79161234567","start":"2026-11-06T11:00:00Z","duration":60}"#,
            // The payment again, re-sent with a later time: for ever a duplicate.
            r#"{"type":"payment","id":"pay-1","account":"A1","amount":"351.00","time":"2026-11-06T12:00:00Z"}"#,
            // The first CDR again with its own time: too late, refused.
            r#"{"type":"usage","id":"cdr-1","msisdn":"79001000001","service":"voice","other":"79161234567","start":"2026-11-01T11:00:00Z","duration":60}"#,
            // The first CDR's id on a new record inside the window: its account no longer holds
            // the id, so it is usage of its own (docs/events.md).
            r#"{"type":"usage","id":"cdr-1","msisdn":"79001000001","service":"voice","other":"79161234567","start":"2026-11-06T12:30:00Z","duration":60}"#,
        ],
    );
    let mut e = common::example_engine(tmp.path());
    e.run_file(&file).unwrap();
    let outcomes: Vec<String> = e
        .store
        .log()
        .filter_map(|r| match r.unwrap().2 {
            engine::entry::Entry::Rated { decision, .. } => {
                let d = decode_decision(&decision).unwrap();
                Some(match d.outcome {
                    Outcome::Rejected(r) => format!("{}: rejected {r}", d.event),
                    o => format!(
                        "{}: {}",
                        d.event,
                        format!("{o:?}").split([' ', '(', '{']).next().unwrap()
                    ),
                })
            }
            _ => None,
        })
        .collect();
    let count = |what: &str| outcomes.iter().filter(|o| o.starts_with(what)).count();
    assert_eq!(count("pay-1: Paid"), 1, "{outcomes:#?}");
    assert_eq!(count("pay-1: Duplicate"), 1, "{outcomes:#?}");
    assert_eq!(count("cdr-1: rejected too late"), 1, "{outcomes:#?}");
    assert_eq!(count("cdr-1: Charged"), 2, "{outcomes:#?}");
    // 351.00 once, three minutes at 1.50.
    assert_eq!(e.state.account("A1").unwrap().balance.to_string(), "346.50");
    let audit = engine::audit::audit(&e.store).unwrap();
    assert!(audit.ok(), "{:#?}", audit.listed);
}

/// An account holds its ids as 48-bit digests (`rating::recent`), so a new input can, very
/// rarely, be taken for a repeat of an id whose digest is the same. The audit holds the ids
/// whole and names such a duplicate: here the account's record is made to hold the digest of
/// an id it never decided, as such a collision would, and the input with that id is then
/// decided a duplicate, moves no money, and is listed by the audit.
#[test]
fn the_audit_names_an_input_taken_for_a_repeat_of_nothing_it_decided() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("store");
    let config = || engine::pipeline::Config {
        checkpoint: 1,
        ..engine::pipeline::Config::default()
    };
    let first = tmp.path().join("first.jsonl");
    common::append(
        &first,
        &[
            r#"{"type":"open_account","id":"o1","account":"A1","time":"2026-11-01T09:00:00Z","numbers":[{"msisdn":"79001000001","plan":"BASIC"}]}"#,
            r#"{"type":"payment","id":"pay-1","account":"A1","amount":"351.00","time":"2026-11-01T10:00:00Z"}"#,
        ],
    );
    common::example_engine_with(&data, config())
        .run_file(&first)
        .unwrap();
    {
        let store = engine::store::Store::open(&data).unwrap();
        let state = store.db().cf_handle("state").unwrap();
        let bytes = store.db().get_cf(state, "A1").unwrap().unwrap();
        let (account, recent) = rating::record::decode_account("A1", &bytes).unwrap();
        let mut recent = recent.unwrap();
        let window = rating::recent::DEFAULT_WINDOW;
        recent.remember(
            "cdr-1",
            rating::Timestamp(1_793_530_800),
            false,
            false,
            window,
        );
        let mut collided = Vec::new();
        rating::record::encode_account(&account, &recent, &mut collided);
        store.db().put_cf(state, "A1", collided).unwrap();
    }
    let second = tmp.path().join("second.jsonl");
    common::append(
        &second,
        &[
            r#"{"type":"usage","id":"cdr-1","msisdn":"79001000001","service":"voice","other":"79161234567","start":"2026-11-01T11:00:00Z","duration":60}"#,
        ],
    );
    let mut e = common::example_engine_with(&data, config());
    e.run_file(&second).unwrap();
    assert_eq!(e.state.account("A1").unwrap().balance.to_string(), "351.00");
    let audit = engine::audit::audit(&e.store).unwrap();
    assert!(
        (audit.listed.iter()).any(|l| l.contains("cdr-1 called a duplicate of nothing earlier")),
        "{:#?}",
        audit.listed
    );
}
