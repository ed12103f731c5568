//! Corrections by the operator: money put in or taken out of an account (`adjust`), and a
//! goodwill bucket for a number (`grant`). Each is decided like any command: after the periodic
//! work due before it, idempotent by its id, with its reason code and operator recorded.

use super::account::account_named;
use crate::catalog::Catalog;
use crate::decision::{Decision, Outcome, Rejection};
use crate::event::{Adjust, Grant, Input, TakeUnits};
use crate::period;
use crate::renewal::renewed;
use crate::state::{Bucket, Origin, State};
use crate::verdict::{check_amount, decided, rejected};

/// Money in or out of an account, on the operator's word; the number it names must be the
/// account's.
pub(crate) fn adjust(state: &State, cat: &Catalog, input: &Input, adjust: &Adjust) -> Decision {
    let acct = match account_named(state, Some(&adjust.account), adjust.msisdn, "an adjustment") {
        Ok(a) => a,
        Err(r) => return rejected(input, cat, None, r),
    };
    if let Err(r) = check_amount(cat, adjust.amount.abs(), true) {
        return rejected(input, cat, Some(&acct.id), r);
    }
    let (a, due) = renewed(cat, acct, adjust.time);
    let outcome = Outcome::Adjusted {
        msisdn: adjust.msisdn,
        amount: adjust.amount,
        reason: adjust.reason.clone(),
        operator: adjust.operator.clone(),
        balance_after: a.balance + adjust.amount,
    };
    decided(input, cat, Some(&acct.id), due, outcome)
}

/// A goodwill bucket of one of the catalog's packages for a number, valid from the grant's
/// time for its days.
pub(crate) fn grant(state: &State, cat: &Catalog, input: &Input, grant: &Grant) -> Decision {
    let (acct, package) = match named_package(state, cat, input, grant.msisdn, &grant.package) {
        Ok(found) => found,
        Err(refused) => return *refused,
    };
    let (a, due) = renewed(cat, acct, grant.time);
    let given = given_bucket(
        cat,
        &a,
        grant.msisdn,
        (package, grant.amount),
        (grant.time, grant.validity_days),
        Origin::Goodwill,
    );
    let outcome = Outcome::Granted {
        msisdn: grant.msisdn,
        bucket: given.bucket,
        reason: grant.reason.clone(),
        operator: grant.operator.clone(),
        next_bucket: given.next_bucket,
        next_due: given.next_due,
    };
    decided(input, cat, Some(&acct.id), due, outcome)
}

/// Units of a package taken back from a number's live buckets, those that expire first first;
/// at most what they hold (none held: a take of nothing, recorded all the same).
pub(crate) fn take(state: &State, cat: &Catalog, input: &Input, take: &TakeUnits) -> Decision {
    let (acct, package) = match named_package(state, cat, input, take.msisdn, &take.package) {
        Ok(found) => found,
        Err(refused) => return *refused,
    };
    let (a, due) = renewed(cat, acct, take.time);
    let number = a
        .number(take.msisdn)
        .expect("the account that holds a number has it");
    let mut live: Vec<&Bucket> = (number.buckets.iter())
        .filter(|b| b.package == package && b.valid_until > take.time && b.remaining > 0)
        .collect();
    live.sort_by_key(|b| (b.valid_until, b.id));
    let mut left = take.amount;
    let mut takes = smallvec::SmallVec::new();
    for b in live {
        let units = left.min(b.remaining);
        if units == 0 {
            break;
        }
        takes.push(crate::decision::Take {
            bucket: b.id,
            units,
        });
        left -= units;
    }
    let outcome = Outcome::UnitsTaken {
        msisdn: take.msisdn,
        takes,
        reason: take.reason.clone(),
        operator: take.operator.clone(),
    };
    decided(input, cat, Some(&acct.id), due, outcome)
}

/// The account that holds `msisdn`, and the catalog's package `package`; or the refusal.
fn named_package<'a>(
    state: &'a State,
    cat: &Catalog,
    input: &Input,
    msisdn: crate::event::Msisdn,
    package: &compact_str::CompactString,
) -> Result<(&'a crate::state::Account, crate::catalog::PackageIdx), Box<Decision>> {
    let Some(acct) = state.account_of(msisdn) else {
        return Err(Box::new(rejected(
            input,
            cat,
            None,
            Rejection::UnknownNumber(msisdn),
        )));
    };
    match cat.package(package) {
        Some(p) => Ok((acct, p)),
        None => {
            let unknown = Rejection::UnknownPackage(package.clone());
            Err(Box::new(rejected(input, cat, Some(&acct.id), unknown)))
        }
    }
}

/// A bucket given to a number (not bought by its plan), and the number's counters after it.
pub(crate) struct Given {
    pub bucket: Bucket,
    pub next_bucket: u32,
    pub next_due: crate::time::Timestamp,
}

/// `amount` units of `package` for `msisdn` of `account` (after its periodic work), valid
/// `days` from `time`.
pub(crate) fn given_bucket(
    cat: &Catalog,
    account: &crate::state::Account,
    msisdn: crate::event::Msisdn,
    (package, amount): (crate::catalog::PackageIdx, u64),
    (time, days): (crate::time::Timestamp, u32),
    origin: Origin,
) -> Given {
    let mut number = account
        .number(msisdn)
        .expect("the account that holds a number has it")
        .clone();
    let bucket = Bucket {
        id: number.next_bucket,
        package,
        origin,
        total: amount,
        remaining: amount,
        valid_from: time,
        valid_until: time.plus(u64::from(days) * 86_400),
    };
    number.next_bucket += 1;
    number.buckets.push(bucket.clone());
    Given {
        bucket,
        next_bucket: number.next_bucket,
        next_due: period::next_due(cat, &number),
    }
}
