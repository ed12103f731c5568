//! Spending is one merged key an item, under its account and month: an account's month is the
//! sum of every key of it, a number's the keys of that number. Accounts whose ids are prefixes
//! of each other or start with a length's byte, digits that read as a number, and a number that
//! changed hands must never lend each other a kopeck.

use projections::models::{self, Updates, Whose};
use projections::{Category, Spending};
use proptest::prelude::*;
use rating::{Month, Msisdn};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

const ACCOUNTS: [&str; 4] = ["A", "A1", "79001000001", "\u{1}A"];
/// Index 0: the account's own spending, of no number.
const NUMBERS: [Option<Msisdn>; 3] = [
    None,
    Some(Msisdn(79_001_000_001)),
    Some(Msisdn(79_001_000_002)),
];
const FIRST: Month = Month(2026 * 12);

/// An amount: `(account, months after FIRST, number, category, kopecks)`, by index.
type Add = (usize, u32, usize, usize, i64);

fn open(dir: &std::path::Path) -> rocksdb::DB {
    let mut options = rocksdb::Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    rocksdb::DB::open_cf_descriptors(&options, dir, models::descriptors(false)).unwrap()
}

fn write(db: &rocksdb::DB, adds: &[Add]) {
    let mut updates = Updates::default();
    for &(account, month, number, category, kopecks) in adds {
        let key = models::spending_key(
            ACCOUNTS[account],
            Month(FIRST.0 + month),
            NUMBERS[number],
            Category::ALL[category],
        );
        updates.adds.push((key, Decimal::new(kopecks, 2)));
    }
    let mut batch = rocksdb::WriteBatch::default();
    models::stage(db, &mut batch, &updates);
    db.write(batch).unwrap();
}

/// The sums of the adds `keep` takes (by account and number) in `months`, as a query gives them.
fn expected(adds: &[Add], months: (Month, Month), keep: impl Fn(usize, usize) -> bool) -> Spending {
    let mut out = Spending::default();
    for &(account, month, number, category, kopecks) in adds {
        let month = Month(FIRST.0 + month);
        if keep(account, number) && (months.0..=months.1).contains(&month) {
            out.months.entry(month).or_default()[category] += Decimal::new(kopecks, 2);
        }
    }
    out
}

fn query(db: &rocksdb::DB, whose: Whose, months: (Month, Month)) -> Spending {
    models::spending(db, whose, months.0, months.1).unwrap()
}

#[test]
fn accounts_and_numbers_keep_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let adds = [
        (1, 0, 1, 0, 100),  // A1's first number, calls
        (1, 2, 1, 1, 50),   // the same two months on, messages
        (1, 0, 2, 0, 200),  // A1's second number
        (1, 0, 0, 5, 30),   // A1's own, of no number
        (0, 0, 1, 0, 500),  // A held the first number too
        (2, 0, 0, 6, -700), // an account whose id is the first number's digits
        (1, 0, 1, 0, 1),    // a second item on one key is summed
    ];
    write(&db, &adds);
    let ever = (Month(0), Month(u32::MAX));
    let first = Msisdn(79_001_000_001);
    let a1 = query(&db, Whose::Account("A1"), ever);
    assert_eq!(a1, expected(&adds, ever, |a, _| a == 1));
    assert_eq!(a1.total(FIRST), Decimal::new(331, 2));
    let a1_first = query(&db, Whose::Number(first, "A1"), ever);
    assert_eq!(a1_first, expected(&adds, ever, |a, n| a == 1 && n == 1));
    assert_eq!(a1_first.months.len(), 2, "{a1_first:?}");
    assert_eq!(a1_first.total(FIRST), Decimal::new(101, 2));
    let a_first = query(&db, Whose::Number(first, "A"), ever);
    assert_eq!(a_first, expected(&adds, ever, |a, n| a == 0 && n == 1));
    let digits = query(&db, Whose::Account("79001000001"), ever);
    assert_eq!(digits, expected(&adds, ever, |a, _| a == 2));
    let not_held = query(&db, Whose::Number(first, "79001000001"), ever);
    assert_eq!(not_held, Spending::default());
    // A month between the months with spending.
    let between = (Month(FIRST.0 + 1), Month(FIRST.0 + 1));
    assert_eq!(
        query(&db, Whose::Account("A1"), between),
        Spending::default()
    );
    assert_eq!(
        query(&db, Whose::Number(first, "A1"), between),
        Spending::default()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the adds, an account's spending is the sum of its adds, a number's within an
    /// account the sum of that number's, and an account's month its numbers' and its own.
    #[test]
    fn every_query_is_the_sum_of_its_own_adds(
        adds in proptest::collection::vec(
            (0..4usize, 0..4u32, 0..3usize, 0..7usize, -10_000..10_000i64),
            0..60,
        ),
        from in 0..4u32,
        span in 0..4u32,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        write(&db, &adds);
        let months = (Month(FIRST.0 + from), Month(FIRST.0 + from + span));
        for (account, id) in ACCOUNTS.iter().enumerate() {
            let whole = query(&db, Whose::Account(id), months);
            prop_assert_eq!(&whole, &expected(&adds, months, |a, _| a == account));
            let own = expected(&adds, months, |a, n| a == account && n == 0);
            let mut parts: BTreeMap<Month, Decimal> =
                own.months.keys().map(|m| (*m, own.total(*m))).collect();
            for (number, msisdn) in NUMBERS.iter().enumerate().skip(1) {
                let msisdn = msisdn.expect("numbers after the first are numbers");
                let part = query(&db, Whose::Number(msisdn, id), months);
                let mine = expected(&adds, months, |a, n| a == account && n == number);
                prop_assert_eq!(&part, &mine);
                for month in part.months.keys() {
                    *parts.entry(*month).or_default() += part.total(*month);
                }
            }
            for (month, total) in parts {
                prop_assert_eq!(whole.total(month), total);
            }
        }
    }
}
