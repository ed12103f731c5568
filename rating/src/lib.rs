//! ratel's rating core: the catalog, account state, and the pure function from (state, catalog,
//! event) to a decision. No I/O, no clock, no randomness: the same inputs always give the same
//! decision, byte for byte, which is what replay and audits rest on.
//!
//! The flow: [`rate`] reads [`State`] and [`Catalog`] and returns a [`Decision`]; [`apply`]
//! changes the state by exactly what the decision records. The engine logs the decision between
//! the two.

// Product code only: a test may be a long story.
#![warn(clippy::too_many_lines)]

mod decide;
mod encoding;
mod model;
mod tariff;
mod units;

pub(crate) use decide::{activity, lifecycle, renewal, verdict};
pub use decide::{online, period, prefetch, price, quote, rate, refund, transfer};
pub use encoding::{charge_reference, codec, record, request};
pub(crate) use model::small_vec;
pub use model::{apply, decision, event, movement, number, recent, session, state, take};
pub use tariff::{catalog, cgrates};
pub use units::{money, service, time};

pub use activity::{due_from, work_due};
pub use apply::{apply, ApplyError};
pub use catalog::{Catalog, CatalogError};
pub use decision::{
    Charge, Decision, Expiry, FeeCharge, FeeKind, FeeSource, Outcome, Rejection, Renewal, Span,
    Take, Why,
};
pub use event::{AccountId, EventId, Input, Month, Msisdn, Usage};
pub use movement::{Movement, MovementKind};
pub use number::{Bucket, Number, Origin};
pub use quote::{quote, Quote, QuoteRequest};
pub use rate::rate;
pub use service::{Direction, Network, Service, Unit, Zone};
pub use state::{Account, State};
pub use time::Timestamp;

/// Rates and applies one event: the decision, already applied to `state`.
pub fn step(state: &mut State, cat: &Catalog, input: &Input) -> Decision {
    let d = rate(state, cat, input);
    apply(state, &d).expect("a decision just computed from this state applies to it");
    d
}
