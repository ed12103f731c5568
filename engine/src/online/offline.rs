//! The offline inputs `ratel online --source` rates between groups of online requests: a file
//! or a folder (this instance owns every partition), or the input topics as a member of a
//! consumer group, whose writes go to the changelog and the directory of instances before
//! RocksDB.

use crate::changelog::Changelog;
use crate::directory::Directory;
use crate::kafka::KafkaSource;
use crate::pipeline::{Engine, EngineError};
use crate::source::Source;
use crate::store::Commit;

/// Offline inputs rated by the same engine between groups of online requests (`ratel online
/// --source`): a file or a folder, or a consumer group's share of the input topics, a batch at
/// a time.
pub struct Offline {
    reader: Reader,
    batch: usize,
    reading: Reading,
    polled: std::time::Instant,
}

enum Reader {
    /// A file or a folder: this instance owns every partition.
    Local(Box<dyn Source + Send>),
    /// The input topics, as a member of a consumer group.
    Group(Box<Membership>),
}

/// A consumer group's share of the input topics, and what every write goes through before
/// RocksDB: the changelog (so that another instance can take a partition over) and the
/// directory (so that the other instances know where the numbers are).
pub struct Membership {
    pub source: KafkaSource,
    pub changelog: Option<Changelog>,
    pub directory: Directory,
}

impl Membership {
    /// After a poll: the state read again if a partition was restored into the store, the
    /// engine told what it owns, and the partitions given claimed in the directory. True if the
    /// state was read again.
    pub(super) fn settle(&mut self, engine: &mut Engine) -> Result<bool, EngineError> {
        let restored = self.source.take_restored();
        if restored {
            engine.reload()?;
        }
        let owned: Vec<u32> = self.source.assigned().collect();
        engine.own(Some(&owned));
        let claimed = self.directory.claim(&owned).map_err(kafka_failed)?;
        if !claimed.is_empty() {
            self.put_numbers_right(engine, &claimed)?;
        }
        Ok(restored)
    }

    /// Publishes what the directory says wrongly of the numbers of `partitions` (see
    /// `Directory::differences`), from the store's index of holders.
    fn put_numbers_right(
        &mut self,
        engine: &Engine,
        partitions: &[u32],
    ) -> Result<(), EngineError> {
        let count = engine.partitions();
        // The index is read beside the directory, neither held whole (it may hold millions); a
        // failure to read it stops the comparison, and nothing is published.
        let mut failure = None;
        let held = (engine.store.all_holders()).map_while(|holder| match holder {
            Ok((msisdn, account)) => Some((
                msisdn,
                crate::partition::of_bytes(account.as_bytes(), count),
            )),
            Err(error) => {
                failure = Some(error);
                None
            }
        });
        let differences = self.directory.differences(partitions, held);
        if let Some(error) = failure {
            return Err(error.into());
        }
        let differences = differences.map_err(kafka_failed)?;
        if !differences.is_empty() {
            tracing::info!(
                numbers = differences.len(),
                ?partitions,
                "the directory put right"
            );
        }
        self.directory.publish(&differences).map_err(kafka_failed)
    }
}

fn kafka_failed(error: impl std::fmt::Display) -> EngineError {
    EngineError::Source(std::io::Error::other(error.to_string()))
}

/// Writes a rated batch: to the changelog and the directory first, when partitions are shared
/// with other instances (a crash between leaves them ahead of the store, never behind), then
/// to RocksDB, synced.
pub(super) fn write(
    engine: &Engine,
    membership: Option<&mut Membership>,
    mut commit: Commit,
) -> Result<(), EngineError> {
    if let Some(membership) = membership {
        if let Some(changelog) = &mut membership.changelog {
            changelog
                .publish(&engine.store, &mut commit)
                .map_err(kafka_failed)?;
        }
        (membership.directory)
            .publish(&commit.numbers)
            .map_err(kafka_failed)?;
    }
    engine.commit(commit)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// The last batch had lines: read on at once.
    Lines,
    /// A folder or the topics with nothing new: looked at again after [`POLL_IDLE`].
    Idle,
    /// Read to its end (a file): no more.
    Done,
}

/// How often a folder or topics with nothing new are looked at again.
const POLL_IDLE: std::time::Duration = std::time::Duration::from_millis(200);

impl Offline {
    pub fn new(mut source: Box<dyn Source + Send>, batch: usize) -> Offline {
        source.yield_when_idle(true);
        Offline::of(Reader::Local(source), batch)
    }

    /// The input topics as a member of a consumer group.
    pub fn group(mut membership: Membership, batch: usize) -> Offline {
        membership.source.yield_when_idle = true;
        Offline::of(Reader::Group(Box::new(membership)), batch)
    }

    fn of(reader: Reader, batch: usize) -> Offline {
        Offline {
            reader,
            batch,
            reading: Reading::Lines,
            polled: std::time::Instant::now(),
        }
    }

    /// This instance's identity in the directory, if it shares partitions with others.
    pub fn identify(&mut self, me: crate::directory::Owner) -> Result<(), EngineError> {
        match &mut self.reader {
            Reader::Group(membership) => membership.directory.identify(me).map_err(kafka_failed),
            Reader::Local(_) => Ok(()),
        }
    }

    /// Whether other instances may own some of the partitions (a consumer group).
    pub fn shares_partitions(&self) -> bool {
        matches!(self.reader, Reader::Group(_))
    }

    pub(super) fn membership(&mut self) -> Option<&mut Membership> {
        match &mut self.reader {
            Reader::Group(membership) => Some(membership),
            Reader::Local(_) => None,
        }
    }

    pub(super) fn directory(&self) -> Option<&Directory> {
        match &self.reader {
            Reader::Group(membership) => Some(&membership.directory),
            Reader::Local(_) => None,
        }
    }

    fn source(&mut self) -> &mut dyn Source {
        match &mut self.reader {
            Reader::Group(membership) => &mut membership.source,
            Reader::Local(source) => source.as_mut(),
        }
    }

    /// How long the decider may wait for online requests before this has work.
    pub(super) fn patience(&self) -> std::time::Duration {
        match self.reading {
            Reading::Lines => std::time::Duration::ZERO,
            Reading::Idle => POLL_IDLE.saturating_sub(self.polled.elapsed()),
            Reading::Done => std::time::Duration::from_secs(1),
        }
    }

    /// Rates and commits the source's next batch, if it is time to read one. True if the
    /// state was read again from the store (a partition was restored).
    pub(super) fn rate_next(&mut self, engine: &mut Engine) -> Result<bool, EngineError> {
        if self.reading == Reading::Done
            || (self.reading == Reading::Idle && self.polled.elapsed() < POLL_IDLE)
        {
            return Ok(false);
        }
        self.polled = std::time::Instant::now();
        let batch = self.batch;
        let mut lines = Vec::with_capacity(batch);
        self.source().next_batch(batch, &mut lines)?;
        let reloaded = match self.membership() {
            Some(membership) => membership.settle(engine)?,
            None => false,
        };
        if lines.is_empty() {
            self.reading = self.after_nothing();
            return Ok(reloaded);
        }
        self.reading = Reading::Lines;
        let commit = engine.prepare(&lines)?;
        if let Some(membership) = self.membership() {
            // A rebalance (which happens only while this thread polls) starts each partition
            // after these lines.
            membership.source.advance(&lines);
        }
        write(engine, self.membership(), commit)?;
        self.source().committed(&lines);
        Ok(reloaded)
    }

    /// What an empty batch means: a pause, or the end of a file.
    fn after_nothing(&mut self) -> Reading {
        let ended = match &self.reader {
            Reader::Group(membership) => membership.source.ended(),
            Reader::Local(source) => !source.paused(),
        };
        if !ended {
            return Reading::Idle;
        }
        eprintln!("ratel online: {} read to its end", self.source().describe());
        Reading::Done
    }
}
