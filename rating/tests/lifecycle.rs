//! The account lifecycle, as the operator's rules read (example catalog): a change of plan
//! (SMART: switch fee 50.00, 450.00 a month; DAILY: switch fee 30.00, 15.00 a day; the new
//! plan's monthly fee and packages prorated by the days left in the number's month, the old
//! plan's buckets kept until they expire), suspension (2.00 a day instead of the plan's fees),
//! a lost SIM (blocked free), balance alerts (credit limit, low balance, autopay), and the
//! inactivity rules (3.00 a day from day 121 without a payment, blocked after 180 days at zero
//! or below, released 60 days later).

mod common;
use common::*;
use rating::decision::{Alert, FeeKind, FeeSource};
use rating::event::*;
use rating::state::{Autopay, NumberStatus};
use rating::*;
use rust_decimal::Decimal;

const N1: &str = "79001000001";

fn change(id: &str, number: &str, plan: &str, time: &str) -> Input {
    Input::ChangePlan(ChangePlan {
        id: id.into(),
        msisdn: msisdn(number),
        plan: plan.into(),
        time: t(time),
    })
}

fn command(kind: &str, id: &str, number: &str, time: &str) -> Input {
    let c = NumberCommand {
        id: id.into(),
        msisdn: msisdn(number),
        time: t(time),
    };
    match kind {
        "suspend" => Input::Suspend(c),
        "report_lost" => Input::ReportLost(c),
        "resume" => Input::Resume(c),
        k => panic!("{k}"),
    }
}

fn tick(id: &str, account: &str, time: &str) -> Input {
    Input::Tick(Tick {
        id: id.into(),
        account: account.into(),
        time: t(time),
    })
}

fn alerts(id: &str, account: &str, autopay: Option<(&str, &str)>, low: Option<&str>) -> Input {
    Input::SetBalanceAlerts(SetBalanceAlerts {
        id: id.into(),
        account: account.into(),
        time: t("2026-11-01T10:00:00Z"),
        autopay: autopay.map(|(threshold, amount)| Autopay {
            threshold: m(threshold),
            amount: m(amount),
        }),
        low_balance: low.map(m),
    })
}

/// Account A with one number on `plan`, opened 1 Nov 2026 (Moscow), `paid` paid in.
fn account(plan: &str, paid: &str) -> (Catalog, State) {
    let cat = postpaid();
    let mut s = State::new();
    run(
        &mut s,
        &cat,
        &[
            open("o", "A", "2026-11-01T09:00:00Z", &[(N1, plan, &[])]),
            pay("p0", "A", "2026-11-01T09:01:00Z", paid),
        ],
    );
    (cat, s)
}

fn balance(s: &State) -> String {
    s.account("A").unwrap().balance.to_string()
}

fn fees(d: &Decision) -> Vec<(FeeKind, String)> {
    match &d.outcome {
        Outcome::PlanChanged { fees, .. } | Outcome::StatusChanged { fees, .. } => fees
            .iter()
            .map(|f| (f.kind, f.amount.to_string()))
            .collect(),
        o => panic!("{o:?}"),
    }
}

/// Remaining units of the number's buckets of `package`, live at `time`.
fn units(s: &State, cat: &Catalog, package: &str) -> Vec<u64> {
    let n = s.account("A").unwrap().number(msisdn(N1)).unwrap();
    n.buckets
        .iter()
        .filter(|b| cat.packages[b.package as usize].id == package)
        .map(|b| b.remaining)
        .collect()
}

#[test]
fn a_change_of_plan_charges_the_switch_fee_and_the_rest_of_the_month() {
    // (from, to, when (UTC; Moscow is +3), fees charged, minutes and SMS granted)
    let cases = [
        // 15 of November's 30 days left: half of 450.00, half of the packages.
        (
            "BASIC",
            "SMART",
            "2026-11-16T09:00:00Z",
            vec![(FeeKind::Switch, "50.00"), (FeeKind::Monthly, "225.00")],
            (9000, 50),
        ),
        // The last day of the month: 1/30 of 450.00 is 15.00.
        (
            "BASIC",
            "SMART",
            "2026-11-30T20:00:00Z",
            vec![(FeeKind::Switch, "50.00"), (FeeKind::Monthly, "15.00")],
            (600, 3),
        ),
        // The first day: all of it.
        (
            "BASIC",
            "SMART",
            "2026-11-01T12:00:00Z",
            vec![(FeeKind::Switch, "50.00"), (FeeKind::Monthly, "450.00")],
            (18000, 100),
        ),
        // DAILY's day fee starts with the next day; only the switch fee now.
        (
            "BASIC",
            "DAILY",
            "2026-11-16T09:00:00Z",
            vec![(FeeKind::Switch, "30.00")],
            (0, 0),
        ),
        // BASIC has no switch fee and no monthly fee.
        ("DAILY", "BASIC", "2026-11-16T09:00:00Z", vec![], (0, 0)),
    ];
    for (from, to, when, expected, (minutes, sms)) in cases {
        let (cat, mut s) = account(from, "1000.00");
        step(&mut s, &cat, &tick("t", "A", when)); // the old plan's days until then
        let before = s.account("A").unwrap().balance;
        let d = step(&mut s, &cat, &change("c", N1, to, when));
        let got = fees(&d);
        let want: Vec<(FeeKind, String)> =
            expected.iter().map(|(k, a)| (*k, a.to_string())).collect();
        assert_eq!(got, want, "{from} → {to} at {when}");
        let paid: Decimal = want.iter().map(|(_, a)| m(a)).sum();
        assert_eq!(
            s.account("A").unwrap().balance,
            before - paid,
            "{from} → {to}"
        );
        let n = s.account("A").unwrap().number(msisdn(N1)).unwrap();
        assert_eq!(cat.plans[n.plan as usize].id, to);
        let total = |p: &str| units(&s, &cat, p).iter().sum::<u64>();
        assert_eq!(
            (total("SMART_MINUTES"), total("SMART_SMS")),
            (minutes, sms),
            "{from} → {to} at {when}"
        );
    }
}

#[test]
fn the_old_plans_buckets_stay_until_they_expire_and_do_not_roll_over() {
    let (cat, mut s) = account("SMART", "1000.00");
    let d = step(
        &mut s,
        &cat,
        &change("c", N1, "DAILY", "2026-11-16T09:00:00Z"),
    );
    assert!(matches!(d.outcome, Outcome::PlanChanged { ref dropped, .. } if dropped.is_empty()));
    assert_eq!(units(&s, &cat, "SMART_MINUTES"), vec![18000], "kept");
    assert_eq!(
        units(&s, &cat, "DAILY_DATA"),
        vec![524_288_000],
        "granted today"
    );
    // At the month's end SMART's minutes expire: no rollover, no new SMART buckets.
    let d = step(&mut s, &cat, &tick("t", "A", "2026-12-01T12:00:00Z"));
    assert!(units(&s, &cat, "SMART_MINUTES").is_empty(), "{d:?}");
    let renewal_fees: Vec<_> = d.renewals.iter().flat_map(|r| &r.fees).collect();
    assert_eq!(
        renewal_fees.len(),
        15,
        "DAILY's 15.00 for each of 17 Nov .. 1 Dec"
    );
    assert!(renewal_fees
        .iter()
        .all(|f| f.kind == FeeKind::Daily && f.amount == m("15.00")));
}

#[test]
fn a_change_of_plan_is_refused_where_it_cannot_apply() {
    let (cat, mut s) = account("SMART", "1000.00");
    let cases = [
        (
            change("c1", N1, "SMART", "2026-11-16T09:00:00Z"),
            "already on plan",
        ),
        (
            change("c2", N1, "GOLD", "2026-11-16T09:00:00Z"),
            "unknown plan",
        ),
        (
            change("c3", "79001000009", "BASIC", "2026-11-16T09:00:00Z"),
            "unknown number",
        ),
    ];
    for (input, words) in cases {
        let d = step(&mut s, &cat, &input);
        match &d.outcome {
            Outcome::Rejected(r) => assert!(r.to_string().contains(words), "{r}"),
            o => panic!("{o:?}"),
        }
    }
    assert_eq!(
        balance(&s),
        "450.00",
        "nothing charged: 1000.00 less SMART's connection and first month"
    );
}

#[test]
fn a_suspended_number_pays_the_reduced_fee_and_resumes_for_the_rest_of_the_month() {
    let (cat, mut s) = account("SMART", "1000.00");
    assert_eq!(balance(&s), "450.00");
    step(
        &mut s,
        &cat,
        &command("suspend", "s1", N1, "2026-11-10T09:00:00Z"),
    );
    // 2.00 for each day from 11 Nov; no 450.00 on 1 Dec and no December packages.
    let d = step(&mut s, &cat, &tick("t1", "A", "2026-12-04T12:00:00Z"));
    let fees: Vec<_> = d.renewals.iter().flat_map(|r| &r.fees).collect();
    assert_eq!(fees.len(), 24, "11 Nov .. 4 Dec");
    assert!(fees
        .iter()
        .all(|f| f.source == FeeSource::Suspension && f.amount == m("2.00")));
    assert_eq!(balance(&s), "402.00");
    assert!(
        units(&s, &cat, "SMART_MINUTES").is_empty(),
        "November's expired, none granted"
    );
    // Usage while suspended is charged (it happened) and flagged.
    let d = step(
        &mut s,
        &cat,
        &usage(
            "u1",
            N1,
            Service::Sms,
            Some("79161234567"),
            "2026-12-04T13:00:00Z",
            1,
        ),
    );
    assert!(
        d.alerts
            .iter()
            .any(|a| matches!(a, Alert::UsageWhileBarred { status, .. } if status == "suspended")),
        "{d:?}"
    );
    let after_sms = s.account("A").unwrap().balance;
    // Resumed on 5 Dec: 27 of December's 31 days, 450.00 × 27 / 31 = 391.935… → 391.94 (up).
    let d = step(
        &mut s,
        &cat,
        &command("resume", "s2", N1, "2026-12-05T09:00:00Z"),
    );
    assert_eq!(
        crate::fees(&d),
        vec![(FeeKind::Monthly, "391.94".to_string())]
    );
    // 5 Dec began suspended: its 2.00 is due first.
    let due: Vec<_> = d.renewals.iter().flat_map(|r| &r.fees).collect();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].source, due[0].amount),
        (FeeSource::Suspension, m("2.00"))
    );
    assert_eq!(
        s.account("A").unwrap().balance,
        after_sms - m("2.00") - m("391.94")
    );
    assert_eq!(units(&s, &cat, "SMART_SMS"), vec![100 * 27 / 31]);
    // And the next month is the plan's as usual.
    let d = step(&mut s, &cat, &tick("t2", "A", "2027-01-01T12:00:00Z"));
    let fees: Vec<_> = d.renewals.iter().flat_map(|r| &r.fees).collect();
    assert_eq!(fees.len(), 1);
    assert_eq!(
        (fees[0].kind, fees[0].amount),
        (FeeKind::Monthly, m("450.00"))
    );
}

#[test]
fn status_commands_follow_the_status_machine() {
    // (command sequence, the last one's outcome: the status reached or the refusal's words)
    let cases: &[(&[&str], Result<&str, &str>)] = &[
        (&["suspend"], Ok("suspended")),
        (&["report_lost"], Ok("lost")),
        (&["suspend", "report_lost"], Ok("lost")),
        (&["suspend", "resume"], Ok("active")),
        (&["report_lost", "resume"], Ok("active")),
        (&["resume"], Err("is active; resume does not apply")),
        (
            &["suspend", "suspend"],
            Err("is suspended; suspend does not apply"),
        ),
        (
            &["report_lost", "suspend"],
            Err("is lost; suspend does not apply"),
        ),
    ];
    for (commands, expected) in cases {
        let (cat, mut s) = account("BASIC", "100.00");
        let mut last = None;
        for (i, c) in commands.iter().enumerate() {
            let when = format!("2026-11-1{i}T09:00:00Z");
            last = Some(step(&mut s, &cat, &command(c, &format!("c{i}"), N1, &when)));
        }
        let d = last.unwrap();
        let status = s.account("A").unwrap().number(msisdn(N1)).unwrap().status;
        match (expected, &d.outcome) {
            (Ok(name), Outcome::StatusChanged { .. }) => assert_eq!(status.name(), *name),
            (Err(words), Outcome::Rejected(r)) => {
                assert!(r.to_string().contains(words), "{commands:?}: {r}");
            }
            (e, o) => panic!("{commands:?}: expected {e:?}, got {o:?}"),
        }
    }
}

#[test]
fn a_lost_sim_is_blocked_free_of_charge() {
    let (cat, mut s) = account("DAILY", "100.00");
    let before = s.account("A").unwrap().balance;
    step(
        &mut s,
        &cat,
        &command("report_lost", "l", N1, "2026-11-01T10:00:00Z"),
    );
    let d = step(&mut s, &cat, &tick("t", "A", "2026-11-20T12:00:00Z"));
    assert!(d.renewals.iter().all(|r| r.fees.is_empty()), "{d:?}");
    assert_eq!(s.account("A").unwrap().balance, before);
    assert!(matches!(
        s.account("A").unwrap().number(msisdn(N1)).unwrap().status,
        NumberStatus::Lost { .. }
    ));
}

#[test]
fn balance_alerts_are_raised_when_a_threshold_is_crossed() {
    // (credit limit, autopay (threshold, amount), low balance, paid in, the SMS sent (5.00 each
    // off-net… see SMS_HOME), then a payment, the alerts of each event in order)
    let cat = postpaid();
    let sms_price = {
        let mut s = State::new();
        run(
            &mut s,
            &cat,
            &[
                open("o", "A", "2026-11-01T09:00:00Z", &[(N1, "BASIC", &[])]),
                pay("p", "A", "2026-11-01T09:01:00Z", "100.00"),
            ],
        );
        let d = step(
            &mut s,
            &cat,
            &usage(
                "u",
                N1,
                Service::Sms,
                Some("79161234567"),
                "2026-11-02T09:00:00Z",
                1,
            ),
        );
        match d.outcome {
            Outcome::Charged(c) => c.money,
            o => panic!("{o:?}"),
        }
    };
    assert!(sms_price > Decimal::ZERO);
    let mut s = State::new();
    let mut o = open("o", "A", "2026-11-01T09:00:00Z", &[(N1, "BASIC", &[])]);
    if let Input::OpenAccount(x) = &mut o {
        x.credit_limit = sms_price;
    }
    run(&mut s, &cat, &[o]);
    let cent = m("0.01");
    let autopay_below = sms_price + cent;
    let low_below = sms_price * Decimal::from(3) + cent;
    let d = step(
        &mut s,
        &cat,
        &alerts(
            "al",
            "A",
            Some((&autopay_below.to_string(), "300.00")),
            Some(&low_below.to_string()),
        ),
    );
    assert!(matches!(d.outcome, Outcome::BalanceAlertsSet { .. }));
    // Paid in: four SMS' worth. Each SMS takes one price off.
    run(
        &mut s,
        &cat,
        &[pay(
            "p",
            "A",
            "2026-11-01T09:01:00Z",
            &(sms_price * Decimal::from(4)).to_string(),
        )],
    );
    let names = |d: &Decision| -> Vec<&'static str> {
        d.alerts
            .iter()
            .map(|a| match a {
                Alert::Blocked { .. } => "blocked",
                Alert::Unblocked { .. } => "unblocked",
                Alert::LowBalance { .. } => "low_balance",
                Alert::Autopay { .. } => "autopay",
                Alert::UsageWhileBarred { .. } => "barred",
                Alert::OverSpendingLimit { .. } => "over_limit",
            })
            .collect()
    };
    // Balance after each SMS, in prices: 3 (below the low-balance threshold of 3 and a kopeck),
    // 2, 1 (below autopay's 1 and a kopeck), 0, -1 (at the credit limit, not below it), -2
    // (below: blocked).
    let expected: &[&[&str]] = &[&["low_balance"], &[], &["autopay"], &[], &[], &["blocked"]];
    for (i, want) in expected.iter().enumerate() {
        let d = step(
            &mut s,
            &cat,
            &usage(
                &format!("u{i}"),
                N1,
                Service::Sms,
                Some("79161234567"),
                &format!("2026-11-02T1{i}:00:00Z"),
                1,
            ),
        );
        assert_eq!(names(&d), *want, "SMS {i}: balance {}: {d:?}", balance(&s));
        let over = matches!(&d.outcome, Outcome::Charged(c) if c.over_limit);
        assert_eq!(over, i == 5, "SMS {i} flagged over the limit");
    }
    // The autopay's money arrives: back above the limit.
    let d = step(
        &mut s,
        &cat,
        &pay("ap", "A", "2026-11-03T09:00:00Z", "300.00"),
    );
    assert_eq!(names(&d), vec!["unblocked"]);
}

#[test]
fn the_inactivity_rules_run_by_event_time() {
    // Paid 10.00 on 1 Nov (Moscow). Day 121 is 1 Mar 2027.
    let (cat, mut s) = account("BASIC", "10.00");
    let d = step(&mut s, &cat, &tick("t1", "A", "2027-02-28T12:00:00Z"));
    assert!(d.inactivity.is_none(), "day 120: {d:?}");
    let d = step(&mut s, &cat, &tick("t2", "A", "2027-03-01T12:00:00Z"));
    let w = d.inactivity.as_ref().expect("day 121");
    assert_eq!(w.fees.len(), 1);
    assert_eq!(
        (w.fees[0].source, w.fees[0].amount),
        (FeeSource::Inactivity, m("3.00"))
    );
    assert_eq!(
        w.fees[0].at,
        t("2027-02-28T21:00:00Z"),
        "at Moscow's midnight"
    );
    // 3.00, 3.00, then the last 1.00 of the 7.00 left: the fee takes what money there is.
    let d = step(&mut s, &cat, &tick("t3", "A", "2027-03-10T12:00:00Z"));
    let taken: Vec<String> = d
        .inactivity
        .iter()
        .flat_map(|w| &w.fees)
        .map(|f| f.amount.to_string())
        .collect();
    assert_eq!(taken, vec!["3.00", "3.00", "1.00"]);
    assert_eq!(balance(&s), "0.00");
    // Zero since the fee of 4 Mar (Moscow): blocked 180 days later.
    let since = s.account("A").unwrap().activity.nonpositive_since.unwrap();
    assert_eq!(since, t("2027-03-03T21:00:00Z"));
    let d = step(&mut s, &cat, &tick("t4", "A", "2027-08-30T20:59:59Z"));
    assert!(d.inactivity.as_ref().is_none_or(|w| w.blocked.is_none()));
    let d = step(&mut s, &cat, &tick("t5", "A", "2027-08-30T21:00:00Z"));
    assert_eq!(
        d.inactivity.as_ref().and_then(|w| w.blocked),
        Some(t("2027-08-30T21:00:00Z"))
    );
    // Usage while blocked is charged and flagged.
    let d = step(
        &mut s,
        &cat,
        &usage(
            "u",
            N1,
            Service::Sms,
            Some("79161234567"),
            "2027-09-01T12:00:00Z",
            1,
        ),
    );
    assert!(d
        .alerts
        .iter()
        .any(|a| matches!(a, Alert::UsageWhileBarred { status, .. } if status == "blocked for inactivity")));
    // A payment restores it and stops the fees.
    let d = step(
        &mut s,
        &cat,
        &pay("p1", "A", "2027-09-02T12:00:00Z", "100.00"),
    );
    assert!(matches!(d.outcome, Outcome::Paid { .. }));
    let a = s.account("A").unwrap();
    assert_eq!((a.activity.blocked, a.activity.fee_days), (None, 0));
}

#[test]
fn an_account_blocked_for_inactivity_is_released_after_the_restore_window() {
    // Never paid: zero since the opening, 1 Nov 2026 09:00 UTC.
    let cat = postpaid();
    let mut s = State::new();
    run(
        &mut s,
        &cat,
        &[open(
            "o",
            "A",
            "2026-11-01T09:00:00Z",
            &[(N1, "BASIC", &[])],
        )],
    );
    let blocked = t("2026-11-01T09:00:00Z").plus(180 * 86_400);
    let released = blocked.plus(60 * 86_400);
    let a = s.account("A").unwrap().clone();
    // The engine ticks an account when its work is due: not before the block, then at it.
    assert!(!rating::work_due(&cat, &a, Timestamp(blocked.0 - 1)));
    assert!(rating::work_due(&cat, &a, blocked));
    let sms = |id: &str, time: &str| usage(id, N1, Service::Sms, Some("79161234567"), time, 1);
    // Usage after the release, before anything recorded it: refused, and nothing recorded.
    let d = step(&mut s, &cat, &sms("u0", "2027-07-14T12:00:00Z"));
    assert!(
        matches!(d.outcome, Outcome::Rejected(Rejection::Released(_))),
        "{d:?}"
    );
    assert!(s.account("A").unwrap().activity.released.is_none());
    // The account's tick records both.
    let d = step(&mut s, &cat, &tick("t1", "A", "2027-07-15T00:00:00Z"));
    let w = d.inactivity.expect("both due by then");
    assert_eq!((w.blocked, w.released), (Some(blocked), Some(released)));
    assert!(!rating::work_due(
        &cat,
        s.account("A").unwrap(),
        t("2030-01-01T00:00:00Z")
    ));
    // Its number went back to the operator: unknown now, and another account may take it.
    let d = step(&mut s, &cat, &sms("u", "2027-07-16T12:00:00Z"));
    assert!(
        matches!(d.outcome, Outcome::Rejected(Rejection::UnknownNumber(_))),
        "{d:?}"
    );
    let d = step(
        &mut s,
        &cat,
        &pay("p", "A", "2027-07-16T12:00:00Z", "100.00"),
    );
    assert!(
        matches!(d.outcome, Outcome::Rejected(Rejection::Released(_))),
        "{d:?}"
    );
    // Nor anything else that names the account: a new number.
    let add = Input::AddNumber(AddNumber {
        id: "n".into(),
        account: "A".into(),
        time: t("2027-07-16T12:00:00Z"),
        number: NewNumber {
            msisdn: msisdn("79001000005"),
            plan: "BASIC".into(),
            options: vec![],
        },
    });
    let d = step(&mut s, &cat, &add);
    assert!(
        matches!(d.outcome, Outcome::Rejected(Rejection::Released(_))),
        "{d:?}"
    );
    let d = step(
        &mut s,
        &cat,
        &open("o2", "B", "2027-08-01T09:00:00Z", &[(N1, "BASIC", &[])]),
    );
    assert!(matches!(d.outcome, Outcome::Opened { .. }), "{d:?}");
    assert_eq!(s.account_of_number(msisdn(N1)).unwrap().id, "B");
    // And a state restored from the stored accounts agrees (the released one does not
    // claim the number back).
    let mut restored = State::new();
    for a in s.accounts() {
        restored.restore(a.clone());
    }
    assert_eq!(restored.account_of_number(msisdn(N1)).unwrap().id, "B");
}

fn limit(id: &str, number: &str, amount: Option<&str>, time: &str) -> Input {
    Input::SetSpendingLimit(SetSpendingLimit {
        id: id.into(),
        msisdn: msisdn(number),
        limit: amount.map(m),
        time: t(time),
    })
}

#[test]
fn a_family_numbers_usage_over_its_monthly_limit_is_charged_and_flagged() {
    // A parent's account with a child's number (N2) limited to 5.00 a month; SMS at 2.00.
    const N2: &str = "79001000002";
    let cat = postpaid();
    let mut s = State::new();
    run(
        &mut s,
        &cat,
        &[
            open(
                "o",
                "A",
                "2026-11-01T09:00:00Z",
                &[(N1, "BASIC", &[]), (N2, "BASIC", &[])],
            ),
            pay("p", "A", "2026-11-01T09:01:00Z", "100.00"),
            limit("l", N2, Some("5.00"), "2026-11-01T10:00:00Z"),
        ],
    );
    let sms =
        |id: &str, n: &str, time: &str| usage(id, n, Service::Sms, Some("79161234567"), time, 1);
    let over = |d: &Decision| -> Option<(String, bool)> {
        d.alerts.iter().find_map(|a| match a {
            Alert::OverSpendingLimit { spent, first, .. } => Some((spent.to_string(), *first)),
            _ => None,
        })
    };
    // (event, over the limit: (month's spending, the crossing))
    let cases: Vec<(Input, Option<(&str, bool)>)> = vec![
        (sms("u1", N2, "2026-11-02T10:00:00Z"), None),
        (sms("u2", N2, "2026-11-03T10:00:00Z"), None),
        (sms("u3", N2, "2026-11-04T10:00:00Z"), Some(("6.00", true))),
        (sms("u4", N2, "2026-11-05T10:00:00Z"), Some(("8.00", false))),
        // The parent's number has no limit.
        (sms("u5", N1, "2026-11-05T10:00:00Z"), None),
        // A new month (Moscow) starts from nothing.
        (sms("u6", N2, "2026-11-30T21:00:00Z"), None),
    ];
    for (input, expected) in cases {
        let d = step(&mut s, &cat, &input);
        assert!(matches!(d.outcome, Outcome::Charged(_)), "{d:?}");
        let expected = expected.map(|(a, b)| (a.to_string(), b));
        assert_eq!(over(&d), expected, "{}", input.id());
    }
    assert_eq!(balance(&s), "88.00", "every SMS was charged");
    // Lifting the limit stops the flags.
    step(&mut s, &cat, &limit("l2", N2, None, "2026-12-02T10:00:00Z"));
    let d = step(&mut s, &cat, &sms("u7", N2, "2026-12-02T11:00:00Z"));
    assert_eq!(over(&d), None);
}

#[test]
fn loyalty_points_accrue_on_spending_carrying_the_remainder() {
    // One point per 10.00 spent (example catalog). SMART's connection and first month:
    // 550.00 → 55 points.
    let (cat, mut s) = account("SMART", "1000.00");
    let l = |s: &State| {
        let a = s.account("A").unwrap();
        (a.loyalty.points, a.loyalty.towards_next.to_string())
    };
    assert_eq!(l(&s), (55, "0.00".to_string()));
    // Payments earn nothing; SMS over the packages do: 100 free, then 2.00 each… SMART's
    // package covers them, so a voice call abroad it is (no package for it).
    step(
        &mut s,
        &cat,
        &pay("p1", "A", "2026-11-02T09:00:00Z", "500.00"),
    );
    assert_eq!(l(&s).0, 55);
    let d = step(
        &mut s,
        &cat,
        &usage(
            "u",
            N1,
            Service::Voice,
            Some("441234567890"),
            "2026-11-02T10:00:00Z",
            125,
        ),
    );
    let money = match &d.outcome {
        Outcome::Charged(c) => c.money,
        o => panic!("{o:?}"),
    };
    assert!(money > Decimal::ZERO);
    let points = (money / m("10.00")).floor();
    assert_eq!(
        l(&s),
        (
            55 + u64::try_from(points).unwrap(),
            (money - points * m("10.00")).to_string()
        )
    );
}
