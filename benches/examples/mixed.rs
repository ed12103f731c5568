//! Rates a generated month of mixed traffic in memory, for profiling the rating core as the
//! engine drives it (`perf record target/release/examples/mixed 1000000`), and reports the
//! memory the state holds: per account, and per remembered event id.

#[global_allocator]
static A: ratel_benches::Counting = ratel_benches::Counting;

use engine::workload::Workload;
use rating::codec::parse_json;
use rating::{step, Catalog, State};

fn main() {
    let events: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let w = Workload {
        accounts: (events as f64 / 240.0).ceil() as u64,
        ..Workload::default()
    };
    let mut out = Vec::new();
    w.write(&mut out, |_| {}).unwrap();
    let inputs: Vec<_> = out
        .split(|&b| b == b'\n')
        .filter_map(|l| parse_json(l).ok())
        .collect();
    let cat = Catalog::from_toml("example", engine::EXAMPLE_CATALOG).unwrap();
    let started = std::time::Instant::now();
    rate_all(&cat, &inputs);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} inputs rated in {secs:.2} s: {:.0} per second",
        inputs.len(),
        inputs.len() as f64 / secs
    );
    // Memory: the state of the accounts alone (their openings), then of the whole month.
    let opened: Vec<_> = inputs
        .iter()
        .filter(|i| matches!(i, rating::Input::OpenAccount(_)))
        .cloned()
        .collect();
    let live = || ratel_benches::live();
    let before = live();
    let s = rate_all(&cat, &opened);
    let accounts_only = live() - before;
    let (n, ids) = (s.accounts().count() as isize, s.seen_count() as isize);
    drop(s);
    let before = live();
    let s = rate_all(&cat, &inputs);
    let full = live() - before;
    let full_ids = s.seen_count() as isize;
    println!(
        "state in memory: {n} accounts opened, {accounts_only} bytes ({} per account, {ids} ids); \
         after the month {full} bytes ({} per account), {full_ids} event ids remembered ({} bytes \
         per id beyond the accounts)",
        accounts_only / n,
        full / n,
        (full - accounts_only) / (full_ids - ids).max(1)
    );
}

/// The measured part, apart for `valgrind --tool=callgrind --toggle-collect='*rate_all*'`.
#[inline(never)]
fn rate_all(cat: &Catalog, inputs: &[rating::Input]) -> State {
    let mut s = State::new();
    for i in inputs {
        std::hint::black_box(step(&mut s, cat, i));
    }
    s
}
