//! The account lifecycle beyond usage and payments: a change of plan, a number's status
//! (suspended, lost SIM, resumed), the inactivity rules, and the alerts a decision raises when
//! the balance crosses a threshold. All by event time and the catalog, like the rest of rating.

use crate::catalog::Catalog;
use crate::catalog::PlanIdx;
use crate::decision::{Alert, Decision, Expiry, FeeCharge, FeeKind, FeeSource, Outcome, Rejection};
use crate::event::{ChangePlan, Input, NumberCommand, SetBalanceAlerts};
use crate::number::{Bucket, Number};
use crate::period;
use crate::renewal::renewed;
use crate::state::{Account, NumberStatus, Origin, State};
use crate::time::Timestamp;
use crate::verdict::{check_amount, decided, rejected};
use rust_decimal::Decimal;

/// The alerts of a decision about `before` (the account as it was): the balance crossing the
/// credit limit either way, the low-balance and autopay thresholds downwards.
pub(crate) fn alert_balance(before: &Account, decision: &mut Decision) {
    if matches!(
        decision.outcome,
        Outcome::Rejected(_) | Outcome::Duplicate | Outcome::TransferBounced { .. }
    ) {
        return;
    }
    let (out, inn) = decision.money_flow();
    let to = before.balance - out + inn;
    let limit_after = match &decision.outcome {
        Outcome::CreditLimitSet { credit_limit } => *credit_limit,
        _ => before.credit_limit,
    };
    alert_crossings(before, to, limit_after, &mut decision.alerts);
}

/// The alerts of the balance of `before` becoming `to`, under the credit limit `limit_after`.
/// The hot path calls it with the balance a charge leaves, which it has already worked out.
#[inline]
pub(crate) fn alert_crossings(
    before: &Account,
    to: Decimal,
    limit_after: Decimal,
    alerts: &mut Vec<Alert>,
) {
    use crate::money::order;
    let from = before.balance;
    let was_over = order(from, -before.credit_limit).is_lt();
    let is_over = order(to, -limit_after).is_lt();
    if !was_over && is_over {
        alerts.push(Alert::Blocked {
            balance: to,
            credit_limit: limit_after,
        });
    } else if was_over && !is_over {
        alerts.push(Alert::Unblocked { balance: to });
    }
    if let Some(threshold) = before.low_balance {
        if order(from, threshold).is_ge() && order(to, threshold).is_lt() {
            alerts.push(Alert::LowBalance {
                threshold,
                balance: to,
            });
        }
    }
    if let Some(ap) = before.autopay {
        if order(from, ap.threshold).is_ge() && order(to, ap.threshold).is_lt() {
            alerts.push(Alert::Autopay {
                threshold: ap.threshold,
                amount: ap.amount,
                balance: to,
            });
        }
    }
}

/// Alerts and loyalty of a decision that did not come from the hot path (which does its own).
/// An opening is about an account that was at zero, with its credit limit and no thresholds.
pub(crate) fn alert(state: &State, cat: &Catalog, decision: &mut Decision) {
    match &decision.outcome {
        // Charged through the hot path's own alerts and loyalty.
        Outcome::Charged(_)
        | Outcome::SessionEnded {
            charge: Some(_), ..
        } => {}
        Outcome::Opened { account, .. } => {
            let empty = Account::new(
                account.id.clone(),
                account.credit_limit,
                Vec::new(),
                decision.time,
            );
            alert_balance(&empty, decision);
            accrue(cat, &empty, decision);
        }
        _ => {
            if let Some(a) = decision.account.as_deref().and_then(|id| state.account(id)) {
                alert_balance(a, decision);
                accrue(cat, a, decision);
            }
        }
    }
}

/// Loyalty points for what the decision spent, carrying the remainder towards the next point.
pub(crate) fn accrue(cat: &Catalog, before: &Account, decision: &mut Decision) {
    if matches!(
        decision.outcome,
        Outcome::Rejected(_) | Outcome::Duplicate | Outcome::TransferBounced { .. }
    ) {
        return;
    }
    if let Some(a) = accrual(cat, before, decision.spending()) {
        decision.loyalty = Some(a);
    }
}

/// The loyalty of spending `spent` from `before`: none without a rule or without spending.
#[inline]
pub(crate) fn accrual(
    cat: &Catalog,
    before: &Account,
    spent: Decimal,
) -> Option<crate::decision::Accrual> {
    let per = cat.lifecycle.spend_per_point?;
    if spent <= Decimal::ZERO {
        return None;
    }
    let total = before.loyalty.towards_next + spent;
    if crate::money::order(total, per).is_lt() {
        // Most charges: no point yet, and no division on the hot path.
        return Some(crate::decision::Accrual {
            points: 0,
            towards_next: total,
        });
    }
    let (points, whole) = whole_times(total, per);
    Some(crate::decision::Accrual {
        points,
        towards_next: total - whole * per,
    })
}

/// ⌊total / per⌋ of two positive amounts: as a count (at most `u64::MAX`) and as a whole
/// number (scale 0). In integers when both amounts fit 64 bits at a common scale (any real
/// balance and rule), so the hot path does no decimal division; otherwise by decimal division.
/// Within `MAX_AMOUNT` both are exact: 28 digits of quotient leave room to tell it from the
/// next integer.
fn whole_times(total: Decimal, per: Decimal) -> (u64, Decimal) {
    debug_assert!(total > Decimal::ZERO && per > Decimal::ZERO);
    let scale = total.scale().max(per.scale());
    let at_scale = |d: Decimal| -> Option<u64> {
        u64::try_from(d.mantissa())
            .ok()?
            .checked_mul(10u64.checked_pow(scale - d.scale())?)
    };
    match (at_scale(total), at_scale(per)) {
        (Some(t), Some(p)) => {
            let q = t / p;
            (q, Decimal::from(q))
        }
        _ => {
            let whole = (total / per).floor();
            (whole.try_into().unwrap_or(u64::MAX), whole)
        }
    }
}

/// A charge of a number with a spending limit: the month's spending after it, and the flag
/// (and, on the crossing, the notice) when it is over.
pub(crate) fn count_spending(
    cat: &Catalog,
    acct: &Account,
    usage: &crate::Usage,
    decision: &mut Decision,
) {
    let Outcome::Charged(c) = &decision.outcome else {
        return;
    };
    let Some(limit) = acct.number(usage.msisdn).and_then(|n| n.limit) else {
        return;
    };
    let month = crate::Month::of(cat.calendar.local(usage.start).date);
    let before = if month == limit.month {
        limit.spent
    } else {
        Decimal::ZERO
    };
    let spent = before + c.money;
    if spent > limit.amount && !c.money.is_zero() {
        decision.alerts.push(Alert::OverSpendingLimit {
            msisdn: usage.msisdn,
            limit: limit.amount,
            spent,
            first: before <= limit.amount,
        });
    }
    decision.spent = Some(crate::decision::NumberSpent {
        msisdn: usage.msisdn,
        month,
        spent,
    });
}

pub(crate) fn set_spending_limit(
    state: &State,
    cat: &Catalog,
    input: &Input,
    change: &crate::event::SetSpendingLimit,
) -> Decision {
    let Some(acct) = state.account_of(change.msisdn) else {
        return rejected(input, cat, None, Rejection::UnknownNumber(change.msisdn));
    };
    if let Some(amount) = change.limit {
        if let Err(r) = check_amount(cat, amount, true) {
            return rejected(input, cat, Some(&acct.id), r);
        }
    }
    let (a, due) = renewed(cat, acct, change.time);
    let n = a
        .number(change.msisdn)
        .expect("the index points at the account holding the number");
    let month = crate::Month::of(cat.calendar.local(change.time).date);
    // A new limit counts this month's spending so far, if an earlier limit was counting it.
    let spent = n
        .limit
        .filter(|l| l.month == month)
        .map_or(Decimal::ZERO, |l| l.spent);
    decided(
        input,
        cat,
        Some(&acct.id),
        due,
        Outcome::SpendingLimitSet {
            msisdn: change.msisdn,
            limit: change.limit.map(|amount| crate::state::SpendingLimit {
                amount,
                month,
                spent,
            }),
        },
    )
}

pub(crate) fn change_plan(
    state: &State,
    cat: &Catalog,
    input: &Input,
    change: &ChangePlan,
) -> Decision {
    let Some(acct) = state.account_of(change.msisdn) else {
        return rejected(input, cat, None, Rejection::UnknownNumber(change.msisdn));
    };
    let reject = |r| rejected(input, cat, Some(&acct.id), r);
    let Some(to) = cat.plan(&change.plan) else {
        return reject(Rejection::UnknownPlan(change.plan.clone()));
    };
    let (a, due) = renewed(cat, acct, change.time);
    let n = a
        .number(change.msisdn)
        .expect("the index points at the account holding the number");
    if let Some(refusal) = plan_change_refused(cat, n, to, change) {
        return reject(refusal);
    }
    let from = n.plan;
    let mut work = n.clone();
    let dropped = packages_dropped(cat, n, change.time);
    work.buckets
        .retain(|b| !dropped.iter().any(|e| e.bucket == b.id));
    work.plan = to;
    let mut fees = Vec::new();
    let switch_fee = cat.plans[to as usize].switch_fee;
    if !switch_fee.is_zero() {
        fees.push(FeeCharge {
            msisdn: change.msisdn,
            source: FeeSource::Plan(to),
            kind: FeeKind::Switch,
            at: change.time,
            amount: switch_fee,
        });
    }
    let (monthly, granted) = period::take_up(cat, &mut work, &[FeeSource::Plan(to)], change.time);
    fees.extend(monthly);
    if let Err(r) = period::check_funds(cat, &a, &fees) {
        return reject(r);
    }
    let balance_after = a.balance - fees.iter().map(|f| f.amount).sum::<Decimal>();
    let outcome = Outcome::PlanChanged {
        msisdn: change.msisdn,
        from,
        to,
        fees,
        dropped,
        granted,
        next_bucket: work.next_bucket,
        next_due: work.next_due,
        days: work.days,
        months: work.months,
        balance_after,
    };
    decided(input, cat, Some(&acct.id), due, outcome)
}

/// A barred number resumed at `at`, barred since `since`: a monthly period that began while
/// barred was neither paid nor granted, so it is from now, for the rest of it; its fees and
/// packages.
fn resume(
    cat: &Catalog,
    number: &Number,
    work: &mut Number,
    since: Timestamp,
    at: Timestamp,
) -> (Vec<FeeCharge>, Vec<Bucket>) {
    work.status = NumberStatus::Active;
    let (_, months_then) = period::indexes(cat, number, since);
    let (days, months_now) = period::indexes(cat, number, at);
    if months_now > months_then {
        let sources: Vec<FeeSource> = std::iter::once(FeeSource::Plan(number.plan))
            .chain(number.options.iter().map(|&o| FeeSource::Addon(o)))
            .collect();
        return period::take_up(cat, work, &sources, at);
    }
    work.days = work.days.max(days);
    work.months = work.months.max(months_now);
    work.next_due = period::next_due(cat, work);
    (Vec::new(), Vec::new())
}

/// Why a number may not move to plan `to`: it is on it, it is not active, or an option it has
/// may not join it.
fn plan_change_refused(
    cat: &Catalog,
    number: &Number,
    to: PlanIdx,
    change: &ChangePlan,
) -> Option<Rejection> {
    if number.plan == to {
        return Some(Rejection::SamePlan(change.msisdn, change.plan.clone()));
    }
    if !number.status.is_active() {
        return Some(Rejection::WrongStatus {
            msisdn: change.msisdn,
            status: number.status.name().into(),
            command: "change_plan".into(),
        });
    }
    for &o in &number.options {
        let allowed = &cat.addons[o as usize].plans;
        if !allowed.is_empty() && !allowed.contains(&to) {
            return Some(Rejection::OptionNotForPlan {
                option: cat.addons[o as usize].id.as_str().into(),
                plan: change.plan.clone(),
            });
        }
    }
    None
}

/// The packages a number leaves with its old plan, when the catalog drops them: the plan's own
/// buckets and what rolled over from them.
fn packages_dropped(cat: &Catalog, number: &Number, at: Timestamp) -> Vec<Expiry> {
    let from = number.plan;
    match cat.lifecycle.old_packages {
        crate::catalog::file::OldPackages::Keep => Vec::new(),
        crate::catalog::file::OldPackages::Drop => number
            .buckets
            .iter()
            .filter(|b| {
                b.origin == Origin::Plan(from)
                    || (b.origin == Origin::Rollover
                        && cat.plans[from as usize].packages.contains(&b.package))
            })
            .map(|b| Expiry {
                bucket: b.id,
                at,
                lost: b.remaining,
            })
            .collect(),
    }
}

pub(crate) fn change_status(
    state: &State,
    cat: &Catalog,
    input: &Input,
    command: &NumberCommand,
) -> Decision {
    let Some(acct) = state.account_of(command.msisdn) else {
        return rejected(input, cat, None, Rejection::UnknownNumber(command.msisdn));
    };
    let reject = |r| rejected(input, cat, Some(&acct.id), r);
    let (a, due) = renewed(cat, acct, command.time);
    let n = a
        .number(command.msisdn)
        .expect("the index points at the account holding the number");
    let wrong = || {
        reject(Rejection::WrongStatus {
            msisdn: command.msisdn,
            status: n.status.name().into(),
            command: input.kind().into(),
        })
    };
    let mut work = n.clone();
    let mut fees = Vec::new();
    let mut granted = Vec::new();
    let status = match (input, n.status) {
        (Input::Suspend(_), _) if cat.lifecycle.suspension_fee.is_none() => {
            return reject(Rejection::NoSuspension)
        }
        (Input::Suspend(_), NumberStatus::Active) => NumberStatus::Suspended {
            since: command.time,
        },
        (Input::ReportLost(_), NumberStatus::Active | NumberStatus::Suspended { .. }) => {
            NumberStatus::Lost {
                since: command.time,
            }
        }
        (Input::Resume(_), NumberStatus::Suspended { since } | NumberStatus::Lost { since }) => {
            (fees, granted) = resume(cat, n, &mut work, since, command.time);
            if let Err(r) = period::check_funds(cat, &a, &fees) {
                return reject(r);
            }
            NumberStatus::Active
        }
        _ => return wrong(),
    };
    work.status = status;
    let next_due = if status.is_active() {
        work.next_due
    } else {
        // Barred from now: the daily periods go on from today, under the status's fee.
        let (days, months) = period::indexes(cat, &work, command.time);
        work.days = work.days.max(days);
        work.months = work.months.max(months);
        period::next_due(cat, &work)
    };
    decided(
        input,
        cat,
        Some(&acct.id),
        due,
        Outcome::StatusChanged {
            msisdn: command.msisdn,
            status,
            fees,
            granted,
            next_bucket: work.next_bucket,
            next_due,
            days: work.days,
            months: work.months,
        },
    )
}

pub(crate) fn set_balance_alerts(
    state: &State,
    cat: &Catalog,
    input: &Input,
    change: &SetBalanceAlerts,
) -> Decision {
    let Some(acct) = state.account(&change.account) else {
        return rejected(
            input,
            cat,
            None,
            Rejection::UnknownAccount(change.account.clone()),
        );
    };
    for amount in change
        .autopay
        .iter()
        .flat_map(|a| [a.amount])
        .chain(change.low_balance)
    {
        if let Err(r) = check_amount(cat, amount, false) {
            return rejected(input, cat, Some(&acct.id), r);
        }
    }
    if let Some(ap) = &change.autopay {
        if ap.amount <= Decimal::ZERO {
            return rejected(input, cat, Some(&acct.id), Rejection::AmountNotPositive);
        }
        // A threshold may be below zero (within the credit limit), not beyond the limits.
        if ap.threshold.abs() > crate::money::MAX_AMOUNT || !cat.fits_currency(ap.threshold) {
            return rejected(input, cat, Some(&acct.id), Rejection::AmountOutOfRange);
        }
    }
    crate::renewal::after_due(
        input,
        cat,
        acct,
        change.time,
        Outcome::BalanceAlertsSet {
            autopay: change.autopay,
            low_balance: change.low_balance,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::whole_times;
    use crate::activity::{inactivity, inactivity_due};
    use crate::event::{Input, NewNumber, OpenAccount};
    use crate::state::State;
    use crate::time::Timestamp;
    use crate::{Catalog, Msisdn};
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    /// The example catalog's inactivity rules (fees after 120 days, a block after 180 at zero,
    /// a release 60 later) in a zone of its own: one with DST, and one that moved its offset by
    /// a whole day.
    fn opened_in(zone: &str) -> (Catalog, crate::state::Account) {
        let text = include_str!("../../../catalogs/example.toml").replace(
            "timezone = \"Europe/Moscow\"",
            &format!("timezone = \"{zone}\""),
        );
        let cat = Catalog::from_toml("example.toml", &text).unwrap();
        let mut s = State::new();
        crate::step(
            &mut s,
            &cat,
            &Input::OpenAccount(OpenAccount {
                id: "o".into(),
                account: "A1".into(),
                time: Timestamp(1_262_304_000), // 2010-01-01
                credit_limit: Decimal::ZERO,
                numbers: vec![NewNumber {
                    msisdn: Msisdn(79001234567),
                    plan: "SMART".into(),
                    options: vec![],
                }],
            }),
        );
        let acct = s.account("A1").unwrap().clone();
        (cat, acct)
    }

    proptest! {
        /// The integer floor division gives what decimal division and floor gave before it,
        /// for any amounts within `MAX_AMOUNT` at scales up to 8 (where 28 digits of quotient
        /// always tell an integer from its neighbours).
        #[test]
        fn whole_times_is_the_floor_of_the_quotient(
            (t, ts) in prop_oneof![
                (1i64..1_000_000_000_000, 0u32..9),
                (1i64..10_000_000_000_000_000, 4u32..9),
            ],
            p in 1i64..100_000_000_000_000, ps in 0u32..9,
        ) {
            let (total, per) = (Decimal::new(t, ts), Decimal::new(p, ps));
            prop_assert!(total <= crate::money::MAX_AMOUNT);
            let (count, got) = whole_times(total, per);
            let want = (total / per).floor();
            prop_assert_eq!(count, u64::try_from(want).unwrap());
            prop_assert_eq!(got, want);
            prop_assert_eq!((got.scale(), got.mantissa()), (want.scale(), want.mantissa()));
        }

        /// The hot path's test of inactivity work is exact: true just when the work itself
        /// finds something, whatever the payment's time of day, the fees taken, the days at
        /// zero, a block, and the zone's changes of offset.
        #[test]
        fn inactivity_is_due_just_when_there_is_work(
            zone in prop::sample::select(vec!["Europe/Moscow", "America/New_York", "Pacific/Apia", "Australia/Lord_Howe"]),
            topup in 0i64..2 * 365 * 86_400,
            fee_days in 0u32..200,
            balance in -500i64..500,
            nonpositive in prop::option::of(0i64..400 * 86_400),
            blocked in prop::option::of(0i64..400 * 86_400),
            after in 0i64..500 * 86_400,
        ) {
            let (cat, mut a) = opened_in(zone);
            let base = Timestamp(1_262_304_000);
            a.balance = Decimal::new(balance, 0);
            a.activity.last_topup = base.plus(topup as u64);
            a.activity.fee_days = fee_days;
            a.activity.nonpositive_since = nonpositive.map(|x| a.activity.last_topup.plus(x as u64));
            a.activity.blocked = blocked.map(|x| a.activity.last_topup.plus(x as u64));
            let t = a.activity.last_topup.plus(after as u64);
            prop_assert_eq!(inactivity_due(&cat, &a, t), inactivity(&cat, &a, t).is_some());
        }
    }
}
