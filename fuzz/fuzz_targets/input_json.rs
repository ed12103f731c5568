//! A line from a source: decoded into an input, or refused with an error; never a panic. The
//! fast way for usage and payments answers as the general way does. What decodes survives the
//! binary log unchanged, and its JSON form decodes to the same input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rating::codec::{decode_input, encode_input, parse_json, parse_json_tagged, to_json};

fuzz_target!(|data: &[u8]| {
    let parsed = parse_json(data);
    assert_eq!(parsed, parse_json_tagged(data));
    if let Ok(input) = parsed {
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
