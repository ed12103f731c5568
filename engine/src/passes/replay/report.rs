//! What a replay found: its counts, the decisions that differed and the accounts whose
//! rebuilt state differs from the stored one.

#[derive(Debug, Clone, serde::Serialize)]
pub struct Mismatch {
    pub partition: u32,
    pub seq: u64,
    pub event: String,
    pub recorded: String,
    pub replayed: String,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct ReplayReport {
    pub entries: u64,
    pub decisions: u64,
    pub dead: u64,
    pub mismatches: Vec<Mismatch>,
    /// Accounts whose rebuilt state differs from the stored state.
    pub state_differences: Vec<String>,
    pub accounts: usize,
    /// The most accounts held in memory at once; the others waited in the scratch store.
    pub held_at_most: usize,
    /// Accounts brought back from the scratch store, once each time.
    pub read_back: u64,
}

impl ReplayReport {
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty() && self.state_differences.is_empty()
    }
}

/// Keeps at most this many mismatches in a report (the count goes on).
pub(super) const MAX_REPORTED: usize = 100;
