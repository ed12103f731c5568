//! The account as records of layout 13 on hold it: every time of its own (a number's joining and
//! next due time, its buckets' validity, the last payment and the marks of inactivity) as a
//! distance from one base time, a number's joining date as a day number, a bucket's units as
//! those used, and no id: the record's key is the account's id. What most accounts lack (a
//! promised payment, autopay, a number's limit or group, the marks of inactivity) is grouped
//! behind one marker byte rather than one each. In a record's variable-width integers a time
//! within days of the base takes one to four bytes where a whole one takes five, and the date
//! three where its text takes eleven.
//!
//! Why a form of its own: the account's serde encoding is also that of decisions of older
//! layouts, which must read as they were written. A time read back outside 1970..9999 (which
//! the account's own encoding refuses too) and a day number outside chrono's calendar are
//! refused as corrupt; distances wrap, so no bytes make the arithmetic overflow.

use crate::catalog::{AddonIdx, PackageIdx, PlanIdx};
use crate::event::{AccountId, Autopay, Msisdn};
use crate::number::{Bucket, Number, NumberStatus, Offering, Origin, SpendingLimit};
use crate::state::{Account, Activity, Loyalty, MonthPaid, Promise, PAID_MONTHS};
use crate::time::{Timestamp, MAX_TIME, MIN_TIME};
use chrono::{Datelike, NaiveDate};
use compact_str::CompactString;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct AccountForm {
    /// The time the others are distances from: the first number's next due time (the start
    /// of its next day, close to its buckets' ends), or the last payment when it has none.
    base: i64,
    #[serde(with = "crate::money::amount")]
    balance: Decimal,
    #[serde(with = "crate::money::amount")]
    credit_limit: Decimal,
    numbers: Vec<NumberForm>,
    #[serde(with = "crate::small_vec")]
    paid: SmallVec<[MonthPaid; PAID_MONTHS]>,
    activity: ActivityForm,
    loyalty: Loyalty,
    /// `None` when the account has none of them.
    rare: Option<AccountRare>,
}

/// What few accounts have.
#[derive(Debug, Serialize, Deserialize)]
struct AccountRare {
    promise: Option<Promise>,
    autopay: Option<Autopay>,
    #[serde(with = "crate::money::opt_amount")]
    low_balance: Option<Decimal>,
}

#[derive(Debug, Serialize, Deserialize)]
struct NumberForm {
    msisdn: Msisdn,
    plan: PlanIdx,
    #[serde(with = "crate::small_vec")]
    options: SmallVec<[AddonIdx; 2]>,
    buckets: Vec<BucketForm>,
    /// `anchor`'s days from the first of January of year 1 (chrono's `num_days_from_ce`).
    anchor: i32,
    days: u32,
    months: u32,
    next_due: i64,
    next_bucket: u32,
    joined: i64,
    /// `None` when the number is active, with no limit, group or unpaid fee.
    rare: Option<NumberRare>,
}

/// What few numbers have.
#[derive(Debug, Serialize, Deserialize)]
struct NumberRare {
    status: NumberStatus,
    limit: Option<SpendingLimit>,
    group: Option<CompactString>,
    #[serde(with = "crate::small_vec")]
    unpaid: SmallVec<[Offering; 1]>,
}

#[derive(Debug, Serialize, Deserialize)]
struct BucketForm {
    id: u32,
    package: PackageIdx,
    origin: Origin,
    total: u64,
    /// `total - remaining`, wrapping: few units of a large package are used, or many of a
    /// small one, and either takes fewer bytes than what remains of a large one.
    used: u64,
    valid_from: i64,
    valid_until: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct ActivityForm {
    last_topup: i64,
    fee_days: u32,
    /// `None` when the balance is above zero and the account neither blocked nor released.
    marks: Option<ActivityMarks>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ActivityMarks {
    nonpositive_since: Option<i64>,
    blocked: Option<i64>,
    released: Option<i64>,
}

/// Times as distances from one base, and back.
#[derive(Clone, Copy)]
struct Base(i64);

impl Base {
    fn from(self, at: Timestamp) -> i64 {
        at.0.wrapping_sub(self.0)
    }

    fn at(self, distance: i64) -> Result<Timestamp, String> {
        let at = self.0.wrapping_add(distance);
        match (MIN_TIME..=MAX_TIME).contains(&at) {
            true => Ok(Timestamp(at)),
            false => Err(format!("a time of {at} s, outside 1970..9999")),
        }
    }

    fn at_or_none(self, distance: Option<i64>) -> Result<Option<Timestamp>, String> {
        distance.map(|d| self.at(d)).transpose()
    }
}

impl AccountForm {
    /// The form of `account`, without what records hold after it (refunds and sessions).
    pub(crate) fn of(account: &Account) -> AccountForm {
        let Account {
            id: _,
            balance,
            credit_limit,
            numbers,
            promise,
            paid,
            autopay,
            low_balance,
            activity,
            loyalty,
            refunds: _,
            sessions: _,
            ended_sessions: _,
        } = account;
        let base = Base(
            numbers
                .first()
                .map_or(activity.last_topup, |n| n.next_due)
                .0,
        );
        AccountForm {
            base: base.0,
            balance: *balance,
            credit_limit: *credit_limit,
            numbers: numbers.iter().map(|n| NumberForm::of(n, base)).collect(),
            paid: paid.clone(),
            activity: ActivityForm::of(activity, base),
            loyalty: *loyalty,
            rare: (promise.is_some() || autopay.is_some() || low_balance.is_some()).then(|| {
                AccountRare {
                    promise: promise.clone(),
                    autopay: *autopay,
                    low_balance: *low_balance,
                }
            }),
        }
    }

    /// The account of id `id` (its record's key) again, with no refunds or sessions; a time
    /// outside 1970..9999 or a joining date outside the calendar is an error.
    pub(crate) fn into_account(self, id: AccountId) -> Result<Account, String> {
        let base = Base(self.base);
        let numbers = (self.numbers.into_iter())
            .map(|n| n.into_number(base))
            .collect::<Result<_, _>>()?;
        let rare = self.rare.unwrap_or(AccountRare {
            promise: None,
            autopay: None,
            low_balance: None,
        });
        Ok(Account {
            id,
            balance: self.balance,
            credit_limit: self.credit_limit,
            numbers,
            promise: rare.promise,
            paid: self.paid,
            autopay: rare.autopay,
            low_balance: rare.low_balance,
            activity: self.activity.into_activity(base)?,
            loyalty: self.loyalty,
            refunds: Vec::new(),
            sessions: Vec::new(),
            ended_sessions: Vec::new(),
        })
    }
}

impl NumberForm {
    fn of(number: &Number, base: Base) -> NumberForm {
        let Number {
            msisdn,
            plan,
            options,
            buckets,
            anchor,
            days,
            months,
            next_due,
            next_bucket,
            status,
            limit,
            group,
            joined,
            unpaid,
        } = number;
        NumberForm {
            msisdn: *msisdn,
            plan: *plan,
            options: options.clone(),
            buckets: buckets.iter().map(|b| BucketForm::of(b, base)).collect(),
            anchor: anchor.num_days_from_ce(),
            days: *days,
            months: *months,
            next_due: base.from(*next_due),
            next_bucket: *next_bucket,
            joined: base.from(*joined),
            rare: (!status.is_active() || limit.is_some() || group.is_some() || !unpaid.is_empty())
                .then(|| NumberRare {
                    status: *status,
                    limit: *limit,
                    group: group.clone(),
                    unpaid: unpaid.clone(),
                }),
        }
    }

    fn into_number(self, base: Base) -> Result<Number, String> {
        let anchor = NaiveDate::from_num_days_from_ce_opt(self.anchor)
            .ok_or_else(|| format!("a joining date of day {} is off the calendar", self.anchor))?;
        let rare = self.rare.unwrap_or(NumberRare {
            status: NumberStatus::Active,
            limit: None,
            group: None,
            unpaid: SmallVec::new(),
        });
        Ok(Number {
            msisdn: self.msisdn,
            plan: self.plan,
            options: self.options,
            buckets: (self.buckets.into_iter())
                .map(|b| b.into_bucket(base))
                .collect::<Result<_, _>>()?,
            anchor,
            days: self.days,
            months: self.months,
            next_due: base.at(self.next_due)?,
            next_bucket: self.next_bucket,
            status: rare.status,
            limit: rare.limit,
            group: rare.group,
            joined: base.at(self.joined)?,
            unpaid: rare.unpaid,
        })
    }
}

impl BucketForm {
    fn of(bucket: &Bucket, base: Base) -> BucketForm {
        BucketForm {
            id: bucket.id,
            package: bucket.package,
            origin: bucket.origin,
            total: bucket.total,
            used: bucket.total.wrapping_sub(bucket.remaining),
            valid_from: base.from(bucket.valid_from),
            valid_until: base.from(bucket.valid_until),
        }
    }

    fn into_bucket(self, base: Base) -> Result<Bucket, String> {
        Ok(Bucket {
            id: self.id,
            package: self.package,
            origin: self.origin,
            total: self.total,
            remaining: self.total.wrapping_sub(self.used),
            valid_from: base.at(self.valid_from)?,
            valid_until: base.at(self.valid_until)?,
        })
    }
}

impl ActivityForm {
    fn of(activity: &Activity, base: Base) -> ActivityForm {
        let Activity {
            last_topup,
            fee_days,
            nonpositive_since,
            blocked,
            released,
        } = *activity;
        let marked = nonpositive_since.is_some() || blocked.is_some() || released.is_some();
        ActivityForm {
            last_topup: base.from(last_topup),
            fee_days,
            marks: marked.then(|| ActivityMarks {
                nonpositive_since: nonpositive_since.map(|t| base.from(t)),
                blocked: blocked.map(|t| base.from(t)),
                released: released.map(|t| base.from(t)),
            }),
        }
    }

    fn into_activity(self, base: Base) -> Result<Activity, String> {
        let marks = self.marks.unwrap_or(ActivityMarks {
            nonpositive_since: None,
            blocked: None,
            released: None,
        });
        Ok(Activity {
            last_topup: base.at(self.last_topup)?,
            fee_days: self.fee_days,
            nonpositive_since: base.at_or_none(marks.nonpositive_since)?,
            blocked: base.at_or_none(marks.blocked)?,
            released: base.at_or_none(marks.released)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_outside_the_calendar_s_years_is_refused_not_read() {
        let opened = Timestamp(1_793_516_400);
        let account = Account::new("A".into(), Decimal::ZERO, Vec::new(), opened);
        for base in [i64::MAX, i64::MIN, MIN_TIME - 1, MAX_TIME + 1] {
            let mut form = AccountForm::of(&account);
            form.base = base;
            let refused = form
                .into_account("A".into())
                .expect_err("outside 1970..9999");
            assert!(refused.contains("outside 1970..9999"), "{refused}");
        }
        let read = AccountForm::of(&account).into_account("A".into()).unwrap();
        assert_eq!(read, account);
    }
}
