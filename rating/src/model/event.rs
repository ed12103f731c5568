//! Input events: usage items (CDRs), payments and account commands, as they arrive from the
//! operator's systems. Each carries its own id, which is how a redelivery is recognised.
//!
//! The JSON form (one object per line, `"type"` names the kind) is documented in docs/events.md.

use crate::money;
use crate::service::{Direction, Service, Unit, Zone};
use crate::time::Timestamp;
use compact_str::CompactString;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Limits on one input, so that hostile or broken input cannot exhaust anything.
pub const MAX_ID_BYTES: usize = 128;
pub use crate::catalog::limits::{MAX_DURATION_SECONDS, MAX_MESSAGES, MAX_VOLUME_BYTES};
pub const MAX_NUMBERS_PER_COMMAND: usize = 1_000;

/// The origin's id of an event (a CDR id with its mediation host, a payment id, a command id).
pub type EventId = CompactString;
pub type AccountId = CompactString;

/// A subscriber's number, E.164 digits without '+': at most 15 digits, no leading zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Msisdn(pub u64);

impl Msisdn {
    pub fn parse(text: &str) -> Result<Msisdn, String> {
        let t = text.strip_prefix('+').unwrap_or(text);
        if t.is_empty()
            || t.len() > 15
            || !t.bytes().all(|b| b.is_ascii_digit())
            || t.starts_with('0')
        {
            return Err(format!(
                "{text:?} is not an MSISDN (1 to 15 digits, no leading zero)"
            ));
        }
        Ok(Msisdn(t.parse().expect("15 digits fit in u64")))
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Msisdn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_u64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Msisdn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
            Msisdn::parse(&text).map_err(serde::de::Error::custom)
        } else {
            let v = u64::deserialize(deserializer)?;
            if v == 0 || v >= 1_000_000_000_000_000 {
                return Err(serde::de::Error::custom("MSISDN out of range"));
            }
            Ok(Msisdn(v))
        }
    }
}

/// One usage item from mediation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    pub id: EventId,
    pub msisdn: Msisdn,
    pub service: Service,
    #[serde(default)]
    pub direction: Direction,
    /// The other party's number (dialled or calling); absent for data.
    #[serde(default)]
    pub other: Option<CompactString>,
    pub start: Timestamp,
    /// Voice: seconds.
    #[serde(default)]
    pub duration: Option<u64>,
    /// Data: bytes.
    #[serde(default)]
    pub bytes: Option<u64>,
    /// SMS and MMS: messages (default 1).
    #[serde(default)]
    pub count: Option<u64>,
    /// Where the subscriber was (roaming); default home.
    #[serde(default)]
    pub location: Zone,
    /// Data: the rating group (e.g. a messenger's traffic).
    #[serde(default)]
    pub rating_group: Option<u32>,
}

/// Why a usage item's quantity cannot be rated (a [`crate::Rejection`] of the same name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuantityError {
    Malformed(String),
    QuantityTooLarge {
        field: CompactString,
        value: u64,
        max: u64,
    },
}

impl Usage {
    /// The quantity to rate, in the service's unit, checked against the service and the limits.
    pub fn quantity(&self) -> Result<u64, QuantityError> {
        use QuantityError as R;
        // By the service's unit, so that a new service counted in a known unit needs nothing here.
        let (value, field) = match self.service.unit() {
            Unit::Seconds => (self.duration, "duration"),
            Unit::Bytes => (self.bytes, "bytes"),
            Unit::Messages => (Some(self.count.unwrap_or(1)), "count"),
        };
        let max = crate::catalog::limits::most_units(self.service.unit());
        let extra = match self.service.unit() {
            Unit::Seconds => self.bytes.is_some() || self.count.is_some(),
            Unit::Bytes => self.duration.is_some() || self.count.is_some(),
            Unit::Messages => self.duration.is_some() || self.bytes.is_some(),
        };
        if extra {
            return Err(R::Malformed(format!(
                "{} usage carries a quantity field of another service",
                self.service
            )));
        }
        let v =
            value.ok_or_else(|| R::Malformed(format!("{} usage needs `{field}`", self.service)))?;
        if v > max {
            return Err(R::QuantityTooLarge {
                field: field.into(),
                value: v,
                max,
            });
        }
        if self.service != Service::Voice && v == 0 {
            return Err(R::Malformed(format!("{field} is zero")));
        }
        Ok(v)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    pub id: EventId,
    /// The account paid into; or give `msisdn` and the number's account is used.
    #[serde(default)]
    pub account: Option<AccountId>,
    #[serde(default)]
    pub msisdn: Option<Msisdn>,
    #[serde(with = "money::amount")]
    pub amount: Decimal,
    pub time: Timestamp,
}

/// The subscriber asks for a promised payment: `amount` credited now, repaid from the next
/// payments, written off when it expires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestPromise {
    pub id: EventId,
    /// The account; or give `msisdn` and the number's account is used.
    #[serde(default)]
    pub account: Option<AccountId>,
    #[serde(default)]
    pub msisdn: Option<Msisdn>,
    #[serde(with = "money::amount")]
    pub amount: Decimal,
    pub time: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewNumber {
    pub msisdn: Msisdn,
    pub plan: CompactString,
    #[serde(default)]
    pub options: Vec<CompactString>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAccount {
    pub id: EventId,
    pub account: AccountId,
    pub time: Timestamp,
    /// How far below zero the balance may go (a positive amount).
    #[serde(default, with = "money::amount_or_zero")]
    pub credit_limit: Decimal,
    pub numbers: Vec<NewNumber>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddNumber {
    pub id: EventId,
    pub account: AccountId,
    pub time: Timestamp,
    pub number: NewNumber,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionChange {
    pub id: EventId,
    pub msisdn: Msisdn,
    pub option: CompactString,
    pub time: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetCreditLimit {
    pub id: EventId,
    pub account: AccountId,
    #[serde(with = "money::amount")]
    pub credit_limit: Decimal,
    pub time: Timestamp,
}

/// The subscriber orders an itemised report (detalization) of a number: of a whole calendar month
/// (`month`, "YYYY-MM" in the catalog's time zone), or of any period (`from`, `to`). The first
/// whole-month report of each month is free; the others cost the catalog's `detalization_fee`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderDetalization {
    pub id: EventId,
    pub msisdn: Msisdn,
    #[serde(default)]
    pub month: Option<Month>,
    #[serde(default)]
    pub from: Option<Timestamp>,
    #[serde(default)]
    pub to: Option<Timestamp>,
    pub time: Timestamp,
}

/// A calendar month, `YYYY-MM`; stored as `year * 12 + month - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month(pub u32);

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((1..=9999).contains(&year) && (1..=12).contains(&month))
            .then(|| Month(year as u32 * 12 + month - 1))
    }
    /// The month of a date; dates outside years 1..=9999 clamp to the ends.
    pub fn of(date: chrono::NaiveDate) -> Month {
        use chrono::Datelike;
        Month::new(date.year().clamp(1, 9999), date.month()).expect("a clamped year is valid")
    }
    pub fn year(self) -> i32 {
        (self.0 / 12) as i32
    }
    pub fn month(self) -> u32 {
        self.0 % 12 + 1
    }
    pub fn first_day(self) -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(self.year(), self.month(), 1).expect("a valid month")
    }
    pub fn next(self) -> Month {
        Month(self.0 + 1)
    }
    pub fn parse(text: &str) -> Result<Month, String> {
        let bad = || format!("{text:?} is not a month (YYYY-MM)");
        let (y, m) = text.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        Month::new(y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?).ok_or_else(bad)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_u32(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
            Month::parse(&text).map_err(serde::de::Error::custom)
        } else {
            let v = u32::deserialize(deserializer)?;
            if v >= 12 * 10_000 {
                return Err(serde::de::Error::custom("month out of range"));
            }
            Ok(Month(v))
        }
    }
}

/// A number moves to another plan from `time`: the plan's switch fee, the new plan's fees and
/// packages for the rest of the current period (prorated per the catalog), the old plan's
/// buckets kept or dropped per the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePlan {
    pub id: EventId,
    pub msisdn: Msisdn,
    pub plan: CompactString,
    pub time: Timestamp,
}

/// A command about one number's status: suspend it, block it for a lost SIM, or resume it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberCommand {
    pub id: EventId,
    pub msisdn: Msisdn,
    pub time: Timestamp,
}

/// The account's balance thresholds: autopay (top up `amount` when the balance falls below
/// `threshold`) and a low-balance notification. An absent one is switched off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetBalanceAlerts {
    pub id: EventId,
    pub account: AccountId,
    pub time: Timestamp,
    #[serde(default)]
    pub autopay: Option<Autopay>,
    #[serde(default, with = "money::opt_amount")]
    pub low_balance: Option<Decimal>,
}

/// A subscriber sends money from their number's account to another number. The debit happens
/// here; the credit is a [`TransferCredit`] the engine delivers to the receiver's partition (and
/// a [`TransferRefund`] back if the receiver cannot take it): see ARCHITECTURE.md, "Transfers".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    pub id: EventId,
    pub from: Msisdn,
    pub to: Msisdn,
    #[serde(with = "money::amount")]
    pub amount: Decimal,
    pub time: Timestamp,
}

/// The credit side of a transfer, made by the engine from the debit's decision (never by an
/// outside producer: the engine dead-letters one that comes from a source).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferCredit {
    pub id: EventId,
    /// The transfer's id.
    pub transfer: EventId,
    pub from_account: AccountId,
    pub to: Msisdn,
    #[serde(with = "money::amount")]
    pub amount: Decimal,
    pub time: Timestamp,
}

/// The money of a transfer the receiver could not take, back to the sender (made by the engine
/// from the bounced credit's decision).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferRefund {
    pub id: EventId,
    pub transfer: EventId,
    pub account: AccountId,
    #[serde(with = "money::amount")]
    pub amount: Decimal,
    pub time: Timestamp,
}

/// A monthly spending limit on one number's usage (absent `limit`: none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSpendingLimit {
    pub id: EventId,
    pub msisdn: Msisdn,
    #[serde(default, with = "money::opt_amount")]
    pub limit: Option<Decimal>,
    pub time: Timestamp,
}

/// Puts a number in a group of its account's numbers (a corporate client's department), or
/// takes it out (absent `group`). Spending can be asked for by group (`ACCOUNT/GROUP`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetGroup {
    pub id: EventId,
    pub msisdn: Msisdn,
    #[serde(default)]
    pub group: Option<CompactString>,
    pub time: Timestamp,
}

/// A correction of an account's money by the operator: `amount` in (positive) or out (negative),
/// with a reason code and the operator who made it. It may name the number it concerns, which
/// shows it in that number's detalization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adjust {
    pub id: EventId,
    pub account: AccountId,
    #[serde(default)]
    pub msisdn: Option<Msisdn>,
    #[serde(with = "money::amount")]
    pub amount: Decimal,
    pub reason: CompactString,
    pub operator: CompactString,
    pub time: Timestamp,
}

/// A goodwill bucket for a number: `amount` units (the package's: seconds, messages or bytes)
/// of the catalog's `package` (its services and zones), valid `validity_days` from `time`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub id: EventId,
    pub msisdn: Msisdn,
    pub package: CompactString,
    pub amount: u64,
    pub validity_days: u32,
    pub reason: CompactString,
    pub operator: CompactString,
    pub time: Timestamp,
}

/// The operator takes back up to `amount` units of `package` from a number's live buckets,
/// those that expire first first (a correction of units given wrongly, `ratel rerate --apply`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeUnits {
    pub id: EventId,
    pub msisdn: Msisdn,
    pub package: CompactString,
    pub amount: u64,
    pub reason: CompactString,
    pub operator: CompactString,
    pub time: Timestamp,
}

/// Loyalty points into money (`points` of them, at the catalog's `point_value`) or into one of
/// the catalog's rewards (`reward`, a bucket for the number `msisdn`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedeemPoints {
    pub id: EventId,
    pub account: AccountId,
    #[serde(default)]
    pub points: Option<u64>,
    #[serde(default)]
    pub reward: Option<CompactString>,
    #[serde(default)]
    pub msisdn: Option<Msisdn>,
    pub time: Timestamp,
}

/// A refund of a usage charge of `account`, named by its event id (`charge`): in full (neither
/// `amount` nor `units`), or in part: `amount` of the money it took, `units` of the package
/// units it took. Units go back to the bucket they came from while it is valid, otherwise they
/// come back as money at the price the charge was subject to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refund {
    pub id: EventId,
    pub account: AccountId,
    pub charge: EventId,
    #[serde(default, with = "money::opt_amount")]
    pub amount: Option<Decimal>,
    #[serde(default)]
    pub units: Option<u64>,
    pub reason: CompactString,
    pub operator: CompactString,
    pub time: Timestamp,
    /// What the charge took, as the log recorded it: found by the engine in the account's log
    /// before rating, and recorded with the input, so that rating reads no log and a replay
    /// reads the same. Whatever a source sends here is replaced.
    #[serde(default)]
    pub found: Option<Box<Refundable>>,
}

/// A chargeback: the payment `payment` of `account` (its event id) taken back in full.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReversePayment {
    pub id: EventId,
    pub account: AccountId,
    pub payment: EventId,
    pub reason: CompactString,
    pub operator: CompactString,
    pub time: Timestamp,
    /// The payment, as the log recorded it (see [`Refund::found`]).
    #[serde(default)]
    pub found: Option<Box<Refundable>>,
}

/// What a charge took or a payment brought, read from its decision in the log
/// (`crate::refund::refundable`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refundable {
    /// The charge's or payment's event time.
    pub time: Timestamp,
    pub msisdn: Option<Msisdn>,
    /// Money the charge took, or the payment brought.
    #[serde(with = "money::amount")]
    pub money: Decimal,
    /// Units the charge took, bucket by bucket, in the order taken.
    #[serde(with = "crate::small_vec")]
    pub takes: smallvec::SmallVec<[crate::take::Take; 2]>,
    /// What the units it took would have cost at the charge's rate.
    #[serde(with = "money::amount")]
    pub units_value: Decimal,
}

/// Longest reason code and operator id of a correction.
pub const MAX_REASON_BYTES: usize = 64;
pub use crate::catalog::limits::MAX_GRANT_DAYS;

/// A correction's reason code (`[a-z0-9_.:-]`, 1 to 64 bytes, a machine's word) and operator
/// id (1 to 64 bytes, no control characters).
fn correction_rule(reason: &str, operator: &str) -> Result<(), String> {
    let code = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.:-".contains(&b);
    if reason.is_empty() || reason.len() > MAX_REASON_BYTES || !reason.bytes().all(code) {
        Err(format!(
            "a reason is a code of 1 to {MAX_REASON_BYTES} bytes of a-z, 0-9, _ . : -"
        ))
    } else if operator.is_empty()
        || operator.len() > MAX_REASON_BYTES
        || operator.chars().any(char::is_control)
    {
        Err(format!(
            "an operator id is 1 to {MAX_REASON_BYTES} bytes without control characters"
        ))
    } else {
        Ok(())
    }
}

/// What an account id may be: 1 to 128 bytes, no control characters, no `/` (which names a
/// group of the account's numbers: `ACCOUNT/GROUP`), and not digits alone with an optional
/// leading `+` (which a reader would take for a number).
pub fn account_id_rule(id: &str) -> Result<(), String> {
    let digits = id.strip_prefix('+').unwrap_or(id);
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        Err(format!("account id must be 1 to {MAX_ID_BYTES} bytes"))
    } else if id.chars().any(char::is_control) {
        Err("an account id holds no control characters".into())
    } else if id.contains('/') {
        Err(format!(
            "account id {id:?}: '/' names a group of an account's numbers"
        ))
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        Err(format!(
            "account id {id:?} is digits alone, which would be taken for a number"
        ))
    } else {
        Ok(())
    }
}

/// Longest group name.
pub const MAX_GROUP_BYTES: usize = 64;

/// Bytes an event id may take for a transfer.
pub const MAX_TRANSFER_ID_BYTES: usize = MAX_ID_BYTES - 8;

/// The ids of inputs the engine makes (a day's tick, a transfer's credit and refund) begin with
/// this; no source may send one that does, so a made id never collides with a sent one.
pub const DERIVED_ID_PREFIX: &str = "ratel:";
/// The longest id the engine makes: the prefix, a step, an account id and a transfer id.
pub const MAX_DERIVED_ID_BYTES: usize = 3 * MAX_ID_BYTES;

/// The longest session id accepted.
pub const MAX_SESSION_ID_BYTES: usize = 128;

/// What a request of online charging asks for (Diameter's CC-Request-Type, and for an event its
/// Requested-Action).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStep {
    /// A session begins: grant units for it.
    Initial,
    /// Report the units used since the last request and ask for more.
    Update,
    /// The session ended: charge what it used and release what it held.
    Terminate,
    /// A one-off item (an SMS) charged at once if the money covers it (direct debiting).
    Event,
    /// Nobody reported on the session within its validity time and the catalog's grace: end it
    /// as the catalog says. Made by the online server, never by the network.
    Expire,
}

/// One request of online charging, as decided: the network asks before usage goes ahead and
/// reports it after. Made by `ratel online` from a Diameter or HTTP request, with its event time
/// (the request's Event-Timestamp, or its arrival) recorded, so that replay needs no clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// [`SessionRequest::id_of`] the session and the request number.
    pub id: EventId,
    pub session: CompactString,
    /// The request's number within its session (CC-Request-Number): 0 for the first.
    pub request: u32,
    pub step: SessionStep,
    pub msisdn: Msisdn,
    pub service: Service,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub other: Option<CompactString>,
    #[serde(default)]
    pub location: Zone,
    #[serde(default)]
    pub rating_group: Option<u32>,
    pub time: Timestamp,
    /// Units asked for; `None`: the catalog's quota for the service.
    #[serde(default)]
    pub requested: Option<u64>,
    /// Units used since the last request.
    #[serde(default)]
    pub used: u64,
}

impl SessionRequest {
    /// The id of a session's request: in the engine's namespace, which no source may use, so
    /// that no usage item or command sent offline can take it.
    pub fn id_of(session: &str, request: u32) -> EventId {
        let mut id = EventId::from(DERIVED_ID_PREFIX);
        id.push_str("online:");
        id.push_str(session);
        id.push(':');
        id.push_str(&request.to_string());
        id
    }

    /// The id of a session's expiry at `time`: no request's (whose ids end in a number), and
    /// one an attempt, so that an expiry refused as early does not make a later one a repeat.
    pub fn expiry_id_of(session: &str, time: Timestamp) -> EventId {
        let mut id = EventId::from(DERIVED_ID_PREFIX);
        id.push_str("online:");
        id.push_str(session);
        id.push_str(":expired@");
        id.push_str(&time.0.to_string());
        id
    }

    /// The id a request of `step` at `time` must have.
    pub fn id_for(session: &str, request: u32, step: SessionStep, time: Timestamp) -> EventId {
        match step {
            SessionStep::Expire => Self::expiry_id_of(session, time),
            _ => Self::id_of(session, request),
        }
    }

    fn rule(&self) -> Result<(), String> {
        let most = crate::catalog::limits::most_units(self.service.unit());
        if let Err(why) = session_id_rule(&self.session) {
            Err(why)
        } else if self.id != Self::id_for(&self.session, self.request, self.step, self.time) {
            Err("a session request's id is made of its session and request number".into())
        } else if self.requested.is_some_and(|r| r > most) || self.used > most {
            Err(format!("units above the limit {most}"))
        } else if self.other.as_ref().is_some_and(|o| o.len() > 32) {
            Err("other party longer than 32 characters".into())
        } else {
            Ok(())
        }
    }
}

fn session_id_rule(session: &str) -> Result<(), String> {
    if session.is_empty()
        || session.len() > MAX_SESSION_ID_BYTES
        || session.chars().any(char::is_control)
    {
        Err(format!(
            "a session id is 1 to {MAX_SESSION_ID_BYTES} bytes without control characters"
        ))
    } else {
        Ok(())
    }
}

/// The CDR of a session charged online, from the offline path (mediation): `session` is the
/// online session's id (a Diameter Session-Id, with `#GROUP` for a rating group's). It is
/// reconciled with what the session was charged and never charged again; a CDR of a session
/// the account does not know (never online here, or ended too long ago) is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionCdr {
    pub session: CompactString,
    pub usage: Usage,
}

/// Event time has reached `time` for an account that may be idle: periodic fees and renewals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tick {
    pub id: EventId,
    pub account: AccountId,
    pub time: Timestamp,
}

/// What rating an input may read ([`Input::each_read`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read<'a> {
    /// An account, by its id.
    Account(&'a AccountId),
    /// The account holding a number now.
    Number(Msisdn),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Input {
    Usage(Usage),
    Payment(Payment),
    OpenAccount(OpenAccount),
    AddNumber(AddNumber),
    ActivateOption(OptionChange),
    DeactivateOption(OptionChange),
    SetCreditLimit(SetCreditLimit),
    Tick(Tick),
    OrderDetalization(OrderDetalization),
    RequestPromise(RequestPromise),
    ChangePlan(ChangePlan),
    Suspend(NumberCommand),
    ReportLost(NumberCommand),
    Resume(NumberCommand),
    SetBalanceAlerts(SetBalanceAlerts),
    Transfer(Transfer),
    TransferCredit(TransferCredit),
    TransferRefund(TransferRefund),
    SetSpendingLimit(SetSpendingLimit),
    SetGroup(SetGroup),
    Adjust(Adjust),
    Grant(Grant),
    RedeemPoints(RedeemPoints),
    Take(TakeUnits),
    Refund(Refund),
    ReversePayment(ReversePayment),
    Session(SessionRequest),
    SessionCdr(SessionCdr),
}

impl Input {
    pub fn id(&self) -> &EventId {
        match self {
            Input::Usage(x) => &x.id,
            Input::Payment(x) => &x.id,
            Input::OpenAccount(x) => &x.id,
            Input::AddNumber(x) => &x.id,
            Input::ActivateOption(x) | Input::DeactivateOption(x) => &x.id,
            Input::SetCreditLimit(x) => &x.id,
            Input::Tick(x) => &x.id,
            Input::OrderDetalization(x) => &x.id,
            Input::RequestPromise(x) => &x.id,
            Input::ChangePlan(x) => &x.id,
            Input::Suspend(x) | Input::ReportLost(x) | Input::Resume(x) => &x.id,
            Input::SetBalanceAlerts(x) => &x.id,
            Input::Transfer(x) => &x.id,
            Input::TransferCredit(x) => &x.id,
            Input::TransferRefund(x) => &x.id,
            Input::SetSpendingLimit(x) => &x.id,
            Input::SetGroup(x) => &x.id,
            Input::Adjust(x) => &x.id,
            Input::Grant(x) => &x.id,
            Input::RedeemPoints(x) => &x.id,
            Input::Take(x) => &x.id,
            Input::Refund(x) => &x.id,
            Input::ReversePayment(x) => &x.id,
            Input::Session(x) => &x.id,
            Input::SessionCdr(x) => &x.usage.id,
        }
    }

    /// Event time.
    pub fn time(&self) -> Timestamp {
        match self {
            Input::Usage(x) => x.start,
            Input::Payment(x) => x.time,
            Input::OpenAccount(x) => x.time,
            Input::AddNumber(x) => x.time,
            Input::ActivateOption(x) | Input::DeactivateOption(x) => x.time,
            Input::SetCreditLimit(x) => x.time,
            Input::Tick(x) => x.time,
            Input::OrderDetalization(x) => x.time,
            Input::RequestPromise(x) => x.time,
            Input::ChangePlan(x) => x.time,
            Input::Suspend(x) | Input::ReportLost(x) | Input::Resume(x) => x.time,
            Input::SetBalanceAlerts(x) => x.time,
            Input::Transfer(x) => x.time,
            Input::TransferCredit(x) => x.time,
            Input::TransferRefund(x) => x.time,
            Input::SetSpendingLimit(x) => x.time,
            Input::SetGroup(x) => x.time,
            Input::Adjust(x) => x.time,
            Input::Grant(x) => x.time,
            Input::RedeemPoints(x) => x.time,
            Input::Take(x) => x.time,
            Input::Refund(x) => x.time,
            Input::ReversePayment(x) => x.time,
            Input::Session(x) => x.time,
            Input::SessionCdr(x) => x.usage.start,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Input::Usage(_) => "usage",
            Input::Payment(_) => "payment",
            Input::OpenAccount(_) => "open_account",
            Input::AddNumber(_) => "add_number",
            Input::ActivateOption(_) => "activate_option",
            Input::DeactivateOption(_) => "deactivate_option",
            Input::SetCreditLimit(_) => "set_credit_limit",
            Input::Tick(_) => "tick",
            Input::OrderDetalization(_) => "order_detalization",
            Input::RequestPromise(_) => "request_promise",
            Input::ChangePlan(_) => "change_plan",
            Input::Suspend(_) => "suspend",
            Input::ReportLost(_) => "report_lost",
            Input::Resume(_) => "resume",
            Input::SetBalanceAlerts(_) => "set_balance_alerts",
            Input::Transfer(_) => "transfer",
            Input::TransferCredit(_) => "transfer_credit",
            Input::TransferRefund(_) => "transfer_refund",
            Input::SetSpendingLimit(_) => "set_spending_limit",
            Input::SetGroup(_) => "set_group",
            Input::Adjust(_) => "adjust",
            Input::Grant(_) => "grant",
            Input::RedeemPoints(_) => "redeem_points",
            Input::Take(_) => "take",
            Input::Refund(_) => "refund",
            Input::ReversePayment(_) => "reverse_payment",
            Input::Session(_) => "session",
            Input::SessionCdr(_) => "session_cdr",
        }
    }

    /// The subscriber's number, where the event names one: the key of partitioning for usage.
    pub fn msisdn(&self) -> Option<Msisdn> {
        match self {
            Input::Usage(x) => Some(x.msisdn),
            Input::Payment(x) => x.msisdn,
            Input::ActivateOption(x) | Input::DeactivateOption(x) => Some(x.msisdn),
            Input::OrderDetalization(x) => Some(x.msisdn),
            Input::RequestPromise(x) => x.msisdn,
            Input::ChangePlan(x) => Some(x.msisdn),
            Input::Suspend(x) | Input::ReportLost(x) | Input::Resume(x) => Some(x.msisdn),
            Input::Transfer(x) => Some(x.from),
            Input::TransferCredit(x) => Some(x.to),
            Input::SetSpendingLimit(x) => Some(x.msisdn),
            Input::SetGroup(x) => Some(x.msisdn),
            Input::Adjust(x) => x.msisdn,
            Input::Grant(x) => Some(x.msisdn),
            Input::RedeemPoints(x) => x.msisdn,
            Input::Take(x) => Some(x.msisdn),
            Input::Session(x) => Some(x.msisdn),
            Input::SessionCdr(x) => Some(x.usage.msisdn),
            _ => None,
        }
    }

    /// Every account and number whose account rating this input may read, beside the
    /// accounts rating finds through those numbers: an engine that holds only some accounts in
    /// memory loads these before it rates the input, so that rating sees what a whole state
    /// would show it. Naming one too many costs a load; missing one would change a decision.
    pub fn each_read(&self, mut read: impl FnMut(Read<'_>)) {
        let mut number = |m| read(Read::Number(m));
        if let Some(m) = self.msisdn() {
            number(m);
        }
        let named = match self {
            Input::Payment(x) => x.account.as_ref(),
            Input::RequestPromise(x) => x.account.as_ref(),
            Input::OpenAccount(x) => {
                x.numbers.iter().for_each(|n| number(n.msisdn));
                Some(&x.account)
            }
            Input::AddNumber(x) => {
                number(x.number.msisdn);
                Some(&x.account)
            }
            Input::SetCreditLimit(x) => Some(&x.account),
            Input::SetBalanceAlerts(x) => Some(&x.account),
            Input::Tick(x) => Some(&x.account),
            Input::Transfer(x) => {
                number(x.to);
                None
            }
            Input::TransferCredit(x) => Some(&x.from_account),
            Input::TransferRefund(x) => Some(&x.account),
            Input::Adjust(x) => Some(&x.account),
            Input::RedeemPoints(x) => Some(&x.account),
            Input::Refund(x) => Some(&x.account),
            Input::ReversePayment(x) => Some(&x.account),
            _ => None,
        };
        if let Some(a) = named {
            read(Read::Account(a));
        }
    }

    /// The earlier input of its own account an input refers to (a refund's charge, a reversed
    /// payment): the engine finds it in the log before the input is rated.
    pub fn refers_to(&self) -> Option<(&AccountId, &EventId)> {
        match self {
            Input::Refund(x) => Some((&x.account, &x.charge)),
            Input::ReversePayment(x) => Some((&x.account, &x.payment)),
            _ => None,
        }
    }

    /// Inputs only the engine makes (from decisions in its own log), never a source.
    pub fn is_derived(&self) -> bool {
        matches!(self, Input::TransferCredit(_) | Input::TransferRefund(_))
    }

    /// Checks that do not need state or catalog: ids, sizes.
    pub fn check(&self) -> Result<(), String> {
        let id = self.id();
        let most = if id.starts_with(DERIVED_ID_PREFIX) {
            MAX_DERIVED_ID_BYTES
        } else {
            MAX_ID_BYTES
        };
        if id.is_empty() || id.len() > most {
            return Err(format!("id must be 1 to {MAX_ID_BYTES} bytes"));
        }
        match self {
            Input::OpenAccount(o) if o.numbers.len() > MAX_NUMBERS_PER_COMMAND => Err(format!(
                "more than {MAX_NUMBERS_PER_COMMAND} numbers in one command"
            )),
            Input::OpenAccount(o) => account_id_rule(&o.account),
            Input::Adjust(a) if a.amount.is_zero() => Err("an adjustment of nothing".into()),
            Input::Adjust(a) => correction_rule(&a.reason, &a.operator),
            Input::Grant(g) if g.amount == 0 || g.amount > MAX_VOLUME_BYTES => Err(format!(
                "a goodwill bucket holds 1 to {MAX_VOLUME_BYTES} units"
            )),
            Input::Grant(g) if !(1..=MAX_GRANT_DAYS).contains(&g.validity_days) => Err(format!(
                "a goodwill bucket is valid 1 to {MAX_GRANT_DAYS} days"
            )),
            Input::Grant(g) => correction_rule(&g.reason, &g.operator),
            Input::Take(t) if t.amount == 0 || t.amount > MAX_VOLUME_BYTES => {
                Err(format!("a take is of 1 to {MAX_VOLUME_BYTES} units"))
            }
            Input::Take(t) => correction_rule(&t.reason, &t.operator),
            Input::Refund(r) if r.amount.is_some_and(|a| a <= Decimal::ZERO) => {
                Err("a refund's amount is positive".into())
            }
            Input::Refund(r) if r.units == Some(0) || r.units > Some(MAX_VOLUME_BYTES) => {
                Err(format!("a refund's units are 1 to {MAX_VOLUME_BYTES}"))
            }
            Input::Refund(r) => correction_rule(&r.reason, &r.operator),
            Input::ReversePayment(r) => correction_rule(&r.reason, &r.operator),
            Input::Session(r) => r.rule(),
            Input::RedeemPoints(r) => match (r.points, &r.reward, r.msisdn) {
                (Some(0), _, _) => Err("redeems no points".into()),
                (Some(_), None, None) | (None, Some(_), Some(_)) => Ok(()),
                (Some(_), None, Some(_)) => Err("points into money name no number".into()),
                _ => Err(
                    "redeem either `points` into money, or a `reward` for a number (`msisdn`)"
                        .into(),
                ),
            },
            Input::SetGroup(g)
                if g.group.as_ref().is_some_and(|n| {
                    n.is_empty() || n.len() > MAX_GROUP_BYTES || n.contains('/')
                }) =>
            {
                Err(format!(
                    "a group name is 1 to {MAX_GROUP_BYTES} bytes without '/'"
                ))
            }
            Input::Transfer(t) if t.id.len() > MAX_TRANSFER_ID_BYTES => Err(format!(
                "a transfer's id is at most {MAX_TRANSFER_ID_BYTES} bytes"
            )),
            Input::Usage(u) if u.other.as_ref().is_some_and(|o| o.len() > 32) => {
                Err("other party longer than 32 characters".into())
            }
            Input::SessionCdr(c) if c.usage.other.as_ref().is_some_and(|o| o.len() > 32) => {
                Err("other party longer than 32 characters".into())
            }
            Input::SessionCdr(c) => session_id_rule(&c.session),
            Input::OrderDetalization(o) => report_rule(o),
            _ => Ok(()),
        }
    }
}

/// A report's period: a whole month, or a span from `from` to `to`.
fn report_rule(order: &OrderDetalization) -> Result<(), String> {
    match (order.month, order.from, order.to) {
        (Some(m), None, None) if !(1970..=2200).contains(&m.year()) => {
            Err("report month outside 1970 .. 2200".into())
        }
        (Some(_), None, None) => Ok(()),
        (None, Some(f), Some(t)) if f < t => Ok(()),
        (None, Some(_), Some(_)) => Err("report period: `from` must be before `to`".into()),
        _ => Err("a report names either `month` or both `from` and `to`".into()),
    }
}

/// Autopay: when the balance falls below `threshold`, the operator's payment system is asked to
/// top up `amount` from the subscriber's card. The money arrives later as a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Autopay {
    #[serde(with = "crate::money::amount")]
    pub threshold: Decimal,
    #[serde(with = "crate::money::amount")]
    pub amount: Decimal,
}
