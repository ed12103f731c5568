//! Deciding: `rate` dispatches an input to the handler of its kind (usage, payments, plan and
//! status changes, transfers, corrections); below them, pricing, periods and the shared shapes of a verdict.
//! Reads the model and the tariff; changes nothing.

pub(crate) mod account;
pub(crate) mod activity;
pub(crate) mod correction;
pub(crate) mod detalization;
pub(crate) mod lifecycle;
pub mod online;
pub(crate) mod option;
pub(crate) mod payment;
pub mod period;
pub mod prefetch;
pub mod price;
pub mod quote;
pub mod rate;
pub(crate) mod redemption;
pub mod refund;
pub(crate) mod renewal;
pub mod transfer;
pub(crate) mod usage;
pub(crate) mod verdict;
