//! The accounts changed since the last checkpoint: one bit an account, by its index in the
//! state, which the next checkpoint writes the records of.
//!
//! A set of account ids did the same, but every rated input inserted its account's id into a
//! table as large as the accounts: hashing the id and a cache miss an input, a twentieth of the
//! rating thread at forty thousand accounts. The bits of a million accounts are 125 kB.

use fixedbitset::FixedBitSet;
use rating::State;

#[derive(Debug, Default)]
pub struct Changed {
    bits: FixedBitSet,
    count: usize,
}

impl Changed {
    /// The accounts of `state` whose ids are `ids`.
    pub fn of_ids<'a>(
        state: &State,
        ids: impl IntoIterator<Item = &'a rating::AccountId>,
    ) -> Changed {
        let mut c = Changed::default();
        for id in ids {
            let i = state.index_of(id).expect("a changed account exists");
            c.insert(i);
        }
        c
    }

    /// Notes that the account at index `i` changed.
    pub fn insert(&mut self, index: u32) {
        let i = index as usize;
        if i >= self.bits.len() {
            self.bits.grow((i + 1).next_power_of_two());
        }
        if !self.bits.put(i) {
            self.count += 1;
        }
    }

    pub fn contains(&self, index: u32) -> bool {
        self.bits.contains(index as usize)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The changed accounts' indices, in order; none are left.
    pub fn drain(&mut self) -> Vec<u32> {
        let v: Vec<u32> = self.bits.ones().map(|i| i as u32).collect();
        debug_assert_eq!(v.len(), self.count);
        self.bits.clear();
        self.count = 0;
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_changed_twice_is_counted_once_and_a_drain_empties() {
        let mut c = Changed::default();
        for i in [5, 70_000, 5, 0, 64, 70_000] {
            c.insert(i);
        }
        assert_eq!(c.len(), 4);
        assert_eq!(c.drain(), vec![0, 5, 64, 70_000]);
        assert!(c.is_empty());
        c.insert(3);
        assert_eq!(c.drain(), vec![3]);
    }
}
