//! The Diameter decoder on arbitrary bytes: never a panic; a message it reads encodes back to
//! bytes it reads as the same message, and every AVP's typed readers and groups only return
//! errors on what they cannot read.
#![no_main]

use diameter_codec::{frame_length, Avp, Message, HEADER_BYTES};
use libfuzzer_sys::fuzz_target;

fn read_all(avps: &[Avp], depth: usize) {
    for avp in avps {
        let _ = (avp.as_unsigned32(), avp.as_unsigned64(), avp.as_utf8());
        if depth < 4 {
            if let Ok(members) = avp.as_grouped() {
                read_all(&members, depth + 1);
            }
        }
    }
}

fuzz_target!(|bytes: &[u8]| {
    if let Some(first) = bytes.get(..4) {
        let _ = frame_length(first.try_into().unwrap());
    }
    let _ = Message::decode_header(bytes);
    if let Ok(message) = Message::decode(bytes) {
        read_all(&message.avps, 0);
        let mut again = Vec::new();
        message.encode(&mut again);
        assert!(again.len() >= HEADER_BYTES);
        let back = Message::decode(&again).expect("an encoded message decodes");
        assert_eq!(back.header, message.header);
        assert_eq!(back.avps.len(), message.avps.len());
    }
});
