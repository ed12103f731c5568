//! What an account takes in memory (`State::footprint`), against what the allocator hands out
//! for it: a runtime's byte budget of accounts held counts footprints, so a footprint that fell
//! short of the memory would let the budget be overrun.
//!
//! One test in this file: the allocator's count is the process's.

mod common;
use common::*;
use rating::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The system allocator, counting the bytes of the blocks it has out as glibc's malloc takes
/// them: the size asked for and an eight-byte header, rounded up to sixteen, at least 32.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

fn taken(layout: Layout) -> usize {
    (layout.size() + 8).next_multiple_of(16).max(32)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(taken(layout), Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(taken(layout), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// An account of `numbers` numbers on the daily plan, after `usage` usage records.
fn rated(numbers: usize, usage: usize) -> State {
    let cat = example();
    let mut s = State::new();
    let msisdns: Vec<String> = (0..numbers).map(|i| format!("7900{i:07}")).collect();
    let plans: Vec<(&str, &str, &[&str])> = msisdns
        .iter()
        .map(|n| (n.as_str(), "DAILY", &[][..]))
        .collect();
    let mut events = vec![
        open("o-1", "ACC0012345", "2026-11-01T07:00:00Z", &plans),
        pay("p-1", "ACC0012345", "2026-11-01T08:00:00Z", "5000.00"),
    ];
    for i in 0..usage {
        let start = format!(
            "2026-11-01T{:02}:{:02}:{:02}Z",
            9 + i / 3600,
            i / 60 % 60,
            i % 60
        );
        events.push(call(
            &format!("CDR-{i:06}"),
            &msisdns[0],
            "79161234567",
            &start,
            47,
        ));
    }
    let decisions = run(&mut s, &cat, &events);
    assert!(decisions
        .iter()
        .all(|d| !matches!(d.outcome, Outcome::Rejected(_))));
    s
}

/// `copies` of the one account `template` holds, under ids of their own and numbers of their
/// own, in a state of their own: the bytes the allocator has out for them, and the sum of
/// their footprints.
fn held(template: &State, copies: usize) -> (usize, usize) {
    let (account, recent) = template.by_index(0).expect("one account");
    let before = LIVE.load(Relaxed);
    let copies: Vec<(Account, rating::recent::Recent)> = (0..copies as u64)
        .map(|k| {
            let mut a = account.clone();
            a.id = format!("ACC{k:07}").into();
            for (j, n) in a.numbers.iter_mut().enumerate() {
                n.msisdn = Msisdn(79_000_000_000 + k * 1_000 + j as u64);
            }
            (a, recent.clone())
        })
        .collect();
    let mut state = State::new();
    for (a, r) in copies {
        let id = a.id.clone();
        state.restore(a);
        state.restore_recent(&id, r);
    }
    let allocated = LIVE.load(Relaxed) - before;
    let counted = (0..state.len() as u32).map(|i| state.footprint(i)).sum();
    (allocated, counted)
}

#[test]
fn an_account_s_footprint_covers_what_the_allocator_has_out_for_it_and_not_much_more() {
    // A typical prepaid account; a corporate one of 400 numbers; a busy one that remembers
    // 400 ids (a hash table beyond 256).
    for (name, numbers, usage) in [("typical", 1, 10), ("corporate", 400, 10), ("busy", 1, 400)] {
        let template = rated(numbers, usage);
        for copies in [1_000, 3_000] {
            let (allocated, counted) = held(&template, copies);
            assert!(
                counted >= allocated && counted <= allocated * 13 / 10,
                "{name}, {copies} copies: {counted} bytes counted, {allocated} allocated"
            );
        }
    }
}
