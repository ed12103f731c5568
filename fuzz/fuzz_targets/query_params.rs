//! A request's query string, as the HTTP API receives it: decoded into a detalization's or a
//! spending report's parameters, or refused with an error; never a panic. A period that decodes
//! is non-empty; months that decode are in order and have bounds in the catalog's calendar.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rating::request::{decode, month_bounds, MonthsParams, PeriodParams};
use rating::{Catalog, Timestamp};

const CATALOG: &str = include_str!("../../catalogs/example.toml");
static CAT: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let cat = CAT.get_or_init(|| Catalog::from_toml("example.toml", CATALOG).unwrap());
    // A URI's query is text; the server never sees other bytes.
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    // Event time of the store's last event, which defaults the month: 2026-06-15.
    let now = Timestamp(1_781_500_000);
    if let Ok(p) = decode::<PeriodParams>(query) {
        if let Ok((from, to)) = p.period(cat, now) {
            assert!(from < to, "{query:?}: an empty period");
        }
        if let Ok(services) = p.services() {
            assert!(p.service.is_some() || services.is_empty());
        }
        let _ = p.format();
    }
    if let Ok(m) = decode::<MonthsParams>(query) {
        if let Ok((first, last)) = m.months(cat, now) {
            assert!(first <= last, "{query:?}: months out of order");
            let (a, _) = month_bounds(cat, first);
            let (_, b) = month_bounds(cat, last);
            assert!(a < b);
        }
    }
});
