//! A changelog piece and its bytes: `[VERSION][bincode Piece]`. A crate of its own, on serde,
//! serde_bytes and bincode alone, so that the fuzz target (fuzz/fuzz_targets/changelog_piece.rs)
//! depends on it as the engine does, without RocksDB.

// Product code only: a test may be a long story.
#![warn(clippy::too_many_lines)]

use serde::{Deserialize, Serialize};

/// Layout of a piece: `[VERSION][bincode Piece]`. Version 2: a batch's share carries the
/// account records only when the batch made a checkpoint (with its `checkpoint/<p>`), and a
/// restored store applies the log's tail after it. A version-1 piece carried them with every
/// batch and no checkpoint: read as version 2, its records would have the tail applied twice,
/// so it is not read (a restore stops there and the partition is rated from its inputs).
pub const VERSION: u8 = 2;
/// The most bytes of a WriteBatch one message carries (librdkafka's default limit is 1 MB).
pub const CHUNK: usize = 512 * 1024;
/// The most chunks a piece has (a share of one batch: 1 048 576 lines at most).
pub const MAX_CHUNKS: u32 = 65_536;
/// The most column families a piece names.
pub const MAX_FAMILIES: usize = 64;

/// One chunk of one partition's share of one batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Piece {
    /// The publishing run (pieces of two runs never join into one).
    pub writer: u64,
    pub partition: u32,
    /// The catalog tag in force.
    pub catalog: u64,
    /// The partition's log: next sequence number before and after the batch.
    pub from: u64,
    pub to: u64,
    /// The outbox had published the partition's log up to here when the piece was written.
    pub published: u64,
    pub chunk: u32,
    pub chunks: u32,
    /// The writer's column families by id.
    pub families: Vec<(u32, String)>,
    /// As bytes: bincode writes the same length and bytes either way, but a `Vec<u8>` goes
    /// through serde one byte at a time (three quarters of the changelog thread's time).
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

fn options() -> impl bincode::Options {
    use bincode::Options;
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_limit((CHUNK + 64 * 1024) as u64)
}

impl Piece {
    pub fn encode(&self) -> Vec<u8> {
        use bincode::Options;
        let mut out = vec![VERSION];
        bincode::DefaultOptions::new()
            .with_fixint_encoding()
            .serialize_into(&mut out, self)
            .expect("a piece serialises");
        out
    }

    /// Reads a piece from a message's bytes; anything malformed or out of bounds is an error.
    pub fn decode(bytes: &[u8]) -> Result<Piece, PieceError> {
        use bincode::Options;
        let bad = PieceError;
        let Some((&v, rest)) = bytes.split_first() else {
            return Err(bad("empty".into()));
        };
        if v != VERSION {
            return Err(bad(format!("version {v} (this build reads {VERSION})")));
        }
        let p: Piece = options()
            .deserialize(rest)
            .map_err(|e| bad(e.to_string()))?;
        if p.chunks == 0 || p.chunks > MAX_CHUNKS || p.chunk >= p.chunks {
            return Err(bad(format!("chunk {} of {}", p.chunk, p.chunks)));
        }
        if p.to < p.from {
            return Err(bad(format!("sequence {} .. {}", p.from, p.to)));
        }
        if p.data.len() > CHUNK || p.families.len() > MAX_FAMILIES {
            return Err(bad("larger than a piece may be".into()));
        }
        Ok(p)
    }
}

/// Why bytes are not a piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PieceError(pub String);

impl std::fmt::Display for PieceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PieceError {}
