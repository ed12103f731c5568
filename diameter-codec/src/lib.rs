//! Diameter messages (RFC 6733, section 3 and 4) as bytes: a message's header and its AVPs,
//! grouped AVPs read on demand, encoding, and a decoder for untrusted input that checks every
//! length, refuses what does not add up with a typed error, and never panics (fuzzed:
//! `fuzz/fuzz_targets/diameter_message.rs`).
//!
//! AVP values are kept as their bytes; typed readers (`unsigned32`, `utf8`, `grouped`, …)
//! check their length when asked. An AVP this code does not know is kept as it came.

mod avp;
mod message;

pub use avp::{Avp, FLAG_MANDATORY, FLAG_PROTECTED, FLAG_VENDOR};
pub use message::{
    find, frame_length, Header, Message, FLAG_ERROR, FLAG_PROXIABLE, FLAG_REQUEST,
    FLAG_RETRANSMITTED, HEADER_BYTES, MAX_MESSAGE_BYTES,
};

/// Why bytes are not a Diameter message, or an AVP not the value asked of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("version {0}: only Diameter version 1 is spoken")]
    Version(u8),
    #[error("message length {0} is below the header's 20 bytes or above the limit")]
    MessageLength(u32),
    #[error("the message's {have} bytes differ from the {said} its header says")]
    Truncated { said: u32, have: usize },
    #[error("AVP {code}: length {length} does not fit its header or its message")]
    AvpLength { code: u32, length: u32 },
    #[error("AVP {code}: {expected} bytes expected, {found} found")]
    ValueLength {
        code: u32,
        expected: usize,
        found: usize,
    },
    #[error("AVP {0} is not valid UTF-8")]
    NotUtf8(u32),
    #[error("more than {0} AVPs")]
    TooManyAvps(usize),
    #[error("grouped AVPs nested deeper than {0}")]
    TooDeep(usize),
}

/// The most AVPs one message or group holds: a credit-control request has a few dozen.
pub const MAX_AVPS: usize = 1_024;

/// How deep grouped AVPs may nest (Multiple-Services-Credit-Control holds Used-Service-Unit,
/// which holds its units: three).
pub const MAX_DEPTH: usize = 8;
