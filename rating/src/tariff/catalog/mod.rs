//! The catalog in force: destinations, time bands, rates, packages, plans and options, compiled
//! from the operator's file into indexed tables for rating.
//!
//! `Catalog::from_toml` checks everything it can before any event is rated: an invalid catalog is
//! refused with every problem named by file, item and reason.

mod compile;
pub mod file;
pub mod limits;
pub mod prefix;
pub mod problem;

use crate::money::Rounding;
use crate::service::{Direction, Network, Service, Unit, Zone};
use chrono::NaiveDate;
use chrono_tz::Tz;
use prefix::PrefixTable;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
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
    pub fn covers(&self, kind: &UsageKind) -> bool {
        self.services & kind.service.bit() != 0
            && self.directions & kind.direction.bit() != 0
            && kind
                .zone
                .map_or(self.zones == 0b111, |z| self.zones & z.bit() != 0)
            && kind
                .network
                .map_or(self.networks == 0b11, |n| self.networks & n.bit() != 0)
            && (self.rating_groups.is_empty()
                || kind
                    .rating_group
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
    priced: u32,
    /// For options: the plans it may join (empty: any).
    pub plans: Vec<PlanIdx>,
    /// For plans priced by the catalog's CGRateS tariff plan.
    pub cgrates: Option<Box<crate::cgrates::file::PricingFile>>,
    /// For plans: charged when a number changes to this plan.
    pub switch_fee: Decimal,
    pub when_unpaid: file::WhenUnpaid,
}

impl Offer {
    /// Whether a fee of this offer is left unpaid (and its packages not granted) when the
    /// money cannot pay it.
    pub fn limits_unpaid(&self) -> bool {
        self.when_unpaid == file::WhenUnpaid::Limit
    }
}

// `Offer::priced` has a bit for every service and direction.
const _: () = assert!(Service::ALL.len() * 2 <= u32::BITS as usize);

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
    /// What a point is worth redeemed into money; `None`: points do not become money.
    pub point_value: Option<Decimal>,
    /// What points buy.
    pub rewards: Vec<Reward>,
}

/// A bucket points buy (`[[loyalty.rewards]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reward {
    pub id: String,
    pub points: u64,
    pub package: PackageIdx,
    pub amount: u64,
    pub validity_days: u32,
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
    pub online: Online,
}

/// Online charging's rules (the file's [`file::OnlineFile`], defaults filled in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Online {
    pub quota_seconds: u64,
    pub quota_bytes: u64,
    pub quota_messages: u64,
    pub validity_seconds: u32,
    pub grace_seconds: u32,
    pub abandoned: file::Abandoned,
    pub redirect: Option<String>,
}

impl Online {
    /// The units granted when a request asks for none.
    pub fn quota(&self, unit: crate::Unit) -> u64 {
        match unit {
            crate::Unit::Seconds => self.quota_seconds,
            crate::Unit::Bytes => self.quota_bytes,
            crate::Unit::Messages => self.quota_messages,
        }
    }
}

impl fmt::Display for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.id, self.version, self.short_hash())
    }
}

impl Catalog {
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

    /// A package by its id (a grant, a take or a reward names one; they are few, and rare).
    pub fn package(&self, id: &str) -> Option<PackageIdx> {
        (self.packages.iter())
            .position(|p| p.id == id)
            .map(|i| i as PackageIdx)
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
