//! The directory as far as this instance has read it. The claims on numbers are kept in a
//! RocksDB of the instance's own, made empty at open and removed when dropped, so that they
//! take RocksDB's bounded memtables and cache, not memory for every number an operator has;
//! the owners of the partitions, a few, are kept in memory.
//!
//! A claim is a key, the number and the claiming partition (big-endian, so that a number's
//! claims are together and numbers in order), whose value is the claim's place in the topic:
//! the latest claim is the one of the highest place, whatever the partitions' order.

use crate::store::NumberHeld;
use directory_entry::{Entry, Owner};
use rating::Msisdn;
use rustc_hash::FxHashMap;
use std::sync::RwLock;

/// The local copy's memtable: the claims written between two flushes.
const MEMTABLE: usize = 16 << 20;

pub(super) struct Map {
    claims: rocksdb::DB,
    owners: RwLock<FxHashMap<u32, Owner>>,
    /// Why a message could not be applied: the copy is behind the topic from then on, and says
    /// so to every question.
    failed: std::sync::OnceLock<String>,
    /// Removed, with the claims, when the map is dropped (after `claims`: fields drop in order).
    _folder: tempfile::TempDir,
}

fn claim_key(msisdn: u64, partition: u32) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&msisdn.to_be_bytes());
    key[8..].copy_from_slice(&partition.to_be_bytes());
    key
}

/// The local copy could not be made, written or read.
#[derive(Debug, thiserror::Error)]
#[error("the directory's local copy: {0}")]
pub struct LocalCopyError(String);

fn local(error: impl std::fmt::Display) -> LocalCopyError {
    LocalCopyError(error.to_string())
}

impl Map {
    /// An empty map, its claims in a folder made in `scratch` (the system's temporary folder if
    /// `None`).
    pub(super) fn open(scratch: Option<&std::path::Path>) -> Result<Map, LocalCopyError> {
        let builder = tempfile::Builder::new()
            .prefix("ratel-directory-")
            .tempdir_in(scratch.map_or_else(std::env::temp_dir, std::path::Path::to_path_buf));
        let folder = builder.map_err(local)?;
        let mut options = rocksdb::Options::default();
        options.create_if_missing(true);
        options.set_write_buffer_size(MEMTABLE);
        options.set_max_write_buffer_number(2);
        // A lookup seeks a number's claims: a bloom filter of the numbers lets it pass by the
        // files that hold none.
        options.set_prefix_extractor(rocksdb::SliceTransform::create_fixed_prefix(8));
        let mut table = rocksdb::BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        table.set_whole_key_filtering(false);
        // The filters and indexes stay beside the cache, about 1.3 bytes a number: held in the
        // cache (`cache_index_and_filter_blocks`), lookups at five million numbers fell from
        // 44 000 to 2 700 a second (benches/benches/directory.rs, 2026-12-07).
        options.set_block_based_table_factory(&table);
        let claims = rocksdb::DB::open(&options, folder.path()).map_err(local)?;
        Ok(Map {
            claims,
            owners: RwLock::default(),
            failed: std::sync::OnceLock::new(),
            _folder: folder,
        })
    }

    /// Applies one message, the `place`-th of the topic. After a failure, none is applied.
    pub(super) fn apply(&self, entry: Entry, place: u64) -> Result<(), LocalCopyError> {
        self.check()?;
        let applied = self.apply_claim(entry, place);
        if let Err(error) = &applied {
            let _ = self.failed.set(error.to_string());
        }
        applied
    }

    /// An error if a message could not be applied.
    fn check(&self) -> Result<(), LocalCopyError> {
        match self.failed.get() {
            Some(failure) => Err(LocalCopyError(format!("behind the topic: {failure}"))),
            None => Ok(()),
        }
    }

    fn apply_claim(&self, entry: Entry, place: u64) -> Result<(), LocalCopyError> {
        let mut written = rocksdb::WriteOptions::default();
        // The copy is made again from the topic at every open: a crash loses nothing of it.
        written.disable_wal(true);
        match entry {
            Entry::Owner { partition, owner } => {
                let mut owners = self.owners.write().expect("not poisoned");
                match owner {
                    Some(owner) => owners.insert(partition, owner),
                    None => owners.remove(&partition),
                };
                Ok(())
            }
            Entry::Number {
                msisdn,
                partition,
                held: true,
            } => (self.claims)
                .put_opt(claim_key(msisdn, partition), place.to_be_bytes(), &written)
                .map_err(local),
            Entry::Number {
                msisdn,
                partition,
                held: false,
            } => (self.claims)
                .delete_opt(claim_key(msisdn, partition), &written)
                .map_err(local),
        }
    }

    /// The partition of the latest claim on `msisdn`, if any claims it.
    pub(super) fn latest_claim(&self, msisdn: Msisdn) -> Result<Option<u32>, LocalCopyError> {
        self.check()?;
        let mut one_number = rocksdb::ReadOptions::default();
        one_number.set_prefix_same_as_start(true);
        let mut claims = self.claims.raw_iterator_opt(one_number);
        claims.seek(msisdn.0.to_be_bytes());
        let found = latest_of_next_number(&mut claims)?;
        Ok(found
            .filter(|&(number, _)| number == msisdn.0)
            .map(|(_, partition)| partition))
    }

    pub(super) fn owner(&self, partition: u32) -> Option<Owner> {
        let owners = self.owners.read().expect("not poisoned");
        owners.get(&partition).cloned()
    }

    /// See `Directory::differences`. `held` is in the order of the numbers, each once, as the
    /// store's index of holders gives them; the claims are read in the same order beside it,
    /// so that neither side is held whole.
    pub(super) fn differences(
        &self,
        partitions: &[u32],
        held: impl Iterator<Item = (Msisdn, u32)>,
    ) -> Result<Vec<NumberHeld>, LocalCopyError> {
        self.check()?;
        let number = |msisdn: u64, partition, held| NumberHeld {
            msisdn: Msisdn(msisdn),
            partition,
            held,
        };
        let mut placed = Placed::new(self, partitions)?;
        let mut differences = Vec::new();
        let mut before = None;
        for (msisdn, partition) in held.filter(|(_, p)| partitions.contains(p)) {
            assert!(
                before < Some(msisdn),
                "the holders come in order, once each"
            );
            before = Some(msisdn);
            while let Some((m, p)) = placed.peek().filter(|&(m, _)| m < msisdn.0) {
                differences.push(number(m, p, false));
                placed.advance()?;
            }
            match placed.peek() {
                Some((m, p)) if m == msisdn.0 => {
                    placed.advance()?;
                    if p != partition {
                        differences.push(number(msisdn.0, partition, true));
                    }
                }
                _ => differences.push(number(msisdn.0, partition, true)),
            }
        }
        while let Some((m, p)) = placed.peek() {
            differences.push(number(m, p, false));
            placed.advance()?;
        }
        Ok(differences)
    }
}

/// The claim at `claims`' position: number, partition and place; `None` at the end.
fn decode(claims: &rocksdb::DBRawIterator<'_>) -> Result<Option<(u64, u32, u64)>, LocalCopyError> {
    let (Some(key), Some(value)) = (claims.key(), claims.value()) else {
        return Ok(None);
    };
    let (Ok(key), Ok(place)) = (<[u8; 12]>::try_from(key), <[u8; 8]>::try_from(value)) else {
        return Err(local("a claim of the wrong size in the local copy"));
    };
    let number = u64::from_be_bytes(key[..8].try_into().expect("eight bytes"));
    let partition = u32::from_be_bytes(key[8..].try_into().expect("four bytes"));
    Ok(Some((number, partition, u64::from_be_bytes(place))))
}

/// The numbers whose latest claim is one of some partitions', in order: a cursor over the
/// claims, a number at a time.
struct Placed<'a> {
    claims: rocksdb::DBRawIterator<'a>,
    partitions: &'a [u32],
    next: Option<(u64, u32)>,
}

impl<'a> Placed<'a> {
    fn new(map: &'a Map, partitions: &'a [u32]) -> Result<Placed<'a>, LocalCopyError> {
        let mut every_number = rocksdb::ReadOptions::default();
        every_number.set_total_order_seek(true);
        let mut claims = map.claims.raw_iterator_opt(every_number);
        claims.seek_to_first();
        let mut placed = Placed {
            claims,
            partitions,
            next: None,
        };
        placed.advance()?;
        Ok(placed)
    }

    fn peek(&self) -> Option<(u64, u32)> {
        self.next
    }

    /// Moves to the next number placed in one of the partitions.
    fn advance(&mut self) -> Result<(), LocalCopyError> {
        self.next = None;
        while let Some((number, partition)) = latest_of_next_number(&mut self.claims)? {
            if self.partitions.contains(&partition) {
                self.next = Some((number, partition));
                break;
            }
        }
        Ok(())
    }
}

/// The number at `claims`' position and the partition of its latest claim, `claims` moved past
/// its claims; `None` at the end.
fn latest_of_next_number(
    claims: &mut rocksdb::DBRawIterator<'_>,
) -> Result<Option<(u64, u32)>, LocalCopyError> {
    let Some((number, partition, place)) = decode(claims)? else {
        claims.status().map_err(local)?;
        return Ok(None);
    };
    let mut latest = (place, partition);
    claims.next();
    while let Some((same, partition, place)) = decode(claims)? {
        if same != number {
            break;
        }
        latest = latest.max((place, partition));
        claims.next();
    }
    claims.status().map_err(local)?;
    Ok(Some((number, latest.1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(msisdn: u64, partition: u32, held: bool) -> Entry {
        Entry::Number {
            msisdn,
            partition,
            held,
        }
    }

    /// A map that has read `entries`, in order.
    fn read(entries: impl IntoIterator<Item = Entry>) -> Map {
        let map = Map::open(None).unwrap();
        for (place, entry) in entries.into_iter().enumerate() {
            map.apply(entry, place as u64).unwrap();
        }
        map
    }

    fn latest(map: &Map, msisdn: u64) -> Option<u32> {
        map.latest_claim(Msisdn(msisdn)).unwrap()
    }

    #[test]
    fn the_latest_claim_of_a_number_wins_and_a_release_takes_only_its_own() {
        let map = read([held(79_001_000_001, 3, true), held(79_001_000_001, 5, true)]);
        assert_eq!(latest(&map, 79_001_000_001), Some(5));
        map.apply(held(79_001_000_001, 5, false), 2).unwrap();
        assert_eq!(latest(&map, 79_001_000_001), Some(3));
        map.apply(held(79_001_000_001, 3, false), 3).unwrap();
        assert_eq!(latest(&map, 79_001_000_001), None);
    }

    #[test]
    fn the_latest_claim_wins_whatever_the_order_of_the_partitions() {
        // The keys order partition 9 after 2; the claims come 2, 9, then 2 again.
        let map = read([held(7, 2, true), held(7, 9, true)]);
        assert_eq!(latest(&map, 7), Some(9));
        map.apply(held(7, 2, true), 2).unwrap();
        assert_eq!(latest(&map, 7), Some(2));
        // Neighbouring numbers, and the number 0 and the largest, are their own.
        let map = read([held(6, 1, true), held(8, 4, true), held(0, 5, true)]);
        map.apply(held(u64::MAX, 6, true), 3).unwrap();
        assert_eq!(latest(&map, 7), None);
        assert_eq!(
            [
                latest(&map, 6),
                latest(&map, 8),
                latest(&map, 0),
                latest(&map, u64::MAX)
            ],
            [Some(1), Some(4), Some(5), Some(6)]
        );
    }

    #[test]
    fn the_differences_with_a_store_claim_what_is_missing_and_release_what_is_gone() {
        let map = read([(1, 0), (2, 0), (3, 1), (4, 1), (6, 0)].map(|(m, p)| held(m, p, true)));
        // The store's partition 0 holds 1, 4 (moved from 1) and 5 (not claimed); 2 and 6 went;
        // 3 is partition 1's, not given.
        let store = [(1, 0), (3, 1), (4, 0), (5, 0)].map(|(m, p)| (Msisdn(m), p));
        let found = map.differences(&[0], store.into_iter()).unwrap();
        let number = |m, partition, held| NumberHeld {
            msisdn: Msisdn(m),
            partition,
            held,
        };
        let expected = [(2, false), (4, true), (5, true), (6, false)];
        assert_eq!(found, expected.map(|(m, held)| number(m, 0, held)));
        for (place, n) in found.iter().enumerate() {
            let entry = held(n.msisdn.0, n.partition, n.held);
            map.apply(entry, 10 + place as u64).unwrap();
        }
        let again = map.differences(&[0], store.into_iter()).unwrap();
        assert!(again.is_empty(), "put right: {again:?}");
        assert!(map.differences(&[0], std::iter::empty()).unwrap().len() == 3);
    }

    #[test]
    #[should_panic(expected = "in order")]
    fn holders_out_of_order_are_refused() {
        let map = read([]);
        let store = [(Msisdn(5), 0), (Msisdn(4), 0)];
        let _ = map.differences(&[0], store.into_iter());
    }

    #[test]
    fn an_owner_is_the_last_written_and_a_tombstone_removes_it() {
        let owner = |host: &str| Entry::Owner {
            partition: 7,
            owner: Some(Owner {
                host: host.into(),
                uri: format!("aaa://{host}:3868"),
            }),
        };
        let map = read([owner("a"), owner("b")]);
        assert_eq!(map.owner(7).unwrap().host, "b");
        let gone = Entry::Owner {
            partition: 7,
            owner: None,
        };
        map.apply(gone, 2).unwrap();
        assert!(map.owner(7).is_none());
    }

    #[test]
    fn the_local_copy_is_removed_with_the_map() {
        let scratch = tempfile::tempdir().unwrap();
        let map = Map::open(Some(scratch.path())).unwrap();
        map.apply(held(1, 0, true), 0).unwrap();
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 1);
        drop(map);
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
    }
}
