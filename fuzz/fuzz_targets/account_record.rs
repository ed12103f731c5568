//! Bytes read back as an account record (the `state` family, any layout): decoded or refused
//! with an error, never a panic; what decodes encodes, in today's layout, to a record that
//! decodes to the same account and ids.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rating::record::{decode_account, encode_account};

fuzz_target!(|data: &[u8]| {
    if let Ok((account, recent)) = decode_account(data) {
        let recent = recent.unwrap_or_default();
        let mut b = Vec::new();
        encode_account(&account, &recent, &mut b);
        let (again, ids) = decode_account(&b).expect("a re-encoded record decodes");
        assert_eq!(again, account);
        assert_eq!(
            ids.expect("today's layout holds ids").record(),
            recent.record()
        );
    }
});
