//! The input files a store has read. Each file is known by its name: its record
//! (`crate::file_record`) and each of its topic partitions' positions are committed with its
//! lines, so a file is opened where it stopped, skipped once it was read to its end, and
//! refused if it changed after it was read.

use super::{Commit, Store, StoreError};
use crate::file_record::{name_of, FileRecord, Verdict};
use crate::file_topics::{topic_names, FileTopics, Opened, Placement, LEGACY_TOPICS};
use crate::partition::Numbers;
use std::path::Path;

/// Opens the file at `path` where this store stopped reading it, keyed by the accounts
/// `numbers` knows (and learns from it). A file with nothing left to rate has its record
/// written at once (there is no batch to carry it).
pub fn open(
    store: &Store,
    path: &Path,
    placement: Placement,
    numbers: &mut Numbers,
) -> Result<Opened, StoreError> {
    let io = |e: std::io::Error| StoreError::Io(e.to_string());
    let name = name_of(path).map_err(io)?;
    let recorded = match store.meta_bytes(&crate::keys::file(&name))? {
        Some(bytes) => Some(FileRecord::from_bytes(&name, &bytes).map_err(io)?),
        None => None,
    };
    let at = |e: std::io::Error| StoreError::Io(format!("{}: {e}", path.display()));
    if let Some(record) = &recorded {
        let file = std::fs::File::open(path).map_err(at)?;
        let size = file.metadata().map_err(at)?.len();
        if record.verdict(&name, &file, size).map_err(io)? == Verdict::Finished {
            return Ok(Opened::Finished);
        }
    }
    let (positions, adopted) = positions(store, &name, placement.partitions, recorded.is_some())?;
    let consumed = |rank: usize, partition: u32| {
        positions
            .get(partition as usize * 3 + rank)
            .copied()
            .unwrap_or(0)
    };
    let topics =
        FileTopics::open(path.to_path_buf(), &name, placement, consumed, numbers).map_err(at)?;
    // The file read is the file checked: it did not change in between.
    if let Some(record) = &recorded {
        let verdict = record.verdict(&name, topics.file(), topics.size_in_bytes());
        if verdict.map_err(io)? == Verdict::Finished {
            return Ok(Opened::Finished);
        }
    }
    if adopted || topics.exhausted() {
        let mut commit = Commit::default();
        if adopted {
            for (stream, topic) in (0..placement.partitions)
                .flat_map(|p| topic_names(&name).map(|t| (p, t)))
                .enumerate()
            {
                let key = crate::keys::position(Some(&topic.1), topic.0);
                store.put_meta(&mut commit, &key, &positions[stream].to_le_bytes());
            }
        }
        let record = topics.last_record().to_bytes();
        store.put_meta(&mut commit, &crate::keys::file(&name), &record);
        store.commit(commit, true)?;
    }
    Ok(Opened::Topics(Box::new(topics)))
}

/// Each topic partition's position in file `name` (`partition * 3 + rank`), and whether they
/// are the positions of a store made before files had names of their own, which read one file
/// and is taken to be reading this one (as it was then).
fn positions(
    store: &Store,
    name: &str,
    partitions: u32,
    recorded: bool,
) -> Result<(Vec<u64>, bool), StoreError> {
    let read = |topic: &str, p: u32| -> Result<u64, StoreError> {
        Ok(store
            .meta_u64(&crate::keys::position(Some(topic), p))?
            .unwrap_or(0))
    };
    let mut own = Vec::with_capacity(partitions as usize * 3);
    for p in 0..partitions {
        for topic in topic_names(name) {
            own.push(read(&topic, p)?);
        }
    }
    if recorded || store.meta_has_prefix(crate::keys::FILE_RECORDS)? {
        return Ok((own, false));
    }
    // Before topics, a file's lines resumed from one position, in file order.
    let single = store
        .meta_u64(&crate::keys::position(None, 0))?
        .unwrap_or(0);
    let mut legacy = Vec::with_capacity(own.len());
    for p in 0..partitions {
        for topic in LEGACY_TOPICS {
            legacy.push(read(topic, p)?.max(single));
        }
    }
    let adopted = legacy.iter().any(|&position| position > 0);
    Ok((if adopted { legacy } else { own }, adopted))
}
