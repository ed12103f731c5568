//! Whether a number may be used, and the inactivity rules: when an account's inactivity work is
//! due, and what it is (notices, blocking, release).

use crate::catalog::{Catalog, Inactivity};
use crate::decision::{FeeCharge, FeeKind, FeeSource, InactivityWork};
use crate::state::{Account, NumberStatus};
use crate::time::{start_of_day, Timestamp};
use chrono::Days;
use rust_decimal::Decimal;

const DAY: i64 = 86_400;

/// Why a number should not be making usage, if it should not: its own status, or its account
/// blocked for inactivity.
pub(crate) fn barred(acct: &Account, msisdn: crate::Msisdn) -> Option<&'static str> {
    if acct.activity.blocked.is_some() {
        return Some("blocked for inactivity");
    }
    match acct.number(msisdn).map(|n| n.status) {
        Some(NumberStatus::Active) | None => None,
        Some(s) => Some(s.name()),
    }
}

/// Whether [`inactivity`] has work for the account at `time`, without building it: a day's fee
/// (or the day counted, with no money to take it from), a block or a release. The hot path asks
/// this of every usage item, so it is exact rather than a rough bound: a rough one sent every
/// CDR of an account past its fee days, once that day's fee was taken, to copy the account and
/// find nothing. The same tests as [`inactivity`], in its order.
pub(crate) fn inactivity_due(cat: &Catalog, acct: &Account, time: Timestamp) -> bool {
    let Some(rules) = &cat.lifecycle.inactivity else {
        return false;
    };
    let a = &acct.activity;
    if a.released.is_some() || acct.numbers.is_empty() {
        return false;
    }
    // The local day n days after the payment's starts later than the payment plus n - 1 days,
    // less the change of UTC offset between them (at most 26 hours, from -12:00 to +14:00):
    // before the payment plus n - 3 days the next fee day has not begun, and no date is needed.
    let next_fee_day = i64::from(rules.fee_after_days) + i64::from(a.fee_days);
    if time.0 >= a.last_topup.0.saturating_add((next_fee_day - 3) * DAY) {
        let today = cat.calendar.local(time).date;
        let Some(first_fee_day) = cat
            .calendar
            .local(a.last_topup)
            .date
            .checked_add_days(Days::new(u64::from(rules.fee_after_days)))
        else {
            return false;
        };
        if (today - first_fee_day).num_days() + 1 > i64::from(a.fee_days) {
            return true;
        }
    }
    match a.blocked {
        None => a
            .nonpositive_since
            .is_some_and(|s| s.plus(u64::from(rules.block_after_days) * DAY as u64) <= time),
        Some(b) => b.plus(u64::from(rules.restore_days) * DAY as u64) <= time,
    }
}

/// Whether the account has periodic work by event time `at` (a fee, a renewal, an expiry, a
/// promised payment's write-off, an inactivity fee, block or release): the engine's day ticks
/// rate exactly these accounts. A released account has none.
pub fn work_due(cat: &Catalog, acct: &Account, at: Timestamp) -> bool {
    if acct.activity.released.is_some() {
        return false;
    }
    acct.next_due() <= at
        || (inactivity_due(cat, acct, at)
            && inactivity(cat, acct, at)
                .is_some_and(|w| !w.fees.is_empty() || w.blocked.is_some() || w.released.is_some()))
}

/// The earliest event time at which [`work_due`] may hold for the account as it is: never
/// later than the first time it does (it may be earlier: a fee day is known to within the
/// time zone's offset, and a day's fee needs money). An engine that keeps its accounts in a
/// store indexes them by it, and asks [`work_due`] of those it finds due at a day's start.
/// It changes only as the account does, or with the catalog's inactivity rules.
pub fn due_from(cat: &Catalog, acct: &Account) -> Timestamp {
    let a = &acct.activity;
    if a.released.is_some() {
        return crate::time::NEVER;
    }
    let mut due = acct.next_due();
    let Some(rules) = cat
        .lifecycle
        .inactivity
        .as_ref()
        .filter(|_| !acct.numbers.is_empty())
    else {
        return due;
    };
    // As `inactivity_due` tells them: a fee needs money, and begins no earlier than the last
    // payment plus its fee days less three (the change of UTC offset between them).
    if acct.balance > Decimal::ZERO {
        let next_fee_day = i64::from(rules.fee_after_days) + i64::from(a.fee_days);
        due = due.min(Timestamp(
            a.last_topup.0.saturating_add((next_fee_day - 3) * DAY),
        ));
    }
    let stage = match a.blocked {
        None => a
            .nonpositive_since
            .map(|s| s.plus(u64::from(rules.block_after_days) * DAY as u64)),
        Some(b) => Some(b.plus(u64::from(rules.restore_days) * DAY as u64)),
    };
    stage.map_or(due, |s| due.min(s))
}

/// The inactivity rules' work due on `account` by `time`: a daily fee for each local day from day
/// `fee_after_days + 1` after the last payment (taken while there is money, at most what there
/// is), the account blocked after `block_after_days` at zero or below, and released
/// `restore_days` later. `None` if nothing changes.
pub(crate) fn inactivity(
    cat: &Catalog,
    account: &Account,
    time: Timestamp,
) -> Option<InactivityWork> {
    let rules: &Inactivity = cat.lifecycle.inactivity.as_ref()?;
    let act = &account.activity;
    let first_number = account.numbers.first()?.msisdn;
    if act.released.is_some() {
        return None;
    }
    let today = cat.calendar.local(time).date;
    let first_fee_day = cat
        .calendar
        .local(act.last_topup)
        .date
        .checked_add_days(Days::new(u64::from(rules.fee_after_days)))?;
    let days_due = ((today - first_fee_day).num_days() + 1).max(0) as u32;
    let mut w = InactivityWork {
        fees: Vec::new(),
        fee_days: act.fee_days.max(days_due),
        blocked: None,
        released: None,
    };
    let mut balance = account.balance;
    let mut nonpositive = act.nonpositive_since;
    for k in act.fee_days..days_due {
        if balance <= Decimal::ZERO {
            break;
        }
        let day = first_fee_day.checked_add_days(Days::new(u64::from(k)))?;
        let at = start_of_day(&cat.tz, day);
        let amount = rules.daily_fee.min(balance);
        balance -= amount;
        if balance <= Decimal::ZERO && nonpositive.is_none() {
            nonpositive = Some(at);
        }
        w.fees.push(FeeCharge {
            msisdn: first_number,
            source: FeeSource::Inactivity,
            kind: FeeKind::Daily,
            at,
            amount,
        });
    }
    let mut blocked = act.blocked;
    if let Some(since) = nonpositive {
        let at = since.plus(u64::from(rules.block_after_days) * DAY as u64);
        if blocked.is_none() && at <= time {
            blocked = Some(at);
            w.blocked = blocked;
        }
    }
    if let Some(b) = blocked {
        let at = b.plus(u64::from(rules.restore_days) * DAY as u64);
        if at <= time {
            w.released = Some(at);
        }
    }
    let changed = !w.fees.is_empty()
        || w.fee_days != act.fee_days
        || w.blocked.is_some()
        || w.released.is_some();
    changed.then_some(w)
}
