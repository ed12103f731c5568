//! The audit's own bookkeeping, kept apart from the rating core's: each account's balance, each
//! bucket's units, numbers' owners, promises, transfers' steps, and which ids took effect.

use super::report::AuditReport;
use rating::{Decision, Msisdn, Outcome};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Units {
    pub(super) total: u64,
    pub(super) remaining: u64,
}

#[derive(Default)]
pub(super) struct Ledger {
    pub(super) balance: BTreeMap<String, Decimal>,
    pub(super) buckets: HashMap<(Msisdn, u32), Units>,
    pub(super) owner: HashMap<Msisdn, String>,
    pub(super) free_reports: std::collections::HashSet<(Msisdn, rating::Month)>,
    /// Outstanding promised payment of each account: the granting event and what is owed.
    pub(super) promises: HashMap<String, (String, Decimal)>,
    /// Each transfer's steps, wherever they were logged: the partitions' logs are read one
    /// after another, so a credit may be read before its debit.
    /// Keyed by the sender's account and the transfer's id: two senders may use one id.
    pub(super) transfers: HashMap<(String, String), TransferSteps>,
    /// Each usage charge that took money or units, and each payment, by account and id: what
    /// it took (or brought), and what refunds gave back of it (a payment's: its reversal).
    pub(super) refundable: HashMap<(String, String), Refundable>,
    /// Each open online session by account and session id: the money its grant holds.
    pub(super) sessions: HashMap<(String, String), Decimal>,
    /// Sessions ended, by account and id: the units and money they were charged, which a
    /// reconciliation of their CDR must state.
    pub(super) ended_sessions: HashMap<(String, String), (u64, Decimal)>,
}

/// A charge's money and units, and what refunds gave back of them; or a payment's amount and
/// whether it was reversed (`money_back` its amount).
#[derive(Default, Debug)]
pub(super) struct Refundable {
    pub(super) money: Decimal,
    pub(super) units: u64,
    pub(super) money_back: Decimal,
    pub(super) units_back: u64,
}

/// The amounts of a transfer's steps: `[sent, received, bounced, refunded]`.
#[derive(Default, Debug)]
pub(super) struct TransferSteps(pub(super) [Option<Decimal>; 4]);

impl Ledger {
    pub(super) fn transfer_step(
        &mut self,
        report: &mut AuditReport,
        at: &str,
        (sender, id): (&str, &str),
        step: usize,
        amount: Decimal,
    ) {
        let key = (sender.to_string(), id.to_string());
        let t = self.transfers.entry(key).or_default();
        if t.0[step].replace(amount).is_some() {
            report.bad(format!(
                "{at}: transfer {id} of {sender} takes the same step twice"
            ));
        }
    }
}

/// The inputs that took effect, by account and id, as the rules of `docs/events.md` say an
/// account remembers them: a payment's, a transfer's or a command's id for ever, a usage's (or a
/// tick's) for the window of event time after its account's clock passed it. Kept here by its
/// own bookkeeping, not by the rating core's.
pub(super) struct Effects {
    pub(super) window: i64,
    /// Each id that took effect, with the account's clock when it did (`None`: held for ever).
    pub(super) held: HashMap<(String, String), Option<i64>>,
    /// Each account's latest event time of an input that took effect.
    pub(super) latest: HashMap<String, i64>,
    pub(super) ids: HashSet<String>,
}

impl Effects {
    /// Records that `decision`'s input took effect in its account; a second time while the account
    /// still holds its id is a fault.
    pub(super) fn took_effect(&mut self, report: &mut AuditReport, at: &str, decision: &Decision) {
        let owner = rating::decision::remembered_by(decision).map_or("", |(a, _)| a.as_str());
        let key = (owner.to_string(), decision.event.to_string());
        let latest = self.latest.get(owner).copied();
        let horizon = latest.map(|l| l - self.window);
        let still_held = match self.held.get(&key) {
            None => false,
            Some(None) => true,
            Some(Some(clock)) => horizon.is_none_or(|h| *clock >= h),
        };
        // Usage before its account's horizon is refused as too late, repeat or not: only the
        // same id coming again later than the horizon, once the first fell behind it, is new.
        let windowed = matches!(
            decision.outcome,
            Outcome::Charged(_) | Outcome::Reserved(_) | Outcome::SessionEnded { .. }
        );
        let too_late = windowed && horizon.is_some_and(|h| decision.time.0 < h);
        if still_held || (too_late && self.held.contains_key(&key)) {
            report.bad(format!("{at}: {} took effect twice", decision.event));
        } else if too_late {
            report.bad(format!(
                "{at}: {} was charged although before its account's horizon",
                decision.event
            ));
        }
        let clock = latest.map_or(decision.time.0, |l| l.max(decision.time.0));
        self.latest.insert(owner.to_string(), clock);
        let for_ever = rating::decision::held_for_ever(decision);
        self.held.insert(key, (!for_ever).then_some(clock));
        self.ids.insert(decision.event.to_string());
    }
}

impl Ledger {
    pub(super) fn grant(
        &mut self,
        report: &mut AuditReport,
        at: &str,
        msisdn: Msisdn,
        bucket: &rating::Bucket,
    ) {
        if bucket.remaining > bucket.total {
            report.bad(format!(
                "{at}: bucket {msisdn}/{} granted with {} of {}",
                bucket.id, bucket.remaining, bucket.total
            ));
        }
        let u = Units {
            total: bucket.total,
            remaining: bucket.remaining,
        };
        if self.buckets.insert((msisdn, bucket.id), u).is_some() {
            report.bad(format!("{at}: bucket {msisdn}/{} granted twice", bucket.id));
        }
    }

    /// Removes a bucket; the units it still held.
    pub(super) fn expire(
        &mut self,
        report: &mut AuditReport,
        at: &str,
        msisdn: Msisdn,
        bucket: u32,
    ) -> u64 {
        match self.buckets.remove(&(msisdn, bucket)) {
            None => {
                report.bad(format!(
                    "{at}: bucket {msisdn}/{bucket} expires but was never granted"
                ));
                0
            }
            Some(u) => u.remaining,
        }
    }
}
