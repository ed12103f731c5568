//! A charge named from outside: the bytes of Refund-Information (3GPP TS 32.299, AVP 2022), the
//! opaque value a direct debit's answer carries and a later REFUND_ACCOUNT request hands back.
//! ratel writes the charge's account and event id; the network only keeps and returns them.
//! Decoded from untrusted bytes (`fuzz/fuzz_targets/charge_reference.rs`).
//!
//! Layout: `[version 1][account length u8][account][event id]`, both UTF-8. What a peer sends
//! back is checked like any input: a forged or damaged value names no charge of the account it
//! names, and the refund is refused by the rating core (`unknown_charge`), never applied to
//! another account's charge.

use crate::event::{AccountId, EventId, MAX_DERIVED_ID_BYTES};

const VERSION: u8 = 1;

/// The most bytes a Refund-Information is read from: an account id and an event id.
pub const MAX_BYTES: usize = 2 + u8::MAX as usize + MAX_DERIVED_ID_BYTES;

/// The charge a direct debit made, as its answer names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeReference {
    pub account: AccountId,
    pub event: EventId,
}

impl ChargeReference {
    /// The bytes of the AVP; `None` for an account id too long to name (never made: account
    /// ids are at most 64 bytes).
    pub fn encode(&self) -> Option<Vec<u8>> {
        let length = u8::try_from(self.account.len()).ok()?;
        let mut out = Vec::with_capacity(2 + self.account.len() + self.event.len());
        out.push(VERSION);
        out.push(length);
        out.extend_from_slice(self.account.as_bytes());
        out.extend_from_slice(self.event.as_bytes());
        Some(out)
    }

    /// Reads what [`ChargeReference::encode`] wrote; anything else is an error saying why.
    pub fn decode(bytes: &[u8]) -> Result<ChargeReference, String> {
        if bytes.len() > MAX_BYTES {
            return Err(format!("Refund-Information longer than {MAX_BYTES} bytes"));
        }
        let Some((&VERSION, rest)) = bytes.split_first() else {
            return Err("Refund-Information of an unknown layout".into());
        };
        let Some((&length, rest)) = rest.split_first() else {
            return Err("Refund-Information cut short".into());
        };
        let length = usize::from(length);
        if length == 0 || rest.len() <= length {
            return Err("Refund-Information without an account or a charge".into());
        }
        let (account, event) = rest.split_at(length);
        let text = |part| match std::str::from_utf8(part) {
            Ok(text) => Ok(text.into()),
            Err(_) => Err("Refund-Information is not UTF-8".to_string()),
        };
        Ok(ChargeReference {
            account: text(account)?,
            event: text(event)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn what_is_written_reads_back(account in "[A-Za-z0-9]{1,64}", event in ".{1,100}") {
            let charge = ChargeReference { account: account.into(), event: event.into() };
            prop_assert_eq!(ChargeReference::decode(&charge.encode().unwrap()), Ok(charge));
        }

        #[test]
        fn any_bytes_read_as_a_reference_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(charge) = ChargeReference::decode(&bytes) {
                prop_assert_eq!(charge.encode(), Some(bytes));
            }
        }
    }

    #[test]
    fn damaged_values_are_errors() {
        for bytes in [
            &b""[..],
            b"\x01",
            b"\x02\x01AE",
            b"\x01\x00E",
            b"\x01\x05ACC",
            b"\x01\x01A",
            b"\x01\x01\xffE",
        ] {
            assert!(ChargeReference::decode(bytes).is_err(), "{bytes:?}");
        }
    }
}
