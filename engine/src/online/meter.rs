//! What `ratel online` counts of its requests: each answered, by interface, request and
//! result, and how long it took from read to answer (the metrics' names and help are in
//! `operations::metrics`).

use super::avps::*;
use crate::operations::metrics::{ONLINE_REQUESTS, ONLINE_SECONDS};
use std::time::Instant;

/// The interfaces online requests come over.
#[derive(Debug, Clone, Copy)]
pub enum Interface {
    Diameter,
    Http,
}

impl Interface {
    fn name(self) -> &'static str {
        match self {
            Interface::Diameter => "diameter",
            Interface::Http => "http",
        }
    }
}

/// The request's name for the metrics: its CC-Request-Type, and an event's Requested-Action.
pub fn request_name(request_type: u32, action: u32) -> &'static str {
    match (request_type, action) {
        (INITIAL_REQUEST, _) => "initial",
        (UPDATE_REQUEST, _) => "update",
        (TERMINATION_REQUEST, _) => "terminate",
        (EVENT_REQUEST, CHECK_BALANCE) => "check_balance",
        (EVENT_REQUEST, PRICE_ENQUIRY) => "price_enquiry",
        (EVENT_REQUEST, REFUND_ACCOUNT) => "refund_account",
        (EVENT_REQUEST, _) => "event",
        _ => "other",
    }
}

/// One request answered with `result` (a Result-Code), read at `read`.
pub fn answered(interface: Interface, request: &'static str, result: u32, read: Instant) {
    let labels = [
        ("interface", interface.name().to_string()),
        ("request", request.to_string()),
        ("result", result.to_string()),
    ];
    metrics::counter!(ONLINE_REQUESTS, &labels).increment(1);
    let by = [("interface", interface.name())];
    metrics::histogram!(ONLINE_SECONDS, &by).record(read.elapsed());
}
