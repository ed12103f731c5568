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

/// The current layout version of input and decision records. Version 2 added the promised
/// payment to accounts, the repayment and month to payments and the write-off to decisions;
/// version 3 the account lifecycle (a number's status; an account's autopay, low-balance
/// threshold and activity; a decision's inactivity work and alerts); version 4 the time a number
/// joined its account; version 5 a number's unpaid fees (and a renewal's). Older records are
/// read through [`v4`], [`v3`], [`v2`] and [`v1`].
pub const VERSION: u8 = 5;

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
    parse_with(line, true)
}

/// [`parse_json`] without its fast way for usage and payments: what the fast way must agree
/// with (the property tests and the `input_json` fuzz target compare the two).
#[doc(hidden)]
pub fn parse_json_tagged(line: &[u8]) -> Result<Input, DecodeError> {
    parse_with(line, false)
}

fn parse_with(line: &[u8], fast: bool) -> Result<Input, DecodeError> {
    if line.len() > MAX_INPUT_BYTES {
        return Err(DecodeError::TooLarge(line.len()));
    }
    let text = std::str::from_utf8(line).map_err(|_| DecodeError::NotUtf8)?;
    let input = match fast.then(|| type_first(text.as_bytes())).flatten() {
        Some(input) => input,
        None => serde_json::from_str(text).map_err(|e| DecodeError::Json(e.to_string()))?,
    };
    input.check().map_err(DecodeError::Json)?;
    Ok(input)
}

/// Usage and payments, most of any stream, written with their type first as `ratel gen` and
/// `docs/events.md` write them (`{"type":"usage",…`), decoded straight into their struct: serde
/// decodes an internally tagged enum by first copying the whole object into a tree of
/// `Content`, a fifth of the engine's main thread. `None` sends the line the general way, whose
/// answer (and error message) is the contract: a line this refuses is not refused here.
fn type_first(line: &[u8]) -> Option<Input> {
    const USAGE: &[u8] = br#"{"type":"usage","#;
    const PAYMENT: &[u8] = br#"{"type":"payment","#;
    thread_local! {
        static OBJECT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let (rest, usage) = if let Some(rest) = line.strip_prefix(USAGE) {
        (rest, true)
    } else {
        (line.strip_prefix(PAYMENT)?, false)
    };
    OBJECT.with_borrow_mut(|object| {
        // The object without its tag: `{` and the fields after it.
        object.clear();
        object.push(b'{');
        object.extend_from_slice(rest);
        if usage {
            serde_json::from_slice(object).ok().map(Input::Usage)
        } else {
            serde_json::from_slice(object).ok().map(Input::Payment)
        }
    })
}

pub fn to_json(input: &Input) -> String {
    serde_json::to_string(input).expect("input events always serialise")
}

fn put<T: Serialize>(out: &mut Vec<u8>, kind: u8, body: &T) {
    out.push(VERSION);
    out.push(kind);
    let start = out.len();
    // The same encoding as `opts()` without its limit: with a limit, bincode serializes every
    // record twice (a first pass only counts the bytes). The limit guards decoding; what this
    // build encodes is bounded by its inputs' limits.
    bincode::DefaultOptions::new()
        .serialize_into(&mut *out, body)
        .expect("records serialise into memory");
    debug_assert!((out.len() - start) as u64 <= MAX_RECORD_BYTES);
}

fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    opts()
        .deserialize(bytes)
        .map_err(|e| DecodeError::Corrupt(e.to_string()))
}

/// `(version, kind, body)` of a record of a version this build reads.
fn header(bytes: &[u8]) -> Result<(u8, u8, &[u8]), DecodeError> {
    match bytes {
        [] | [_] => Err(DecodeError::Empty),
        [v, ..] if *v == 0 || *v > VERSION => Err(DecodeError::UnknownVersion(*v)),
        [v, kind, rest @ ..] => Ok((*v, *kind, rest)),
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
        Input::RequestPromise(x) => put(out, 10, x),
        Input::ChangePlan(x) => put(out, 11, x),
        Input::Suspend(x) => put(out, 12, x),
        Input::ReportLost(x) => put(out, 13, x),
        Input::Resume(x) => put(out, 14, x),
        Input::SetBalanceAlerts(x) => put(out, 15, x),
        Input::Transfer(x) => put(out, 16, x),
        Input::TransferCredit(x) => put(out, 17, x),
        Input::TransferRefund(x) => put(out, 18, x),
        Input::SetSpendingLimit(x) => put(out, 19, x),
        Input::SetGroup(x) => put(out, 20, x),
        Input::Adjust(x) => put(out, 21, x),
        Input::Grant(x) => put(out, 22, x),
        Input::RedeemPoints(x) => put(out, 23, x),
        Input::Take(x) => put(out, 24, x),
        Input::Refund(x) => put(out, 25, x),
        Input::ReversePayment(x) => put(out, 26, x),
        Input::Session(x) => put(out, 27, x),
        Input::SessionCdr(x) => put(out, 28, x),
    }
}

pub fn decode_input(bytes: &[u8]) -> Result<Input, DecodeError> {
    // Inputs kept their layout in version 2; kinds added since only exist in later versions.
    let (version, kind, rest) = header(bytes)?;
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
        10 if version >= 2 => Input::RequestPromise(body(rest)?),
        11 if version >= 3 => Input::ChangePlan(body(rest)?),
        12 if version >= 3 => Input::Suspend(body(rest)?),
        13 if version >= 3 => Input::ReportLost(body(rest)?),
        14 if version >= 3 => Input::Resume(body(rest)?),
        15 if version >= 3 => Input::SetBalanceAlerts(body(rest)?),
        16 if version >= 3 => Input::Transfer(body(rest)?),
        17 if version >= 3 => Input::TransferCredit(body(rest)?),
        18 if version >= 3 => Input::TransferRefund(body(rest)?),
        19 if version >= 3 => Input::SetSpendingLimit(body(rest)?),
        20 if version >= 3 => Input::SetGroup(body(rest)?),
        21 if version >= 4 => Input::Adjust(body(rest)?),
        22 if version >= 4 => Input::Grant(body(rest)?),
        23 if version >= 4 => Input::RedeemPoints(body(rest)?),
        24 if version >= 4 => Input::Take(body(rest)?),
        25 if version >= 4 => Input::Refund(body(rest)?),
        26 if version >= 4 => Input::ReversePayment(body(rest)?),
        27 if version >= 5 => Input::Session(body(rest)?),
        28 if version >= 5 => Input::SessionCdr(body(rest)?),
        k => return Err(DecodeError::UnknownKind(k)),
    })
}

const DECISION: u8 = 100;

pub fn encode_decision(decision: &Decision, out: &mut Vec<u8>) {
    put(out, DECISION, decision);
}

pub fn decode_decision(bytes: &[u8]) -> Result<Decision, DecodeError> {
    match header(bytes)? {
        (1, DECISION, rest) => {
            v4::read(|| Ok(v2::Decision::from(body::<v1::Decision>(rest)?).into()))
        }
        (2, DECISION, rest) => v4::read(|| Ok(body::<v2::Decision>(rest)?.into())),
        (3, DECISION, rest) => v3::read(|| body(rest)),
        (4, DECISION, rest) => v4::read(|| body(rest)),
        (_, DECISION, rest) => body(rest),
        (_, k, _) => Err(DecodeError::UnknownKind(k)),
    }
}

/// Layout version 1: the types as they were, read into version 2's. New fields get their
/// defaults (no promise, no payment history, nothing repaid, nothing written off); a version-1
/// payment counts in its month in UTC, as version 1 did not record the catalog's month.
pub mod v1 {
    use super::v2::{self as d, Number};
    use crate::catalog::AddonIdx;
    use crate::decision::{Charge, Expiry, FeeCharge, Rejection, Renewal};
    use crate::event::{AccountId, EventId, Month, Msisdn};
    use crate::money;
    use crate::state::Bucket;
    use crate::time::Timestamp;
    use rust_decimal::Decimal;
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct Account {
        pub id: AccountId,
        #[serde(with = "money::amount")]
        pub balance: Decimal,
        #[serde(with = "money::amount")]
        pub credit_limit: Decimal,
        pub numbers: Vec<Number>,
    }

    impl From<Account> for d::Account {
        fn from(account: Account) -> Self {
            d::Account {
                id: account.id,
                balance: account.balance,
                credit_limit: account.credit_limit,
                numbers: account.numbers,
                promise: None,
                paid: Default::default(),
            }
        }
    }

    impl From<Account> for crate::state::Account {
        fn from(account: Account) -> Self {
            d::Account::from(account).into()
        }
    }

    #[derive(Deserialize)]
    pub enum Outcome {
        Charged(Charge),
        Paid {
            #[serde(with = "money::amount")]
            amount: Decimal,
            #[serde(with = "money::amount")]
            balance_after: Decimal,
        },
        Opened {
            account: Account,
            fees: Vec<FeeCharge>,
        },
        NumberAdded {
            number: Number,
            fees: Vec<FeeCharge>,
        },
        OptionActivated {
            msisdn: Msisdn,
            addon: AddonIdx,
            fees: Vec<FeeCharge>,
            granted: Vec<Bucket>,
            next_bucket: u32,
            next_due: Timestamp,
            days: u32,
            months: u32,
        },
        OptionDeactivated {
            msisdn: Msisdn,
            addon: AddonIdx,
            dropped: Vec<Expiry>,
        },
        CreditLimitSet {
            #[serde(with = "money::amount")]
            credit_limit: Decimal,
        },
        Ticked,
        Duplicate,
        Rejected(Rejection),
        DetalizationOrdered {
            msisdn: Msisdn,
            month: Option<Month>,
            from: Timestamp,
            to: Timestamp,
            free: bool,
            #[serde(with = "money::amount")]
            fee: Decimal,
            #[serde(with = "money::amount")]
            balance_after: Decimal,
        },
    }

    #[derive(Deserialize)]
    pub struct Decision {
        pub event: EventId,
        pub catalog: u64,
        pub time: Timestamp,
        pub account: Option<AccountId>,
        pub renewals: Vec<Renewal>,
        pub outcome: Outcome,
    }

    impl From<Decision> for d::Decision {
        // Whole on purpose: a frozen layout's table, one arm per outcome of that version,
        // each mapped to today's; it never changes, and split it would be harder to check
        // against the layout it reads.
        #[allow(clippy::too_many_lines)]
        fn from(decision: Decision) -> Self {
            use d::Outcome as O;
            let outcome = match decision.outcome {
                Outcome::Charged(c) => O::Charged(c),
                Outcome::Paid {
                    amount,
                    balance_after,
                } => O::Paid {
                    amount,
                    repaid: Decimal::ZERO,
                    month: Month::of(
                        chrono::DateTime::from_timestamp(decision.time.0, 0)
                            .map_or(chrono::NaiveDate::MIN, |t| t.date_naive()),
                    ),
                    balance_after,
                },
                Outcome::Opened { account, fees } => O::Opened {
                    account: account.into(),
                    fees,
                },
                Outcome::NumberAdded { number, fees } => O::NumberAdded { number, fees },
                Outcome::OptionActivated {
                    msisdn,
                    addon,
                    fees,
                    granted,
                    next_bucket,
                    next_due,
                    days,
                    months,
                } => O::OptionActivated {
                    msisdn,
                    addon,
                    fees,
                    granted,
                    next_bucket,
                    next_due,
                    days,
                    months,
                },
                Outcome::OptionDeactivated {
                    msisdn,
                    addon,
                    dropped,
                } => O::OptionDeactivated {
                    msisdn,
                    addon,
                    dropped,
                },
                Outcome::CreditLimitSet { credit_limit } => O::CreditLimitSet { credit_limit },
                Outcome::Ticked => O::Ticked,
                Outcome::Duplicate => O::Duplicate,
                Outcome::Rejected(r) => O::Rejected(r),
                Outcome::DetalizationOrdered {
                    msisdn,
                    month,
                    from,
                    to,
                    free,
                    fee,
                    balance_after,
                } => O::DetalizationOrdered {
                    msisdn,
                    month,
                    from,
                    to,
                    free,
                    fee,
                    balance_after,
                },
            };
            d::Decision {
                event: decision.event,
                catalog: decision.catalog,
                time: decision.time,
                account: decision.account,
                written_off: None,
                renewals: decision.renewals,
                outcome,
            }
        }
    }
}

/// Layout version 2: before the account lifecycle, read into today's types. Numbers are active;
/// accounts have no autopay or low-balance threshold, and their activity counts from the time
/// of the decision that carried them (the opening), or for a stored account from the latest
/// date it records (a number joining, a month paid in): the inactivity rules never reach back
/// before what the record shows.
pub mod v2 {
    use crate::catalog::{AddonIdx, PlanIdx};
    use crate::decision::{self as d, Charge, Expiry, FeeCharge, Rejection, Renewal, WriteOff};
    use crate::event::{AccountId, EventId, Month, Msisdn};
    use crate::money;
    use crate::state::{Bucket, MonthPaid, Promise, PAID_MONTHS};
    use crate::time::Timestamp;
    use chrono::NaiveDate;
    use rust_decimal::Decimal;
    use serde::Deserialize;
    use smallvec::SmallVec;

    #[derive(Deserialize)]
    pub struct Number {
        pub msisdn: Msisdn,
        pub plan: PlanIdx,
        #[serde(with = "crate::small_vec")]
        pub options: SmallVec<[AddonIdx; 2]>,
        pub buckets: Vec<Bucket>,
        pub anchor: NaiveDate,
        pub days: u32,
        pub months: u32,
        pub next_due: Timestamp,
        pub next_bucket: u32,
    }

    impl From<Number> for crate::state::Number {
        fn from(number: Number) -> Self {
            crate::state::Number {
                msisdn: number.msisdn,
                plan: number.plan,
                options: number.options,
                buckets: number.buckets,
                anchor: number.anchor,
                days: number.days,
                months: number.months,
                next_due: number.next_due,
                next_bucket: number.next_bucket,
                status: crate::state::NumberStatus::Active,
                limit: None,
                group: None,
                joined: super::v3::earliest_joining(number.anchor),
                unpaid: SmallVec::new(),
            }
        }
    }

    #[derive(Deserialize)]
    pub struct Account {
        pub id: AccountId,
        #[serde(with = "money::amount")]
        pub balance: Decimal,
        #[serde(with = "money::amount")]
        pub credit_limit: Decimal,
        pub numbers: Vec<Number>,
        pub promise: Option<Promise>,
        #[serde(with = "crate::small_vec")]
        pub paid: SmallVec<[MonthPaid; PAID_MONTHS]>,
    }

    impl Account {
        /// Today's account, its activity counted from `since`.
        pub fn at(self, since: Timestamp) -> crate::state::Account {
            let mut a = crate::state::Account::new(
                self.id,
                self.credit_limit,
                self.numbers.into_iter().map(Into::into).collect(),
                since,
            );
            a.balance = self.balance;
            a.promise = self.promise;
            a.paid = self.paid;
            a.activity.note_balance(a.balance, since);
            a
        }
    }

    impl From<Account> for crate::state::Account {
        fn from(account: Account) -> Self {
            let latest = account
                .numbers
                .iter()
                .map(|n| n.anchor)
                .chain(account.paid.iter().map(|p| p.month.first_day()))
                .max()
                .unwrap_or(NaiveDate::MIN);
            let since = Timestamp(
                latest
                    .and_time(chrono::NaiveTime::MIN)
                    .and_utc()
                    .timestamp()
                    .max(0),
            );
            account.at(since)
        }
    }

    #[derive(Deserialize)]
    pub enum Outcome {
        Charged(Charge),
        Paid {
            #[serde(with = "money::amount")]
            amount: Decimal,
            #[serde(with = "money::amount")]
            repaid: Decimal,
            month: Month,
            #[serde(with = "money::amount")]
            balance_after: Decimal,
        },
        Opened {
            account: Account,
            fees: Vec<FeeCharge>,
        },
        NumberAdded {
            number: Number,
            fees: Vec<FeeCharge>,
        },
        OptionActivated {
            msisdn: Msisdn,
            addon: AddonIdx,
            fees: Vec<FeeCharge>,
            granted: Vec<Bucket>,
            next_bucket: u32,
            next_due: Timestamp,
            days: u32,
            months: u32,
        },
        OptionDeactivated {
            msisdn: Msisdn,
            addon: AddonIdx,
            dropped: Vec<Expiry>,
        },
        CreditLimitSet {
            #[serde(with = "money::amount")]
            credit_limit: Decimal,
        },
        Ticked,
        Duplicate,
        Rejected(Rejection),
        DetalizationOrdered {
            msisdn: Msisdn,
            month: Option<Month>,
            from: Timestamp,
            to: Timestamp,
            free: bool,
            #[serde(with = "money::amount")]
            fee: Decimal,
            #[serde(with = "money::amount")]
            balance_after: Decimal,
        },
        PromiseGranted {
            #[serde(with = "money::amount")]
            amount: Decimal,
            #[serde(with = "money::amount")]
            fee: Decimal,
            expires: Timestamp,
            #[serde(with = "money::amount")]
            balance_after: Decimal,
        },
    }

    #[derive(Deserialize)]
    pub struct Decision {
        pub event: EventId,
        pub catalog: u64,
        pub time: Timestamp,
        pub account: Option<AccountId>,
        pub written_off: Option<WriteOff>,
        pub renewals: Vec<Renewal>,
        pub outcome: Outcome,
    }

    impl From<Decision> for d::Decision {
        // Whole on purpose: a frozen layout's table, one arm per outcome of that version,
        // each mapped to today's; it never changes, and split it would be harder to check
        // against the layout it reads.
        #[allow(clippy::too_many_lines)]
        fn from(decision: Decision) -> Self {
            use d::Outcome as O;
            let outcome = match decision.outcome {
                Outcome::Charged(c) => O::Charged(c),
                Outcome::Paid {
                    amount,
                    repaid,
                    month,
                    balance_after,
                } => O::Paid {
                    amount,
                    repaid,
                    month,
                    balance_after,
                },
                Outcome::Opened { account, fees } => O::Opened {
                    account: Box::new(account.at(decision.time)),
                    fees,
                },
                Outcome::NumberAdded { number, fees } => O::NumberAdded {
                    number: number.into(),
                    fees,
                },
                Outcome::OptionActivated {
                    msisdn,
                    addon,
                    fees,
                    granted,
                    next_bucket,
                    next_due,
                    days,
                    months,
                } => O::OptionActivated {
                    msisdn,
                    addon,
                    fees,
                    granted,
                    next_bucket,
                    next_due,
                    days,
                    months,
                },
                Outcome::OptionDeactivated {
                    msisdn,
                    addon,
                    dropped,
                } => O::OptionDeactivated {
                    msisdn,
                    addon,
                    dropped,
                },
                Outcome::CreditLimitSet { credit_limit } => O::CreditLimitSet { credit_limit },
                Outcome::Ticked => O::Ticked,
                Outcome::Duplicate => O::Duplicate,
                Outcome::Rejected(r) => O::Rejected(r),
                Outcome::DetalizationOrdered {
                    msisdn,
                    month,
                    from,
                    to,
                    free,
                    fee,
                    balance_after,
                } => O::DetalizationOrdered {
                    msisdn,
                    month,
                    from,
                    to,
                    free,
                    fee,
                    balance_after,
                },
                Outcome::PromiseGranted {
                    amount,
                    fee,
                    expires,
                    balance_after,
                } => O::PromiseGranted {
                    amount,
                    fee,
                    expires,
                    balance_after,
                },
            };
            d::Decision {
                event: decision.event,
                catalog: decision.catalog,
                time: decision.time,
                account: decision.account,
                written_off: decision.written_off.map(Box::new),
                renewals: decision.renewals,
                outcome,
                inactivity: None,
                alerts: Vec::new(),
                loyalty: None,
                spent: None,
            }
        }
    }
}

pub use crate::number::layout3 as v3;
pub use crate::number::layout4 as v4;
