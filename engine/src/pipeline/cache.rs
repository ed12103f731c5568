//! The accounts held in memory. The store holds every account, with an index of who holds each
//! number and one of when each account's periodic work falls due (`store::accounts`). The
//! engine's state holds the accounts its batches read, brought in before a batch is rated,
//! and keeps others up to a byte budget (`--state-cache-mb`).
//!
//! An account leaves memory only when its record in the store is current and written: not
//! changed since its partition's checkpoint, and not read or changed by a batch in flight
//! (rated, not yet written: at most [`MOST_IN_FLIGHT`] before the batch being rated).

use super::memory::{among, candidates, reads_of, Budget, Reads};
use crate::changed::Changed;
use crate::store::{Commit, Store, StoreError};
use rating::{AccountId, Catalog, Input, State, Timestamp};

/// `--state-cache-mb` unless configured: with the process's other memory (RocksDB's memtables
/// and caches), about 3.1 GB of resident set at ten million accounts (2026-12-08, the scale
/// harness: 1.28 M accounts held).
pub const DEFAULT_CACHE_MB: u64 = 2048;
/// The most batches any runner has rated and not yet written while it rates the next (a file
/// run one, a Kafka run `kafka::stream::IN_FLIGHT`): an account they read or changed stays.
pub const MOST_IN_FLIGHT: u64 = 2;

/// What the engine knows of the accounts it holds, beside each account's [`Mark`](rating::state::Mark) in the state
/// (the last batch that read it in or changed it, its footprint in memory, the time its entry in the
/// `due` index has). An account whose mark has no bytes is not noted yet (opened in memory and
/// not written): it does not leave.
#[derive(Debug, Default)]
pub(super) struct Held {
    budget: Budget,
    /// The footprints of the accounts held, as they were when last noted.
    bytes: usize,
    /// The batch being rated, counted from the engine's open.
    batch: u64,
    /// What the batches read since the open: accounts found held, and read in from the store.
    pub(super) counts: CacheCounts,
}

/// The accounts batches read: each batch counts an account once, as held already (a hit) or
/// read in from the store (a miss).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheCounts {
    pub hits: u64,
    pub reads: u64,
}

impl Held {
    pub(super) fn with_budget(megabytes: u64) -> Held {
        Held {
            budget: Budget::of_megabytes(megabytes),
            ..Held::default()
        }
    }

    pub(super) fn next_batch(&mut self) {
        self.batch += 1;
    }

    /// Forgets what it knew: the state was read again.
    pub(super) fn clear(&mut self) {
        self.bytes = 0;
    }

    /// Notes the account at `index` held, as it is now in memory, indexed as due at `due`.
    fn note(&mut self, state: &mut State, index: u32, due: Option<Timestamp>) {
        let bytes = state.footprint(index);
        let mark = state.mark_mut(index);
        self.bytes = self.bytes - mark.bytes + bytes;
        mark.bytes = bytes;
        mark.last_use = self.batch;
        if due.is_some() {
            mark.due = due;
        }
    }

    /// Notes that the batch being rated reads the account at `index`: it stays while the batch
    /// is answered.
    fn touch(&self, state: &mut State, index: u32) {
        let mark = state.mark_mut(index);
        if mark.bytes > 0 {
            mark.last_use = self.batch;
        }
    }

    /// Notes that `account`'s entry in the `due` index went: its next record writes one.
    pub(super) fn forget_due(state: &mut State, account: &str) {
        if let Some(index) = state.index_of(account) {
            state.mark_mut(index).due = None;
        }
    }

    /// The footprints of the accounts held.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }
}

/// What a batch's bookkeeping of the accounts held needs beside [`Held`].
pub(super) struct Parts<'a> {
    pub state: &'a mut State,
    pub store: &'a Store,
    pub cat: &'a Catalog,
    pub partitions: u32,
}

impl Held {
    /// Reads into memory every account that rating `inputs` may read (`Input::each_read`, and
    /// the holders of the numbers they name), and the free reports they ask about.
    pub(super) fn hold_for<'a>(
        &mut self,
        parts: &mut Parts<'_>,
        inputs: impl Iterator<Item = &'a Input> + Clone,
    ) -> Result<(), StoreError> {
        let Reads {
            held,
            mut ids,
            numbers,
        } = reads_of(parts.state, inputs.clone());
        self.counts.hits += held.len() as u64;
        metrics::counter!(crate::operations::metrics::ACCOUNT_HITS).increment(held.len() as u64);
        for index in held {
            self.touch(parts.state, index);
        }
        if !numbers.is_empty() {
            let holders = parts.store.holders(&numbers)?.into_iter().flatten();
            ids.extend(holders.filter(|h| parts.state.index_of(h).is_none()));
        }
        ids.sort_unstable();
        ids.dedup();
        self.read_in(parts, &ids)?;
        for input in inputs {
            let Input::OrderDetalization(order) = input else {
                continue;
            };
            if let Some(month) = order.month {
                if !parts.state.free_report_used(order.msisdn, month)
                    && parts.store.free_report_taken(order.msisdn, month)?
                {
                    parts.state.restore_free_report(order.msisdn, month);
                }
            }
        }
        Ok(())
    }

    /// Reads the records of accounts `ids`, none of them held, into the state.
    fn read_in(&mut self, parts: &mut Parts<'_>, ids: &[AccountId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = ids.iter().map(AccountId::as_str).collect();
        for (account, recent) in parts.store.account_records(&names)?.into_iter().flatten() {
            let due = rating::due_from(parts.cat, &account);
            let id = account.id.clone();
            assert!(
                parts.state.index_of(&id).is_none(),
                "an account held is never read in again: memory is newer than the store"
            );
            parts.state.restore(account);
            parts.state.restore_recent(&id, recent);
            let index = parts
                .state
                .index_of(&id)
                .expect("an account restored is held");
            self.note(parts.state, index, Some(due));
            self.counts.reads += 1;
            metrics::counter!(crate::operations::metrics::ACCOUNTS_READ).increment(1);
        }
        Ok(())
    }

    /// Writes the record of each changed account of a partition this instance owns, and its
    /// `due` entry if its time moved, into the batch. A changed account of a partition another
    /// instance owns now is not written: that partition is the other's to write, and this
    /// store's copy of it stays as its log says until it is restored over.
    pub(super) fn write_records(
        &mut self,
        parts: &mut Parts<'_>,
        commit: &mut Commit,
        dirty: &mut Changed,
        buf: &mut Vec<u8>,
        owned: impl Fn(u32) -> bool,
    ) {
        for i in dirty.drain() {
            let (account, recent) = parts.state.by_index(i).expect("a changed account exists");
            let p = crate::partition::of_bytes(account.id.as_bytes(), parts.partitions);
            if !owned(p) {
                continue;
            }
            let mut writes = commit.writes_of(p);
            parts.store.put_account(&mut writes, account, recent, buf);
            let due = rating::due_from(parts.cat, account);
            if parts.state.marks()[i as usize].due != Some(due) {
                parts.store.put_due(&mut writes, p, due, &account.id);
            }
            self.note(parts.state, i, Some(due));
        }
    }

    /// Writes who holds each number whose holder changed in the batch, in the partition of the
    /// account that changed it.
    pub(super) fn write_holders(parts: &mut Parts<'_>, commit: &mut Commit) {
        for change in parts.state.take_renumbered() {
            let p = crate::partition::of_bytes(change.by.as_bytes(), parts.partitions);
            let holder = change.holder.as_deref();
            (parts.store).put_holder(&mut commit.writes_of(p), change.msisdn, holder);
            // Taken: the holder's partition holds it; given up: the partition of the account
            // that gave it up no longer does.
            let (partition, held) = match holder {
                Some(holder) => (
                    crate::partition::of_bytes(holder.as_bytes(), parts.partitions),
                    true,
                ),
                None => (p, false),
            };
            let msisdn = change.msisdn;
            (commit.numbers).push(crate::store::NumberHeld {
                msisdn,
                partition,
                held,
            });
        }
    }

    /// Notes every account `state` holds (read whole from an older store, or a tail), so that
    /// the budget sees them and they may leave.
    pub(super) fn note_all(&mut self, state: &mut State) {
        for index in 0..state.len() as u32 {
            self.note(state, index, None);
        }
    }

    /// Drops the accounts used longest ago, once the held ones exceed the budget, down to
    /// part of it; never one whose record the store does not have yet (`dirty`, or read or
    /// changed by a batch in flight or this one). Returns how many left.
    pub(super) fn evict(&mut self, state: &mut State, dirty: &mut Changed) -> usize {
        if !self.budget.exceeded_by(self.bytes) {
            return 0;
        }
        let in_flight = self.batch.saturating_sub(MOST_IN_FLIGHT);
        let candidates = candidates(state)
            .filter(|c| c.bytes > 0 && c.last_use < in_flight && !dirty.contains(c.index))
            .collect();
        let (gone, bytes) = self.budget.leaving(self.bytes, candidates);
        self.bytes = bytes;
        let changed: Vec<AccountId> = (dirty.drain().into_iter())
            .map(|i| state.by_index(i).expect("a changed account").0.id.clone())
            .collect();
        let leaving = among(state.len(), &gone);
        state.retain_accounts(|index, _, _| !leaving[index as usize]);
        *dirty = Changed::of_ids(state, &changed);
        gone.len()
    }
}
