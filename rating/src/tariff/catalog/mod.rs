//! The catalog in force: destinations, time bands, rates, packages, plans and options, compiled
//! from the operator's file into indexed tables for rating.
//!
//! `Catalog::from_toml` checks everything it can before any event is rated: an invalid catalog is
//! refused with every problem named by file, item and reason.

pub mod file;
pub mod limits;
pub mod prefix;
pub mod problem;

use crate::money::Rounding;
use crate::service::{Direction, Network, Service, Unit, Zone};
use chrono::NaiveDate;
use chrono_tz::Tz;
use file::*;
use prefix::PrefixTable;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};
use std::fmt;

pub use file::{FeePeriod, PackagePeriod};

pub type DestIdx = u32;
pub type BandIdx = u16;
pub type RateIdx = u32;
pub type PackageIdx = u32;
pub type PlanIdx = u16;
pub type AddonIdx = u16;

pub use limits::{MAX_CATALOG_BYTES, MAX_PRICE, MAX_PRICES_PER_OFFER, MAX_SLOTS};
pub use problem::Problem;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{file}: cannot read: {reason}")]
    Read { file: String, reason: String },
    #[error("{file}: not a valid catalog: {reason}")]
    Syntax { file: String, reason: String },
    #[error("{file}: {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  {}: {}", p.item, p.problem)).collect::<Vec<_>>().join("\n"))]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
}

impl CatalogError {
    pub fn problems(&self) -> &[Problem] {
        match self {
            CatalogError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone)]
pub struct Destination {
    pub id: String,
    pub zone: Zone,
    pub network: Network,
}

#[derive(Debug, Clone)]
pub struct Band {
    pub id: String,
    /// Bit 0 = Monday .. bit 6 = Sunday.
    pub weekdays: u8,
    pub from: u32,
    pub to: u32,
    pub dates: Vec<NaiveDate>,
}

impl Band {
    /// Whether the band holds at this local moment; if so, the second of the day it began.
    pub fn active(&self, date: NaiveDate, weekday: u8, sod: u32) -> Option<u32> {
        if self.weekdays & (1 << weekday) == 0 {
            return None;
        }
        if !self.dates.is_empty() && self.dates.binary_search(&date).is_err() {
            return None;
        }
        if self.from < self.to {
            (self.from <= sod && sod < self.to).then_some(self.from)
        } else if sod >= self.from {
            Some(self.from)
        } else if sod < self.to {
            Some(0)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone)]
pub struct Slot {
    pub from: u64,
    pub price: Decimal,
    pub per: u64,
    pub increment: u64,
    /// The price of one increment, price × increment / per, if that is exact in decimal
    /// (then a span costs one multiplication); otherwise spans divide at the end.
    pub increment_price: Option<Decimal>,
}

#[derive(Debug, Clone)]
pub struct Rate {
    pub id: String,
    pub unit: Unit,
    pub connect_fee: Decimal,
    pub max_cost: Option<Decimal>,
    pub rounding: Rounding,
    pub increment_decimals: Option<u32>,
    pub slots: Vec<Slot>,
    /// Every slot and the connect fee are zero: usage at this rate costs nothing and takes nothing
    /// from packages (free on-net SMS, free incoming calls).
    pub free: bool,
}

impl Rate {
    /// The slot in force once `elapsed` units have been used, and where the next slot begins.
    pub fn slot_at(&self, elapsed: u64) -> (usize, Option<u64>) {
        let i = self.slots.partition_point(|s| s.from <= elapsed).max(1) - 1;
        (i, self.slots.get(i + 1).map(|s| s.from))
    }
}

#[derive(Debug, Clone)]
pub struct Rollover {
    pub max: u64,
    pub periods: u32,
}

#[derive(Debug, Clone)]
pub struct Package {
    pub id: String,
    pub unit: Unit,
    pub amount: u64,
    pub services: u8,
    pub directions: u8,
    pub zones: u8,
    pub networks: u8,
    pub rating_groups: Vec<u32>,
    pub increment: u64,
    pub period: PackagePeriod,
    pub validity_days: u32,
    pub priority: i32,
    pub rollover: Option<Rollover>,
}

impl Package {
    /// Whether this package pays for usage of this kind.
    pub fn covers(&self, u: &UsageKind) -> bool {
        self.services & u.service.bit() != 0
            && self.directions & u.direction.bit() != 0
            && u.zone
                .map_or(self.zones == 0b111, |z| self.zones & z.bit() != 0)
            && u.network
                .map_or(self.networks == 0b11, |n| self.networks & n.bit() != 0)
            && (self.rating_groups.is_empty()
                || u.rating_group
                    .is_some_and(|g| self.rating_groups.contains(&g)))
    }
}

/// What a package or a price looks at in a usage item.
#[derive(Debug, Clone, Copy)]
pub struct UsageKind {
    pub service: Service,
    pub direction: Direction,
    /// Of the destination; `None` when there is no other party (data).
    pub zone: Option<Zone>,
    pub network: Option<Network>,
    pub location: Zone,
    pub rating_group: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Fee {
    pub period: FeePeriod,
    pub amount: Decimal,
}

#[derive(Debug, Clone)]
pub struct Price {
    pub band: Option<BandIdx>,
    pub weight: i32,
    pub rate: RateIdx,
    pub location: Option<Zone>,
    pub rating_group: Option<u32>,
}

/// Sentinel destination for prices that apply to any destination (and to data).
pub const ANY_DEST: DestIdx = DestIdx::MAX;

fn index_key(service: Service, direction: Direction, dest: DestIdx) -> u64 {
    ((service as u64) << 40) | ((direction as u64) << 32) | u64::from(dest)
}

/// A plan's or option's fees, packages and prices, indexed for rating.
#[derive(Debug, Clone)]
pub struct Offer {
    pub id: String,
    pub name: String,
    pub connection_fee: Decimal,
    pub fees: Vec<Fee>,
    pub packages: Vec<PackageIdx>,
    pub prices: Vec<Price>,
    /// (service, direction, destination or ANY_DEST) → indexes into `prices`.
    index: FxHashMap<u64, Vec<u32>>,
    /// Whether any price depends on the time band.
    pub banded: bool,
    /// Bit `service * 2 + direction` is set if the offer has any price for that pair: most
    /// options price one service only, and the others need no lookup.
    priced: u8,
    /// For options: the plans it may join (empty: any).
    pub plans: Vec<PlanIdx>,
    /// For plans priced by the catalog's CGRateS tariff plan.
    pub cgrates: Option<Box<crate::cgrates::file::PricingFile>>,
    /// For plans: charged when a number changes to this plan.
    pub switch_fee: Decimal,
}

impl Offer {
    #[inline]
    pub fn candidates(&self, service: Service, direction: Direction, dest: DestIdx) -> &[u32] {
        if self.priced & (1 << (service as u8 * 2 + direction as u8)) == 0 {
            return &[];
        }
        self.index
            .get(&index_key(service, direction, dest))
            .map_or(&[], Vec::as_slice)
    }
}

/// The promised-payment policy (see [`file::PromisePolicyFile`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromisePolicy {
    pub max_amount: Decimal,
    pub share_of_recent_payments: Decimal,
    pub validity_days: u32,
    pub fee: Decimal,
}

/// The account lifecycle's rules (see the file's [`file::PlanChangeFile`], [`file::StatusFeeFile`]
/// and [`file::InactivityFile`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    pub old_packages: file::OldPackages,
    pub prorate: bool,
    /// Daily fee of a voluntarily suspended number; `None`: suspension is not offered.
    pub suspension_fee: Option<Decimal>,
    /// Daily fee of a number blocked for a lost SIM.
    pub lost_sim_fee: Decimal,
    pub inactivity: Option<Inactivity>,
    /// Money transfers between numbers: (most per transfer, fee); `None`: not offered.
    pub transfers: Option<(Decimal, Decimal)>,
    /// Loyalty: the spending that earns one point; `None`: no programme.
    pub spend_per_point: Option<Decimal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inactivity {
    pub fee_after_days: u32,
    pub daily_fee: Decimal,
    pub block_after_days: u32,
    pub restore_days: u32,
}

/// Longest period any inactivity rule may name.
pub const MAX_INACTIVITY_DAYS: u32 = 3650;

/// Longest validity of a promised payment.
pub const MAX_PROMISE_DAYS: u32 = 90;

/// A compiled catalog. Immutable once built; rating borrows it.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub id: String,
    pub version: String,
    /// SHA-256 of the file's bytes: the identity of this catalog in the log.
    pub fingerprint: [u8; 32],
    pub currency: String,
    pub decimals: u32,
    pub tz: Tz,
    /// The catalog's wall clock, tabulated for the hot path.
    pub calendar: crate::time::Calendar,
    pub rounding: Rounding,
    /// Price of an itemised report beyond the first whole-month report of each month.
    pub detalization_fee: Decimal,
    /// Promised payments, if the operator offers them.
    pub promise: Option<PromisePolicy>,
    pub lifecycle: Lifecycle,
    pub destinations: Vec<Destination>,
    prefixes: PrefixTable,
    pub bands: Vec<Band>,
    /// Every second of the day at which some band starts or ends, sorted, with 86400 last.
    pub band_edges: Vec<u32>,
    pub rates: Vec<Rate>,
    pub packages: Vec<Package>,
    pub plans: Vec<Offer>,
    pub addons: Vec<Offer>,
    plan_ix: FxHashMap<String, PlanIdx>,
    addon_ix: FxHashMap<String, AddonIdx>,
    /// A CGRateS tariff plan, when the catalog holds one: `ratel quote --tenant …` prices with it.
    pub cgrates: Option<crate::cgrates::Tariff>,
}

impl fmt::Display for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.id, self.version, self.short_hash())
    }
}

impl Catalog {
    pub fn from_bytes(file: &str, bytes: &[u8]) -> Result<Catalog, CatalogError> {
        if bytes.len() > MAX_CATALOG_BYTES {
            return Err(CatalogError::Read {
                file: file.into(),
                reason: format!("larger than {MAX_CATALOG_BYTES} bytes"),
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|e| CatalogError::Syntax {
            file: file.into(),
            reason: format!("not UTF-8: {e}"),
        })?;
        let parsed: CatalogFile = toml::from_str(text).map_err(|e| CatalogError::Syntax {
            file: file.into(),
            reason: e.to_string(),
        })?;
        let fingerprint: [u8; 32] = Sha256::digest(bytes).into();
        compile(file, parsed, fingerprint)
    }

    pub fn from_toml(file: &str, text: &str) -> Result<Catalog, CatalogError> {
        Catalog::from_bytes(file, text.as_bytes())
    }

    /// First 16 hex digits of the fingerprint.
    pub fn short_hash(&self) -> String {
        self.fingerprint[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The fingerprint's first 8 bytes as a number: what every decision records.
    #[inline]
    pub fn tag(&self) -> u64 {
        u64::from_be_bytes([
            self.fingerprint[0],
            self.fingerprint[1],
            self.fingerprint[2],
            self.fingerprint[3],
            self.fingerprint[4],
            self.fingerprint[5],
            self.fingerprint[6],
            self.fingerprint[7],
        ])
    }

    pub fn plan(&self, id: &str) -> Option<PlanIdx> {
        self.plan_ix.get(id).copied()
    }

    pub fn addon(&self, id: &str) -> Option<AddonIdx> {
        self.addon_ix.get(id).copied()
    }

    /// The destination of a dialled number: the longest prefix that matches.
    pub fn destination(&self, digits: &[u8]) -> Option<DestIdx> {
        self.prefixes.longest(digits)
    }

    /// The amount has no more decimals than the currency allows.
    /// As written: "100.000000" has six, though its value has none, and a balance it was added
    /// to would print them.
    pub fn fits_currency(&self, amount: Decimal) -> bool {
        amount.scale() <= self.decimals
    }
}

struct Checker {
    problems: Vec<Problem>,
    /// The currency's decimals: an amount charged or credited as it is written (a fee, a
    /// limit) has no more.
    decimals: u32,
}

impl Checker {
    fn bad(&mut self, item: impl Into<String>, problem: impl Into<String>) {
        self.problems.push(Problem {
            item: item.into(),
            problem: problem.into(),
        });
    }

    /// An amount taken or credited as written: within the limits and the currency's decimals.
    fn money(&mut self, item: &str, what: &str, v: Decimal) {
        if v.scale() > self.decimals {
            self.bad(
                item,
                format!(
                    "{what} {v} has more decimals than the currency's {}",
                    self.decimals
                ),
            );
        }
        self.rate_money(item, what, v);
    }

    /// A part of a price (per unit, or a call's connect fee): the rate's rounding applies to
    /// what it comes to, so it may have more decimals than the currency.
    fn rate_money(&mut self, item: &str, what: &str, v: Decimal) {
        if v.is_sign_negative() && !v.is_zero() {
            self.bad(item, format!("{what} is negative ({v})"));
        }
        if v > Decimal::from(MAX_PRICE) {
            self.bad(item, format!("{what} {v} is above the limit {MAX_PRICE}"));
        }
    }

    fn unique<'a>(
        &mut self,
        kind: &str,
        ids: impl Iterator<Item = &'a str>,
    ) -> FxHashMap<String, u32> {
        let mut m = FxHashMap::default();
        for (i, id) in ids.enumerate() {
            if id.trim().is_empty() {
                self.bad(format!("{kind}[{i}]"), "empty id");
            } else if m.insert(id.to_string(), i as u32).is_some() {
                self.bad(format!("{kind}.{id}"), "defined twice");
            }
        }
        m
    }
}

fn parse_time_of_day(s: &str) -> Option<u32> {
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let n: Vec<u32> = parts
        .iter()
        .map(|p| if p.len() == 2 { p.parse().ok() } else { None })
        .collect::<Option<_>>()?;
    let (h, m, sec) = (n[0], n[1], n.get(2).copied().unwrap_or(0));
    if h == 24 && m == 0 && sec == 0 {
        return Some(86_400);
    }
    (h < 24 && m < 60 && sec < 60).then_some(h * 3600 + m * 60 + sec)
}

fn mask<T: Copy>(items: &Option<Vec<T>>, all: u8, bit: impl Fn(T) -> u8) -> u8 {
    match items {
        None => all,
        Some(v) => v.iter().fold(0, |m, &x| m | bit(x)),
    }
}

fn compile(file: &str, f: CatalogFile, fingerprint: [u8; 32]) -> Result<Catalog, CatalogError> {
    let h = &f.catalog;
    let mut c = Checker {
        problems: Vec::new(),
        decimals: h.decimals,
    };
    let tz: Tz = h.timezone.parse().unwrap_or_else(|_| {
        c.bad(
            "catalog.timezone",
            format!("unknown time zone {:?}", h.timezone),
        );
        Tz::UTC
    });
    if h.decimals > 6 {
        c.bad("catalog.decimals", "a currency has at most 6 decimals");
    }
    let check_rounding = |c: &mut Checker, item: &str, r: &Rounding| {
        if r.decimals > 12 {
            c.bad(
                item,
                format!("rounding to {} decimals; at most 12", r.decimals),
            );
        }
    };
    check_rounding(&mut c, "catalog.rounding", &h.rounding);
    let detalization_fee = h.detalization_fee.unwrap_or_default();
    c.money("catalog", "detalization_fee", detalization_fee);
    let promise = f.promised_payment.as_ref().map(|p| {
        let item = "promised_payment";
        c.money(item, "max_amount", p.max_amount);
        let fee = p.fee.unwrap_or_default();
        c.money(item, "fee", fee);
        if p.share_of_recent_payments.is_sign_negative()
            || p.share_of_recent_payments > Decimal::ONE
        {
            c.bad(item, "share_of_recent_payments is a share, 0 to 1");
        }
        if !(1..=MAX_PROMISE_DAYS).contains(&p.validity_days) {
            c.bad(item, format!("validity_days is 1 to {MAX_PROMISE_DAYS}"));
        }
        PromisePolicy {
            max_amount: p.max_amount,
            share_of_recent_payments: p.share_of_recent_payments,
            validity_days: p.validity_days,
            fee,
        }
    });
    let lifecycle = {
        let change = f.plan_change.clone().unwrap_or(file::PlanChangeFile {
            old_packages: file::OldPackages::Keep,
            prorate: true,
        });
        let suspension_fee = f
            .suspension
            .as_ref()
            .map(|s| s.daily_fee.unwrap_or_default());
        if let Some(fee) = suspension_fee {
            c.money("suspension", "daily_fee", fee);
        }
        let lost_sim_fee = f
            .lost_sim
            .as_ref()
            .and_then(|s| s.daily_fee)
            .unwrap_or_default();
        c.money("lost_sim", "daily_fee", lost_sim_fee);
        let inactivity = f.inactivity.as_ref().map(|i| {
            let item = "inactivity";
            c.money(item, "daily_fee", i.daily_fee);
            for (what, days) in [
                ("fee_after_days", i.fee_after_days),
                ("block_after_days", i.block_after_days),
                ("restore_days", i.restore_days),
            ] {
                if !(1..=MAX_INACTIVITY_DAYS).contains(&days) {
                    c.bad(item, format!("{what} is 1 to {MAX_INACTIVITY_DAYS}"));
                }
            }
            Inactivity {
                fee_after_days: i.fee_after_days,
                daily_fee: i.daily_fee,
                block_after_days: i.block_after_days,
                restore_days: i.restore_days,
            }
        });
        let transfers = f.transfers.as_ref().map(|t| {
            let fee = t.fee.unwrap_or_default();
            c.money("transfers", "max_amount", t.max_amount);
            c.money("transfers", "fee", fee);
            (t.max_amount, fee)
        });
        let spend_per_point = f.loyalty.as_ref().map(|l| {
            c.money("loyalty", "spend_per_point", l.spend_per_point);
            if l.spend_per_point <= Decimal::ZERO {
                c.bad("loyalty", "spend_per_point must be positive");
            }
            l.spend_per_point
        });
        Lifecycle {
            spend_per_point,
            transfers,
            old_packages: change.old_packages,
            prorate: change.prorate,
            suspension_fee,
            lost_sim_fee,
            inactivity,
        }
    };

    // Destinations and their prefixes.
    let dest_ix = c.unique("destinations", f.destinations.iter().map(|d| d.id.as_str()));
    let mut prefixes = PrefixTable::default();
    let mut owner: FxHashMap<&str, &str> = FxHashMap::default();
    for (i, d) in f.destinations.iter().enumerate() {
        if d.prefixes.is_empty() {
            c.bad(format!("destinations.{}", d.id), "no prefixes");
        }
        for p in &d.prefixes {
            match prefix::digits(p) {
                None => c.bad(
                    format!("destinations.{}", d.id),
                    format!("prefix {p:?} is not digits"),
                ),
                Some(digits) => {
                    if let Some(other) = owner.insert(p.trim_start_matches('+'), &d.id) {
                        c.bad(
                            format!("destinations.{}", d.id),
                            format!("prefix {p} also belongs to {other}"),
                        );
                    }
                    prefixes.insert(digits, i as u32);
                }
            }
        }
    }
    let destinations = f
        .destinations
        .iter()
        .map(|d| Destination {
            id: d.id.clone(),
            zone: d.zone,
            network: d.network,
        })
        .collect();

    // Time bands.
    let band_ix = c.unique("bands", f.bands.iter().map(|b| b.id.as_str()));
    let mut bands = Vec::new();
    let mut edges = vec![0u32, 86_400];
    for b in &f.bands {
        let item = format!("bands.{}", b.id);
        let mut weekdays = 0u8;
        for w in &b.weekdays {
            const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
            match NAMES.iter().position(|n| n.eq_ignore_ascii_case(w)) {
                Some(i) => weekdays |= 1 << i,
                None => c.bad(&item, format!("unknown weekday {w:?} (mon..sun)")),
            }
        }
        if b.weekdays.is_empty() {
            weekdays = 0x7f;
        }
        let from = match b.from.as_deref().map(parse_time_of_day) {
            None => 0,
            Some(Some(v)) if v < 86_400 => v,
            Some(_) => {
                c.bad(
                    &item,
                    format!(
                        "from {:?} is not a time of day HH:MM",
                        b.from.as_deref().unwrap_or("")
                    ),
                );
                0
            }
        };
        let to = match b.to.as_deref().map(parse_time_of_day) {
            None => 86_400,
            Some(Some(v)) => v,
            Some(None) => {
                c.bad(
                    &item,
                    format!(
                        "to {:?} is not a time of day HH:MM",
                        b.to.as_deref().unwrap_or("")
                    ),
                );
                86_400
            }
        };
        if from == to {
            c.bad(&item, "from equals to: an empty band");
        }
        let mut dates = Vec::new();
        for d in &b.dates {
            match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                Ok(v) => dates.push(v),
                Err(_) => c.bad(&item, format!("date {d:?} is not YYYY-MM-DD")),
            }
        }
        dates.sort();
        dates.dedup();
        edges.extend([from, to.min(86_400)]);
        bands.push(Band {
            id: b.id.clone(),
            weekdays,
            from,
            to,
            dates,
        });
    }
    edges.sort();
    edges.dedup();

    // Rates.
    let rate_ix = c.unique("rates", f.rates.iter().map(|r| r.id.as_str()));
    let mut rates = Vec::new();
    for r in &f.rates {
        let item = format!("rates.{}", r.id);
        let connect_fee = r.connect_fee.unwrap_or_default();
        c.rate_money(&item, "connect_fee", connect_fee);
        if let Some(m) = r.max_cost {
            c.money(&item, "max_cost", m);
        }
        if let Some(rd) = &r.rounding {
            check_rounding(&mut c, &format!("{item}.rounding"), rd);
        }
        if r.increment_decimals.is_some_and(|d| d > 12) {
            c.bad(&item, "increment_decimals above 12");
        }
        if r.slots.is_empty() {
            c.bad(&item, "no slots");
        } else if r.slots.len() > MAX_SLOTS {
            c.bad(&item, format!("more than {MAX_SLOTS} slots"));
        }
        let mut slots = Vec::new();
        for (i, s) in r.slots.iter().enumerate() {
            let si = format!("{item}.slots[{i}]");
            c.rate_money(&si, "price", s.price);
            if s.per == 0 {
                c.bad(&si, "per is zero");
            }
            if s.increment == 0 {
                c.bad(&si, "increment is zero");
            }
            if i == 0 && s.from != 0 {
                c.bad(&si, "the first slot must start at 0");
            }
            if i > 0 && s.from <= r.slots[i - 1].from {
                c.bad(
                    &si,
                    format!(
                        "overlapping slots: starts at {} which is not after the previous slot's {}",
                        s.from,
                        r.slots[i - 1].from
                    ),
                );
            }
            let increment_price = if s.per == 0 {
                None
            } else {
                let whole = s.price * Decimal::from(s.increment);
                let p = whole / Decimal::from(s.per);
                // Exact only if multiplying back gives the numerator (1.00/60 does not).
                (p * Decimal::from(s.per) == whole).then_some(p)
            };
            slots.push(Slot {
                from: s.from,
                price: s.price,
                per: s.per.max(1),
                increment: s.increment.max(1),
                increment_price,
            });
        }
        let free = connect_fee.is_zero() && slots.iter().all(|s| s.price.is_zero());
        rates.push(Rate {
            id: r.id.clone(),
            unit: r.unit,
            connect_fee,
            max_cost: r.max_cost,
            rounding: r.rounding.unwrap_or(h.rounding),
            increment_decimals: r.increment_decimals,
            slots,
            free,
        });
    }

    // Packages.
    let pkg_ix = c.unique("packages", f.packages.iter().map(|p| p.id.as_str()));
    let mut packages = Vec::new();
    for p in &f.packages {
        let item = format!("packages.{}", p.id);
        if p.services.is_empty() {
            c.bad(&item, "covers no service");
        }
        for s in &p.services {
            if s.unit() != p.unit {
                c.bad(
                    &item,
                    format!(
                        "unit {} cannot pay for {s}, which is counted in {}",
                        p.unit,
                        s.unit()
                    ),
                );
            }
        }
        if p.amount == 0 {
            c.bad(&item, "amount is zero");
        }
        if p.increment == Some(0) {
            c.bad(&item, "increment is zero");
        }
        let validity_days = match (p.period, p.validity_days) {
            (PackagePeriod::Once, Some(d)) if d > 0 => d,
            (PackagePeriod::Once, _) => {
                c.bad(&item, "period once needs validity_days > 0");
                1
            }
            (_, Some(_)) => {
                c.bad(&item, "validity_days is only for period once; daily and monthly packages live one period");
                0
            }
            (_, None) => 0,
        };
        if let Some(r) = &p.rollover {
            if p.period == PackagePeriod::Once {
                c.bad(&item, "a one-off package cannot roll over");
            }
            if r.periods == 0 {
                c.bad(&item, "rollover.periods is zero");
            }
        }
        packages.push(Package {
            id: p.id.clone(),
            unit: p.unit,
            amount: p.amount,
            services: p.services.iter().fold(0, |m, s| m | s.bit()),
            directions: mask(&p.directions, Direction::Out.bit(), Direction::bit),
            zones: mask(&p.zones, 0b111, Zone::bit),
            networks: mask(&p.networks, 0b11, Network::bit),
            rating_groups: p.rating_groups.clone().unwrap_or_default(),
            increment: p.increment.unwrap_or(1).max(1),
            period: p.period,
            validity_days,
            priority: p.priority,
            rollover: p.rollover.as_ref().map(|r| Rollover {
                max: r.max,
                periods: r.periods.max(1),
            }),
        });
    }

    // Plans and options.
    let plan_ix = c.unique("plans", f.plans.iter().map(|p| p.id.as_str()));
    let addon_ix = c.unique("options", f.options.iter().map(|p| p.id.as_str()));
    let ctx = OfferCtx {
        dest_ix: &dest_ix,
        band_ix: &band_ix,
        rate_ix: &rate_ix,
        pkg_ix: &pkg_ix,
        rates: &rates,
    };
    let plans: Vec<Offer> = f
        .plans
        .iter()
        .map(|p| {
            let mut o = ctx.offer(
                &mut c,
                "plans",
                &p.id,
                &p.name,
                p.connection_fee,
                &p.fees,
                &p.packages,
                &p.prices,
            );
            o.switch_fee = p.switch_fee.unwrap_or_default();
            c.money(&format!("plans.{}", p.id), "switch_fee", o.switch_fee);
            if let Some(cg) = &p.cgrates {
                let item = format!("plans.{}", p.id);
                if f.cgrates.is_none() {
                    c.bad(
                        &item,
                        "priced by CGRateS, but the catalog has no [cgrates] tariff plan",
                    );
                }
                if !p.prices.is_empty() || !p.packages.is_empty() {
                    // CGRateS balances are not imported, and two price lists would be two truths.
                    c.bad(
                        &item,
                        "a plan priced by CGRateS has no prices or packages of its own",
                    );
                }
                if !f
                    .cgrates
                    .as_ref()
                    .is_some_and(|t| t.rating_profiles.iter().any(|r| r.tenant == cg.tenant))
                {
                    c.bad(
                        &item,
                        format!("no CGRateS rating profile of tenant {:?}", cg.tenant),
                    );
                }
                o.cgrates = Some(Box::new(cg.clone()));
            }
            o
        })
        .collect();
    let mut addons = Vec::new();
    for a in &f.options {
        let mut o = ctx.offer(
            &mut c,
            "options",
            &a.id,
            &a.name,
            a.connection_fee,
            &a.fees,
            &a.packages,
            &a.prices,
        );
        for pid in a.plans.iter().flatten() {
            match plan_ix.get(pid) {
                Some(&i) => o.plans.push(i as PlanIdx),
                None => c.bad(format!("options.{}", a.id), format!("unknown plan {pid:?}")),
            }
        }
        // An option's prices would be silently ignored on a plan that CGRateS prices.
        let joins_cgrates = |pi: usize| plans.get(pi).is_some_and(|p: &Offer| p.cgrates.is_some());
        if !a.prices.is_empty()
            && (if o.plans.is_empty() {
                (0..plans.len()).any(joins_cgrates)
            } else {
                o.plans.iter().any(|&p| joins_cgrates(p as usize))
            })
        {
            c.bad(
                format!("options.{}", a.id),
                "has prices and may join a plan priced by CGRateS; list the plans it may join",
            );
        }
        addons.push(o);
    }
    let cgrates = f
        .cgrates
        .as_ref()
        .and_then(|t| match crate::cgrates::Tariff::compile(t) {
            Ok(t) => Some(t),
            Err(problems) => {
                c.problems.extend(problems);
                None
            }
        });
    if plans.is_empty() && f.cgrates.is_none() {
        c.bad(
            "plans",
            "the catalog has no plan (nor a CGRateS tariff plan)",
        );
    }
    if plans.len() > PlanIdx::MAX as usize
        || addons.len() > AddonIdx::MAX as usize
        || bands.len() > BandIdx::MAX as usize
    {
        c.bad("catalog", "too many plans, options or bands");
    }

    if !c.problems.is_empty() {
        return Err(CatalogError::Invalid {
            file: file.into(),
            problems: c.problems,
        });
    }
    Ok(Catalog {
        id: h.id.clone(),
        version: h.version.clone(),
        fingerprint,
        currency: h.currency.clone(),
        decimals: h.decimals,
        tz,
        calendar: crate::time::Calendar::new(tz),
        rounding: h.rounding,
        detalization_fee,
        promise,
        lifecycle,
        destinations,
        prefixes,
        bands,
        band_edges: edges,
        rates,
        packages,
        plans,
        addons,
        plan_ix: plan_ix
            .into_iter()
            .map(|(k, v)| (k, v as PlanIdx))
            .collect(),
        addon_ix: addon_ix
            .into_iter()
            .map(|(k, v)| (k, v as AddonIdx))
            .collect(),
        cgrates,
    })
}

struct OfferCtx<'a> {
    dest_ix: &'a FxHashMap<String, u32>,
    band_ix: &'a FxHashMap<String, u32>,
    rate_ix: &'a FxHashMap<String, u32>,
    pkg_ix: &'a FxHashMap<String, u32>,
    rates: &'a [Rate],
}

impl OfferCtx<'_> {
    #[allow(clippy::too_many_arguments)]
    fn offer(
        &self,
        c: &mut Checker,
        kind: &str,
        id: &str,
        name: &Option<String>,
        connection_fee: Option<Decimal>,
        fees: &[FeeFile],
        packages: &[String],
        prices: &[PriceFile],
    ) -> Offer {
        let item = format!("{kind}.{id}");
        let connection_fee = connection_fee.unwrap_or_default();
        c.money(&item, "connection_fee", connection_fee);
        for (i, fee) in fees.iter().enumerate() {
            c.money(&format!("{item}.fees[{i}]"), "amount", fee.amount);
        }
        let mut pk = Vec::new();
        for p in packages {
            match self.pkg_ix.get(p) {
                Some(&i) => pk.push(i),
                None => c.bad(&item, format!("unknown package {p:?}")),
            }
        }
        if prices.len() > MAX_PRICES_PER_OFFER {
            c.bad(&item, format!("more than {MAX_PRICES_PER_OFFER} prices"));
        }
        let mut out = Vec::new();
        let mut index: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
        for (i, p) in prices.iter().enumerate() {
            let pi = format!("{item}.prices[{i}]");
            let Some(&rate) = self.rate_ix.get(&p.rate) else {
                c.bad(&pi, format!("unknown rate {:?}", p.rate));
                continue;
            };
            let unit = self.rates[rate as usize].unit;
            if unit != p.service.unit() {
                c.bad(
                    &pi,
                    format!(
                        "rate {} is per {unit} but {} is counted in {}",
                        p.rate,
                        p.service,
                        p.service.unit()
                    ),
                );
            }
            let band = match &p.band {
                None => None,
                Some(b) => match self.band_ix.get(b) {
                    Some(&x) => Some(x as BandIdx),
                    None => {
                        c.bad(&pi, format!("unknown band {b:?}"));
                        None
                    }
                },
            };
            if p.rating_group.is_some() && p.service != Service::Data {
                c.bad(&pi, "rating_group applies to data only");
            }
            let dests: Vec<DestIdx> = match &p.destinations {
                None => vec![ANY_DEST],
                Some(v) if v.iter().any(|d| d == "*any") => {
                    if v.len() > 1 {
                        c.bad(&pi, "*any together with named destinations");
                    }
                    vec![ANY_DEST]
                }
                Some(v) => v
                    .iter()
                    .filter_map(|d| match self.dest_ix.get(d) {
                        Some(&x) => Some(x),
                        None => {
                            c.bad(&pi, format!("unknown destination {d:?}"));
                            None
                        }
                    })
                    .collect(),
            };
            if p.service == Service::Data && dests != [ANY_DEST] {
                c.bad(&pi, "data has no destination; leave destinations out");
            }
            let idx = out.len() as u32;
            out.push(Price {
                band,
                weight: p.weight,
                rate,
                location: p.location,
                rating_group: p.rating_group,
            });
            for d in dests {
                index
                    .entry(index_key(p.service, p.direction, d))
                    .or_default()
                    .push(idx);
            }
        }
        let banded = out.iter().any(|p| p.band.is_some());
        let priced = prices.iter().fold(0u8, |m, p| {
            m | 1 << (p.service as u8 * 2 + p.direction as u8)
        });
        Offer {
            banded,
            priced,
            id: id.to_string(),
            name: name.clone().unwrap_or_else(|| id.to_string()),
            connection_fee,
            fees: fees
                .iter()
                .map(|f| Fee {
                    period: f.period,
                    amount: f.amount,
                })
                .collect(),
            packages: pk,
            prices: out,
            index,
            plans: Vec::new(),
            cgrates: None,
            switch_fee: Decimal::ZERO,
        }
    }
}
