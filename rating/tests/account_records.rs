//! An account's record (`rating::record`): what a checkpoint stores reads back as the account
//! and the ids it remembers; damaged bytes are refused with an error.

mod common;
use common::*;
use rating::record::{decode_account, encode_account, ACCOUNT_LAYOUT};
use rating::*;

fn busy_account() -> (State, &'static str) {
    let cat = postpaid();
    let mut s = State::new();
    let mut events = vec![
        open(
            "o1",
            "A1",
            "2026-11-01T07:00:00Z",
            &[("79001234567", "SMART", &[])],
        ),
        pay("p1", "A1", "2026-11-01T08:00:00Z", "300.00"),
    ];
    for i in 0..40 {
        events.push(call(
            &format!("c{i}"),
            "79001234567",
            "441234567890",
            &format!("2026-11-02T{:02}:{:02}:00Z", 8 + i / 10, i % 60),
            61 + i as u64,
        ));
    }
    run(&mut s, &cat, &events);
    (s, "A1")
}

#[test]
fn a_record_reads_back_as_the_account_and_its_ids() {
    let (s, id) = busy_account();
    let (a, r) = (s.account(id).unwrap(), s.recent(id).unwrap());
    assert_eq!(r.len(), 42);
    let mut bytes = Vec::new();
    encode_account(a, r, &mut bytes);
    assert_eq!(bytes[0], ACCOUNT_LAYOUT);
    let (a2, r2) = decode_account(id, &bytes).unwrap();
    assert_eq!(&a2, a);
    assert_eq!(r2.unwrap().record(), r.record());
}

#[test]
fn a_record_of_layout_7_reads_as_an_account_without_refunds_or_unpaid_fees() {
    let (s, id) = busy_account();
    let (a, r) = (s.account(id).unwrap(), s.recent(id).unwrap());
    let (a7, r7) = decode_account(id, &in_layout(a, r, 7)).unwrap();
    assert_eq!(&a7, a);
    assert_eq!(r7.unwrap().record(), r.record());
}

#[test]
fn damaged_records_are_refused_not_misread() {
    let (s, id) = busy_account();
    let mut bytes = Vec::new();
    encode_account(s.account(id).unwrap(), s.recent(id).unwrap(), &mut bytes);
    let unknown = {
        let mut b = bytes.clone();
        b[0] = ACCOUNT_LAYOUT + 1;
        b
    };
    for (what, b) in [
        ("empty", &[][..]),
        ("cut short", &bytes[..bytes.len() / 2]),
        ("of a layout to come", &unknown[..]),
    ] {
        let e = decode_account(id, b).expect_err(what);
        assert!(
            matches!(
                e,
                codec::DecodeError::Empty | codec::DecodeError::Corrupt(_)
            ),
            "{what}: {e}"
        );
    }
    // A length that claims more bytes than any record may have is refused before it allocates.
    let mut huge = vec![ACCOUNT_LAYOUT];
    huge.extend_from_slice(&u64::MAX.to_le_bytes());
    assert!(decode_account(id, &huge).is_err());
}

/// `a`'s record in layout 10: bincode's fixed-width encoding of the account, its ids, refunds
/// and online sessions.
fn in_layout_10(a: &Account, r: &rating::recent::Recent) -> Vec<u8> {
    use bincode::Options;
    let mut bytes = vec![10];
    let fields = (a, r.record(), &a.refunds, &a.sessions, &a.ended_sessions);
    (bincode::DefaultOptions::new().with_fixint_encoding())
        .serialize_into(&mut bytes, &fields)
        .unwrap();
    bytes
}

/// A record of layout 10 (fixed-width) reads as the account and its ids, and today's record
/// of it is smaller: by a third or more for this account of one number and 42 ids.
#[test]
fn a_record_of_layout_10_reads_as_today_s_and_today_s_is_smaller() {
    let (s, id) = busy_account();
    let (a, r) = (s.account(id).unwrap(), s.recent(id).unwrap());
    let old = in_layout_10(a, r);
    let (a10, r10) = decode_account(id, &old).unwrap();
    assert_eq!(&a10, a);
    assert_eq!(r10.unwrap().record(), r.record());
    let mut today = Vec::new();
    encode_account(a, r, &mut today);
    assert!(
        today.len() * 3 <= old.len() * 2,
        "{} bytes today, {} in layout 10",
        today.len(),
        old.len()
    );
}

/// `a`'s record in layout 11: bincode's variable-width encoding, the ids' times whole but the
/// first's (each id's a distance from the one before).
fn in_layout_11(a: &Account, r: &rating::recent::Recent) -> Vec<u8> {
    use bincode::Options;
    #[derive(serde::Serialize)]
    struct Packed11 {
        latest: Option<i64>,
        oldest: i64,
        first: i64,
        gaps: Vec<u64>,
        digests: Vec<u8>,
        kept: Vec<u8>,
    }
    let record = r.record();
    let first = record.ids.first().map_or(0, |&(_, at)| at);
    let times = std::iter::once(first).chain(record.ids.iter().map(|&(_, at)| at));
    let packed = Packed11 {
        latest: record.latest,
        oldest: record.oldest,
        first,
        gaps: times
            .clone()
            .zip(times.skip(1))
            .map(|(a, b)| b.abs_diff(a))
            .collect(),
        digests: record
            .ids
            .iter()
            .flat_map(|(d, _)| digest_bytes(*d))
            .collect(),
        kept: record.kept.iter().flat_map(|d| digest_bytes(*d)).collect(),
    };
    let mut bytes = vec![11];
    let fields = (a, packed, &a.refunds, &a.sessions, &a.ended_sessions);
    (bincode::DefaultOptions::new().with_varint_encoding())
        .serialize_into(&mut bytes, &fields)
        .unwrap();
    bytes
}

/// The ids [`busy_account`] decided.
fn busy_ids() -> impl Iterator<Item = String> + Clone {
    ["o1", "p1"]
        .map(String::from)
        .into_iter()
        .chain((0..40).map(|i| format!("c{i}")))
}

/// A digest's eight bytes as records of layouts 5 to 12 held them: the low 64 bits of the id's
/// XXH3-128, little-endian (today's digest is their low 48), for an id the busy account decided.
fn digest_bytes(digest: rating::recent::IdDigest) -> [u8; 8] {
    digest_bytes_of(digest, busy_ids())
}

/// [`digest_bytes`] of an id among `ids`.
fn digest_bytes_of(
    digest: rating::recent::IdDigest,
    mut ids: impl Iterator<Item = String>,
) -> [u8; 8] {
    let whole = ids
        .find(|id| rating::recent::IdDigest::of(id) == digest)
        .map(|id| xxhash_rust::xxh3::xxh3_128(id.as_bytes()) as u64)
        .expect("an id the account decided");
    whole.to_le_bytes()
}

/// A record of layout 11 reads as the account and its ids, and today's record of it is smaller
/// (24 of 557 bytes less for this account: its number, amounts and times take fewer bytes).
#[test]
fn a_record_of_layout_11_reads_as_today_s_and_today_s_is_smaller() {
    let (s, id) = busy_account();
    let (a, r) = (s.account(id).unwrap(), s.recent(id).unwrap());
    let old = in_layout_11(a, r);
    let (a11, r11) = decode_account(id, &old).unwrap();
    assert_eq!(&a11, a);
    assert_eq!(r11.unwrap().record(), r.record());
    let mut today = Vec::new();
    encode_account(a, r, &mut today);
    assert!(
        today.len() + 20 <= old.len(),
        "{} bytes today, {} in layout 11",
        today.len(),
        old.len()
    );
}

/// `a`'s record in layout 12: postcard's encoding, the ids' digests of 64 bits (`a` decided
/// `ids`).
fn in_layout_12(
    a: &Account,
    r: &rating::recent::Recent,
    ids: impl Iterator<Item = String> + Clone,
) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Packed12 {
        oldest: i64,
        latest: Option<i64>,
        first: i64,
        gaps: Vec<u64>,
        #[serde(with = "serde_bytes")]
        digests: Vec<u8>,
        #[serde(with = "serde_bytes")]
        kept: Vec<u8>,
    }
    let record = r.record();
    let first = record.ids.first().map_or(record.oldest, |&(_, at)| at);
    let times = std::iter::once(first).chain(record.ids.iter().map(|&(_, at)| at));
    let packed = Packed12 {
        oldest: record.oldest,
        latest: record.latest.map(|l| l.wrapping_sub(record.oldest)),
        first: first.wrapping_sub(record.oldest),
        gaps: (times.clone().zip(times.skip(1)))
            .map(|(a, b)| b.abs_diff(a))
            .collect(),
        digests: (record.ids.iter())
            .flat_map(|(d, _)| digest_bytes_of(*d, ids.clone()))
            .collect(),
        kept: (record.kept.iter())
            .flat_map(|d| digest_bytes_of(*d, ids.clone()))
            .collect(),
    };
    let fields = (a, packed, &a.refunds, &a.sessions, &a.ended_sessions);
    let mut bytes = vec![12];
    bytes.extend(postcard::to_allocvec(&fields).unwrap());
    bytes
}

/// A record of layout 12 held 64-bit digests: it reads as the account and its ids, each id is
/// known again as a repeat by the 48 bits held today, and today's record of it is smaller: two
/// bytes an id, and the account's times and joining date in fewer.
#[test]
fn a_record_of_layout_12_knows_its_ids_by_their_low_48_bits() {
    let (s, id) = busy_account();
    let (a, r) = (s.account(id).unwrap(), s.recent(id).unwrap());
    let old = in_layout_12(a, r, busy_ids());
    let high_bits_held = (busy_ids())
        .filter(|id| xxhash_rust::xxh3::xxh3_128(id.as_bytes()) as u64 >> 48 != 0)
        .count();
    assert!(
        high_bits_held > 30,
        "the fixture holds digests wider than today's"
    );
    let (a12, r12) = decode_account(id, &old).unwrap();
    let r12 = r12.unwrap();
    assert_eq!(&a12, a);
    assert_eq!(r12.record(), r.record());
    let latest = Timestamp(r.record().latest.unwrap());
    for id in busy_ids() {
        let seen = r12.check(&id, latest, false, recent::DEFAULT_WINDOW);
        assert_eq!(seen, recent::Seen::Repeat, "{id}");
    }
    let fresh = r12.check("c40", latest, false, recent::DEFAULT_WINDOW);
    assert_eq!(fresh, recent::Seen::Fresh);
    let mut today = Vec::new();
    encode_account(a, r, &mut today);
    assert!(
        today.len() + 2 * r.len() + 20 <= old.len(),
        "{} bytes today, {} in layout 12",
        today.len(),
        old.len()
    );
}

/// A record of a layout that held its account's id, under another account's key, is refused:
/// it is not that account's. Today's record holds no id (its key is the id), and an id made of
/// digits or of nothing is read as the key says.
#[test]
fn a_record_under_another_account_s_key_is_refused() {
    let (s, id) = busy_account();
    let (a, r) = (s.account(id).unwrap(), s.recent(id).unwrap());
    for old in [in_layout_12(a, r, busy_ids()), in_layout_10(a, r)] {
        let refused = decode_account("A2", &old).expect_err("another account's record");
        assert!(refused.to_string().contains("holds account"), "{refused}");
        assert_eq!(decode_account(id, &old).unwrap().0, *a);
    }
    let mut today = Vec::new();
    encode_account(a, r, &mut today);
    for key in ["A2", "79001234567", ""] {
        assert_eq!(decode_account(key, &today).unwrap().0.id, key);
    }
}

/// A record with a byte lost anywhere never reads as the same account (the store's checksums
/// catch the rest): lengths, gaps and digests shift, and nothing may trail the record.
#[test]
fn a_record_with_a_byte_lost_never_reads_as_the_same_account() {
    let (s, id) = busy_account();
    let mut bytes = Vec::new();
    encode_account(s.account(id).unwrap(), s.recent(id).unwrap(), &mut bytes);
    for cut in 1..bytes.len() {
        let mut damaged = bytes.clone();
        damaged.remove(cut);
        if let Ok((account, recent)) = decode_account(id, &damaged) {
            let same = &account == s.account(id).unwrap()
                && recent.map(|r| r.record()) == Some(s.recent(id).unwrap().record());
            assert!(!same, "a byte dropped at {cut} read as the same account");
        }
    }
}

/// `a`'s record in an older layout: layout 10's bytes without what came later. Layout 8 ends its
/// one number with its unpaid fees (8 bytes of an empty list's length) and the record with the
/// refunds (8 more); layout 7 is the same without them; layout 6 without the number's joining
/// time (8 more) too.
fn in_layout(a: &Account, r: &rating::recent::Recent, layout: u8) -> Vec<u8> {
    use bincode::Options;
    assert_eq!(a.numbers.len(), 1);
    assert!(a.numbers[0].unpaid.is_empty() && a.refunds.is_empty());
    let bytes = in_layout_10(a, r);
    let number = bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .serialize(&a.numbers[0])
        .unwrap();
    let at = bytes
        .windows(number.len())
        .position(|w| w == number)
        .expect("the number's bytes are in the record");
    let end = at + number.len();
    let cut = match layout {
        7 => 8,
        6 => 16,
        _ => unreachable!("layouts 6 and 7"),
    };
    let mut old = bytes[..end - cut].to_vec();
    old.extend_from_slice(&bytes[end..bytes.len() - 8]);
    old[0] = layout;
    old
}

fn in_layout_6(a: &Account, r: &rating::recent::Recent) -> Vec<u8> {
    in_layout(a, r, 6)
}

/// A layout-6 number that joined on the first day there is (a damaged record, found by the
/// `account_record` fuzz target) joined at the earliest time a record may hold, not before it:
/// the account reads, and what it reads writes and reads back the same.
#[test]
fn a_record_before_joining_times_from_the_first_day_reads_and_round_trips() {
    let (s, id) = busy_account();
    let (mut a, r) = (s.account(id).unwrap().clone(), s.recent(id).unwrap());
    a.numbers[0].anchor = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    let (old, recent) = decode_account(id, &in_layout_6(&a, r)).unwrap();
    assert_eq!(old.numbers[0].joined, Timestamp(0));
    let mut again = Vec::new();
    encode_account(&old, &recent.unwrap(), &mut again);
    assert_eq!(decode_account(id, &again).unwrap().0, old);
}

/// A record of layout 6 holds its numbers without the time they joined: it reads as the number
/// having joined at the earliest instant of its joining day, everything else as it was.
#[test]
fn a_record_before_joining_times_reads_with_the_earliest_instant_of_the_day() {
    let (s, id) = busy_account();
    let (a, r) = (s.account(id).unwrap(), s.recent(id).unwrap());
    let mut layout6 = in_layout_6(a, r);

    let (old, recent) = decode_account(id, &layout6).unwrap();
    let joined = old.numbers[0].joined;
    assert_eq!(joined, codec::v3::earliest_joining(a.numbers[0].anchor));
    assert!(joined < a.numbers[0].joined);
    let mut expected = a.clone();
    expected.numbers[0].joined = joined;
    assert_eq!(old, expected);
    assert_eq!(recent.unwrap().record(), r.record());
    // Read as today's layout, the same bytes are refused or misread, never taken for the account.
    layout6[0] = ACCOUNT_LAYOUT;
    assert_ne!(
        decode_account(id, &layout6).ok().map(|(a, _)| a),
        Some(a.clone())
    );
}

proptest::proptest! {
    /// The ids' times are held as distances from the oldest and from each other, and any times
    /// at all read back exactly: far ahead, far behind, either side of zero, a latest before
    /// the oldest, and none.
    #[test]
    fn ids_at_any_times_read_back_exactly(
        times in proptest::collection::vec(proptest::num::i64::ANY, 0..40),
        latest in proptest::option::of(proptest::num::i64::ANY),
        oldest in proptest::num::i64::ANY,
        kept in proptest::collection::vec(proptest::num::u32::ANY, 0..4),
    ) {
        let (s, id) = busy_account();
        let mut times = times;
        times.sort_unstable();
        let record = rating::recent::RecentRecord {
            ids: (times.iter().enumerate())
                .map(|(i, &t)| (rating::recent::IdDigest::of(&format!("id{i}")), t))
                .collect(),
            latest,
            oldest,
            kept: kept.iter().map(|k| rating::recent::IdDigest::of(&k.to_string())).collect(),
        };
        let recent = rating::recent::Recent::from(record);
        let mut bytes = Vec::new();
        encode_account(s.account(id).unwrap(), &recent, &mut bytes);
        let (account, read) = decode_account(id, &bytes).unwrap();
        proptest::prop_assert_eq!(&account, s.account(id).unwrap());
        proptest::prop_assert_eq!(read.unwrap().record(), recent.record());
    }

    /// The account's times are held as distances from one base, its joining date as a day
    /// number, a bucket's units as those used, and what few accounts have behind one marker:
    /// any times from 1970 to 9999, any date of the calendar, a bucket with more left than its total (which no
    /// rating makes), and an account with or without a suspended number in a group and a
    /// low-balance notice read back exactly.
    #[test]
    fn an_account_at_any_times_reads_back_exactly(
        times in proptest::collection::vec(time::MIN_TIME..=time::MAX_TIME, 8),
        marks in proptest::collection::vec(proptest::option::of(time::MIN_TIME..=time::MAX_TIME), 3),
        day in chrono::Datelike::num_days_from_ce(&chrono::NaiveDate::MIN)
            ..=chrono::Datelike::num_days_from_ce(&chrono::NaiveDate::MAX),
        remaining in proptest::num::u64::ANY,
        no_numbers in proptest::bool::ANY,
        rare in proptest::bool::ANY,
    ) {
        let (s, id) = busy_account();
        let mut account = s.account(id).unwrap().clone();
        let number = &mut account.numbers[0];
        number.anchor = chrono::NaiveDate::from_num_days_from_ce_opt(day).unwrap();
        number.next_due = Timestamp(times[0]);
        number.joined = Timestamp(times[1]);
        for (i, bucket) in number.buckets.iter_mut().enumerate() {
            bucket.valid_from = Timestamp(times[2 + i % 3]);
            bucket.valid_until = Timestamp(times[5 + i % 2]);
            bucket.remaining = remaining;
        }
        if rare {
            number.status = rating::number::NumberStatus::Suspended { since: Timestamp(times[3]) };
            number.group = Some("sales".into());
            account.low_balance = Some(m("10.00"));
        }
        let activity = &mut account.activity;
        activity.last_topup = Timestamp(times[7]);
        activity.nonpositive_since = marks[0].map(Timestamp);
        activity.blocked = marks[1].map(Timestamp);
        activity.released = marks[2].map(Timestamp);
        if no_numbers {
            account.numbers.clear();
        }
        let mut bytes = Vec::new();
        encode_account(&account, s.recent(id).unwrap(), &mut bytes);
        let (read, _) = decode_account(id, &bytes).unwrap();
        proptest::prop_assert_eq!(read, account);
    }
}

/// The record of a typical prepaid account, as issue 32 defines it: one number, two buckets (a
/// daily data package and a goodwill grant of minutes) and the ids it remembers after three
/// days of use (its opening, a payment, the grant and ten usage records) takes at most 200
/// bytes (195); in layout 12 it took 261.
#[test]
fn a_typical_prepaid_account_s_record_takes_at_most_200_bytes() {
    let cat = example();
    let mut s = State::new();
    let number = "79001234567";
    let mut events = vec![
        open(
            "o-1",
            "ACC0012345",
            "2026-11-01T07:00:00Z",
            &[(number, "DAILY", &[])],
        ),
        pay("p-1", "ACC0012345", "2026-11-01T08:00:00Z", "500.00"),
        Input::Grant(rating::event::Grant {
            id: "g-1".into(),
            msisdn: msisdn(number),
            package: "SMART_MINUTES".into(),
            amount: 600,
            validity_days: 30,
            reason: "apology".into(),
            operator: "ops-7".into(),
            time: t("2026-11-01T08:30:00Z"),
        }),
    ];
    for i in 0..10u64 {
        let start = format!("2026-11-0{}T{:02}:17:00Z", 1 + i / 4, 9 + 3 * (i % 4));
        let id = format!("CDR-20261101-{:06}", 4242 + i);
        events.push(match i % 2 {
            0 => call(&id, number, "79161234567", &start, 47 + 13 * i),
            _ => usage(&id, number, Service::Data, None, &start, 3_000_000 * i),
        });
    }
    let decisions = run(&mut s, &cat, &events);
    assert!(decisions
        .iter()
        .all(|d| !matches!(d.outcome, Outcome::Rejected(_))));
    let account = s.account("ACC0012345").unwrap();
    let recent = s.recent("ACC0012345").unwrap();
    assert_eq!((account.numbers[0].buckets.len(), recent.len()), (2, 13));
    let mut bytes = Vec::new();
    encode_account(account, recent, &mut bytes);
    let ids = ["o-1", "p-1", "g-1"].map(String::from).into_iter();
    let ids = ids.chain((0..10).map(|i| format!("CDR-20261101-{:06}", 4242 + i)));
    let layout_12 = in_layout_12(account, recent, ids).len();
    assert!(bytes.len() <= 200, "{} bytes", bytes.len());
    assert!(layout_12 > 250, "{layout_12} bytes in layout 12");
}
