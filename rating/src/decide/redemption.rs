//! Loyalty points redeemed (`redeem_points`): into money at the catalog's `point_value`, or
//! into one of its rewards, a bucket for one of the account's numbers. Never more points than
//! the account holds.

use super::account::account_named;
use super::correction::given_bucket;
use crate::catalog::Catalog;
use crate::decision::{Decision, Outcome, Rejection};
use crate::event::{Input, Msisdn, RedeemPoints};
use crate::renewal::renewed;
use crate::state::{Account, Origin, State};
use crate::time::Timestamp;
use crate::verdict::{decided, rejected};
use rust_decimal::Decimal;

pub(crate) fn redeem(
    state: &State,
    cat: &Catalog,
    input: &Input,
    redeem: &RedeemPoints,
) -> Decision {
    let acct = match account_named(state, Some(&redeem.account), redeem.msisdn, "a redemption") {
        Ok(a) => a,
        Err(r) => return rejected(input, cat, None, r),
    };
    let (a, due) = renewed(cat, acct, redeem.time);
    let outcome = match (&redeem.reward, redeem.msisdn) {
        (Some(reward), Some(msisdn)) => into_reward(cat, &a, reward, msisdn, redeem.time),
        _ => into_money(cat, &a, redeem.points.unwrap_or(0)),
    };
    match outcome {
        Ok(outcome) => decided(input, cat, Some(&acct.id), due, outcome),
        Err(r) => rejected(input, cat, Some(&acct.id), r),
    }
}

fn refused(why: String) -> Rejection {
    Rejection::RedeemRefused(why.into())
}

/// The catalog's reward `reward`: its points, for its bucket on `msisdn`.
fn into_reward(
    cat: &Catalog,
    account: &Account,
    reward: &str,
    msisdn: Msisdn,
    time: Timestamp,
) -> Result<Outcome, Rejection> {
    let Some(r) = cat.lifecycle.rewards.iter().find(|r| r.id == reward) else {
        return Err(refused(format!("the catalog has no reward {reward}")));
    };
    if account.loyalty.points < r.points {
        let held = account.loyalty.points;
        return Err(refused(format!("{held} points held, {} needed", r.points)));
    }
    let package = (r.package, r.amount);
    let given = given_bucket(
        cat,
        account,
        msisdn,
        package,
        (time, r.validity_days),
        Origin::Loyalty,
    );
    Ok(Outcome::PointsRedeemed {
        points: r.points,
        money: Decimal::ZERO,
        msisdn: Some(msisdn),
        bucket: Some(given.bucket),
        next_bucket: given.next_bucket,
        next_due: given.next_due,
        balance_after: account.balance,
    })
}

/// `points` into money at the catalog's `point_value`.
fn into_money(cat: &Catalog, account: &Account, points: u64) -> Result<Outcome, Rejection> {
    let Some(value) = cat.lifecycle.point_value else {
        return Err(refused(
            "the catalog does not turn points into money".into(),
        ));
    };
    if account.loyalty.points < points {
        let held = account.loyalty.points;
        return Err(refused(format!("{held} points held, {points} asked")));
    }
    let money = value * Decimal::from(points);
    if money > crate::money::MAX_AMOUNT {
        return Err(Rejection::AmountOutOfRange);
    }
    Ok(Outcome::PointsRedeemed {
        points,
        money,
        msisdn: None,
        bucket: None,
        next_bucket: 0,
        next_due: crate::time::NEVER,
        balance_after: account.balance + money,
    })
}
