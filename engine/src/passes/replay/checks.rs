//! The stored account records against the replayed accounts, each partition's at the point of
//! its log where they were written (its checkpoint): an account lives in one partition and only
//! that partition's entries change it, so once replay has applied the entries before a
//! partition's checkpoint, that partition's accounts must equal their records. After the
//! checkpoint the stored state is the records with the tail's recorded decisions applied, and
//! replay compares each of those decisions byte for byte. One pass over the log checks both.
//!
//! Neither side is held whole: the records are counted by partition in one pass over them, and
//! each replayed account is compared with its record, read by id, in groups.

use super::rebuilt::Rebuilt;
use super::report::{ReplayReport, MAX_REPORTED};
use crate::store::{Store, StoreError};
use rating::Account;

/// Records read from the store at a time to compare.
const GROUP: usize = 4_096;

pub(super) struct Checks {
    checkpoints: Vec<u64>,
    /// Each partition's records in the store.
    stored: Vec<usize>,
    /// Accounts each partition's log opened before its checkpoint: as many as it has records.
    opened: Vec<usize>,
    /// The partitions before this one have been checked.
    next: u32,
}

impl Checks {
    pub(super) fn new(store: &Store, partitions: u32) -> Result<Checks, StoreError> {
        Ok(Checks {
            checkpoints: store.checkpoints(partitions)?,
            stored: store.records_by_partition(partitions)?,
            opened: vec![0; partitions as usize],
            next: 0,
        })
    }

    /// Replay is about to apply entry `seq` of `partition`: every partition whose
    /// checkpoint that passes is compared.
    pub(super) fn reach(
        &mut self,
        (partition, seq): (u32, u64),
        (store, rebuilt): (&Store, &Rebuilt),
        report: &mut ReplayReport,
    ) -> Result<(), StoreError> {
        let Some(&at) = self.checkpoints.get(partition as usize) else {
            return Err(StoreError::Corrupt(format!(
                "log entry {partition}/{seq} in a store of {} partitions",
                self.checkpoints.len()
            )));
        };
        while self.next < partition || (self.next == partition && seq >= at) {
            self.check(self.next, (store, rebuilt), report)?;
        }
        Ok(())
    }

    /// A replayed decision of `partition` (one [`Checks::reach`] accepted) at `seq` opened an
    /// account.
    pub(super) fn opened(&mut self, partition: u32, seq: u64) {
        if seq < self.checkpoints[partition as usize] {
            self.opened[partition as usize] += 1;
        }
    }

    /// Checks the partitions not checked yet, the log replayed whole.
    pub(super) fn finish(
        &mut self,
        (store, rebuilt): (&Store, &Rebuilt),
        report: &mut ReplayReport,
    ) -> Result<(), StoreError> {
        while (self.next as usize) < self.checkpoints.len() {
            self.check(self.next, (store, rebuilt), report)?;
        }
        Ok(())
    }

    fn check(
        &mut self,
        part: u32,
        (store, rebuilt): (&Store, &Rebuilt),
        report: &mut ReplayReport,
    ) -> Result<(), StoreError> {
        assert_eq!(self.next, part, "partitions are checked in order");
        self.next += 1;
        let mut differ = Vec::new();
        if rebuilt.partition() == Some(part) {
            let mut group: Vec<Account> = Vec::with_capacity(GROUP);
            let held = rebuilt.state.accounts().cloned().map(Ok);
            for account in held.chain(rebuilt.put_away_accounts(part)) {
                group.push(account?);
                if group.len() == GROUP {
                    compare(store, &group, &mut differ)?;
                    group.clear();
                }
            }
            compare(store, &group, &mut differ)?;
        }
        differ.sort_unstable();
        let room = MAX_REPORTED.saturating_sub(report.state_differences.len());
        report
            .state_differences
            .extend(differ.into_iter().take(room));
        let (stored, opened) = (self.stored[part as usize], self.opened[part as usize]);
        if stored != opened {
            report.state_differences.push(format!(
                "partition {part}: {stored} accounts stored, {opened} opened before its checkpoint"
            ));
        }
        Ok(())
    }
}

/// Names each of `accounts` whose stored record is not the same account, or is missing, or
/// does not read.
fn compare(
    store: &Store,
    accounts: &[Account],
    differ: &mut Vec<String>,
) -> Result<(), StoreError> {
    let ids: Vec<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
    for (account, stored) in accounts.iter().zip(store.stored_accounts(&ids)?) {
        match stored {
            Ok(Some(stored)) if stored == *account => {}
            Ok(_) => differ.push(account.id.to_string()),
            Err(problem) => differ.push(format!("{}: {problem}", account.id)),
        }
    }
    Ok(())
}
