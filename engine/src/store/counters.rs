//! The counters every commit keeps, per partition: inputs read, rated, rejected, duplicate and
//! dead-lettered, ticks and derived inputs.

/// Counters kept with every commit.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub read: u64,
    pub rated: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub dead: u64,
    pub ticks: u64,
    /// Inputs the engine made from its own decisions (a transfer's credit or refund): logged,
    /// not read, and counted apart from `rated`, `rejected` and `duplicates`.
    pub derived: u64,
}

impl Counters {
    pub(super) const NAMES: [&'static str; 7] = [
        "read",
        "rated",
        "rejected",
        "duplicates",
        "dead",
        "ticks",
        "derived",
    ];
    pub(super) fn values(&self) -> [u64; 7] {
        [
            self.read,
            self.rated,
            self.rejected,
            self.duplicates,
            self.dead,
            self.ticks,
            self.derived,
        ]
    }
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Counters) {
        for (i, v) in other.values().into_iter().enumerate() {
            let sum = self.values()[i] + v;
            self.set(i, sum);
        }
    }

    /// What these counts grew by since `earlier` (counts only grow).
    pub fn since(&self, earlier: &Counters) -> Counters {
        let mut grown = Counters::default();
        for (i, (now, was)) in self.values().into_iter().zip(earlier.values()).enumerate() {
            grown.set(i, now - was);
        }
        grown
    }

    pub(super) fn set(&mut self, index: usize, value: u64) {
        match index {
            0 => self.read = value,
            1 => self.rated = value,
            2 => self.rejected = value,
            3 => self.duplicates = value,
            4 => self.dead = value,
            5 => self.ticks = value,
            _ => self.derived = value,
        }
    }
}
