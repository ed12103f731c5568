//! The shapes every handler's decision takes: decided with the periodic work due before it, or
//! rejected with a reason; and the check every amount an input carries must pass.

use crate::catalog::Catalog;
use crate::decision::{Decision, Outcome, Rejection, WriteOff};
use crate::event::Input;
use compact_str::CompactString;
use rust_decimal::Decimal;

/// Periodic work due before an event: a promised payment's write-off and the renewals.
#[derive(Default)]
pub(crate) struct Due {
    // Boxed: rarely there, and a decision on the hot path should not carry their size.
    pub written_off: Option<Box<WriteOff>>,
    pub renewals: Vec<crate::decision::Renewal>,
    pub inactivity: Option<Box<crate::decision::InactivityWork>>,
}

pub(crate) fn decided(
    input: &Input,
    cat: &Catalog,
    account: Option<&str>,
    due: Due,
    outcome: Outcome,
) -> Decision {
    Decision {
        event: input.id().clone(),
        catalog: cat.tag(),
        time: input.time(),
        account: account.map(CompactString::from),
        written_off: due.written_off,
        renewals: due.renewals,
        outcome,
        inactivity: due.inactivity,
        alerts: Vec::new(),
        loyalty: None,
        spent: None,
    }
}

pub(crate) fn rejected(
    input: &Input,
    cat: &Catalog,
    account: Option<&str>,
    rejection: Rejection,
) -> Decision {
    decided(
        input,
        cat,
        account,
        Due::default(),
        Outcome::Rejected(rejection),
    )
}

/// An amount an input carries: positive (or, with `positive` false, not negative), within
/// [`crate::money::MAX_AMOUNT`], and with no more decimals than the currency has.
pub(crate) fn check_amount(
    cat: &Catalog,
    amount: Decimal,
    positive: bool,
) -> Result<(), Rejection> {
    if positive && amount <= Decimal::ZERO {
        return Err(Rejection::AmountNotPositive);
    }
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(Rejection::AmountNotPositive);
    }
    if amount > crate::money::MAX_AMOUNT {
        return Err(Rejection::AmountOutOfRange);
    }
    if !cat.fits_currency(amount) {
        return Err(Rejection::AmountDecimals {
            amount: amount.to_string(),
            decimals: cat.decimals,
        });
    }
    Ok(())
}
