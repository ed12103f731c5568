//! Who an input names, and when: an account named twice over must be named the same way both
//! times, usage belongs to the holder of its number at the time it happened, and an account id
//! can never be read as a number or a group.

mod common;
use common::*;
use rating::event::*;
use rating::*;

const N: &str = "79001000001";
const OTHER: &str = "79001000002";

/// X holds N from 10 November (12:00 MSK); Y holds OTHER.
fn holders() -> (Catalog, State) {
    let cat = example();
    let mut s = State::new();
    run(
        &mut s,
        &cat,
        &[
            open("ox", "X", "2026-11-10T09:00:00Z", &[(N, "BASIC", &[])]),
            open("oy", "Y", "2026-11-10T09:00:00Z", &[(OTHER, "BASIC", &[])]),
            pay("px", "X", "2026-11-10T09:01:00Z", "100.00"),
        ],
    );
    (cat, s)
}

fn payment(id: &str, account: Option<&str>, number: Option<&str>) -> Input {
    Input::Payment(Payment {
        id: id.into(),
        account: account.map(Into::into),
        msisdn: number.map(msisdn),
        amount: m("10.00"),
        time: t("2026-11-10T10:00:00Z"),
    })
}

#[test]
fn a_payment_naming_an_account_and_another_accounts_number_is_refused() {
    let (cat, mut s) = holders();
    // (account, number, credited to)
    let cases: &[(Option<&str>, Option<&str>, Option<&str>)] = &[
        (Some("X"), None, Some("X")),
        (None, Some(N), Some("X")),
        (Some("X"), Some(N), Some("X")),
        (Some("X"), Some(OTHER), None),
        (Some("Y"), Some(N), None),
        (Some("X"), Some("79009999999"), None),
    ];
    for (i, (account, number, to)) in cases.iter().enumerate() {
        let before = (balance(&s, "X"), balance(&s, "Y"));
        let d = step(&mut s, &cat, &payment(&format!("p{i}"), *account, *number));
        let after = (balance(&s, "X"), balance(&s, "Y"));
        match to {
            Some(a) => {
                assert!(
                    matches!(d.outcome, Outcome::Paid { .. }),
                    "{i}: {:?}",
                    d.outcome
                );
                assert_eq!(d.account.as_deref(), Some(*a));
            }
            None => {
                let Outcome::Rejected(Rejection::Malformed(why)) = &d.outcome else {
                    panic!("{i}: {:?}", d.outcome);
                };
                assert!(why.contains("not that account's"), "{why}");
                assert_eq!(before, after, "{i}: a refused payment moved money");
            }
        }
    }
}

#[test]
fn usage_before_its_number_joined_is_not_the_holders() {
    let (cat, mut s) = holders();
    let before = balance(&s, "X");
    // (start, charged): the day before, the day of joining (MSK) before and from the moment it
    // joined (12:00 MSK), and after.
    let cases = [
        ("2026-11-09T10:00:00Z", false),
        ("2026-11-09T20:59:59Z", false), // 23:59:59 MSK on the 9th
        ("2026-11-09T21:00:00Z", false), // 00:00 MSK on the 10th: the day, not yet the time
        ("2026-11-10T08:59:59Z", false), // a second before it joined
        ("2026-11-10T09:00:00Z", true),  // the second it joined
        ("2026-11-11T10:00:00Z", true),
    ];
    for (i, (start, charged)) in cases.iter().enumerate() {
        let d = step(
            &mut s,
            &cat,
            &call(&format!("c{i}"), N, "79161234567", start, 60),
        );
        match &d.outcome {
            Outcome::Charged(_) => assert!(charged, "{start}: charged"),
            Outcome::Rejected(r @ Rejection::BeforeNumberJoined { .. }) => {
                assert!(!charged, "{start}: {r}");
                assert!(r.to_string().contains("on 2026-11-10"), "{r}");
            }
            Outcome::Rejected(r @ Rejection::BeforeJoiningTime { .. }) => {
                assert!(!charged, "{start}: {r}");
                assert!(r.to_string().contains("at 2026-11-10T09:00:00Z"), "{r}");
            }
            o => panic!("{start}: {o:?}"),
        }
    }
    assert_eq!(balance(&s, "X"), before - m("3.00"), "two minutes at 1.50");
}

#[test]
fn an_account_id_is_never_a_number_or_a_group() {
    for (id, ok) in [
        ("ACC-1", true),
        ("acme.sales", true),
        ("A1", true),
        ("79005550001", false),
        ("+79005550001", false),
        ("0001", false),
        ("ACME/sales", false),
        ("", false),
        ("tab\there", false),
    ] {
        let input = open(
            "o",
            id,
            "2026-11-10T09:00:00Z",
            &[("79001000009", "BASIC", &[])],
        );
        assert_eq!(input.check().is_ok(), ok, "{id:?}: {:?}", input.check());
    }
}

#[test]
fn amounts_are_read_as_written() {
    let (cat, mut s) = holders();
    // More decimals than the currency's two, even as zeros: refused.
    for amount in ["100.000", "100.000000", "0.001"] {
        let p = Input::Payment(Payment {
            id: format!("pay-{amount}").into(),
            account: Some("X".into()),
            msisdn: None,
            amount: rating::money::parse_amount(amount).unwrap(),
            time: t("2026-11-10T10:00:00Z"),
        });
        let d = step(&mut s, &cat, &p);
        assert!(
            matches!(
                d.outcome,
                Outcome::Rejected(Rejection::AmountDecimals { .. })
            ),
            "{amount}: {:?}",
            d.outcome
        );
    }
    assert_eq!(balance(&s, "X").to_string(), "100.00");
}
