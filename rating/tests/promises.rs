//! Promised payments, as the operator's rules read (example catalog: at most 500.00, and at
//! most half of what was paid this and the two previous months; 3 days; a fee of 10.00).

mod common;
use common::*;
use rating::event::*;
use rating::*;

fn ask(id: &str, account: &str, time: &str, amount: &str) -> Input {
    Input::RequestPromise(RequestPromise {
        id: id.into(),
        account: Some(account.into()),
        msisdn: None,
        amount: m(amount),
        time: t(time),
    })
}

fn refused(d: &Decision) -> String {
    match &d.outcome {
        Outcome::Rejected(Rejection::PromiseRefused(why)) => why.to_string(),
        o => panic!("expected a refusal, got {o:?}"),
    }
}

/// A BASIC account (no fees) opened on 1 Nov with `paid` paid in.
fn account(paid: &str) -> (Catalog, State) {
    let cat = example();
    let mut s = State::new();
    run(
        &mut s,
        &cat,
        &[open(
            "o",
            "A",
            "2026-11-01T09:00:00Z",
            &[("79001000001", "BASIC", &[])],
        )],
    );
    if paid != "0" {
        run(
            &mut s,
            &cat,
            &[pay("p0", "A", "2026-11-01T09:01:00Z", paid)],
        );
    }
    (cat, s)
}

#[test]
fn the_amount_allowed_follows_the_policy() {
    // (paid in the last three months, asked, granted or the refusal's words)
    let cases = [
        ("400.00", "200.00", Ok("200.00")),
        ("400.00", "200.01", Err("at most 200.00")),
        ("2000.00", "500.00", Ok("500.00")),
        ("2000.00", "500.01", Err("at most 500.00")),
        ("0", "10.00", Err("at most 0.00")),
        ("0.03", "0.01", Ok("0.01")),
    ];
    for (paid, asked, expected) in cases {
        let (cat, mut s) = account(paid);
        let d = step(&mut s, &cat, &ask("pp", "A", "2026-11-05T10:00:00Z", asked));
        match expected {
            Ok(amount) => match &d.outcome {
                Outcome::PromiseGranted {
                    amount: a,
                    fee,
                    expires,
                    ..
                } => {
                    assert_eq!(
                        (a.to_string().as_str(), fee.to_string().as_str()),
                        (amount, "10.00")
                    );
                    assert_eq!(
                        *expires,
                        t("2026-11-08T10:00:00Z"),
                        "three days of event time"
                    );
                }
                o => panic!("paid {paid}, asked {asked}: {o:?}"),
            },
            Err(words) => {
                let why = refused(&d);
                assert!(why.contains(words), "paid {paid}, asked {asked}: {why}");
            }
        }
    }
}

#[test]
fn payments_older_than_two_months_back_do_not_count() {
    let (cat, mut s) = account("600.00"); // November
    run(
        &mut s,
        &cat,
        &[pay("p1", "A", "2026-12-10T09:00:00Z", "100.00")],
    );
    // In January, November still counts (this, December and November): (600 + 100) / 2 = 350.
    let d = step(
        &mut s,
        &cat,
        &ask("pp1", "A", "2027-01-10T10:00:00Z", "350.00"),
    );
    assert!(matches!(d.outcome, Outcome::PromiseGranted { .. }), "{d:?}");
    // In February, November is gone: 100 / 2 = 50.
    let (cat, mut s) = account("600.00");
    run(
        &mut s,
        &cat,
        &[pay("p1", "A", "2026-12-10T09:00:00Z", "100.00")],
    );
    let d = step(
        &mut s,
        &cat,
        &ask("pp1", "A", "2027-02-01T10:00:00Z", "50.01"),
    );
    assert!(refused(&d).contains("at most 50.00"));
}

#[test]
fn a_promise_is_granted_at_a_negative_balance_and_only_one_at_a_time() {
    let (cat, mut s) = account("100.00");
    // 100 − 100 min at 1.50 = 50.00 below zero.
    run(
        &mut s,
        &cat,
        &[call(
            "c",
            "79001000001",
            "74951234567",
            "2026-11-02T10:00:00Z",
            100 * 60,
        )],
    );
    assert_eq!(balance(&s, "A"), m("-50.00"));
    let d = step(
        &mut s,
        &cat,
        &ask("pp1", "A", "2026-11-03T10:00:00Z", "50.00"),
    );
    assert!(matches!(d.outcome, Outcome::PromiseGranted { .. }), "{d:?}");
    // 50 credited, 10 fee.
    assert_eq!(balance(&s, "A"), m("-10.00"));
    let d = step(
        &mut s,
        &cat,
        &ask("pp2", "A", "2026-11-03T11:00:00Z", "1.00"),
    );
    assert!(refused(&d).contains("50.00 of the promised payment pp1 is still outstanding"));
}

#[test]
fn payments_repay_the_promise_first_and_the_rest_is_written_off_at_expiry() {
    let (cat, mut s) = account("400.00");
    let steps = [
        // (event, balance after, outstanding after)
        (
            ask("pp", "A", "2026-11-05T10:00:00Z", "200.00"),
            "590.00",
            Some("200.00"),
        ),
        (
            pay("p1", "A", "2026-11-06T10:00:00Z", "120.00"),
            "590.00",
            Some("80.00"),
        ),
        (
            pay("p2", "A", "2026-11-06T11:00:00Z", "100.00"),
            "610.00",
            None,
        ),
        (
            pay("p3", "A", "2026-11-06T12:00:00Z", "100.00"),
            "710.00",
            None,
        ),
    ];
    for (e, bal, owed) in &steps {
        step(&mut s, &cat, e);
        let a = s.account("A").unwrap();
        assert_eq!(a.balance, m(bal), "after {}", e.id());
        assert_eq!(
            a.promise.as_ref().map(|p| p.outstanding),
            owed.map(m),
            "after {}",
            e.id()
        );
    }

    // Another promise, partly repaid, then expiring: the rest comes off the balance.
    let (cat, mut s) = account("400.00");
    run(
        &mut s,
        &cat,
        &[
            ask("pp", "A", "2026-11-05T10:00:00Z", "200.00"),
            pay("p1", "A", "2026-11-06T10:00:00Z", "50.00"),
        ],
    );
    assert_eq!(balance(&s, "A"), m("590.00"));
    // A tick before expiry changes nothing; the first event after it writes 150 off.
    let d = step(
        &mut s,
        &cat,
        &Input::Tick(Tick {
            id: "t1".into(),
            account: "A".into(),
            time: t("2026-11-08T09:59:59Z"),
        }),
    );
    assert!(d.written_off.is_none());
    let d = step(
        &mut s,
        &cat,
        &Input::Tick(Tick {
            id: "t2".into(),
            account: "A".into(),
            time: t("2026-11-08T10:00:00Z"),
        }),
    );
    let w = d.written_off.as_ref().expect("written off at expiry");
    assert_eq!(
        (w.amount, w.at, w.promise.as_str()),
        (m("150.00"), t("2026-11-08T10:00:00Z"), "pp")
    );
    assert_eq!(balance(&s, "A"), m("440.00"));
    assert!(s.account("A").unwrap().promise.is_none());
    // A payment after the write-off repays nothing: the debt was settled from the balance.
    let d = step(
        &mut s,
        &cat,
        &pay("p2", "A", "2026-11-09T10:00:00Z", "100.00"),
    );
    assert!(matches!(d.outcome, Outcome::Paid { repaid, .. } if repaid.is_zero()));
    assert_eq!(balance(&s, "A"), m("540.00"));
    // And a new promise may be granted.
    let d = step(
        &mut s,
        &cat,
        &ask("pp2", "A", "2026-11-09T11:00:00Z", "100.00"),
    );
    assert!(matches!(d.outcome, Outcome::PromiseGranted { .. }), "{d:?}");
}

#[test]
fn a_catalog_without_the_policy_refuses_and_bad_requests_are_rejected() {
    let text = EXAMPLE.replace("[promised_payment]", "[ignored]").replace(
        "[ignored]\nmax_amount = \"500.00\"\nshare_of_recent_payments = \"0.5\"   # and at most half of what was paid this and the last 2 months\nvalidity_days = 3\nfee = \"10.00\"\n",
        "",
    );
    let cat = Catalog::from_toml("no-promises.toml", &text).unwrap();
    assert!(cat.promise.is_none());
    let mut s = State::new();
    run(
        &mut s,
        &cat,
        &[
            open(
                "o",
                "A",
                "2026-11-01T09:00:00Z",
                &[("79001000001", "BASIC", &[])],
            ),
            pay("p0", "A", "2026-11-01T09:01:00Z", "400.00"),
        ],
    );
    assert!(refused(&step(
        &mut s,
        &cat,
        &ask("pp", "A", "2026-11-05T10:00:00Z", "10.00")
    ))
    .contains("offers no promised payments"));

    let (cat, mut s) = account("400.00");
    for (input, reason) in [
        (
            ask("x1", "A", "2026-11-05T10:00:00Z", "-5.00"),
            Rejection::AmountNotPositive,
        ),
        (
            ask("x2", "A", "2026-11-05T10:00:00Z", "1.001"),
            Rejection::AmountDecimals {
                amount: "1.001".into(),
                decimals: 2,
            },
        ),
        (
            ask("x3", "B", "2026-11-05T10:00:00Z", "1.00"),
            Rejection::UnknownAccount("B".into()),
        ),
    ] {
        assert_eq!(
            step(&mut s, &cat, &input).outcome,
            Outcome::Rejected(reason)
        );
    }
}
