//! Encodings of events: the JSON input form, and the versioned binary form of the log.
//!
//! Binary records are `[version: u8][kind: u8][bincode body]`. The version names the layout of
//! the body. When a layout changes, the new version gets a new number and the decoder keeps a
//! branch that reads the old layout into the new types (docs/events.md, "Evolving the format").

use crate::decision::Decision;
use crate::event::*;
use bincode::Options;
use serde::{de::DeserializeOwned, Serialize};

/// Largest input line or record accepted.
pub const MAX_INPUT_BYTES: usize = 64 * 1024;
pub const MAX_RECORD_BYTES: u64 = 16 << 20;

/// The current layout version of input and decision records.
pub const VERSION: u8 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("input of {0} bytes is larger than the limit of {MAX_INPUT_BYTES}")]
    TooLarge(usize),
    #[error("input is not UTF-8")]
    NotUtf8,
    #[error("invalid input: {0}")]
    Json(String),
    #[error("empty record")]
    Empty,
    #[error("record version {0} is unknown (this build reads up to {VERSION})")]
    UnknownVersion(u8),
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

fn opts() -> impl Options {
    bincode::DefaultOptions::new().with_limit(MAX_RECORD_BYTES)
}

/// Parses one JSON input line.
pub fn parse_json(line: &[u8]) -> Result<Input, DecodeError> {
    if line.len() > MAX_INPUT_BYTES {
        return Err(DecodeError::TooLarge(line.len()));
    }
    let text = std::str::from_utf8(line).map_err(|_| DecodeError::NotUtf8)?;
    let input: Input = serde_json::from_str(text).map_err(|e| DecodeError::Json(e.to_string()))?;
    input.check().map_err(DecodeError::Json)?;
    Ok(input)
}

pub fn to_json(input: &Input) -> String {
    serde_json::to_string(input).expect("input events always serialise")
}

fn put<T: Serialize>(out: &mut Vec<u8>, kind: u8, body: &T) {
    out.push(VERSION);
    out.push(kind);
    opts()
        .serialize_into(&mut *out, body)
        .expect("records serialise into memory");
}

fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    opts()
        .deserialize(bytes)
        .map_err(|e| DecodeError::Corrupt(e.to_string()))
}

fn header(bytes: &[u8]) -> Result<(u8, &[u8]), DecodeError> {
    match bytes {
        [] | [_] => Err(DecodeError::Empty),
        [v, ..] if *v != VERSION => Err(DecodeError::UnknownVersion(*v)),
        [_, kind, rest @ ..] => Ok((*kind, rest)),
    }
}

pub fn encode_input(input: &Input, out: &mut Vec<u8>) {
    match input {
        Input::Usage(x) => put(out, 1, x),
        Input::Payment(x) => put(out, 2, x),
        Input::OpenAccount(x) => put(out, 3, x),
        Input::AddNumber(x) => put(out, 4, x),
        Input::ActivateOption(x) => put(out, 5, x),
        Input::DeactivateOption(x) => put(out, 6, x),
        Input::SetCreditLimit(x) => put(out, 7, x),
        Input::Tick(x) => put(out, 8, x),
        Input::OrderDetalization(x) => put(out, 9, x),
    }
}

pub fn decode_input(bytes: &[u8]) -> Result<Input, DecodeError> {
    let (kind, rest) = header(bytes)?;
    Ok(match kind {
        1 => Input::Usage(body(rest)?),
        2 => Input::Payment(body(rest)?),
        3 => Input::OpenAccount(body(rest)?),
        4 => Input::AddNumber(body(rest)?),
        5 => Input::ActivateOption(body(rest)?),
        6 => Input::DeactivateOption(body(rest)?),
        7 => Input::SetCreditLimit(body(rest)?),
        8 => Input::Tick(body(rest)?),
        9 => Input::OrderDetalization(body(rest)?),
        k => return Err(DecodeError::UnknownKind(k)),
    })
}

const DECISION: u8 = 100;

pub fn encode_decision(d: &Decision, out: &mut Vec<u8>) {
    put(out, DECISION, d)
}

pub fn decode_decision(bytes: &[u8]) -> Result<Decision, DecodeError> {
    match header(bytes)? {
        (DECISION, rest) => body(rest),
        (k, _) => Err(DecodeError::UnknownKind(k)),
    }
}

/// serde for a `SmallVec` field read from untrusted bytes. smallvec's own `Deserialize` reserves
/// the length the bytes claim before reading an element, so a corrupt length asks for gigabytes
/// (found by the `records` fuzz target); going through `Vec`, whose reservation serde caps, reads
/// the same wire form (a sequence) with memory bounded by the record's size.
pub mod small_vec {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use smallvec::{Array, SmallVec};

    pub fn serialize<S: Serializer, A: Array>(v: &SmallVec<A>, s: S) -> Result<S::Ok, S::Error>
    where
        A::Item: Serialize,
    {
        v.as_slice().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, A: Array>(d: D) -> Result<SmallVec<A>, D::Error>
    where
        A::Item: Deserialize<'de>,
    {
        Vec::<A::Item>::deserialize(d).map(SmallVec::from_vec)
    }
}
