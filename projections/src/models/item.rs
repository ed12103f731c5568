//! The rows of the read models: one item of a number's detalization, one payment of an account,
//! and the categories spending is summed by. Rows are stored as `[version][bincode]`.

use compact_str::CompactString;
use rating::{Direction, EventId, FeeKind, FeeSource, Msisdn, Service, Timestamp};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The layout of every row. 2: an item names the account it was charged to. 3: integers and
/// lengths as variable-width integers, not eight bytes each: an item of a call took 150 bytes
/// and takes 78, and the detalization is the read models' largest family, written at every
/// event.
pub const ROW_VERSION: u8 = 3;

/// Where the decision is in the log; it orders items that share a second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogPos {
    pub partition: u32,
    pub seq: u64,
}

/// Money of the spending categories, in [`Category`] order.
pub type Sums = [Decimal; Category::ALL.len()];

/// What an item of a detalization is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum What {
    /// A call, message or data session, in the service's unit.
    Usage {
        service: Service,
        direction: Direction,
        other: Option<CompactString>,
        quantity: u64,
    },
    /// A connection, daily or monthly fee of the plan or an option.
    Fee { fee: FeeKind, source: FeeSource },
    /// An itemised report the subscriber ordered.
    Report,
    /// The operator's correction of the money (`money` negative for money put in).
    Adjustment {
        reason: CompactString,
        operator: CompactString,
    },
    /// A goodwill bucket the operator gave: `units` of a package.
    Grant {
        package: rating::catalog::PackageIdx,
        units: u64,
        reason: CompactString,
    },
    /// Units the operator took back from the number's buckets of a package.
    Take {
        package: rating::catalog::PackageIdx,
        units: u64,
        reason: CompactString,
    },
    /// A usage charge refunded (`money` negative): `units` of it went back to the buckets
    /// they came from.
    Refund {
        charge: EventId,
        units: u64,
        reason: CompactString,
    },
}

/// One line of a number's detalization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub event: EventId,
    pub msisdn: Msisdn,
    pub time: Timestamp,
    pub what: What,
    /// Units taken from packages (seconds, messages or bytes).
    pub from_packages: u64,
    #[serde(with = "rating::money::amount")]
    pub money: Decimal,
    #[serde(with = "rating::money::amount")]
    pub balance_after: Decimal,
    /// The account that held the number then, and was charged: a number changes hands, and
    /// each holder reads only its own items.
    pub account: CompactString,
}

impl Item {
    pub fn category(&self) -> Category {
        match &self.what {
            What::Usage { service, .. } => match service {
                Service::Voice => Category::Calls,
                Service::Sms => Category::Sms,
                Service::Mms => Category::Mms,
                Service::Data => Category::Data,
            },
            What::Fee { .. } => Category::Fees,
            What::Report | What::Grant { .. } | What::Take { .. } => Category::Other,
            What::Adjustment { .. } | What::Refund { .. } => Category::Adjustments,
        }
    }

    /// The service filter's name of this item: a usage's service, or `fee` / `report`.
    pub fn service_name(&self) -> &'static str {
        match &self.what {
            What::Usage { service, .. } => service.name(),
            What::Fee { .. } => "fee",
            What::Report => "report",
            What::Adjustment { .. } => "adjustment",
            What::Grant { .. } => "grant",
            What::Take { .. } => "take",
            What::Refund { .. } => "refund",
        }
    }
}

/// What moved money into (or, for a write-off, out of) an account's payment history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentKind {
    /// A payment; `repaid` of it went to a promised payment.
    Payment,
    /// A promised payment credited.
    PromisedPayment,
    /// What was still outstanding of a promised payment at its expiry, taken off the balance.
    PromiseWrittenOff,
    /// Money sent to another number (negative; its fee is spending, category other).
    TransferSent,
    /// Money received from another number.
    TransferReceived,
    /// A transfer the receiver could not take, back.
    TransferRefunded,
    /// The operator's correction: money put in (positive) or taken out (negative).
    Adjustment,
    /// Loyalty points turned into money.
    PointsRedeemed,
    /// A usage charge refunded.
    Refund,
    /// A payment taken back (negative).
    PaymentReversed,
}

/// One line of an account's payment history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRow {
    pub event: EventId,
    pub time: Timestamp,
    pub kind: PaymentKind,
    #[serde(with = "rating::money::amount")]
    pub amount: Decimal,
    #[serde(with = "rating::money::amount")]
    pub repaid: Decimal,
    #[serde(with = "rating::money::amount")]
    pub balance_after: Decimal,
}

/// A number changing hands: it joined an account, or went back to the operator with its
/// account's release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldingChange {
    Joined,
    Released,
}

/// One row of a number's holders: which account, and what happened to the holding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldingRow {
    pub account: CompactString,
    pub change: HoldingChange,
}

/// What money was spent on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Calls = 0,
    Sms = 1,
    Mms = 2,
    Data = 3,
    /// Subscriptions and fees: the plan's and options' periodic and connection fees.
    Fees = 4,
    Other = 5,
    /// The operator's corrections: money taken out, less money put in.
    Adjustments = 6,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Category::Calls,
        Category::Sms,
        Category::Mms,
        Category::Data,
        Category::Fees,
        Category::Other,
        Category::Adjustments,
    ];

    pub fn from_u8(value: u8) -> Option<Category> {
        Category::ALL.get(value as usize).copied()
    }

    pub fn name(self) -> &'static str {
        match self {
            Category::Calls => "calls",
            Category::Sms => "sms",
            Category::Mms => "mms",
            Category::Data => "data",
            Category::Fees => "subscriptions_and_fees",
            Category::Other => "other",
            Category::Adjustments => "adjustments",
        }
    }
}

/// The most bytes a row may take: an item's texts are bounded far below this.
const MOST_ROW_BYTES: u64 = 1 << 20;

fn row_options() -> impl bincode::Options {
    bincode::DefaultOptions::new()
        .with_varint_encoding()
        .reject_trailing_bytes()
        .with_limit(MOST_ROW_BYTES)
}

pub(crate) fn encode_row<T: Serialize>(row: &T, out: &mut Vec<u8>) {
    out.clear();
    out.push(ROW_VERSION);
    (row_options().serialize_into(&mut *out, row)).expect("rows serialise into memory");
}

/// A stored row, read as the row its family holds.
pub fn decode_row<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match bytes.split_first() {
        Some((&ROW_VERSION, rest)) => row_options().deserialize(rest).map_err(|e| e.to_string()),
        Some((v, _)) => Err(format!("row version {v} is unknown")),
        None => Err("empty row".into()),
    }
}

use bincode::Options as _;

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> Item {
        Item {
            event: "cdr-2026-12-07-000000012345".into(),
            msisdn: Msisdn(79_001_234_567),
            time: Timestamp(1_796_601_600),
            what: What::Usage {
                service: Service::Voice,
                direction: Direction::Out,
                other: Some("79007654321".into()),
                quantity: 125,
            },
            from_packages: 60,
            money: Decimal::new(150, 2),
            balance_after: Decimal::new(9_850, 2),
            account: "A0000123".into(),
        }
    }

    /// An item of a call takes its texts and a few bytes for each number: 150 bytes in the
    /// fixed-width layout of rows of version 2, 78 now.
    #[test]
    fn an_item_of_a_call_takes_its_texts_and_little_more() {
        let mut bytes = Vec::new();
        encode_row(&call(), &mut bytes);
        let texts = 27 + 11 + 8;
        assert!(bytes.len() <= texts + 32, "{} bytes", bytes.len());
        assert_eq!(decode_row::<Item>(&bytes), Ok(call()));
    }

    #[test]
    fn a_row_with_bytes_after_it_or_of_another_version_is_refused() {
        let mut bytes = Vec::new();
        encode_row(&call(), &mut bytes);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_row::<Item>(&longer).is_err());
        bytes[0] = ROW_VERSION - 1;
        assert!(decode_row::<Item>(&bytes)
            .unwrap_err()
            .contains("row version"));
        assert!(decode_row::<Item>(&[]).is_err());
    }
}
