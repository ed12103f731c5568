//! The catalog file as the operator writes it (TOML). `compile` turns it into a [`super::Catalog`].
//!
//! Every table refuses unknown keys, so that a misspelt key is an error and not a silent default.

use crate::money::{self, Rounding};
use crate::service::{Direction, Network, Service, Unit, Zone};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    pub catalog: Header,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<DestinationFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bands: Vec<BandFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rates: Vec<RateFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackageFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<PlanFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<AddonFile>,
    /// Promised payments: whether and how much an account may be credited against payments to
    /// come. Absent: no promised payments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promised_payment: Option<PromisePolicyFile>,
    /// A CGRateS tariff plan, priced the way CGRateS prices it (`ratel cgrates import` writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgrates: Option<crate::cgrates::TariffFile>,
    /// What a change of plan does to fees and the old plan's packages. Absent: the defaults of
    /// [`PlanChangeFile`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_change: Option<PlanChangeFile>,
    /// Voluntary suspension of a number. Absent: numbers cannot be suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspension: Option<StatusFeeFile>,
    /// Blocking of a number whose SIM was lost. Absent: blocked free of charge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_sim: Option<StatusFeeFile>,
    /// Fees and blocking of accounts that pay nothing in. Absent: no inactivity rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactivity: Option<InactivityFile>,
    /// Money transfers between numbers. Absent: not offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfers: Option<TransfersFile>,
    /// Loyalty points on spending. Absent: no loyalty programme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loyalty: Option<LoyaltyFile>,
    /// Online charging: the quota granted, how long a grant holds, what becomes of a session
    /// nobody reports on. Absent: the defaults of [`OnlineFile`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<OnlineFile>,
}

/// What becomes of a session the network stopped reporting on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Abandoned {
    /// Charge what it used and what it was last granted (the network may have let it be used).
    #[default]
    Charge,
    /// Charge what it used; release the last grant.
    Release,
}

/// `[online]`: online charging's rules. Every field has a default.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OnlineFile {
    /// Units granted when a request asks for none: seconds of voice (default 300).
    pub quota_seconds: Option<u64>,
    /// Bytes of data (default 10 MiB).
    pub quota_bytes: Option<u64>,
    /// Messages (default 1).
    pub quota_messages: Option<u64>,
    /// How long a grant holds without a report (Validity-Time; default 900 s).
    pub validity_seconds: Option<u32>,
    /// How long after that an expiry may end the session (default 120 s).
    pub grace_seconds: Option<u32>,
    #[serde(default)]
    pub abandoned: Abandoned,
    /// Where data is redirected when the money runs out (the top-up page); absent: the session
    /// is terminated instead.
    pub redirect: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoyaltyFile {
    /// One point for each this much spent (charges and fees; not payments, transfers or
    /// promised payments' repayments). What is left over counts towards the next point.
    #[serde(with = "money::amount")]
    pub spend_per_point: Decimal,
    /// What one point is worth redeemed into money (`redeem_points` without a reward); absent:
    /// points do not become money.
    #[serde(
        default,
        with = "money::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub point_value: Option<Decimal>,
    /// What points buy: a bucket of a package each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewards: Vec<RewardFile>,
}

/// A reward points buy: `amount` units of `package`, valid `validity_days` from redemption.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RewardFile {
    pub id: String,
    pub points: u64,
    pub package: String,
    pub amount: u64,
    pub validity_days: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TransfersFile {
    /// The most one transfer may move.
    #[serde(with = "money::amount")]
    pub max_amount: Decimal,
    /// Charged to the sender on top of the amount.
    #[serde(default, with = "money::opt_amount")]
    pub fee: Option<Decimal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OldPackages {
    /// The old plan's buckets stay until they expire (and do not renew or roll over).
    #[default]
    Keep,
    /// The old plan's buckets are dropped at the change.
    Drop,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlanChangeFile {
    #[serde(default)]
    pub old_packages: OldPackages,
    /// The new plan's monthly fees and monthly packages are prorated by the days left in the
    /// number's current monthly period (default); otherwise charged and granted whole.
    #[serde(default = "yes")]
    pub prorate: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StatusFeeFile {
    /// Charged each local day in this status instead of the plan's and options' fees.
    #[serde(default, with = "money::opt_amount")]
    pub daily_fee: Option<Decimal>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InactivityFile {
    /// Days without a payment after which the daily fee starts (120: the fee from day 121).
    pub fee_after_days: u32,
    #[serde(with = "money::amount")]
    pub daily_fee: Decimal,
    /// Days with a zero or negative balance after which the account's numbers are blocked.
    pub block_after_days: u32,
    /// Days a blocked account may still be restored by a payment; then it is released.
    pub restore_days: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Name of this catalog, e.g. the operator's region.
    pub id: String,
    /// The operator's own version label; the engine also records a content hash.
    pub version: String,
    pub currency: String,
    /// Digits of the currency's minor unit: 2 for RUB (kopecks).
    pub decimals: u32,
    /// IANA time zone in which time bands, days and months are read.
    pub timezone: String,
    /// Rounding of a rate's final cost where the rate does not name its own.
    pub rounding: Rounding,
    /// Price of an itemised report beyond the first whole-month report of each month (free).
    #[serde(
        default,
        with = "money::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub detalization_fee: Option<Decimal>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PromisePolicyFile {
    /// The most one promised payment may be.
    #[serde(with = "money::amount")]
    pub max_amount: Decimal,
    /// And at most this share of what the account paid in this and the two previous months.
    #[serde(with = "money::amount")]
    pub share_of_recent_payments: Decimal,
    /// Days until what is not repaid is written off the balance.
    pub validity_days: u32,
    /// Charged when it is granted.
    #[serde(default, with = "money::opt_amount")]
    pub fee: Option<Decimal>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationFile {
    pub id: String,
    pub zone: Zone,
    pub network: Network,
    pub prefixes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BandFile {
    pub id: String,
    /// mon..sun; absent means every day.
    #[serde(default)]
    pub weekdays: Vec<String>,
    /// "HH:MM" or "HH:MM:SS"; default 00:00.
    pub from: Option<String>,
    /// "HH:MM", exclusive; "24:00" is the end of the day (the default). `to` before `from` wraps
    /// past midnight (21:00 to 09:00).
    pub to: Option<String>,
    /// "YYYY-MM-DD": if given, the band applies only on these dates.
    #[serde(default)]
    pub dates: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateFile {
    pub id: String,
    pub unit: Unit,
    #[serde(default, with = "money::opt_amount")]
    pub connect_fee: Option<Decimal>,
    /// Cap on the money of one usage item, connect fee included.
    #[serde(default, with = "money::opt_amount")]
    pub max_cost: Option<Decimal>,
    pub rounding: Option<Rounding>,
    /// Round the price of each increment to this many decimals (CGRateS's global rounding).
    pub increment_decimals: Option<u32>,
    pub slots: Vec<SlotFile>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlotFile {
    /// Usage elapsed since the item began from which this slot applies (seconds, messages, bytes).
    pub from: u64,
    #[serde(with = "money::amount")]
    pub price: Decimal,
    /// The price is for this many units (60 for a per-minute price, 1048576 for per MB).
    pub per: u64,
    /// Usage in this slot is billed in whole steps of this many units, rounded up.
    pub increment: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PackageFile {
    pub id: String,
    pub unit: Unit,
    pub amount: u64,
    pub services: Vec<Service>,
    /// Default: outgoing only.
    pub directions: Option<Vec<Direction>>,
    /// Zones of the destination covered; default all.
    pub zones: Option<Vec<Zone>>,
    /// Default both.
    pub networks: Option<Vec<Network>>,
    /// Data rating groups covered; default all.
    pub rating_groups: Option<Vec<u32>>,
    /// Usage is taken from the bucket in whole steps of this many units (60: per started minute).
    pub increment: Option<u64>,
    pub period: PackagePeriod,
    /// For `period = "once"`: days the bucket lives.
    pub validity_days: Option<u32>,
    /// Lower is used first; ties go to the bucket that expires first, then the older bucket.
    #[serde(default)]
    pub priority: i32,
    pub rollover: Option<RolloverFile>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PackagePeriod {
    Daily,
    Monthly,
    Once,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RolloverFile {
    /// At most this many units are carried into the next period.
    pub max: u64,
    /// Carried units live this many further periods, then expire.
    pub periods: u32,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FeePeriod {
    Daily,
    Monthly,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FeeFile {
    pub period: FeePeriod,
    #[serde(with = "money::amount")]
    pub amount: Decimal,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PriceFile {
    pub service: Service,
    #[serde(default)]
    pub direction: Direction,
    /// Destination ids, or ["*any"] (the default).
    pub destinations: Option<Vec<String>>,
    /// Time band id; absent means always.
    pub band: Option<String>,
    #[serde(default)]
    pub weight: i32,
    pub rate: String,
    /// Only while the subscriber is in this zone (roaming); absent means anywhere.
    pub location: Option<Zone>,
    /// Only for data of this rating group; absent means any.
    pub rating_group: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub id: String,
    pub name: Option<String>,
    /// One-off fee charged when a number joins the plan.
    #[serde(default, with = "money::opt_amount")]
    pub connection_fee: Option<Decimal>,
    #[serde(default)]
    pub fees: Vec<FeeFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
    #[serde(default)]
    pub prices: Vec<PriceFile>,
    /// Price this plan's usage with the catalog's CGRateS tariff plan instead of `prices`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgrates: Option<crate::cgrates::file::PricingFile>,
    /// Charged when a number changes to this plan.
    #[serde(
        default,
        with = "money::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub switch_fee: Option<Decimal>,
    /// What happens to a period's fee the available money cannot pay.
    #[serde(default, skip_serializing_if = "WhenUnpaid::is_charge")]
    pub when_unpaid: WhenUnpaid,
}

/// What happens to a plan's or an option's periodic fee when the account's available money
/// (balance and credit limit) cannot pay it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenUnpaid {
    /// Taken all the same (post-paid): the balance goes below what may be spent.
    #[default]
    Charge,
    /// Not taken, and the period's packages not granted: the number is unpaid until a payment
    /// covers the fee (pre-paid). Joining the offer then needs the money for its fees.
    Limit,
}

impl WhenUnpaid {
    pub fn is_charge(&self) -> bool {
        *self == WhenUnpaid::Charge
    }
}

/// An option (add-on) to a plan: fees, packages and prices that override the plan's.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AddonFile {
    pub id: String,
    pub name: Option<String>,
    #[serde(default, with = "money::opt_amount")]
    pub connection_fee: Option<Decimal>,
    #[serde(default)]
    pub fees: Vec<FeeFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
    #[serde(default)]
    pub prices: Vec<PriceFile>,
    /// Plans it may be added to; absent means any.
    pub plans: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "WhenUnpaid::is_charge")]
    pub when_unpaid: WhenUnpaid,
}
