//! What a store remembers of each input file it read: the file's identity (its name, its size
//! and a digest of its head) and whether it was read to its end. A file is known by its name;
//! the size and the head tell the same file fed again (skipped, or resumed where it stopped)
//! from a file that changed after it was read, or another file of the same name (an error:
//! rating it would charge its lines twice or lose them).

use sha2::{Digest, Sha256};
use std::fs::File;
use std::os::unix::fs::FileExt;

/// The head of a file the record's digest covers: enough to tell two CDR files apart, cheap
/// to read again at every start.
pub const HEAD_BYTES: u64 = 64 << 10;

/// The longest file name a store records (Linux's own limit).
pub const MAX_NAME_BYTES: usize = 255;

/// A file as recorded in the store (`meta` `file/<name>`, JSON), written with the batch that
/// commits its lines.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRecord {
    /// The file's size when it was last opened for rating.
    pub size: u64,
    /// How many bytes of its start `head_sha256` covers: the size, up to [`HEAD_BYTES`].
    pub head_bytes: u64,
    pub head_sha256: String,
    /// Every line was rated and the file was complete (its writer had closed it).
    pub finished: bool,
}

/// What to do with a file, given its record.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Never read: rate it from its start.
    New,
    /// Read in part (or read to its end while its writer might still append): resume at the
    /// positions stored for it.
    Resume,
    /// Read to its end before: fed again, it is skipped.
    Finished,
}

impl FileRecord {
    /// The record of `file` as it is now (`size` bytes): its head's digest.
    pub fn of(file: &File, size: u64) -> std::io::Result<FileRecord> {
        let head_bytes = size.min(HEAD_BYTES);
        Ok(FileRecord {
            size,
            head_bytes,
            head_sha256: head_digest(file, head_bytes)?,
            finished: false,
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a record serializes")
    }

    pub fn from_bytes(name: &str, bytes: &[u8]) -> std::io::Result<FileRecord> {
        serde_json::from_slice(bytes).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the store's record of file {name} is unreadable: {e}"),
            )
        })
    }

    /// What to do with `file` (now `size` bytes) named `name`, which this record describes;
    /// an error if it is not the file that was read.
    pub fn verdict(&self, name: &str, file: &File, size: u64) -> std::io::Result<Verdict> {
        let differs = |what: String| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{name}: a file of this name was read before ({} bytes, head sha256 {}) and \
                     this one {what}: it changed after it was read, or it is another file of the \
                     same name (give it a name of its own)",
                    self.size, self.head_sha256
                ),
            )
        };
        if size < self.size {
            return Err(differs(format!("is shorter ({size} bytes)")));
        }
        if head_digest(file, self.head_bytes)? != self.head_sha256 {
            return Err(differs(format!(
                "begins otherwise (the sha256 of its first {} bytes differs)",
                self.head_bytes
            )));
        }
        if self.finished && size != self.size {
            return Err(differs(format!(
                "is longer ({size} bytes), though it was complete when read to its end"
            )));
        }
        Ok(if self.finished {
            Verdict::Finished
        } else {
            Verdict::Resume
        })
    }
}

fn head_digest(file: &File, bytes: u64) -> std::io::Result<String> {
    let mut head = vec![0u8; bytes as usize];
    file.read_exact_at(&mut head, 0)?;
    Ok(Sha256::digest(&head)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The name a file is recorded by: its last path component, which must be UTF-8, and neither
/// empty nor longer than [`MAX_NAME_BYTES`].
pub fn name_of(path: &std::path::Path) -> std::io::Result<String> {
    let bad = |why: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{}: {why}", path.display()),
        )
    };
    let name = path.file_name().ok_or_else(|| bad("names no file"))?;
    let name = name
        .to_str()
        .ok_or_else(|| bad("the file's name is not UTF-8: rename it"))?;
    if name.len() > MAX_NAME_BYTES {
        return Err(bad("the file's name is longer than 255 bytes"));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(bytes: &[u8]) -> (tempfile::NamedTempFile, u64) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        (f, bytes.len() as u64)
    }

    #[test]
    fn the_same_file_resumes_and_a_changed_one_is_refused() {
        let (f, size) = file(b"one\ntwo\n");
        let record = FileRecord::of(f.as_file(), size).unwrap();
        assert_eq!(record.head_bytes, 8);
        assert_eq!(
            record.verdict("a", f.as_file(), size).unwrap(),
            Verdict::Resume
        );

        // Appended to: the same file, grown (its writer was still writing).
        let (g, grown) = file(b"one\ntwo\nthree\n");
        assert_eq!(
            record.verdict("a", g.as_file(), grown).unwrap(),
            Verdict::Resume
        );
        // Cut short, or another file of the same name.
        let (h, short) = file(b"one\n");
        let e = record.verdict("a", h.as_file(), short).unwrap_err();
        assert!(e.to_string().contains("shorter"), "{e}");
        let (k, same) = file(b"uno\ntwo\n");
        let e = record.verdict("a", k.as_file(), same).unwrap_err();
        assert!(e.to_string().contains("begins otherwise"), "{e}");
    }

    #[test]
    fn a_finished_file_is_skipped_and_may_not_grow() {
        let (f, size) = file(b"one\n");
        let record = FileRecord {
            finished: true,
            ..FileRecord::of(f.as_file(), size).unwrap()
        };
        assert_eq!(
            record.verdict("a", f.as_file(), size).unwrap(),
            Verdict::Finished
        );
        let (g, grown) = file(b"one\ntwo\n");
        let e = record.verdict("a", g.as_file(), grown).unwrap_err();
        assert!(e.to_string().contains("complete when read"), "{e}");
        let bytes = record.to_bytes();
        assert_eq!(FileRecord::from_bytes("a", &bytes).unwrap(), record);
        assert!(FileRecord::from_bytes("a", b"{\"size\":1}").is_err());
    }

    #[test]
    fn only_the_head_is_digested() {
        let big = vec![b'x'; (HEAD_BYTES + 10) as usize];
        let (f, size) = file(&big);
        let record = FileRecord::of(f.as_file(), size).unwrap();
        assert_eq!(record.head_bytes, HEAD_BYTES);
    }

    #[test]
    fn names_are_checked() {
        use std::os::unix::ffi::OsStrExt;
        assert_eq!(name_of("/x/y/cdr-1.jsonl".as_ref()).unwrap(), "cdr-1.jsonl");
        assert!(name_of("/".as_ref()).is_err());
        let odd = std::ffi::OsStr::from_bytes(b"cdr-\xff.jsonl");
        assert!(name_of(std::path::Path::new(odd)).is_err());
        assert!(name_of(std::path::Path::new(&"n".repeat(256))).is_err());
    }
}
