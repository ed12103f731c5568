//! Log entries: what the engine appends for every input line, in a versioned binary form.
//!
//! `[version: u8][kind: u8][fields]`; a rated entry keeps the input exactly as the rating core
//! encodes it and the decision's bytes, so that replay can compare decisions byte for byte.

use rating::Timestamp;

pub const VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// An input was decided (rated, rejected, a duplicate, or a tick the engine generated).
    Rated {
        position: u64,
        input: Vec<u8>,
        decision: Vec<u8>,
    },
    /// A line that could not be read as an input: its bytes, where it was and why. `topic` names
    /// the Kafka topic it came from (the log's partition is its partition); empty for a file.
    Dead {
        topic: String,
        position: u64,
        raw: Vec<u8>,
        reason: String,
    },
    /// From here on, decisions are made with this catalog.
    Catalog {
        tag: u64,
        fingerprint: [u8; 32],
        effective: Timestamp,
        label: String,
    },
}

/// A rated entry's position, input bytes and decision bytes.
pub type RatedParts<'a> = (u64, &'a [u8], &'a [u8]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EntryError {
    #[error("log entry is empty or truncated")]
    Truncated,
    #[error("log entry version {0} is unknown (this build reads {VERSION})")]
    Version(u8),
    #[error("unknown log entry kind {0}")]
    Kind(u8),
    #[error("log entry text is not UTF-8")]
    Utf8,
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], EntryError> {
        if self.0.len() < count {
            return Err(EntryError::Truncated);
        }
        let (a, b) = self.0.split_at(count);
        self.0 = b;
        Ok(a)
    }
    fn u64(&mut self) -> Result<u64, EntryError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn bytes(&mut self) -> Result<&'a [u8], EntryError> {
        let n = u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")) as usize;
        self.take(n)
    }
}

impl Entry {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(VERSION);
        match self {
            Entry::Rated {
                position,
                input,
                decision,
            } => {
                out.push(1);
                out.extend_from_slice(&position.to_le_bytes());
                put_bytes(out, input);
                out.extend_from_slice(decision);
            }
            Entry::Dead {
                topic,
                position,
                raw,
                reason,
            } => {
                // Kind 2 is a file's line; kind 4 (added later, so kind 2 keeps its layout)
                // also names the topic.
                if topic.is_empty() {
                    out.push(2);
                } else {
                    out.push(4);
                    put_bytes(out, topic.as_bytes());
                }
                out.extend_from_slice(&position.to_le_bytes());
                put_bytes(out, raw);
                out.extend_from_slice(reason.as_bytes());
            }
            Entry::Catalog {
                tag,
                fingerprint,
                effective,
                label,
            } => {
                out.push(3);
                out.extend_from_slice(&tag.to_le_bytes());
                out.extend_from_slice(fingerprint);
                out.extend_from_slice(&effective.0.to_le_bytes());
                out.extend_from_slice(label.as_bytes());
            }
        }
    }

    /// A rated entry's position, input and decision, borrowed from its bytes (`None`: another
    /// kind of entry): a pass over the whole log reads them without copying.
    pub fn rated_parts(bytes: &[u8]) -> Result<Option<RatedParts<'_>>, EntryError> {
        let mut r = Reader(bytes);
        let version = r.take(1)?[0];
        if version != VERSION {
            return Err(EntryError::Version(version));
        }
        if r.take(1)?[0] != 1 {
            return Ok(None);
        }
        let position = r.u64()?;
        let input = r.bytes()?;
        Ok(Some((position, input, r.0)))
    }

    pub fn decode(bytes: &[u8]) -> Result<Entry, EntryError> {
        if let Some((position, input, decision)) = Entry::rated_parts(bytes)? {
            return Ok(Entry::Rated {
                position,
                input: input.to_vec(),
                decision: decision.to_vec(),
            });
        }
        let mut r = Reader(bytes);
        r.take(1)?;
        match r.take(1)?[0] {
            kind @ (2 | 4) => {
                let topic = if kind == 4 {
                    String::from_utf8(r.bytes()?.to_vec()).map_err(|_| EntryError::Utf8)?
                } else {
                    String::new()
                };
                let position = r.u64()?;
                let raw = r.bytes()?.to_vec();
                let reason = String::from_utf8(r.0.to_vec()).map_err(|_| EntryError::Utf8)?;
                Ok(Entry::Dead {
                    topic,
                    position,
                    raw,
                    reason,
                })
            }
            3 => {
                let tag = r.u64()?;
                let fingerprint: [u8; 32] = r.take(32)?.try_into().expect("32 bytes");
                let effective = Timestamp(r.u64()? as i64);
                let label = String::from_utf8(r.0.to_vec()).map_err(|_| EntryError::Utf8)?;
                Ok(Entry::Catalog {
                    tag,
                    fingerprint,
                    effective,
                    label,
                })
            }
            k => Err(EntryError::Kind(k)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_truncation_is_an_error() {
        let cases = [
            Entry::Rated {
                position: 42,
                input: vec![1, 2, 3],
                decision: vec![9; 20],
            },
            Entry::Dead {
                topic: String::new(),
                position: 7,
                raw: b"{not json".to_vec(),
                reason: "invalid input: EOF".into(),
            },
            Entry::Dead {
                topic: "ratel.usage".into(),
                position: 12,
                raw: b"\xff".to_vec(),
                reason: "not UTF-8".into(),
            },
            Entry::Catalog {
                tag: 5,
                fingerprint: [3; 32],
                effective: Timestamp(1_700_000_000),
                label: "x 1".into(),
            },
        ];
        for e in cases {
            let mut b = Vec::new();
            e.encode(&mut b);
            assert_eq!(Entry::decode(&b).unwrap(), e);
            for cut in 0..b.len().min(14) {
                let _ = Entry::decode(&b[..cut]); // never panics
            }
        }
        assert_eq!(Entry::decode(&[2, 1]), Err(EntryError::Version(2)));
        assert_eq!(Entry::decode(&[]), Err(EntryError::Truncated));
    }
}
