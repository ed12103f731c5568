//! A CGRateS tariff plan as it sits in a ratel catalog (the `[cgrates]` table): the six CSV files
//! of a CGRateS tariff-plan folder, grouped by id, with CGRateS's own spelling of durations
//! ("60s", "1m", a bare number of nanosecond units) so that an operator can check it against the
//! source line by line. `ratel cgrates import` writes it; [`super::Tariff::compile`] checks it.

use crate::money;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TariffFile {
    /// CGRateS's engine-wide "rounding decimals": every increment and span is rounded half up to
    /// this many decimals before the final rounding (5 in CGRateS's default configuration).
    pub rounding_decimals: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<DestinationFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timings: Vec<TimingFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rates: Vec<RateFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_rates: Vec<DestinationRatesFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rating_plans: Vec<RatingPlanFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rating_profiles: Vec<RatingProfileFile>,
}

/// `Destinations.csv`: an id and its prefixes, matched literally against the dialled number.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DestinationFile {
    pub id: String,
    pub prefixes: Vec<String>,
}

/// `Timings.csv`. An empty list means any.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimingFile {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub years: Vec<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub months: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub month_days: Vec<u32>,
    /// 1 = Monday … 6 = Saturday, 0 or 7 = Sunday.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub week_days: Vec<u32>,
    /// "HH:MM:SS": the time of day at which the timing starts.
    pub start: String,
    /// "HH:MM:SS", exclusive; absent means the end of the day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

/// `Rates.csv`: the slots of one rate, in file order.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateFile {
    pub id: String,
    pub slots: Vec<RateSlotFile>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateSlotFile {
    #[serde(with = "money::amount")]
    pub connect_fee: Decimal,
    #[serde(with = "money::amount")]
    pub rate: Decimal,
    /// The rate is the price of this much usage ("60s"; "1024" bytes; "0" means 1s).
    pub rate_unit: String,
    /// Usage is billed in steps of this much, rounded up ("0" means 1s).
    pub rate_increment: String,
    /// The slot applies once this much usage has elapsed since the start of the item.
    pub group_interval_start: String,
}

/// `DestinationRates.csv`: rows with one id.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DestinationRatesFile {
    pub id: String,
    pub rates: Vec<DestinationRateFile>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DestinationRateFile {
    /// A destination id, or "*any".
    pub destination: String,
    pub rate: String,
    /// "*up", "*down" or "*middle" (half up).
    pub rounding_method: String,
    pub rounding_decimals: u32,
    /// Zero means no cap.
    #[serde(with = "money::amount")]
    pub max_cost: Decimal,
    /// "", "*free" or "*disconnect".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub max_cost_strategy: String,
}

/// `RatingPlans.csv`: rows with one id.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RatingPlanFile {
    pub id: String,
    pub bindings: Vec<BindingFile>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BindingFile {
    pub destination_rates: String,
    /// A timing id, or "*any".
    pub timing: String,
    #[serde(with = "money::amount")]
    pub weight: Decimal,
}

/// `RatingProfiles.csv`: one tenant, category and subject, with its activations.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RatingProfileFile {
    pub tenant: String,
    pub category: String,
    /// A subject, or "*any" for subjects that have no profile of their own.
    pub subject: String,
    pub activations: Vec<ActivationFile>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ActivationFile {
    /// RFC 3339.
    pub at: String,
    pub rating_plan: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_subjects: Vec<String>,
}

/// On a ratel plan: price its numbers' outgoing usage with the catalog's CGRateS tariff plan, the
/// number's MSISDN being the CGRateS subject.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PricingFile {
    pub tenant: String,
    /// The CGRateS category of each service.
    #[serde(default)]
    pub categories: Categories,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Categories {
    pub voice: String,
    pub sms: String,
    pub mms: String,
    pub data: String,
}

impl Default for Categories {
    fn default() -> Self {
        Categories {
            voice: "call".into(),
            sms: "sms".into(),
            mms: "mms".into(),
            data: "data".into(),
        }
    }
}

impl Categories {
    pub fn of(&self, service: crate::service::Service) -> &str {
        use crate::service::Service::*;
        match service {
            Voice => &self.voice,
            Sms => &self.sms,
            Mms => &self.mms,
            Data => &self.data,
        }
    }
}
