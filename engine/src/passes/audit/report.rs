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
    /// Money the operator's adjustments put in and took out.
    #[serde(with = "rating::money::amount")]
    pub adjusted_in: Decimal,
    #[serde(with = "rating::money::amount")]
    pub adjusted_out: Decimal,
    /// Money loyalty points were turned into.
    #[serde(with = "rating::money::amount")]
    pub redeemed: Decimal,
    /// Money usage charges' refunds brought back, and payments reversed took.
    #[serde(with = "rating::money::amount")]
    pub refunded: Decimal,
    #[serde(with = "rating::money::amount")]
    pub reversed: Decimal,
    /// The money of the transfers in flight: sent, and neither received nor refunded yet.
    #[serde(with = "rating::money::amount")]
    pub in_flight: Decimal,
    /// Online sessions open at the log's end, and the money their grants hold. Held money has
    /// not moved: it is counted apart, never in the balances' equation.
    pub sessions_open: u64,
    #[serde(with = "rating::money::amount")]
    pub reserved: Decimal,
    /// CDRs of online sessions reconciled (not charged), and of them those whose units differ
    /// from what the session reported.
    pub reconciled: u64,
    pub reconciled_apart: u64,
    /// The accounts' balances as the log sums them. They add up to payments + promised −
    /// repaid − written off − charges − fees − in flight: [`AuditReport::totals_line`] says so,
    /// and the audit checks it.
    #[serde(with = "rating::money::amount")]
    pub balances: Decimal,
    pub discrepancies: u64,
    pub listed: Vec<String>,
}

impl AuditReport {
    pub fn ok(&self) -> bool {
        self.discrepancies == 0
    }

    /// What the money the log moved comes to: the sum of the balances, as an equation a reader
    /// can add up.
    pub fn totals_line(&self) -> String {
        format!(
            "balances {} = payments {} + promised {} − repaid {} − written off {} − charges {} − fees {} − transfers in flight {} + adjusted in {} − adjusted out {} + points redeemed {} + refunded {} − payments reversed {}",
            self.balances,
            self.payments,
            self.promised,
            self.repaid,
            self.written_off,
            self.charges,
            self.fees,
            self.in_flight,
            self.adjusted_in,
            self.adjusted_out,
            self.redeemed,
            self.refunded,
            self.reversed
        )
    }

    /// The money the log moved, summed by kind: what the balances must add up to.
    pub fn moved(&self) -> Decimal {
        self.payments + self.promised
            - self.repaid
            - self.written_off
            - self.charges
            - self.fees
            - self.in_flight
            + self.adjusted_in
            - self.adjusted_out
            + self.redeemed
            + self.refunded
            - self.reversed
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
