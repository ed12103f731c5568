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
    pub buckets: Vec<BucketView>,
}

#[derive(Serialize)]
pub struct AccountView {
    pub account: String,
    pub balance: String,
    pub credit_limit: String,
    pub numbers: Vec<NumberView>,
}

pub fn account_view(cat: &Catalog, a: &Account) -> AccountView {
    use projections::view::{offer_name, origin, package_name};
    AccountView {
        account: a.id.to_string(),
        balance: a.balance.to_string(),
        credit_limit: a.credit_limit.to_string(),
        numbers: a
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
}

pub fn stats(store: &Store) -> Result<Stats, StoreError> {
    let counters = store.counters()?;
    let mut h = Sha256::new();
    let mut n = 0;
    for kv in store.log_raw() {
        let (k, v) = kv?;
        h.update((k.len() as u32).to_le_bytes());
        h.update(&k);
        h.update((v.len() as u32).to_le_bytes());
        h.update(&v);
        n += 1;
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
    })
}
