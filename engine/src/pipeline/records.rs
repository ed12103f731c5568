//! The records of accounts that left memory, kept as the bytes the store holds for them, so that
//! an input that needs one again decodes it here instead of reading it from the store.
//!
//! Why: an account rating can use takes some 2.8 kB of memory, its record about 300 bytes. At
//! ten million accounts the budget that holds 7 % of them as accounts holds several times as
//! many as records, and a record decoded from memory costs no RocksDB read (a block found,
//! read from the page cache and decompressed).
//!
//! A record here is the store's record of its account, encoded from the account as it left
//! memory: an account leaves only when its record is current and written (`cache`), and nothing
//! but the engine's state writes a record while the account is away from it. So a record is
//! taken out when its account is read in again, and all are dropped when something else wrote
//! the store (a restore: `Held::clear`).

use super::memory::{Budget, Candidate};
use rating::AccountId;
use rustc_hash::FxHashMap;

/// What a record kept takes in memory beyond its bytes: its key, the box of its bytes and its
/// last use, the hash table's share of them, and the allocator's rounding.
const MEMORY_PER_RECORD: usize = 96;

/// The records kept, within a byte budget.
#[derive(Debug, Default)]
pub(super) struct Records {
    budget: Budget,
    /// The estimated bytes of the records kept.
    bytes: usize,
    kept: FxHashMap<AccountId, Kept>,
}

#[derive(Debug)]
struct Kept {
    record: Box<[u8]>,
    /// The batch its account left memory in.
    since: u64,
}

fn memory_of(record: &[u8]) -> usize {
    record.len() + MEMORY_PER_RECORD
}

impl Records {
    pub(super) fn with_budget(budget: Budget) -> Records {
        Records {
            budget,
            ..Records::default()
        }
    }

    /// Keeps the record of `account`, which left memory in batch `batch`.
    pub(super) fn keep(&mut self, account: AccountId, record: &[u8], batch: u64) {
        if self.budget.exceeded_by(memory_of(record)) {
            return;
        }
        let record: Box<[u8]> = record.into();
        self.bytes += memory_of(&record);
        let kept = Kept {
            record,
            since: batch,
        };
        if let Some(before) = self.kept.insert(account, kept) {
            self.bytes -= memory_of(&before.record);
        }
    }

    /// The record of `account`, no longer kept: its account is read in again.
    pub(super) fn take(&mut self, account: &str) -> Option<Box<[u8]>> {
        let kept = self.kept.remove(account)?;
        self.bytes -= memory_of(&kept.record);
        Some(kept.record)
    }

    /// Once the records kept exceed the budget, drops those of the accounts that left memory
    /// longest ago, down to part of it; returns how many went.
    pub(super) fn trim(&mut self) -> usize {
        if !self.budget.exceeded_by(self.bytes) {
            return 0;
        }
        let candidates = (self.kept.iter())
            .map(|(id, kept)| Candidate {
                last_use: kept.since,
                bytes: memory_of(&kept.record),
                id,
            })
            .collect();
        let (going, bytes) = self.budget.leaving(self.bytes, candidates);
        self.kept.retain(|id, _| !going.contains(id));
        self.bytes = bytes;
        going.len()
    }

    /// Drops every record: the store was written by something other than the engine's state.
    pub(super) fn clear(&mut self) {
        self.kept = FxHashMap::default();
        self.bytes = 0;
    }

    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(super) fn len(&self) -> usize {
        self.kept.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> AccountId {
        AccountId::from(format!("acc-{n}").as_str())
    }

    #[test]
    fn a_record_is_given_back_once_and_counted_out() {
        let mut records = Records::with_budget(Budget::of_megabytes(1));
        records.keep(id(1), b"record one", 1);
        records.keep(id(2), b"record two", 1);
        assert_eq!(records.len(), 2);
        assert_eq!(records.bytes(), 2 * (10 + MEMORY_PER_RECORD));
        assert_eq!(records.take("acc-1").as_deref(), Some(&b"record one"[..]));
        assert_eq!(records.take("acc-1"), None, "taken once");
        assert_eq!(records.bytes(), 10 + MEMORY_PER_RECORD);
        // Kept again later: the newer record replaces the older, counted once.
        records.keep(id(2), b"newer", 3);
        assert_eq!(records.bytes(), 5 + MEMORY_PER_RECORD);
        assert_eq!(records.take("acc-2").as_deref(), Some(&b"newer"[..]));
        assert_eq!(records.bytes(), 0);
    }

    #[test]
    fn over_the_budget_the_records_of_accounts_gone_longest_go_first() {
        let mut records = Records::with_budget(Budget::of_megabytes(1));
        let record = vec![7u8; 1_000];
        for n in 0..2_000u32 {
            records.keep(id(n), &record, u64::from(n));
        }
        assert!(records.bytes() > 1 << 20);
        let gone = records.trim();
        assert!(gone > 0);
        assert!(records.bytes() <= (1 << 20) / 4 * 3, "{}", records.bytes());
        assert_eq!(records.len(), 2_000 - gone);
        assert_eq!(records.take("acc-0"), None, "the oldest went");
        assert!(records.take("acc-1999").is_some(), "the latest stayed");
        assert_eq!(records.trim(), 0, "within the budget, nothing goes");
    }

    #[test]
    fn with_no_budget_nothing_is_kept() {
        let mut records = Records::with_budget(Budget::of_megabytes(0));
        records.keep(id(1), b"record", 1);
        assert_eq!(records.len(), 0);
        assert_eq!(records.take("acc-1"), None);
        records.keep(id(1), b"record", 1);
        records.clear();
        assert_eq!(records.bytes(), 0);
    }
}
