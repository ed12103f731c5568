//! A detalization as the subscriber receives it: rows in local time with human quantities, and
//! totals per service. CSV and JSON here; the PDF in [`crate::pdf`] lays out the same rows.

use crate::item::{Item, What};
use crate::models::Detalization;
use rating::{Catalog, Direction, FeeKind, Timestamp};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;

/// The report: whose, which period, the rows and the totals.
#[derive(Serialize, Debug, Clone)]
pub struct Report {
    /// The number reported on; empty in an account's report, which covers all its numbers.
    pub msisdn: String,
    /// The account reported on, in an account's report (each row then names its number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub currency: String,
    pub time_zone: String,
    pub from: String,
    pub to: String,
    pub rows: Vec<Row>,
    pub totals: Vec<Total>,
    pub total_money: String,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Local date and time, `YYYY-MM-DD HH:MM:SS`.
    pub time: String,
    pub service: String,
    /// `out`, `in`, or empty for fees and reports.
    pub direction: String,
    pub other: String,
    /// Duration (`m:ss`), volume (`12.5 MB`), messages, or the fee's period.
    pub quantity: String,
    pub from_packages: String,
    pub money: String,
    pub balance_after: String,
    pub event: String,
    /// The account charged: the number's holder then (a number changes hands).
    pub account: String,
    pub msisdn: String,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Total {
    pub service: String,
    pub items: u64,
    pub money: String,
}

/// An amount with at least the currency's decimals: `0` reads `0.00` in RUB. Never rounds.
pub fn money(cat: &Catalog, amount: Decimal) -> String {
    let mut x = amount;
    if x.scale() < cat.decimals {
        x.rescale(cat.decimals);
    }
    x.to_string()
}

pub fn local_time(cat: &Catalog, at: Timestamp) -> String {
    use chrono::TimeZone;
    match cat.tz.timestamp_opt(at.0, 0).single() {
        Some(dt) => dt.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => at.to_rfc3339(),
    }
}

fn duration(seconds: u64) -> String {
    if seconds >= 3600 {
        format!(
            "{}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )
    } else {
        format!("{}:{:02}", seconds / 60, seconds % 60)
    }
}

pub(crate) fn volume(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    if bytes >= MB {
        let tenths = (bytes * 10 + MB / 2) / MB;
        format!("{}.{} MB", tenths / 10, tenths % 10)
    } else if bytes >= KB {
        format!("{} KB", bytes.div_ceil(KB))
    } else {
        format!("{bytes} B")
    }
}

fn quantity(what: &What, units: u64) -> String {
    match what {
        What::Usage { service, .. } => in_unit(service.unit(), units),
        _ => String::new(),
    }
}

fn in_unit(unit: rating::Unit, units: u64) -> String {
    match unit {
        rating::Unit::Seconds => duration(units),
        rating::Unit::Bytes => volume(units),
        rating::Unit::Messages => units.to_string(),
    }
}

/// The service, direction, other and quantity columns of a fee: `fee`, the plan, option or
/// status that charged it, and its kind.
fn fee_columns(
    cat: &Catalog,
    fee: FeeKind,
    source: rating::FeeSource,
) -> (String, String, String, String) {
    let name = match source {
        rating::FeeSource::Plan(p) => cat.plans.get(p as usize).map(|o| o.id.as_str()),
        rating::FeeSource::Addon(a) => cat.addons.get(a as usize).map(|o| o.id.as_str()),
        rating::FeeSource::Suspension => Some("suspension"),
        rating::FeeSource::LostSim => Some("lost_sim"),
        rating::FeeSource::Inactivity => Some("inactivity"),
    };
    (
        "fee".into(),
        String::new(),
        name.unwrap_or("?").to_string(),
        match fee {
            FeeKind::Connection => "connection",
            FeeKind::Daily => "daily",
            FeeKind::Monthly => "monthly",
            FeeKind::Switch => "plan_change",
        }
        .into(),
    )
}

pub fn row(cat: &Catalog, item: &Item) -> Row {
    let (service, direction, other, qty) = match &item.what {
        What::Usage {
            service,
            direction,
            other,
            quantity: q,
        } => (
            service.name().to_string(),
            match direction {
                Direction::Out => "out",
                Direction::In => "in",
            }
            .to_string(),
            other.as_deref().unwrap_or("").to_string(),
            quantity(&item.what, *q),
        ),
        What::Fee { fee, source } => fee_columns(cat, *fee, *source),
        What::Report => ("report".into(), String::new(), String::new(), String::new()),
        // The reason is the operator's code; who made the correction is not the subscriber's
        // to read.
        What::Adjustment { reason, .. } => (
            "adjustment".into(),
            String::new(),
            reason.to_string(),
            String::new(),
        ),
        What::Refund { charge, units, .. } => (
            "refund".into(),
            String::new(),
            charge.to_string(),
            if *units == 0 {
                String::new()
            } else {
                units.to_string()
            },
        ),
        What::Grant { package, units, .. } | What::Take { package, units, .. } => {
            let service = if matches!(item.what, What::Grant { .. }) {
                "grant"
            } else {
                "take"
            };
            let package = cat.packages.get(*package as usize);
            (
                service.into(),
                String::new(),
                package.map_or("?", |p| p.id.as_str()).to_string(),
                package.map_or_else(|| units.to_string(), |p| in_unit(p.unit, *units)),
            )
        }
    };
    Row {
        time: local_time(cat, item.time),
        service,
        direction,
        other,
        quantity: qty,
        from_packages: if item.from_packages == 0 {
            String::new()
        } else {
            quantity(&item.what, item.from_packages)
        },
        money: money(cat, item.money),
        balance_after: money(cat, item.balance_after),
        event: spreadsheet_text(&item.event),
        account: spreadsheet_text(&item.account),
        msisdn: item.msisdn.to_string(),
    }
}

/// Free text (an event id, an account id) as a cell a spreadsheet shows as text: one that
/// begins with `=`, `+`, `-`, `@`, a tab or a carriage return would be read as a formula
/// (`=HYPERLINK(…)`), so it gets a leading `'`, as OWASP advises for CSV exports. Numbers and
/// amounts are written by ratel itself and are left as they are.
pub fn spreadsheet_text(text: &str) -> String {
    match text.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

/// Whose report: a number's, or an account's (all its numbers).
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    Number(rating::Msisdn),
    Account(&'a str),
}

impl Report {
    /// The report's heading: `+79001234567`, or `account A1`.
    pub fn title(&self) -> String {
        match &self.account {
            Some(a) => format!("Detalization of account {a}"),
            None => format!("Detalization of +{}", self.msisdn),
        }
    }
}

pub fn report(
    cat: &Catalog,
    subject: Subject,
    from: Timestamp,
    to: Timestamp,
    detalization: &Detalization,
) -> Report {
    let mut totals: BTreeMap<&'static str, (u64, Decimal)> = BTreeMap::new();
    for i in &detalization.items {
        let t = totals.entry(i.service_name()).or_default();
        t.0 += 1;
        t.1 += i.money;
    }
    let order = rating::request::SERVICES;
    Report {
        msisdn: match subject {
            Subject::Number(m) => m.to_string(),
            Subject::Account(_) => String::new(),
        },
        account: match subject {
            Subject::Number(_) => None,
            Subject::Account(a) => Some(a.to_string()),
        },
        currency: cat.currency.clone(),
        time_zone: cat.tz.name().to_string(),
        from: local_time(cat, from),
        to: local_time(cat, to),
        rows: detalization.items.iter().map(|i| row(cat, i)).collect(),
        totals: order
            .iter()
            .filter_map(|s| {
                totals.get(s).map(|(n, m)| Total {
                    service: s.to_string(),
                    items: *n,
                    money: money(cat, *m),
                })
            })
            .collect(),
        total_money: money(
            cat,
            detalization.items.iter().map(|i| i.money).sum::<Decimal>(),
        ),
    }
}

pub fn csv(report: &Report) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in &report.rows {
        w.serialize(row).expect("rows serialise into memory");
    }
    w.into_inner().expect("a Vec never fails to flush")
}

pub fn json(report: &Report) -> Vec<u8> {
    serde_json::to_vec_pretty(report).expect("reports serialise")
}
