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
    let (a2, r2) = decode_account(&bytes).unwrap();
    assert_eq!(&a2, a);
    assert_eq!(r2.unwrap().record(), r.record());
}

#[test]
fn a_record_of_layout_7_reads_as_an_account_without_refunds_or_unpaid_fees() {
    let (s, id) = busy_account();
    let (a, r) = (s.account(id).unwrap(), s.recent(id).unwrap());
    let (a7, r7) = decode_account(&in_layout(a, r, 7)).unwrap();
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
        let e = decode_account(b).expect_err(what);
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
    assert!(decode_account(&huge).is_err());
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
    let (a10, r10) = decode_account(&old).unwrap();
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

/// A digest's eight bytes as records hold them: little-endian.
fn digest_bytes(digest: rating::recent::IdDigest) -> [u8; 8] {
    let json = serde_json::to_value(digest).unwrap();
    json.as_u64().unwrap().to_le_bytes()
}

/// A record of layout 11 reads as the account and its ids, and today's record of it is smaller
/// (24 of 557 bytes less for this account: its number, amounts and times take fewer bytes).
#[test]
fn a_record_of_layout_11_reads_as_today_s_and_today_s_is_smaller() {
    let (s, id) = busy_account();
    let (a, r) = (s.account(id).unwrap(), s.recent(id).unwrap());
    let old = in_layout_11(a, r);
    let (a11, r11) = decode_account(&old).unwrap();
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
        if let Ok((account, recent)) = decode_account(&damaged) {
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
    let (old, recent) = decode_account(&in_layout_6(&a, r)).unwrap();
    assert_eq!(old.numbers[0].joined, Timestamp(0));
    let mut again = Vec::new();
    encode_account(&old, &recent.unwrap(), &mut again);
    assert_eq!(decode_account(&again).unwrap().0, old);
}

/// A record of layout 6 holds its numbers without the time they joined: it reads as the number
/// having joined at the earliest instant of its joining day, everything else as it was.
#[test]
fn a_record_before_joining_times_reads_with_the_earliest_instant_of_the_day() {
    let (s, id) = busy_account();
    let (a, r) = (s.account(id).unwrap(), s.recent(id).unwrap());
    let mut layout6 = in_layout_6(a, r);

    let (old, recent) = decode_account(&layout6).unwrap();
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
        decode_account(&layout6).ok().map(|(a, _)| a),
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
        let (account, read) = decode_account(&bytes).unwrap();
        proptest::prop_assert_eq!(&account, s.account(id).unwrap());
        proptest::prop_assert_eq!(read.unwrap().record(), recent.record());
    }
}
