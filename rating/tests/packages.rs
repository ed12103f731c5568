//! Specification of charging: package buckets first, then money; rejections; duplicates.
//! An account on SMART opens on 2026-11-01 10:00 MSK: 100.00 connection + 450.00 monthly fee,
//! 300 minutes, 100 SMS and 10 GiB for the month.

mod common;
use common::*;
use rating::*;

const A: &str = "A1";
const N: &str = "79001234567";

fn smart(options: &[&str]) -> (Catalog, State) {
    let cat = example();
    let mut s = State::new();
    run(
        &mut s,
        &cat,
        &[
            open("o1", A, "2026-11-01T07:00:00Z", &[(N, "SMART", options)]),
            pay("p1", A, "2026-11-01T07:00:01Z", "1000.00"),
        ],
    );
    (cat, s)
}

#[test]
fn opening_charges_connection_and_the_first_month_and_grants_packages() {
    let (cat, s) = smart(&[]);
    assert_eq!(balance(&s, A), m("450.00"));
    assert_eq!(left(&s, &cat, N, "SMART_MINUTES"), 18_000);
    assert_eq!(left(&s, &cat, N, "SMART_SMS"), 100);
    assert_eq!(left(&s, &cat, N, "SMART_DATA"), 10 << 30);
}

#[test]
fn a_call_covered_by_minutes_takes_whole_minutes_and_no_money() {
    let (cat, mut s) = smart(&[]);
    let d = step(
        &mut s,
        &cat,
        &call("c1", N, "79001112233", "2026-11-25T10:00:00Z", 90),
    );
    let c = charge(&d);
    assert_eq!((c.money, c.why), (m("0"), Why::Packages));
    assert_eq!(
        c.takes.iter().map(|t| t.units).sum::<u64>(),
        120,
        "90 s is two started minutes"
    );
    assert_eq!(left(&s, &cat, N, "SMART_MINUTES"), 17_880);
    assert_eq!(balance(&s, A), m("450.00"));
}

#[test]
fn usage_the_package_does_not_cover_is_paid_in_money() {
    let (cat, mut s) = smart(&[]);
    let c = step(
        &mut s,
        &cat,
        &call("c1", N, "441234567890", "2026-11-25T10:00:00Z", 120),
    )
    .outcome;
    let Outcome::Charged(c) = c else { panic!() };
    assert_eq!(
        (c.money, c.why, c.takes.len()),
        (m("55.00"), Why::Money, 0),
        "international is not in SMART_MINUTES"
    );
    assert_eq!(left(&s, &cat, N, "SMART_MINUTES"), 18_000);
    assert_eq!(balance(&s, A), m("395.00"));
}

#[test]
fn a_package_that_covers_part_leaves_the_rest_to_money_at_the_rate() {
    let (cat, mut s) = smart(&[]);
    // 299.5 minutes: leaves 30 s in the bucket.
    step(
        &mut s,
        &cat,
        &call("c1", N, "79001112233", "2026-11-25T10:00:00Z", 17_940),
    );
    assert_eq!(left(&s, &cat, N, "SMART_MINUTES"), 60);
    step(
        &mut s,
        &cat,
        &call("c1b", N, "79001112233", "2026-11-25T11:00:00Z", 30),
    );
    assert_eq!(left(&s, &cat, N, "SMART_MINUTES"), 0);
    let d = step(
        &mut s,
        &cat,
        &call("c2", N, "79001112233", "2026-11-25T12:00:00Z", 90),
    );
    let c = charge(&d);
    assert_eq!(c.why, Why::Money);
    assert_eq!(c.money, m("3.75"));

    // Now with 30 s left: a fresh account, drained to 30 s by a bucket-only path.
    let (cat, mut s) = smart(&[]);
    step(
        &mut s,
        &cat,
        &call("c1", N, "79001112233", "2026-11-25T10:00:00Z", 17_940),
    );
    // 60 s left; a 150 s call: the bucket pays 60 s, money pays 60..150 at the per-second slot.
    let d = step(
        &mut s,
        &cat,
        &call("c3", N, "79001112233", "2026-11-25T12:00:00Z", 150),
    );
    let c = charge(&d);
    assert_eq!(c.why, Why::PackagesAndMoney);
    assert_eq!(c.takes.iter().map(|t| t.units).sum::<u64>(), 60);
    assert_eq!(c.money, m("3.75"), "90 s at 2.50/min per second");
    assert_eq!(left(&s, &cat, N, "SMART_MINUTES"), 0);
}

#[test]
fn free_usage_takes_nothing_from_packages() {
    let (cat, mut s) = smart(&[]);
    let d = step(
        &mut s,
        &cat,
        &usage(
            "s1",
            N,
            Service::Sms,
            Some("79001112233"),
            "2026-11-25T10:00:00Z",
            1,
        ),
    );
    assert_eq!(charge(&d).why, Why::Free);
    assert_eq!(
        left(&s, &cat, N, "SMART_SMS"),
        100,
        "on-net SMS is free and leaves the SMS package alone"
    );
    step(
        &mut s,
        &cat,
        &usage(
            "s2",
            N,
            Service::Sms,
            Some("74951112233"),
            "2026-11-25T10:01:00Z",
            1,
        ),
    );
    assert_eq!(left(&s, &cat, N, "SMART_SMS"), 99);
    let d = step(
        &mut s,
        &cat,
        &usage(
            "s3",
            N,
            Service::Sms,
            Some("441112233"),
            "2026-11-25T10:02:00Z",
            1,
        ),
    );
    assert_eq!(
        charge(&d).money,
        m("6.50"),
        "abroad is outside the SMS package"
    );
}

#[test]
fn data_is_taken_from_the_data_package_in_kilobytes() {
    let (cat, mut s) = smart(&[]);
    let d = step(
        &mut s,
        &cat,
        &usage("d1", N, Service::Data, None, "2026-11-25T10:00:00Z", 1_500),
    );
    assert_eq!(charge(&d).takes[0].units, 2_048);
    assert_eq!(left(&s, &cat, N, "SMART_DATA"), (10 << 30) - 2_048);
}

#[test]
fn an_option_package_with_priority_is_used_first() {
    let (cat, mut s) = smart(&["TRAVEL"]);
    assert_eq!(
        balance(&s, A),
        m("150.00"),
        "TRAVEL's connection fee of 300.00"
    );
    let d = step(
        &mut s,
        &cat,
        &call("c1", N, "441234567890", "2026-11-03T10:00:00Z", 600),
    );
    assert_eq!(
        (charge(&d).money, charge(&d).why),
        (m("0"), Why::Packages),
        "no connect fee when packages pay it all"
    );
    assert_eq!(left(&s, &cat, N, "TRAVEL_MINUTES"), 3_000);
    // The travel minutes last seven days from 2026-11-01 10:00 MSK.
    let d = step(
        &mut s,
        &cat,
        &call("c2", N, "441234567890", "2026-11-08T07:00:00Z", 60),
    );
    assert_eq!(charge(&d).money, m("30.00"));
    assert_eq!(
        left(&s, &cat, N, "TRAVEL_MINUTES"),
        0,
        "expired and removed"
    );
    assert!(
        d.renewals
            .iter()
            .any(|r| r.expired.iter().any(|e| e.lost == 3_000)),
        "the expiry is recorded with what was lost"
    );
}

#[test]
fn buckets_are_taken_earliest_expiry_first() {
    // Two buckets cover international voice once TRAVEL is active twice over two numbers? No:
    // one number, the rollover bucket (expires sooner) and the month's bucket, same priority.
    let cat = example();
    let mut s = State::new();
    run(
        &mut s,
        &cat,
        &[
            open("o1", A, "2026-10-01T07:00:00Z", &[(N, "SMART", &[])]),
            pay("p1", A, "2026-10-01T07:00:01Z", "5000.00"),
        ],
    );
    // In November the October remainder (capped at 6000 s) rolls over, valid to the end of November;
    // the November bucket is valid to the end of November too: tie, so the older bucket first.
    let d = step(
        &mut s,
        &cat,
        &call("c1", N, "79001112233", "2026-11-02T10:00:00Z", 60),
    );
    let acct = s.account("A1").unwrap();
    let buckets = &acct.numbers[0].buckets;
    let rolled = buckets
        .iter()
        .find(|b| b.origin == Origin::Rollover)
        .expect("a rollover bucket");
    assert_eq!(charge(&d).takes[0].bucket, rolled.id);
    assert_eq!(rolled.remaining, 6_000 - 60);
}

#[test]
fn rejections_name_their_reason_and_change_nothing_but_the_seen_ids() {
    let (cat, mut s) = smart(&[]);
    let before = balance(&s, A);
    let mut bad_data = usage("r3", N, Service::Data, None, "2026-11-25T10:00:00Z", 1);
    if let Input::Usage(u) = &mut bad_data {
        u.bytes = None;
        u.duration = Some(5);
    }
    let mut long_call = call("r4", N, "79001112233", "2026-11-25T10:00:00Z", 1);
    if let Input::Usage(u) = &mut long_call {
        u.duration = Some(8 * 86_400);
    }
    type Expected = fn(&Rejection) -> bool;
    let cases: Vec<(Input, Expected)> = vec![
        (
            call(
                "r1",
                "79990000000",
                "79001112233",
                "2026-11-25T10:00:00Z",
                60,
            ),
            |r| matches!(r, Rejection::UnknownNumber(_)),
        ),
        (call("r2", N, "00-12", "2026-11-25T10:00:00Z", 60), |r| {
            matches!(r, Rejection::BadOtherParty(_))
        }),
        (bad_data, |r| matches!(r, Rejection::Malformed(_))),
        (long_call, |r| {
            matches!(r, Rejection::QuantityTooLarge { .. })
        }),
        (pay("r5", A, "2026-11-25T10:00:00Z", "10.005"), |r| {
            matches!(r, Rejection::AmountDecimals { .. })
        }),
        (pay("r6", A, "2026-11-25T10:00:00Z", "-10"), |r| {
            matches!(r, Rejection::AmountNotPositive)
        }),
        (pay("r7", "NOBODY", "2026-11-25T10:00:00Z", "10"), |r| {
            matches!(r, Rejection::UnknownAccount(_))
        }),
        (
            open("r8", "A2", "2026-11-25T10:00:00Z", &[(N, "SMART", &[])]),
            |r| matches!(r, Rejection::NumberTaken(_)),
        ),
        (
            open(
                "r9",
                "A2",
                "2026-11-25T10:00:00Z",
                &[("79005550000", "GOLD", &[])],
            ),
            |r| matches!(r, Rejection::UnknownPlan(_)),
        ),
        (
            open(
                "r10",
                "A2",
                "2026-11-25T10:00:00Z",
                &[("79005550000", "DAILY", &["TRAVEL"])],
            ),
            |r| matches!(r, Rejection::OptionNotForPlan { .. }),
        ),
        (
            open(
                "r11",
                A,
                "2026-11-25T10:00:00Z",
                &[("79005550000", "DAILY", &[])],
            ),
            |r| matches!(r, Rejection::AccountExists(_)),
        ),
    ];
    for (input, expected) in cases {
        let d = step(&mut s, &cat, &input);
        match &d.outcome {
            Outcome::Rejected(r) => assert!(expected(r), "{}: unexpected rejection {r}", d.event),
            o => panic!("{} must be rejected, got {o:?}", d.event),
        }
    }
    assert_eq!(balance(&s, A), before);
}

#[test]
fn the_same_event_id_twice_charges_once() {
    let (cat, mut s) = smart(&[]);
    let c = call("dup", N, "441234567890", "2026-11-25T10:00:00Z", 60);
    step(&mut s, &cat, &c);
    let after_once = balance(&s, A);
    let d = step(&mut s, &cat, &c);
    assert_eq!(d.outcome, Outcome::Duplicate);
    assert_eq!(balance(&s, A), after_once);
    // The payment that opened the account, delivered again three weeks later, with its own
    // time or with a later one: a payment's id is held for ever, so either is a duplicate.
    for time in [
        "2026-11-01T07:00:01Z",
        "2026-11-25T11:00:00Z",
        "2027-01-10T00:00:00Z",
    ] {
        let p = pay("p1", A, time, "999.00");
        assert_eq!(step(&mut s, &cat, &p).outcome, Outcome::Duplicate, "{time}");
        assert_eq!(balance(&s, A), after_once);
    }
    // A call too old for the window is too late, and moves nothing.
    let old = call("old", N, "441234567890", "2026-11-01T10:00:00Z", 60);
    assert!(matches!(
        step(&mut s, &cat, &old).outcome,
        Outcome::Rejected(Rejection::TooLate { .. })
    ));
    assert_eq!(balance(&s, A), after_once);
    // Within the window, late or not, a repeat is a duplicate.
    let late = call("late", N, "441234567890", "2026-11-23T10:00:00Z", 60);
    assert!(matches!(
        step(&mut s, &cat, &late).outcome,
        Outcome::Charged(_)
    ));
    let after_late = balance(&s, A);
    assert_eq!(step(&mut s, &cat, &late).outcome, Outcome::Duplicate);
    assert_eq!(balance(&s, A), after_late);
}

#[test]
fn a_charge_below_the_credit_limit_is_still_charged_and_flagged() {
    let cat = example();
    let mut s = State::new();
    run(
        &mut s,
        &cat,
        &[open("o1", A, "2026-11-01T07:00:00Z", &[(N, "BASIC", &[])])],
    );
    let d = step(
        &mut s,
        &cat,
        &call("c1", N, "441234567890", "2026-11-25T10:00:00Z", 60),
    );
    let c = charge(&d);
    assert_eq!(c.money, m("30.00"));
    assert!(c.over_limit);
    assert_eq!(balance(&s, A), m("-30.00"));
}
