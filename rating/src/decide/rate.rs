//! `rate(state, catalog, event)`: the decision for one input event. Pure: it reads the state and
//! the catalog and returns what should happen; [`crate::apply`] makes it happen.

use super::account::{
    add_number, named_account, open_account, set_credit_limit, set_group, tick_account,
};
use super::detalization::order_detalization;
use super::option::{activate_option, deactivate_option};
use super::payment::{pay, promise};
pub use super::usage::CGRATES_RATE;
pub(crate) use super::usage::{destination, usage_kind};
use super::usage::{rate_usage, unless_new};
use crate::catalog::Catalog;
use crate::decision::{Decision, Rejection};
use crate::event::Input;
use crate::state::State;
use crate::verdict::rejected;

/// Rates one input event against the state and catalog.
pub fn rate(state: &State, cat: &Catalog, input: &Input) -> Decision {
    let mut d = decide(state, cat, input);
    // Usage was told from repeats and late inputs before it was charged (the hot path);
    // other inputs are told by the account their decision names (`crate::recent`), found
    // after deciding, which costs nothing but for repeats.
    if !matches!(input, Input::Usage(_)) {
        let owner = match input {
            Input::OpenAccount(x) => Some(&x.account),
            _ => crate::decision::concerned(&d),
        };
        if let Some(owner) = owner {
            if let Some(seen) = unless_new(state, cat, input, owner, state.seen(owner, input)) {
                d = seen;
                return d;
            }
        }
    }
    // The account was released before this event: nothing of it is decided. The release
    // itself is recorded by the account's next tick (a refund is owed regardless; a credit
    // bounces, see `transfer::credit`).
    if d.inactivity.as_ref().is_some_and(|w| w.released.is_some())
        && !matches!(
            input,
            Input::Tick(_) | Input::TransferRefund(_) | Input::TransferCredit(_)
        )
    {
        let account = d
            .account
            .clone()
            .expect("inactivity work names its account");
        // Assigned, not returned: one return value lets the decision be built in the caller's
        // slot instead of copied out of this frame.
        d = rejected(
            input,
            cat,
            Some(&account),
            Rejection::Released(account.clone()),
        );
    } else {
        crate::lifecycle::alert(state, cat, &mut d);
    }
    d
}

fn decide(state: &State, cat: &Catalog, input: &Input) -> Decision {
    if let Err(e) = input.check() {
        return rejected(input, cat, None, Rejection::Malformed(e));
    }
    // A released account takes nothing more. Inputs that name it by a number cannot reach it
    // (its numbers are out of the index); these name it by its id. A refund is still owed.
    if let Some(a) = named_account(state, input).filter(|a| a.activity.released.is_some()) {
        return rejected(input, cat, Some(&a.id), Rejection::Released(a.id.clone()));
    }
    match input {
        Input::Usage(usage) => rate_usage(state, cat, input, usage),
        Input::Payment(payment) => pay(state, cat, input, payment),
        Input::OpenAccount(opening) => open_account(state, cat, input, opening),
        Input::AddNumber(addition) => add_number(state, cat, input, addition),
        Input::ActivateOption(change) => activate_option(state, cat, input, change),
        Input::DeactivateOption(change) => deactivate_option(state, cat, input, change),
        Input::SetCreditLimit(change) => set_credit_limit(state, cat, input, change),
        Input::Tick(tick) => tick_account(state, cat, input, tick),
        Input::RequestPromise(request) => promise(state, cat, input, request),
        Input::ChangePlan(change) => crate::lifecycle::change_plan(state, cat, input, change),
        Input::Suspend(command) | Input::ReportLost(command) | Input::Resume(command) => {
            crate::lifecycle::change_status(state, cat, input, command)
        }
        Input::SetBalanceAlerts(change) => {
            crate::lifecycle::set_balance_alerts(state, cat, input, change)
        }
        Input::Transfer(transfer) => crate::transfer::send(state, cat, input, transfer),
        Input::TransferCredit(credit) => crate::transfer::credit(state, cat, input, credit),
        Input::TransferRefund(refund) => crate::transfer::refund(state, cat, input, refund),
        Input::SetSpendingLimit(change) => {
            crate::lifecycle::set_spending_limit(state, cat, input, change)
        }
        Input::SetGroup(change) => set_group(state, cat, input, change),
        Input::OrderDetalization(order) => order_detalization(state, cat, input, order),
        Input::Adjust(adjust) => super::correction::adjust(state, cat, input, adjust),
        Input::Grant(grant) => super::correction::grant(state, cat, input, grant),
        Input::RedeemPoints(redeem) => super::redemption::redeem(state, cat, input, redeem),
        Input::Take(take) => super::correction::take(state, cat, input, take),
        Input::Refund(refund) => super::refund::refund(state, cat, input, refund),
        Input::ReversePayment(reverse) => {
            super::refund::reverse_payment(state, cat, input, reverse)
        }
        Input::Session(request) => super::online::decide_session(state, cat, input, request),
        Input::SessionCdr(cdr) => super::online::reconcile(state, cat, input, cdr),
    }
}
