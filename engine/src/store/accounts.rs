//! Accounts read one by one from the store, and the two indexes that find them without a whole
//! state in memory: `holders` (the account that holds a number now) and `due` (each
//! partition's accounts by the time their periodic work may fall due, `rating::due_from`).
//!
//! The engine writes both with the batches that change them (`pipeline::cache`). A store made
//! before they existed, or whose catalog in force changed the inactivity rules that set the
//! due times, has them made here from the records once, at open.

use super::{Commit, Store, StoreError, CF_DUE, CF_HOLDERS, CF_REPORTS, CF_STATE};
use crate::keys::{due_key, due_place, due_time, holder_key};
use rating::recent::Recent;
use rating::{Account, AccountId, Catalog, Msisdn, Timestamp};
use rocksdb::IteratorMode;

/// Records read and indexed per write while an index is made.
const INDEXED_PER_WRITE: usize = 65_536;

impl Store {
    /// The accounts holding `numbers` now, one answer a number, in order.
    pub fn holders(&self, numbers: &[Msisdn]) -> Result<Vec<Option<AccountId>>, StoreError> {
        let keys: Vec<[u8; 8]> = numbers.iter().map(|&m| holder_key(m)).collect();
        let cf = self.cf(CF_HOLDERS);
        let sorted = keys.is_sorted();
        (self
            .db
            .batched_multi_get_cf_opt(cf, &keys, sorted, &Store::reading_in())
            .into_iter())
        .zip(numbers)
        .map(|(found, m)| {
            let Some(bytes) = found.map_err(|e| self.err(e))? else {
                return Ok(None);
            };
            let id = std::str::from_utf8(&bytes)
                .map_err(|_| StoreError::Corrupt(format!("holder of {m} is not UTF-8")))?;
            Ok(Some(AccountId::from(id)))
        })
        .collect()
    }

    /// How values the engine keeps in its own memory are read: their blocks are not kept in
    /// RocksDB's block cache too, where at ten million accounts a block was rarely read twice
    /// before it was pushed out.
    fn reading_in() -> rocksdb::ReadOptions {
        let mut options = rocksdb::ReadOptions::default();
        options.fill_cache(false);
        options
    }

    /// The records of accounts `ids` as stored (the account and the ids it remembers), one
    /// answer an id, in order.
    pub fn account_records(
        &self,
        ids: &[&str],
    ) -> Result<Vec<Option<(Account, Recent)>>, StoreError> {
        let cf = self.cf(CF_STATE);
        let sorted = ids.is_sorted();
        (self
            .db
            .batched_multi_get_cf_opt(cf, ids, sorted, &Store::reading_in())
            .into_iter())
        .zip(ids)
        .map(|(found, id)| {
            let Some(bytes) = found.map_err(|e| self.err(e))? else {
                return Ok(None);
            };
            let (account, recent) = super::state::record_of(id, &bytes)?;
            Ok(Some((account, recent.unwrap_or_default())))
        })
        .collect()
    }

    /// The accounts of the records of `ids` as stored, one answer an id, in order: a record
    /// that does not read is its own answer, the problem, so that a check names it and goes on.
    pub fn stored_accounts(
        &self,
        ids: &[&str],
    ) -> Result<Vec<Result<Option<Account>, String>>, StoreError> {
        let cf = self.cf(CF_STATE);
        (self.db.batched_multi_get_cf(cf, ids, false).into_iter())
            .zip(ids)
            .map(|(found, id)| {
                let Some(bytes) = found.map_err(|e| self.err(e))? else {
                    return Ok(Ok(None));
                };
                Ok(rating::record::decode_account(id, &bytes)
                    .map(|(account, _)| Some(account))
                    .map_err(|e| e.to_string()))
            })
            .collect()
    }

    /// How many account records each of `partitions` partitions holds (a record's key is its
    /// account's id). Reads the keys alone.
    pub fn records_by_partition(&self, partitions: u32) -> Result<Vec<usize>, StoreError> {
        let mut counts = vec![0; partitions as usize];
        let mut keys = self.db.raw_iterator_cf(self.cf(CF_STATE));
        keys.seek_to_first();
        while let Some(id) = keys.key() {
            counts[crate::partition::of_bytes(id, partitions) as usize] += 1;
            keys.next();
        }
        keys.status().map_err(|e| self.err(e))?;
        Ok(counts)
    }

    /// Whether `msisdn` had its free report of `month`.
    pub fn free_report_taken(
        &self,
        msisdn: Msisdn,
        month: rating::Month,
    ) -> Result<bool, StoreError> {
        let key = crate::keys::free_report_key(msisdn, month);
        let found = (self.db.get_pinned_cf(self.cf(CF_REPORTS), key)).map_err(|e| self.err(e))?;
        Ok(found.is_some())
    }

    /// Records who holds `msisdn` now (`None`: nobody).
    pub fn put_holder(&self, commit: &mut Commit, msisdn: Msisdn, holder: Option<&str>) {
        let key = holder_key(msisdn);
        match holder {
            Some(id) => commit.batch.put_cf(self.cf(CF_HOLDERS), key, id),
            None => commit.batch.delete_cf(self.cf(CF_HOLDERS), key),
        }
    }

    /// Indexes `account` of `partition` as due from `time` on.
    pub fn put_due(&self, commit: &mut Commit, partition: u32, time: Timestamp, account: &str) {
        if time < rating::time::NEVER {
            let key = due_key(partition, time, account);
            commit.batch.put_cf(self.cf(CF_DUE), key, []);
        }
    }

    pub fn delete_due(&self, commit: &mut Commit, partition: u32, time: Timestamp, account: &str) {
        let key = due_key(partition, time, account);
        commit.batch.delete_cf(self.cf(CF_DUE), key);
    }

    /// The accounts of `partition` indexed as due by `time`: (the time indexed, the account).
    /// An account may be listed at a time it no longer has (the index is cleared as it is
    /// read, not as accounts change): the engine asks each whether work is due.
    pub fn due_by(
        &self,
        partition: u32,
        time: Timestamp,
    ) -> Result<Vec<(Timestamp, AccountId)>, StoreError> {
        let mut from = partition.to_be_bytes().to_vec();
        from.extend_from_slice(&due_time(Timestamp(i64::MIN)));
        let mode = IteratorMode::From(&from, rocksdb::Direction::Forward);
        let mut found = Vec::new();
        for kv in self.db.iterator_cf(self.cf(CF_DUE), mode) {
            let (key, _) = kv.map_err(|e| self.err(e))?;
            let Some((at, account)) = due_place(partition, &key) else {
                break;
            };
            if at > time {
                break;
            }
            found.push((at, AccountId::from(account)));
        }
        Ok(found)
    }

    /// The sessions open in the records of accounts `held` says no, read record by record.
    pub fn sessions_not_of(
        &self,
        held: impl Fn(&str) -> bool,
    ) -> Result<Vec<rating::session::Session>, StoreError> {
        let mut open = Vec::new();
        for kv in self.db.iterator_cf(self.cf(CF_STATE), IteratorMode::Start) {
            let (id, bytes) = kv.map_err(|e| self.err(e))?;
            if std::str::from_utf8(&id).is_ok_and(&held) {
                continue;
            }
            let (account, _) = super::state::read_record(&id, &bytes)?;
            open.extend(account.sessions);
        }
        Ok(open)
    }

    /// Every number and the account holding it.
    pub fn all_holders(
        &self,
    ) -> impl Iterator<Item = Result<(Msisdn, AccountId), StoreError>> + '_ {
        let all = self
            .db
            .iterator_cf(self.cf(CF_HOLDERS), IteratorMode::Start);
        all.map(|kv| {
            let (key, id) = kv.map_err(|e| self.err(e))?;
            let number = <[u8; 8]>::try_from(&key[..])
                .map_err(|_| StoreError::Corrupt("holder key of wrong length".into()))?;
            let id = std::str::from_utf8(&id)
                .map_err(|_| StoreError::Corrupt("holder not UTF-8".into()))?;
            Ok((Msisdn(u64::from_be_bytes(number)), AccountId::from(id)))
        })
    }

    /// Makes the `holders` and `due` indexes from the records, if the store has none or its
    /// `due` index was made with another catalog than `cat` (whose inactivity rules set the
    /// times). Reads the records in one pass and writes as it goes: its memory does not grow
    /// with the accounts. Accounts the log after a checkpoint changed are indexed again by the
    /// batch that writes their records.
    pub fn index_accounts(&self, cat: &Catalog, partitions: u32) -> Result<(), StoreError> {
        let made = self.meta_u64(crate::keys::INDEXED_WITH)?;
        if made == Some(cat.tag()) {
            return Ok(());
        }
        let holders = made.is_none();
        let mut c = Commit::default();
        c.batch
            .delete_range_cf(self.cf(CF_DUE), &[][..], &[0xffu8; 13][..]);
        if holders {
            c.batch
                .delete_range_cf(self.cf(CF_HOLDERS), &[][..], &[0xffu8; 9][..]);
        }
        let mut accounts = 0u64;
        for kv in self.db.iterator_cf(self.cf(CF_STATE), IteratorMode::Start) {
            let (id, bytes) = kv.map_err(|e| self.err(e))?;
            let (account, _) = super::state::read_record(&id, &bytes)?;
            let partition = crate::partition::of_bytes(&id, partitions);
            self.put_due(
                &mut c,
                partition,
                rating::due_from(cat, &account),
                &account.id,
            );
            if holders && account.activity.released.is_none() {
                for n in &account.numbers {
                    self.put_holder(&mut c, n.msisdn, Some(&account.id));
                }
            }
            accounts += 1;
            if c.batch.len() >= INDEXED_PER_WRITE {
                self.commit(std::mem::take(&mut c), true)?;
            }
        }
        self.put_meta(&mut c, crate::keys::INDEXED_WITH, &cat.tag().to_le_bytes());
        self.commit(c, true)?;
        tracing::info!(
            accounts,
            holders,
            "accounts indexed by number and by work due"
        );
        Ok(())
    }
}
