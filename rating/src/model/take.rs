//! Units taken from one bucket (by a charge, a take), or put back into it (a refund).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Take {
    /// The bucket's id on its number.
    pub bucket: u32,
    pub units: u64,
}
