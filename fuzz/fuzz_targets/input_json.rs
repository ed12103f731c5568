//! A line from a source: decoded into an input, or refused with an error; never a panic. What
//! decodes survives the binary log unchanged, and its JSON form decodes to the same input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rating::codec::{decode_input, encode_input, parse_json, to_json};

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = parse_json(data) {
        let mut bytes = Vec::new();
        encode_input(&input, &mut bytes);
        assert_eq!(
            decode_input(&bytes).expect("an encoded input decodes"),
            input
        );
        let json = to_json(&input);
        assert_eq!(
            parse_json(json.as_bytes()).expect("its JSON form parses"),
            input
        );
    }
});
