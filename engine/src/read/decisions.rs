//! Logged decisions as the back office reads them (`ratel explain`, `ratel log`): the input, the
//! outcome and the reason of a rejection, the money and buckets moved, the balance before and
//! after, the price applied and the place in the log. Read from a live store, as the queries are.
//!
//! Balances and buckets before and after come from applying the decisions in log order: an
//! account's own entries (`by_account`) when the account is known, else the whole log.

use crate::entry::Entry;
use crate::pipeline::{Catalogs, EngineError};
use crate::query::QueryError;
use crate::store::{Store, StoreError};
use rating::{Account, Catalog, Decision, Input, Msisdn, Outcome, State, Timestamp};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;

/// One entry of the log, explained.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct DecisionView {
    pub partition: u32,
    pub seq: u64,
    /// Where its input was in its source: a file's byte offset, a topic partition's offset.
    pub position: u64,
    pub event: String,
    /// The decision's event time (RFC 3339, UTC).
    pub time: String,
    pub account: Option<String>,
    /// The input as it was read: its type and fields; a dead letter's line as text.
    pub input: serde_json::Value,
    /// `charged`, `paid`, `rejected`, `duplicate`, … or `dead` (a line that was not an input).
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// Money the decision took from the account (charges, fees, repayments, transfers sent) and
    /// put into it (payments, promised payments, transfers received).
    pub money_out: String,
    pub money_in: String,
    pub balance_before: Option<String>,
    pub balance_after: Option<String>,
    /// Units each bucket gained (granted) or lost (taken, expired), by number and bucket.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<BucketMove>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceView>,
    /// The catalog that decided (its tag); empty for a dead letter.
    pub catalog: String,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// A stable code: `unknown_number`, `no_rate`, … (`rating::Rejection::code`), or `dead`.
    pub code: &'static str,
    pub text: String,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct BucketMove {
    pub msisdn: String,
    pub bucket: u32,
    pub package: String,
    /// Positive: units granted; negative: units taken or lost.
    pub units: i128,
}

/// The price a usage item was charged at.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct PriceView {
    pub rate: String,
    pub destination: Option<String>,
    pub connect_fee: String,
    pub spans: Vec<SpanView>,
}

/// A stretch of usage billed at one slot of a rate: `units` at `price` per `per`, in
/// increments of `increment`.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct SpanView {
    pub rate: String,
    pub from: u64,
    pub units: u64,
    pub price: String,
    pub per: u64,
    pub increment: u64,
    pub cost: String,
}

/// Which decisions a listing keeps.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// An outcome's name (`rejected`, `charged`, …, `dead`).
    pub outcome: Option<String>,
    /// A rejection's code.
    pub reason: Option<String>,
    /// Inputs that name this number.
    pub msisdn: Option<Msisdn>,
}

impl Filter {
    fn keeps(&self, view: &DecisionView, time: Timestamp, msisdn: Option<Msisdn>) -> bool {
        self.from.is_none_or(|t| time >= t)
            && self.to.is_none_or(|t| time < t)
            && self.outcome.as_deref().is_none_or(|o| o == view.outcome)
            && self
                .reason
                .as_deref()
                .is_none_or(|r| view.reason.as_ref().is_some_and(|x| x.code == r))
            && self.msisdn.is_none_or(|m| msisdn == Some(m))
    }
}

/// Decisions applied in log order, with the catalogs that made them: what a view is read from.
struct Walk<'a> {
    store: &'a Store,
    catalogs: Catalogs,
    state: State,
}

fn engine(error: EngineError) -> QueryError {
    QueryError::Engine(error)
}

fn corrupt(partition: u32, seq: u64, what: impl std::fmt::Display) -> QueryError {
    engine(StoreError::Corrupt(format!("log {partition}/{seq}: {what}")).into())
}

impl<'a> Walk<'a> {
    fn new(store: &'a Store) -> Result<Walk<'a>, QueryError> {
        Ok(Walk {
            store,
            catalogs: Catalogs::default(),
            state: store.empty_state()?,
        })
    }

    /// Applies the entry and returns its view, with the number its input names, and its time.
    fn step(
        &mut self,
        (partition, seq): (u32, u64),
        entry: &Entry,
    ) -> Result<Option<(DecisionView, Option<Msisdn>, Timestamp)>, QueryError> {
        match entry {
            Entry::Catalog { .. } => Ok(None),
            Entry::Dead {
                topic,
                position,
                raw,
                reason,
            } => Ok(Some(dead_view(
                (partition, seq),
                topic,
                *position,
                raw,
                reason,
            ))),
            Entry::Rated {
                position,
                input,
                decision,
            } => {
                let input =
                    rating::codec::decode_input(input).map_err(|e| corrupt(partition, seq, e))?;
                let d = rating::codec::decode_decision(decision)
                    .map_err(|e| corrupt(partition, seq, e))?;
                let whose = rating::decision::changed_by(&d)
                    .or(d.account.as_ref())
                    .cloned();
                let before = whose
                    .as_deref()
                    .and_then(|a| self.state.account(a).cloned());
                rating::apply(&mut self.state, &d).map_err(|e| engine(e.into()))?;
                let after = whose.as_deref().and_then(|a| self.state.account(a));
                let cat = self.catalogs.get(self.store, d.catalog).map_err(engine)?;
                let mut view = rated_view(cat, &input, &d, (before.as_ref(), after));
                (view.partition, view.seq, view.position) = (partition, seq, *position);
                Ok(Some((view, input.msisdn(), d.time)))
            }
        }
    }
}

pub(crate) fn dead_view(
    (partition, seq): (u32, u64),
    topic: &str,
    position: u64,
    raw: &[u8],
    reason: &str,
) -> (DecisionView, Option<Msisdn>, Timestamp) {
    let line = String::from_utf8_lossy(raw).into_owned();
    let parsed: Option<serde_json::Value> = serde_json::from_slice(raw).ok();
    let field = |name: &str| match &parsed {
        Some(v) => v.get(name)?.as_str().map(str::to_string),
        None => text_field(&line, name),
    };
    let view = DecisionView {
        partition,
        seq,
        position,
        event: field("id").unwrap_or_default(),
        time: field("time").or_else(|| field("start")).unwrap_or_default(),
        account: None,
        input: serde_json::json!({ "topic": topic, "line": line }),
        outcome: "dead",
        reason: Some(Reason {
            code: "dead",
            text: reason.to_string(),
        }),
        money_out: "0".into(),
        money_in: "0".into(),
        balance_before: None,
        balance_after: None,
        buckets: Vec::new(),
        price: None,
        catalog: String::new(),
    };
    let msisdn = field("msisdn").and_then(|m| Msisdn::parse(&m).ok());
    (view, msisdn, Timestamp(i64::MIN))
}

/// A string field of a line that is not whole JSON (cut short): `"name":"value"`, if the value
/// is there whole and has no escapes.
fn text_field(line: &str, name: &str) -> Option<String> {
    let after = &line[line.find(&format!("\"{name}\""))? + name.len() + 2..];
    let value = after
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let end = value.find('"')?;
    (!value[..end].contains('\\')).then(|| value[..end].to_string())
}

/// The input as JSON, as it is read: `{"type": kind, …its fields}`.
pub(crate) fn input_json(input: &Input) -> serde_json::Value {
    serde_json::to_value(input).expect("an input serializes")
}

fn rated_view(
    cat: &Catalog,
    input: &Input,
    decided: &Decision,
    (before, after): (Option<&Account>, Option<&Account>),
) -> DecisionView {
    let (spent, paid) = decided.money_flow();
    let money = |amount: Decimal| projections::export::money(cat, amount);
    DecisionView {
        partition: 0,
        seq: 0,
        position: 0,
        event: decided.event.to_string(),
        time: decided.time.to_rfc3339(),
        account: rating::decision::changed_by(decided)
            .or(decided.account.as_ref())
            .map(ToString::to_string),
        input: input_json(input),
        outcome: decided.outcome.name(),
        reason: match &decided.outcome {
            Outcome::Rejected(r) => Some(Reason {
                code: r.code(),
                text: r.to_string(),
            }),
            _ => None,
        },
        money_out: money(spent),
        money_in: money(paid),
        balance_before: before.map(|a| money(a.balance)),
        balance_after: after.map(|a| money(a.balance)),
        buckets: bucket_moves(cat, before, after),
        price: price(cat, &decided.outcome),
        catalog: format!("{:016x}", decided.catalog),
    }
}

/// Each bucket's remaining units before and after, by number and bucket id: the difference.
fn bucket_moves(
    cat: &Catalog,
    before: Option<&Account>,
    after: Option<&Account>,
) -> Vec<BucketMove> {
    type Remaining = BTreeMap<(Msisdn, u32), (rating::catalog::PackageIdx, u64)>;
    let remaining = |account: Option<&Account>| -> Remaining {
        account
            .into_iter()
            .flat_map(|a| &a.numbers)
            .flat_map(|n| {
                n.buckets
                    .iter()
                    .map(move |b| ((n.msisdn, b.id), (b.package, b.remaining)))
            })
            .collect()
    };
    let (was, is) = (remaining(before), remaining(after));
    let mut keys: Vec<_> = was.keys().chain(is.keys()).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .filter_map(|key| {
            let (package, old) = was.get(&key).copied().unwrap_or((is[&key].0, 0));
            let new = is.get(&key).map_or(0, |x| x.1);
            (old != new).then(|| BucketMove {
                msisdn: key.0.to_string(),
                bucket: key.1,
                package: projections::view::package_name(cat, package),
                units: i128::from(new) - i128::from(old),
            })
        })
        .collect()
}

pub(crate) fn rate_name(cat: &Catalog, rate: rating::catalog::RateIdx) -> String {
    cat.rates
        .get(rate as usize)
        .map_or_else(|| format!("#{rate}"), |r| r.id.clone())
}

fn price(cat: &Catalog, outcome: &Outcome) -> Option<PriceView> {
    let c = outcome.charge()?;
    let spans = c
        .spans
        .iter()
        .map(|s| {
            let slot = cat
                .rates
                .get(s.rate as usize)
                .and_then(|r| r.slots.get(s.slot as usize));
            SpanView {
                rate: rate_name(cat, s.rate),
                from: s.from,
                units: s.units,
                price: slot.map_or_else(String::new, |x| x.price.to_string()),
                per: slot.map_or(0, |x| x.per),
                increment: slot.map_or(0, |x| x.increment),
                cost: projections::export::money(cat, s.cost),
            }
        })
        .collect();
    Some(PriceView {
        rate: rate_name(cat, c.rate),
        destination: c
            .destination
            .and_then(|i| cat.destinations.get(i as usize))
            .map(|x| x.id.clone()),
        connect_fee: projections::export::money(cat, c.connect_fee),
        spans,
    })
}

/// Every entry of the log, in log order.
fn log_entries(
    store: &Store,
) -> impl Iterator<Item = Result<((u32, u64), Entry), QueryError>> + '_ {
    store.log().map(|item| {
        item.map(|(p, seq, e)| ((p, seq), e))
            .map_err(QueryError::from)
    })
}

/// Hands `each` the views `filter` keeps, in log order: an account's (`account`), the accounts'
/// that held `filter.msisdn`, or the whole log's. Stops early when `each` says so.
pub fn list(
    store: &Store,
    account: Option<&str>,
    filter: &Filter,
    mut each: impl FnMut(DecisionView) -> bool,
) -> Result<(), QueryError> {
    let accounts: Option<Vec<String>> = match (account, filter.msisdn) {
        (Some(a), _) => Some(vec![a.to_string()]),
        (None, Some(m)) => {
            let mut held: Vec<String> = projections::models::holders(store.db(), m)?
                .into_iter()
                .map(|h| h.account)
                .collect();
            held.dedup();
            Some(held)
        }
        (None, None) => None,
    };
    let mut go = |entries: &mut dyn Iterator<Item = Result<((u32, u64), Entry), QueryError>>| {
        let mut walk = Walk::new(store)?;
        for item in entries {
            let (place, entry) = item?;
            if let Some((view, msisdn, time)) = walk.step(place, &entry)? {
                if filter.keeps(&view, time, msisdn) && !each(view) {
                    return Ok(false);
                }
            }
        }
        Ok::<bool, QueryError>(true)
    };
    match accounts {
        Some(accounts) => {
            for a in accounts {
                let mut entries = store
                    .account_log(&a)?
                    .map(|item| item.map_err(QueryError::from));
                if !go(&mut entries)? {
                    break;
                }
            }
        }
        None => {
            go(&mut log_entries(store))?;
        }
    }
    Ok(())
}

/// Every entry of an event id (its decision, and any repeat of it decided a duplicate), with
/// the balances of its account: found in `account`'s entries, or by reading the whole log.
pub fn explain(
    store: &Store,
    event: &str,
    account: Option<&str>,
) -> Result<Vec<DecisionView>, QueryError> {
    let mut found = Vec::new();
    if event.is_empty() {
        return Ok(found);
    }
    list(store, account, &Filter::default(), |view| {
        if view.event == event {
            found.push(view);
        }
        true
    })?;
    Ok(found)
}

impl DecisionView {
    /// The view as a few lines for a person (`ratel explain`).
    pub fn text(&self) -> String {
        let mut out =
            format!(
            "event    {} · log {}/{} · source position {}\ntime     {}\ninput    {}\noutcome  {}",
            self.event, self.partition, self.seq, self.position, self.time, self.input, self.outcome
        );
        if let Some(r) = &self.reason {
            out += &format!(" ({}: {})", r.code, r.text);
        }
        if let Some(a) = &self.account {
            let balance = |b: &Option<String>| b.clone().unwrap_or_else(|| "-".into());
            out += &format!(
                "\naccount  {a} · balance {} → {} (out {}, in {})",
                balance(&self.balance_before),
                balance(&self.balance_after),
                self.money_out,
                self.money_in
            );
        }
        for b in &self.buckets {
            out += &format!(
                "\nbucket   {} #{} {} {:+}",
                b.msisdn, b.bucket, b.package, b.units
            );
        }
        if let Some(p) = &self.price {
            out += &format!("\nprice    rate {}", p.rate);
            if let Some(d) = &p.destination {
                out += &format!(" to {d}");
            }
            out += &format!(" · connect fee {}", p.connect_fee);
            for s in &p.spans {
                out += &format!(
                    "\n         from {}: {} units at {} per {} (in steps of {}) = {} [{}]",
                    s.from, s.units, s.price, s.per, s.increment, s.cost, s.rate
                );
            }
        }
        if !self.catalog.is_empty() {
            out += &format!("\ncatalog  {}", self.catalog);
        }
        out
    }

    /// The view as one line of a listing (`ratel log`): time, event, outcome (and reason),
    /// account, money out and in, balance after, place in the log.
    pub fn line(&self) -> String {
        let outcome = match &self.reason {
            Some(r) => format!("{}:{}", self.outcome, r.code),
            None => self.outcome.to_string(),
        };
        format!(
            "{}\t{}\t{}\t{}\t-{}\t+{}\t{}\t{}/{}",
            self.time,
            self.event,
            outcome,
            self.account.as_deref().unwrap_or("-"),
            self.money_out,
            self.money_in,
            self.balance_after.as_deref().unwrap_or("-"),
            self.partition,
            self.seq
        )
    }
}

#[cfg(test)]
mod tests {
    use super::text_field;

    /// A dead line is untrusted and may be cut anywhere: the id is read when it is whole.
    #[test]
    fn a_field_is_read_from_a_line_cut_short_only_when_whole() {
        let line = r#"{"type":"usage","id":"c-4","msisdn":"7900","serv"#;
        assert_eq!(text_field(line, "id").as_deref(), Some("c-4"));
        assert_eq!(text_field(line, "msisdn").as_deref(), Some("7900"));
        for cut in [
            r#"{"id":"c-"#,
            r#"{"id":"#,
            r#"{"id""#,
            r#"{"i"#,
            "",
            r#"{"id":"a\"b"}"#,
        ] {
            assert_eq!(text_field(cut, "id"), None, "{cut}");
        }
        assert_eq!(
            text_field(r#"{"id" : "ид-1"}"#, "id").as_deref(),
            Some("ид-1")
        );
        assert_eq!(text_field(r#"{"id":7}"#, "id"), None);
    }
}
