//! The queries of the read models that the CLI and the HTTP API answer alike: balance, packages,
//! detalization and spending of an account or a number, with the catalog in force for names.

use crate::pipeline::{recorded_catalog, EngineError};
use crate::store::Store;
use projections::export::{self, Report, Subject};
use projections::models::{self, Whose};
use projections::view::{self, BalanceView, PackagesView};
use projections::{Category, PaymentRow};
use rating::request;
use rating::{Account, Catalog, Month, Msisdn, Timestamp};
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
        store.check_models_layout()?;
        let tag = store
            .meta_u64(crate::keys::CATALOG_IN_FORCE)?
            .ok_or_else(|| QueryError::Bad("the store holds no catalog yet".into()))?;
        Ok(Context {
            cat: recorded_catalog(store, tag)?,
            now: Timestamp(store.meta_u64(crate::keys::WATERMARK)?.unwrap_or(0) as i64),
        })
    }
}

/// Whose records of a number a query may show. A number changes hands (released with its
/// account, then given to another), and each holder sees only what happened while it held it;
/// the operator sees every holder's, each row naming its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    Everything,
    Account(&'a str),
}

impl<'a> Scope<'a> {
    /// The account the rows are limited to, if any.
    pub fn account(self) -> Option<&'a str> {
        match self {
            Scope::Everything => None,
            Scope::Account(a) => Some(a),
        }
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
    /// The CLI's reading of a word: `ACCOUNT/GROUP`; a number an account holds or held; else
    /// an account id. (An operator reads everything, so a guess shows nothing it may not see.)
    pub fn guess(store: &Store, text: &'a str) -> Result<Who<'a>, QueryError> {
        if let Some((account, group)) = text.split_once('/') {
            return Ok(Who::Group(account, group));
        }
        if let Ok(m) = Msisdn::parse(text) {
            if !models::holders(store.db(), m)?.is_empty() {
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

/// A number and the account that holds it now.
pub fn number(store: &Store, msisdn: &str) -> Result<(Msisdn, Account), QueryError> {
    let m = Msisdn::parse(msisdn).map_err(QueryError::Bad)?;
    let id =
        models::account_of(store.db(), m)?.ok_or_else(|| QueryError::NotFound(msisdn.into()))?;
    let a = store
        .account(&id)?
        .ok_or_else(|| QueryError::NotFound(msisdn.into()))?;
    Ok((m, a))
}

/// A number and the accounts `scope` may see of those that held it: not found if none did.
pub fn holdings(
    store: &Store,
    msisdn: &str,
    scope: Scope,
) -> Result<(Msisdn, Vec<models::Holding>), QueryError> {
    let m = Msisdn::parse(msisdn).map_err(QueryError::Bad)?;
    let mut held = models::holders(store.db(), m)?;
    held.retain(|h| scope.account().is_none_or(|a| a == h.account));
    if held.is_empty() {
        return Err(QueryError::NotFound(msisdn.into()));
    }
    Ok((m, held))
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

/// A number's items in a period: those of the holders `scope` may see, each naming its account.
pub fn detalization(
    store: &Store,
    ctx: &Context,
    msisdn: &str,
    (from, to): (Timestamp, Timestamp),
    services: &[String],
    scope: Scope,
) -> Result<Report, QueryError> {
    for s in services {
        request::service(s).map_err(QueryError::Bad)?;
    }
    let (m, _) = holdings(store, msisdn, scope)?;
    let d = models::detalization(store.db(), m, (from, to), services, scope.account())?;
    Ok(export::report(&ctx.cat, Subject::Number(m), from, to, &d))
}

/// An account's items in a period: of every number it holds or held, while it held it, in time
/// order, each row naming its number (a corporate client's view of all its lines).
pub fn account_detalization(
    store: &Store,
    ctx: &Context,
    account_id: &str,
    (from, to): (Timestamp, Timestamp),
    services: &[String],
) -> Result<Report, QueryError> {
    for s in services {
        request::service(s).map_err(QueryError::Bad)?;
    }
    let a = account(store, Who::Account(account_id))?;
    let mut items = Vec::new();
    for n in &a.numbers {
        let d = models::detalization(store.db(), n.msisdn, (from, to), services, Some(&a.id))?;
        items.extend(d.items);
        if items.len() > models::MAX_ITEMS {
            return Err(projections::ModelError::TooMany.into());
        }
    }
    // Stable: items of one time keep their number's order in the account, and the log's.
    items.sort_by_key(|item| item.time);
    let d = models::Detalization { items };
    Ok(export::report(
        &ctx.cat,
        Subject::Account(&a.id),
        from,
        to,
        &d,
    ))
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
    (from, to): (Option<&str>, Option<&str>),
    scope: Scope,
) -> Result<SpendingView, QueryError> {
    spending_of(store, ctx, Who::guess(store, who)?, (from, to), scope)
}

/// [`spending`] of what `who` names exactly. `scope` limits a number's to the holders it may
/// see (an account's and a group's are that account's own).
pub fn spending_of(
    store: &Store,
    ctx: &Context,
    who: Who,
    (from, to): (Option<&str>, Option<&str>),
    scope: Scope,
) -> Result<SpendingView, QueryError> {
    let months = request::months(&ctx.cat, ctx.now, from, to).map_err(QueryError::Bad)?;
    match who {
        Who::Group(account, group) => group_spending(store, ctx, (account, group), months),
        Who::Number(m) => {
            let (m, held) = holdings(store, &m.to_string(), scope)?;
            let mut s = models::Spending::default();
            let mut seen = std::collections::BTreeSet::new();
            for h in held.iter().filter(|h| seen.insert(h.account.as_str())) {
                let one =
                    models::spending(store.db(), Whose::Number(m, &h.account), months.0, months.1)?;
                add_spending(&mut s, one);
            }
            Ok(spending_view(ctx, m.to_string(), &s, None))
        }
        Who::Account(_) => account_spending(store, ctx, who, months),
    }
}

/// A group's spending: the sum of the group's numbers (its members now), while the account
/// held them.
fn group_spending(
    store: &Store,
    ctx: &Context,
    (account_id, group): (&str, &str),
    (from, to): (Month, Month),
) -> Result<SpendingView, QueryError> {
    let a = account(store, Who::Account(account_id))?;
    let members: Vec<_> = a
        .numbers
        .iter()
        .filter(|n| n.group.as_deref() == Some(group))
        .collect();
    if members.is_empty() {
        return Err(QueryError::NotFound(format!(
            "no group {group} in account {account_id}"
        )));
    }
    let mut s = models::Spending::default();
    for n in members {
        add_spending(
            &mut s,
            models::spending(store.db(), Whose::Number(n.msisdn, &a.id), from, to)?,
        );
    }
    Ok(spending_view(ctx, format!("{}/{group}", a.id), &s, None))
}

fn add_spending(into: &mut models::Spending, more: models::Spending) {
    for (month, sums) in more.months {
        let row = into
            .months
            .entry(month)
            .or_insert([rust_decimal::Decimal::ZERO; Category::ALL.len()]);
        for (sum, amount) in row.iter_mut().zip(sums) {
            *sum += amount;
        }
    }
}

/// An account's spending, with its payments of those months.
fn account_spending(
    store: &Store,
    ctx: &Context,
    who: Who,
    (from, to): (Month, Month),
) -> Result<SpendingView, QueryError> {
    let a = account(store, who)?;
    let (t0, _) = request::month_bounds(&ctx.cat, from);
    let (_, t1) = request::month_bounds(&ctx.cat, to);
    let paid: Vec<PaymentRow> = models::payments(store.db(), &a.id, t0, t1)?;
    let payments = paid
        .iter()
        .map(|p| PaymentView {
            time: export::local_time(&ctx.cat, p.time),
            kind: p.kind,
            amount: export::money(&ctx.cat, p.amount),
            repaid: export::money(&ctx.cat, p.repaid),
            balance_after: export::money(&ctx.cat, p.balance_after),
            event: p.event.to_string(),
        })
        .collect();
    let s = models::spending(store.db(), Whose::Account(&a.id), from, to)?;
    Ok(spending_view(ctx, a.id.to_string(), &s, Some(payments)))
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
