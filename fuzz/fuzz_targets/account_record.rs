//! Bytes read back as an account record (the `state` family, any layout) under a key: decoded
//! or refused with an error, never a panic; what decodes encodes, in today's layout, to a record
//! that decodes to the same account and ids. The input is the key's length (a byte), the key
//! (the account's id), then the record.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rating::record::{decode_account, encode_account};

fuzz_target!(|data: &[u8]| {
    let Some((&length, rest)) = data.split_first() else {
        return;
    };
    let Some((key, record)) = rest.split_at_checked(usize::from(length)) else {
        return;
    };
    let Ok(id) = std::str::from_utf8(key) else {
        return;
    };
    if let Ok((account, recent)) = decode_account(id, record) {
        assert_eq!(account.id, id, "a record reads as the account of its key");
        let recent = recent.unwrap_or_default();
        let mut b = Vec::new();
        encode_account(&account, &recent, &mut b);
        let (again, ids) = decode_account(id, &b).expect("a re-encoded record decodes");
        assert_eq!(again, account);
        assert_eq!(
            ids.expect("today's layout holds ids").record(),
            recent.record()
        );
    }
});
