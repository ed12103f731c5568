//! Options on a number: activating one (which the number's plan must allow, and which joins its
//! period and packages) and deactivating one (whose buckets go with it).

use crate::decision::{Decision, Expiry, Outcome, Rejection};
use crate::event::{Input, OptionChange};
use crate::number::Origin;
use crate::period;
use crate::renewal::renewed;
use crate::state::{Account, State};
use crate::tariff::catalog::{AddonIdx, Catalog};
use crate::verdict::{decided, rejected};
use compact_str::CompactString;

/// Activates an option on a number.
pub(crate) fn activate_option(
    state: &State,
    cat: &Catalog,
    input: &Input,
    change: &OptionChange,
) -> Decision {
    let (acct, addon) = match option_of(state, cat, input, change) {
        Ok(found) => found,
        Err(rejection) => return *rejection,
    };
    let refuse = |why| rejected(input, cat, Some(&acct.id), why);
    let (account, due) = renewed(cat, acct, change.time);
    let number = account
        .number(change.msisdn)
        .expect("the index points at the account holding the number");
    if number.options.contains(&addon) {
        return refuse(Rejection::OptionActive(change.option.clone()));
    }
    let allowed = &cat.addons[addon as usize].plans;
    if !allowed.is_empty() && !allowed.contains(&number.plan) {
        let plan = CompactString::from(cat.plans[number.plan as usize].id.as_str());
        return refuse(Rejection::OptionNotForPlan {
            option: change.option.clone(),
            plan,
        });
    }
    let (after, fees, granted) = period::activate(cat, number, addon, change.time);
    if let Err(r) = period::check_funds(cat, &account, &fees) {
        return refuse(r);
    }
    let outcome = Outcome::OptionActivated {
        msisdn: change.msisdn,
        addon,
        fees,
        granted,
        next_bucket: after.next_bucket,
        next_due: after.next_due,
        days: after.days,
        months: after.months,
    };
    decided(input, cat, Some(&acct.id), due, outcome)
}

/// Deactivates an option on a number: the option's own buckets go with it.
pub(crate) fn deactivate_option(
    state: &State,
    cat: &Catalog,
    input: &Input,
    change: &OptionChange,
) -> Decision {
    let (acct, addon) = match option_of(state, cat, input, change) {
        Ok(found) => found,
        Err(rejection) => return *rejection,
    };
    let (account, due) = renewed(cat, acct, change.time);
    let number = account
        .number(change.msisdn)
        .expect("the index points at the account holding the number");
    if !number.options.contains(&addon) {
        let why = Rejection::OptionNotActive(change.option.clone());
        return rejected(input, cat, Some(&acct.id), why);
    }
    let dropped = number
        .buckets
        .iter()
        .filter(|bucket| bucket.origin == Origin::Addon(addon))
        .map(|bucket| Expiry {
            bucket: bucket.id,
            at: change.time,
            lost: bucket.remaining,
        })
        .collect();
    let outcome = Outcome::OptionDeactivated {
        msisdn: change.msisdn,
        addon,
        dropped,
    };
    decided(input, cat, Some(&acct.id), due, outcome)
}

/// The account holding the change's number, and the option it names; or the rejection.
fn option_of<'a>(
    state: &'a State,
    cat: &Catalog,
    input: &Input,
    change: &OptionChange,
) -> Result<(&'a Account, AddonIdx), Box<Decision>> {
    let Some(acct) = state.account_of(change.msisdn) else {
        let why = Rejection::UnknownNumber(change.msisdn);
        return Err(Box::new(rejected(input, cat, None, why)));
    };
    let Some(addon) = cat.addon(&change.option) else {
        let why = Rejection::UnknownOption(change.option.clone());
        return Err(Box::new(rejected(input, cat, Some(&acct.id), why)));
    };
    Ok((acct, addon))
}
