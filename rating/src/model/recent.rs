//! What an account remembers of its own inputs: the ids it decided within a window of event
//! time, so that a repeat is recognised as one, and the horizon before which an input comes too
//! late to be told from a repeat.
//!
//! Why a window and not every id ever seen: at ten million subscribers the ids of a month take
//! more memory than the accounts, and they would grow for as long as the engine runs. An
//! account's inputs are ordered in its partition, so its latest event time is deterministic, and
//! so is everything here: the same log gives the same decisions live, in replay and after a
//! restart.
//!
//! An id is held as a 48-bit digest ([`IdDigest`]), not its text: 16 bytes a slot with its
//! time in memory, six in the account's record, whatever the id's length. A digest is a function
//! of the id alone, so a repeat is always known as one: no width of digest can admit a
//! duplicate. What a narrower digest risks is the other way: a new input of an account taken
//! for a repeat because its digest equals one of the `n` its account holds, with probability
//! `n / 2^48` an input. At the generated base's 13 ids an account that is 5·10^-14; for ten
//! million subscribers of 8 events a day (24 ids held) about once in 400 years, and if a tenth of
//! them made 300 events a day (900 held), about once in three years. Such an input is not lost
//! unseen: it is in the log as a duplicate, and the audit, which holds the ids whole, names a
//! duplicate whose id it never saw before. Records before layout 13 held 64 bits
//! (version 4, 128): their low 48 bits are today's digest.
//!
//! The rules, for an input `y` of an account whose latest rated event time is `latest`:
//! - the horizon is `latest - window`;
//! - `y` is a **repeat** (a duplicate) if the account decided an input with `y`'s id when its
//!   latest was not before the horizon (an id is held as of the account's clock when decided);
//! - otherwise `y` is **too late** (rejected) if its time is before the horizon, unless the
//!   engine owes it (a transfer's credit or refund, a tick: derived from the log, refusing one
//!   would lose money).
//!
//! An id older than the horizon can never matter again, whether or not it is still held: that is
//! what lets pruning be lazy (only when the oldest id is a quarter window behind) without
//! changing any decision. Ids are unique per account: an input that names no account (an unknown
//! number) is rejected again if repeated, which moves nothing either time.

use crate::time::Timestamp;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// How long an account remembers an input's id, in seconds of event time: three days. A CDR
/// later than this after its account's latest rated event is rejected as too late.
pub const DEFAULT_WINDOW: i64 = 3 * 86_400;
/// The shortest and the longest window a store may be made with.
pub const MIN_WINDOW: i64 = 3_600;
pub const MAX_WINDOW: i64 = 400 * 86_400;

/// An input's id as an account holds it: the low [`DIGEST_BITS`] bits of the XXH3-128 digest
/// of its bytes (fixed by the algorithm, not seeded, so the same id has the same digest in every
/// process and release; the low bits, so that records of older layouts, which held 64 and 128
/// bits, still know every id they held).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdDigest(u64);

/// The bits of an id's digest an account holds (records of layout 13 on: six bytes an id).
pub const DIGEST_BITS: u32 = 48;
/// The bytes a digest takes in records of layout 13 on.
pub const DIGEST_BYTES: usize = (DIGEST_BITS / 8) as usize;

impl IdDigest {
    pub fn of(id: &str) -> IdDigest {
        IdDigest(xxhash_rust::xxh3::xxh3_128(id.as_bytes()) as u64).narrowed()
    }

    /// The digest as today's accounts hold it: a digest of an older record keeps its low bits.
    fn narrowed(self) -> IdDigest {
        IdDigest(self.0 & ((1 << DIGEST_BITS) - 1))
    }

    /// The digest's bytes in a record: the low [`DIGEST_BYTES`], little-endian.
    fn written(self) -> [u8; DIGEST_BYTES] {
        assert!(
            self.0 >> DIGEST_BITS == 0,
            "an account holds narrowed digests"
        );
        let bytes = self.0.to_le_bytes();
        bytes[..DIGEST_BYTES]
            .try_into()
            .expect("a digest's low bytes")
    }
}

/// The layout of records 5: the window's ids alone, no ids held for ever.
pub mod v5 {
    use serde::Deserialize;

    #[derive(Clone, Debug, Deserialize)]
    pub struct RecentRecord {
        pub ids: Vec<(super::IdDigest, i64)>,
        pub latest: Option<i64>,
        pub oldest: i64,
    }

    impl From<RecentRecord> for super::RecentRecord {
        fn from(recent: RecentRecord) -> super::RecentRecord {
            super::RecentRecord {
                ids: recent.ids,
                latest: recent.latest,
                oldest: recent.oldest,
                kept: Vec::new(),
            }
        }
    }
}

/// The layouts of records before this one.
pub mod v4 {
    use serde::Deserialize;

    /// [`super::RecentRecord`] as records of version 4 held it: each id's whole XXH3-128 digest,
    /// low half first.
    #[derive(Clone, Debug, Deserialize)]
    pub struct RecentRecord {
        pub ids: Vec<([u64; 2], i64)>,
        pub latest: Option<i64>,
        pub oldest: i64,
    }

    impl From<RecentRecord> for super::RecentRecord {
        fn from(recent: RecentRecord) -> super::RecentRecord {
            let mut ids: Vec<(super::IdDigest, i64)> = recent
                .ids
                .into_iter()
                .map(|([low, _], t)| (super::IdDigest(low), t))
                .collect();
            ids.sort_unstable_by_key(|&(d, t)| (t, d));
            super::RecentRecord {
                ids,
                latest: recent.latest,
                oldest: recent.oldest,
                kept: Vec::new(),
            }
        }
    }
}

/// The ids one account decided lately.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recent {
    ids: Ids,
    /// The latest event time of an input the account rated (rejections do not move it: a wrong
    /// clock on a refused CDR must not make the next ones late).
    latest: Option<Timestamp>,
    /// No id held is older than this.
    oldest: Timestamp,
    /// The ids held for ever, ordered: those of inputs other than usage and ticks (payments,
    /// transfers and their steps, account commands), which are few and whose repeat, however
    /// late, must never take effect again.
    kept: Vec<IdDigest>,
}

/// The ids an account holds, each once, with the time it is held at. An account holds tens of
/// them, a busy one hundreds: up to [`FEW`] they are a vector ordered by digest, found by binary
/// search, where an insert moves at most a few kilobytes; more go in a hash table, which costs up
/// to twice the memory (a power of two of buckets at most seven eighths full: 30 ids took 64
/// slots of 17 bytes) but no moves. Which of the two depends on the count alone, so the same ids
/// are the same value.
#[derive(Clone, Debug, PartialEq)]
enum Ids {
    Few(Vec<(IdDigest, Timestamp)>),
    Many(FxHashMap<IdDigest, Timestamp>),
}

/// The most ids held as an ordered vector.
const FEW: usize = 256;

impl Default for Ids {
    fn default() -> Ids {
        Ids::Few(Vec::new())
    }
}

impl Ids {
    fn get(&self, digest: IdDigest) -> Option<Timestamp> {
        match self {
            Ids::Few(v) => v
                .binary_search_by_key(&digest, |&(x, _)| x)
                .ok()
                .map(|i| v[i].1),
            Ids::Many(m) => m.get(&digest).copied(),
        }
    }

    /// Holds `digest` at `at`, or at the later of the two times if it is held already.
    fn hold(&mut self, digest: IdDigest, at: Timestamp) {
        match self {
            Ids::Few(v) => {
                match v.binary_search_by_key(&digest, |&(x, _)| x) {
                    Ok(i) => v[i].1 = v[i].1.max(at),
                    Err(i) => v.insert(i, (digest, at)),
                }
                if v.len() > FEW {
                    *self = Ids::Many(v.drain(..).collect());
                }
            }
            Ids::Many(m) => {
                let held = m.entry(digest).or_insert(at);
                *held = (*held).max(at);
            }
        }
    }

    /// Drops the ids held before `horizon`; the earliest time of those kept, if any (found in the
    /// same pass: a second one over a busy account's ids was half the cost of pruning).
    fn keep_from(&mut self, horizon: Timestamp) -> Option<Timestamp> {
        let mut earliest: Option<Timestamp> = None;
        let mut keep = |t: Timestamp| {
            let kept = t >= horizon;
            if kept && earliest.is_none_or(|e| t < e) {
                earliest = Some(t);
            }
            kept
        };
        match self {
            Ids::Few(v) => {
                v.retain(|&(_, t)| keep(t));
                if v.capacity() > 4 * v.len().max(8) {
                    v.shrink_to_fit();
                }
            }
            Ids::Many(m) => {
                m.retain(|_, t| keep(*t));
                if m.len() <= FEW {
                    let mut v: Vec<_> = m.drain().collect();
                    v.sort_unstable_by_key(|&(d, _)| d);
                    *self = Ids::Few(v);
                } else if m.capacity() > 4 * m.len() {
                    m.shrink_to_fit();
                }
            }
        }
        earliest
    }

    /// The heap the ids take (`crate::model::footprint`).
    fn heap(&self) -> usize {
        match self {
            Ids::Few(v) => crate::model::heap::vector(v),
            Ids::Many(m) => crate::model::heap::hash_map(m),
        }
    }

    fn len(&self) -> usize {
        match self {
            Ids::Few(v) => v.len(),
            Ids::Many(m) => m.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn iter(&self) -> Box<dyn Iterator<Item = (IdDigest, Timestamp)> + '_> {
        match self {
            Ids::Few(v) => Box::new(v.iter().copied()),
            Ids::Many(m) => Box::new(m.iter().map(|(&d, &t)| (d, t))),
        }
    }

    fn heap_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(IdDigest, Timestamp)>();
        match self {
            Ids::Few(v) => v.capacity() * slot,
            Ids::Many(m) if m.capacity() == 0 => 0,
            // hashbrown fills at most 7 of 8 buckets, and its bucket count is a power of two.
            Ids::Many(m) => (m.capacity() * 8 / 7).next_power_of_two() * (slot + 1),
        }
    }
}

/// [`Recent`] as an account's checkpoint stores it: its ids ordered by time, then digest, so
/// that the same memory gives the same bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentRecord {
    pub ids: Vec<(IdDigest, i64)>,
    pub latest: Option<i64>,
    pub oldest: i64,
    /// The ids held for ever, ordered.
    pub kept: Vec<IdDigest>,
}

/// The layout of records 11: [`PackedRecent`] with every time whole.
pub mod v11 {
    use serde::Deserialize;

    /// Each id's time as its distance from the time of the id before it (the first's from
    /// `first`), the digests as eight bytes each.
    #[derive(Clone, Debug, Deserialize)]
    pub struct PackedRecent {
        pub latest: Option<i64>,
        pub oldest: i64,
        pub first: i64,
        pub gaps: Vec<u64>,
        pub digests: Vec<u8>,
        pub kept: Vec<u8>,
    }

    impl From<PackedRecent> for super::PackedRecent {
        fn from(old: PackedRecent) -> super::PackedRecent {
            super::PackedRecent {
                oldest: old.oldest,
                latest: old.latest.map(|latest| latest.wrapping_sub(old.oldest)),
                first: old.first.wrapping_sub(old.oldest),
                gaps: old.gaps,
                digests: old.digests,
                kept: old.kept,
            }
        }
    }
}

/// [`RecentRecord`] as records of layout 12 on hold it. Every time but `oldest` is a distance:
/// the latest's and the first id's from `oldest`, each id's from the id before it. In a
/// record's variable-width integers a distance within a window takes two or three bytes where a
/// whole time takes five; the digests are [`DIGEST_BYTES`] bytes each (eight in layout 12). An
/// id costs about 8 bytes instead of 16. The distances wrap, so that any times at all (however
/// far ahead or behind) read back exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackedRecent {
    oldest: i64,
    /// `latest - oldest`.
    latest: Option<i64>,
    /// The first id's time `- oldest`.
    first: i64,
    gaps: Vec<u64>,
    /// The ids' digests, little-endian, of the same width each, in the order of `gaps`.
    #[serde(with = "serde_bytes")]
    digests: Vec<u8>,
    /// The digests of the ids held for ever.
    #[serde(with = "serde_bytes")]
    kept: Vec<u8>,
}

impl From<&RecentRecord> for PackedRecent {
    fn from(record: &RecentRecord) -> PackedRecent {
        let first = record.ids.first().map_or(record.oldest, |&(_, at)| at);
        let mut before = first;
        let mut gaps = Vec::with_capacity(record.ids.len());
        let mut digests = Vec::with_capacity(DIGEST_BYTES * record.ids.len());
        for &(digest, at) in &record.ids {
            assert!(at >= before, "a record's ids are ordered by time");
            gaps.push(at.abs_diff(before));
            digests.extend_from_slice(&digest.written());
            before = at;
        }
        PackedRecent {
            oldest: record.oldest,
            latest: record
                .latest
                .map(|latest| latest.wrapping_sub(record.oldest)),
            first: first.wrapping_sub(record.oldest),
            gaps,
            digests,
            kept: record.kept.iter().flat_map(|d| d.written()).collect(),
        }
    }
}

impl PackedRecent {
    /// The ids of a record whose digests take `width` bytes each: [`DIGEST_BYTES`] from layout
    /// 13 on, eight in layouts 11 and 12.
    pub fn unpack(self, width: usize) -> Result<RecentRecord, String> {
        assert!((1..=8).contains(&width), "a digest of 1 to 8 bytes");
        let ids_fit = packed_len(&self.digests, width) == Some(self.gaps.len());
        if !ids_fit || packed_len(&self.kept, width).is_none() {
            return Err(format!(
                "{} digest bytes for {} ids, {} for the ids kept, {width} bytes a digest",
                self.digests.len(),
                self.gaps.len(),
                self.kept.len()
            ));
        }
        let digest = |bytes: &[u8]| {
            let mut whole = [0; 8];
            whole[..width].copy_from_slice(bytes);
            IdDigest(u64::from_le_bytes(whole))
        };
        let packed = self;
        let mut at = packed.oldest.wrapping_add(packed.first);
        let mut ids = Vec::with_capacity(packed.gaps.len());
        for (&gap, bytes) in packed.gaps.iter().zip(packed.digests.chunks_exact(width)) {
            at = i64::try_from(i128::from(at) + i128::from(gap))
                .map_err(|_| format!("an id's time {at} + {gap} is out of range"))?;
            ids.push((digest(bytes), at));
        }
        Ok(RecentRecord {
            ids,
            latest: packed
                .latest
                .map(|latest| packed.oldest.wrapping_add(latest)),
            oldest: packed.oldest,
            kept: packed.kept.chunks_exact(width).map(digest).collect(),
        })
    }
}

/// How many digests of `width` bytes `bytes` holds, if a whole number.
fn packed_len(bytes: &[u8], width: usize) -> Option<usize> {
    bytes
        .len()
        .is_multiple_of(width)
        .then(|| bytes.len() / width)
}

/// What the account's memory says of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    Fresh,
    Repeat,
    TooLate { horizon: Timestamp },
}

impl Recent {
    /// The heap the ids take (`crate::model::footprint`).
    pub(crate) fn heap(&self) -> usize {
        self.ids.heap() + crate::model::heap::vector(&self.kept)
    }

    pub fn horizon(&self, window: i64) -> Option<Timestamp> {
        self.latest.map(|t| Timestamp(t.0.saturating_sub(window)))
    }

    /// `owed`: the input is owed whenever it comes (what the engine derives from its own log),
    /// so it is never too late, only a repeat or not.
    pub fn check(&self, id: &str, time: Timestamp, owed: bool, window: i64) -> Seen {
        let horizon = self.horizon(window);
        let digest = IdDigest::of(id);
        if self.kept.binary_search(&digest).is_ok() {
            return Seen::Repeat;
        }
        if let Some(at) = self.ids.get(digest) {
            if horizon.is_none_or(|h| at >= h) {
                return Seen::Repeat;
            }
        }
        match horizon {
            Some(h) if time < h && !owed => Seen::TooLate { horizon: h },
            _ => Seen::Fresh,
        }
    }

    /// Records a decided input; `rated` moves the latest event time; `for_ever` holds its id
    /// for as long as the account lives. Ids of the window that fell behind the horizon are
    /// dropped when the oldest is a quarter window behind it.
    pub fn remember(&mut self, id: &str, at: Timestamp, rated: bool, for_ever: bool, window: i64) {
        if rated {
            self.latest = Some(self.latest.map_or(at, |l| l.max(at)));
        }
        if for_ever {
            let digest = IdDigest::of(id);
            if let Err(i) = self.kept.binary_search(&digest) {
                self.kept.insert(i, digest);
            }
        } else {
            // Held as of the account's clock when it was decided, not its own time: a late
            // input (or an owed one, older than the horizon) is still known as a repeat for a
            // window.
            let clock = self.latest.map_or(at, |l| l.max(at));
            if self.ids.is_empty() || clock < self.oldest {
                self.oldest = clock;
            }
            self.ids.hold(IdDigest::of(id), clock);
        }
        self.prune(window);
    }

    fn prune(&mut self, window: i64) {
        let Some(h) = self.horizon(window) else {
            return;
        };
        if self.oldest.0 >= h.0.saturating_sub(window / 4) {
            return;
        }
        self.oldest = self.ids.keep_from(h).unwrap_or(h);
    }

    /// The ids held: the window's and those held for ever.
    pub fn len(&self) -> usize {
        self.ids.len() + self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.kept.is_empty()
    }

    /// The ids held for ever.
    pub fn kept(&self) -> &[IdDigest] {
        &self.kept
    }

    pub fn ids(&self) -> impl Iterator<Item = (IdDigest, Timestamp)> + '_ {
        self.ids.iter()
    }

    /// The ids as the vector ordered by digest they are while few (for a cache hint).
    pub(crate) fn few(&self) -> Option<&[(IdDigest, Timestamp)]> {
        match &self.ids {
            Ids::Few(v) => Some(v),
            Ids::Many(_) => None,
        }
    }

    /// The bytes of memory the held ids take.
    pub fn heap_bytes(&self) -> usize {
        self.ids.heap_bytes() + self.kept.capacity() * std::mem::size_of::<IdDigest>()
    }

    pub fn record(&self) -> RecentRecord {
        let mut ids: Vec<(IdDigest, i64)> = self.ids.iter().map(|(d, t)| (d, t.0)).collect();
        ids.sort_unstable_by_key(|&(d, t)| (t, d));
        RecentRecord {
            ids,
            latest: self.latest.map(|t| t.0),
            oldest: self.oldest.0,
            kept: self.kept.clone(),
        }
    }
}

impl From<RecentRecord> for Recent {
    fn from(recent: RecentRecord) -> Recent {
        let mut ids = Ids::default();
        for (d, t) in recent.ids {
            ids.hold(d.narrowed(), Timestamp(t));
        }
        let mut kept: Vec<IdDigest> = recent.kept.into_iter().map(IdDigest::narrowed).collect();
        kept.sort_unstable();
        kept.dedup();
        Recent {
            ids,
            latest: recent.latest.map(Timestamp),
            oldest: Timestamp(recent.oldest),
            kept,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: i64 = 1_000;

    fn at(t: i64) -> Timestamp {
        Timestamp(t)
    }

    #[test]
    fn a_repeat_within_the_window_is_seen_and_a_late_input_is_refused() {
        let mut r = Recent::default();
        assert_eq!(r.check("a", at(10_000), false, W), Seen::Fresh);
        r.remember("a", at(10_000), true, false, W);
        assert_eq!(r.check("a", at(10_000), false, W), Seen::Repeat);
        assert_eq!(
            r.check("b", at(9_500), false, W),
            Seen::Fresh,
            "late but within the window"
        );
        r.remember("b", at(9_500), true, false, W);
        assert_eq!(
            r.horizon(W),
            Some(at(9_000)),
            "a late input does not move latest back"
        );
        assert_eq!(
            r.check("c", at(8_999), false, W),
            Seen::TooLate { horizon: at(9_000) }
        );
        // Time moves on: a's time falls behind the horizon. Whether it is still held or not,
        // it is no longer a repeat, and an input at its time is too late.
        r.remember("d", at(11_100), true, false, W);
        assert_eq!(r.check("a", at(10_100), false, W), Seen::Fresh);
        assert_eq!(
            r.check("a", at(10_000), false, W),
            Seen::TooLate {
                horizon: at(10_100)
            }
        );
    }

    #[test]
    fn an_owed_input_is_never_too_late_and_its_repeat_is_known_for_a_window() {
        let mut r = Recent::default();
        r.remember("now", at(100_000), true, false, W);
        assert_eq!(r.check("credit", at(5_000), true, W), Seen::Fresh);
        assert_eq!(
            r.check("credit", at(5_000), false, W),
            Seen::TooLate {
                horizon: at(99_000)
            }
        );
        r.remember("credit", at(5_000), true, false, W);
        assert_eq!(r.check("credit", at(5_000), true, W), Seen::Repeat);
        assert_eq!(r.check("credit", at(5_000), false, W), Seen::Repeat);
        assert_eq!(
            r.horizon(W),
            Some(at(99_000)),
            "an old input does not move latest back"
        );
    }

    #[test]
    fn rejections_are_remembered_but_do_not_move_the_horizon() {
        let mut r = Recent::default();
        r.remember("x", at(50_000), false, false, W);
        assert_eq!(r.horizon(W), None);
        assert_eq!(r.check("x", at(50_000), false, W), Seen::Repeat);
        assert_eq!(r.check("y", at(1), false, W), Seen::Fresh);
    }

    #[test]
    fn pruning_is_lazy_and_changes_no_decision() {
        let mut r = Recent::default();
        for t in 0..100 {
            r.remember(&format!("e{t}"), at(t * 100), true, false, W);
        }
        // latest 9 900, horizon 8 900: held ids are never older than a quarter window behind it.
        assert!(r.ids().all(|(_, t)| t.0 >= 8_900 - W / 4), "{:?}", r.oldest);
        assert!(r.len() < 100, "some were dropped");
        for t in 0..89 {
            assert_eq!(r.check(&format!("e{t}"), at(9_000), false, W), Seen::Fresh);
        }
        for t in 89..100 {
            assert_eq!(r.check(&format!("e{t}"), at(9_900), false, W), Seen::Repeat);
        }
    }

    #[test]
    fn a_record_gives_back_the_same_memory_and_the_same_bytes_for_it() {
        let mut a = Recent::default();
        for t in 0..50 {
            a.remember(&format!("e{t}"), at(t * 37 % 500), t % 3 != 0, false, W);
        }
        // The same ids put into the table in another order: the same record.
        let mut shuffled = a.record();
        shuffled.ids.reverse();
        let b = Recent::from(shuffled);
        let back = Recent::from(a.record());
        assert_eq!(back, a);
        for t in 0..60 {
            let id = format!("e{t}");
            assert_eq!(
                back.check(&id, at(400), false, W),
                a.check(&id, at(400), false, W)
            );
        }
        assert_eq!(
            bincode::serialize(&a.record()).unwrap(),
            bincode::serialize(&b.record()).unwrap()
        );
        assert!(a.heap_bytes() >= a.len() * 16);
    }

    #[test]
    fn many_ids_go_to_a_table_and_back_and_are_the_same_value_either_way() {
        let mut r = Recent::default();
        for i in 0..600 {
            r.remember(&format!("x{i}"), at(10_000 + i), true, false, W);
        }
        assert!(matches!(r.ids, Ids::Many(_)), "600 ids are many");
        for i in 0..600 {
            let id = format!("x{i}");
            assert_eq!(r.check(&id, at(10_600), false, W), Seen::Repeat, "{id}");
        }
        assert_eq!(Recent::from(r.record()), r);
        // A later input moves the horizon to 10 400: 200 ids are left, and the new one.
        r.remember("y", at(11_400), true, false, W);
        assert!(matches!(r.ids, Ids::Few(_)), "{} ids are few", r.len());
        assert_eq!(r.len(), 201);
        assert_eq!(r.check("x450", at(11_400), false, W), Seen::Repeat);
        assert_eq!(r.check("x100", at(11_400), false, W), Seen::Fresh);
        assert_eq!(Recent::from(r.record()), r);
    }

    #[test]
    fn an_id_held_for_ever_is_a_repeat_however_late_it_comes_again() {
        let mut r = Recent::default();
        r.remember("pay-1", at(10_000), true, true, W);
        r.remember("cdr-1", at(10_000), true, false, W);
        // Far past the window, and with a later time: the payment is still known, the
        // usage (held for the window only) is not.
        r.remember("later", at(100_000), true, false, W);
        assert_eq!(r.check("pay-1", at(100_500), false, W), Seen::Repeat);
        assert_eq!(r.check("cdr-1", at(100_500), false, W), Seen::Fresh);
        assert_eq!(Recent::from(r.record()), r);
        assert_eq!(r.kept().len(), 1);
    }

    #[test]
    fn a_digest_is_fixed_by_the_id_alone() {
        // Written to stores: a change of algorithm would forget every id held.
        assert_eq!(IdDigest::of("cdr-1"), IdDigest::of("cdr-1"));
        assert_ne!(IdDigest::of("cdr-1"), IdDigest::of("cdr-2"));
        // The low 48 bits of 0x6001c324468d497f, the 64 that records of layout 12 held.
        assert_eq!(IdDigest::of(""), IdDigest(0xc324468d497f));
    }

    #[test]
    fn a_record_of_version_4_knows_every_id_it_held() {
        let full = |id: &str| {
            let h = xxhash_rust::xxh3::xxh3_128(id.as_bytes());
            [h as u64, (h >> 64) as u64]
        };
        let old = v4::RecentRecord {
            ids: vec![(full("cdr-2"), 1_500), (full("cdr-1"), 1_200)],
            latest: Some(1_600),
            oldest: 1_200,
        };
        let r = Recent::from(RecentRecord::from(old));
        assert_eq!(r.len(), 2);
        for id in ["cdr-1", "cdr-2"] {
            assert_eq!(
                r.check(id, Timestamp(1_650), false, W),
                Seen::Repeat,
                "{id}"
            );
        }
        assert_eq!(r.check("cdr-3", Timestamp(1_650), false, W), Seen::Fresh);
        assert_eq!(
            r.check("cdr-4", Timestamp(500), false, W),
            Seen::TooLate {
                horizon: Timestamp(600)
            }
        );
    }
}
