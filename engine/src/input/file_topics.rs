//! A file read as the input topics it would be produced to. Each line goes to the topic of its
//! kind and the partition of its key, exactly as `ratel produce` would send it (`kafka.rs`:
//! keys from the openings met so far in the file, a line that is not an input to the usage
//! topic's partition 0 with the time of the input before it), and the lines come out in the
//! order a partition's merged topics give them: the earliest event time among the topics'
//! heads first, ties to commands, then payments, then usage, each topic in the file's order.
//! So a file and the same lines through Kafka are rated in one order, partition by partition,
//! whether or not the file is in event-time order (ARCHITECTURE.md, "Order").
//!
//! Progress is each topic partition's position (the byte after its last line rated), stored as
//! a Kafka source stores offsets; a store rated before files were read this way resumes after
//! the single position it holds.

use crate::partition::Numbers;
use crate::source::{FileSource, Line, Source, MAX_LINE_BYTES};
use crate::topics::{outlier, Topics};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

/// The topic names a file's lines are given, in rank order (commands, payments, usage).
pub const TOPICS: [&str; 3] = ["file:commands", "file:payments", "file:usage"];

/// Whether a stored source position belongs to a file read as topics.
pub fn is_file_topic(topic: &str) -> bool {
    TOPICS.contains(&topic)
}

/// Where a line is in the file, and its event time (milliseconds, as a message timestamp).
struct Placed {
    at: u64,
    end: u64,
    time: i64,
    oversized: bool,
}

pub struct FileTopics {
    path: PathBuf,
    file: File,
    /// The lines not yet given, by topic partition (`partition * 3 + rank`).
    streams: Vec<VecDeque<Placed>>,
    /// The time of each non-empty stream's head (outliers aside), its rank and partition, and
    /// where the line is: the next line is the least.
    heads: BinaryHeap<Reverse<(i64, usize, u32, u64)>>,
    /// Outliers taken out of their turn ([`outlier`]), to be given first.
    ready: VecDeque<(Placed, usize, u32)>,
    /// The time of the line each stream gave last, in its turn.
    before: Vec<Option<i64>>,
    max_ahead: i64,
    topics: [Arc<str>; 3],
    len: u64,
    unfinished: u64,
}

impl FileTopics {
    /// Reads `path` (to its last whole line, or to its end if `complete`) and places each line;
    /// `consumed(topic, partition)` gives the position up to which a topic partition was rated.
    pub fn open(
        path: PathBuf,
        partitions: u32,
        complete: bool,
        consumed: impl Fn(&str, u32) -> u64,
        max_ahead: i64,
    ) -> std::io::Result<FileTopics> {
        let mut reader = FileSource::open(path.clone(), 0)?.complete(complete);
        let len = reader.size_in_bytes();
        let mut streams: Vec<VecDeque<Placed>> = (0..partitions as usize * 3)
            .map(|_| VecDeque::new())
            .collect();
        let mut numbers = Numbers::default();
        let mut last_time = 0i64;
        let done: Vec<u64> = (0..partitions)
            .flat_map(|p| TOPICS.map(|t| consumed(t, p)))
            .collect();
        let mut lines = Vec::new();
        loop {
            lines.clear();
            reader.next_batch(65_536, &mut lines)?;
            if lines.is_empty() {
                break;
            }
            for line in &lines {
                let (rank, partition) = match rating::codec::parse_json(&line.bytes) {
                    Ok(input) if !line.oversized => {
                        numbers.learn(&input);
                        last_time = input.time().0.saturating_mul(1000);
                        let p = numbers.key(&input).partition(partitions);
                        (Topics::rank_of(&input), p)
                    }
                    _ => (2, 0),
                };
                let stream = partition as usize * 3 + rank;
                if line.position > done[stream] {
                    streams[stream].push_back(Placed {
                        at: line.at,
                        end: line.position,
                        time: last_time,
                        oversized: line.oversized,
                    });
                }
            }
        }
        let unfinished = reader.unfinished();
        let mut topics = FileTopics {
            file: File::open(&path)?,
            path,
            streams,
            heads: BinaryHeap::new(),
            ready: VecDeque::new(),
            before: vec![None; partitions as usize * 3],
            max_ahead,
            topics: TOPICS.map(Arc::from),
            len,
            unfinished,
        };
        for i in 0..topics.streams.len() {
            topics.head(i % 3, (i / 3) as u32);
        }
        Ok(topics)
    }

    /// Puts a stream's first line among the heads, or among the ready if it is an outlier.
    fn head(&mut self, rank: usize, partition: u32) {
        let stream = partition as usize * 3 + rank;
        while let Some(next) = self.streams[stream].front() {
            let after = self.streams[stream].get(1).map(|l| l.time);
            if !outlier(next.time, self.before[stream], after, self.max_ahead) {
                self.heads
                    .push(Reverse((next.time, rank, partition, next.at)));
                return;
            }
            let line = self.streams[stream].pop_front().expect("a front");
            self.ready.push_back((line, rank, partition));
        }
    }

    /// The file's size in bytes, for progress.
    pub fn size_in_bytes(&self) -> u64 {
        self.len
    }

    /// The bytes of a last line without its newline that were left for a later run.
    pub fn unfinished(&self) -> u64 {
        self.unfinished
    }

    /// The line at `placed`, as [`FileSource`] gives it.
    fn read(&self, placed: &Placed, rank: usize, partition: u32) -> std::io::Result<Line> {
        let whole = (placed.end - placed.at) as usize;
        let mut bytes = vec![0u8; whole.min(MAX_LINE_BYTES + 1)];
        self.file.read_exact_at(&mut bytes, placed.at)?;
        if !placed.oversized && bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        Ok(Line {
            topic: Some(self.topics[rank].clone()),
            partition,
            position: placed.end,
            at: placed.at,
            bytes,
            oversized: placed.oversized,
            far_ahead: false,
        })
    }
}

impl Source for FileTopics {
    fn next_batch(&mut self, max: usize, out: &mut Vec<Line>) -> std::io::Result<()> {
        while out.len() < max {
            if let Some((placed, rank, partition)) = self.ready.pop_front() {
                let mut line = self.read(&placed, rank, partition)?;
                line.far_ahead = true;
                out.push(line);
                continue;
            }
            let Some(Reverse((_, rank, partition, at))) = self.heads.pop() else {
                break;
            };
            let stream = partition as usize * 3 + rank;
            debug_assert_eq!(self.streams[stream].front().map(|l| l.at), Some(at));
            let placed = self.streams[stream]
                .pop_front()
                .expect("a head is a stream's first line");
            out.push(self.read(&placed, rank, partition)?);
            self.before[stream] = Some(placed.time);
            self.head(rank, partition);
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("file:{} as topics", self.path.display())
    }
}
