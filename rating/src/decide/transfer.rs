//! Money transfers between numbers, through the log. The sender's partition decides the debit
//! ([`Outcome::TransferSent`]); the engine turns that decision into a [`TransferCredit`] input
//! for the receiver's partition ([`derived`]), whose decision is the credit
//! ([`Outcome::TransferReceived`]) or a bounce ([`Outcome::TransferBounced`]) that the engine
//! turns into a [`TransferRefund`] for the sender. Every step is an input with a deterministic
//! id, so a redelivered step is a duplicate and the money moves once: debit and credit (or
//! debit and refund) both happen, whatever crashes between them.

use crate::catalog::Catalog;
use crate::decision::{Decision, Outcome, Rejection};
use crate::event::{Input, Transfer, TransferCredit, TransferRefund};
use crate::renewal::renewed;
use crate::state::State;
use crate::verdict::{check_amount, decided, rejected};
use compact_str::format_compact;
use rust_decimal::Decimal;

pub(crate) fn send(state: &State, cat: &Catalog, input: &Input, order: &Transfer) -> Decision {
    let Some(acct) = state.account_of(order.from) else {
        return rejected(input, cat, None, Rejection::UnknownNumber(order.from));
    };
    let refuse = |why: &str| {
        rejected(
            input,
            cat,
            Some(&acct.id),
            Rejection::TransferRefused(why.into()),
        )
    };
    let Some((max, fee)) = cat.lifecycle.transfers else {
        return refuse("the catalog offers no transfers");
    };
    if let Err(r) = check_amount(cat, order.amount, true) {
        return rejected(input, cat, Some(&acct.id), r);
    }
    if order.amount > max {
        return refuse(&format!("at most {max} per transfer"));
    }
    if acct.number(order.to).is_some() {
        return refuse("the receiver shares the sender's balance");
    }
    let (a, due) = renewed(cat, acct, order.time);
    let n = a
        .number(order.from)
        .expect("the index points at the account holding the number");
    if !n.status.is_active() || a.activity.blocked.is_some() {
        return refuse("the sender's number is not active");
    }
    // Only money that is there: not the credit limit, not a promised payment.
    let owed = a.promise.as_ref().map_or(Decimal::ZERO, |p| p.outstanding);
    if a.balance - owed < order.amount + fee {
        return refuse(&format!(
            "{} and the fee {fee} are more than the {} available",
            order.amount,
            a.balance - owed
        ));
    }
    let balance_after = a.balance - order.amount - fee;
    decided(
        input,
        cat,
        Some(&acct.id),
        due,
        Outcome::TransferSent {
            to: order.to,
            amount: order.amount,
            fee,
            balance_after,
        },
    )
}

pub(crate) fn credit(
    state: &State,
    cat: &Catalog,
    input: &Input,
    credited: &TransferCredit,
) -> Decision {
    let bounce = |account: Option<&str>, reason| {
        decided(
            input,
            cat,
            account,
            Default::default(),
            Outcome::TransferBounced {
                transfer: credited.transfer.clone(),
                from_account: credited.from_account.clone(),
                amount: credited.amount,
                reason,
            },
        )
    };
    let Some(acct) = state.account_of(credited.to) else {
        return bounce(None, Rejection::UnknownNumber(credited.to));
    };
    let (a, due) = renewed(cat, acct, credited.time);
    if a.activity.released.is_some() {
        // Released before the credit: it bounces; the account's tick records the release.
        return bounce(Some(&acct.id), Rejection::Released(acct.id.clone()));
    }
    let balance_after = a.balance + credited.amount;
    if balance_after > crate::money::MAX_AMOUNT {
        // No balance exceeds the limit: the money goes back to the sender.
        return bounce(Some(&acct.id), Rejection::AmountOutOfRange);
    }
    decided(
        input,
        cat,
        Some(&acct.id),
        due,
        Outcome::TransferReceived {
            transfer: credited.transfer.clone(),
            from_account: credited.from_account.clone(),
            amount: credited.amount,
            balance_after,
        },
    )
}

pub(crate) fn refund(
    state: &State,
    cat: &Catalog,
    input: &Input,
    refunded: &TransferRefund,
) -> Decision {
    let Some(acct) = state.account(&refunded.account) else {
        // The sender's account decided the debit, so it exists: this is a forged refund.
        return rejected(
            input,
            cat,
            None,
            Rejection::UnknownAccount(refunded.account.clone()),
        );
    };
    // A refund is owed even to a released account: the money was the sender's.
    let (a, due) = renewed(cat, acct, refunded.time);
    let balance_after = a.balance + refunded.amount;
    decided(
        input,
        cat,
        Some(&acct.id),
        due,
        Outcome::TransferRefunded {
            transfer: refunded.transfer.clone(),
            amount: refunded.amount,
            balance_after,
        },
    )
}

/// The id of a step the engine makes of a transfer (`credit` or `refund`): scoped by the
/// sender's account, whose ids the transfer's id is unique among, and in the namespace no source
/// may use ([`crate::event::DERIVED_ID_PREFIX`]), so that no id an operator sends can be taken
/// for it. The account's length goes first: account and transfer ids may hold `:`.
pub fn step_id(step: &str, sender: &str, transfer: &str) -> crate::event::EventId {
    format_compact!(
        "{}{step}:{}:{sender}:{transfer}",
        crate::event::DERIVED_ID_PREFIX,
        sender.len()
    )
}

/// The input a decision obliges the engine to deliver next, if any: a sent transfer's credit,
/// or a bounced credit's refund.
pub fn derived(decision: &Decision) -> Option<Input> {
    match &decision.outcome {
        Outcome::TransferSent { to, amount, .. } => Some(Input::TransferCredit(TransferCredit {
            id: step_id(
                "credit",
                decision
                    .account
                    .as_deref()
                    .expect("a debit names its account"),
                &decision.event,
            ),
            transfer: decision.event.clone(),
            from_account: decision.account.clone().expect("a debit names its account"),
            to: *to,
            amount: *amount,
            time: decision.time,
        })),
        Outcome::TransferBounced {
            transfer,
            from_account,
            amount,
            ..
        } => Some(Input::TransferRefund(TransferRefund {
            id: step_id("refund", from_account, transfer),
            transfer: transfer.clone(),
            account: from_account.clone(),
            amount: *amount,
            time: decision.time,
        })),
        _ => None,
    }
}
