//! One message of the directory topic that instances of `ratel online` share (a compacted topic
//! of one partition, which every instance writes and follows whole):
//! - `owner/<partition>` → `{"host": H, "uri": U}`: the instance that owns the partition, by its
//!   Diameter identity (Origin-Host) and the Diameter URI a redirected peer connects to; an
//!   empty value (a tombstone) says nothing of any owner;
//! - `number/<msisdn>/<partition>` → `held`: the partition holds the number; an empty value: it
//!   no longer does.
//!
//! A message of another form (a later version's, or damage) decodes to nothing, and is skipped.

/// The longest Diameter identity or URI an owner may name.
pub const MAX_IDENTITY_BYTES: usize = 255;
/// The most partitions an input topic may have (the engine's limit).
pub const MAX_PARTITIONS: u32 = 4096;
/// The largest number: E.164 numbers have at most 15 digits.
pub const MAX_MSISDN: u64 = 999_999_999_999_999;

/// An instance's Diameter identity: its Origin-Host, and the Diameter URI (RFC 6733, 4.3.1) a
/// redirected peer connects to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    pub host: String,
    pub uri: String,
}

impl Owner {
    /// Whether it may be published: both parts non-empty and within the limit.
    pub fn valid(&self) -> bool {
        let fits = |text: &str| !text.is_empty() && text.len() <= MAX_IDENTITY_BYTES;
        fits(&self.host) && fits(&self.uri)
    }
}

/// One directory message, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// `owner` owns `partition` (none: the owner is forgotten).
    Owner {
        partition: u32,
        owner: Option<Owner>,
    },
    /// `partition` holds `msisdn`, or no longer does.
    Number {
        msisdn: u64,
        partition: u32,
        held: bool,
    },
}

const HELD: &[u8] = b"held";

impl Entry {
    /// The message's key.
    pub fn key(&self) -> String {
        match self {
            Entry::Owner { partition, .. } => format!("owner/{partition}"),
            Entry::Number {
                msisdn, partition, ..
            } => format!("number/{msisdn}/{partition}"),
        }
    }

    /// The message's value: none is a tombstone.
    pub fn value(&self) -> Option<Vec<u8>> {
        match self {
            Entry::Owner { owner, .. } => owner
                .as_ref()
                .map(|o| serde_json::to_vec(o).expect("an owner serializes")),
            Entry::Number { held, .. } => held.then(|| HELD.to_vec()),
        }
    }

    /// A message read from the topic, or none if it is not one this version writes.
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Option<Entry> {
        let key = std::str::from_utf8(key).ok()?;
        let mut parts = key.split('/');
        let entry = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("owner"), Some(p), None, None) => {
                let owner = match value {
                    None => None,
                    Some(v) => Some(
                        serde_json::from_slice::<Owner>(v)
                            .ok()
                            .filter(Owner::valid)?,
                    ),
                };
                Entry::Owner {
                    partition: partition(p)?,
                    owner,
                }
            }
            (Some("number"), Some(m), Some(p), None) => Entry::Number {
                msisdn: number(m)?,
                partition: partition(p)?,
                held: match value {
                    None => false,
                    Some(HELD) => true,
                    Some(_) => return None,
                },
            },
            _ => return None,
        };
        // One spelling a message: "007" or "+7" is not the key "7" would be.
        (entry.key() == key).then_some(entry)
    }
}

fn partition(text: &str) -> Option<u32> {
    text.parse().ok().filter(|&p| p < MAX_PARTITIONS)
}

fn number(text: &str) -> Option<u64> {
    text.parse().ok().filter(|&m| m <= MAX_MSISDN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(host: &str) -> Owner {
        Owner {
            host: host.into(),
            uri: format!("aaa://{host}:3868;transport=tcp"),
        }
    }

    #[test]
    fn entries_read_back_as_written() {
        let entries = [
            Entry::Owner {
                partition: 7,
                owner: Some(owner("a.ratel")),
            },
            Entry::Owner {
                partition: 0,
                owner: None,
            },
            Entry::Number {
                msisdn: 79_001_000_001,
                partition: 4095,
                held: true,
            },
            Entry::Number {
                msisdn: 1,
                partition: 0,
                held: false,
            },
        ];
        for entry in entries {
            let read = Entry::decode(entry.key().as_bytes(), entry.value().as_deref());
            assert_eq!(read, Some(entry));
        }
    }

    #[test]
    fn what_this_version_does_not_write_is_nothing() {
        let owner_json = br#"{"host":"a","uri":"aaa://a"}"#;
        let long = format!(r#"{{"host":"{}","uri":"aaa://a"}}"#, "h".repeat(256));
        let cases: [(&[u8], Option<&[u8]>); 14] = [
            (b"number/79001000001", Some(HELD)),
            (b"number/x/1", Some(HELD)),
            (b"number/1/-1", Some(HELD)),
            (b"number/1/4096", Some(HELD)),
            (b"number/0079001000001/1", Some(HELD)),
            (b"number/+79001000001/1", Some(HELD)),
            (b"number/1000000000000000/1", Some(HELD)),
            (b"number/1/2", Some(b"maybe")),
            (b"number/1/2/extra", Some(HELD)),
            (b"owner/", Some(owner_json)),
            (b"owner/1/2", Some(owner_json)),
            (b"owner/1", Some(b"{not json")),
            (b"owner/1", Some(long.as_bytes())),
            (b"\xff\xfe", Some(HELD)),
        ];
        for (key, value) in cases {
            assert_eq!(Entry::decode(key, value), None, "{key:?}");
        }
        let extra = br#"{"host":"a","uri":"u","more":1}"#;
        assert_eq!(Entry::decode(b"owner/1", Some(extra)), None);
        let empty = br#"{"host":"","uri":"u"}"#;
        assert_eq!(Entry::decode(b"owner/1", Some(empty)), None);
    }
}
