//! Reads a CGRateS tariff-plan folder (Destinations, Timings, Rates, DestinationRates,
//! RatingPlans, RatingProfiles CSV) into a [`TariffFile`]. Pure: the caller reads the files.
//!
//! A row ratel cannot take as it is becomes a [`Warning`] naming the file and line, and is left
//! out or taken with the difference stated; nothing is dropped silently.

use super::file::*;
use super::tariff::{parse_duration, Method, Tariff, MAX_DECIMALS};
use rust_decimal::Decimal;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

/// The files of a folder, by CGRateS's names.
pub const FILES: [&str; 6] = [
    "Destinations.csv",
    "Timings.csv",
    "Rates.csv",
    "DestinationRates.csv",
    "RatingPlans.csv",
    "RatingProfiles.csv",
];

/// A CSV file larger than this is refused (a tariff plan of a big carrier is a few MB).
pub const MAX_FILE_BYTES: usize = 256 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub file: String,
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    #[error("the imported plan does not compile:\n{}", .0.iter().map(|p| format!("  {}: {}", p.item, p.problem)).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<crate::catalog::problem::Problem>),
}

#[derive(Debug)]
pub struct Import {
    pub tariff: TariffFile,
    pub warnings: Vec<Warning>,
}

struct Reader<'a> {
    file: &'static str,
    warnings: &'a mut Vec<Warning>,
}

impl Reader<'_> {
    fn warn(&mut self, line: u64, message: impl Into<String>) {
        self.warnings.push(Warning {
            file: self.file.into(),
            line,
            message: message.into(),
        });
    }

    /// Rows of the file as (line, fields), each with exactly `cols` fields: a short row is padded
    /// with empty fields (CGRateS reads them as empty), a long one is cut with a warning.
    fn rows(&mut self, text: &str, cols: usize) -> Result<Vec<(u64, Vec<String>)>, ImportError> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .comment(Some(b'#'))
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut out = Vec::new();
        for rec in r.records() {
            let rec = rec.map_err(|e| ImportError::File {
                file: self.file.into(),
                reason: e.to_string(),
            })?;
            let line = rec.position().map_or(0, csv::Position::line);
            if rec.iter().all(str::is_empty) {
                continue;
            }
            let mut fields: Vec<String> = rec.iter().map(str::to_string).collect();
            if fields.len() > cols {
                if fields[cols..].iter().any(|f| !f.is_empty()) {
                    self.warn(
                        line,
                        format!(
                            "{} columns, ratel reads the first {cols}; the rest is ignored",
                            fields.len()
                        ),
                    );
                }
                fields.truncate(cols);
            }
            fields.resize(cols, String::new());
            out.push((line, fields));
        }
        Ok(out)
    }
}

/// The index of the item with this key, appended (made by `new`) the first time the key is
/// seen: a CSV file lists an id's rows one by one, the catalog groups them under the id.
fn group<K: Eq + std::hash::Hash, T>(
    items: &mut Vec<T>,
    ix: &mut FxHashMap<K, usize>,
    key: K,
    new: impl FnOnce() -> T,
) -> usize {
    *ix.entry(key).or_insert_with(|| {
        items.push(new());
        items.len() - 1
    })
}

fn amount(text: &str) -> Result<Decimal, String> {
    if text.is_empty() {
        return Ok(Decimal::ZERO);
    }
    crate::money::parse_amount(text)
}

fn list<T: std::str::FromStr>(text: &str) -> Result<Vec<T>, String> {
    if text.is_empty() || text == "*any" {
        return Ok(Vec::new());
    }
    text.split(';')
        .map(|x| {
            x.trim()
                .parse()
                .map_err(|_| format!("{x:?} in {text:?} is not a number"))
        })
        .collect()
}

/// Imports a folder given as (file name → contents). `rounding_decimals` is CGRateS's global
/// setting (`--rounding-decimals`). The result compiles: a row that would break it is a warning.
pub fn import(
    files: &BTreeMap<String, String>,
    rounding_decimals: u32,
) -> Result<Import, ImportError> {
    for (name, text) in files {
        if text.len() > MAX_FILE_BYTES {
            return Err(ImportError::File {
                file: name.clone(),
                reason: format!("larger than {MAX_FILE_BYTES} bytes"),
            });
        }
    }
    let mut warnings = Vec::new();
    let text = |name: &str| files.get(name).map(String::as_str).unwrap_or("");
    let destinations = read_destinations(text("Destinations.csv"), &mut warnings)?;
    let (timings, timing_ids) = read_timings(text("Timings.csv"), &mut warnings)?;
    let rates = read_rates(text("Rates.csv"), &mut warnings)?;
    let known = Known {
        destinations: destinations.iter().map(|d| d.id.as_str()).collect(),
        rates: rates.iter().map(|r| r.id.as_str()).collect(),
        timings: timing_ids,
    };
    let destination_rates =
        read_destination_rates(text("DestinationRates.csv"), &known, &mut warnings)?;
    let rating_plans = read_rating_plans(
        text("RatingPlans.csv"),
        &known,
        &destination_rates,
        &mut warnings,
    )?;
    let rating_profiles =
        read_rating_profiles(text("RatingProfiles.csv"), &rating_plans, &mut warnings)?;
    let t = TariffFile {
        rounding_decimals,
        destinations,
        timings,
        rates,
        destination_rates,
        rating_plans,
        rating_profiles,
    };
    Tariff::compile(&t).map_err(ImportError::Invalid)?;
    // In the order of the files and of their lines, as an operator reads them.
    warnings.sort_by_key(|w| (FILES.iter().position(|f| *f == w.file), w.line));
    Ok(Import {
        tariff: t,
        warnings,
    })
}

/// The ids the rows of later files may name.
struct Known<'a> {
    destinations: FxHashSet<&'a str>,
    rates: FxHashSet<&'a str>,
    timings: FxHashSet<String>,
}

fn read_destinations(
    text: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<DestinationFile>, ImportError> {
    let mut rd = Reader {
        file: "Destinations.csv",
        warnings,
    };
    let mut dests: Vec<DestinationFile> = Vec::new();
    let mut dest_ix: FxHashMap<String, usize> = FxHashMap::default();
    for (line, f) in rd.rows(text, 2)? {
        if f[0].is_empty() || f[0] == "*any" || f[1].is_empty() {
            rd.warn(
                line,
                "a destination needs an id (not *any) and a prefix; row skipped",
            );
            continue;
        }
        let i = group(&mut dests, &mut dest_ix, f[0].clone(), || DestinationFile {
            id: f[0].clone(),
            prefixes: vec![],
        });
        if dests[i].prefixes.contains(&f[1]) {
            rd.warn(line, format!("prefix {} repeated in {}", f[1], f[0]));
        } else {
            dests[i].prefixes.push(f[1].clone());
        }
    }
    Ok(dests)
}

/// The timings, and their ids with `*any`.
fn read_timings(
    text: &str,
    warnings: &mut Vec<Warning>,
) -> Result<(Vec<TimingFile>, FxHashSet<String>), ImportError> {
    let mut rd = Reader {
        file: "Timings.csv",
        warnings,
    };
    let mut timings = Vec::new();
    let mut timing_ids: FxHashSet<String> = FxHashSet::from_iter(["*any".to_string()]);
    for (line, f) in rd.rows(text, 6)? {
        if f[5] == "*asap" {
            rd.warn(
                line,
                format!(
                    "timing {} is *asap, which schedules actions and never rates; skipped",
                    f[0]
                ),
            );
            continue;
        }
        match timing(&f) {
            Ok(tm) if !timing_ids.contains(&tm.id) && !tm.id.is_empty() => {
                timing_ids.insert(tm.id.clone());
                timings.push(tm);
            }
            Ok(tm) => rd.warn(
                line,
                format!("timing {:?} is empty or defined twice; row skipped", tm.id),
            ),
            Err(e) => rd.warn(line, format!("timing {}: {e}; row skipped", f[0])),
        }
    }
    Ok((timings, timing_ids))
}

fn timing(fields: &[String]) -> Result<TimingFile, String> {
    let (start, end) = match fields[5].split_once(';') {
        Some((s, e)) => (s.to_string(), Some(e.to_string())),
        None if fields[5].is_empty() => ("00:00:00".to_string(), None),
        None => (fields[5].clone(), None),
    };
    Ok(TimingFile {
        id: fields[0].clone(),
        years: list(&fields[1])?,
        months: list(&fields[2])?,
        month_days: list(&fields[3])?,
        week_days: list(&fields[4])?,
        start,
        end,
    })
}

/// The rates, each with a slot starting at 0 (a rate without one is left out, with a warning).
fn read_rates(text: &str, warnings: &mut Vec<Warning>) -> Result<Vec<RateFile>, ImportError> {
    let mut rd = Reader {
        file: "Rates.csv",
        warnings,
    };
    let mut rates: Vec<RateFile> = Vec::new();
    let mut rate_ix: FxHashMap<String, usize> = FxHashMap::default();
    // The line of each rate's first row.
    let mut rate_lines: Vec<u64> = Vec::new();
    for (line, f) in rd.rows(text, 6)? {
        let slot = match rate_slot(&f) {
            Ok(s) if !f[0].is_empty() => s,
            Ok(_) => {
                rd.warn(line, "a rate row without an id; skipped");
                continue;
            }
            Err(e) => {
                rd.warn(line, format!("rate {}: {e}; row skipped", f[0]));
                continue;
            }
        };
        if !rate_ix.contains_key(&f[0]) {
            rate_lines.push(line);
        }
        let i = group(&mut rates, &mut rate_ix, f[0].clone(), || RateFile {
            id: f[0].clone(),
            slots: vec![],
        });
        let start = parse_duration(&slot.group_interval_start).unwrap_or(0);
        if rates[i]
            .slots
            .iter()
            .any(|s| parse_duration(&s.group_interval_start).unwrap_or(0) == start)
        {
            rd.warn(
                line,
                format!(
                    "rate {} has two slots starting at {}; the later is skipped",
                    f[0], slot.group_interval_start
                ),
            );
            continue;
        }
        if !rates[i].slots.is_empty() && !slot.connect_fee.is_zero() {
            rd.warn(line, format!("rate {}: a connect fee on a slot that does not come first is never charged (as in CGRateS)", f[0]));
        }
        rates[i].slots.push(slot);
    }
    for (r, &line) in rates.iter().zip(&rate_lines) {
        if !r
            .slots
            .iter()
            .any(|s| parse_duration(&s.group_interval_start) == Ok(0))
        {
            // Compile refuses it; say so where the rate begins in the file.
            rd.warnings.push(Warning {
                file: "Rates.csv".into(),
                line,
                message: format!("rate {} has no slot starting at 0; it is left out", r.id),
            });
        }
    }
    rates.retain(|r| {
        r.slots
            .iter()
            .any(|s| parse_duration(&s.group_interval_start) == Ok(0))
    });
    Ok(rates)
}

fn rate_slot(fields: &[String]) -> Result<RateSlotFile, String> {
    for (name, v) in [
        ("RateUnit", &fields[3]),
        ("RateIncrement", &fields[4]),
        ("GroupIntervalStart", &fields[5]),
    ] {
        parse_duration(v).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(RateSlotFile {
        connect_fee: amount(&fields[1]).map_err(|e| format!("ConnectFee: {e}"))?,
        rate: amount(&fields[2]).map_err(|e| format!("Rate: {e}"))?,
        rate_unit: fields[3].clone(),
        rate_increment: fields[4].clone(),
        group_interval_start: fields[5].clone(),
    })
}

fn read_destination_rates(
    text: &str,
    known: &Known,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<DestinationRatesFile>, ImportError> {
    let mut rd = Reader {
        file: "DestinationRates.csv",
        warnings,
    };
    let mut drs: Vec<DestinationRatesFile> = Vec::new();
    let mut dr_ix: FxHashMap<String, usize> = FxHashMap::default();
    for (line, f) in rd.rows(text, 7)? {
        let rate = match destination_rate(&f, known) {
            Ok((rate, note)) => {
                if let Some(note) = note {
                    rd.warn(line, note);
                }
                rate
            }
            Err(skipped) => {
                rd.warn(line, skipped);
                continue;
            }
        };
        let i = group(&mut drs, &mut dr_ix, f[0].clone(), || {
            DestinationRatesFile {
                id: f[0].clone(),
                rates: vec![],
            }
        });
        drs[i].rates.push(rate);
    }
    Ok(drs)
}

/// One row of DestinationRates.csv, with a note to warn of though it is kept; or why it is
/// skipped.
fn destination_rate(
    fields: &[String],
    known: &Known,
) -> Result<(DestinationRateFile, Option<String>), String> {
    let dest = if fields[1].is_empty() {
        "*any".to_string()
    } else {
        fields[1].clone()
    };
    if dest != "*any" && !known.destinations.contains(dest.as_str()) {
        return Err(format!(
            "{}: unknown destination {dest}; row skipped",
            fields[0]
        ));
    }
    if !known.rates.contains(fields[2].as_str()) {
        return Err(format!(
            "{}: unknown rate {}; row skipped",
            fields[0], fields[2]
        ));
    }
    let method = if fields[3].is_empty() {
        "*middle".to_string()
    } else {
        fields[3].clone()
    };
    if Method::parse(&method).is_none() {
        return Err(format!(
            "{}: rounding method {method} is not *up, *down or *middle; row skipped",
            fields[0]
        ));
    }
    let decimals: u32 = match fields[4].parse() {
        Ok(d) if d <= MAX_DECIMALS => d,
        _ if fields[4].is_empty() => 0,
        _ => {
            return Err(format!(
                "{}: rounding decimals {:?} is not 0..{}; row skipped",
                fields[0], fields[4], MAX_DECIMALS
            ))
        }
    };
    let max_cost = match amount(&fields[5]) {
        Ok(m) if !m.is_sign_negative() => m,
        _ => {
            return Err(format!(
                "{}: max cost {:?} is not an amount; row skipped",
                fields[0], fields[5]
            ))
        }
    };
    let strategy = fields[6].clone();
    let note = match strategy.as_str() {
        "" | "*free" => None,
        "*disconnect" => Some(format!("{}: *disconnect cuts live calls at the max cost; ratel prices the whole item, as a CGRateS quote does", fields[0])),
        s => return Err(format!("{}: max cost strategy {s} is unknown; row skipped", fields[0])),
    };
    let rate = DestinationRateFile {
        destination: dest,
        rate: fields[2].clone(),
        rounding_method: method,
        rounding_decimals: decimals,
        max_cost,
        max_cost_strategy: strategy,
    };
    Ok((rate, note))
}

fn read_rating_plans(
    text: &str,
    known: &Known,
    destination_rates: &[DestinationRatesFile],
    warnings: &mut Vec<Warning>,
) -> Result<Vec<RatingPlanFile>, ImportError> {
    let mut rd = Reader {
        file: "RatingPlans.csv",
        warnings,
    };
    let dr_ids: FxHashSet<&str> = destination_rates.iter().map(|d| d.id.as_str()).collect();
    let mut plans: Vec<RatingPlanFile> = Vec::new();
    let mut plan_ix: FxHashMap<String, usize> = FxHashMap::default();
    for (line, f) in rd.rows(text, 4)? {
        if !dr_ids.contains(f[1].as_str()) {
            rd.warn(
                line,
                format!("{}: unknown destination rates {}; row skipped", f[0], f[1]),
            );
            continue;
        }
        let timing = if f[2].is_empty() {
            "*any".to_string()
        } else {
            f[2].clone()
        };
        if !known.timings.contains(&timing) {
            rd.warn(
                line,
                format!("{}: unknown timing {timing}; row skipped", f[0]),
            );
            continue;
        }
        let weight = match amount(&f[3]) {
            Ok(w) => w,
            Err(e) => {
                rd.warn(line, format!("{}: weight: {e}; row skipped", f[0]));
                continue;
            }
        };
        let i = group(&mut plans, &mut plan_ix, f[0].clone(), || RatingPlanFile {
            id: f[0].clone(),
            bindings: vec![],
        });
        plans[i].bindings.push(BindingFile {
            destination_rates: f[1].clone(),
            timing,
            weight,
        });
    }
    Ok(plans)
}

fn read_rating_profiles(
    text: &str,
    rating_plans: &[RatingPlanFile],
    warnings: &mut Vec<Warning>,
) -> Result<Vec<RatingProfileFile>, ImportError> {
    let mut rd = Reader {
        file: "RatingProfiles.csv",
        warnings,
    };
    let plan_ids: FxHashSet<&str> = rating_plans.iter().map(|p| p.id.as_str()).collect();
    let mut profiles: Vec<RatingProfileFile> = Vec::new();
    let mut prof_ix: FxHashMap<(String, String, String), usize> = FxHashMap::default();
    for (line, f) in rd.rows(text, 6)? {
        if !plan_ids.contains(f[4].as_str()) {
            rd.warn(
                line,
                format!(
                    "{}:{}:{}: unknown rating plan {}; row skipped",
                    f[0], f[1], f[2], f[4]
                ),
            );
            continue;
        }
        if chrono::DateTime::parse_from_rfc3339(&f[3]).is_err() {
            rd.warn(
                line,
                format!(
                    "{}:{}:{}: activation time {:?} is not RFC 3339; row skipped",
                    f[0], f[1], f[2], f[3]
                ),
            );
            continue;
        }
        let key = (f[0].clone(), f[1].clone(), f[2].clone());
        let i = group(&mut profiles, &mut prof_ix, key, || RatingProfileFile {
            tenant: f[0].clone(),
            category: f[1].clone(),
            subject: f[2].clone(),
            activations: vec![],
        });
        let fallback: Vec<String> = f[5]
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if profiles[i].activations.iter().any(|a| a.at == f[3]) {
            rd.warn(
                line,
                format!(
                    "{}:{}:{}: a second activation at {}; the later row wins",
                    f[0], f[1], f[2], f[3]
                ),
            );
            profiles[i].activations.retain(|a| a.at != f[3]);
        }
        profiles[i].activations.push(ActivationFile {
            at: f[3].clone(),
            rating_plan: f[4].clone(),
            fallback_subjects: fallback,
        });
    }
    Ok(profiles)
}
