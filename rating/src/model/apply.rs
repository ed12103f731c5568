//! Applying a decision to the state: pure bookkeeping, since a decision carries every amount
//! it moves. A decision that does not fit the state is an inconsistency of the log, reported,
//! never a property of the input.

use crate::decision::{
    held_for_ever, remembered_by, Charge, Decision, Expiry, FeeCharge, InactivityWork, Outcome,
    Renewal, WriteOff,
};
use crate::event::{EventId, Month, Msisdn};
use crate::session::{Session, MAX_OPEN_SESSIONS};
use crate::state::{Account, Bucket, Number, State};
use crate::time::Timestamp;
use rust_decimal::Decimal;

/// Why a decision could not be applied: the log and the state disagree. This is corruption or a
/// bug, never a property of the input.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApplyError {
    #[error("decision {event}: {problem}")]
    Inconsistent { event: EventId, problem: String },
}

fn bad(decision: &Decision, problem: impl Into<String>) -> ApplyError {
    ApplyError::Inconsistent {
        event: decision.event.clone(),
        problem: problem.into(),
    }
}

/// Applies a decision to the state. Applying is pure bookkeeping: every amount is in the decision.
pub fn apply(state: &mut State, decision: &Decision) -> Result<(), ApplyError> {
    match &decision.outcome {
        Outcome::Duplicate => return Ok(()),
        // A bounced transfer credit moves no money: the refund is its own event.
        Outcome::Rejected(_) | Outcome::TransferBounced { .. } => {
            return remember(state, decision);
        }
        Outcome::Opened { account, fees } => {
            open_account(state, decision, account, fees)?;
            return remember(state, decision);
        }
        _ => {}
    }
    let account_id = decision
        .account
        .as_ref()
        .ok_or_else(|| bad(decision, "no account"))?;
    let acct = state
        .account_mut(account_id)
        .ok_or_else(|| bad(decision, format!("unknown account {account_id}")))?;
    apply_periodic_work(acct, decision)?;
    let effects = apply_outcome(acct, decision)?;
    apply_aftermath(acct, decision)?;
    if let Some(msisdn) = effects.new_number {
        state.index_number(account_id, msisdn);
    }
    if decision
        .inactivity
        .as_ref()
        .is_some_and(|work| work.released.is_some())
    {
        state.release_numbers(account_id);
    }
    if let Some((msisdn, month)) = effects.free_report {
        state.restore_free_report(msisdn, month);
    }
    remember(state, decision)
}

/// What an outcome changes beyond its account: the index of numbers, the free reports taken.
#[derive(Default)]
struct Effects {
    new_number: Option<Msisdn>,
    free_report: Option<(Msisdn, Month)>,
}

fn open_account(
    state: &mut State,
    decision: &Decision,
    account: &Account,
    fees: &[FeeCharge],
) -> Result<(), ApplyError> {
    if state.account(&account.id).is_some() {
        return Err(bad(decision, format!("account {} exists", account.id)));
    }
    let mut opened = account.clone();
    for fee in fees {
        opened.balance -= fee.amount;
    }
    if let Some(loyalty) = &decision.loyalty {
        opened.loyalty.points += loyalty.points;
        opened.loyalty.towards_next = loyalty.towards_next;
    }
    state.insert_account(opened);
    Ok(())
}

/// The periodic work due before the input: a promise written off, renewals, inactivity rules.
fn apply_periodic_work(acct: &mut Account, decision: &Decision) -> Result<(), ApplyError> {
    if let Some(write_off) = &decision.written_off {
        apply_write_off(acct, write_off).map_err(|problem| bad(decision, problem))?;
    }
    for renewal in &decision.renewals {
        apply_renewal(acct, renewal).map_err(|problem| bad(decision, problem))?;
    }
    if let Some(work) = &decision.inactivity {
        apply_inactivity(acct, work);
    }
    Ok(())
}

/// What every decision on an account records after its outcome: the lowest balance noted, the
/// loyalty points earned, a number's spending towards its limit.
fn apply_aftermath(acct: &mut Account, decision: &Decision) -> Result<(), ApplyError> {
    acct.activity.note_balance(acct.balance, decision.time);
    if let Some(loyalty) = &decision.loyalty {
        acct.loyalty.points += loyalty.points;
        acct.loyalty.towards_next = loyalty.towards_next;
    }
    if let Some(spent) = &decision.spent {
        let limit = acct
            .number_mut(spent.msisdn)
            .and_then(|number| number.limit.as_mut())
            .ok_or_else(|| bad(decision, "spending of a number without a limit"))?;
        limit.month = spent.month;
        limit.spent = spent.spent;
    }
    Ok(())
}

/// The outcome's own change of the account; a table from outcome to its bookkeeping.
fn apply_outcome(acct: &mut Account, decision: &Decision) -> Result<Effects, ApplyError> {
    let mut effects = Effects::default();
    match &decision.outcome {
        Outcome::Charged(charge) => take_charge(acct, decision, charge)?,
        Outcome::Paid { .. } => book_payment(acct, decision)?,
        Outcome::NumberAdded { number, fees } => {
            if acct.number(number.msisdn).is_some() {
                return Err(bad(decision, "number already in account"));
            }
            acct.numbers.push(number.clone());
            pay_fees(acct, fees);
            effects.new_number = Some(number.msisdn);
        }
        Outcome::OptionActivated { .. } | Outcome::StatusChanged { .. } => {
            take_up_period(acct, decision)?;
        }
        Outcome::OptionDeactivated {
            msisdn,
            addon,
            dropped,
        } => {
            let number = number_of(acct, decision, *msisdn)?;
            number.options.retain(|option| option != addon);
            let gone = crate::number::Offering::Addon(*addon);
            number.unpaid.retain(|u| *u != gone);
            number
                .buckets
                .retain(|bucket| !dropped.iter().any(|gone| gone.bucket == bucket.id));
        }
        Outcome::CreditLimitSet { credit_limit } => acct.credit_limit = *credit_limit,
        Outcome::Ticked | Outcome::Reconciled { .. } => {}
        Outcome::PromiseGranted { .. } => grant_promise(acct, decision)?,
        Outcome::DetalizationOrdered { .. } => {
            effects.free_report = order_detalization(acct, decision)?;
        }
        Outcome::PlanChanged { .. } => change_plan(acct, decision)?,
        Outcome::BalanceAlertsSet {
            autopay,
            low_balance,
        } => {
            acct.autopay = *autopay;
            acct.low_balance = *low_balance;
        }
        Outcome::TransferSent { .. }
        | Outcome::TransferReceived { .. }
        | Outcome::TransferRefunded { .. } => move_transfer(acct, decision)?,
        Outcome::GroupSet { msisdn, group } => {
            number_of(acct, decision, *msisdn)?.group = group.clone();
        }
        Outcome::SpendingLimitSet { msisdn, limit } => {
            number_of(acct, decision, *msisdn)?.limit = *limit;
        }
        Outcome::Adjusted { .. } | Outcome::Granted { .. } => correct(acct, decision)?,
        Outcome::PointsRedeemed { .. } => redeem_points(acct, decision)?,
        Outcome::UnitsTaken { msisdn, takes, .. } => {
            take_units(number_of(acct, decision, *msisdn)?, decision, takes)?;
        }
        Outcome::Refunded { .. } | Outcome::PaymentReversed { .. } => {
            refund(acct, decision)?;
        }
        Outcome::Reserved(session) => hold(acct, decision, session)?,
        Outcome::SessionEnded {
            session, charge, ..
        } => end_session(acct, decision, session, charge.as_ref())?,
        Outcome::TransferBounced { .. }
        | Outcome::Opened { .. }
        | Outcome::Duplicate
        | Outcome::Rejected(_) => unreachable!("applied before the account is looked up"),
    }
    Ok(effects)
}

/// The operator's correction: money in or out, or a goodwill bucket.
fn correct(acct: &mut Account, decision: &Decision) -> Result<(), ApplyError> {
    match &decision.outcome {
        Outcome::Adjusted {
            amount,
            balance_after,
            ..
        } => {
            acct.balance += *amount;
            balance_is(decision, acct.balance, *balance_after)
        }
        Outcome::Granted {
            msisdn,
            bucket,
            next_bucket,
            next_due,
            ..
        } => {
            let number = number_of(acct, decision, *msisdn)?;
            give(number, decision, bucket, (*next_bucket, *next_due))
        }
        _ => unreachable!("called for a correction"),
    }
}

/// A charge refunded (money, and units back to their buckets) or a payment reversed; what was
/// refunded of it remembered, and what is no longer refundable forgotten.
fn refund(acct: &mut Account, decision: &Decision) -> Result<(), ApplyError> {
    let (event, time, money, units, balance_after) = match &decision.outcome {
        Outcome::Refunded {
            charge,
            msisdn,
            charged_at,
            money,
            units,
            to_buckets,
            units_money,
            balance_after,
            ..
        } => {
            if !to_buckets.is_empty() {
                let m = msisdn.ok_or_else(|| bad(decision, "units back to no number"))?;
                give_back(number_of(acct, decision, m)?, decision, to_buckets)?;
            }
            acct.balance += *money + *units_money;
            (charge, *charged_at, *money, *units, *balance_after)
        }
        Outcome::PaymentReversed {
            payment,
            paid_at,
            amount,
            balance_after,
            ..
        } => {
            acct.balance -= *amount;
            (payment, *paid_at, *amount, 0, *balance_after)
        }
        _ => unreachable!("called for a refund"),
    };
    balance_is(decision, acct.balance, balance_after)?;
    let horizon = decision.time.0 - crate::state::REFUNDABLE_DAYS as i64 * 86_400;
    acct.refunds.retain(|r| r.time.0 >= horizon);
    match acct.refunds.iter_mut().find(|r| r.event == *event) {
        Some(r) => {
            r.money += money;
            r.units += units;
        }
        None => acct.refunds.push(crate::state::Refunded {
            event: event.clone(),
            time,
            money,
            units,
        }),
    }
    Ok(())
}

/// Units back into the buckets they were taken from, never above what each held at first.
fn give_back(
    number: &mut Number,
    decision: &Decision,
    back: &[crate::decision::Take],
) -> Result<(), ApplyError> {
    for take in back {
        let bucket = (number.buckets.iter_mut())
            .find(|b| b.id == take.bucket)
            .ok_or_else(|| bad(decision, "units back to a bucket the number does not hold"))?;
        if bucket.remaining + take.units > bucket.total {
            return Err(bad(decision, "units back beyond what the bucket held"));
        }
        bucket.remaining += take.units;
    }
    Ok(())
}

/// A bucket given to a number (not bought by its plan), and the number's counters after it.
fn give(
    number: &mut Number,
    decision: &Decision,
    bucket: &Bucket,
    (next_bucket, next_due): (u32, Timestamp),
) -> Result<(), ApplyError> {
    if number.buckets.iter().any(|b| b.id == bucket.id) || bucket.id >= next_bucket {
        return Err(bad(decision, "a given bucket's id is taken or out of turn"));
    }
    number.buckets.push(bucket.clone());
    number.next_bucket = next_bucket;
    number.next_due = next_due;
    Ok(())
}

/// Loyalty points into money or a reward's bucket.
fn redeem_points(acct: &mut Account, decision: &Decision) -> Result<(), ApplyError> {
    let Outcome::PointsRedeemed {
        points,
        money,
        msisdn,
        bucket,
        next_bucket,
        next_due,
        balance_after,
    } = &decision.outcome
    else {
        unreachable!("called for points redeemed")
    };
    acct.loyalty.points = (acct.loyalty.points.checked_sub(*points))
        .ok_or_else(|| bad(decision, "more points redeemed than held"))?;
    acct.balance += *money;
    balance_is(decision, acct.balance, *balance_after)?;
    if let (Some(msisdn), Some(bucket)) = (msisdn, bucket) {
        let number = number_of(acct, decision, *msisdn)?;
        give(number, decision, bucket, (*next_bucket, *next_due))?;
    }
    Ok(())
}

/// A payment: what repays a promise, the rest to the balance; the account's last top-up.
fn book_payment(acct: &mut Account, decision: &Decision) -> Result<(), ApplyError> {
    let Outcome::Paid {
        amount,
        repaid,
        month,
        balance_after,
    } = &decision.outcome
    else {
        unreachable!("called for a payment")
    };
    repay_promise(acct, decision, *amount, *repaid)?;
    acct.book_payment(*month, *amount);
    acct.balance += *amount - *repaid;
    balance_is(decision, acct.balance, *balance_after)?;
    acct.activity.last_topup = decision.time;
    acct.activity.fee_days = 0;
    Ok(())
}

/// An option activated or a status changed: the number takes up its new period's packages and
/// pays its fees.
fn take_up_period(acct: &mut Account, decision: &Decision) -> Result<(), ApplyError> {
    let (Outcome::OptionActivated {
        msisdn,
        fees,
        granted,
        next_bucket,
        next_due,
        days,
        months,
        ..
    }
    | Outcome::StatusChanged {
        msisdn,
        fees,
        granted,
        next_bucket,
        next_due,
        days,
        months,
        ..
    }) = &decision.outcome
    else {
        unreachable!("called for an option activated or a status changed")
    };
    let number = number_of(acct, decision, *msisdn)?;
    match &decision.outcome {
        Outcome::OptionActivated { addon, .. } => number.options.push(*addon),
        Outcome::StatusChanged { status, .. } => number.status = *status,
        _ => unreachable!("matched above"),
    }
    take_up(number, granted, *next_bucket, *next_due, *days, *months);
    pay_fees(acct, fees);
    Ok(())
}

/// A transfer's money out (with its fee) or in.
fn move_transfer(acct: &mut Account, decision: &Decision) -> Result<(), ApplyError> {
    match &decision.outcome {
        Outcome::TransferSent {
            amount,
            fee,
            balance_after,
            ..
        } => {
            acct.balance -= *amount + *fee;
            balance_is(decision, acct.balance, *balance_after)
        }
        Outcome::TransferReceived {
            amount,
            balance_after,
            ..
        }
        | Outcome::TransferRefunded {
            amount,
            balance_after,
            ..
        } => {
            acct.balance += *amount;
            balance_is(decision, acct.balance, *balance_after)
        }
        _ => unreachable!("called for a transfer's step"),
    }
}

/// The number of the account a decision names, or the inconsistency.
fn number_of<'a>(
    acct: &'a mut Account,
    decision: &Decision,
    msisdn: Msisdn,
) -> Result<&'a mut Number, ApplyError> {
    acct.number_mut(msisdn)
        .ok_or_else(|| bad(decision, "number not in account"))
}

fn pay_fees(acct: &mut Account, fees: &[FeeCharge]) {
    for fee in fees {
        acct.balance -= fee.amount;
    }
}

/// A usage charge: units from the buckets it names, money from the balance.
/// A session's grant: the session as it now stands, opened or replaced.
fn hold(acct: &mut Account, decision: &Decision, session: &Session) -> Result<(), ApplyError> {
    number_of(acct, decision, session.msisdn)?;
    let open =
        (acct.sessions.iter()).position(|s| s.id == session.id && s.msisdn == session.msisdn);
    match open {
        Some(at) => acct.sessions[at] = session.clone(),
        None if acct.sessions.len() >= MAX_OPEN_SESSIONS => {
            return Err(bad(decision, "more sessions than an account may hold"));
        }
        None => acct.sessions.push(session.clone()),
    }
    Ok(())
}

/// A session's end: it is open no more, and what it used is charged.
fn end_session(
    acct: &mut Account,
    decision: &Decision,
    session: &Session,
    charge: Option<&Charge>,
) -> Result<(), ApplyError> {
    let open = (acct.sessions.iter())
        .position(|s| s.id == session.id && s.msisdn == session.msisdn)
        .ok_or_else(|| bad(decision, format!("no open session {}", session.id)))?;
    acct.sessions.remove(open);
    remember_ended(acct, session, charge, decision.time);
    match charge {
        Some(charge) => take_charge(acct, decision, charge),
        None => Ok(()),
    }
}

/// Keeps what an ended session was charged, for its CDR; forgets the oldest past the limits.
fn remember_ended(acct: &mut Account, session: &Session, charge: Option<&Charge>, at: Timestamp) {
    use crate::session::{EndedSession, ENDED_SESSIONS_KEPT_SECONDS, MAX_ENDED_SESSIONS};
    let kept_since = at.0.saturating_sub(ENDED_SESSIONS_KEPT_SECONDS);
    acct.ended_sessions.retain(|e| e.ended.0 >= kept_since);
    if acct.ended_sessions.len() >= MAX_ENDED_SESSIONS {
        acct.ended_sessions.remove(0);
    }
    acct.ended_sessions.push(EndedSession {
        id: session.id.clone(),
        msisdn: session.msisdn,
        units: charge.map_or(0, |c| c.quantity),
        money: charge.map_or(rust_decimal::Decimal::ZERO, |c| c.money),
        ended: at,
    });
}

fn take_charge(acct: &mut Account, decision: &Decision, charge: &Charge) -> Result<(), ApplyError> {
    take_units(
        number_of(acct, decision, charge.msisdn)?,
        decision,
        &charge.takes,
    )?;
    acct.balance -= charge.money;
    balance_is(decision, acct.balance, charge.balance_after)
}

/// Units taken from the number's buckets, each within what its bucket holds.
fn take_units(
    number: &mut Number,
    decision: &Decision,
    takes: &[crate::decision::Take],
) -> Result<(), ApplyError> {
    for take in takes {
        let bucket = number
            .buckets
            .iter_mut()
            .find(|bucket| bucket.id == take.bucket)
            .ok_or_else(|| bad(decision, format!("no bucket {}", take.bucket)))?;
        if take.units > bucket.remaining {
            let problem = format!(
                "bucket {} has {} units, decision takes {}",
                bucket.id, bucket.remaining, take.units
            );
            return Err(bad(decision, problem));
        }
        bucket.remaining -= take.units;
    }
    Ok(())
}

/// The part of a payment that repays a promised payment.
fn repay_promise(
    acct: &mut Account,
    decision: &Decision,
    amount: Decimal,
    repaid: Decimal,
) -> Result<(), ApplyError> {
    if repaid.is_zero() {
        return Ok(());
    }
    let promise = acct
        .promise
        .as_mut()
        .ok_or_else(|| bad(decision, "a repayment without a promise"))?;
    if repaid > promise.outstanding || repaid > amount || repaid.is_sign_negative() {
        let problem = format!("repays {repaid} of {} outstanding", promise.outstanding);
        return Err(bad(decision, problem));
    }
    promise.outstanding -= repaid;
    if promise.outstanding.is_zero() {
        acct.promise = None;
    }
    Ok(())
}

fn grant_promise(acct: &mut Account, decision: &Decision) -> Result<(), ApplyError> {
    let Outcome::PromiseGranted {
        amount,
        fee,
        expires,
        balance_after,
    } = &decision.outcome
    else {
        unreachable!("called for a granted promise")
    };
    if acct.promise.is_some() {
        return Err(bad(decision, "a second promise while one is outstanding"));
    }
    acct.promise = Some(crate::state::Promise {
        event: decision.event.clone(),
        amount: *amount,
        outstanding: *amount,
        granted: decision.time,
        expires: *expires,
    });
    acct.balance += *amount - *fee;
    balance_is(decision, acct.balance, *balance_after)
}

/// A detalization's fee; the free report it took, if it was free.
fn order_detalization(
    acct: &mut Account,
    decision: &Decision,
) -> Result<Option<(Msisdn, Month)>, ApplyError> {
    let Outcome::DetalizationOrdered {
        msisdn,
        month,
        free,
        fee,
        balance_after,
        ..
    } = &decision.outcome
    else {
        unreachable!("called for an ordered detalization")
    };
    if acct.number(*msisdn).is_none() {
        return Err(bad(decision, "number not in account"));
    }
    acct.balance -= *fee;
    balance_is(decision, acct.balance, *balance_after)?;
    if !*free {
        return Ok(None);
    }
    let month = month.ok_or_else(|| bad(decision, "a free report of no month"))?;
    Ok(Some((*msisdn, month)))
}

fn change_plan(acct: &mut Account, decision: &Decision) -> Result<(), ApplyError> {
    let Outcome::PlanChanged {
        msisdn,
        from,
        to,
        fees,
        dropped,
        granted,
        next_bucket,
        next_due,
        days,
        months,
        balance_after,
    } = &decision.outcome
    else {
        unreachable!("called for a changed plan")
    };
    let number = number_of(acct, decision, *msisdn)?;
    if number.plan != *from {
        let problem = format!("number is on plan {}, not {from}", number.plan);
        return Err(bad(decision, problem));
    }
    drop_buckets(number, dropped).map_err(|problem| bad(decision, problem))?;
    number.plan = *to;
    // The new plan is paid for (its fees are in this decision): the old one's debt goes with it.
    let left = crate::number::Offering::Plan(*from);
    number.unpaid.retain(|u| *u != left);
    take_up(number, granted, *next_bucket, *next_due, *days, *months);
    pay_fees(acct, fees);
    balance_is(decision, acct.balance, *balance_after)
}

/// The balance an outcome reached is the one its decision records.
fn balance_is(decided: &Decision, reached: Decimal, recorded: Decimal) -> Result<(), ApplyError> {
    if reached == recorded {
        Ok(())
    } else {
        Err(bad(
            decided,
            format!("balance after is {reached}, decision says {recorded}"),
        ))
    }
}

pub(crate) fn apply_write_off(acct: &mut Account, write_off: &WriteOff) -> Result<(), String> {
    match &acct.promise {
        Some(p) if p.event == write_off.promise && p.outstanding == write_off.amount => {
            acct.balance -= write_off.amount;
            acct.promise = None;
            Ok(())
        }
        Some(p) => Err(format!(
            "write-off of {} for promise {} but {} of {} is outstanding",
            write_off.amount, write_off.promise, p.outstanding, p.event
        )),
        None => Err(format!(
            "write-off of promise {} that is not outstanding",
            write_off.promise
        )),
    }
}

/// Inactivity work: its fees, and the account blocked or released.
pub(crate) fn apply_inactivity(acct: &mut Account, work: &InactivityWork) {
    for f in &work.fees {
        acct.balance -= f.amount;
        acct.activity.note_balance(acct.balance, f.at);
    }
    acct.activity.fee_days = work.fee_days;
    if work.blocked.is_some() {
        acct.activity.blocked = work.blocked;
    }
    if work.released.is_some() {
        acct.activity.released = work.released;
    }
}

/// A number takes up an offer (an option, a new plan, its own plan again on resuming): the
/// buckets granted and the period counters as the decision computed them.
fn take_up(
    number: &mut Number,
    granted: &[Bucket],
    next_bucket: u32,
    next_due: Timestamp,
    days: u32,
    months: u32,
) {
    number.buckets.extend(granted.iter().cloned());
    number.next_bucket = next_bucket;
    number.next_due = next_due;
    number.days = days;
    number.months = months;
}

fn drop_buckets(number: &mut Number, dropped: &[Expiry]) -> Result<(), String> {
    for e in dropped {
        let before = number.buckets.len();
        number.buckets.retain(|b| b.id != e.bucket);
        if number.buckets.len() == before {
            return Err(format!("drop of unknown bucket {}", e.bucket));
        }
    }
    Ok(())
}

pub(crate) fn apply_renewal(acct: &mut Account, renewed: &Renewal) -> Result<(), String> {
    let n = acct
        .number_mut(renewed.msisdn)
        .ok_or("renewal of a number not in the account")?;
    for e in &renewed.expired {
        let before = n.buckets.len();
        n.buckets.retain(|b| b.id != e.bucket);
        if n.buckets.len() == before {
            return Err(format!("expiry of unknown bucket {}", e.bucket));
        }
    }
    n.buckets.extend(renewed.granted.iter().cloned());
    n.days = renewed.days;
    n.months = renewed.months;
    n.next_due = renewed.next_due;
    n.next_bucket = renewed.next_bucket;
    n.unpaid = renewed.unpaid.clone();
    for f in &renewed.fees {
        acct.balance -= f.amount;
    }
    Ok(())
}

/// Remembers a decision's input with the account it concerned (`crate::recent`): every
/// decision but a duplicate and a too-late input, which change nothing. A decision about an
/// account the state does not hold is inconsistent with it (a log applied out of its order).
fn remember(state: &mut State, decision: &Decision) -> Result<(), ApplyError> {
    let Some((account, rated)) = remembered_by(decision) else {
        return Ok(());
    };
    let for_ever = held_for_ever(decision);
    match state.remember(account, &decision.event, decision.time, rated, for_ever) {
        true => Ok(()),
        false => Err(bad(
            decision,
            format!("it concerns account {account}, not open"),
        )),
    }
}
