//! Cache hints: asking memory, a few inputs ahead, for what rating an input will read.
//!
//! With tens of thousands of accounts or more, an account's parts are rarely in the CPU's
//! caches when its next input comes, and rating one follows a chain of pointers: the number's
//! slot in the index, the account, its numbers, the number's buckets, the ids it holds. Each
//! link missed the cache in turn (a profile of ten million events put a fifth of the rating
//! thread on the first load of an account and another fifth on the binary search of its ids).
//! A loop over a batch knows the inputs to come, so it asks for each link some inputs before
//! rating needs it, one link a stage, and the loads of many accounts overlap.
//!
//! A hint reads the state and writes nothing: rating is the same with or without it, and a
//! wrong or stale hint costs a wasted load, never a wrong answer.

use crate::event::{Input, Msisdn};
use crate::state::State;

/// How many inputs ahead of the one being rated each stage of hints runs, the first link of
/// the chain farthest ahead: far enough that a load from memory (~100 ns) is done when the
/// next stage reads it, near enough that what came in is not evicted by the inputs between.
/// The slots of the account (found through the number's index entry) and of its ids:
pub const FAR: usize = 12;
/// What those slots point at: the account's numbers and its ids (and its entry in the index
/// of accounts by id, which applying the decision reads):
pub const MID: usize = 6;
/// The buckets of the number the input names:
pub const NEAR: usize = 2;

/// Inputs whose accounts are held between their stages: more than [`FAR`].
const RING: usize = 16;

/// The most cache lines one hint asks for: a busy account's ids can be kilobytes, of which
/// a binary search reads a handful.
const MAX_LINES: usize = 16;

const LINE: usize = 64;

/// A batch's hints. Each input's account is looked up once, at the farthest stage, and the
/// nearer stages read what it found: three lookups an input made the hints a seventh of
/// replay's time. An index found there may be stale by the input's turn (an account opened
/// or a number moved in between): its hint is then wasted, never wrong.
#[derive(Debug, Default)]
pub struct Ahead {
    found: [Option<(u32, Msisdn)>; RING],
}

impl Ahead {
    /// Hints before rating the `index`-th input of a batch (`index` counts from 0, one call an input,
    /// in order); `at(k)` is the batch's `k`-th input (None past its end, or for a line that
    /// did not decode).
    pub fn before<'a>(
        &mut self,
        state: &State,
        index: usize,
        at: impl Fn(usize) -> Option<&'a Input>,
    ) {
        if index == 0 {
            for k in 0..FAR {
                self.find(state, k, &at);
            }
        }
        self.find(state, index + FAR, &at);
        if let Some((ix, _)) = self.found[(index + MID) % RING] {
            state.hint_parts(ix);
        }
        if let Some((ix, m)) = self.found[(index + NEAR) % RING] {
            state.hint_buckets(ix, m);
        }
    }

    fn find<'a>(&mut self, state: &State, index: usize, at: &impl Fn(usize) -> Option<&'a Input>) {
        let found = at(index).and_then(Input::msisdn).and_then(|m| {
            let ix = state.index_of_number(m)?;
            state.hint_slots(ix);
            Some((ix, m))
        });
        self.found[index % RING] = found;
    }
}

impl State {
    fn hint_slots(&self, ix: u32) {
        if let Some((account, recent)) = self.by_index(ix) {
            lines(account);
            lines(recent);
        }
    }

    fn hint_parts(&self, ix: u32) {
        if let Some((account, recent)) = self.by_index(ix) {
            lines_of(&account.numbers);
            if let Some(ids) = recent.few() {
                lines_of(ids);
            }
            self.warm_id(&account.id);
        }
    }

    fn hint_buckets(&self, ix: u32, msisdn: Msisdn) {
        if let Some((account, _)) = self.by_index(ix) {
            if let Some(n) = account.numbers.iter().find(|n| n.msisdn == msisdn) {
                lines_of(&n.buckets);
            }
        }
    }
}

fn lines<T>(value: &T) {
    span((value as *const T).cast(), std::mem::size_of::<T>());
}

fn lines_of<T>(xs: &[T]) {
    span(xs.as_ptr().cast(), std::mem::size_of_val(xs));
}

fn span(start: *const u8, bytes: usize) {
    let n = bytes.div_ceil(LINE).min(MAX_LINES);
    for k in 0..n {
        hint(start.wrapping_add(k * LINE));
    }
}

#[cfg(target_arch = "x86_64")]
fn hint(address: *const u8) {
    // SAFETY: a prefetch reads nothing the program sees and never faults, whatever the
    // address; `p` is in (or one line past) a live allocation anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address.cast());
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn hint(_: *const u8) {}
