//! Money in: payments, and promised payments (credit granted within the catalog's policy).

use super::account::account_named;
use crate::catalog::Catalog;
use crate::decision::{Decision, Outcome, Rejection};
use crate::event::Input;
use crate::event::Payment;
use crate::renewal::renewed;
use crate::state::State;
use crate::verdict::{check_amount, decided, rejected};
use rust_decimal::Decimal;

/// A promised payment: granted within the catalog's policy, one at a time, at any balance.
pub(crate) fn promise(
    state: &State,
    cat: &Catalog,
    input: &Input,
    request: &crate::event::RequestPromise,
) -> Decision {
    let acct = match account_named(
        state,
        request.account.as_ref(),
        request.msisdn,
        "a promised payment",
    ) {
        Ok(a) => a,
        Err(r) => return rejected(input, cat, None, r),
    };
    let refuse = |why: String| {
        rejected(
            input,
            cat,
            Some(&acct.id),
            Rejection::PromiseRefused(why.into()),
        )
    };
    let Some(policy) = &cat.promise else {
        return refuse("the catalog offers no promised payments".into());
    };
    if let Err(r) = check_amount(cat, request.amount, true) {
        return rejected(input, cat, Some(&acct.id), r);
    }
    let (a, due) = renewed(cat, acct, request.time);
    if let Some(p) = &a.promise {
        return refuse(format!(
            "{} of the promised payment {} is still outstanding",
            p.outstanding, p.event
        ));
    }
    let month = crate::event::Month::of(cat.calendar.local(request.time).date);
    let recent = a.paid_since(crate::event::Month(month.0.saturating_sub(2)));
    let allowed = policy.max_amount.min(
        (recent * policy.share_of_recent_payments)
            .round_dp_with_strategy(cat.decimals, rust_decimal::RoundingStrategy::ToZero),
    );
    if request.amount > allowed {
        let mut allowed = allowed;
        allowed.rescale(cat.decimals);
        return refuse(format!(
            "at most {allowed}: the lesser of {} and {} of the {recent} paid in this and the two previous months",
            policy.max_amount, policy.share_of_recent_payments
        ));
    }
    let expires = request.time.plus(u64::from(policy.validity_days) * 86_400);
    let credited = a.balance + request.amount - policy.fee;
    let mut due = due;
    let balance_after = credited - settle(cat, &a, request.time, credited, &mut due);
    decided(
        input,
        cat,
        Some(&acct.id),
        due,
        Outcome::PromiseGranted {
            amount: request.amount,
            fee: policy.fee,
            expires,
            balance_after,
        },
    )
}
/// The unpaid fees that money in settles (the balance now `balance`), as renewals after the
/// work due; the fees they take.
fn settle(
    cat: &Catalog,
    account: &crate::state::Account,
    time: crate::time::Timestamp,
    balance: Decimal,
    due: &mut crate::verdict::Due,
) -> Decimal {
    if !account.numbers.iter().any(crate::number::Number::is_unpaid) {
        return Decimal::ZERO;
    }
    let settled = crate::period::settle(cat, account, time, balance + account.credit_limit);
    let fees = (settled.iter().flat_map(|r| &r.fees))
        .map(|f| f.amount)
        .sum();
    due.renewals.extend(settled);
    fees
}

/// A payment: money in, repaying what is outstanding of a promised payment first; then the
/// fees left unpaid that the money now covers.
pub(crate) fn pay(state: &State, cat: &Catalog, input: &Input, payment: &Payment) -> Decision {
    let acct = match account_named(state, payment.account.as_ref(), payment.msisdn, "payment") {
        Ok(a) => a,
        Err(r) => return rejected(input, cat, None, r),
    };
    if let Err(r) = check_amount(cat, payment.amount, true) {
        return rejected(input, cat, Some(&acct.id), r);
    }
    let (a, mut due) = renewed(cat, acct, payment.time);
    // A payment repays what is outstanding of a promised payment first.
    let repaid = a
        .promise
        .as_ref()
        .map_or(Decimal::ZERO, |pr| pr.outstanding.min(payment.amount));
    let paid_in = a.balance + payment.amount - repaid;
    if paid_in > crate::money::MAX_AMOUNT {
        return rejected(input, cat, Some(&acct.id), Rejection::AmountOutOfRange);
    }
    let balance_after = paid_in - settle(cat, &a, payment.time, paid_in, &mut due);
    decided(
        input,
        cat,
        Some(&acct.id),
        due,
        Outcome::Paid {
            amount: payment.amount,
            repaid,
            month: crate::event::Month::of(cat.calendar.local(payment.time).date),
            balance_after,
        },
    )
}
