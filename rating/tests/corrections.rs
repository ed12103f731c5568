//! Corrections by the operator: `adjust` (money in or out, with a reason code and the
//! operator's id) and `grant` (a goodwill bucket), each idempotent by its id, table-driven.

mod common;
use common::*;
use rating::event::*;
use rating::*;
use rust_decimal::Decimal;

fn adjust(id: &str, account: &str, number: Option<&str>, amount: &str, reason: &str) -> Input {
    Input::Adjust(Adjust {
        id: id.into(),
        account: account.into(),
        msisdn: number.map(msisdn),
        amount: m(amount),
        reason: reason.into(),
        operator: "ivanova".into(),
        time: t("2026-11-02T10:00:00Z"),
    })
}

fn grant(id: &str, number: &str, package: &str, amount: u64, days: u32) -> Input {
    Input::Grant(Grant {
        id: id.into(),
        msisdn: msisdn(number),
        package: package.into(),
        amount,
        validity_days: days,
        reason: "network_outage".into(),
        operator: "petrov".into(),
        time: t("2026-11-02T10:00:00Z"),
    })
}

/// Two BASIC accounts (no fees, no packages), A with 100.00 paid in.
fn accounts() -> (Catalog, State) {
    let cat = example();
    let mut s = State::new();
    run(
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
            pay("p0", "A", "2026-11-01T09:01:00Z", "100.00"),
        ],
    );
    (cat, s)
}

fn outcome_of(d: &Decision) -> String {
    match &d.outcome {
        Outcome::Rejected(r) => format!("rejected {}", r.code()),
        o => o.name().to_string(),
    }
}

#[test]
fn an_adjustment_moves_exactly_its_amount_or_is_refused_with_a_reason() {
    // (number, amount, reason code, outcome, A's balance after)
    let cases = [
        (None, "25.50", "goodwill", "adjusted", "125.50"),
        (None, "-40.00", "billing_error", "adjusted", "60.00"),
        (
            Some("79001000001"),
            "-0.01",
            "dispute:2026-11",
            "adjusted",
            "99.99",
        ),
        // Below zero is the operator's to decide: the balance follows.
        (None, "-250.00", "chargeback", "adjusted", "-150.00"),
        (None, "0.00", "goodwill", "rejected malformed", "100.00"),
        (
            None,
            "1.001",
            "goodwill",
            "rejected amount_decimals",
            "100.00",
        ),
        (
            None,
            "99999999999999999.00",
            "goodwill",
            "rejected amount_out_of_range",
            "100.00",
        ),
        (None, "5.00", "Goodwill", "rejected malformed", "100.00"),
        (None, "5.00", "", "rejected malformed", "100.00"),
        (None, "5.00", "a b", "rejected malformed", "100.00"),
        // Another account's number: money is never moved on the word of another's number.
        (
            Some("79001000002"),
            "5.00",
            "goodwill",
            "rejected malformed",
            "100.00",
        ),
    ];
    for (number, amount, reason, expected, after) in cases {
        let (cat, mut s) = accounts();
        let d = run(
            &mut s,
            &cat,
            &[adjust("adj-1", "A", number, amount, reason)],
        )
        .remove(0);
        let what = format!("{number:?} {amount} {reason}");
        assert_eq!(outcome_of(&d), expected, "{what}: {d:?}");
        assert_eq!(balance(&s, "A"), m(after), "{what}");
        assert_eq!(balance(&s, "B"), m("0"), "{what}: B untouched");
        if let Outcome::Adjusted { balance_after, .. } = &d.outcome {
            assert_eq!(*balance_after, m(after));
            let signed: Decimal = d.movements().iter().map(Movement::signed).sum();
            assert_eq!(signed, m(amount), "{what}: its movement is its amount");
        }
    }
}

#[test]
fn an_adjustment_counts_once_however_often_and_late_it_comes() {
    let (cat, mut s) = accounts();
    let first = adjust("adj-1", "A", None, "10.00", "goodwill");
    run(&mut s, &cat, std::slice::from_ref(&first));
    // The same id, now and a year later (an account holds a command's id for ever).
    let mut late = first.clone();
    if let Input::Adjust(a) = &mut late {
        a.time = t("2027-11-02T10:00:00Z");
    }
    for again in [first, late] {
        let d = run(&mut s, &cat, &[again]).remove(0);
        assert_eq!(d.outcome, Outcome::Duplicate);
    }
    assert_eq!(balance(&s, "A"), m("110.00"));
    // Unknown and mistyped accounts.
    let d = run(
        &mut s,
        &cat,
        &[adjust("adj-2", "NOBODY", None, "1.00", "goodwill")],
    )
    .remove(0);
    assert_eq!(outcome_of(&d), "rejected unknown_account");
}

#[test]
fn a_goodwill_bucket_serves_usage_until_it_expires() {
    let (cat, mut s) = accounts();
    let d = run(
        &mut s,
        &cat,
        &[grant("g-1", "79001000001", "SMART_MINUTES", 600, 3)],
    )
    .remove(0);
    let Outcome::Granted { bucket, .. } = &d.outcome else {
        panic!("{d:?}");
    };
    assert_eq!((bucket.origin, bucket.total), (Origin::Goodwill, 600));
    assert_eq!(bucket.valid_until, t("2026-11-05T10:00:00Z"));
    assert_eq!(left(&s, &cat, "79001000001", "SMART_MINUTES"), 600);
    // A five-minute call takes from it, not from the money.
    let call_d = run(
        &mut s,
        &cat,
        &[call(
            "c-1",
            "79001000001",
            "79161234567",
            "2026-11-03T12:00:00Z",
            300,
        )],
    );
    assert_eq!(charge(&call_d[0]).money, m("0"), "{call_d:?}");
    assert_eq!(left(&s, &cat, "79001000001", "SMART_MINUTES"), 300);
    assert_eq!(balance(&s, "A"), m("100.00"));
    // After its validity the rest is lost, and calls are paid in money again.
    let late = run(
        &mut s,
        &cat,
        &[call(
            "c-2",
            "79001000001",
            "79161234567",
            "2026-11-06T12:00:00Z",
            60,
        )],
    );
    assert!(charge(&late[0]).money > m("0"), "{late:?}");
    assert_eq!(left(&s, &cat, "79001000001", "SMART_MINUTES"), 0);
    let lost: u64 = (late[0].renewals.iter())
        .flat_map(|r| &r.expired)
        .map(|e| e.lost)
        .sum();
    assert_eq!(lost, 300, "what was left is recorded as lost");
}

#[test]
fn a_grant_is_refused_with_a_reason() {
    // (number, package, units, days, outcome)
    let cases = [
        ("79001000001", "NO_SUCH", 60, 1, "rejected unknown_package"),
        ("79001000001", "SMART_SMS", 0, 1, "rejected malformed"),
        ("79001000001", "SMART_SMS", 10, 0, "rejected malformed"),
        ("79001000001", "SMART_SMS", 10, 3_661, "rejected malformed"),
        (
            "79001000001",
            "SMART_SMS",
            (1 << 40) + 1,
            1,
            "rejected malformed",
        ),
        ("79009999999", "SMART_SMS", 10, 1, "rejected unknown_number"),
        ("79001000001", "SMART_SMS", 10, 3_660, "granted"),
    ];
    for (number, package, units, days, expected) in cases {
        let (cat, mut s) = accounts();
        let d = run(&mut s, &cat, &[grant("g", number, package, units, days)]).remove(0);
        assert_eq!(
            outcome_of(&d),
            expected,
            "{number} {package} {units} {days}"
        );
    }
}

fn redeem(id: &str, points: Option<u64>, reward: Option<&str>, number: Option<&str>) -> Input {
    Input::RedeemPoints(RedeemPoints {
        id: id.into(),
        account: "S".into(),
        points,
        reward: reward.map(Into::into),
        msisdn: number.map(msisdn),
        time: t("2026-11-02T10:00:00Z"),
    })
}

/// A SMART account: its opening's fees (550.00) earned 55 points; 1000.00 paid in.
fn with_points() -> (Catalog, State) {
    let cat = example();
    let mut s = State::new();
    run(
        &mut s,
        &cat,
        &[
            open(
                "os",
                "S",
                "2026-11-01T09:00:00Z",
                &[("79001000009", "SMART", &[])],
            ),
            pay("ps", "S", "2026-11-01T09:01:00Z", "1000.00"),
        ],
    );
    assert_eq!(s.account("S").unwrap().loyalty.points, 55);
    (cat, s)
}

#[test]
fn points_become_money_or_a_reward_and_never_more_than_are_held() {
    // (points, reward, number, outcome, points left, balance after)
    let cases = [
        (Some(10), None, None, "points_redeemed", 45, "455.00"),
        (Some(55), None, None, "points_redeemed", 0, "477.50"),
        (
            Some(56),
            None,
            None,
            "rejected redeem_refused",
            55,
            "450.00",
        ),
        (Some(0), None, None, "rejected malformed", 55, "450.00"),
        (
            None,
            Some("HOUR_OF_CALLS"),
            Some("79001000009"),
            "points_redeemed",
            5,
            "450.00",
        ),
        (
            None,
            Some("NO_SUCH"),
            Some("79001000009"),
            "rejected redeem_refused",
            55,
            "450.00",
        ),
        (
            None,
            Some("HOUR_OF_CALLS"),
            None,
            "rejected malformed",
            55,
            "450.00",
        ),
        (
            Some(5),
            None,
            Some("79001000009"),
            "rejected malformed",
            55,
            "450.00",
        ),
        (None, None, None, "rejected malformed", 55, "450.00"),
        (
            None,
            Some("HOUR_OF_CALLS"),
            Some("79001000001"),
            "rejected malformed",
            55,
            "450.00",
        ),
    ];
    for (points, reward, number, expected, left_points, after) in cases {
        let (cat, mut s) = with_points();
        let minutes = left(&s, &cat, "79001000009", "SMART_MINUTES");
        let d = run(&mut s, &cat, &[redeem("r-1", points, reward, number)]).remove(0);
        let what = format!("{points:?} {reward:?} {number:?}");
        assert_eq!(outcome_of(&d), expected, "{what}: {d:?}");
        let account = s.account("S").unwrap();
        assert_eq!(
            (account.loyalty.points, account.balance),
            (left_points, m(after)),
            "{what}"
        );
        let gained = left(&s, &cat, "79001000009", "SMART_MINUTES") - minutes;
        assert_eq!(
            gained,
            if reward.is_some() && expected == "points_redeemed" {
                3600
            } else {
                0
            },
            "{what}"
        );
        // Redeemed again under the same id: nothing more.
        let again = run(&mut s, &cat, &[redeem("r-1", points, reward, number)]).remove(0);
        if expected == "points_redeemed" {
            assert_eq!(again.outcome, Outcome::Duplicate, "{what}");
        }
        assert_eq!(
            s.account("S").unwrap().loyalty.points,
            left_points,
            "{what}"
        );
    }
}

#[test]
fn units_are_taken_back_from_the_buckets_that_expire_first_and_never_below_zero() {
    let (cat, mut s) = accounts();
    // Two goodwill buckets of minutes: 600 for 3 days, then 300 for 10.
    run(
        &mut s,
        &cat,
        &[grant("g-1", "79001000001", "SMART_MINUTES", 600, 10)],
    );
    run(
        &mut s,
        &cat,
        &[grant("g-2", "79001000001", "SMART_MINUTES", 300, 3)],
    );
    let take = |id: &str, package: &str, amount: u64| {
        Input::Take(TakeUnits {
            id: id.into(),
            msisdn: msisdn("79001000001"),
            package: package.into(),
            amount,
            reason: "rerate:x".into(),
            operator: "ratel-rerate".into(),
            time: t("2026-11-02T11:00:00Z"),
        })
    };
    let d = run(&mut s, &cat, &[take("t-1", "SMART_MINUTES", 400)]).remove(0);
    let Outcome::UnitsTaken { takes, .. } = &d.outcome else {
        panic!("{d:?}");
    };
    // The three-day bucket (id 1) first, whole; then the rest from the ten-day one.
    let taken: Vec<(u32, u64)> = takes.iter().map(|t| (t.bucket, t.units)).collect();
    assert_eq!(taken, [(1, 300), (0, 100)]);
    assert_eq!(left(&s, &cat, "79001000001", "SMART_MINUTES"), 500);
    // More than is left: what is left, no more.
    let d = run(&mut s, &cat, &[take("t-2", "SMART_MINUTES", 10_000)]).remove(0);
    assert_eq!(outcome_of(&d), "units_taken");
    assert_eq!(left(&s, &cat, "79001000001", "SMART_MINUTES"), 0);
    // Repeated, and refused.
    let d = run(&mut s, &cat, &[take("t-1", "SMART_MINUTES", 400)]).remove(0);
    assert_eq!(d.outcome, Outcome::Duplicate);
    for (input, expected) in [
        (take("t-3", "NO_SUCH", 1), "rejected unknown_package"),
        (take("t-4", "SMART_SMS", 0), "rejected malformed"),
    ] {
        let d = run(&mut s, &cat, &[input]).remove(0);
        assert_eq!(outcome_of(&d), expected);
    }
    assert_eq!(balance(&s, "A"), m("100.00"), "units only");
}
