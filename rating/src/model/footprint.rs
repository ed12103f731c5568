//! What an account takes in memory, counted from its parts: a runtime that holds accounts
//! within a byte budget counts each by [`State::footprint`], so that the budget is bytes of
//! memory whatever the size of the account's record on disk.
//!
//! The count is of what the process holds, not what the account needs: a vector's or a hash
//! table's spare capacity, and the allocator's cost of each block on the heap, are counted too.

use crate::model::heap::{vector, ALLOCATION};
use crate::number::Number;
use crate::recent::Recent;
use crate::state::{Account, Mark, State};
use crate::{AccountId, Msisdn};
use compact_str::CompactString;
use std::mem::size_of;

/// The share of a vector of the state that an account takes, in halves of its slot: a vector
/// grows by doubling and never shrinks when accounts leave, so its capacity is between one and
/// two slots an account held; counted at one and a half.
const STATE_VECTOR_HALVES: usize = 3;

/// A hash table's bytes an entry of `entry` bytes: hashbrown keeps a table at most 7/8 full
/// and doubles it, so it is between 7/16 and 7/8 full; counted at its emptiest, with the
/// control byte each slot has.
const fn table_entry(entry: usize) -> usize {
    (entry + 1) * 16 / 7
}

/// The heap a string takes: none up to 24 bytes, which it holds inline.
fn text(string: &CompactString) -> usize {
    if string.is_heap_allocated() {
        string.capacity() + ALLOCATION
    } else {
        0
    }
}

/// The heap a number takes, with its entry in the state's index of who holds each number.
fn heap_of_number(number: &Number) -> usize {
    let options = if number.options.spilled() {
        number.options.capacity() * size_of::<crate::catalog::AddonIdx>() + ALLOCATION
    } else {
        0
    };
    let group = number.group.as_ref().map_or(0, text);
    let holder = table_entry(size_of::<(Msisdn, u32)>());
    vector(&number.buckets) + options + group + holder
}

/// The heap an account takes, its numbers' with it.
fn heap_of_account(account: &Account) -> usize {
    let numbers =
        vector(&account.numbers) + account.numbers.iter().map(heap_of_number).sum::<usize>();
    let promise = account.promise.as_ref().map_or(0, |p| text(&p.event));
    let refunds = vector(&account.refunds)
        + account
            .refunds
            .iter()
            .map(|r| text(&r.event))
            .sum::<usize>();
    let sessions = vector(&account.sessions)
        + (account.sessions.iter())
            .map(|s| text(&s.id) + s.other.as_ref().map_or(0, text))
            .sum::<usize>()
        + vector(&account.ended_sessions)
        + account
            .ended_sessions
            .iter()
            .map(|s| text(&s.id))
            .sum::<usize>();
    text(&account.id) + numbers + promise + refunds + sessions
}

/// The bytes of the state's own vectors and index an account takes, whatever its parts.
const SLOTS_OF_AN_ACCOUNT: usize = {
    let slots = size_of::<Account>() + size_of::<Recent>() + size_of::<Mark>();
    slots * STATE_VECTOR_HALVES / 2 + table_entry(size_of::<(AccountId, u32)>())
};

impl State {
    /// What the account at `index` takes in memory: its place in the state's vectors and
    /// index, its numbers' entries in the index of holders, and everything it holds on the
    /// heap, ids included.
    pub fn footprint(&self, index: u32) -> usize {
        let (account, recent) = self.by_index(index).expect("an account held");
        SLOTS_OF_AN_ACCOUNT + heap_of_account(account) + recent.heap()
    }
}
