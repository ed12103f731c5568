//! Refund-Information as a peer hands it back: read as a charge or refused with an error, never
//! a panic; what reads encodes to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rating::charge_reference::ChargeReference;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(charge) = ChargeReference::decode(bytes) {
        assert_eq!(charge.encode().as_deref(), Some(bytes));
    }
});
