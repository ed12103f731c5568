//! Refunds of usage charges (`refund`) and chargebacks of payments (`reverse_payment`). Each
//! names an earlier decision of its own account, which the engine finds in the log and records
//! with the input ([`Refundable`], made by [`found`]): rating reads no log. A charge is never
//! refunded beyond what it took, over any number of refunds; a payment is reversed once.

use super::account::account_named;
use crate::catalog::Catalog;
use crate::decision::{Decision, Outcome, Rejection, Take};
use crate::event::{EventId, Input, Refund, Refundable, ReversePayment};
use crate::renewal::renewed;
use crate::state::{Account, State, MAX_REFUNDED, REFUNDABLE_DAYS};
use crate::time::Timestamp;
use crate::verdict::{check_amount, decided, rejected};
use rust_decimal::{Decimal, RoundingStrategy};
use smallvec::SmallVec;

/// What `decision` took or brought, if it is the decision `input` refers to (a refund's usage
/// charge, a reversal's payment) and of the same account. `cat` is the catalog that made it
/// (its rate prices the units it took).
pub fn found(input: &Input, cat: &Catalog, decision: &Decision) -> Option<Refundable> {
    let (account, event) = input.refers_to()?;
    if decision.event != *event || decision.account.as_ref() != Some(account) {
        return None;
    }
    match (input, &decision.outcome) {
        (Input::Refund(_), outcome) if outcome.charge().is_some() => {
            let c = outcome.charge()?;
            let units: u64 = c.takes.iter().map(|t| t.units).sum();
            let units_value = match cat.rates.get(c.rate as usize) {
                Some(rate) if units > 0 => crate::price::value_at_rate(rate, units),
                _ => Decimal::ZERO,
            };
            Some(Refundable {
                time: decision.time,
                msisdn: Some(c.msisdn),
                money: c.money,
                takes: c.takes.clone(),
                units_value,
            })
        }
        (Input::ReversePayment(_), Outcome::Paid { amount, .. }) => Some(Refundable {
            time: decision.time,
            msisdn: None,
            money: *amount,
            takes: SmallVec::new(),
            units_value: Decimal::ZERO,
        }),
        _ => None,
    }
}

/// Whether a refund or a reversal may name `decision`: a usage charge (an ended session's
/// too), or a payment (not a refusal or a repeat of its id).
pub fn may_be_named(decision: &Decision) -> bool {
    decision.outcome.charge().is_some() || matches!(decision.outcome, Outcome::Paid { .. })
}

/// `input` with what the engine found of the decision it refers to (or nothing found).
pub fn with_found(input: &Input, found: Option<Refundable>) -> Input {
    let mut input = input.clone();
    match &mut input {
        Input::Refund(x) => x.found = found.map(Box::new),
        Input::ReversePayment(x) => x.found = found.map(Box::new),
        _ => {}
    }
    input
}

pub(crate) fn refund(state: &State, cat: &Catalog, input: &Input, refund: &Refund) -> Decision {
    let named = (
        &refund.account,
        refund.found.as_deref(),
        Rejection::UnknownCharge(refund.charge.clone()),
    );
    decide_named(state, cat, input, named, |a, found| {
        refunded(cat, a, refund, found)
    })
}

pub(crate) fn reverse_payment(
    state: &State,
    cat: &Catalog,
    input: &Input,
    reverse: &ReversePayment,
) -> Decision {
    let named = (
        &reverse.account,
        reverse.found.as_deref(),
        Rejection::UnknownPayment(reverse.payment.clone()),
    );
    decide_named(state, cat, input, named, |a, found| {
        refundable_now(a, &reverse.payment, found.time, reverse.time)?;
        if a.refunded(&reverse.payment).is_some() {
            let payment = &reverse.payment;
            return Err(refused(format!("payment {payment} was reversed before")));
        }
        Ok(Outcome::PaymentReversed {
            payment: reverse.payment.clone(),
            paid_at: found.time,
            amount: found.money,
            reason: reverse.reason.clone(),
            operator: reverse.operator.clone(),
            balance_after: a.balance - found.money,
        })
    })
}

/// A refund's or a reversal's decision: its account, what the engine found of the decision it
/// names (nothing: refused as `unknown`), then `outcome` of the account after the work due.
fn decide_named(
    state: &State,
    cat: &Catalog,
    input: &Input,
    (account, found, unknown): (&crate::event::AccountId, Option<&Refundable>, Rejection),
    outcome: impl FnOnce(&Account, &Refundable) -> Result<Outcome, Rejection>,
) -> Decision {
    let acct = match account_named(state, Some(account), None, input.kind()) {
        Ok(a) => a,
        Err(r) => return rejected(input, cat, None, r),
    };
    let Some(found) = found else {
        return rejected(input, cat, Some(&acct.id), unknown);
    };
    let (a, due) = renewed(cat, acct, input.time());
    match outcome(&a, found) {
        Ok(outcome) => decided(input, cat, Some(&acct.id), due, outcome),
        Err(r) => rejected(input, cat, Some(&acct.id), r),
    }
}

fn refused(why: String) -> Rejection {
    Rejection::RefundRefused(why.into())
}

/// Whether the charge or payment `event` of `then` can still be refunded at `now`: not dated
/// after the refund, not older than [`REFUNDABLE_DAYS`], and room to remember it.
fn refundable_now(
    account: &Account,
    event: &EventId,
    then: Timestamp,
    now: Timestamp,
) -> Result<(), Rejection> {
    if now < then {
        return Err(refused(format!("{event} is dated after the refund")));
    }
    if now.0 - then.0 > REFUNDABLE_DAYS as i64 * 86_400 {
        return Err(refused(format!(
            "{event} is more than {REFUNDABLE_DAYS} days old"
        )));
    }
    if account.refunded(event).is_none() && account.refunds.len() >= MAX_REFUNDED {
        return Err(refused(format!(
            "the account has refunds of {MAX_REFUNDED} charges and payments in force"
        )));
    }
    Ok(())
}

/// The refund of `found` that `refund` asks for, within what is left of it.
fn refunded(
    cat: &Catalog,
    account: &Account,
    refund: &Refund,
    found: &Refundable,
) -> Result<Outcome, Rejection> {
    refundable_now(account, &refund.charge, found.time, refund.time)?;
    let taken: u64 = found.takes.iter().map(|t| t.units).sum();
    let (money_done, units_done) = account
        .refunded(&refund.charge)
        .map_or((Decimal::ZERO, 0), |r| (r.money, r.units));
    let money_left = found.money - money_done;
    let units_left = taken.saturating_sub(units_done);
    let (money, units) = match (refund.amount, refund.units) {
        (None, None) => (money_left, units_left),
        (amount, units) => (amount.unwrap_or(Decimal::ZERO), units.unwrap_or(0)),
    };
    if money.is_zero() && units == 0 {
        let charge = &refund.charge;
        return Err(refused(format!("nothing of {charge} is left to refund")));
    }
    if money > money_left {
        return Err(refused(format!(
            "{money} asked, {money_left} of the charge's money is left to refund"
        )));
    }
    if units > units_left {
        return Err(refused(format!(
            "{units} units asked, {units_left} of the charge's units are left to refund"
        )));
    }
    check_amount(cat, money, false)?;
    let (to_buckets, as_money) = back_to_buckets(account, found, units_done, units, refund.time);
    // Rounded down: however a charge's units are refunded, in one part or many, the money they
    // come back as never adds up to more than their value.
    let units_money = match taken {
        0 => Decimal::ZERO,
        _ => (found.units_value * Decimal::from(as_money) / Decimal::from(taken))
            .round_dp_with_strategy(cat.decimals, RoundingStrategy::ToZero),
    };
    Ok(Outcome::Refunded {
        charge: refund.charge.clone(),
        msisdn: found.msisdn,
        charged_at: found.time,
        money,
        units,
        to_buckets,
        units_money,
        reason: refund.reason.clone(),
        operator: refund.operator.clone(),
        balance_after: account.balance + money + units_money,
    })
}

/// Where `units` of the charge's units go back, after the `done` refunded before: from its last
/// take backwards, into each bucket they came from while it is valid and has room (and is the
/// bucket the charge took from: it existed then); the rest, how many come back as money.
fn back_to_buckets(
    account: &Account,
    found: &Refundable,
    done: u64,
    units: u64,
    now: Timestamp,
) -> (SmallVec<[Take; 2]>, u64) {
    let number = found.msisdn.and_then(|m| account.number(m));
    let (mut skip, mut left) = (done, units);
    let mut back = SmallVec::new();
    let mut as_money = 0;
    for take in found.takes.iter().rev() {
        let skipped = skip.min(take.units);
        skip -= skipped;
        let here = (take.units - skipped).min(left);
        left -= here;
        if here == 0 {
            continue;
        }
        let room = (number.into_iter().flat_map(|n| n.buckets.iter()))
            .find(|b| b.id == take.bucket && b.valid_from <= found.time && b.valid_until > now)
            .map_or(0, |b| b.total.saturating_sub(b.remaining));
        let into = here.min(room);
        if into > 0 {
            back.push(Take {
                bucket: take.bucket,
                units: into,
            });
        }
        as_money += here - into;
    }
    (back, as_money)
}
