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
//! A hint reads only what earlier stages brought in and writes nothing: rating is the same
//! with or without it, and a wrong or stale hint costs a wasted load, never a wrong answer.

use crate::event::Input;
use crate::state::State;

/// How many inputs ahead of the one being rated each stage of hints runs, the first link of
/// the chain farthest ahead: far enough that a load from memory (~100 ns) is done when the
/// next stage reads it, near enough that what came in is not evicted by the inputs between.
pub const AHEAD: [(usize, Stage); 3] = [(12, Stage::Slots), (6, Stage::Parts), (2, Stage::Buckets)];

/// The links of an input's chain, in the order they can be asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The account's and its ids' own slots (found through the number's index entry).
    Slots,
    /// What those slots point at: the account's numbers, and its ids.
    Parts,
    /// The buckets of the number the input names.
    Buckets,
}

/// The most cache lines one hint asks for: a busy account's ids can be kilobytes, of which
/// a binary search reads a handful.
const MAX_LINES: usize = 16;

const LINE: usize = 64;

/// Hints for the inputs [`AHEAD`] of the `i`-th of a batch, `at(k)` being the batch's `k`-th
/// input (None past its end or for a line that did not decode).
pub fn ahead<'a>(state: &State, i: usize, at: impl Fn(usize) -> Option<&'a Input>) {
    for (d, stage) in AHEAD {
        if let Some(input) = at(i + d) {
            state.prefetch(input, stage);
        }
    }
}

impl State {
    /// Asks memory for one link of what rating `input` will read (see the module's doc).
    pub fn prefetch(&self, input: &Input, stage: Stage) {
        let Some(m) = input.msisdn() else {
            return;
        };
        let Some((account, recent)) = self.parts_of_number(m) else {
            return;
        };
        match stage {
            Stage::Slots => {
                lines(account);
                lines(recent);
            }
            Stage::Parts => {
                lines_of(&account.numbers);
                if let Some(ids) = recent.few() {
                    lines_of(ids);
                }
            }
            Stage::Buckets => {
                if let Some(n) = account.numbers.iter().find(|n| n.msisdn == m) {
                    lines_of(&n.buckets);
                }
            }
        }
    }
}

fn lines<T>(x: &T) {
    span((x as *const T).cast(), std::mem::size_of::<T>());
}

fn lines_of<T>(xs: &[T]) {
    span(xs.as_ptr().cast(), std::mem::size_of_val(xs));
}

fn span(p: *const u8, bytes: usize) {
    let n = bytes.div_ceil(LINE).min(MAX_LINES);
    for k in 0..n {
        hint(p.wrapping_add(k * LINE));
    }
}

#[cfg(target_arch = "x86_64")]
fn hint(p: *const u8) {
    // SAFETY: a prefetch reads nothing the program sees and never faults, whatever the
    // address; `p` is in (or one line past) a live allocation anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn hint(_: *const u8) {}
