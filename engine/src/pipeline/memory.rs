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
