//! The audit's report: what it counted and every discrepancy it found (the first few listed).

use rust_decimal::Decimal;
use serde::Serialize;

/// Keeps at most this many discrepancies in a report (the count goes on).
const MAX_LISTED: usize = 200;

#[derive(Debug, Default, Serialize)]
pub struct AuditReport {
    pub entries: u64,
    pub decisions: u64,
    pub dead: u64,
    pub ticks: u64,
    pub accounts: usize,
    #[serde(with = "rating::money::amount")]
    pub payments: Decimal,
    #[serde(with = "rating::money::amount")]
    pub charges: Decimal,
    #[serde(with = "rating::money::amount")]
    pub fees: Decimal,
    /// Promised payments credited, repaid from payments, and written off at expiry.
    #[serde(with = "rating::money::amount")]
    pub promised: Decimal,
    #[serde(with = "rating::money::amount")]
    pub repaid: Decimal,
    #[serde(with = "rating::money::amount")]
    pub written_off: Decimal,
    /// Money sent by transfers, and transfers whose credit or refund the log does not hold yet.
    #[serde(with = "rating::money::amount")]
    pub transfers: Decimal,
    pub transfers_in_flight: u64,
    pub discrepancies: u64,
    pub listed: Vec<String>,
}

impl AuditReport {
    pub fn ok(&self) -> bool {
        self.discrepancies == 0
    }

    pub(super) fn bad(&mut self, what: String) {
        self.discrepancies += 1;
        if self.listed.len() < MAX_LISTED {
            self.listed.push(what);
        }
    }

    /// A finding about the whole store (the counters, the positions): listed first, whatever
    /// the entry-by-entry findings filled the list with.
    pub(super) fn bad_overall(&mut self, what: String) {
        self.discrepancies += 1;
        self.listed.insert(0, what);
        self.listed.truncate(MAX_LISTED.max(1));
    }
}
