//! The words that classify a usage item: service, direction, zone, network and unit.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    Voice,
    Sms,
    Mms,
    Data,
}

impl Service {
    pub const ALL: [Service; 4] = [Service::Voice, Service::Sms, Service::Mms, Service::Data];

    /// The unit usage of this service is counted in.
    pub fn unit(self) -> Unit {
        match self {
            Service::Voice => Unit::Seconds,
            Service::Sms | Service::Mms => Unit::Messages,
            Service::Data => Unit::Bytes,
        }
    }

    /// The service's bit in a package's mask of services (`u8`: room for eight services).
    pub fn bit(self) -> u8 {
        const _: () = assert!(Service::ALL.len() <= u8::BITS as usize);
        1 << (self as u8)
    }

    pub const fn name(self) -> &'static str {
        match self {
            Service::Voice => "voice",
            Service::Sms => "sms",
            Service::Mms => "mms",
            Service::Data => "data",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Out,
    In,
}

impl Direction {
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Where the other party is (for an outgoing item) or where the subscriber is (roaming).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Zone {
    #[default]
    Home,
    National,
    International,
}

impl Zone {
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    Onnet,
    Offnet,
}

impl Network {
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Seconds,
    Messages,
    Bytes,
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unit::Seconds => "seconds",
            Unit::Messages => "messages",
            Unit::Bytes => "bytes",
        })
    }
}
