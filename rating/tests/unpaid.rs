//! Fees that need funds: a plan or option whose catalog says `when_unpaid = "limit"` takes its
//! period's fee only when the money the account may spend covers it; otherwise the fee is not
//! taken, the period's packages are not granted, and the number is unpaid (usage in money
//! only) until a payment covers the fee for the rest of the period. Joining such an offer
//! needs the money: `insufficient_funds`. `when_unpaid = "charge"` is the post-paid behaviour.

mod common;
use common::*;
use rating::event::*;
use rating::number::Offering;
use rating::*;
use rust_decimal::Decimal;

/// The example catalog (SMART, DAILY and MESSENGERS pre-paid), or post-paid.
fn catalog(limit: bool) -> Catalog {
    if limit {
        example()
    } else {
        postpaid()
    }
}

fn number_of<'a>(s: &'a State, n: &str) -> &'a Number {
    s.account_of_number(msisdn(n))
        .unwrap()
        .number(msisdn(n))
        .unwrap()
}

fn outcome_of(d: &Decision) -> String {
    match &d.outcome {
        Outcome::Rejected(r) => format!("rejected {}", r.code()),
        o => o.name().to_string(),
    }
}

fn fees_of(d: &Decision) -> Decimal {
    d.renewals
        .iter()
        .flat_map(|r| &r.fees)
        .map(|f| f.amount)
        .sum()
}

/// What the catalog's proration makes of `amount` for `left` of `total` days.
fn prorated(cat: &Catalog, amount: &str, left: u32, total: u32) -> Decimal {
    rating::money::Rounding::new(cat.rounding.method, cat.decimals)
        .apply(m(amount) * Decimal::from(left) / Decimal::from(total))
}

#[test]
fn opening_on_a_plan_takes_its_fee_as_the_policy_says() {
    // (limited, balance after opening, unpaid, buckets)
    let cases = [(false, "-550.00", false, 3), (true, "-100.00", true, 0)];
    for (limit, balance_after, unpaid, buckets) in cases {
        let cat = catalog(limit);
        let mut s = State::new();
        run(
            &mut s,
            &cat,
            &[open(
                "o",
                "A",
                "2026-11-01T09:00:00Z",
                &[("79001000001", "SMART", &[])],
            )],
        );
        assert_eq!(balance(&s, "A"), m(balance_after), "limit {limit}");
        let n = number_of(&s, "79001000001");
        assert_eq!(n.is_unpaid(), unpaid, "limit {limit}");
        assert_eq!(n.status_name(), if unpaid { "unpaid" } else { "active" });
        assert_eq!(n.buckets.len(), buckets, "limit {limit}");
    }
}

#[test]
fn an_unpaid_plan_is_settled_by_the_payment_that_covers_the_rest_of_its_month() {
    let cat = catalog(true);
    let mut s = State::new();
    let number = "79001000001";
    run(
        &mut s,
        &cat,
        &[open(
            "o",
            "A",
            "2026-11-01T09:00:00Z",
            &[(number, "SMART", &[])],
        )],
    );
    assert_eq!(number_of(&s, number).unpaid.as_slice(), [Offering::Plan(0)]);
    // Usage is money only meanwhile.
    let c = step(
        &mut s,
        &cat,
        &call("c1", number, "79161234567", "2026-11-01T12:00:00Z", 60),
    );
    assert!(
        charge(&c).takes.is_empty() && charge(&c).money > m("0"),
        "{c:?}"
    );
    // On 2 November 29 of November's 30 days are left: 435.00 of 450.00.
    let fee = prorated(&cat, "450.00", 29, 30);
    assert_eq!(fee, m("435.00"));
    let before = balance(&s, "A");
    // (payment, settled, balance after)
    let cases = [
        ("300.00", false, before + m("300.00")),
        ("300.00", true, before + m("600.00") - fee),
    ];
    for (i, (amount, settled, after)) in cases.into_iter().enumerate() {
        let d = step(
            &mut s,
            &cat,
            &pay(&format!("p{i}"), "A", "2026-11-02T10:00:00Z", amount),
        );
        assert_eq!(outcome_of(&d), "paid");
        assert_eq!(
            fees_of(&d),
            if settled { fee } else { m("0") },
            "payment {i}: {d:?}"
        );
        assert_eq!(balance(&s, "A"), after, "payment {i}");
        assert_eq!(number_of(&s, number).is_unpaid(), !settled, "payment {i}");
    }
    // The packages for the rest of the month: 29/30 of SMART_MINUTES' 18 000 seconds.
    assert_eq!(left(&s, &cat, number, "SMART_MINUTES"), 17_400);
    let c = step(
        &mut s,
        &cat,
        &call("c2", number, "79161234567", "2026-11-03T12:00:00Z", 60),
    );
    assert_eq!(charge(&c).money, m("0"), "from the package now: {c:?}");
    // December's fee finds too little money: not taken, no packages, unpaid again.
    let left_then = balance(&s, "A");
    assert!(left_then < m("450.00"));
    let d = step(
        &mut s,
        &cat,
        &call("c3", number, "79161234567", "2026-12-02T12:00:00Z", 60),
    );
    assert_eq!(fees_of(&d), m("0"), "{d:?}");
    // Only what rolls over of November's paid units; nothing of December's.
    let granted = d.renewals.iter().flat_map(|r| &r.granted);
    assert!(
        granted.clone().all(|b| b.origin == Origin::Rollover),
        "{d:?}"
    );
    assert!(number_of(&s, number).is_unpaid());
    assert!(charge(&d).takes.is_empty());
    // Paid on 10 December (local): 22 of December's 31 days.
    let d = step(
        &mut s,
        &cat,
        &pay("p9", "A", "2026-12-10T10:00:00Z", "1000.00"),
    );
    assert_eq!(fees_of(&d), prorated(&cat, "450.00", 22, 31), "{d:?}");
    assert!(!number_of(&s, number).is_unpaid());
}

#[test]
fn a_daily_plan_pays_day_by_day_while_the_money_lasts() {
    let cat = catalog(true);
    let mut s = State::new();
    let number = "79001000002";
    run(
        &mut s,
        &cat,
        &[open(
            "o",
            "B",
            "2026-11-01T09:00:00Z",
            &[(number, "DAILY", &[])],
        )],
    );
    assert!(number_of(&s, number).is_unpaid());
    // (event, day's fee taken, unpaid after, DAILY_DATA buckets)
    let cases = [
        (
            pay("p1", "B", "2026-11-01T10:00:00Z", "10.00"),
            "0",
            true,
            0,
        ),
        (
            pay("p2", "B", "2026-11-01T11:00:00Z", "20.00"),
            "15.00",
            false,
            1,
        ),
        (
            call("c1", number, "79161234567", "2026-11-02T10:00:00Z", 60),
            "15.00",
            false,
            1,
        ),
        (
            call("c2", number, "79161234567", "2026-11-03T10:00:00Z", 60),
            "0",
            true,
            0,
        ),
    ];
    for (i, (event, fee, unpaid, buckets)) in cases.into_iter().enumerate() {
        let d = step(&mut s, &cat, &event);
        assert_eq!(fees_of(&d), m(fee), "step {i}: {d:?}");
        let n = number_of(&s, number);
        assert_eq!(n.is_unpaid(), unpaid, "step {i}");
        assert_eq!(n.buckets.len(), buckets, "step {i}");
    }
}

#[test]
fn joining_a_limited_offer_needs_the_money_for_its_fees() {
    // (limited, paid in first, command, outcome)
    let activate = |id: &str, option: &str| {
        Input::ActivateOption(OptionChange {
            id: id.into(),
            msisdn: msisdn("79001000003"),
            option: option.into(),
            time: t("2026-11-02T10:00:00Z"),
        })
    };
    let change = |id: &str, plan: &str| {
        Input::ChangePlan(ChangePlan {
            id: id.into(),
            msisdn: msisdn("79001000003"),
            plan: plan.into(),
            time: t("2026-11-02T10:00:00Z"),
        })
    };
    let cases = [
        (
            true,
            "50.00",
            activate("a", "MESSENGERS"),
            "rejected insufficient_funds",
        ),
        (
            true,
            "200.00",
            activate("a", "MESSENGERS"),
            "option_activated",
        ),
        (
            false,
            "0.01",
            activate("a", "MESSENGERS"),
            "option_activated",
        ),
        // TRAVEL is not limited: its connection fee is taken at any balance.
        (true, "0.01", activate("a", "TRAVEL"), "option_activated"),
        // The switch fee now; DAILY's daily fee from the next day.
        (
            true,
            "29.99",
            change("c", "DAILY"),
            "rejected insufficient_funds",
        ),
        (true, "30.00", change("c", "DAILY"), "plan_changed"),
        (
            true,
            "400.00",
            change("c", "SMART"),
            "rejected insufficient_funds",
        ),
        (false, "0.01", change("c", "SMART"), "plan_changed"),
    ];
    for (limit, paid, command, outcome) in cases {
        let cat = catalog(limit);
        let mut s = State::new();
        run(
            &mut s,
            &cat,
            &[
                open(
                    "o",
                    "C",
                    "2026-11-01T09:00:00Z",
                    &[("79001000003", "BASIC", &[])],
                ),
                pay("p", "C", "2026-11-01T09:30:00Z", paid),
            ],
        );
        let d = step(&mut s, &cat, &command);
        assert_eq!(
            outcome_of(&d),
            outcome,
            "limit {limit}, {paid} paid, {command:?}"
        );
        if outcome.starts_with("rejected") {
            assert_eq!(balance(&s, "C"), m(paid), "a refusal takes nothing");
        }
    }
}

#[test]
fn an_unpaid_number_takes_no_units_from_its_other_buckets() {
    let cat = catalog(true);
    let mut s = State::new();
    let number = "79001000004";
    run(
        &mut s,
        &cat,
        &[
            open("o", "D", "2026-11-01T09:00:00Z", &[(number, "SMART", &[])]),
            Input::Grant(Grant {
                id: "g".into(),
                msisdn: msisdn(number),
                package: "SMART_MINUTES".into(),
                amount: 600,
                validity_days: 30,
                reason: "network_outage".into(),
                operator: "petrov".into(),
                time: t("2026-11-01T10:00:00Z"),
            }),
        ],
    );
    let c = step(
        &mut s,
        &cat,
        &call("c", number, "79161234567", "2026-11-01T12:00:00Z", 60),
    );
    assert!(charge(&c).takes.is_empty(), "{c:?}");
    assert_eq!(left(&s, &cat, number, "SMART_MINUTES"), 600);
}
