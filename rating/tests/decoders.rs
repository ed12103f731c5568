//! Every decoder refuses hostile bytes with an error, never a panic: arbitrary bytes, and valid
//! encodings with bytes flipped, cut short or extended.

mod common;
use proptest::prelude::*;
use rating::codec::*;
use rating::*;

const LINES: &[&str] = &[
    r#"{"type":"open_account","id":"cmd-1","account":"ACC-1","time":"2026-11-01T10:00:00+03:00","credit_limit":"100.00","numbers":[{"msisdn":"79001234567","plan":"SMART","options":["MESSENGERS"]}]}"#,
    r#"{"type":"usage","id":"msc1:cdr-1","msisdn":"79001234567","service":"voice","direction":"out","other":"79161234567","start":"2026-11-25T10:00:00Z","duration":95}"#,
    r#"{"type":"payment","id":"pay-1","account":"ACC-1","amount":"500.00","time":"2026-11-01T10:05:00Z"}"#,
];

fn encodings() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let cat = common::example();
    let mut s = State::new();
    let (mut inputs, mut decisions) = (Vec::new(), Vec::new());
    for l in LINES {
        let i = parse_json(l.as_bytes()).unwrap();
        let mut b = Vec::new();
        encode_input(&i, &mut b);
        inputs.push(b);
        let mut d = Vec::new();
        encode_decision(&step(&mut s, &cat, &i), &mut d);
        decisions.push(d);
    }
    (inputs, decisions)
}

fn mutate(mut b: Vec<u8>, edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
    for &(at, v) in edits {
        if !b.is_empty() {
            let n = b.len();
            b[at % n] = v;
        }
    }
    b.truncate(cut.min(b.len()));
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_json(&bytes);
        let _ = decode_input(&bytes);
        let _ = decode_decision(&bytes);
        let _ = Catalog::from_bytes("fuzz.toml", &bytes);
    }

    #[test]
    fn mutated_json(which in 0..3usize, edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..4), cut in any::<usize>()) {
        let line = mutate(LINES[which].as_bytes().to_vec(), &edits, cut);
        // The fast way for usage and payments answers exactly as the general way, error and all.
        prop_assert_eq!(parse_json(&line), parse_json_tagged(&line));
    }

    /// Printable edits keep more lines valid JSON, so more of them reach the structs.
    #[test]
    fn edited_json_decodes_alike_both_ways(which in 1..3usize, edits in prop::collection::vec((any::<usize>(), 32u8..127), 0..3)) {
        let line = mutate(LINES[which].as_bytes().to_vec(), &edits, usize::MAX);
        prop_assert_eq!(parse_json(&line), parse_json_tagged(&line));
    }

    #[test]
    fn mutated_records(which in 0..3usize, edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4), cut in any::<usize>()) {
        let (inputs, decisions) = encodings();
        let _ = decode_input(&mutate(inputs[which].clone(), &edits, cut));
        if let Ok(d) = decode_decision(&mutate(decisions[which].clone(), &edits, cut)) {
            // A decision that decodes can be applied or refused, but never panics.
            let _ = apply(&mut State::new(), &d);
        }
    }

    #[test]
    fn mutated_catalog(edits in prop::collection::vec((any::<usize>(), 32u8..127), 1..6)) {
        let _ = Catalog::from_bytes("fuzz.toml", &mutate(common::EXAMPLE.as_bytes().to_vec(), &edits, usize::MAX));
    }
}

/// Found by `fuzz/` (target `records`): an opened account whose number claims 2^34 options.
/// smallvec reserved what the bytes claimed and asked for 32 GiB; now the record is refused.
#[test]
fn a_corrupt_length_is_refused_without_allocating_it() {
    let hex = "016405636d642d31fd7562ecd45ad518d1fce0c6cdd5010543412d43310002054143432d310000fb204e0201fdffffffffd602020000fd0000008002000000fd0000008002000000fce0c6cdd5fca0c71bd60a323032362d31312d30310000fca0c71bd60303fd872cd76412000000000000fce0c6cdd5fb204e02fd872cd76412000000000100000000000000905f010002fd872cd76412000000120000000001000300000000fb5046fb5046010002fce0c6cdd5fce0c6cdd5fca0c71bd6010100ffffff31006464fce0c6cdd5fb584dfca0c71bd6020002fd872cd7641200000002010002fce0c6cdd5fb584d8a";
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    assert!(decode_decision(&bytes).is_err());
}
