//! What accounts take in memory, and the byte budget that bounds those held: the engine's
//! cache of accounts and a replay's rebuilt accounts let go of the same ones by the same rule.

use rating::AccountId;
use rustc_hash::FxHashSet;

/// What an account takes in memory, estimated from its record: its parts and remembered ids
/// unpacked, its entries in the state's indexes and in the budget's, and the allocator's share.
/// Measured by the resident set at ten million accounts (2026-12-06): budgets of 1 024 and
/// 2 560 MB held 718 000 and 1 913 000 accounts in 3.4 and 6.8 GB, some 2.8 KB an account,
/// twice what four bytes a record byte and 256 an account had estimated.
const MEMORY_PER_RECORD_BYTE: usize = 8;
const MEMORY_PER_ACCOUNT: usize = 512;
/// The record an account is taken to have while its size is not known (opened in memory, or
/// read whole from an older store): the median record at a million accounts is about 280 bytes.
pub(crate) const TYPICAL_RECORD: usize = 300;
/// An eviction leaves this share of the budget held, so that it runs once in many batches.
const AFTER_EVICTION: (usize, usize) = (3, 4);

/// What an account of a record of `record` bytes is estimated to take in memory.
pub fn memory_of_account(record: usize) -> usize {
    record * MEMORY_PER_RECORD_BYTE + MEMORY_PER_ACCOUNT
}

/// The bytes the accounts held may take, estimated by [`memory_of_account`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Budget {
    bytes: usize,
}

/// An account that may leave memory: the last batch (or chunk) that used it, and its bytes.
pub(crate) struct Candidate<'a> {
    pub last_use: u64,
    pub bytes: usize,
    pub id: &'a AccountId,
}

impl Budget {
    pub(crate) fn of_megabytes(megabytes: u64) -> Budget {
        let bytes = usize::try_from(megabytes.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        Budget { bytes }
    }

    /// The share `part / whole` of this budget.
    pub(crate) fn share(self, (part, whole): (usize, usize)) -> Budget {
        Budget {
            bytes: self.bytes / whole * part,
        }
    }

    /// What is left of this budget once `taken` bytes of it are used by something else.
    pub(crate) fn less(self, taken: usize) -> Budget {
        Budget {
            bytes: self.bytes.saturating_sub(taken),
        }
    }

    pub(crate) fn exceeded_by(self, held: usize) -> bool {
        held > self.bytes
    }

    /// Of `candidates`, those used longest ago that bring `held` bytes down to the share of the
    /// budget an eviction leaves; and the bytes then held.
    pub(crate) fn leaving(
        self,
        held: usize,
        mut candidates: Vec<Candidate<'_>>,
    ) -> (FxHashSet<AccountId>, usize) {
        candidates.sort_unstable_by(|a, b| (a.last_use, a.id).cmp(&(b.last_use, b.id)));
        let target = self.bytes / AFTER_EVICTION.1 * AFTER_EVICTION.0;
        let mut left = held;
        let mut leaving = FxHashSet::default();
        for candidate in candidates {
            if left <= target {
                break;
            }
            left -= candidate.bytes;
            leaving.insert(candidate.id.clone());
        }
        (leaving, left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_and_what_is_left_stay_within_the_budget() {
        for megabytes in [0, 1, 3, 2_048] {
            let whole = Budget::of_megabytes(megabytes);
            let half = whole.share((1, 2));
            assert!(2 * half.bytes <= whole.bytes, "{megabytes} MB");
            assert_eq!(whole.less(half.bytes).bytes + half.bytes, whole.bytes);
        }
        assert_eq!(Budget::of_megabytes(1).share((1, 4)).bytes, 262_144);
        assert_eq!(Budget::of_megabytes(1).less(usize::MAX).bytes, 0, "never below nothing");
    }

    #[test]
    fn an_eviction_leaves_those_used_last_within_three_quarters() {
        let ids: Vec<AccountId> = (0..10).map(|n| AccountId::from(format!("a{n}"))).collect();
        let candidates = ids
            .iter()
            .enumerate()
            .map(|(n, id)| Candidate {
                last_use: n as u64,
                bytes: 100,
                id,
            })
            .collect();
        let (leaving, left) = Budget { bytes: 800 }.leaving(1_000, candidates);
        assert_eq!(left, 600);
        let mut gone: Vec<&str> = leaving.iter().map(AccountId::as_str).collect();
        gone.sort_unstable();
        assert_eq!(gone, ["a0", "a1", "a2", "a3"]);
    }
}
