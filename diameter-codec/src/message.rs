//! A Diameter message (RFC 6733, section 3): its 20-byte header and its AVPs; the length that
//! frames it on a stream; an answer made from its request.

use crate::avp::{decode_avps, Avp};
use crate::DecodeError;

pub const HEADER_BYTES: usize = 20;

/// The largest message read: a credit-control request is a few hundred bytes. A peer that
/// says more is refused before anything is allocated for it.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

pub const FLAG_REQUEST: u8 = 0x80;
pub const FLAG_PROXIABLE: u8 = 0x40;
pub const FLAG_ERROR: u8 = 0x20;
/// The T bit: the request may have been sent before (after a link failover).
pub const FLAG_RETRANSMITTED: u8 = 0x10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub flags: u8,
    /// 24 bits.
    pub command: u32,
    pub application: u32,
    pub hop_by_hop: u32,
    pub end_to_end: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub avps: Vec<Avp>,
}

/// The whole length of the message whose first four bytes are `first`: what a reader of a
/// stream reads next. An error means the stream cannot be followed any further.
pub fn frame_length(first: [u8; 4]) -> Result<usize, DecodeError> {
    if first[0] != 1 {
        return Err(DecodeError::Version(first[0]));
    }
    let length = u32::from_be_bytes([0, first[1], first[2], first[3]]);
    if (length as usize) < HEADER_BYTES
        || length as usize > MAX_MESSAGE_BYTES
        || !length.is_multiple_of(4)
    {
        return Err(DecodeError::MessageLength(length));
    }
    Ok(length as usize)
}

impl Message {
    pub fn is_request(&self) -> bool {
        self.header.flags & FLAG_REQUEST != 0
    }

    /// The message's header alone, from the first 20 bytes: enough to answer a message whose
    /// AVPs are broken.
    pub fn decode_header(bytes: &[u8]) -> Result<Header, DecodeError> {
        let head: &[u8; HEADER_BYTES] = (bytes.get(..HEADER_BYTES))
            .and_then(|head| head.try_into().ok())
            .ok_or(DecodeError::Truncated {
                said: HEADER_BYTES as u32,
                have: bytes.len(),
            })?;
        let length = frame_length([head[0], head[1], head[2], head[3]])?;
        if length != bytes.len() {
            return Err(DecodeError::Truncated {
                said: length as u32,
                have: bytes.len(),
            });
        }
        let word =
            |at: usize| u32::from_be_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
        Ok(Header {
            flags: head[4],
            command: word(4) & 0x00ff_ffff,
            application: word(8),
            hop_by_hop: word(12),
            end_to_end: word(16),
        })
    }

    /// A whole message from exactly its bytes.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        let header = Message::decode_header(bytes)?;
        let avps = decode_avps(&bytes[HEADER_BYTES..], 0)?;
        Ok(Message { header, avps })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[1, 0, 0, 0]);
        out.extend_from_slice(&self.header.command.to_be_bytes());
        out[start + 4] = self.header.flags;
        out.extend_from_slice(&self.header.application.to_be_bytes());
        out.extend_from_slice(&self.header.hop_by_hop.to_be_bytes());
        out.extend_from_slice(&self.header.end_to_end.to_be_bytes());
        for avp in &self.avps {
            avp.encode(out);
        }
        let length = (out.len() - start) as u32;
        assert!(length < 1 << 24, "a message's length fits its 24 bits");
        out[start + 1..start + 4].copy_from_slice(&length.to_be_bytes()[1..]);
    }

    /// An answer to the request with header `request`: the same command, application and
    /// identifiers, the R and T bits cleared, the P bit kept (RFC 6733, 6.2).
    pub fn answer(request: &Header) -> Message {
        Message {
            header: Header {
                flags: request.flags & FLAG_PROXIABLE,
                ..*request
            },
            avps: Vec::new(),
        }
    }

    /// The first AVP of `code` (of no vendor, or of `vendor`).
    pub fn find(&self, code: u32, vendor: Option<u32>) -> Option<&Avp> {
        find(&self.avps, code, vendor)
    }

    pub fn push(&mut self, avp: Avp) -> &mut Message {
        self.avps.push(avp);
        self
    }
}

/// The first AVP of `code` and `vendor` among `avps`.
pub fn find(avps: &[Avp], code: u32, vendor: Option<u32>) -> Option<&Avp> {
    avps.iter().find(|a| a.code == code && a.vendor == vendor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Message {
        let mut m = Message {
            header: Header {
                flags: FLAG_REQUEST | FLAG_PROXIABLE,
                command: 272,
                application: 4,
                hop_by_hop: 7,
                end_to_end: 9,
            },
            avps: Vec::new(),
        };
        m.push(Avp::utf8(263, None, "s;1;2"))
            .push(Avp::unsigned32(416, None, 1))
            .push(Avp::grouped(
                456,
                None,
                &[Avp::grouped(
                    446,
                    None,
                    &[Avp::unsigned64(421, None, 1 << 40)],
                )],
            ))
            .push(Avp::octets(1, Some(10415), b"odd"));
        m
    }

    #[test]
    fn a_message_reads_back_as_written_and_its_length_frames_it() {
        let m = request();
        let mut bytes = Vec::new();
        m.encode(&mut bytes);
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(
            frame_length(bytes[..4].try_into().unwrap()),
            Ok(bytes.len())
        );
        let back = Message::decode(&bytes).unwrap();
        assert_eq!(back, m);
        let used = back.avps[2].as_grouped().unwrap()[0].as_grouped().unwrap();
        assert_eq!(used[0].as_unsigned64(), Ok(1 << 40));
        assert_eq!(back.find(1, Some(10415)).unwrap().data, b"odd");
    }

    #[test]
    fn broken_lengths_are_errors_never_panics() {
        let mut bytes = Vec::new();
        request().encode(&mut bytes);
        for cut in 0..bytes.len() {
            assert!(Message::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        // An AVP that says it is longer than its message, or shorter than its header.
        for length in [0u8, 7, 255] {
            let mut broken = bytes.clone();
            broken[HEADER_BYTES + 7] = length;
            assert!(matches!(
                Message::decode(&broken),
                Err(DecodeError::AvpLength { .. })
            ));
        }
        assert_eq!(frame_length([2, 0, 0, 20]), Err(DecodeError::Version(2)));
        assert!(frame_length([1, 0xff, 0xff, 0xfc]).is_err());
        let wrong = Avp::utf8(1, None, "12345");
        assert!(wrong.as_unsigned32().is_err() && wrong.as_unsigned64().is_err());
    }
}
