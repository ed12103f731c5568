//! Every key the store writes, built here and nowhere else: the log's and the index's byte keys,
//! and the `meta` family's names. A key's layout never changes in place (ARCHITECTURE.md, "What
//! must never change in place"): a store written by one build is read by the next.

use rating::{Month, Msisdn};

/// `log`: `[partition u32 BE][seq u64 BE]`, so a partition's entries are one range, in order.
pub fn log_key(partition: u32, seq: u64) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..4].copy_from_slice(&partition.to_be_bytes());
    key[4..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// `by_account`: `[length u8][account id, at most 255 bytes][log key]`.
pub fn account_key(account: &str, partition: u32, seq: u64) -> Vec<u8> {
    let id = &account.as_bytes()[..account.len().min(255)];
    let mut key = Vec::with_capacity(1 + id.len() + 12);
    key.push(id.len() as u8);
    key.extend_from_slice(id);
    key.extend_from_slice(&log_key(partition, seq));
    key
}

/// `seen` (only read, to move an older store's ids into its records): `[length u8][account][id]`.
pub fn seen_key(account: &str, id: &str) -> Vec<u8> {
    let account = &account.as_bytes()[..account.len().min(255)];
    let mut key = Vec::with_capacity(1 + account.len() + id.len());
    key.push(account.len() as u8);
    key.extend_from_slice(account);
    key.extend_from_slice(id.as_bytes());
    key
}

/// `reports`: a number's free report of a month taken, `[msisdn u64 BE][month u32 BE]`.
pub fn free_report_key(msisdn: Msisdn, month: Month) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&msisdn.0.to_be_bytes());
    key[8..].copy_from_slice(&month.0.to_be_bytes());
    key
}

/// `holders`: the account that holds a number now, `[msisdn u64 BE]`; the value is its id.
pub fn holder_key(msisdn: Msisdn) -> [u8; 8] {
    msisdn.0.to_be_bytes()
}

/// `due`: an account whose periodic work may be due from a time on (`rating::due_from`),
/// `[partition u32 BE][time, i64 with its sign bit flipped, BE][account id]`: a partition's
/// accounts in the order their work falls due.
pub fn due_key(partition: u32, time: rating::Timestamp, account: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(12 + account.len());
    key.extend_from_slice(&partition.to_be_bytes());
    key.extend_from_slice(&due_time(time));
    key.extend_from_slice(account.as_bytes());
    key
}

/// A time as a `due` key orders it: negative times sort before positive ones.
pub fn due_time(time: rating::Timestamp) -> [u8; 8] {
    ((time.0 as u64) ^ (1 << 63)).to_be_bytes()
}

/// The time and account a `due` key names, if it is one of `partition`'s.
pub fn due_place(partition: u32, key: &[u8]) -> Option<(rating::Timestamp, &str)> {
    let rest = key.strip_prefix(&partition.to_be_bytes()[..])?;
    let time = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?) ^ (1 << 63);
    let account = std::str::from_utf8(&rest[8..]).ok()?;
    Some((rating::Timestamp(time as i64), account))
}

/// `meta`: the tag of the catalog the `due` index was made with (its inactivity rules set the
/// times); absent: the store has no `holders` or `due` index yet.
pub const INDEXED_WITH: &str = "indexed_with";

/// `meta`: what the store's source is (`file`, `file-topics`, `kafka`).
pub const SOURCE: &str = "source";
/// `meta`: the id window, in seconds, fixed when the store is made.
pub const WINDOW: &str = "window";
/// `meta`: the partition count, fixed when the store is made.
pub const PARTITIONS: &str = "partitions";
/// `meta`: the tag of the catalog in force.
pub const CATALOG_IN_FORCE: &str = "catalog";
/// `meta`: the latest event time accepted, over all partitions.
pub const WATERMARK: &str = "watermark";

/// `meta`: the layout of the read models (`projections::models::LAYOUT`); absent: layout 1.
pub const MODELS_LAYOUT: &str = "models_layout";

/// `meta`: a catalog's bytes, by its tag.
pub fn catalog(tag: u64) -> String {
    format!("catalog/{tag:016x}")
}

/// `meta`: a source position: a file's (`pos/<p>`) or a topic partition's (`pos/<topic>/<p>`).
pub fn position(topic: Option<&str>, partition: u32) -> String {
    match topic {
        None => format!("pos/{partition}"),
        Some(topic) => format!("pos/{topic}/{partition}"),
    }
}

/// `meta`: every input file's record starts with this.
pub const FILE_RECORDS: &str = "file/";

/// `meta`: the record of the input file `name` (`crate::file_record::FileRecord`, JSON).
pub fn file(name: &str) -> String {
    format!("{FILE_RECORDS}{name}")
}

/// `meta`: the next sequence number of a partition's log.
pub fn sequence(partition: u32) -> String {
    format!("seq/{partition}")
}

/// `meta`: the latest event time a partition accepted.
pub fn partition_watermark(partition: u32) -> String {
    format!("watermark/{partition}")
}

/// `meta`: the records of a partition's accounts are current as of this sequence number.
pub fn checkpoint(partition: u32) -> String {
    format!("checkpoint/{partition}")
}

/// `meta`: the changelog offset a partition's writes reached.
pub fn changelog_offset(partition: u32) -> String {
    format!("changelog/{partition}")
}

/// `meta`: how far the outbox published a partition's log.
pub fn published(partition: u32) -> String {
    format!("published/{partition}")
}

/// `meta`: a partition's counter `name` (`stats/<p>/<name>`); with no partition, a store's from
/// before partitions kept their own (`stats/<name>`, no longer written).
pub fn counter(partition: Option<u32>, name: &str) -> String {
    match partition {
        Some(partition) => format!("stats/{partition}/{name}"),
        None => format!("stats/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layouts of stores already written.
    #[test]
    fn keys_keep_their_layouts() {
        assert_eq!(log_key(1, 2), [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(account_key("AB", 1, 2)[..3], [2, b'A', b'B']);
        assert_eq!(account_key("AB", 1, 2)[3..], log_key(1, 2));
        assert_eq!(seen_key("A", "x"), [1, b'A', b'x']);
        assert_eq!(holder_key(Msisdn(0x0102)), [0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(
            due_key(1, rating::Timestamp(2), "A"),
            [0, 0, 0, 1, 0x80, 0, 0, 0, 0, 0, 0, 2, b'A']
        );
        let early = due_key(1, rating::Timestamp(-5), "B");
        assert!(early < due_key(1, rating::Timestamp(0), "A"));
        assert_eq!(due_place(1, &early), Some((rating::Timestamp(-5), "B")));
        assert_eq!(due_place(2, &early), None);
        assert_eq!(catalog(0xab), "catalog/00000000000000ab");
        assert_eq!(position(None, 0), "pos/0");
        assert_eq!(position(Some("ratel.usage"), 2), "pos/ratel.usage/2");
        assert_eq!(
            position(Some("file:cdr 1.jsonl:usage"), 2),
            "pos/file:cdr 1.jsonl:usage/2"
        );
        assert_eq!(file("cdr 1.jsonl"), "file/cdr 1.jsonl");
        assert_eq!(counter(Some(1), "read"), "stats/1/read");
        assert_eq!(counter(None, "read"), "stats/read");
        for (key, expected) in [
            (sequence(3), "seq/3"),
            (partition_watermark(3), "watermark/3"),
            (checkpoint(3), "checkpoint/3"),
            (changelog_offset(3), "changelog/3"),
            (published(3), "published/3"),
            (INDEXED_WITH.to_string(), "indexed_with"),
        ] {
            assert_eq!(key, expected);
        }
    }
}
