//! The queries of the read models that the CLI and the HTTP API answer alike: balance, packages,
//! detalization and spending of an account or a number, with the catalog in force for names.

use crate::pipeline::{recorded_catalog, EngineError};
use crate::store::Store;
use projections::export::{self, Report};
use projections::models::{self, Whose};
use projections::view::{self, BalanceView, PackagesView};
use projections::{Category, PaymentRow};
use rating::request;
use rating::{Account, Catalog, Msisdn, Timestamp};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("no account or number {0:?}")]
    NotFound(String),
    #[error("{0}")]
    Bad(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<crate::store::StoreError> for QueryError {
    fn from(e: crate::store::StoreError) -> Self {
        QueryError::Engine(e.into())
    }
}

impl From<projections::ModelError> for QueryError {
    fn from(error: projections::ModelError) -> Self {
        match error {
            projections::ModelError::TooMany => QueryError::Bad(error.to_string()),
            error => QueryError::Engine(crate::rebuild::model_error(error)),
        }
    }
}

/// The catalog in force and the latest event time: what the queries name and count by.
pub struct Context {
    pub cat: Catalog,
    pub now: Timestamp,
}

impl Context {
    pub fn load(store: &Store) -> Result<Context, QueryError> {
        let tag = store
            .meta_u64(crate::keys::CATALOG_IN_FORCE)?
            .ok_or_else(|| QueryError::Bad("the store holds no catalog yet".into()))?;
        Ok(Context {
            cat: recorded_catalog(store, tag)?,
            now: Timestamp(store.meta_u64(crate::keys::WATERMARK)?.unwrap_or(0) as i64),
        })
    }
}

/// What a query reads: an account by its exact id, a group of an account's numbers, or a
/// number. The HTTP API names which by its route, so an account id made of digits is never
/// taken for a number, nor one holding `/` for a group; the CLI guesses ([`Who::guess`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who<'a> {
    Account(&'a str),
    Group(&'a str, &'a str),
    Number(Msisdn),
}

impl<'a> Who<'a> {
    /// The CLI's reading of a word: `ACCOUNT/GROUP`; a number an account holds; else an
    /// account id. (An operator reads everything, so a guess shows nothing it may not see.)
    pub fn guess(store: &Store, text: &'a str) -> Result<Who<'a>, QueryError> {
        if let Some((account, group)) = text.split_once('/') {
            return Ok(Who::Group(account, group));
        }
        if let Ok(m) = Msisdn::parse(text) {
            if models::account_of(store.db(), m)?.is_some() {
                return Ok(Who::Number(m));
            }
        }
        Ok(Who::Account(text))
    }
}

/// The account `who` names: itself, the holder of a number, or a group's account.
pub fn account(store: &Store, who: Who) -> Result<Account, QueryError> {
    let id = match who {
        Who::Account(a) | Who::Group(a, _) => a.to_string(),
        Who::Number(m) => models::account_of(store.db(), m)?
            .ok_or_else(|| QueryError::NotFound(m.to_string()))?
            .clone(),
    };
    store.account(&id)?.ok_or(QueryError::NotFound(id))
}

pub fn number(store: &Store, msisdn: &str) -> Result<(Msisdn, Account), QueryError> {
    let m = Msisdn::parse(msisdn).map_err(QueryError::Bad)?;
    let id =
        models::account_of(store.db(), m)?.ok_or_else(|| QueryError::NotFound(msisdn.into()))?;
    let a = store
        .account(&id)?
        .ok_or_else(|| QueryError::NotFound(msisdn.into()))?;
    Ok((m, a))
}

/// The balance of an account, or of a number's account: [`balance_of`] of [`Who::guess`].
pub fn balance(store: &Store, ctx: &Context, who: &str) -> Result<BalanceView, QueryError> {
    balance_of(store, ctx, Who::guess(store, who)?)
}

pub fn balance_of(store: &Store, ctx: &Context, who: Who) -> Result<BalanceView, QueryError> {
    if let Who::Group(..) = who {
        return Err(QueryError::Bad(
            "a balance is an account's or a number's, not a group's".into(),
        ));
    }
    let a = account(store, who)?;
    Ok(view::balance(
        store.db(),
        &ctx.cat,
        &a,
        request::month_of(&ctx.cat, ctx.now),
    )?)
}

pub fn packages(store: &Store, ctx: &Context, msisdn: &str) -> Result<PackagesView, QueryError> {
    let (m, a) = number(store, msisdn)?;
    Ok(view::packages(&ctx.cat, &a, m).expect("the number's account holds it"))
}

/// A period: a month (`YYYY-MM`), or RFC 3339 bounds; by default the month of the latest event
/// (see [`rating::request::period`]).
pub fn period(
    ctx: &Context,
    month: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(Timestamp, Timestamp), QueryError> {
    request::period(&ctx.cat, ctx.now, month, from, to).map_err(QueryError::Bad)
}

pub fn detalization(
    store: &Store,
    ctx: &Context,
    msisdn: &str,
    (from, to): (Timestamp, Timestamp),
    services: &[String],
) -> Result<Report, QueryError> {
    for s in services {
        request::service(s).map_err(QueryError::Bad)?;
    }
    let (m, _) = number(store, msisdn)?;
    let d = models::detalization(store.db(), m, from, to, services)?;
    Ok(export::report(&ctx.cat, m, from, to, &d))
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct MonthSpending {
    pub month: String,
    /// Category name → money.
    pub categories: std::collections::BTreeMap<&'static str, String>,
    pub total: String,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct SpendingView {
    /// The account, or the number.
    pub of: String,
    pub currency: String,
    pub months: Vec<MonthSpending>,
    /// Payments into the account in these months (an account's view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payments: Option<Vec<PaymentView>>,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct PaymentView {
    pub time: String,
    /// `payment`, `promised_payment`, `promise_written_off`, `transfer_sent`,
    /// `transfer_received` or `transfer_refunded`.
    pub kind: projections::PaymentKind,
    /// Negative for a write-off and a transfer sent.
    pub amount: String,
    /// Of a payment, the part that repaid a promised payment.
    pub repaid: String,
    pub balance_after: String,
    pub event: String,
}

/// Spending by month and category of an account (with its payments) or of one number, over the
/// months `from ..= to` (default: the last twelve months up to the latest event's).
pub fn spending(
    store: &Store,
    ctx: &Context,
    who: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<SpendingView, QueryError> {
    spending_of(store, ctx, Who::guess(store, who)?, from, to)
}

/// [`spending`] of what `who` names exactly.
pub fn spending_of(
    store: &Store,
    ctx: &Context,
    who: Who,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<SpendingView, QueryError> {
    let (from, to) = request::months(&ctx.cat, ctx.now, from, to).map_err(QueryError::Bad)?;
    let as_number = match who {
        Who::Number(m) => Some(m),
        _ => None,
    };
    // A group: the sum of the group's numbers (its members now).
    if let Who::Group(acct, group) = who {
        let a = account(store, who)?;
        let mut s = models::Spending::default();
        for n in a
            .numbers
            .iter()
            .filter(|n| n.group.as_deref() == Some(group))
        {
            let one = models::spending(store.db(), Whose::Number(n.msisdn), from, to)?;
            for (m, sums) in one.months {
                let into = s
                    .months
                    .entry(m)
                    .or_insert([rust_decimal::Decimal::ZERO; Category::ALL.len()]);
                for (x, y) in into.iter_mut().zip(sums) {
                    *x += y;
                }
            }
        }
        if !a.numbers.iter().any(|n| n.group.as_deref() == Some(group)) {
            return Err(QueryError::NotFound(format!(
                "no group {group} in account {acct}"
            )));
        }
        return Ok(spending_view(ctx, format!("{}/{group}", a.id), &s, None));
    }
    let (of, s, payments) = match as_number {
        Some(m) => (
            m.to_string(),
            models::spending(store.db(), Whose::Number(m), from, to)?,
            None,
        ),
        None => {
            let a = account(store, who)?;
            let (t0, _) = request::month_bounds(&ctx.cat, from);
            let (_, t1) = request::month_bounds(&ctx.cat, to);
            let p: Vec<PaymentRow> = models::payments(store.db(), &a.id, t0, t1)?;
            (
                a.id.to_string(),
                models::spending(store.db(), Whose::Account(&a.id), from, to)?,
                Some(
                    p.iter()
                        .map(|p| PaymentView {
                            time: export::local_time(&ctx.cat, p.time),
                            kind: p.kind,
                            amount: export::money(&ctx.cat, p.amount),
                            repaid: export::money(&ctx.cat, p.repaid),
                            balance_after: export::money(&ctx.cat, p.balance_after),
                            event: p.event.to_string(),
                        })
                        .collect(),
                ),
            )
        }
    };
    Ok(spending_view(ctx, of, &s, payments))
}

fn spending_view(
    ctx: &Context,
    of: String,
    spending: &models::Spending,
    payments: Option<Vec<PaymentView>>,
) -> SpendingView {
    let months = spending
        .months
        .iter()
        .map(|(m, sums)| MonthSpending {
            month: m.to_string(),
            categories: Category::ALL
                .iter()
                .map(|c| (c.name(), export::money(&ctx.cat, sums[*c as usize])))
                .collect(),
            total: export::money(&ctx.cat, spending.total(*m)),
        })
        .collect();
    SpendingView {
        of,
        currency: ctx.cat.currency.clone(),
        months,
        payments,
    }
}
