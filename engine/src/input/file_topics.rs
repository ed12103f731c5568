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
//! a Kafka source stores offsets, under topic names of the file's own (`file:<name>:usage`):
//! a store reads any number of files, each resumed where it stopped (`crate::file_record`
//! tells the same file from a changed one). A store rated before files had names of their own
//! holds its one file's positions under the names of [`LEGACY_TOPICS`].

use crate::file_record::FileRecord;
use crate::partition::Numbers;
use crate::source::{FileMark, FileSource, Line, Source, MAX_LINE_BYTES};
use crate::topics::{outlier, Topics};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

/// The kinds of a file's topics, in rank order (commands, payments, usage).
const KINDS: [&str; 3] = ["commands", "payments", "usage"];

/// The topic names a store made before files had names of their own gave every file's lines.
pub const LEGACY_TOPICS: [&str; 3] = ["file:commands", "file:payments", "file:usage"];

/// The topic names of file `name`'s lines, in rank order.
pub fn topic_names(name: &str) -> [String; 3] {
    KINDS.map(|kind| format!("file:{name}:{kind}"))
}

/// Whether a stored source position or a line's topic belongs to a file read as topics
/// (Kafka topic names cannot hold a colon).
pub fn is_file_topic(topic: &str) -> bool {
    topic.starts_with("file:")
}

/// How a file's lines are placed: over how many partitions; whether the file is complete (its
/// writer closed it, so a last line without its newline is a line, and the file can be
/// finished); how far ahead of its topic a line may be before it is taken out of turn.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    pub partitions: u32,
    pub complete: bool,
    pub max_ahead: i64,
}

/// A named file opened against what the store remembers of it.
pub enum Opened {
    /// Its lines not yet rated (perhaps none).
    Topics(Box<FileTopics>),
    /// It was read to its end before: fed again, it is skipped.
    Finished,
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
    /// The file's record as its lines are committed, and as its last line is (finished, if the
    /// file is complete and whole).
    reading: Arc<FileMark>,
    last: Arc<FileMark>,
}

impl FileTopics {
    /// Reads `path` (to its last whole line, or to its end if complete) and places each line,
    /// keyed by the accounts `numbers` knows and learns; `consumed(rank, partition)` gives the
    /// position up to which a topic partition was rated.
    pub fn open(
        path: PathBuf,
        name: &str,
        placement: Placement,
        consumed: impl Fn(usize, u32) -> u64,
        numbers: &mut Numbers,
    ) -> std::io::Result<FileTopics> {
        let partitions = placement.partitions;
        let mut reader = FileSource::open(path.clone(), 0)?.complete(placement.complete);
        let len = reader.size_in_bytes();
        let done: Vec<u64> = (0..partitions)
            .flat_map(|p| [0, 1, 2].map(|rank| consumed(rank, p)))
            .collect();
        let streams = place(&mut reader, partitions, &done, numbers)?;
        let unfinished = reader.unfinished();
        let file = File::open(&path)?;
        let record = FileRecord::of(&file, len)?;
        let mark = |finished| {
            Arc::new(FileMark {
                name: name.to_string(),
                record: FileRecord {
                    finished,
                    ..record.clone()
                },
            })
        };
        let mut topics = FileTopics {
            file,
            path,
            streams,
            heads: BinaryHeap::new(),
            ready: VecDeque::new(),
            before: vec![None; partitions as usize * 3],
            max_ahead: placement.max_ahead,
            topics: topic_names(name).map(Arc::from),
            len,
            unfinished,
            reading: mark(false),
            last: mark(placement.complete && unfinished == 0),
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

    /// The file as opened (its record was taken from this handle).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Whether every line was given.
    pub fn exhausted(&self) -> bool {
        self.ready.is_empty() && self.heads.is_empty()
    }

    /// The record its last line carries (finished, if the file is complete and whole).
    pub fn last_record(&self) -> &FileRecord {
        &self.last.record
    }

    /// The record the last line given so far carries: once every line is given, the record
    /// that says whether the file is finished.
    fn mark(&self) -> Arc<FileMark> {
        if self.exhausted() {
            self.last.clone()
        } else {
            self.reading.clone()
        }
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
            file: None,
        })
    }
}

/// Every line of the file not yet rated (`done`: each stream's position), in the stream of
/// its topic partition, in the file's order.
fn place(
    reader: &mut FileSource,
    partitions: u32,
    done: &[u64],
    numbers: &mut Numbers,
) -> std::io::Result<Vec<VecDeque<Placed>>> {
    let mut streams: Vec<VecDeque<Placed>> = (0..partitions as usize * 3)
        .map(|_| VecDeque::new())
        .collect();
    let mut last_time = 0i64;
    let mut lines = Vec::new();
    loop {
        lines.clear();
        reader.next_batch(65_536, &mut lines)?;
        if lines.is_empty() {
            return Ok(streams);
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
}

impl Source for FileTopics {
    fn next_batch(&mut self, max: usize, out: &mut Vec<Line>) -> std::io::Result<()> {
        let start = out.len();
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
            let line = self.read(&placed, rank, partition)?;
            self.before[stream] = Some(placed.time);
            self.head(rank, partition);
            out.push(line);
        }
        // The batch's last line carries the file's record, committed with it: a batch is
        // committed whole, so one line a batch is enough, and the file's last line says it is
        // finished.
        if out.len() > start {
            let mark = self.mark();
            out.last_mut().expect("a line was given").file = Some(mark);
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("file:{} as topics", self.path.display())
    }
}
