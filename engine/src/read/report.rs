//! Views of state and store for people and comparisons: balances as JSON lines, the counters,
//! and a digest of the log.

use crate::store::{Counters, Store, StoreError};
use rating::{Account, Catalog};
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Serialize)]
pub struct BucketView {
    pub id: u32,
    pub package: String,
    pub origin: String,
    pub total: u64,
    pub remaining: u64,
    pub valid_from: String,
    pub valid_until: String,
}

#[derive(Serialize)]
pub struct NumberView {
    pub msisdn: String,
    pub plan: String,
    pub options: Vec<String>,
    /// active, suspended or lost.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub buckets: Vec<BucketView>,
}

#[derive(Serialize)]
pub struct AccountView {
    pub account: String,
    pub balance: String,
    pub credit_limit: String,
    /// The balance is below the credit limit: outgoing chargeable usage is flagged.
    pub over_credit_limit: bool,
    /// Loyalty points held.
    pub loyalty_points: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autopay: Option<AutopayView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low_balance: Option<String>,
    /// Blocked under the inactivity rules since, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_for_inactivity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released: Option<String>,
    /// Online sessions open, and the money their grants hold (not moved from the balance; not
    /// available to spend until they end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online: Option<OnlineView>,
    pub numbers: Vec<NumberView>,
}

#[derive(Serialize)]
pub struct OnlineView {
    pub sessions_open: usize,
    pub held: String,
}

#[derive(Serialize)]
pub struct AutopayView {
    pub threshold: String,
    pub amount: String,
}

pub fn account_view(cat: &Catalog, account: &Account) -> AccountView {
    use projections::view::{offer_name, origin, package_name};
    AccountView {
        account: account.id.to_string(),
        balance: account.balance.to_string(),
        credit_limit: account.credit_limit.to_string(),
        over_credit_limit: account.over_limit(),
        loyalty_points: account.loyalty.points,
        autopay: account.autopay.map(|p| AutopayView {
            threshold: p.threshold.to_string(),
            amount: p.amount.to_string(),
        }),
        low_balance: account.low_balance.map(|x| x.to_string()),
        blocked_for_inactivity: account.activity.blocked.map(|t| t.to_string()),
        released: account.activity.released.map(|t| t.to_string()),
        online: (!account.sessions.is_empty()).then(|| OnlineView {
            sessions_open: account.sessions.len(),
            held: (account.sessions.iter().map(|s| s.hold.money))
                .sum::<rust_decimal::Decimal>()
                .to_string(),
        }),
        numbers: account
            .numbers
            .iter()
            .map(|n| NumberView {
                msisdn: n.msisdn.to_string(),
                plan: offer_name(&cat.plans, n.plan as usize),
                options: n
                    .options
                    .iter()
                    .map(|&o| offer_name(&cat.addons, o as usize))
                    .collect(),
                status: n.status_name(),
                group: n.group.as_ref().map(std::string::ToString::to_string),
                buckets: n
                    .buckets
                    .iter()
                    .map(|b| BucketView {
                        id: b.id,
                        package: package_name(cat, b.package),
                        origin: origin(cat, b.origin),
                        total: b.total,
                        remaining: b.remaining,
                        valid_from: b.valid_from.to_string(),
                        valid_until: b.valid_until.to_string(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

#[derive(Serialize)]
pub struct Stats {
    pub counters: Counters,
    pub log_entries: u64,
    pub log_sha256: String,
    /// Rows of the read models, and a digest of them in key order (equal stores, equal digests).
    pub model_rows: u64,
    pub models_sha256: String,
    pub accounts: u64,
    /// read = rated + rejected + duplicates + dead.
    pub balanced: bool,
    /// Rejections by reason code (`rating::Rejection::code`), counted in the log.
    pub rejections: std::collections::BTreeMap<&'static str, u64>,
}

pub fn stats(store: &Store) -> Result<Stats, StoreError> {
    let counters = store.counters()?;
    let mut h = Sha256::new();
    let mut n = 0;
    let mut rejections = std::collections::BTreeMap::new();
    for kv in store.log_raw() {
        let (k, v) = kv?;
        h.update((k.len() as u32).to_le_bytes());
        h.update(&k);
        h.update((v.len() as u32).to_le_bytes());
        h.update(&v);
        n += 1;
        if let Some(code) = rejection(&v)? {
            *rejections.entry(code).or_insert(0) += 1;
        }
    }
    let mut m = Sha256::new();
    let rows =
        projections::models::dump(store.db()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    for (family, k, v) in &rows {
        m.update(family.as_bytes());
        m.update((k.len() as u32).to_le_bytes());
        m.update(k);
        m.update((v.len() as u32).to_le_bytes());
        m.update(v);
    }
    let accounts = store.accounts().count() as u64;
    let c = counters;
    Ok(Stats {
        counters,
        log_entries: n,
        log_sha256: h.finalize().iter().map(|b| format!("{b:02x}")).collect(),
        model_rows: rows.len() as u64,
        models_sha256: m.finalize().iter().map(|b| format!("{b:02x}")).collect(),
        accounts,
        balanced: c.read == c.rated + c.rejected + c.duplicates + c.dead,
        rejections,
    })
}

/// The reason code of a logged rejection; `None` for any other entry.
fn rejection(entry: &[u8]) -> Result<Option<&'static str>, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(format!("log: {e}"));
    let crate::entry::Entry::Rated { decision, .. } =
        crate::entry::Entry::decode(entry).map_err(|e| corrupt(e.to_string()))?
    else {
        return Ok(None);
    };
    let d = rating::codec::decode_decision(&decision).map_err(|e| corrupt(e.to_string()))?;
    Ok(match d.outcome {
        rating::Outcome::Rejected(r) => Some(r.code()),
        _ => None,
    })
}

/// What happened in a log, counted for people (`ratel demo`'s summary): the money the catalog's
/// fees took, by kind, and the account lifecycle's events.
#[derive(Debug, Default)]
pub struct Happenings {
    /// Fees by kind (connection, daily, monthly, plan change, suspension, inactivity, …).
    pub fees: std::collections::BTreeMap<&'static str, rust_decimal::Decimal>,
    pub promises_granted: u64,
    /// Payments that repaid (part of) a promised payment.
    pub promise_repayments: u64,
    pub promises_written_off: u64,
    pub plan_changes: u64,
    pub suspended: u64,
    pub lost: u64,
    pub resumed: u64,
    pub blocked: u64,
    pub unblocked: u64,
    pub low_balance_alerts: u64,
    pub autopay_requests: u64,
    pub usage_while_barred: u64,
    pub blocked_for_inactivity: u64,
    pub released: u64,
    pub transfers_sent: u64,
    pub transfers_received: u64,
    pub transfers_refunded: u64,
    pub loyalty_points: u64,
    /// Usage items over their number's monthly spending limit, and limits crossed.
    pub over_spending_limit: u64,
    pub spending_limits_reached: u64,
}

impl Happenings {
    fn fee(&mut self, charge: &rating::FeeCharge) {
        use rating::{FeeKind, FeeSource};
        let kind = match (charge.source, charge.kind) {
            (FeeSource::Suspension, _) => "suspension",
            (FeeSource::LostSim, _) => "lost_sim",
            (FeeSource::Inactivity, _) => "inactivity",
            (_, FeeKind::Connection) => "connection",
            (_, FeeKind::Daily) => "daily",
            (_, FeeKind::Monthly) => "monthly",
            (_, FeeKind::Switch) => "plan_change",
        };
        *self.fees.entry(kind).or_default() += charge.amount;
    }

    /// Counts one decision.
    pub fn add(&mut self, decision: &rating::Decision) {
        use rating::decision::Alert;
        use rating::state::NumberStatus;
        use rating::Outcome;
        for r in &decision.renewals {
            r.fees.iter().for_each(|f| self.fee(f));
        }
        if decision.written_off.is_some() {
            self.promises_written_off += 1;
        }
        if let Some(l) = &decision.loyalty {
            self.loyalty_points += l.points;
        }
        if let Some(w) = &decision.inactivity {
            w.fees.iter().for_each(|f| self.fee(f));
            self.blocked_for_inactivity += u64::from(w.blocked.is_some());
            self.released += u64::from(w.released.is_some());
        }
        match &decision.outcome {
            Outcome::Opened { fees, .. }
            | Outcome::NumberAdded { fees, .. }
            | Outcome::OptionActivated { fees, .. } => fees.iter().for_each(|f| self.fee(f)),
            Outcome::PlanChanged { fees, .. } => {
                self.plan_changes += 1;
                fees.iter().for_each(|f| self.fee(f));
            }
            Outcome::StatusChanged { status, fees, .. } => {
                match status {
                    NumberStatus::Active => self.resumed += 1,
                    NumberStatus::Suspended { .. } => self.suspended += 1,
                    NumberStatus::Lost { .. } => self.lost += 1,
                }
                fees.iter().for_each(|f| self.fee(f));
            }
            Outcome::PromiseGranted { .. } => self.promises_granted += 1,
            Outcome::TransferSent { fee, .. } => {
                self.transfers_sent += 1;
                *self.fees.entry("transfer").or_default() += *fee;
            }
            Outcome::TransferReceived { .. } => self.transfers_received += 1,
            Outcome::TransferRefunded { .. } => self.transfers_refunded += 1,
            Outcome::Paid { repaid, .. } if !repaid.is_zero() => self.promise_repayments += 1,
            _ => {}
        }
        for a in &decision.alerts {
            match a {
                Alert::Blocked { .. } => self.blocked += 1,
                Alert::Unblocked { .. } => self.unblocked += 1,
                Alert::LowBalance { .. } => self.low_balance_alerts += 1,
                Alert::Autopay { .. } => self.autopay_requests += 1,
                Alert::UsageWhileBarred { .. } => self.usage_while_barred += 1,
                Alert::OverSpendingLimit { first, .. } => {
                    self.over_spending_limit += 1;
                    self.spending_limits_reached += u64::from(*first);
                }
            }
        }
    }
}

/// Counts what happened in every partition's log.
pub fn happenings(store: &Store, partitions: u32) -> Result<Happenings, StoreError> {
    let mut h = Happenings::default();
    for p in 0..partitions {
        for item in store.log_from(p, 0) {
            if let (_, crate::entry::Entry::Rated { decision, .. }) = item? {
                let d = rating::codec::decode_decision(&decision)
                    .map_err(|e| StoreError::Corrupt(format!("partition {p}: {e}")))?;
                h.add(&d);
            }
        }
    }
    Ok(h)
}
