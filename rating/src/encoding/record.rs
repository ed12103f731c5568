//! An account's record: the account and the ids it remembers, in the bytes the engine stores at a
//! checkpoint under the account's id, and every older layout read back. Pure, so that it is
//! fuzzed without a store (`fuzz/fuzz_targets/account_record.rs`).
//!
//! Layouts: 13 since the ids' digests are 48 bits, six bytes each ([`crate::recent::IdDigest`]:
//! a layout-12 record's 64-bit digests read as their low 48 bits), and the account is in a form
//! of the record's own (`account_form`: its times distances from one base, its joining date a
//! day number, no id, which is the record's key): a typical prepaid account's record takes 195
//! bytes, 261 in layout 12; 12 since a record is written in postcard's encoding (every integer, length and
//! amount's mantissa a LEB128 varint: a number or an amount of kopecks takes a byte or two fewer
//! than in bincode's, whose integers past 250 take three, five or nine bytes), its ids' times as
//! distances ([`crate::recent::PackedRecent`]): a typical prepaid account's record takes some
//! 8 % less than in layout 11 (the figures: docs/performance.md); 11 since a record is written
//! in bincode's variable-width encoding, its ids packed ([`crate::recent::v11`]): a third less
//! than in layout 10; 10 since a record holds, after the open sessions, the sessions ended lately
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
//! The first byte is the layout; the rest is postcard's encoding (layouts 12 and 13), bincode's
//! variable-width encoding (layout 11) or its fixed-width one (layouts 1 to 10).

use super::account_form::AccountForm;
use crate::codec::DecodeError;
use crate::event::AccountId;
use crate::recent::{v11, PackedRecent, Recent, RecentRecord};
use crate::session::{EndedSession, Session};
use crate::state::{Account, Refunded};
use bincode::Options;

/// The layout written today.
pub const ACCOUNT_LAYOUT: u8 = 13;

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

/// The encoding of records of layout 11: integers, lengths and amounts' mantissas in as few
/// bytes as bincode's variable-width integers need; nothing may follow the record.
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
    let online = (&account.refunds, &account.sessions, &account.ended_sessions);
    let any_online = !(online.0.is_empty() && online.1.is_empty() && online.2.is_empty());
    let fields = (
        AccountForm::of(account),
        PackedRecent::from(&recent.record()),
        any_online.then_some(online),
    );
    postcard::serialize_with_flavor(&fields, Append(out)).expect("accounts serialise into memory");
}

/// postcard's output pushed straight onto the caller's buffer, which the engine reuses from
/// record to record (postcard's own flavors take the vector by value or extend it through an
/// iterator).
struct Append<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// A record of layout 13 after its first byte: the refunds and sessions are `None` when the
/// account has none of either.
type Layout13 = (AccountForm, PackedRecent, Option<Online>);

/// What a record holds after the account's ids: its refunds, open sessions and sessions ended.
type Online = (Vec<Refunded>, Vec<Session>, Vec<EndedSession>);

/// A record of layout 12 after its first byte.
type Layout12 = (
    Account,
    PackedRecent,
    Vec<Refunded>,
    Vec<Session>,
    Vec<EndedSession>,
);

/// A record of layout 11 after its first byte.
type Layout11 = (
    Account,
    v11::PackedRecent,
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

/// The fields of a record of `layout` (12 on) after its first byte; nothing may follow them.
fn postcard_fields<T: serde::de::DeserializeOwned>(
    layout: u8,
    rest: &[u8],
) -> Result<T, DecodeError> {
    let fields = match postcard::take_from_bytes::<T>(rest) {
        Ok((fields, [])) => Ok(fields),
        Ok((_, trailing)) => Err(format!("{} bytes after the record", trailing.len())),
        Err(e) => Err(e.to_string()),
    };
    fields.map_err(|problem| corrupt(layout, problem))
}

fn corrupt(layout: u8, problem: impl std::fmt::Display) -> DecodeError {
    DecodeError::Corrupt(format!("account record of layout {layout}: {problem}"))
}

/// The fields of a record of layout 13 with the account, of id `id`, read from its form.
fn layout_13(id: &str, rest: &[u8]) -> Result<Layout12, DecodeError> {
    let (form, packed, online) = postcard_fields::<Layout13>(ACCOUNT_LAYOUT, rest)?;
    let (refunds, sessions, ended) = online.unwrap_or_default();
    let account = form
        .into_account(AccountId::from(id))
        .map_err(|problem| corrupt(ACCOUNT_LAYOUT, problem))?;
    Ok((account, packed, refunds, sessions, ended))
}

/// The account of a record whose ids are packed (layouts 11 on): digests of
/// [`crate::recent::DIGEST_BYTES`] from layout 13, of eight before.
fn packed_held(layout: u8, fields: Layout12) -> Result<(Account, Option<Recent>), DecodeError> {
    let (account, packed, refunds, sessions, ended) = fields;
    let width = match layout {
        ACCOUNT_LAYOUT => crate::recent::DIGEST_BYTES,
        _ => 8,
    };
    let recent = packed
        .unpack(width)
        .map_err(|problem| corrupt(layout, problem))?;
    Ok(online_held((account, recent, refunds, sessions, ended)))
}

/// Reads the record of the account `id` (its key), of any layout: the account, and what it
/// remembers (none in a record written before records held their ids). A record of a layout
/// that held the account's id (before 13) and holds another is refused: it is not this
/// account's.
pub fn decode_account(id: &str, bytes: &[u8]) -> Result<(Account, Option<Recent>), DecodeError> {
    if bytes.len() as u64 > MAX_ACCOUNT_BYTES {
        return Err(DecodeError::Corrupt(format!(
            "an account record of {} bytes, more than any account holds",
            bytes.len()
        )));
    }
    let (account, recent) = decode_any_layout(id, bytes)?;
    if account.id != id {
        return Err(DecodeError::Corrupt(format!(
            "the record of account {id:?} holds account {:?}",
            account.id
        )));
    }
    Ok((account, recent))
}

fn decode_any_layout(id: &str, bytes: &[u8]) -> Result<(Account, Option<Recent>), DecodeError> {
    let unreadable = |layout: u8| move |e: bincode::Error| corrupt(layout, e);
    match bytes.split_first() {
        Some((&ACCOUNT_LAYOUT, rest)) => packed_held(ACCOUNT_LAYOUT, layout_13(id, rest)?),
        Some((12, rest)) => packed_held(12, postcard_fields::<Layout12>(12, rest)?),
        Some((11, rest)) => {
            let (account, packed, refunds, sessions, ended) = compact()
                .deserialize::<Layout11>(rest)
                .map_err(unreadable(11))?;
            packed_held(11, (account, packed.into(), refunds, sessions, ended))
        }
        Some((10, rest)) => opts()
            .deserialize::<Layout10>(rest)
            .map(online_held)
            .map_err(unreadable(10)),
        Some((9, rest)) => opts()
            .deserialize::<(Account, RecentRecord, Vec<Refunded>, Vec<Session>)>(rest)
            .map(|(a, r, refunds, sessions)| online_held((a, r, refunds, sessions, Vec::new())))
            .map_err(unreadable(9)),
        Some((8, rest)) => opts()
            .deserialize::<(Account, RecentRecord, Vec<Refunded>)>(rest)
            .map(|(mut a, r, refunds)| {
                a.refunds = refunds;
                (a, Some(Recent::from(r)))
            })
            .map_err(unreadable(8)),
        Some((7, rest)) => {
            crate::codec::v4::read(|| opts().deserialize::<(Account, RecentRecord)>(rest))
                .map(|(a, r)| (a, Some(Recent::from(r))))
                .map_err(unreadable(7))
        }
        Some((6, rest)) => {
            crate::codec::v3::read(|| opts().deserialize::<(Account, RecentRecord)>(rest))
                .map(|(a, r)| (a, Some(Recent::from(r))))
                .map_err(unreadable(6))
        }
        Some((5, rest)) => crate::codec::v3::read(|| {
            opts().deserialize::<(Account, crate::recent::v5::RecentRecord)>(rest)
        })
        .map(|(a, r)| (a, Some(Recent::from(RecentRecord::from(r)))))
        .map_err(unreadable(5)),
        Some((4, rest)) => crate::codec::v3::read(|| {
            opts().deserialize::<(Account, crate::recent::v4::RecentRecord)>(rest)
        })
        .map(|(a, r)| (a, Some(Recent::from(RecentRecord::from(r)))))
        .map_err(unreadable(4)),
        Some((3, rest)) => crate::codec::v3::read(|| opts().deserialize(rest))
            .map(|a| (a, None))
            .map_err(unreadable(3)),
        Some((2, rest)) => opts()
            .deserialize::<crate::codec::v2::Account>(rest)
            .map(|a| (Account::from(a), None))
            .map_err(unreadable(2)),
        Some((1, rest)) => opts()
            .deserialize::<crate::codec::v1::Account>(rest)
            .map(|a| (Account::from(a), None))
            .map_err(unreadable(1)),
        Some((&layout, _)) => Err(DecodeError::Corrupt(format!(
            "account record of layout {layout}, which this build does not know"
        ))),
        None => Err(DecodeError::Empty),
    }
}
