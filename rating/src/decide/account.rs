//! Commands on an account as a whole: opening it, adding a number, its credit limit, a number's
//! group, a tick; and how an input names the account it concerns.

use crate::catalog::Catalog;
use crate::decision::{Decision, Outcome, Rejection};
use crate::event::{AddNumber, OpenAccount, SetCreditLimit, SetGroup, Tick};
use crate::event::{Input, NewNumber};
use crate::period;
use crate::renewal::{after_due, renewed};
use crate::state::{Account, State};
use crate::time::Timestamp;
use crate::verdict::{check_amount, decided, rejected, Due};

/// A number joining an account at `at`, the account able to spend `available` (less what the
/// number's fees take).
pub(crate) fn new_number(
    state: &State,
    cat: &Catalog,
    nn: &NewNumber,
    (at, available): (Timestamp, &mut rust_decimal::Decimal),
) -> Result<(crate::Number, Vec<crate::FeeCharge>), Rejection> {
    if state.account_of(nn.msisdn).is_some() {
        return Err(Rejection::NumberTaken(nn.msisdn));
    }
    let plan = cat
        .plan(&nn.plan)
        .ok_or_else(|| Rejection::UnknownPlan(nn.plan.clone()))?;
    let mut addons: Vec<crate::catalog::AddonIdx> = Vec::new();
    for o in &nn.options {
        let a = cat
            .addon(o)
            .ok_or_else(|| Rejection::UnknownOption(o.clone()))?;
        let allowed = &cat.addons[a as usize].plans;
        if !allowed.is_empty() && !allowed.contains(&plan) {
            return Err(Rejection::OptionNotForPlan {
                option: o.clone(),
                plan: nn.plan.clone(),
            });
        }
        if addons.contains(&a) {
            return Err(Rejection::OptionActive(o.clone()));
        }
        addons.push(a);
    }
    Ok(period::join(cat, nn.msisdn, (plan, &addons), at, available))
}

/// The account an input names by its id or by one of its numbers. Naming both is allowed only
/// when the number is the account's: money is never credited to one account on the word of
/// another's number.
pub(crate) fn account_named<'a>(
    state: &'a State,
    account: Option<&crate::event::AccountId>,
    msisdn: Option<crate::event::Msisdn>,
    what: &str,
) -> Result<&'a Account, Rejection> {
    match (account, msisdn) {
        (Some(a), m) => {
            let acct = state
                .account(a)
                .ok_or_else(|| Rejection::UnknownAccount(a.clone()))?;
            match m {
                Some(m) if acct.number(m).is_none() => Err(Rejection::Malformed(format!(
                    "{what} names account {a} and number {m}, which is not that account's"
                ))),
                _ => Ok(acct),
            }
        }
        (None, Some(m)) => state.account_of(m).ok_or(Rejection::UnknownNumber(m)),
        (None, None) => Err(Rejection::Malformed(format!(
            "{what} names neither account nor msisdn"
        ))),
    }
}

/// The account an input names by its id, for the inputs that change it.
pub(crate) fn named_account<'a>(state: &'a State, input: &Input) -> Option<&'a Account> {
    let id = match input {
        Input::Payment(x) => x.account.as_deref()?,
        Input::RequestPromise(x) => x.account.as_deref()?,
        Input::AddNumber(x) => &x.account,
        Input::SetCreditLimit(x) => &x.account,
        Input::SetBalanceAlerts(x) => &x.account,
        Input::Adjust(x) => &x.account,
        Input::RedeemPoints(x) => &x.account,
        Input::Refund(x) => &x.account,
        Input::ReversePayment(x) => &x.account,
        _ => return None,
    };
    state.account(id)
}
/// Opens an account with its numbers, each joining its plan and options.
pub(crate) fn open_account(
    state: &State,
    cat: &Catalog,
    input: &Input,
    opening: &OpenAccount,
) -> Decision {
    if state.account(&opening.account).is_some() {
        return rejected(
            input,
            cat,
            None,
            Rejection::AccountExists(opening.account.clone()),
        );
    }
    if let Err(r) = check_amount(cat, opening.credit_limit, false) {
        return rejected(input, cat, None, r);
    }
    let mut numbers = Vec::new();
    let mut fees = Vec::new();
    let mut available = opening.credit_limit;
    for nn in &opening.numbers {
        if numbers
            .iter()
            .any(|n: &crate::Number| n.msisdn == nn.msisdn)
        {
            return rejected(input, cat, None, Rejection::NumberTaken(nn.msisdn));
        }
        match new_number(state, cat, nn, (opening.time, &mut available)) {
            Ok((n, f)) => {
                numbers.push(n);
                fees.extend(f);
            }
            Err(r) => return rejected(input, cat, None, r),
        }
    }
    let account = Account::new(
        opening.account.clone(),
        opening.credit_limit,
        numbers,
        opening.time,
    );
    decided(
        input,
        cat,
        Some(&opening.account),
        Due::default(),
        Outcome::Opened {
            account: Box::new(account),
            fees,
        },
    )
}

/// Adds a number to an account.
pub(crate) fn add_number(
    state: &State,
    cat: &Catalog,
    input: &Input,
    addition: &AddNumber,
) -> Decision {
    let Some(acct) = state.account(&addition.account) else {
        return rejected(
            input,
            cat,
            None,
            Rejection::UnknownAccount(addition.account.clone()),
        );
    };
    let (a, due) = renewed(cat, acct, addition.time);
    let mut available = a.balance + a.credit_limit;
    let joining = (addition.time, &mut available);
    match new_number(state, cat, &addition.number, joining) {
        Ok((number, fees)) => decided(
            input,
            cat,
            Some(&acct.id),
            due,
            Outcome::NumberAdded { number, fees },
        ),
        Err(r) => rejected(input, cat, Some(&acct.id), r),
    }
}

/// Sets the credit limit: how far below zero the available money reaches.
pub(crate) fn set_credit_limit(
    state: &State,
    cat: &Catalog,
    input: &Input,
    change: &SetCreditLimit,
) -> Decision {
    let Some(acct) = state.account(&change.account) else {
        return rejected(
            input,
            cat,
            None,
            Rejection::UnknownAccount(change.account.clone()),
        );
    };
    if let Err(r) = check_amount(cat, change.credit_limit, false) {
        return rejected(input, cat, Some(&acct.id), r);
    }
    after_due(
        input,
        cat,
        acct,
        change.time,
        Outcome::CreditLimitSet {
            credit_limit: change.credit_limit,
        },
    )
}

/// A tick: the periodic work due on an account by the tick's time, and nothing else.
pub(crate) fn tick_account(state: &State, cat: &Catalog, input: &Input, tick: &Tick) -> Decision {
    let Some(acct) = state.account(&tick.account) else {
        return rejected(
            input,
            cat,
            None,
            Rejection::UnknownAccount(tick.account.clone()),
        );
    };
    after_due(input, cat, acct, tick.time, Outcome::Ticked)
}

/// Puts a number in a group (the key of group discounts).
pub(crate) fn set_group(
    state: &State,
    cat: &Catalog,
    input: &Input,
    change: &SetGroup,
) -> Decision {
    match state.account_of(change.msisdn) {
        None => rejected(input, cat, None, Rejection::UnknownNumber(change.msisdn)),
        Some(acct) => after_due(
            input,
            cat,
            acct,
            change.time,
            Outcome::GroupSet {
                msisdn: change.msisdn,
                group: change.group.clone(),
            },
        ),
    }
}
