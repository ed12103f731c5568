//! serde for a `SmallVec` field read from untrusted bytes. smallvec's own `Deserialize` reserves
//! the length the bytes claim before reading an element, so a corrupt length asks for gigabytes
//! (found by the `records` fuzz target); going through `Vec`, whose reservation serde caps, reads
//! the same wire form (a sequence) with memory bounded by the record's size.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::{Array, SmallVec};

pub fn serialize<S: Serializer, A: Array>(
    items: &SmallVec<A>,
    serializer: S,
) -> Result<S::Ok, S::Error>
where
    A::Item: Serialize,
{
    items.as_slice().serialize(serializer)
}

pub fn deserialize<'de, D: Deserializer<'de>, A: Array>(
    deserializer: D,
) -> Result<SmallVec<A>, D::Error>
where
    A::Item: Deserialize<'de>,
{
    Vec::<A::Item>::deserialize(deserializer).map(SmallVec::from_vec)
}
