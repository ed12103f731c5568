//! One batch's writes: a RocksDB WriteBatch whose every write is filed under the partition it
//! belongs to, so that each partition's share of the batch can be handed to its changelog.

use rocksdb::WriteBatch;

/// Everything one batch changes, written atomically.
#[derive(Default)]
pub struct Commit {
    pub batch: WriteBatch,
    pub entries: u64,
    /// Which partition each run of the batch's writes belongs to, when asked for (the
    /// changelog publishes each partition's share of a batch): the writes up to a mark's end
    /// and after the mark before it are that mark's partition's.
    marks: Option<Vec<Mark>>,
    /// Each partition whose log the batch extended: its sequence numbers before and after.
    pub ranges: Vec<(u32, u64, u64)>,
    /// The numbers the batch gave to or took from a partition's accounts (for the directory
    /// of instances, `crate::kafka::directory`).
    pub numbers: Vec<NumberHeld>,
}

/// A number now held by an account of `partition`, or no longer held by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberHeld {
    pub msisdn: rating::Msisdn,
    pub partition: u32,
    pub held: bool,
}

/// Writes to a [`Commit`] that belong to one partition ([`Commit::writes_of`]).
pub struct PartitionWrites<'a> {
    commit: &'a mut Commit,
    partition: u32,
}

impl std::ops::Deref for PartitionWrites<'_> {
    type Target = Commit;
    fn deref(&self) -> &Commit {
        self.commit
    }
}

impl std::ops::DerefMut for PartitionWrites<'_> {
    fn deref_mut(&mut self) -> &mut Commit {
        self.commit
    }
}

impl Drop for PartitionWrites<'_> {
    fn drop(&mut self) {
        self.commit.mark(self.partition);
    }
}

/// The partition of the store's own bookkeeping (counters, the global watermark): in no
/// partition's share.
pub const GLOBAL: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Mark {
    partition: u32,
    /// `WriteBatch::data().len()` and `len()` at the mark.
    end: usize,
    count: usize,
}

/// The header of a WriteBatch's bytes: a sequence number (8 bytes) and a count (4, LE).
pub(super) const BATCH_HEADER: usize = 12;

/// The most bytes a commit reserves ahead (a batch may still grow past it).
const MAX_RESERVED: usize = 256 << 20;
/// The most marks a commit reserves room for ahead (24 MiB; it may still grow past it).
const MAX_MARKS_RESERVED: usize = 1 << 20;

impl Commit {
    /// An empty commit whose batch reserves `bytes` (at most 256 MiB): a batch of the size of
    /// the last grows without copying itself over and over as it doubles. With `marks`, it is
    /// marked as in [`Commit::marked`], with room for that many marks (at most a million).
    pub fn reserving(bytes: usize, marks: Option<usize>) -> Commit {
        Commit {
            batch: WriteBatch::with_capacity_bytes(bytes.min(MAX_RESERVED)),
            marks: marks.map(|n| Vec::with_capacity(n.min(MAX_MARKS_RESERVED))),
            ..Commit::default()
        }
    }

    /// The marks made so far (0 if unmarked).
    pub fn marks(&self) -> usize {
        self.marks.as_ref().map_or(0, Vec::len)
    }

    /// A commit that keeps track of which partition each write belongs to.
    pub fn marked() -> Commit {
        Commit {
            marks: Some(Vec::new()),
            ..Commit::default()
        }
    }

    /// Writes made through the returned handle are `partition`'s ([`GLOBAL`]: the store's own
    /// bookkeeping), filed under it when the handle is dropped. In a commit that keeps track of
    /// partitions every write goes through one: a write made outside is found by the next handle
    /// (or by [`Commit::shares`]) and stops the engine, rather than travel in another
    /// partition's share of the changelog.
    pub fn writes_of(&mut self, partition: u32) -> PartitionWrites<'_> {
        if let Some(marks) = &self.marks {
            assert_eq!(
                marks.last().map_or(0, |m| m.count),
                self.batch.len(),
                "a write of a commit that keeps track of partitions was made outside `writes_of`"
            );
        }
        PartitionWrites {
            commit: self,
            partition,
        }
    }

    /// The writes since the last mark belong to `partition` (or [`GLOBAL`]).
    fn mark(&mut self, partition: u32) {
        if let Some(m) = &mut self.marks {
            let end = self.batch.data().len();
            let count = self.batch.len();
            if m.last().is_some_and(|l| l.end == end) {
                return;
            }
            m.push(Mark {
                partition,
                end,
                count,
            });
        }
    }

    /// Gives every partition with marked writes but no range (it logged nothing: only an
    /// account record or a forgotten id) the empty range at its log's end `seq(p)`.
    pub fn complete_ranges(&mut self, seq: impl Fn(u32) -> u64) {
        let Some(marks) = &self.marks else {
            return;
        };
        for m in marks {
            if m.partition != GLOBAL && !self.ranges.iter().any(|r| r.0 == m.partition) {
                let s = seq(m.partition);
                self.ranges.push((m.partition, s, s));
            }
        }
    }

    /// Each partition's share of the batch, as the bytes of a WriteBatch of its own (empty
    /// when the commit was not marked).
    pub fn shares(&self) -> Vec<(u32, Vec<u8>)> {
        let Some(marks) = &self.marks else {
            return Vec::new();
        };
        let data = self.batch.data();
        assert_eq!(
            marks.last().map_or(BATCH_HEADER, |m| m.end),
            data.len().max(BATCH_HEADER),
            "every write of a marked commit is marked"
        );
        // Each share's size first, so that each (megabytes) is allocated once rather than
        // grown by doubling and copying.
        let mut sizes: Vec<(u32, usize)> = Vec::new();
        let mut start = BATCH_HEADER;
        for m in marks {
            if m.partition != GLOBAL {
                match sizes.iter_mut().find(|(p, _)| *p == m.partition) {
                    Some((_, size)) => *size += m.end - start,
                    None => sizes.push((m.partition, BATCH_HEADER + m.end - start)),
                }
            }
            start = m.end;
        }
        let mut out: Vec<(u32, Vec<u8>, u32)> = (sizes.into_iter())
            .map(|(p, size)| {
                let mut bytes = Vec::with_capacity(size);
                bytes.resize(BATCH_HEADER, 0);
                (p, bytes, 0)
            })
            .collect();
        let (mut start, mut before) = (BATCH_HEADER, 0usize);
        for m in marks {
            if m.partition != GLOBAL {
                let i = out
                    .iter()
                    .position(|(p, ..)| *p == m.partition)
                    .expect("every partition's share was sized");
                out[i].1.extend_from_slice(&data[start..m.end]);
                out[i].2 += (m.count - before) as u32;
            }
            start = m.end;
            before = m.count;
        }
        out.into_iter()
            .map(|(p, mut bytes, count)| {
                bytes[8..12].copy_from_slice(&count.to_le_bytes());
                (p, bytes)
            })
            .collect()
    }
}
