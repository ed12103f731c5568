//! A CGRateS tariff plan compiled: timings, rates, destinations and rating profiles, checked and
//! indexed for [`super::price`].

use super::file::{self, TariffFile};
use crate::catalog::problem::Problem;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

/// One second in usage units.
pub const SECOND: u64 = 1_000_000_000;
/// The largest usage or duration accepted anywhere: 400 days of voice, 3.4 × 10^16 bytes.
pub const MAX_USAGE: u64 = 400 * 86_400 * SECOND;
/// Rounding decimals beyond this would overflow 28-digit decimals in a long call.
pub const MAX_DECIMALS: u32 = 12;
/// CGRateS's RECURSION_MAX_DEPTH: the profile asked for plus two levels of fallback subjects.
pub const MAX_FALLBACK_DEPTH: usize = 3;
pub(crate) const DAY: u64 = 86_400 * SECOND;

/// CGRateS's three rounding methods, with its rules to the letter (`utils.Round`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Method {
    #[serde(rename = "*up")]
    Up,
    #[serde(rename = "*down")]
    Down,
    #[serde(rename = "*middle")]
    Middle,
}

impl Method {
    pub fn parse(text: &str) -> Option<Method> {
        match text {
            "*up" => Some(Method::Up),
            "*down" => Some(Method::Down),
            "*middle" => Some(Method::Middle),
            _ => None,
        }
    }

    /// `value` to `decimals` places. `*up` is a ceiling that ignores a remainder below
    /// 10^-max(7, decimals) of the last place (CGRateS cut float noise there; the cut is kept so
    /// that prices agree); `*middle` rounds a half up; `*down` is a floor.
    pub fn round(self, value: Decimal, decimals: u32) -> Decimal {
        let pow = Decimal::from(10u64.pow(decimals));
        let intermed = value * pow;
        let frac = intermed - intermed.trunc();
        let rounder = match self {
            Method::Up => {
                let max_prec = decimals.max(7);
                if frac >= Decimal::new(1, max_prec) {
                    intermed.ceil()
                } else {
                    intermed.floor()
                }
            }
            Method::Down => intermed.floor(),
            Method::Middle => {
                if frac >= Decimal::new(5, 1) {
                    intermed.ceil()
                } else {
                    intermed.floor()
                }
            }
        };
        (rounder / pow).normalize()
    }
}

/// Parses a CGRateS duration: Go's form ("1m30s", "1.5h", "500ms", "0") or a bare number of
/// nanosecond units ("1024"). An empty field is zero.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(0);
    }
    if t.len() > 40 {
        return Err(format!("duration {text:?} is too long"));
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<u64>()
            .ok()
            .filter(|&v| v <= MAX_USAGE)
            .ok_or_else(|| format!("duration {text:?} is too large"));
    }
    let mut total: u128 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("duration {text:?} lacks a unit"))?;
        if num_len == 0 {
            return Err(format!("duration {text:?} is not a Go duration"));
        }
        let num: Decimal = rest[..num_len]
            .parse()
            .map_err(|_| format!("duration {text:?} has a bad number"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale: u64 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => SECOND,
            "m" => 60 * SECOND,
            "h" => 3_600 * SECOND,
            u => return Err(format!("duration {text:?} has an unknown unit {u:?}")),
        };
        rest = &rest[unit_len..];
        let v = num
            .checked_mul(Decimal::from(scale))
            .ok_or_else(|| format!("duration {text:?} is too large"))?;
        if v.fract() != Decimal::ZERO {
            return Err(format!(
                "duration {text:?} is not a whole number of nanoseconds"
            ));
        }
        total += u128::try_from(v.mantissa() / 10i128.pow(v.scale())).unwrap_or(u128::MAX);
        if total > u128::from(MAX_USAGE) {
            return Err(format!("duration {text:?} is too large"));
        }
    }
    Ok(total as u64)
}

#[derive(Debug, Clone)]
pub(crate) struct Timing {
    pub id: String,
    pub years: Vec<i32>,
    pub months: Vec<u32>,
    pub month_days: Vec<u32>,
    /// Bit 0 = Monday … bit 6 = Sunday; 0 = any day.
    pub week_days: u8,
    /// Nanoseconds since local midnight.
    pub start: u64,
    pub end: u64,
}

impl Timing {
    fn always() -> Timing {
        Timing {
            id: "*any".into(),
            years: vec![],
            months: vec![],
            month_days: vec![],
            week_days: 0,
            start: 0,
            end: DAY,
        }
    }

    pub fn on_day(&self, date: NaiveDate) -> bool {
        (self.years.is_empty() || self.years.contains(&date.year()))
            && (self.months.is_empty() || self.months.contains(&date.month()))
            && (self.month_days.is_empty() || self.month_days.contains(&date.day()))
            && (self.week_days == 0
                || self.week_days & (1 << date.weekday().num_days_from_monday()) != 0)
    }

    pub fn active(&self, date: NaiveDate, tod: u64) -> bool {
        self.on_day(date) && self.start <= tod && tod < self.end
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub connect_fee: Decimal,
    pub rate: Decimal,
    pub unit: u64,
    pub increment: u64,
    pub start: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Rate {
    pub id: String,
    /// Sorted by start; the first starts at 0.
    pub slots: Vec<Slot>,
}

impl Rate {
    /// The slot in force after `elapsed` units, and where the next one starts.
    pub fn slot_at(&self, elapsed: u64) -> (usize, Option<u64>) {
        let i = self.slots.partition_point(|s| s.start <= elapsed).max(1) - 1;
        (i, self.slots.get(i + 1).map(|s| s.start))
    }
}

/// One binding of a rating plan: a destination's rate during a timing, with a weight.
#[derive(Debug, Clone)]
pub(crate) struct Interval {
    pub timing: u32,
    pub weight: Decimal,
    pub destination_rates: String,
    pub rate: u32,
    pub method: Method,
    pub decimals: u32,
    /// Zero: no cap.
    pub max_cost: Decimal,
    /// `*free`: the cost stops at max_cost. `*disconnect` only cuts live calls, not prices.
    pub free: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub id: String,
    /// By destination index; `u32::MAX` is `*any`.
    pub by_dest: FxHashMap<u32, Vec<Interval>>,
}

pub(crate) const ANY: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub(crate) struct Activation {
    pub at: DateTime<Utc>,
    pub plan: u32,
    pub fallback: Vec<String>,
}

/// A compiled CGRateS tariff plan.
#[derive(Debug, Clone)]
pub struct Tariff {
    pub rounding_decimals: u32,
    pub(crate) destinations: Vec<String>,
    pub(crate) by_prefix: FxHashMap<String, Vec<u32>>,
    pub(crate) timings: Vec<Timing>,
    pub(crate) rates: Vec<Rate>,
    pub(crate) plans: Vec<Plan>,
    /// (tenant, category, subject) → activations sorted by time.
    pub(crate) profiles: FxHashMap<(String, String, String), Vec<Activation>>,
}

fn time_of_day(text: &str) -> Option<u64> {
    let t = chrono::NaiveTime::parse_from_str(text.trim(), "%H:%M:%S")
        .or_else(|_| chrono::NaiveTime::parse_from_str(text.trim(), "%H:%M"))
        .ok()?;
    Some(u64::from(chrono::Timelike::num_seconds_from_midnight(&t)) * SECOND)
}

impl Tariff {
    /// Checks and indexes a tariff plan. Every problem is named by item, as for the rest of the
    /// catalog (`cgrates.rates.RT_X: …`).
    pub fn compile(tariff_file: &TariffFile) -> Result<Tariff, Vec<Problem>> {
        let mut problems = Vec::new();
        if tariff_file.rounding_decimals > MAX_DECIMALS {
            bad(
                &mut problems,
                "cgrates.rounding_decimals",
                format!(
                    "{} decimals; at most {MAX_DECIMALS}",
                    tariff_file.rounding_decimals
                ),
            );
        }
        let (dest_ix, by_prefix) = destinations(tariff_file, &mut problems);
        let (timings, timing_ix) = timings(tariff_file, &mut problems);
        let (rates, rate_ix) = rates(tariff_file, &mut problems);
        let drs = destination_rates(tariff_file, &dest_ix, &rate_ix, &mut problems);
        let ix = Indexes {
            destinations: &dest_ix,
            timings: &timing_ix,
            rates: &rate_ix,
            destination_rates: &drs,
        };
        let (plans, plan_ix) = plans(tariff_file, &ix, &mut problems);
        let profiles = profiles(tariff_file, &plan_ix, &mut problems);
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Tariff {
            rounding_decimals: tariff_file.rounding_decimals,
            destinations: tariff_file
                .destinations
                .iter()
                .map(|d| d.id.clone())
                .collect(),
            by_prefix,
            timings,
            rates,
            plans,
            profiles,
        })
    }
}

fn bad(problems: &mut Vec<Problem>, item: &str, problem: impl Into<String>) {
    problems.push(Problem {
        item: item.into(),
        problem: problem.into(),
    });
}

/// The indexes a rating plan's bindings are resolved with.
struct Indexes<'a> {
    destinations: &'a FxHashMap<&'a str, u32>,
    timings: &'a FxHashMap<&'a str, u32>,
    rates: &'a FxHashMap<&'a str, u32>,
    destination_rates: &'a FxHashMap<&'a str, &'a file::DestinationRatesFile>,
}

/// The destinations' index by id, and the destinations of each prefix.
fn destinations<'a>(
    tariff_file: &'a TariffFile,
    problems: &mut Vec<Problem>,
) -> (FxHashMap<&'a str, u32>, FxHashMap<String, Vec<u32>>) {
    let mut dest_ix: FxHashMap<&str, u32> = FxHashMap::default();
    let mut by_prefix: FxHashMap<String, Vec<u32>> = FxHashMap::default();
    for (i, d) in tariff_file.destinations.iter().enumerate() {
        let item = format!("cgrates.destinations.{}", d.id);
        if d.id == "*any" || dest_ix.insert(&d.id, i as u32).is_some() {
            bad(problems, &item, "id is reserved or used twice");
        }
        if d.prefixes.is_empty() {
            bad(problems, &item, "no prefixes");
        }
        for p in &d.prefixes {
            if p.is_empty() || p.len() > 64 {
                bad(
                    problems,
                    &item,
                    format!("prefix {p:?} is empty or too long"),
                );
            }
            let v = by_prefix.entry(p.clone()).or_default();
            if !v.contains(&(i as u32)) {
                v.push(i as u32);
            }
        }
    }
    (dest_ix, by_prefix)
}

/// The timings (`*any` first) and their index by id.
fn timings<'a>(
    tariff_file: &'a TariffFile,
    problems: &mut Vec<Problem>,
) -> (Vec<Timing>, FxHashMap<&'a str, u32>) {
    let mut timings = vec![Timing::always()];
    let mut timing_ix: FxHashMap<&str, u32> = FxHashMap::from_iter([("*any", 0)]);
    for t in &tariff_file.timings {
        let item = format!("cgrates.timings.{}", t.id);
        if timing_ix.insert(&t.id, timings.len() as u32).is_some() {
            bad(problems, &item, "id is reserved or used twice");
        }
        let mut week_days = 0u8;
        for &w in &t.week_days {
            match w {
                0 | 7 => week_days |= 1 << 6,
                1..=6 => week_days |= 1 << (w - 1),
                _ => bad(problems, &item, format!("week day {w} is not 0..7")),
            }
        }
        if t.months.iter().any(|&m| !(1..=12).contains(&m)) {
            bad(problems, &item, "a month is not 1..12");
        }
        if t.month_days.iter().any(|&m| !(1..=31).contains(&m)) {
            bad(problems, &item, "a month day is not 1..31");
        }
        let start = time_of_day(&t.start).unwrap_or_else(|| {
            bad(
                problems,
                &item,
                format!("start {:?} is not HH:MM:SS", t.start),
            );
            0
        });
        let end = match &t.end {
            None => DAY,
            Some(e) if e.trim() == "24:00:00" => DAY,
            Some(e) => time_of_day(e).unwrap_or_else(|| {
                bad(problems, &item, format!("end {e:?} is not HH:MM:SS"));
                DAY
            }),
        };
        if end <= start {
            bad(problems, &item, "end is not after start");
        }
        timings.push(Timing {
            id: t.id.clone(),
            years: t.years.clone(),
            months: t.months.clone(),
            month_days: t.month_days.clone(),
            week_days,
            start,
            end,
        });
    }
    (timings, timing_ix)
}

/// The rates, each with its slots in order of their start, and their index by id.
fn rates<'a>(
    tariff_file: &'a TariffFile,
    problems: &mut Vec<Problem>,
) -> (Vec<Rate>, FxHashMap<&'a str, u32>) {
    let mut rates = Vec::new();
    let mut rate_ix: FxHashMap<&str, u32> = FxHashMap::default();
    for r in &tariff_file.rates {
        let item = format!("cgrates.rates.{}", r.id);
        if rate_ix.insert(&r.id, rates.len() as u32).is_some() {
            bad(problems, &item, "id used twice");
        }
        if r.slots.is_empty() || r.slots.len() > crate::catalog::limits::MAX_SLOTS {
            bad(problems, &item, "no slots, or too many");
        }
        let mut slots = Vec::new();
        for s in &r.slots {
            let mut dur = |field: &str, text: &str, zero_is_second: bool| match parse_duration(text)
            {
                Ok(0) if zero_is_second => SECOND,
                Ok(v) => v,
                Err(e) => {
                    bad(problems, &item, format!("{field}: {e}"));
                    SECOND
                }
            };
            let unit = dur("rate_unit", &s.rate_unit, true);
            let increment = dur("rate_increment", &s.rate_increment, true);
            let start = dur("group_interval_start", &s.group_interval_start, false);
            if s.rate.is_sign_negative() || s.connect_fee.is_sign_negative() {
                bad(problems, &item, "a negative rate or connect fee");
            }
            slots.push(Slot {
                connect_fee: s.connect_fee,
                rate: s.rate,
                unit,
                increment,
                start,
            });
        }
        // CGRateS orders a rate's slots by their start; only the first carries the connect fee.
        slots.sort_by_key(|s| s.start);
        if slots.first().is_some_and(|s| s.start != 0) {
            bad(problems, &item, "no slot starts at 0");
        }
        if slots.windows(2).any(|w| w[0].start == w[1].start) {
            bad(problems, &item, "two slots start at the same usage");
        }
        rates.push(Rate {
            id: r.id.clone(),
            slots,
        });
    }
    (rates, rate_ix)
}

/// The destination rates by id, each row checked against the destinations and rates.
fn destination_rates<'a>(
    tariff_file: &'a TariffFile,
    dest_ix: &FxHashMap<&str, u32>,
    rate_ix: &FxHashMap<&str, u32>,
    problems: &mut Vec<Problem>,
) -> FxHashMap<&'a str, &'a file::DestinationRatesFile> {
    let mut drs: FxHashMap<&str, &file::DestinationRatesFile> = FxHashMap::default();
    for d in &tariff_file.destination_rates {
        let item = format!("cgrates.destination_rates.{}", d.id);
        if drs.insert(&d.id, d).is_some() {
            bad(problems, &item, "id used twice");
        }
        for r in &d.rates {
            if r.destination != "*any" && !dest_ix.contains_key(r.destination.as_str()) {
                bad(
                    problems,
                    &item,
                    format!("unknown destination {:?}", r.destination),
                );
            }
            if !rate_ix.contains_key(r.rate.as_str()) {
                bad(problems, &item, format!("unknown rate {:?}", r.rate));
            }
            if Method::parse(&r.rounding_method).is_none() {
                bad(
                    problems,
                    &item,
                    format!(
                        "rounding method {:?} is not *up, *down or *middle",
                        r.rounding_method
                    ),
                );
            }
            if r.rounding_decimals > MAX_DECIMALS {
                bad(
                    problems,
                    &item,
                    format!("rounding to {} decimals", r.rounding_decimals),
                );
            }
            if !["", "*free", "*disconnect"].contains(&r.max_cost_strategy.as_str()) {
                bad(
                    problems,
                    &item,
                    format!(
                        "max cost strategy {:?} is not *free or *disconnect",
                        r.max_cost_strategy
                    ),
                );
            }
            if r.max_cost.is_sign_negative() {
                bad(problems, &item, "negative max cost");
            }
        }
    }
    drs
}

/// The rating plans, each binding resolved to intervals by destination, and their index by id.
fn plans<'a>(
    tariff_file: &'a TariffFile,
    ix: &Indexes,
    problems: &mut Vec<Problem>,
) -> (Vec<Plan>, FxHashMap<&'a str, u32>) {
    let mut plans = Vec::new();
    let mut plan_ix: FxHashMap<&str, u32> = FxHashMap::default();
    for p in &tariff_file.rating_plans {
        let item = format!("cgrates.rating_plans.{}", p.id);
        if plan_ix.insert(&p.id, plans.len() as u32).is_some() {
            bad(problems, &item, "id used twice");
        }
        let mut by_dest: FxHashMap<u32, Vec<Interval>> = FxHashMap::default();
        for b in &p.bindings {
            let Some(&timing) = ix.timings.get(b.timing.as_str()) else {
                bad(problems, &item, format!("unknown timing {:?}", b.timing));
                continue;
            };
            let Some(dr) = ix.destination_rates.get(b.destination_rates.as_str()) else {
                bad(
                    problems,
                    &item,
                    format!("unknown destination rates {:?}", b.destination_rates),
                );
                continue;
            };
            for r in &dr.rates {
                let dest = if r.destination == "*any" {
                    ANY
                } else {
                    match ix.destinations.get(r.destination.as_str()) {
                        Some(&d) => d,
                        None => continue,
                    }
                };
                let (Some(&rate), Some(method)) = (
                    ix.rates.get(r.rate.as_str()),
                    Method::parse(&r.rounding_method),
                ) else {
                    continue;
                };
                by_dest.entry(dest).or_default().push(Interval {
                    timing,
                    weight: b.weight,
                    destination_rates: dr.id.clone(),
                    rate,
                    method,
                    decimals: r.rounding_decimals,
                    max_cost: r.max_cost,
                    free: r.max_cost_strategy == "*free",
                });
            }
        }
        plans.push(Plan {
            id: p.id.clone(),
            by_dest,
        });
    }
    (plans, plan_ix)
}

/// The rating profiles, each with its activations in time order.
fn profiles(
    tariff_file: &TariffFile,
    plan_ix: &FxHashMap<&str, u32>,
    problems: &mut Vec<Problem>,
) -> FxHashMap<(String, String, String), Vec<Activation>> {
    let mut profiles: FxHashMap<(String, String, String), Vec<Activation>> = FxHashMap::default();
    for p in &tariff_file.rating_profiles {
        let item = format!(
            "cgrates.rating_profiles.{}:{}:{}",
            p.tenant, p.category, p.subject
        );
        let key = (p.tenant.clone(), p.category.clone(), p.subject.clone());
        if profiles.contains_key(&key) {
            bad(problems, &item, "profile listed twice");
        }
        let mut acts = Vec::new();
        for a in &p.activations {
            let at = match DateTime::parse_from_rfc3339(a.at.trim()) {
                Ok(t) => t.with_timezone(&Utc),
                Err(e) => {
                    bad(
                        problems,
                        &item,
                        format!("activation {:?} is not RFC 3339: {e}", a.at),
                    );
                    continue;
                }
            };
            let Some(&plan) = plan_ix.get(a.rating_plan.as_str()) else {
                bad(
                    problems,
                    &item,
                    format!("unknown rating plan {:?}", a.rating_plan),
                );
                continue;
            };
            acts.push(Activation {
                at,
                plan,
                fallback: a.fallback_subjects.clone(),
            });
        }
        // A later row for the same moment replaces an earlier one, as when CGRateS loads it.
        acts.sort_by_key(|a| a.at);
        acts.dedup_by(|later, earlier| {
            if later.at == earlier.at {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        profiles.insert(key, acts);
    }
    profiles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_cgrates_writes_them() {
        for (text, want) in [
            ("0", 0),
            ("", 0),
            ("1024", 1024),
            ("60s", 60 * SECOND),
            ("1m", 60 * SECOND),
            ("1m30s", 90 * SECOND),
            ("1.5h", 5_400 * SECOND),
            ("500ms", SECOND / 2),
            ("0s", 0),
        ] {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        for text in ["1x", "s", "-1s", "1.5ns", "99999999999999999999", "1e3s"] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
    }

    #[test]
    fn rounding_follows_cgrates_rules() {
        let cases = [
            (Method::Up, "0.70021", 4, "0.7003"),
            (Method::Up, "0.7002", 4, "0.7002"),
            // Below 10^-7 of the last place CGRateS saw float noise, and so does ratel.
            (Method::Up, "0.700200000001", 4, "0.7002"),
            (Method::Up, "0.70020000001", 4, "0.7003"),
            (Method::Middle, "0.00166666", 5, "0.00167"),
            (Method::Middle, "0.000015", 5, "0.00002"),
            (Method::Middle, "0.0000149", 5, "0.00001"),
            (Method::Down, "0.79999", 2, "0.79"),
        ];
        for (m, x, d, want) in cases {
            assert_eq!(
                m.round(x.parse().unwrap(), d).to_string(),
                want,
                "{m:?} {x} {d}"
            );
        }
    }
}
