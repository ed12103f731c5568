//! Money transfers between numbers (example catalog: at most 15 000.00, a fee of 5.00 to the
//! sender), stepped the way the engine delivers them: the debit's decision derives the credit,
//! a bounced credit's decision derives the refund.

mod common;
use common::*;
use rating::event::*;
use rating::*;

const A: &str = "79001000001";
const B: &str = "79001000002";

fn send(id: &str, from: &str, to: &str, amount: &str) -> Input {
    Input::Transfer(Transfer {
        id: id.into(),
        from: msisdn(from),
        to: msisdn(to),
        amount: m(amount),
        time: t("2026-11-02T10:00:00Z"),
    })
}

/// Steps `input` and everything it derives; the outcomes' names in order.
fn deliver(s: &mut State, cat: &Catalog, input: &Input) -> Vec<String> {
    let mut out = Vec::new();
    let mut next = Some(input.clone());
    while let Some(i) = next {
        let d = step(s, cat, &i);
        out.push(match &d.outcome {
            Outcome::Rejected(r) => format!("rejected: {r}"),
            o => format!("{o:?}")
                .split([' ', '{', '('])
                .next()
                .unwrap()
                .to_string(),
        });
        next = rating::transfer::derived(&d);
    }
    out
}

/// Accounts X (number A, 100.00 in) and Y (number B, 10.00 in), both BASIC (no fees).
fn two() -> (Catalog, State) {
    let cat = example();
    let mut s = State::new();
    run(
        &mut s,
        &cat,
        &[
            open("ox", "X", "2026-11-01T09:00:00Z", &[(A, "BASIC", &[])]),
            open("oy", "Y", "2026-11-01T09:00:00Z", &[(B, "BASIC", &[])]),
            pay("px", "X", "2026-11-01T09:01:00Z", "100.00"),
            pay("py", "Y", "2026-11-01T09:01:00Z", "10.00"),
        ],
    );
    (cat, s)
}

fn balances(s: &State) -> (String, String) {
    (
        s.account("X").unwrap().balance.to_string(),
        s.account("Y").unwrap().balance.to_string(),
    )
}

#[test]
fn a_transfer_debits_the_sender_and_credits_the_receiver_or_comes_back() {
    /// (to, amount, outcomes in order, balances of X and Y after)
    type Case<'a> = (&'a str, &'a str, &'a [&'a str], (&'a str, &'a str));
    let cases: &[Case] = &[
        (B, "50.00", &["TransferSent", "TransferReceived"], ("45.00", "60.00")),
        // All there is: 95.00 and the fee.
        (B, "95.00", &["TransferSent", "TransferReceived"], ("0.00", "105.00")),
        (B, "95.01", &["rejected: transfer refused: 95.01 and the fee 5.00 are more than the 100.00 available"], ("100.00", "10.00")),
        (B, "15000.01", &["rejected: transfer refused: at most 15000.00 per transfer"], ("100.00", "10.00")),
        (B, "0.00", &["rejected: amount must be positive"], ("100.00", "10.00")),
        (B, "1.001", &["rejected: amount 1.001 has more decimals than the currency's 2"], ("100.00", "10.00")),
        // A number nobody has: the credit bounces and the amount (not the fee) comes back.
        ("79009999999", "30.00", &["TransferSent", "TransferBounced", "TransferRefunded"], ("95.00", "10.00")),
        (A, "10.00", &["rejected: transfer refused: the receiver shares the sender's balance"], ("100.00", "10.00")),
    ];
    for (to, amount, outcomes, (x, y)) in cases {
        let (cat, mut s) = two();
        let got = deliver(&mut s, &cat, &send("tr", A, to, amount));
        assert_eq!(&got, outcomes, "{amount} to {to}");
        assert_eq!(
            balances(&s),
            (x.to_string(), y.to_string()),
            "{amount} to {to}"
        );
    }
}

#[test]
fn a_redelivered_step_moves_no_money_twice() {
    let (cat, mut s) = two();
    let t = send("tr", A, B, "50.00");
    let d = step(&mut s, &cat, &t);
    let credit = rating::transfer::derived(&d).unwrap();
    for _ in 0..3 {
        step(&mut s, &cat, &credit);
        assert_eq!(step(&mut s, &cat, &t).outcome, Outcome::Duplicate);
    }
    assert_eq!(balances(&s), ("45.00".to_string(), "60.00".to_string()));
    // And a bounce's refund, delivered twice, refunds once.
    let d = step(&mut s, &cat, &send("tr2", A, "79009999999", "10.00"));
    let bounce = step(&mut s, &cat, &rating::transfer::derived(&d).unwrap());
    let refund = rating::transfer::derived(&bounce).unwrap();
    step(&mut s, &cat, &refund);
    assert_eq!(step(&mut s, &cat, &refund).outcome, Outcome::Duplicate);
    assert_eq!(
        balances(&s).0,
        "40.00",
        "45.00 less the fee: the 10.00 came back"
    );
}

#[test]
fn a_promised_payment_and_the_credit_limit_are_not_for_sending() {
    let cat = example();
    let mut s = State::new();
    let mut o = open("ox", "X", "2026-11-01T09:00:00Z", &[(A, "BASIC", &[])]);
    if let Input::OpenAccount(x) = &mut o {
        x.credit_limit = m("500.00");
    }
    run(
        &mut s,
        &cat,
        &[
            o,
            open("oy", "Y", "2026-11-01T09:00:00Z", &[(B, "BASIC", &[])]),
            pay("px", "X", "2026-11-01T09:01:00Z", "100.00"),
        ],
    );
    let d = step(
        &mut s,
        &cat,
        &Input::RequestPromise(RequestPromise {
            id: "pp".into(),
            account: Some("X".into()),
            msisdn: None,
            amount: m("50.00"),
            time: t("2026-11-01T10:00:00Z"),
        }),
    );
    assert!(matches!(d.outcome, Outcome::PromiseGranted { .. }), "{d:?}");
    // 140.00 on the balance (100 + 50 - the promise's 10.00 fee), 50.00 of it owed.
    let got = deliver(&mut s, &cat, &send("tr", A, B, "85.01"));
    assert_eq!(
        got,
        vec![
            "rejected: transfer refused: 85.01 and the fee 5.00 are more than the 90.00 available"
        ]
    );
    let got = deliver(&mut s, &cat, &send("tr2", A, B, "85.00"));
    assert_eq!(got, vec!["TransferSent", "TransferReceived"]);
}

#[test]
fn the_engines_own_inputs_carry_deterministic_ids() {
    let (cat, mut s) = two();
    let d = step(&mut s, &cat, &send("tr", A, "79009999999", "30.00"));
    let sender = d.account.clone().unwrap();
    let credit = rating::transfer::derived(&d).unwrap();
    let made = format!("ratel:credit:{}:{sender}:tr", sender.len());
    assert_eq!(credit.id(), made.as_str());
    assert!(credit.is_derived());
    let bounce = step(&mut s, &cat, &credit);
    let refund = rating::transfer::derived(&bounce).unwrap();
    let made = format!("ratel:refund:{}:{sender}:tr", sender.len());
    assert_eq!(refund.id(), made.as_str());
    // A transfer id too long for its suffixes is refused before any money moves.
    let long = "x".repeat(rating::event::MAX_TRANSFER_ID_BYTES + 1);
    let d = step(&mut s, &cat, &send(&long, A, B, "1.00"));
    assert!(
        matches!(d.outcome, Outcome::Rejected(Rejection::Malformed(_))),
        "{d:?}"
    );
}

/// Ids the engine makes cannot be taken for ids a source sends: two senders may use one
/// transfer id towards one receiver, and a receiver may have had a payment whose id is what an
/// older build made a credit's id.
#[test]
fn a_credit_is_never_taken_for_another_input() {
    let (cat, mut s) = two();
    const C: &str = "79001000003";
    run(
        &mut s,
        &cat,
        &[
            open("oz", "Z", "2026-11-01T09:00:00Z", &[(C, "BASIC", &[])]),
            pay("pz", "Z", "2026-11-01T09:01:00Z", "100.00"),
            // The receiver's payment with the id an older build gave transfer t7's credit.
            pay("t7:credit", "Y", "2026-11-01T09:02:00Z", "1.00"),
        ],
    );
    // X and Z both send a transfer they call t7 to Y.
    for from in [A, C] {
        let got = deliver(&mut s, &cat, &send("t7", from, B, "20.00"));
        assert_eq!(got, vec!["TransferSent", "TransferReceived"], "from {from}");
    }
    assert_eq!(balance(&s, "Y"), m("51.00"));
    assert_eq!(balance(&s, "X"), m("75.00"));
    assert_eq!(balance(&s, "Z"), m("75.00"));
    // A sender's own repeat is still one transfer.
    let again = deliver(&mut s, &cat, &send("t7", A, B, "20.00"));
    assert_eq!(again, vec!["Duplicate"]);
    assert_eq!(balance(&s, "Y"), m("51.00"));
}

/// No balance goes past the limit of 10^12: a credit that would take it there comes back.
#[test]
fn a_credit_past_the_balance_limit_comes_back() {
    let (cat, mut s) = two();
    let d = run(
        &mut s,
        &cat,
        &[
            pay("big-1", "Y", "2026-11-01T10:00:00Z", "999999999990.00"),
            pay("big-2", "Y", "2026-11-01T10:01:00Z", "0.01"),
        ],
    );
    assert!(
        matches!(d[0].outcome, Outcome::Paid { .. }),
        "{:?}",
        d[0].outcome
    );
    assert_eq!(
        d[1].outcome,
        Outcome::Rejected(Rejection::AmountOutOfRange),
        "a payment past the limit"
    );
    assert_eq!(balance(&s, "Y"), m("1000000000000.00"));
    let got = deliver(&mut s, &cat, &send("over", A, B, "20.00"));
    assert_eq!(
        got,
        vec!["TransferSent", "TransferBounced", "TransferRefunded"]
    );
    assert_eq!(balance(&s, "X"), m("95.00"));
}
