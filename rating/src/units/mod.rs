//! The units of the trade, below everything else: event time and the catalog's calendar, exact
//! money with explicit rounding, and the words that classify usage (service, direction, zone).

pub mod money;
pub mod service;
pub mod time;
