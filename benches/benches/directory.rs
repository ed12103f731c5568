//! The directory of `ratel online` at scale: how long an instance takes to read a directory of
//! many numbers at start, how fast it answers where a number is, and what memory the directory
//! takes meanwhile (its claims are in a local RocksDB copy, not in memory).
//!
//! `cargo bench -p ratel-benches --bench directory`, with a broker (RATEL_TANSU, else `tansu`
//! on PATH; without one it says so and stops). RATEL_DIRECTORY_NUMBERS (default 1 000 000):
//! the numbers claimed, each by one of 64 partitions, published through a `Directory` as
//! instances publish them; RATEL_DIRECTORY_LOOKUPS (default 200 000).

use engine::directory::{Directory, NumberHeld, Whereabouts};
use ratel_benches::{env, resident, step, Broker};
use rating::Msisdn;

/// The numbers published at a time.
const CHUNK: usize = 65_536;

/// The `i`-th number and its partition: numbers spread over the range, as an operator's are.
fn claim(i: u64) -> (Msisdn, u32) {
    let msisdn = 79_000_000_000 + (i.wrapping_mul(2_654_435_761) % 1_000_000_000);
    (Msisdn(msisdn), (i % 64) as u32)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Some(broker) = Broker::start() else {
        eprintln!("directory: no broker (RATEL_TANSU or tansu on PATH); nothing measured");
        return;
    };
    let numbers = env("RATEL_DIRECTORY_NUMBERS", 1_000_000);
    let lookups = env("RATEL_DIRECTORY_LOOKUPS", 200_000);
    let topic = "ratel.directory";
    let scratch = tempfile::tempdir().unwrap();
    {
        let mut writer = Directory::open(&broker.addr, topic, Some(scratch.path())).unwrap();
        let all: Vec<u64> = (0..numbers).collect();
        for chunk in all.chunks(CHUNK) {
            let claims: Vec<NumberHeld> = (chunk.iter())
                .map(|&i| {
                    let (msisdn, partition) = claim(i);
                    NumberHeld {
                        msisdn,
                        partition,
                        held: true,
                    }
                })
                .collect();
            writer.publish(&claims).unwrap();
        }
    }
    let before = resident();
    let (reader, opened) = step(
        |_| numbers,
        || Directory::open(&broker.addr, topic, Some(scratch.path())).unwrap(),
    );
    let (found, asked) = step(
        |found: &u64| *found,
        || {
            let mut found = 0;
            for i in 0..lookups {
                let (msisdn, partition) = claim(i * 7 % numbers.max(1));
                match reader.whereabouts(msisdn).unwrap() {
                    Whereabouts::Partition(p, _) if p == partition => found += 1,
                    other => panic!("{msisdn:?} is partition {partition}'s, found {other:?}"),
                }
            }
            found
        },
    );
    let mb = |bytes: u64| bytes as f64 / 1e6;
    println!("| numbers | read at start | claims read/s | lookups/s | resident before | peak reading | peak answering |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {numbers} | {:.1} s | {:.0} | {:.0} ({found} found) | {:.0} MB | {:.0} MB | {:.0} MB |",
        opened.secs,
        opened.rate(),
        asked.rate(),
        mb(before),
        mb(opened.peak),
        mb(asked.peak)
    );
}
