//! Sources of input lines. A source yields batches of raw lines, each with the position just
//! after it, and can be reopened at a committed position: that is all the pipeline needs from a
//! file or from Kafka.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::PathBuf;

/// Lines longer than this are dead-lettered without being held whole in memory.
pub const MAX_LINE_BYTES: usize = rating::codec::MAX_INPUT_BYTES;

pub struct Line {
    /// The Kafka topic it came from; None for a file.
    pub topic: Option<std::sync::Arc<str>>,
    /// Partition (0 for a file) and the position after this line.
    pub partition: u32,
    pub position: u64,
    /// Position of the line's first byte, for dead letters.
    pub at: u64,
    pub bytes: Vec<u8>,
    /// The line was longer than the limit; `bytes` holds its start only.
    pub oversized: bool,
    /// The merge of its partition's topics gave it out of turn for being dated far ahead of
    /// the others' next lines (`file_topics::far_ahead`): it is dead-lettered, not rated.
    pub far_ahead: bool,
    /// On the last line of each batch of a file read as topics: the file's record, committed
    /// with the batch.
    pub file: Option<std::sync::Arc<FileMark>>,
}

/// The file a line came from, as the store records it with the batch that commits the line
/// (`file_record`). The file's last line carries the record that says it is finished.
#[derive(Debug, PartialEq, Eq)]
pub struct FileMark {
    pub name: String,
    pub record: crate::file_record::FileRecord,
}

pub trait Source {
    /// Up to `max` lines; an empty batch means the source is exhausted (a file) or idle.
    fn next_batch(&mut self, max: usize, out: &mut Vec<Line>) -> std::io::Result<()>;
    /// A name for positions stored in the log.
    fn describe(&self) -> String;
    /// The engine has committed these lines (the last batch): a source may acknowledge them.
    fn committed(&mut self, _lines: &[Line]) {}
    /// With `true`, a source that waits for input (a folder) returns an empty batch at once
    /// when it has nothing, and says so by [`Source::paused`]: the caller has work to finish
    /// (a batch to rate or land) before it waits. A source that never waits ignores it.
    fn yield_when_idle(&mut self, _yield_now: bool) {}
    /// The last empty batch was a pause, not the end.
    fn paused(&self) -> bool {
        false
    }
}

/// The most bytes read in search of a line's end: past it the source is no file of lines
/// (`/dev/zero`, a binary file) and reading ends with an error rather than spinning for ever.
/// A line longer than [`MAX_LINE_BYTES`] but ending within this is dead-lettered as oversized.
pub const MAX_UNBROKEN_BYTES: u64 = 64 << 20;

pub struct FileSource {
    path: PathBuf,
    reader: BufReader<File>,
    position: u64,
    len: u64,
    /// The file is whole (its writer closed it): a last line without its newline is a line.
    complete: bool,
    /// The bytes of a last line without its newline, left unread for a later run.
    unfinished: u64,
}

impl FileSource {
    pub fn open(path: PathBuf, position: u64) -> std::io::Result<FileSource> {
        let mut f = File::open(&path)?;
        let len = f.metadata()?.len();
        if position > len {
            return Err(std::io::Error::other(format!(
                "{}: committed position {position} is past the end of the file ({len} bytes): is this the same file?",
                path.display()
            )));
        }
        f.seek(SeekFrom::Start(position))?;
        Ok(FileSource {
            path,
            reader: BufReader::with_capacity(1 << 20, f),
            position,
            len,
            complete: false,
            unfinished: 0,
        })
    }

    /// Reads a last line without its newline as a line: the file is whole (its writer closed
    /// it). Without this, such a line is left for a later run, since its writer may still be
    /// appending it.
    pub fn complete(mut self, complete: bool) -> FileSource {
        self.complete = complete;
        self
    }

    /// The bytes of a last line without its newline that reading left for a later run.
    pub fn unfinished(&self) -> u64 {
        self.unfinished
    }

    /// The file's size in bytes, for progress.
    pub fn size_in_bytes(&self) -> u64 {
        self.len
    }

    pub fn position(&self) -> u64 {
        self.position
    }
}

impl FileSource {
    /// The bytes of the line at `at`, up to its end (kept) or the end of the file, and at most
    /// `MAX_LINE_BYTES + 1` of them (the rest is consumed, and the line marked oversized).
    fn read_raw_line(&mut self, at: u64) -> std::io::Result<RawLine> {
        let mut bytes = Vec::with_capacity(128);
        let mut oversized = false;
        let mut consumed = 0u64;
        let mut ended = false;
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let (chunk, done) = match memchr(buf) {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            let n = chunk.len();
            if bytes.len() + n <= MAX_LINE_BYTES + 1 {
                bytes.extend_from_slice(chunk);
            } else {
                oversized = true;
                let room = (MAX_LINE_BYTES + 1).saturating_sub(bytes.len());
                bytes.extend_from_slice(&chunk[..room.min(n)]);
            }
            self.reader.consume(n);
            consumed += n as u64;
            if done {
                ended = true;
                break;
            }
            if consumed > MAX_UNBROKEN_BYTES {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{}: no line end in the {MAX_UNBROKEN_BYTES} bytes after position \
                         {at}: not a file of JSON lines",
                        self.path.display()
                    ),
                ));
            }
        }
        Ok(RawLine {
            bytes,
            oversized,
            consumed,
            ended,
        })
    }
}

/// A line as read from the file: its bytes (at most one past the limit), whether more were
/// cut, the bytes consumed, and whether it ended with a line end.
struct RawLine {
    bytes: Vec<u8>,
    oversized: bool,
    consumed: u64,
    ended: bool,
}

impl Source for FileSource {
    fn next_batch(&mut self, max: usize, out: &mut Vec<Line>) -> std::io::Result<()> {
        while out.len() < max {
            let at = self.position;
            let RawLine {
                mut bytes,
                oversized,
                consumed,
                ended,
            } = self.read_raw_line(at)?;
            if consumed == 0 {
                break; // end of file
            }
            if !ended && !self.complete {
                // Its writer may be appending it: read it again, whole, in a later run.
                self.reader.seek(SeekFrom::Start(at))?;
                self.unfinished = consumed;
                break;
            }
            self.position += consumed;
            if bytes.last() == Some(&b'\n') {
                bytes.pop();
                if bytes.last() == Some(&b'\r') {
                    bytes.pop();
                }
            }
            if bytes.iter().all(u8::is_ascii_whitespace) && !oversized {
                // Blank lines carry nothing; their bytes still count in the position.
                continue;
            }
            out.push(Line {
                topic: None,
                partition: 0,
                position: self.position,
                at,
                bytes,
                oversized,
                far_ahead: false,
                file: None,
            });
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("file:{}", self.path.display())
    }
}

fn memchr(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&c| c == b'\n')
}
