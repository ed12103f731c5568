//! An account's record: the account and the ids it remembers, in the bytes the engine stores at a
//! checkpoint, and every older layout read back. Pure, so that it is fuzzed without a store
//! (`fuzz/fuzz_targets/account_record.rs`).
//!
//! Layouts: 11 since a record is written in bincode's variable-width encoding, its ids packed
//! ([`crate::recent::PackedRecent`]): a typical prepaid account's record took about a third
//! less (the figures: docs/performance.md); 10 since a record holds, after the open sessions, the sessions ended lately
//! (`Account::ended_sessions`; a layout-9 record has none); 9 since a record holds, after the refunds, the account's open online sessions
//! (`Account::sessions`; a layout-8 record has none); 8 since a record holds, after the ids, what was refunded of the account's charges
//! (`Account::refunds`), and its numbers their unpaid fees (layout 7 read through
//! [`crate::codec::v4`]); 7 since a number holds the time it joined its account (layouts 3 to 6 hold numbers
//! as decisions of version 3 did, read through [`crate::codec::v3`]); 6 since a record holds the ids its account keeps for ever (payments, transfers,
//! commands; a layout-5 record holds the window's alone, read through [`crate::recent::v5`]);
//! 5 since the ids a record holds are 64-bit digests (a layout-4 record holds 128-bit
//! ones, read through [`crate::recent::v4`], whose low halves are today's); 4 since a record
//! holds the ids its account remembers (a layout-3 record is the account alone, its ids kept
//! apart by older stores); 2 and 1 are read through [`crate::codec::v2`] and [`crate::codec::v1`].
//! The first byte is the layout; the rest is bincode's variable-width encoding (layout 11) or
//! its fixed-width one (layouts 1 to 10).

use crate::codec::DecodeError;
use crate::recent::{PackedRecent, Recent, RecentRecord};
use crate::session::{EndedSession, Session};
use crate::state::{Account, Refunded};
use bincode::Options;

/// The layout written today.
pub const ACCOUNT_LAYOUT: u8 = 11;

/// The most bytes a record is read from: an account's ids are a window of its inputs, 16 bytes
/// each, so a number with a million inputs in one window is 16 MB. More is corruption, refused
/// before anything is allocated for it.
pub const MAX_ACCOUNT_BYTES: u64 = 256 << 20;

/// bincode's top-level functions' encoding, which the records up to layout 10 were written in.
fn opts() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .allow_trailing_bytes()
        .with_limit(MAX_ACCOUNT_BYTES)
}

/// The encoding of records from layout 11 on: integers, lengths and amounts' mantissas in as
/// few bytes as their values need; nothing may follow the record.
fn compact() -> impl Options {
    bincode::DefaultOptions::new()
        .with_varint_encoding()
        .reject_trailing_bytes()
        .with_limit(MAX_ACCOUNT_BYTES)
}

/// Writes the record of `account` and the ids it remembers into `out` (cleared first).
pub fn encode_account(account: &Account, recent: &Recent, out: &mut Vec<u8>) {
    out.clear();
    out.push(ACCOUNT_LAYOUT);
    compact()
        .serialize_into(
            &mut *out,
            &(
                account,
                PackedRecent::from(&recent.record()),
                &account.refunds,
                &account.sessions,
                &account.ended_sessions,
            ),
        )
        .expect("accounts serialise into memory");
}

/// A record of layout 11 after its first byte.
type Layout11 = (
    Account,
    PackedRecent,
    Vec<Refunded>,
    Vec<Session>,
    Vec<EndedSession>,
);

/// A record of layout 10 after its first byte.
type Layout10 = (
    Account,
    RecentRecord,
    Vec<Refunded>,
    Vec<Session>,
    Vec<EndedSession>,
);

/// The account of a record that holds its refunds and online sessions beside it.
fn online_held(
    (mut account, recent, refunds, sessions, ended): Layout10,
) -> (Account, Option<Recent>) {
    account.refunds = refunds;
    account.sessions = sessions;
    account.ended_sessions = ended;
    (account, Some(Recent::from(recent)))
}

/// Reads a record of any layout: the account, and what it remembers (none in a record written
/// before records held their ids).
pub fn decode_account(bytes: &[u8]) -> Result<(Account, Option<Recent>), DecodeError> {
    let corrupt = |layout: u8| {
        move |e: bincode::Error| {
            DecodeError::Corrupt(format!("account record of layout {layout}: {e}"))
        }
    };
    match bytes.split_first() {
        Some((&ACCOUNT_LAYOUT, rest)) => {
            let (account, packed, refunds, sessions, ended) = compact()
                .deserialize::<Layout11>(rest)
                .map_err(corrupt(ACCOUNT_LAYOUT))?;
            let recent = RecentRecord::try_from(packed).map_err(|problem| {
                DecodeError::Corrupt(format!("account record of layout 11: {problem}"))
            })?;
            Ok(online_held((account, recent, refunds, sessions, ended)))
        }
        Some((10, rest)) => opts()
            .deserialize::<Layout10>(rest)
            .map(online_held)
            .map_err(corrupt(10)),
        Some((9, rest)) => opts()
            .deserialize::<(Account, RecentRecord, Vec<Refunded>, Vec<Session>)>(rest)
            .map(|(a, r, refunds, sessions)| online_held((a, r, refunds, sessions, Vec::new())))
            .map_err(corrupt(9)),
        Some((8, rest)) => opts()
            .deserialize::<(Account, RecentRecord, Vec<Refunded>)>(rest)
            .map(|(mut a, r, refunds)| {
                a.refunds = refunds;
                (a, Some(Recent::from(r)))
            })
            .map_err(corrupt(8)),
        Some((7, rest)) => {
            crate::codec::v4::read(|| opts().deserialize::<(Account, RecentRecord)>(rest))
                .map(|(a, r)| (a, Some(Recent::from(r))))
                .map_err(corrupt(7))
        }
        Some((6, rest)) => {
            crate::codec::v3::read(|| opts().deserialize::<(Account, RecentRecord)>(rest))
                .map(|(a, r)| (a, Some(Recent::from(r))))
                .map_err(corrupt(6))
        }
        Some((5, rest)) => crate::codec::v3::read(|| {
            opts().deserialize::<(Account, crate::recent::v5::RecentRecord)>(rest)
        })
        .map(|(a, r)| (a, Some(Recent::from(RecentRecord::from(r)))))
        .map_err(corrupt(5)),
        Some((4, rest)) => crate::codec::v3::read(|| {
            opts().deserialize::<(Account, crate::recent::v4::RecentRecord)>(rest)
        })
        .map(|(a, r)| (a, Some(Recent::from(RecentRecord::from(r)))))
        .map_err(corrupt(4)),
        Some((3, rest)) => crate::codec::v3::read(|| opts().deserialize(rest))
            .map(|a| (a, None))
            .map_err(corrupt(3)),
        Some((2, rest)) => opts()
            .deserialize::<crate::codec::v2::Account>(rest)
            .map(|a| (Account::from(a), None))
            .map_err(corrupt(2)),
        Some((1, rest)) => opts()
            .deserialize::<crate::codec::v1::Account>(rest)
            .map(|a| (Account::from(a), None))
            .map_err(corrupt(1)),
        Some((&layout, _)) => Err(DecodeError::Corrupt(format!(
            "account record of layout {layout}, which this build does not know"
        ))),
        None => Err(DecodeError::Empty),
    }
}
