//! Limits on a catalog, so that a wrong file cannot exhaust memory; the CGRateS tariff a catalog
//! holds keeps them too.

pub const MAX_CATALOG_BYTES: usize = 64 << 20;
pub const MAX_SLOTS: usize = 64;
pub const MAX_PRICES_PER_OFFER: usize = 10_000;
/// A price per unit above this is surely a typo (a million per second).
pub const MAX_PRICE: i64 = 1_000_000;

/// The longest validity of a bucket given rather than bought by a plan (a goodwill grant, a
/// loyalty reward), in days: ten years.
pub const MAX_GRANT_DAYS: u32 = 3_660;
