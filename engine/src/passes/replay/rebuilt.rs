//! The accounts a replay rebuilds: those of the partition being replayed that its latest log
//! entries read, in memory up to a byte budget; the rest in a scratch RocksDB on disk, from
//! which an entry that reads them brings them back. Replay's memory is so bounded by the budget,
//! not by the accounts.
//!
//! An account is in one place at a time that counts: the memory when it is held there, else its
//! latest record in the scratch store, written when it left memory and unchanged since (only an
//! entry that reads it changes it, and such an entry finds it in memory). A number's holder is
//! found the same way: the account in memory that holds it, else the scratch store's note of who
//! held it when that account left memory, confirmed by the account's record once brought back
//! (its holder may have given it up since, in memory).

use crate::pipeline::{among, candidates, reads_of, Budget, Reads};
use crate::store::StoreError;
use rating::{Account, AccountId, Input, Msisdn, State};

/// The scratch store's memtable: the writes of evictions between two flushes.
const SCRATCH_MEMTABLE: usize = 32 << 20;

pub(super) struct Rebuilt {
    /// The accounts of [`Rebuilt::partition`] held in memory.
    pub state: State,
    /// The partition being replayed, once one is.
    partition: Option<u32>,
    window: i64,
    scratch: Scratch,
    budget: Budget,
    /// The chunk of entries being replayed, counted from the start.
    chunk: u64,
    /// The footprints of the accounts held whose marks (`rating::state::Mark`) say the last
    /// chunk that read them and their footprint, as they were when noted; the others were
    /// opened in memory by the chunk being replayed.
    bytes: usize,
    /// The accounts held from this index on may not be noted yet: opened since the last
    /// chunk.
    unnoted_from: u32,
    /// Accounts of the partition in the scratch store and not in memory.
    away: usize,
    /// Accounts rebuilt in the partitions done.
    done: usize,
    /// The most accounts held in memory at once.
    pub held_at_most: usize,
    /// Accounts brought back from the scratch store.
    pub read_back: u64,
    buf: Vec<u8>,
}

impl Rebuilt {
    /// No account yet, up to `megabytes` of them in memory, the others in a scratch store made
    /// in `scratch` (the system's temporary folder if `None`) and removed when dropped.
    pub(super) fn new(
        window: i64,
        megabytes: u64,
        scratch: Option<&std::path::Path>,
    ) -> Result<Rebuilt, StoreError> {
        Ok(Rebuilt {
            state: State::with_window(window),
            partition: None,
            window,
            scratch: Scratch::new(scratch)?,
            budget: Budget::of_megabytes(megabytes),
            chunk: 0,
            bytes: 0,
            unnoted_from: 0,
            away: 0,
            done: 0,
            held_at_most: 0,
            read_back: 0,
            buf: Vec::new(),
        })
    }

    /// The partition whose accounts are rebuilt now, if any.
    pub(super) fn partition(&self) -> Option<u32> {
        self.partition
    }

    /// Replays `partition` from here on: the accounts of the one before go to the scratch store
    /// whole, and the state starts empty (a partition's entries read its own accounts only).
    pub(super) fn enter(&mut self, partition: u32) -> Result<(), StoreError> {
        self.put_away(|_, _, _| false)?;
        self.done += self.away;
        self.away = 0;
        // A footprint is never 0: no bytes left, no account noted left.
        assert_eq!(self.bytes, 0, "every account noted was put away");
        self.state = State::with_window(self.window);
        self.unnoted_from = 0;
        self.partition = Some(partition);
        Ok(())
    }

    /// Every account rebuilt so far.
    pub(super) fn accounts(&self) -> usize {
        self.done + self.away + self.state.len()
    }

    /// Puts the last partition's accounts in the scratch store with the others, for
    /// [`Rebuilt::account`] to find.
    pub(super) fn finish(&mut self) -> Result<(), StoreError> {
        self.put_away(|_, _, _| false)?;
        self.done += self.away;
        self.away = 0;
        Ok(())
    }

    /// Brings into memory every account of the partition that replaying `inputs` may read
    /// (`Input::each_read`, and the holders of the numbers they name).
    pub(super) fn hold_for<'a>(
        &mut self,
        inputs: impl Iterator<Item = &'a Input>,
    ) -> Result<(), StoreError> {
        let partition = self
            .partition
            .expect("a partition is entered before its entries");
        self.chunk += 1;
        let chunk = self.chunk;
        let Reads {
            held,
            mut ids,
            numbers,
        } = reads_of(&self.state, inputs);
        for index in held {
            self.state.mark_mut(index).last_use = chunk;
        }
        ids.extend(self.scratch.holders(partition, &numbers)?);
        ids.sort_unstable();
        ids.dedup();
        ids.retain(|id| match self.state.index_of(id) {
            Some(index) => {
                self.state.mark_mut(index).last_use = chunk;
                false
            }
            None => true,
        });
        for (account, recent) in self.scratch.accounts(partition, &ids)? {
            let id = account.id.clone();
            self.state.restore(account);
            self.state.restore_recent(&id, recent);
            let index = self
                .state
                .index_of(&id)
                .expect("an account restored is held");
            let bytes = self.state.footprint(index);
            *self.state.mark_mut(index) = rating::state::Mark {
                last_use: chunk,
                bytes,
                due: None,
            };
            self.bytes += bytes;
            self.away -= 1;
            self.read_back += 1;
        }
        Ok(())
    }

    /// After a chunk is replayed: once the accounts held exceed the budget, those read longest
    /// ago go to the scratch store, down to part of the budget.
    pub(super) fn evict(&mut self) -> Result<(), StoreError> {
        // What a replay makes of the numbers that change hands is found again in the accounts.
        drop(self.state.take_renumbered());
        self.held_at_most = self.held_at_most.max(self.state.len());
        self.note_opened();
        if !self.budget.exceeded_by(self.bytes) {
            return Ok(());
        }
        let candidates = candidates(&self.state).collect();
        let (leaving, _) = self.budget.leaving(self.bytes, candidates);
        let leaving = among(self.state.len(), &leaving);
        self.put_away(|index, _, _| !leaving[index as usize])
    }

    /// Notes the accounts opened in memory since the last call, as read by this chunk (the one
    /// that opened them, or a later one). They are at the end of the state: every account
    /// before [`Rebuilt::unnoted_from`] is noted, and accounts read back are noted as they come.
    fn note_opened(&mut self) {
        for index in self.unnoted_from..self.state.len() as u32 {
            if self.state.marks()[index as usize].bytes == 0 {
                let bytes = self.state.footprint(index);
                *self.state.mark_mut(index) = rating::state::Mark {
                    last_use: self.chunk,
                    bytes,
                    due: None,
                };
                self.bytes += bytes;
            }
        }
        self.unnoted_from = self.state.len() as u32;
    }

    /// Writes every account held but those `keep` says to the scratch store, with the numbers
    /// each holds, and drops them from memory.
    fn put_away(
        &mut self,
        mut keep: impl FnMut(u32, &Account, rating::state::Mark) -> bool,
    ) -> Result<(), StoreError> {
        let Some(partition) = self.partition else {
            return Ok(());
        };
        drop(self.state.take_renumbered());
        let mut batch = rocksdb::WriteBatch::default();
        let mut leaving = 0;
        let held = (self.state.accounts().zip(self.state.marks()).zip(0u32..))
            .filter(|((a, &mark), index)| !keep(*index, a, mark));
        for ((a, mark), _) in held {
            let recent = self.state.recent(&a.id).expect("an account's ids");
            rating::record::encode_account(a, recent, &mut self.buf);
            batch.put(account_key(partition, &a.id), &self.buf);
            for n in a.numbers.iter().filter(|_| a.activity.released.is_none()) {
                batch.put(holder_key(partition, n.msisdn), a.id.as_bytes());
            }
            self.bytes -= mark.bytes;
            leaving += 1;
        }
        if leaving == 0 {
            return Ok(());
        }
        self.scratch.write(batch)?;
        // Free reports are few (one a number and month asked for): they all stay.
        let reports: Vec<_> = self.state.free_reports().collect();
        self.state.retain_accounts(keep);
        self.unnoted_from = self.state.len() as u32;
        for (msisdn, month) in reports {
            self.state.restore_free_report(msisdn, month);
        }
        self.away += leaving;
        Ok(())
    }

    /// The accounts of `partition` in the scratch store that are not in memory, ordered by id.
    pub(super) fn put_away_accounts(
        &self,
        partition: u32,
    ) -> impl Iterator<Item = Result<Account, StoreError>> + '_ {
        let held = self.partition == Some(partition);
        (self.scratch.partition_accounts(partition)).filter(move |a| {
            !(held
                && a.as_ref()
                    .is_ok_and(|a| self.state.index_of(&a.id).is_some()))
        })
    }

    /// Account `id` as rebuilt in `partition`, once the replay is over ([`Rebuilt::finish`]).
    pub(super) fn account(&self, partition: u32, id: &str) -> Result<Option<Account>, StoreError> {
        let found = self.scratch.accounts(partition, &[AccountId::from(id)])?;
        Ok(found.into_iter().next().map(|(a, _)| a))
    }
}

/// Where the account's id starts in its key: after `a` and the partition.
const ID_AT: usize = 5;

fn account_key(partition: u32, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(ID_AT + id.len());
    key.push(b'a');
    key.extend_from_slice(&partition.to_be_bytes());
    key.extend_from_slice(id.as_bytes());
    key
}

fn holder_key(partition: u32, msisdn: Msisdn) -> [u8; 13] {
    let mut key = [0u8; 13];
    key[0] = b'n';
    key[1..5].copy_from_slice(&partition.to_be_bytes());
    key[5..].copy_from_slice(&msisdn.0.to_be_bytes());
    key
}

/// A RocksDB of replay's own, in a folder removed with it. Nothing in it outlives the replay,
/// so it is written without a WAL.
struct Scratch {
    db: rocksdb::DB,
    _folder: tempfile::TempDir,
}

impl Scratch {
    fn new(under: Option<&std::path::Path>) -> Result<Scratch, StoreError> {
        let io = |e: &dyn std::fmt::Display| StoreError::Io(format!("replay's scratch store: {e}"));
        let builder = tempfile::Builder::new().prefix("ratel-replay-").to_owned();
        let folder = match under {
            Some(dir) => builder.tempdir_in(dir),
            None => builder.tempdir(),
        }
        .map_err(|e| io(&e))?;
        let mut options = rocksdb::Options::default();
        options.create_if_missing(true);
        options.set_write_buffer_size(SCRATCH_MEMTABLE);
        options.set_max_write_buffer_number(2);
        let db = rocksdb::DB::open(&options, folder.path()).map_err(|e| io(&e))?;
        Ok(Scratch {
            db,
            _folder: folder,
        })
    }

    fn err(error: rocksdb::Error) -> StoreError {
        StoreError::Io(format!("replay's scratch store: {error}"))
    }

    fn write(&self, batch: rocksdb::WriteBatch) -> Result<(), StoreError> {
        let mut options = rocksdb::WriteOptions::default();
        options.disable_wal(true);
        self.db.write_opt(batch, &options).map_err(Scratch::err)
    }

    /// The accounts that held `numbers` when they were put away (some may not hold them now).
    fn holders(&self, partition: u32, numbers: &[Msisdn]) -> Result<Vec<AccountId>, StoreError> {
        let keys = numbers.iter().map(|&m| holder_key(partition, m));
        let mut ids = Vec::new();
        for found in self.db.multi_get(keys) {
            if let Some(id) = found.map_err(Scratch::err)? {
                let id = String::from_utf8(id)
                    .map_err(|_| StoreError::Corrupt("replay's scratch store: an id".into()))?;
                ids.push(AccountId::from(id));
            }
        }
        Ok(ids)
    }

    /// The records of those of `ids` put away in `partition`.
    fn accounts(
        &self,
        partition: u32,
        ids: &[AccountId],
    ) -> Result<Vec<(Account, rating::recent::Recent)>, StoreError> {
        let keys = ids.iter().map(|id| account_key(partition, id));
        let mut found = Vec::new();
        for (id, bytes) in ids.iter().zip(self.db.multi_get(keys)) {
            if let Some(bytes) = bytes.map_err(Scratch::err)? {
                found.push(decode(id, &bytes)?);
            }
        }
        Ok(found)
    }

    /// Every account put away in `partition`, ordered by id.
    fn partition_accounts(
        &self,
        partition: u32,
    ) -> impl Iterator<Item = Result<Account, StoreError>> + '_ {
        let prefix = account_key(partition, "");
        let from = rocksdb::IteratorMode::From(&prefix, rocksdb::Direction::Forward);
        (self.db.iterator(from))
            .take_while(move |kv| kv.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
            .map(move |kv| {
                let (key, bytes) = kv.map_err(Scratch::err)?;
                let id = std::str::from_utf8(&key[ID_AT..]).map_err(|_| {
                    StoreError::Corrupt("replay's scratch store: an account id not UTF-8".into())
                })?;
                decode(id, &bytes).map(|(a, _)| a)
            })
    }
}

fn decode(id: &str, bytes: &[u8]) -> Result<(Account, rating::recent::Recent), StoreError> {
    let (account, recent) = rating::record::decode_account(id, bytes)
        .map_err(|e| StoreError::Corrupt(format!("replay's scratch store: {e}")))?;
    Ok((account, recent.unwrap_or_default()))
}
