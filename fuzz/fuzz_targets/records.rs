//! Bytes read back from the log (an input or a decision record): decoded or refused with an
//! error, never a panic; what decodes encodes to bytes that decode to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rating::codec::{decode_decision, decode_input, encode_decision, encode_input};

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = decode_input(data) {
        let mut b = Vec::new();
        encode_input(&input, &mut b);
        assert_eq!(decode_input(&b).expect("re-encoded input decodes"), input);
    }
    if let Ok(d) = decode_decision(data) {
        let mut b = Vec::new();
        encode_decision(&d, &mut b);
        assert_eq!(decode_decision(&b).expect("re-encoded decision decodes"), d);
    }
});
