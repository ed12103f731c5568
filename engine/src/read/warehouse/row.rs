//! One exported row: a decision (or a dead letter) flattened into the columns every format
//! writes, in [`COLUMNS`] order.

use rating::{Catalog, Decision, Input, MovementKind, Outcome};
use rust_decimal::Decimal;
use serde::Serialize;

/// The columns, in order, as every format names them (docs/export.md gives each one's type).
pub const COLUMNS: [&str; 27] = [
    "partition",
    "seq",
    "source_position",
    "event",
    "time",
    "account",
    "msisdn",
    "input_type",
    "outcome",
    "reason",
    "reason_text",
    "service",
    "direction",
    "other_party",
    "quantity",
    "usage",
    "fees",
    "payments",
    "money_out",
    "money_in",
    "bucket_units",
    "takes",
    "rate",
    "destination",
    "movements",
    "catalog",
    "input",
];

/// A row. Money is exact (`Decimal`); `time` is the decision's event time, none for a dead
/// letter; `takes` and `movements` are JSON arrays as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub partition: u32,
    pub seq: u64,
    pub source_position: u64,
    pub event: String,
    #[serde(serialize_with = "rfc3339")]
    pub time: Option<rating::Timestamp>,
    pub account: Option<String>,
    pub msisdn: Option<String>,
    pub input_type: String,
    pub outcome: &'static str,
    pub reason: Option<&'static str>,
    pub reason_text: Option<String>,
    pub service: Option<&'static str>,
    pub direction: Option<String>,
    pub other_party: Option<String>,
    pub quantity: Option<u64>,
    #[serde(serialize_with = "decimal")]
    pub usage: Decimal,
    #[serde(serialize_with = "decimal")]
    pub fees: Decimal,
    #[serde(serialize_with = "decimal")]
    pub payments: Decimal,
    #[serde(serialize_with = "decimal")]
    pub money_out: Decimal,
    #[serde(serialize_with = "decimal")]
    pub money_in: Decimal,
    pub bucket_units: u64,
    pub takes: String,
    pub rate: Option<String>,
    pub destination: Option<String>,
    pub movements: String,
    pub catalog: String,
    pub input: String,
}

fn decimal<S: serde::Serializer>(amount: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(amount)
}

fn rfc3339<S: serde::Serializer>(
    time: &Option<rating::Timestamp>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(t) => serializer.serialize_str(&t.to_rfc3339()),
        None => serializer.serialize_none(),
    }
}

/// The row of a rated entry.
pub(super) fn rated(
    cat: &Catalog,
    (partition, seq, source_position): (u32, u64, u64),
    input: &Input,
    decision: &Decision,
) -> Row {
    let movements = decision.movements();
    let sum = |keep: &dyn Fn(MovementKind) -> bool| -> Decimal {
        (movements.iter().filter(|m| keep(m.kind)))
            .map(|m| m.amount)
            .sum()
    };
    let (money_out, money_in) = decision.money_flow();
    let charge = decision.outcome.charge();
    let takes: &[rating::Take] = match (&decision.outcome, charge) {
        (_, Some(c)) => &c.takes,
        (Outcome::UnitsTaken { takes, .. }, None) => takes,
        _ => &[],
    };
    let usage = match input {
        Input::Usage(u) => Some(u),
        _ => None,
    };
    Row {
        partition,
        seq,
        source_position,
        event: decision.event.to_string(),
        time: Some(decision.time),
        account: rating::decision::changed_by(decision)
            .or(decision.account.as_ref())
            .map(ToString::to_string),
        msisdn: input.msisdn().map(|m| m.to_string()),
        input_type: input.kind().to_string(),
        outcome: decision.outcome.name(),
        reason: match &decision.outcome {
            Outcome::Rejected(r) => Some(r.code()),
            _ => None,
        },
        reason_text: match &decision.outcome {
            Outcome::Rejected(r) => Some(r.to_string()),
            _ => None,
        },
        service: usage.map(|u| u.service.name()),
        direction: usage.map(|u| json_name(&u.direction)),
        other_party: usage
            .and_then(|u| u.other.as_ref())
            .map(ToString::to_string),
        quantity: usage.and_then(|u| u.quantity().ok()),
        usage: sum(&|k| k == MovementKind::Usage),
        fees: sum(&MovementKind::is_fee),
        payments: sum(&|k| k == MovementKind::Payment),
        money_out,
        money_in,
        bucket_units: takes.iter().map(|t| t.units).sum(),
        takes: json(takes),
        rate: charge.map(|c| crate::decisions::rate_name(cat, c.rate)),
        destination: charge
            .and_then(|c| c.destination)
            .and_then(|i| cat.destinations.get(i as usize))
            .map(|d| d.id.clone()),
        movements: json(&movements),
        catalog: format!("{:016x}", decision.catalog),
        input: crate::decisions::input_json(input).to_string(),
    }
}

/// The row of a dead letter: what could be read of its line.
pub(super) fn dead(
    (partition, seq): (u32, u64),
    topic: &str,
    source_position: u64,
    raw: &[u8],
    reason: &str,
) -> Row {
    let (view, msisdn, _) =
        crate::decisions::dead_view((partition, seq), topic, source_position, raw, reason);
    Row {
        partition,
        seq,
        source_position,
        event: view.event,
        time: None,
        account: None,
        msisdn: msisdn.map(|m| m.to_string()),
        input_type: "dead".into(),
        outcome: "dead",
        reason: Some("dead"),
        reason_text: Some(reason.to_string()),
        service: None,
        direction: None,
        other_party: None,
        quantity: None,
        usage: Decimal::ZERO,
        fees: Decimal::ZERO,
        payments: Decimal::ZERO,
        money_out: Decimal::ZERO,
        money_in: Decimal::ZERO,
        bucket_units: 0,
        takes: "[]".into(),
        rate: None,
        destination: None,
        movements: "[]".into(),
        catalog: String::new(),
        input: view.input.to_string(),
    }
}

fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("a row's parts serialize")
}

/// A value's name as its JSON gives it (`"outgoing"` → `outgoing`).
fn json_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}
