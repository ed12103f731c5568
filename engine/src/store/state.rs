//! The account state read back from the store: each partition's records as of its checkpoint,
//! with the log's tail after it applied, and the ids accounts remember recalled from stores
//! that kept them apart.

use super::{
    decode_decision_at, Commit, Store, StoreError, CF_BY_ACCOUNT, CF_LOG, CF_META, CF_REPORTS,
    CF_SEEN, CF_STATE,
};
use crate::entry::Entry;
use crate::keys::account_key;
use rating::recent::Recent;
use rating::{Account, State};
use rocksdb::IteratorMode;

/// A log entry and its place: `((partition, seq), entry)`.
pub type PlacedEntry = ((u32, u64), Entry);
use rustc_hash::FxHashSet;

impl Store {
    /// Where each of `partitions` partitions' tail begins: its checkpoint, or in a store made
    /// before checkpoints, its log's end.
    pub fn checkpoints(&self, partitions: u32) -> Result<Vec<u64>, StoreError> {
        (0..partitions)
            .map(|p| match self.meta_u64(&crate::keys::checkpoint(p))? {
                Some(c) => Ok(c),
                None => Ok(self.meta_u64(&crate::keys::sequence(p))?.unwrap_or(0)),
            })
            .collect()
    }

    pub(crate) fn partitions(&self) -> Result<u32, StoreError> {
        let n = self.meta_u64(crate::keys::PARTITIONS)?.unwrap_or(1);
        u32::try_from(n)
            .ok()
            .filter(|&n| (1..=crate::partition::MAX_PARTITIONS).contains(&n))
            .ok_or_else(|| StoreError::Corrupt(format!("{n} partitions")))
    }

    /// [`Store::records`], and whether any record is of a layout before records held their
    /// account's ids.
    fn records_and_layout(&self) -> Result<(State, bool), StoreError> {
        let mut s = self.empty_state()?;
        let mut before = false;
        for kv in self.db.iterator_cf(self.cf(CF_STATE), IteratorMode::Start) {
            let (key, v) = kv.map_err(|e| self.err(e))?;
            before |= !restore_record(&mut s, &key, &v)?;
        }
        Ok((s, before))
    }

    /// Applies every partition's tail (its entries from its checkpoint on) to `state`, in log order;
    /// returns the accounts whose records it changed.
    fn apply_tails(&self, state: &mut State) -> Result<FxHashSet<rating::AccountId>, StoreError> {
        let mut changed = FxHashSet::default();
        let n = self.partitions()?;
        for (p, from) in (0..n).zip(self.checkpoints(n)?) {
            for item in self.log_bytes_from(p, from) {
                let (seq, v) = item?;
                if let Some(a) = apply_entry(state, p, seq, &v)? {
                    changed.insert(a);
                }
            }
        }
        Ok(changed)
    }

    /// Remembers, in `state`, the input of every decision in the log before each partition's
    /// checkpoint, in log order (as rating did when it made them).
    fn recall_ids(&self, state: &mut State) -> Result<(), StoreError> {
        let n = self.partitions()?;
        for (p, to) in (0..n).zip(self.checkpoints(n)?) {
            for item in self.log_from(p, 0) {
                let (seq, entry) = item?;
                if seq >= to {
                    break;
                }
                let Entry::Rated { decision, .. } = entry else {
                    continue;
                };
                let d = decode_decision_at(p, seq, &decision)?;
                if let Some((account, rated)) = rating::decision::remembered_by(&d) {
                    let for_ever = rating::decision::held_for_ever(&d);
                    state.restore_seen(account, &d.event, d.time, rated, for_ever);
                }
            }
        }
        Ok(())
    }

    /// The state as of the last commit: the account records with the ids they remember, the
    /// free reports taken, then the log's tails applied. With it, the accounts the tails
    /// changed, whose records the next checkpoint must write.
    ///
    /// A store made before records held their ids kept them in the `seen` family, an id a key,
    /// with the input's time but not the time its account held it at. They are recalled
    /// instead from the log before the checkpoints, decision by decision as live rating
    /// remembered them, so that the ids and their times are exactly those of an engine that
    /// never stopped; then a checkpoint of every account writes them into the records, in the
    /// synced batch that empties the family.
    pub fn load_state(&self) -> Result<(State, FxHashSet<rating::AccountId>), StoreError> {
        let (mut s, older) = self.records_and_layout()?;
        let before = older
            || self
                .db
                .iterator_cf(self.cf(CF_SEEN), IteratorMode::Start)
                .next()
                .transpose()
                .map_err(|e| self.err(e))?
                .is_some();
        if before {
            self.recall_ids(&mut s)?;
        }
        for kv in self
            .db
            .iterator_cf(self.cf(CF_REPORTS), IteratorMode::Start)
        {
            let (k, _) = kv.map_err(|e| self.err(e))?;
            let k: [u8; 12] = k[..]
                .try_into()
                .map_err(|_| StoreError::Corrupt("report key of wrong length".into()))?;
            let m = u64::from_be_bytes(k[..8].try_into().expect("8"));
            let month = u32::from_be_bytes(k[8..].try_into().expect("4"));
            s.restore_free_report(rating::Msisdn(m), rating::Month(month));
        }
        let changed = self.apply_tails(&mut s)?;
        if !before {
            return Ok((s, changed));
        }
        let mut c = Commit::default();
        // No valid key sorts at or after [ff ff]: a key is an account id's length and UTF-8
        // bytes, or (older) an id's UTF-8 bytes, and UTF-8 has no ff byte.
        c.batch
            .delete_range_cf(self.cf(CF_SEEN), &[][..], &[0xffu8, 0xff][..]);
        // Its indexes, if a build that made them wrote any, are made again from these records.
        c.batch
            .delete_cf(self.cf(CF_META), crate::keys::INDEXED_WITH);
        let mut buf = Vec::new();
        for a in s.accounts() {
            let recent = s.recent(&a.id).expect("an account's ids");
            self.put_account(&mut c, a, recent, &mut buf);
        }
        let n = self.partitions()?;
        for p in 0..n {
            let end = self.meta_u64(&crate::keys::sequence(p))?.unwrap_or(0);
            self.put_meta(&mut c, &crate::keys::checkpoint(p), &end.to_le_bytes());
        }
        self.commit(c, true)?;
        tracing::info!(
            accounts = s.len(),
            ids = s.seen_count(),
            "the ids each account remembers moved into its record"
        );
        Ok((s, FxHashSet::default()))
    }

    /// The state an engine starts with: only the accounts the log after the checkpoints
    /// changed, read from their records and brought up to date by it; with their ids, whose
    /// records the next checkpoint writes. Its memory is bounded by the tail, not by the
    /// accounts. A store made before records held their ids is read whole and moved on, once
    /// ([`Store::load_state`]).
    pub fn load_tails(&self) -> Result<(State, FxHashSet<rating::AccountId>), StoreError> {
        let (mut state, changed) = match self.holds_ids_apart()? {
            true => self.load_state()?,
            false => self.tail_state()?,
        };
        // The holders of the numbers the log's decisions gave or took were written with them
        // (or are indexed at open): the next batch must not write them again, into partitions
        // that may be another instance's by now.
        drop(state.take_renumbered());
        Ok((state, changed))
    }

    /// The accounts the log after the checkpoints changed, from their records with it
    /// applied; with their ids. Writes nothing.
    fn tail_state(&self) -> Result<(State, FxHashSet<rating::AccountId>), StoreError> {
        let mut s = self.empty_state()?;
        let mut changed = FxHashSet::default();
        let n = self.partitions()?;
        for (p, from) in (0..n).zip(self.checkpoints(n)?) {
            for item in self.log_from(p, from) {
                let (seq, entry) = item?;
                let Entry::Rated { decision, .. } = entry else {
                    continue;
                };
                let d = decode_decision_at(p, seq, &decision)?;
                let concerned = [d.account.as_ref(), rating::decision::changed_by(&d)];
                for id in concerned.into_iter().flatten() {
                    if s.account(id).is_none() {
                        self.load_record(&mut s, id)?;
                    }
                }
                rating::apply(&mut s, &d)
                    .map_err(|e| StoreError::Corrupt(format!("log {p}/{seq}: {e}")))?;
                changed.extend(rating::decision::changed_by(&d).cloned());
            }
        }
        Ok((s, changed))
    }

    /// Puts the record of account `id`, if there is one, into `state`.
    fn load_record(&self, state: &mut State, id: &str) -> Result<(), StoreError> {
        if let Some(v) = (self.db.get_pinned_cf(self.cf(CF_STATE), id)).map_err(|e| self.err(e))? {
            restore_record(state, id.as_bytes(), &v)?;
        }
        Ok(())
    }

    /// Whether the store keeps the ids accounts remember apart from their records (a store
    /// made before layout 4): records are of one layout throughout, so the first tells.
    fn holds_ids_apart(&self) -> Result<bool, StoreError> {
        let first = |family| {
            (self
                .db
                .iterator_cf(self.cf(family), IteratorMode::Start)
                .next())
            .transpose()
            .map_err(|e| self.err(e))
        };
        if first(CF_SEEN)?.is_some() {
            return Ok(true);
        }
        match first(CF_STATE)? {
            Some((key, v)) => Ok(!restore_record(&mut self.empty_state()?, &key, &v)?),
            None => Ok(false),
        }
    }

    /// Every account as of the last commit, ordered by id: each record as stored, or for an
    /// account the log after the checkpoints changed, as that log leaves it. Read record by
    /// record: its memory is the tail's accounts, not all of them.
    pub fn accounts(&self) -> Box<dyn Iterator<Item = Result<Account, StoreError>> + '_> {
        let tail = match self.tail_state() {
            Ok((tail, _)) => tail,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let mut changed: Vec<Account> = tail.accounts().cloned().collect();
        changed.sort_unstable_by(|a, b| b.id.as_bytes().cmp(a.id.as_bytes()));
        let mut records = (self.db.iterator_cf(self.cf(CF_STATE), IteratorMode::Start)).peekable();
        Box::new(std::iter::from_fn(move || {
            loop {
                let next_record = match records.peek() {
                    Some(Ok((id, _))) => Some(id.clone()),
                    Some(Err(_)) => {
                        let e = records
                            .next()
                            .and_then(Result::err)
                            .expect("peeked an error");
                        return Some(Err(self.err(e)));
                    }
                    None => None,
                };
                let first_changed = changed.last().map(|a| a.id.as_bytes());
                match (next_record, first_changed) {
                    (None, None) => return None,
                    (Some(id), Some(c)) if c < &id[..] => return changed.pop().map(Ok),
                    (None, Some(_)) => return changed.pop().map(Ok),
                    (Some(id), c) => {
                        let (_, bytes) = records.next()?.ok()?;
                        if c == Some(&id[..]) {
                            // The tail's version stands for the record.
                            continue;
                        }
                        return Some(decode_record(&id, &bytes));
                    }
                }
            }
        }))
    }

    /// One account as of the last commit: its record, and the entries of its partition's tail
    /// that concern it (found through `by_account`).
    pub fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        // A follower (`ratel serve`) catches up with the writer between two of its reads: a
        // checkpoint landing between the record and the markers would pair a record with the
        // wrong tail. Markers only grow, so the same markers before and after the reads mean
        // one view of the store; otherwise the reads are made again.
        let n = self.partitions()?;
        for _ in 0..8 {
            let before = self.checkpoints(n)?;
            let read = self.account_as_of(id, &before);
            if self.checkpoints(n)? == before {
                return read;
            }
        }
        Err(StoreError::Io(format!(
            "account {id}: the store made eight checkpoints while it was read"
        )))
    }

    /// Every log entry that concerns an account (found through `by_account`), in log order.
    pub fn account_log(
        &self,
        id: &str,
    ) -> Result<impl Iterator<Item = Result<PlacedEntry, StoreError>> + '_, StoreError> {
        let places = self.account_entries(id)?;
        Ok(places.into_iter().map(move |place| self.entry_at(place)))
    }

    /// The latest decision of `account` for the input `event` that `accept` takes (a refund
    /// looks for a charge, not a later refusal of the same id sent again too late).
    pub fn find_decision(
        &self,
        account: &str,
        event: &str,
        accept: impl Fn(&rating::Decision) -> bool,
    ) -> Result<Option<rating::Decision>, StoreError> {
        for place in self.account_entries(account)?.into_iter().rev() {
            let (at, entry) = self.entry_at(place)?;
            let Entry::Rated { decision, .. } = entry else {
                continue;
            };
            let decision = rating::codec::decode_decision(&decision)
                .map_err(|e| StoreError::Corrupt(format!("log {}/{}: {e}", at.0, at.1)))?;
            if decision.event == event && accept(&decision) {
                return Ok(Some(decision));
            }
        }
        Ok(None)
    }

    /// The log entry at a place, `(partition, seq)`.
    fn entry_at(&self, (p, seq): (u32, u64)) -> Result<PlacedEntry, StoreError> {
        let bytes = self
            .db
            .get_cf(self.cf(CF_LOG), crate::keys::log_key(p, seq))
            .map_err(|e| self.err(e))?
            .ok_or_else(|| StoreError::Corrupt(format!("by_account names a missing {p}/{seq}")))?;
        let entry = Entry::decode(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("log {p}/{seq}: {e}")))?;
        Ok(((p, seq), entry))
    }

    fn account_as_of(&self, id: &str, checkpoints: &[u64]) -> Result<Option<Account>, StoreError> {
        let mut s = self.empty_state()?;
        if let Some(v) = self
            .db
            .get_cf(self.cf(CF_STATE), id)
            .map_err(|e| self.err(e))?
        {
            restore_record(&mut s, id.as_bytes(), &v)?;
        }
        let prefix = account_key(id, 0, 0);
        let prefix = &prefix[..prefix.len() - 12];
        let it = self.db.iterator_cf(
            self.cf(CF_BY_ACCOUNT),
            IteratorMode::From(prefix, rocksdb::Direction::Forward),
        );
        for kv in it {
            let (k, _) = kv.map_err(|e| self.err(e))?;
            let Some(at) = k.strip_prefix(prefix).filter(|at| at.len() == 12) else {
                break;
            };
            let p = u32::from_be_bytes(at[..4].try_into().expect("4"));
            let seq = u64::from_be_bytes(at[4..].try_into().expect("8"));
            if checkpoints.get(p as usize).is_none_or(|&c| seq < c) {
                continue;
            }
            let entry = self
                .db
                .get_cf(self.cf(CF_LOG), at)
                .map_err(|e| self.err(e))?
                .ok_or_else(|| StoreError::Corrupt(format!("index of {id} names {p}/{seq}")))?;
            apply_entry(&mut s, p, seq, &entry)?;
        }
        Ok(s.account(id).cloned())
    }
}

/// Applies a log entry's decision to `state` (a catalog or dead entry changes nothing); returns the
/// account whose record it changed.
fn apply_entry(
    state: &mut State,
    partition: u32,
    seq: u64,
    bytes: &[u8],
) -> Result<Option<rating::AccountId>, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(format!("log {partition}/{seq}: {e}"));
    let Entry::Rated { decision, .. } = Entry::decode(bytes).map_err(|e| corrupt(e.to_string()))?
    else {
        return Ok(None);
    };
    let d = rating::codec::decode_decision(&decision).map_err(|e| corrupt(e.to_string()))?;
    rating::apply(state, &d).map_err(|e| corrupt(e.to_string()))?;
    Ok(rating::decision::changed_by(&d).cloned())
}

/// An account from its record, under its key.
fn decode_record(key: &[u8], bytes: &[u8]) -> Result<Account, StoreError> {
    Ok(read_record(key, bytes)?.0)
}

/// The account and the ids of the record under `key`, its account's id.
pub(super) fn read_record(
    key: &[u8],
    bytes: &[u8],
) -> Result<(Account, Option<Recent>), StoreError> {
    let Ok(id) = std::str::from_utf8(key) else {
        let key = String::from_utf8_lossy(key);
        return Err(StoreError::Corrupt(format!(
            "a record's key {key:?} is not UTF-8"
        )));
    };
    record_of(id, bytes)
}

/// The account and the ids of account `id`'s record.
pub(super) fn record_of(id: &str, bytes: &[u8]) -> Result<(Account, Option<Recent>), StoreError> {
    rating::record::decode_account(id, bytes)
        .map_err(|e| StoreError::Corrupt(format!("record of {id}: {e}")))
}

/// Puts an account record into `state`; false if the record holds no ids (a layout before 4).
fn restore_record(state: &mut State, key: &[u8], bytes: &[u8]) -> Result<bool, StoreError> {
    let (a, recent) = read_record(key, bytes)?;
    let id = a.id.clone();
    state.restore(a);
    Ok(match recent {
        Some(r) => {
            state.restore_recent(&id, r);
            true
        }
        None => false,
    })
}
