//! Balance and remaining packages of an account, as the portal shows them: from the account's
//! state (kept by the engine beside the log) and the spending model.

use crate::export::money;
use crate::models::{self, ModelError, Whose};
use rating::{Account, Catalog, Month, Msisdn, Origin};
use rocksdb::DB;
use serde::Serialize;

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct NumberBalance {
    pub msisdn: String,
    pub plan: String,
    pub options: Vec<String>,
    /// `active`, `suspended` (by the subscriber), `lost` (the SIM blocked) or `released`
    /// (it went back to the operator with its account's release).
    pub status: &'static str,
    /// The group of the account's numbers it is in, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Money spent by this number in `month` (its calendar month, in the catalog's time zone).
    pub month_to_date: String,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct BalanceView {
    pub account: String,
    pub currency: String,
    pub balance: String,
    pub credit_limit: String,
    /// What may still be spent: balance plus credit limit.
    pub available: String,
    /// `active`; `over_credit_limit` (outgoing chargeable usage is flagged); `blocked` under
    /// the inactivity rules (a payment restores it); `released` (the numbers went back to the
    /// operator).
    pub status: &'static str,
    /// Autopay: below `threshold`, `amount` is requested from the linked card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autopay: Option<AutopayView>,
    /// The promised payment not yet repaid, if any.
    pub promised_payment: Option<PromiseView>,
    /// Loyalty points held (`redeem_points` turns them into money or a reward).
    pub loyalty_points: u64,
    /// The month of `month_to_date`: the month of the latest event time the engine has seen.
    pub month: String,
    pub month_to_date: String,
    pub numbers: Vec<NumberBalance>,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct AutopayView {
    pub threshold: String,
    pub amount: String,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct PromiseView {
    pub amount: String,
    /// What the next payments will repay first, or the expiry will write off.
    pub outstanding: String,
    pub granted: String,
    pub expires: String,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct BucketView {
    pub id: u32,
    pub package: String,
    /// `seconds`, `messages` or `bytes`.
    pub unit: String,
    pub total: u64,
    pub used: u64,
    pub remaining: u64,
    /// The three amounts as people read them: minutes, messages, MB or GB.
    pub total_text: String,
    pub used_text: String,
    pub remaining_text: String,
    pub valid_from: String,
    pub valid_until: String,
    /// `plan X`, `option Y` or `rollover`.
    pub origin: String,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct PackagesView {
    pub msisdn: String,
    pub plan: String,
    /// The plan's name in the catalog, beside its id.
    pub plan_name: String,
    pub buckets: Vec<BucketView>,
}

/// A plan's or option's id by its position (`#i` if the catalog has no such position).
pub fn offer_name(offers: &[rating::catalog::Offer], index: usize) -> String {
    offers
        .get(index)
        .map_or_else(|| format!("#{index}"), |o| o.id.clone())
}

/// Where a bucket came from: `plan X`, `option Y`, `rollover` or `goodwill`.
pub fn origin(cat: &Catalog, of: Origin) -> String {
    match of {
        Origin::Plan(p) => format!("plan {}", offer_name(&cat.plans, p as usize)),
        Origin::Addon(a) => format!("option {}", offer_name(&cat.addons, a as usize)),
        Origin::Rollover => "rollover".into(),
        Origin::Goodwill => "goodwill".into(),
        Origin::Loyalty => "loyalty points".into(),
    }
}

/// A package's id by its position.
pub fn package_name(cat: &Catalog, package: rating::catalog::PackageIdx) -> String {
    cat.packages
        .get(package as usize)
        .map_or_else(|| format!("#{package}"), |p| p.id.clone())
}

pub fn balance(
    db: &DB,
    cat: &Catalog,
    account: &Account,
    month: Month,
) -> Result<BalanceView, ModelError> {
    let mut numbers = Vec::with_capacity(account.numbers.len());
    for n in &account.numbers {
        let s = models::spending(db, Whose::Number(n.msisdn, &account.id), month, month)?;
        numbers.push(NumberBalance {
            msisdn: n.msisdn.to_string(),
            plan: offer_name(&cat.plans, n.plan as usize),
            options: n
                .options
                .iter()
                .map(|&o| offer_name(&cat.addons, o as usize))
                .collect(),
            status: if account.activity.released.is_some() {
                "released"
            } else {
                n.status_name()
            },
            group: n.group.as_ref().map(std::string::ToString::to_string),
            month_to_date: money(cat, s.total(month)),
        });
    }
    let total = models::spending(db, Whose::Account(&account.id), month, month)?.total(month);
    Ok(BalanceView {
        account: account.id.to_string(),
        currency: cat.currency.clone(),
        balance: money(cat, account.balance),
        credit_limit: money(cat, account.credit_limit),
        available: money(cat, account.balance + account.credit_limit),
        loyalty_points: account.loyalty.points,
        status: if account.activity.released.is_some() {
            "released"
        } else if account.activity.blocked.is_some() {
            "blocked"
        } else if account.over_limit() {
            "over_credit_limit"
        } else {
            "active"
        },
        autopay: account.autopay.map(|p| AutopayView {
            threshold: money(cat, p.threshold),
            amount: money(cat, p.amount),
        }),
        promised_payment: account.promise.as_ref().map(|p| PromiseView {
            amount: money(cat, p.amount),
            outstanding: money(cat, p.outstanding),
            granted: crate::export::local_time(cat, p.granted),
            expires: crate::export::local_time(cat, p.expires),
        }),
        month: month.to_string(),
        month_to_date: money(cat, total),
        numbers,
    })
}

/// The buckets of a number that are valid at `now` or later (expired ones are gone from state).
pub fn packages(cat: &Catalog, account: &Account, msisdn: Msisdn) -> Option<PackagesView> {
    let n = account.number(msisdn)?;
    let mut buckets: Vec<BucketView> = n
        .buckets
        .iter()
        .map(|b| {
            let p = cat.packages.get(b.package as usize);
            let text =
                |units: u64| p.map_or_else(|| units.to_string(), |p| amount_text(p.unit, units));
            BucketView {
                id: b.id,
                package: package_name(cat, b.package),
                unit: p.map_or_else(String::new, |p| p.unit.to_string()),
                total: b.total,
                used: b.total - b.remaining,
                remaining: b.remaining,
                total_text: text(b.total),
                used_text: text(b.total - b.remaining),
                remaining_text: text(b.remaining),
                valid_from: b.valid_from.to_rfc3339(),
                valid_until: b.valid_until.to_rfc3339(),
                origin: origin(cat, b.origin),
            }
        })
        .collect();
    buckets.sort_by(|x, y| (&x.valid_until, x.id).cmp(&(&y.valid_until, y.id)));
    Some(PackagesView {
        msisdn: msisdn.to_string(),
        plan: offer_name(&cat.plans, n.plan as usize),
        plan_name: (cat.plans.get(n.plan as usize)).map_or_else(String::new, |p| p.name.clone()),
        buckets,
    })
}

/// An amount of a package as people read it: whole minutes (and seconds left over), messages,
/// or bytes in GB, MB or KB.
pub fn amount_text(unit: rating::Unit, units: u64) -> String {
    const GB: u64 = 1024 * 1024 * 1024;
    match unit {
        rating::Unit::Seconds if units.is_multiple_of(60) => format!("{} min", units / 60),
        rating::Unit::Seconds => format!("{} min {} s", units / 60, units % 60),
        rating::Unit::Messages if units == 1 => "1 message".into(),
        rating::Unit::Messages => format!("{units} messages"),
        rating::Unit::Bytes if units >= GB => {
            let tenths = (u128::from(units) * 10 + u128::from(GB) / 2) / u128::from(GB);
            format!("{}.{} GB", tenths / 10, tenths % 10)
        }
        rating::Unit::Bytes => crate::export::volume(units),
    }
}

#[cfg(test)]
mod tests {
    use super::amount_text;
    use rating::Unit;

    #[test]
    fn amounts_read_as_people_read_them() {
        assert_eq!(amount_text(Unit::Seconds, 0), "0 min");
        assert_eq!(amount_text(Unit::Seconds, 750), "12 min 30 s");
        assert_eq!(amount_text(Unit::Messages, 1), "1 message");
        assert_eq!(amount_text(Unit::Bytes, 1_572_864), "1.5 MB");
        assert_eq!(amount_text(Unit::Bytes, 1 << 30), "1.0 GB");
        assert_eq!(amount_text(Unit::Bytes, u64::MAX), "17179869184.0 GB");
    }
}
