//! What blocks on the heap cost: the bytes a collection asks of the allocator, and what the
//! allocator takes for them ([`crate::model::footprint`] counts an account's memory with it).

use rustc_hash::FxHashMap;
use std::mem::size_of;

/// What the allocator takes for a block on the heap beyond the bytes asked for: glibc's
/// eight-byte header, and the rounding of every block to sixteen bytes (half of it on
/// average).
pub(crate) const ALLOCATION: usize = 16;

/// The heap a vector's elements take (none while it has never allocated).
pub(crate) fn vector<T>(elements: &Vec<T>) -> usize {
    if elements.capacity() == 0 {
        0
    } else {
        elements.capacity() * size_of::<T>() + ALLOCATION
    }
}

/// The heap a hash map takes, by its capacity.
pub(crate) fn hash_map<K, V>(map: &FxHashMap<K, V>) -> usize {
    if map.capacity() == 0 {
        0
    } else {
        // A table of capacity c has the next power of two of c·8/7 slots.
        let slots = (map.capacity() * 8 / 7).next_power_of_two();
        slots * (size_of::<(K, V)>() + 1) + ALLOCATION
    }
}
