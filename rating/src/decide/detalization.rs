//! An order of a detalization report, and its fee.

use crate::catalog::Catalog;
use crate::decision::{Decision, Outcome, Rejection};
use crate::event::Input;
use crate::event::OrderDetalization;
use crate::renewal::renewed;
use crate::state::State;
use crate::verdict::{decided, rejected};
use rust_decimal::Decimal;

/// An order of a detalization report: free once a month for a month's report, otherwise at the
/// catalog's fee.
pub(crate) fn order_detalization(
    state: &State,
    cat: &Catalog,
    input: &Input,
    order: &OrderDetalization,
) -> Decision {
    let Some(acct) = state.account_of(order.msisdn) else {
        return rejected(input, cat, None, Rejection::UnknownNumber(order.msisdn));
    };
    let (from, to) = match (order.month, order.from, order.to) {
        (Some(m), _, _) => (
            crate::time::start_of_day(&cat.tz, m.first_day()),
            crate::time::start_of_day(&cat.tz, m.next().first_day()),
        ),
        (None, Some(f), Some(t)) => (f, t),
        _ => unreachable!("Input::check admits a month or a period"),
    };
    let free = order
        .month
        .is_some_and(|m| !state.free_report_used(order.msisdn, m));
    let fee = if free {
        Decimal::ZERO
    } else {
        cat.detalization_fee
    };
    let (a, due) = renewed(cat, acct, order.time);
    let balance_after = a.balance - fee;
    decided(
        input,
        cat,
        Some(&acct.id),
        due,
        Outcome::DetalizationOrdered {
            msisdn: order.msisdn,
            month: order.month,
            from,
            to,
            free,
            fee,
            balance_after,
        },
    )
}
