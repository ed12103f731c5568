//! One AVP (RFC 6733, section 4): code, flags, vendor, and its value's bytes; the readers of
//! the basic types and of a grouped AVP's members, and the encoding.

use crate::{DecodeError, MAX_AVPS, MAX_DEPTH};

/// The Vendor-Specific bit: a Vendor-ID follows the length.
pub const FLAG_VENDOR: u8 = 0x80;
/// The Mandatory bit: a receiver that does not know the AVP must refuse the message.
pub const FLAG_MANDATORY: u8 = 0x40;
pub const FLAG_PROTECTED: u8 = 0x20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Avp {
    pub code: u32,
    pub flags: u8,
    pub vendor: Option<u32>,
    pub data: Vec<u8>,
}

impl Avp {
    fn with(code: u32, vendor: Option<u32>, data: Vec<u8>) -> Avp {
        let flags = FLAG_MANDATORY | if vendor.is_some() { FLAG_VENDOR } else { 0 };
        Avp {
            code,
            flags,
            vendor,
            data,
        }
    }

    pub fn unsigned32(code: u32, vendor: Option<u32>, value: u32) -> Avp {
        Avp::with(code, vendor, value.to_be_bytes().to_vec())
    }

    pub fn unsigned64(code: u32, vendor: Option<u32>, value: u64) -> Avp {
        Avp::with(code, vendor, value.to_be_bytes().to_vec())
    }

    /// UTF8String, DiameterIdentity and DiameterURI alike.
    pub fn utf8(code: u32, vendor: Option<u32>, value: &str) -> Avp {
        Avp::with(code, vendor, value.as_bytes().to_vec())
    }

    pub fn octets(code: u32, vendor: Option<u32>, value: &[u8]) -> Avp {
        Avp::with(code, vendor, value.to_vec())
    }

    pub fn grouped(code: u32, vendor: Option<u32>, members: &[Avp]) -> Avp {
        let mut data = Vec::new();
        for member in members {
            member.encode(&mut data);
        }
        Avp::with(code, vendor, data)
    }

    /// The AVP without its Mandatory bit (the bit RFC 6733 leaves to each AVP's definition).
    pub fn optional(mut self) -> Avp {
        self.flags &= !FLAG_MANDATORY;
        self
    }

    pub fn is_mandatory(&self) -> bool {
        self.flags & FLAG_MANDATORY != 0
    }

    fn exactly<const N: usize>(&self) -> Result<[u8; N], DecodeError> {
        self.data
            .as_slice()
            .try_into()
            .map_err(|_| DecodeError::ValueLength {
                code: self.code,
                expected: N,
                found: self.data.len(),
            })
    }

    /// Unsigned32, and Enumerated read as its unsigned value.
    pub fn as_unsigned32(&self) -> Result<u32, DecodeError> {
        self.exactly::<4>().map(u32::from_be_bytes)
    }

    pub fn as_unsigned64(&self) -> Result<u64, DecodeError> {
        self.exactly::<8>().map(u64::from_be_bytes)
    }

    pub fn as_utf8(&self) -> Result<&str, DecodeError> {
        std::str::from_utf8(&self.data).map_err(|_| DecodeError::NotUtf8(self.code))
    }

    /// A grouped AVP's members, decoded from its value.
    pub fn as_grouped(&self) -> Result<Vec<Avp>, DecodeError> {
        decode_avps(&self.data, 1)
    }

    /// The bytes of the AVP with its padding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let header = if self.vendor.is_some() { 12 } else { 8 };
        let length = header + self.data.len();
        assert!(length < 1 << 24, "an AVP's length fits its 24 bits");
        let flags = match self.vendor {
            Some(_) => self.flags | FLAG_VENDOR,
            None => self.flags & !FLAG_VENDOR,
        };
        out.extend_from_slice(&self.code.to_be_bytes());
        out.push(flags);
        out.extend_from_slice(&(length as u32).to_be_bytes()[1..]);
        if let Some(vendor) = self.vendor {
            out.extend_from_slice(&vendor.to_be_bytes());
        }
        out.extend_from_slice(&self.data);
        out.resize(out.len() + padding(length), 0);
    }
}

fn padding(length: usize) -> usize {
    (4 - length % 4) % 4
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// The AVPs that fill `bytes` exactly (the last one's padding may be left out), at a nesting
/// depth of `depth`.
pub(crate) fn decode_avps(mut bytes: &[u8], depth: usize) -> Result<Vec<Avp>, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep(MAX_DEPTH));
    }
    let mut avps = Vec::new();
    while !bytes.is_empty() {
        if avps.len() == MAX_AVPS {
            return Err(DecodeError::TooManyAvps(MAX_AVPS));
        }
        let (avp, rest) = decode_one(bytes)?;
        avps.push(avp);
        bytes = rest;
    }
    Ok(avps)
}

/// The AVP at the start of `bytes`, and what follows it and its padding.
fn decode_one(bytes: &[u8]) -> Result<(Avp, &[u8]), DecodeError> {
    if bytes.len() < 8 {
        let code = if bytes.len() >= 4 { be32(bytes) } else { 0 };
        let length = bytes.len() as u32;
        return Err(DecodeError::AvpLength { code, length });
    }
    let code = be32(bytes);
    let flags = bytes[4];
    let length = be32(&bytes[4..]) & 0x00ff_ffff;
    let header = if flags & FLAG_VENDOR != 0 { 12 } else { 8 };
    let fits = (length as usize) >= header && (length as usize) <= bytes.len();
    if !fits {
        return Err(DecodeError::AvpLength { code, length });
    }
    let vendor = (header == 12).then(|| be32(&bytes[8..]));
    let data = bytes[header..length as usize].to_vec();
    let end = (length as usize + padding(length as usize)).min(bytes.len());
    let avp = Avp {
        code,
        flags,
        vendor,
        data,
    };
    Ok((avp, &bytes[end..]))
}
