//! Refunds of usage charges and reversals of payments: never beyond what a charge took, over
//! any number of refunds; units back to the bucket they came from while it is valid, otherwise
//! money at the charge's rate; a payment reversed once; nothing of another account's.

mod common;
use common::*;
use rating::event::*;
use rating::*;
use rust_decimal::Decimal;

fn refund_input(
    id: &str,
    account: &str,
    charge: &str,
    amount: Option<&str>,
    units: Option<u64>,
    time: &str,
) -> Input {
    Input::Refund(Refund {
        id: id.into(),
        account: account.into(),
        charge: charge.into(),
        amount: amount.map(m),
        units,
        reason: "dropped_call".into(),
        operator: "ivanova".into(),
        time: t(time),
        found: None,
    })
}

fn reverse_input(id: &str, account: &str, payment: &str, time: &str) -> Input {
    Input::ReversePayment(ReversePayment {
        id: id.into(),
        account: account.into(),
        payment: payment.into(),
        reason: "chargeback".into(),
        operator: "bank".into(),
        time: t(time),
        found: None,
    })
}

/// What the engine does before rating a reference: the decision it names, among `log`, with
/// what it took; then rated and applied.
fn resolve_and_step(state: &mut State, cat: &Catalog, log: &[Decision], input: Input) -> Decision {
    let found = log.iter().rev().find_map(|d| refund::found(&input, cat, d));
    step(state, cat, &refund::with_found(&input, found))
}

fn outcome_of(d: &Decision) -> String {
    match &d.outcome {
        Outcome::Rejected(r) => format!("rejected {}", r.code()),
        o => o.name().to_string(),
    }
}

/// A (BASIC) with 100.00 and a 600-second goodwill bucket valid to 2026-11-05T10:00Z; B the
/// same without the bucket. The log so far.
fn two_accounts() -> (Catalog, State, Vec<Decision>) {
    let cat = example();
    let mut s = State::new();
    let log = run(
        &mut s,
        &cat,
        &[
            open(
                "oa",
                "A",
                "2026-11-01T09:00:00Z",
                &[("79001000001", "BASIC", &[])],
            ),
            open(
                "ob",
                "B",
                "2026-11-01T09:00:00Z",
                &[("79001000002", "BASIC", &[])],
            ),
            pay("pa", "A", "2026-11-01T09:01:00Z", "100.00"),
            pay("pb", "B", "2026-11-01T09:01:00Z", "100.00"),
            Input::Grant(Grant {
                id: "g".into(),
                msisdn: msisdn("79001000001"),
                package: "SMART_MINUTES".into(),
                amount: 600,
                validity_days: 3,
                reason: "network_outage".into(),
                operator: "petrov".into(),
                time: t("2026-11-02T10:00:00Z"),
            }),
        ],
    );
    (cat, s, log)
}

#[test]
fn a_charge_is_refunded_in_parts_and_never_beyond_what_it_took() {
    let (cat, mut s, mut log) = two_accounts();
    // 900 s: 600 from the bucket, 300 in money.
    let c = step(
        &mut s,
        &cat,
        &call(
            "c1",
            "79001000001",
            "79161234567",
            "2026-11-03T12:00:00Z",
            900,
        ),
    );
    let took = charge(&c).money;
    assert!(took > m("1.00"), "{c:?}");
    assert_eq!(left(&s, &cat, "79001000001", "SMART_MINUTES"), 0);
    log.push(c);
    let before = balance(&s, "A");
    // (id, amount, units, outcome, money back, units left in the bucket after)
    type Case<'a> = (&'a str, Option<&'a str>, Option<u64>, &'a str, Decimal, u64);
    let at = "2026-11-04T08:00:00Z";
    let cases: [Case; 7] = [
        ("r1", None, Some(120), "refunded", m("0"), 120),
        ("r2", Some("1.00"), None, "refunded", m("1.00"), 120),
        (
            "r3",
            Some("1000.00"),
            None,
            "rejected refund_refused",
            m("0"),
            120,
        ),
        (
            "r4",
            None,
            Some(481),
            "rejected refund_refused",
            m("0"),
            120,
        ),
        (
            "r5",
            Some("0.001"),
            None,
            "rejected amount_decimals",
            m("0"),
            120,
        ),
        ("r6", None, None, "refunded", took - m("1.00"), 600),
        ("r7", None, None, "rejected refund_refused", m("0"), 600),
    ];
    let mut back = Decimal::ZERO;
    for (id, amount, units, outcome, money, bucket) in cases {
        let d = resolve_and_step(
            &mut s,
            &cat,
            &log,
            refund_input(id, "A", "c1", amount, units, at),
        );
        assert_eq!(outcome_of(&d), outcome, "{id}: {d:?}");
        assert_eq!(d.outcome.refunded_money(), money, "{id}");
        back += money;
        assert_eq!(balance(&s, "A"), before + back, "{id}");
        assert_eq!(
            left(&s, &cat, "79001000001", "SMART_MINUTES"),
            bucket,
            "{id}"
        );
        log.push(d);
    }
    // Everything the charge took is back, and no more: the balance is as before the call.
    assert_eq!(balance(&s, "A"), before + took);
    // The same refund again is a repeat.
    let again = resolve_and_step(
        &mut s,
        &cat,
        &log,
        refund_input("r6", "A", "c1", None, None, at),
    );
    assert_eq!(again.outcome, Outcome::Duplicate);
    assert_eq!(balance(&s, "A"), before + took);
}

#[test]
fn units_whose_bucket_expired_come_back_as_money_at_the_charges_rate() {
    let (cat, mut s, mut log) = two_accounts();
    // A's 600 s from the bucket; B's same call in money, at the same time and rate.
    let a = step(
        &mut s,
        &cat,
        &call(
            "c1",
            "79001000001",
            "79161234567",
            "2026-11-03T12:00:00Z",
            600,
        ),
    );
    let b = step(
        &mut s,
        &cat,
        &call(
            "c1",
            "79001000002",
            "79161234567",
            "2026-11-03T12:00:00Z",
            600,
        ),
    );
    assert_eq!(charge(&a).money, m("0"));
    let in_money = charge(&b).money - charge(&b).connect_fee;
    assert!(in_money > m("0"), "{b:?}");
    log.extend([a, b]);
    // After the bucket's end, a third of the units, then the rest.
    let late = "2026-11-06T08:00:00Z";
    let third = resolve_and_step(
        &mut s,
        &cat,
        &log,
        refund_input("r1", "A", "c1", None, Some(200), late),
    );
    let Outcome::Refunded {
        to_buckets,
        units_money,
        ..
    } = &third.outcome
    else {
        panic!("{third:?}");
    };
    assert!(to_buckets.is_empty(), "the bucket is gone: {third:?}");
    let third_value = (in_money / Decimal::from(3))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero);
    assert_eq!(*units_money, third_value);
    log.push(third);
    let rest = resolve_and_step(
        &mut s,
        &cat,
        &log,
        refund_input("r2", "A", "c1", None, None, late),
    );
    let total = third_value + rest.outcome.refunded_money();
    assert!(
        total <= in_money && in_money - total < m("0.02"),
        "{total} of {in_money}"
    );
}

#[test]
fn a_refund_finds_only_its_own_accounts_usage_charges() {
    let (cat, mut s, mut log) = two_accounts();
    log.push(step(
        &mut s,
        &cat,
        &call(
            "c1",
            "79001000002",
            "79161234567",
            "2026-11-03T12:00:00Z",
            60,
        ),
    ));
    let at = "2026-11-04T08:00:00Z";
    let cases = [
        // B's charge named by A: A has no such charge.
        (
            refund_input("x1", "A", "c1", None, None, at),
            "rejected unknown_charge",
        ),
        // A payment is not a usage charge.
        (
            refund_input("x2", "A", "pa", None, None, at),
            "rejected unknown_charge",
        ),
        (
            refund_input("x3", "Z", "c1", None, None, at),
            "rejected unknown_account",
        ),
        // Dated before the charge.
        (
            refund_input("x4", "B", "c1", None, None, "2026-11-03T11:00:00Z"),
            "rejected refund_refused",
        ),
        // More than 400 days after it.
        (
            refund_input("x5", "B", "c1", None, None, "2027-12-31T00:00:00Z"),
            "rejected refund_refused",
        ),
        (refund_input("x6", "B", "c1", None, None, at), "refunded"),
    ];
    for (input, outcome) in cases {
        let id = input.id().clone();
        let d = resolve_and_step(&mut s, &cat, &log, input);
        assert_eq!(outcome_of(&d), outcome, "{id}: {d:?}");
        log.push(d);
    }
    // What a source claims the charge took is not believed: the engine replaces it, and
    // without it nothing is refunded.
    let mut forged = refund_input("x7", "A", "c9", None, None, at);
    if let Input::Refund(r) = &mut forged {
        r.found = None;
    }
    assert_eq!(
        outcome_of(&step(&mut s, &cat, &forged)),
        "rejected unknown_charge"
    );
}

#[test]
fn a_payment_is_reversed_once() {
    let (cat, mut s, mut log) = two_accounts();
    let at = "2026-11-04T08:00:00Z";
    let cases = [
        (
            reverse_input("v1", "A", "pa", at),
            "payment_reversed",
            m("0.00"),
        ),
        (
            reverse_input("v2", "A", "pa", at),
            "rejected refund_refused",
            m("0.00"),
        ),
        (
            reverse_input("v3", "A", "pb", at),
            "rejected unknown_payment",
            m("0.00"),
        ),
        (
            reverse_input("v4", "A", "oa", at),
            "rejected unknown_payment",
            m("0.00"),
        ),
    ];
    for (input, outcome, after) in cases {
        let id = input.id().clone();
        let d = resolve_and_step(&mut s, &cat, &log, input);
        assert_eq!(outcome_of(&d), outcome, "{id}: {d:?}");
        assert_eq!(balance(&s, "A"), after, "{id}");
        log.push(d);
    }
}

#[test]
fn what_was_refunded_survives_the_accounts_record() {
    let (cat, mut s, mut log) = two_accounts();
    log.push(step(
        &mut s,
        &cat,
        &call(
            "c1",
            "79001000001",
            "79161234567",
            "2026-11-03T12:00:00Z",
            900,
        ),
    ));
    let at = "2026-11-04T08:00:00Z";
    log.push(resolve_and_step(
        &mut s,
        &cat,
        &log,
        refund_input("r1", "A", "c1", Some("0.50"), None, at),
    ));
    let account = s.account("A").unwrap().clone();
    assert_eq!(account.refunds.len(), 1);
    let mut bytes = Vec::new();
    record::encode_account(&account, &recent::Recent::default(), &mut bytes);
    let (read, _) = record::decode_account("A", &bytes).unwrap();
    assert_eq!(read, account);
    assert_eq!(read.refunds[0].money, m("0.50"));
}
