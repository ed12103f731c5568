//! What accounts take in memory, and the byte budget that bounds those held: the engine's
//! cache of accounts and a replay's rebuilt accounts let go of the same ones by the same rule.

use rating::event::Read;
use rating::{AccountId, Input, Msisdn, State};
use rustc_hash::FxHashMap;

/// An eviction leaves this share of the budget held, so that it runs once in many batches.
const AFTER_EVICTION: (usize, usize) = (3, 4);

/// What rating some inputs reads of a state (`Input::each_read`): the accounts held, by index,
/// and what is not held: accounts by id, and numbers whose holder must be found.
pub(crate) struct Reads {
    /// Sorted, each once.
    pub held: Vec<u32>,
    /// In the order read, possibly repeated.
    pub ids: Vec<AccountId>,
    /// Sorted, each once.
    pub numbers: Vec<Msisdn>,
}

/// What rating `inputs` reads of `state` ([`Reads`]).
pub(crate) fn reads_of<'a>(state: &State, inputs: impl Iterator<Item = &'a Input>) -> Reads {
    let (mut held, mut ids, mut numbers) = (Vec::new(), Vec::new(), Vec::new());
    for input in inputs {
        input.each_read(|read| match read {
            Read::Account(id) => match state.index_of(id) {
                Some(index) => held.push(index),
                None => ids.push(id.clone()),
            },
            Read::Number(msisdn) => match state.index_of_number(msisdn) {
                Some(index) => held.push(index),
                None => numbers.push(msisdn),
            },
        });
    }
    held.sort_unstable();
    held.dedup();
    numbers.sort_unstable();
    numbers.dedup();
    Reads { held, ids, numbers }
}

/// Every account `state` holds as a [`Candidate`] to leave, as its mark says, in index order.
pub(crate) fn candidates(state: &State) -> impl Iterator<Item = Candidate<'_>> {
    (state.accounts().zip(state.marks()).zip(0u32..)).map(|((account, mark), index)| Candidate {
        last_use: mark.last_use,
        bytes: mark.bytes,
        id: &account.id,
        index,
    })
}

/// Which of `len` accounts, by index, are among `indexes`.
pub(crate) fn among(len: usize, indexes: &[u32]) -> Vec<bool> {
    let mut among = vec![false; len];
    for &index in indexes {
        among[index as usize] = true;
    }
    among
}

/// The bytes the accounts held may take, each counted by its footprint in memory
/// ([`State::footprint`]).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Budget {
    bytes: usize,
}

/// An account that may leave memory: the last batch (or chunk) that used it, its bytes, its
/// id, and its index in the state.
pub(crate) struct Candidate<'a> {
    pub last_use: u64,
    pub bytes: usize,
    pub id: &'a AccountId,
    pub index: u32,
}

impl Budget {
    pub(crate) fn of_megabytes(megabytes: u64) -> Budget {
        let bytes = usize::try_from(megabytes.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        Budget { bytes }
    }

    pub(crate) fn exceeded_by(self, held: usize) -> bool {
        held > self.bytes
    }

    /// Of `candidates`, those used longest ago (the oldest last use first, then by id) that
    /// bring `held` bytes down to the share of the budget an eviction leaves, by index (in no
    /// order); and the bytes then held.
    pub(crate) fn leaving(self, held: usize, candidates: Vec<Candidate<'_>>) -> (Vec<u32>, usize) {
        let target = self.bytes / AFTER_EVICTION.1 * AFTER_EVICTION.0;
        // Whole batches of last use leave first, oldest first; only in the batch that crosses
        // the target are accounts ordered, by id. A sort of every account held, which this
        // replaces, took a twentieth of the rating thread at ten million accounts (perf,
        // 2026-12-07); the accounts that leave are the same.
        let mut by_use = FxHashMap::<u64, usize>::default();
        for candidate in &candidates {
            *by_use.entry(candidate.last_use).or_default() += candidate.bytes;
        }
        let mut uses: Vec<(u64, usize)> = by_use.into_iter().collect();
        uses.sort_unstable();
        let mut left = held;
        // Batches older than `whole_below` (all, if none) leave whole; `crossing`, if any,
        // leaves in part.
        let (mut whole_below, mut crossing) = (None, None);
        for (last_use, bytes) in uses {
            if left <= target {
                whole_below = Some(last_use);
                break;
            }
            if left.saturating_sub(bytes) <= target {
                (whole_below, crossing) = (Some(last_use), Some(last_use));
                break;
            }
            left -= bytes;
        }
        let mut leaving = Vec::new();
        let mut last: Vec<Candidate<'_>> = Vec::new();
        for candidate in candidates {
            if whole_below.is_none_or(|below| candidate.last_use < below) {
                leaving.push(candidate.index);
            } else if crossing == Some(candidate.last_use) {
                last.push(candidate);
            }
        }
        last.sort_unstable_by(|a, b| a.id.cmp(b.id));
        for candidate in last {
            if left <= target {
                break;
            }
            left -= candidate.bytes;
            leaving.push(candidate.index);
        }
        (leaving, left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The rule stated plainly: every candidate in order of last use, then id, until the
    /// target is reached.
    fn leaving_in_order(
        budget: Budget,
        held: usize,
        mut candidates: Vec<Candidate<'_>>,
    ) -> (Vec<u32>, usize) {
        candidates.sort_unstable_by(|a, b| (a.last_use, a.id).cmp(&(b.last_use, b.id)));
        let target = budget.bytes / AFTER_EVICTION.1 * AFTER_EVICTION.0;
        let mut left = held;
        let mut leaving = Vec::new();
        for candidate in candidates {
            if left <= target {
                break;
            }
            left -= candidate.bytes;
            leaving.push(candidate.index);
        }
        (leaving, left)
    }

    proptest! {
        #[test]
        fn the_same_accounts_leave_as_in_order_of_last_use_and_id(
            accounts in proptest::collection::vec((0u64..12, 1usize..50), 0..300),
            budget in 0usize..4_000,
            pinned in 0usize..2_000,
        ) {
            // Bytes in hundreds, so that the target is often reached exactly.
            let accounts: Vec<(u64, usize)> = accounts.iter().map(|&(u, b)| (u, b * 100)).collect();
            let (budget, pinned) = (budget * 400, pinned * 100);
            let ids: Vec<AccountId> =
                (0..accounts.len()).map(|i| AccountId::from(format!("{:03}", i * 7 % 1000))).collect();
            let candidates = || {
                (accounts.iter().zip(&ids).zip(0u32..))
                    .map(|((&(last_use, bytes), id), index)| Candidate { last_use, bytes, id, index })
                    .collect::<Vec<_>>()
            };
            // Bytes held by accounts that may not leave (in flight, or changed) come on top.
            let held = accounts.iter().map(|a| a.1).sum::<usize>() + pinned;
            let budget = Budget { bytes: budget };
            let sorted = |(mut leaving, left): (Vec<u32>, usize)| {
                leaving.sort_unstable();
                (leaving, left)
            };
            prop_assert_eq!(
                sorted(budget.leaving(held, candidates())),
                sorted(leaving_in_order(budget, held, candidates()))
            );
        }
    }
}
