//! Limits on a catalog, so that a wrong file cannot exhaust memory (the CGRateS tariff a catalog
//! holds keeps them too), and on the quantities of one usage item, which quotas keep too.

pub const MAX_CATALOG_BYTES: usize = 64 << 20;
pub const MAX_SLOTS: usize = 64;
pub const MAX_PRICES_PER_OFFER: usize = 10_000;
/// A price per unit above this is surely a typo (a million per second).
pub const MAX_PRICE: i64 = 1_000_000;

/// The longest validity of a bucket given rather than bought by a plan (a goodwill grant, a
/// loyalty reward), in days: ten years.
pub const MAX_GRANT_DAYS: u32 = 3_660;

/// The most one usage item (and one online request) may carry, in each unit: a catalog's
/// quotas stay within them too.
pub const MAX_DURATION_SECONDS: u64 = 7 * 86_400;
pub const MAX_VOLUME_BYTES: u64 = 1 << 40;
pub const MAX_MESSAGES: u64 = 1_000;

/// The most one usage item may carry in `unit`.
pub fn most_units(unit: crate::Unit) -> u64 {
    match unit {
        crate::Unit::Seconds => MAX_DURATION_SECONDS,
        crate::Unit::Bytes => MAX_VOLUME_BYTES,
        crate::Unit::Messages => MAX_MESSAGES,
    }
}
