//! Bytes read from the changelog topic: a piece is decoded or refused with an error, never a
//! panic, and what decodes encodes to the same bytes. (The WriteBatch a piece carries is read
//! by RocksDB's own parser, which checks every record and its count; `Store::translate`
//! refuses a batch whose count disagrees.)
#![no_main]
use libfuzzer_sys::fuzz_target;

use changelog_piece as piece;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = piece::Piece::decode(data) {
        let again = p.encode();
        assert_eq!(
            piece::Piece::decode(&again).expect("re-encoded piece decodes"),
            p
        );
    }
});
