//! CGRateS compatibility: a CGRateS tariff plan held in a ratel catalog, and the price of one
//! usage item computed the way CGRateS computes it (profile, destination, spans, increments,
//! connect fee, max cost, rounding), so that an operator moving over can reconcile the two systems
//! to the last decimal. `csv` reads a CGRateS tariff-plan folder; `price` is the algorithm.
//!
//! Quantities are in CGRateS's usage units: nanoseconds for voice, one unit per SMS/MMS, one per
//! byte of data, exactly as CGRateS counts them, so that a rate's "60s" or "1024" means what it
//! means there.

pub mod csv;
pub mod file;
mod price;
mod tariff;

pub use file::TariffFile;
pub use price::{CgrQuote, CgrRequest, CgrSpan, PriceError};
pub use tariff::{
    parse_duration, Method, Tariff, MAX_DECIMALS, MAX_FALLBACK_DEPTH, MAX_USAGE, SECOND,
};
