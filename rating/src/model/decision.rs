//! Decisions: what rating concluded about one input event, recorded in the log, and applied to
//! state by [`apply`]. A decision carries every number needed to apply it, so that applying needs
//! no catalog and replaying the log needs no rating.

use crate::catalog::{AddonIdx, DestIdx, PlanIdx, RateIdx};
use crate::event::{AccountId, EventId, Month, Msisdn};
use crate::money;
use crate::service::{Direction, Service};
use crate::session::Session;
use crate::state::{Account, Autopay, Bucket, Number, NumberStatus};
pub use crate::take::Take;
use crate::time::Timestamp;
use chrono::NaiveDate;
use compact_str::CompactString;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub event: EventId,
    /// Tag of the catalog that made this decision (first 8 bytes of its SHA-256).
    pub catalog: u64,
    pub time: Timestamp,
    pub account: Option<AccountId>,
    /// Periodic work that fell due before this event, applied first: a promised payment's
    /// write-off, then the numbers' renewals.
    pub written_off: Option<Box<WriteOff>>,
    // `default` (here and on `alerts`): a JSON decision may leave out what it did not have
    // (the charges topic does); the binary codec always writes every field.
    #[serde(default)]
    pub renewals: Vec<Renewal>,
    pub outcome: Outcome,
    /// The account's inactivity rules at work before this event (layout version 3).
    pub inactivity: Option<Box<InactivityWork>>,
    /// What the subscriber is told because of this decision: thresholds the balance crossed,
    /// usage of a number that should have made none (layout version 3).
    #[serde(default)]
    pub alerts: Vec<Alert>,
    /// Loyalty points this decision's spending earned (layout version 3).
    pub loyalty: Option<Accrual>,
    /// The month's usage spending of a number with a spending limit, after this charge
    /// (layout version 3).
    pub spent: Option<NumberSpent>,
}

/// Points earned, and what is left towards the next one afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accrual {
    pub points: u64,
    #[serde(with = "money::amount")]
    pub towards_next: Decimal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberSpent {
    pub msisdn: Msisdn,
    pub month: Month,
    #[serde(with = "money::amount")]
    pub spent: Decimal,
}

/// Inactivity rules applied before an event: daily fees, and the account blocked or released.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InactivityWork {
    pub fees: Vec<FeeCharge>,
    /// Inactivity fee days charged since the last payment, after these.
    pub fee_days: u32,
    pub blocked: Option<Timestamp>,
    pub released: Option<Timestamp>,
}

/// Something the subscriber (or the operator) is told because of a decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alert {
    /// The balance went below the credit limit: outgoing chargeable usage is flagged from here.
    Blocked {
        #[serde(with = "money::amount")]
        balance: Decimal,
        #[serde(with = "money::amount")]
        credit_limit: Decimal,
    },
    /// The balance is back at or above the credit limit.
    Unblocked {
        #[serde(with = "money::amount")]
        balance: Decimal,
    },
    /// The balance fell below the account's low-balance threshold.
    LowBalance {
        #[serde(with = "money::amount")]
        threshold: Decimal,
        #[serde(with = "money::amount")]
        balance: Decimal,
    },
    /// The balance fell below the autopay threshold: top up `amount` from the linked card.
    Autopay {
        #[serde(with = "money::amount")]
        threshold: Decimal,
        #[serde(with = "money::amount")]
        amount: Decimal,
        #[serde(with = "money::amount")]
        balance: Decimal,
    },
    /// Usage of a number that is suspended, reported lost or blocked for inactivity: charged,
    /// because it happened, and flagged.
    UsageWhileBarred {
        msisdn: Msisdn,
        status: CompactString,
    },
    /// The number's usage this month is over its spending limit: charged and flagged; `first`
    /// on the item that crossed it (the one the subscriber is told of).
    OverSpendingLimit {
        msisdn: Msisdn,
        #[serde(with = "money::amount")]
        limit: Decimal,
        #[serde(with = "money::amount")]
        spent: Decimal,
        first: bool,
    },
}

/// What was still outstanding of a promised payment when it expired, taken off the balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteOff {
    /// The event that granted the promise.
    pub promise: EventId,
    #[serde(with = "money::amount")]
    pub amount: Decimal,
    pub at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Charged(Charge),
    Paid {
        #[serde(with = "money::amount")]
        amount: Decimal,
        /// The part that repaid a promised payment (it came in earlier, as the promise).
        #[serde(with = "money::amount")]
        repaid: Decimal,
        /// The month the payment counts in, for the promised-payment policy.
        month: Month,
        #[serde(with = "money::amount")]
        balance_after: Decimal,
    },
    Opened {
        // Boxed: an account is the largest payload of any outcome, and every decision on the
        // hot path would otherwise carry (and copy) its size.
        account: Box<Account>,
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
    /// Only periodic work (in `renewals`) happened.
    Ticked,
    /// The event id was applied before: nothing changes.
    Duplicate,
    Rejected(Rejection),
    // New variants go last: bincode numbers variants by position, and logs of this layout
    // version already hold the ones above.
    /// An itemised report was ordered: free (the month's first whole-month report) or paid.
    DetalizationOrdered {
        msisdn: Msisdn,
        /// The whole month reported, or `None` for another period.
        month: Option<Month>,
        from: Timestamp,
        to: Timestamp,
        free: bool,
        #[serde(with = "money::amount")]
        fee: Decimal,
        #[serde(with = "money::amount")]
        balance_after: Decimal,
    },
    /// A promised payment: `amount` credited now, `fee` charged, until `expires`.
    PromiseGranted {
        #[serde(with = "money::amount")]
        amount: Decimal,
        #[serde(with = "money::amount")]
        fee: Decimal,
        expires: Timestamp,
        #[serde(with = "money::amount")]
        balance_after: Decimal,
    },
    /// A number moved to another plan (layout version 3).
    PlanChanged {
        msisdn: Msisdn,
        from: PlanIdx,
        to: PlanIdx,
        /// The switch fee and the new plan's fees for the rest of the period.
        fees: Vec<FeeCharge>,
        /// The old plan's buckets, if the catalog drops them.
        dropped: Vec<Expiry>,
        granted: Vec<Bucket>,
        next_bucket: u32,
        next_due: Timestamp,
        days: u32,
        months: u32,
        #[serde(with = "money::amount")]
        balance_after: Decimal,
    },
    /// A number was suspended, blocked for a lost SIM or resumed (layout version 3). On
    /// resuming, the periods it missed while barred are paid and granted from now.
    StatusChanged {
        msisdn: Msisdn,
        status: NumberStatus,
        fees: Vec<FeeCharge>,
        granted: Vec<Bucket>,
        next_bucket: u32,
        next_due: Timestamp,
        days: u32,
        months: u32,
    },
    /// The account's autopay and low-balance thresholds (layout version 3).
    BalanceAlertsSet {
        autopay: Option<Autopay>,
        #[serde(with = "money::opt_amount")]
        low_balance: Option<Decimal>,
    },
    /// A transfer's debit: `amount` (and the fee) left; the credit is on its way to `to`
    /// (layout version 3).
    TransferSent {
        to: Msisdn,
        #[serde(with = "money::amount")]
        amount: Decimal,
        #[serde(with = "money::amount")]
        fee: Decimal,
        #[serde(with = "money::amount")]
        balance_after: Decimal,
    },
    /// A transfer's credit, taken by the receiver (layout version 3).
    TransferReceived {
        transfer: EventId,
        from_account: AccountId,
        #[serde(with = "money::amount")]
        amount: Decimal,
        #[serde(with = "money::amount")]
        balance_after: Decimal,
    },
    /// A transfer's credit the receiver could not take: the refund goes back to the sender
    /// (layout version 3). No money moves here.
    TransferBounced {
        transfer: EventId,
        from_account: AccountId,
        #[serde(with = "money::amount")]
        amount: Decimal,
        reason: Rejection,
    },
    /// A number's monthly spending limit set or removed (layout version 3).
    SpendingLimitSet {
        msisdn: Msisdn,
        limit: Option<crate::state::SpendingLimit>,
    },
    /// A bounced transfer's money, back with the sender (layout version 3).
    TransferRefunded {
        transfer: EventId,
        #[serde(with = "money::amount")]
        amount: Decimal,
        #[serde(with = "money::amount")]
        balance_after: Decimal,
    },
    /// A number put in a group of its account's numbers, or taken out (layout version 3).
    GroupSet {
        msisdn: Msisdn,
        group: Option<CompactString>,
    },
    /// The operator corrected the account's money: `amount` in (positive) or out (negative).
    Adjusted {
        msisdn: Option<Msisdn>,
        #[serde(with = "money::amount")]
        amount: Decimal,
        reason: CompactString,
        operator: CompactString,
        #[serde(with = "money::amount")]
        balance_after: Decimal,
    },
    /// The operator gave a number a goodwill bucket.
    Granted {
        msisdn: Msisdn,
        bucket: Bucket,
        reason: CompactString,
        operator: CompactString,
        next_bucket: u32,
        next_due: Timestamp,
    },
    /// Loyalty points redeemed: into `money`, or into a reward's bucket for `msisdn`.
    PointsRedeemed {
        points: u64,
        #[serde(with = "money::amount")]
        money: Decimal,
        msisdn: Option<Msisdn>,
        bucket: Option<Bucket>,
        next_bucket: u32,
        next_due: Timestamp,
        #[serde(with = "money::amount")]
        balance_after: Decimal,
    },
    /// The operator took units back from a number's buckets.
    UnitsTaken {
        msisdn: Msisdn,
        #[serde(with = "crate::small_vec")]
        takes: SmallVec<[Take; 2]>,
        reason: CompactString,
        operator: CompactString,
    },
    /// A usage charge refunded, in full or in part: `money` of the money it took, and `units`
    /// of the units it took, of which `to_buckets` went back to their buckets and the rest came
    /// back as `units_money`.
    Refunded {
        charge: EventId,
        msisdn: Option<Msisdn>,
        /// The charge's event time (refunds of a charge are remembered while it is refundable).
        charged_at: Timestamp,
        #[serde(with = "money::amount")]
        money: Decimal,
        units: u64,
        #[serde(with = "crate::small_vec")]
        to_buckets: SmallVec<[Take; 2]>,
        #[serde(with = "money::amount")]
        units_money: Decimal,
        reason: CompactString,
        operator: CompactString,
        #[serde(with = "money::amount")]
        balance_after: Decimal,
    },
    /// A payment taken back (a chargeback).
    PaymentReversed {
        payment: EventId,
        paid_at: Timestamp,
        #[serde(with = "money::amount")]
        amount: Decimal,
        reason: CompactString,
        operator: CompactString,
        #[serde(with = "money::amount")]
        balance_after: Decimal,
    },
    /// A session's request was granted units, or with `granted` 0 and `final_units` none more:
    /// the session as it stands after it (a grant moves no money; it holds it).
    Reserved(Box<Session>),
    /// A session ended (terminated, or expired as the catalog says): the charge of what it used,
    /// priced as one usage item from its start (none if it used nothing), and the session as
    /// it was before.
    SessionEnded {
        session: Box<Session>,
        charge: Option<Charge>,
        expired: bool,
    },
    /// The CDR of a session charged online, reconciled with it and not charged: its units, the
    /// units the session reported used (open) or was charged for (ended), and the money it was
    /// charged (ended; none while open). Nothing moves.
    Reconciled {
        session: crate::session::SessionId,
        msisdn: Msisdn,
        units: u64,
        online_units: u64,
        open: bool,
        #[serde(with = "money::amount")]
        online_money: Decimal,
    },
}

/// One usage item, rated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub msisdn: Msisdn,
    pub service: Service,
    pub direction: Direction,
    pub other: Option<CompactString>,
    pub start: Timestamp,
    /// Usage in the service's unit, as reported.
    pub quantity: u64,
    pub destination: Option<DestIdx>,
    /// The price that was chosen at the start (its rate; spans name theirs).
    pub rate: RateIdx,
    /// Units taken from buckets, in the order taken.
    #[serde(with = "crate::small_vec")]
    pub takes: SmallVec<[Take; 2]>,
    /// The part of the usage paid in money, as billed (rounded up to increments).
    #[serde(with = "crate::small_vec")]
    pub spans: SmallVec<[Span; 1]>,
    #[serde(with = "money::amount")]
    pub connect_fee: Decimal,
    /// Money taken from the balance: connect fee plus spans, capped, rounded.
    #[serde(with = "money::amount")]
    pub money: Decimal,
    #[serde(with = "money::amount")]
    pub balance_after: Decimal,
    pub why: Why,
    /// The balance was below the credit limit after this charge.
    pub over_limit: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// The rate is free: nothing taken from packages or money.
    Free,
    /// Packages paid for all of it.
    Packages,
    /// Packages paid for part; money for the rest.
    PackagesAndMoney,
    /// Money paid for all of it.
    Money,
    /// Money, capped at the rate's maximum cost.
    MoneyCapped,
}

/// A stretch of usage billed at one slot of one rate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub rate: RateIdx,
    pub slot: u8,
    /// Usage elapsed at the span's start.
    pub from: u64,
    /// Units billed (a whole number of increments).
    pub units: u64,
    #[serde(with = "money::amount")]
    pub cost: Decimal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeKind {
    Connection,
    Daily,
    Monthly,
    /// Changing to a plan.
    Switch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeSource {
    Plan(PlanIdx),
    Addon(AddonIdx),
    /// The catalog's daily fee of a suspended number.
    Suspension,
    /// The catalog's daily fee of a number blocked for a lost SIM.
    LostSim,
    /// The catalog's daily fee of an account that has paid nothing in for too long.
    Inactivity,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeCharge {
    pub msisdn: Msisdn,
    pub source: FeeSource,
    pub kind: FeeKind,
    /// Start of the period the fee pays for.
    pub at: Timestamp,
    #[serde(with = "money::amount")]
    pub amount: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiry {
    pub bucket: u32,
    pub at: Timestamp,
    /// Units that were left and are lost (or carried, if a rollover bucket was granted).
    pub lost: u64,
}

/// Periodic work on one number: period counters advanced, fees charged, buckets expired and granted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renewal {
    pub msisdn: Msisdn,
    pub days: u32,
    pub months: u32,
    pub next_due: Timestamp,
    pub next_bucket: u32,
    pub fees: Vec<FeeCharge>,
    pub expired: Vec<Expiry>,
    pub granted: Vec<Bucket>,
    /// The number's unpaid fees after it (layout 5): the offers whose fee of a period it opened
    /// the money could not pay, or those still unpaid.
    #[serde(
        default,
        serialize_with = "crate::small_vec::serialize",
        deserialize_with = "crate::number::since_layout_5"
    )]
    pub unpaid: SmallVec<[crate::number::Offering; 1]>,
}

/// Why an input was not rated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Rejection {
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("{field} {value} is above the limit {max}")]
    QuantityTooLarge {
        field: CompactString,
        value: u64,
        max: u64,
    },
    #[error("unknown number {0}")]
    UnknownNumber(Msisdn),
    #[error("unknown account {0}")]
    UnknownAccount(AccountId),
    #[error("account {0} already exists")]
    AccountExists(AccountId),
    #[error("number {0} already belongs to an account")]
    NumberTaken(Msisdn),
    #[error("unknown plan {0}")]
    UnknownPlan(CompactString),
    #[error("unknown option {0}")]
    UnknownOption(CompactString),
    #[error("option {option} cannot be added to plan {plan}")]
    OptionNotForPlan {
        option: CompactString,
        plan: CompactString,
    },
    #[error("option {0} is already active")]
    OptionActive(CompactString),
    #[error("option {0} is not active")]
    OptionNotActive(CompactString),
    #[error("other party {0:?} is not a number")]
    BadOtherParty(CompactString),
    #[error("no destination for {0}")]
    UnknownDestination(CompactString),
    #[error("the plan has no rate for {service} {direction:?} to {destination} at this time")]
    NoRate {
        service: Service,
        direction: Direction,
        destination: CompactString,
    },
    #[error("amount {amount} has more decimals than the currency's {decimals}")]
    AmountDecimals { amount: String, decimals: u32 },
    #[error("amount must be positive")]
    AmountNotPositive,
    #[error("amount out of range")]
    AmountOutOfRange,
    #[error("promised payment refused: {0}")]
    PromiseRefused(CompactString),
    #[error("number {0} is already on plan {1}")]
    SamePlan(Msisdn, CompactString),
    #[error("number {msisdn} is {status}; {command} does not apply")]
    WrongStatus {
        msisdn: Msisdn,
        status: CompactString,
        command: CompactString,
    },
    #[error("the catalog offers no voluntary suspension")]
    NoSuspension,
    #[error("account {0} was released for inactivity")]
    Released(AccountId),
    #[error("transfer refused: {0}")]
    TransferRefused(CompactString),
    /// Its event time is before its account's horizon (`crate::recent`): too late to be told
    /// from a repeat, so it is not charged.
    #[error(
        "too late: before its account's horizon {horizon} (ids are remembered for {window} s)"
    )]
    TooLate { horizon: Timestamp, window: i64 },
    /// Usage dated before its number joined the account that holds it now: it was another
    /// holder's (or nobody's), and is never charged to this one.
    #[error("usage of {msisdn} on {date}, before the number joined its account on {joined}")]
    BeforeNumberJoined {
        msisdn: Msisdn,
        date: NaiveDate,
        joined: NaiveDate,
    },
    /// Usage on the day its number joined the account that holds it now, but before the moment
    /// it joined (decisions of layout 4; earlier ones knew only the day).
    #[error("usage of {msisdn} at {start}, before the number joined its account at {joined}")]
    BeforeJoiningTime {
        msisdn: Msisdn,
        start: Timestamp,
        joined: Timestamp,
    },
    /// A variant is added at the end: decisions hold a rejection by its place.
    #[error("unknown package {0}")]
    UnknownPackage(CompactString),
    #[error("points not redeemed: {0}")]
    RedeemRefused(CompactString),
    #[error("no usage charge {0} of this account")]
    UnknownCharge(EventId),
    #[error("no payment {0} of this account")]
    UnknownPayment(EventId),
    #[error("refund refused: {0}")]
    RefundRefused(CompactString),
    /// The offer's catalog limits what is unpaid, and the money the account may spend cannot
    /// pay its fees.
    #[error("insufficient funds: {needed} needed, {available} available")]
    InsufficientFunds {
        #[serde(with = "money::amount")]
        needed: Decimal,
        #[serde(with = "money::amount")]
        available: Decimal,
    },
    /// Online: the money the number may spend (balance, credit limit, spending limit, less what
    /// its other sessions hold) pays for none of what was asked (Diameter 4012).
    #[error("credit limit reached: {available} available")]
    CreditLimitReached {
        #[serde(with = "money::amount")]
        available: Decimal,
    },
    /// Online: the number may not use the service now (barred, blocked, unpaid; Diameter 4010).
    #[error("service denied: {0}")]
    ServiceDenied(CompactString),
    #[error("unknown session {0}")]
    UnknownSession(CompactString),
    /// A session's request that cannot follow what its session saw: a second first request, a
    /// request number not after the last, a session ended too early by expiry.
    #[error("session {session}: {why}")]
    SessionRefused {
        session: CompactString,
        why: CompactString,
    },
}

/// Whether an account holds a decision's id for ever rather than for its window
/// (`crate::recent`): every input that took effect but usage, online sessions and ticks. Payments, transfers and
/// their steps, and account commands are few, and a repeat of one, however late, must never
/// move money or change the account again. Usage is many: its ids are held for the window, and
/// a refusal changes nothing if repeated.
pub fn held_for_ever(decision: &Decision) -> bool {
    !matches!(
        decision.outcome,
        Outcome::Charged(_)
            | Outcome::Reserved(_)
            | Outcome::SessionEnded { .. }
            | Outcome::Ticked
            | Outcome::Rejected(_)
            | Outcome::Duplicate
    )
}

/// The account whose record a decision changes, if any: the one it opened, or the one it
/// concerns (a record holds the account's ids too, so a rejection, which moves only the ids,
/// changes it; so does a bounced transfer, remembered by its sender). The engine writes these
/// records at its next checkpoint, and applies the decision again when it reads a log's tail.
pub fn changed_by(decision: &Decision) -> Option<&AccountId> {
    match &decision.outcome {
        Outcome::Duplicate => None,
        Outcome::Opened { account, .. } => Some(&account.id),
        _ => concerned(decision),
    }
}

/// The account that remembers a decision's input, if any (`crate::recent`): the one it opened,
/// or the one it concerned; none for a duplicate, a too-late input, or one that named no account.
/// With it, whether the input was rated (a rejection does not move the account's horizon).
pub fn remembered_by(decision: &Decision) -> Option<(&AccountId, bool)> {
    let rated = !matches!(decision.outcome, Outcome::Rejected(_));
    match &decision.outcome {
        Outcome::Duplicate | Outcome::Rejected(Rejection::TooLate { .. }) => None,
        Outcome::Opened { account, .. } => Some((&account.id, rated)),
        _ => concerned(decision).map(|a| (a, rated)),
    }
}

/// The account a decision concerns: the one it names, or for a transfer's credit that found no
/// account, the sender's (whose refund it derives).
pub fn concerned(decision: &Decision) -> Option<&AccountId> {
    match &decision.outcome {
        Outcome::TransferBounced { from_account, .. } if decision.account.is_none() => {
            Some(from_account)
        }
        _ => decision.account.as_ref(),
    }
}

impl Outcome {
    /// The usage charged: a usage item's, or an ended session's.
    pub fn charge(&self) -> Option<&Charge> {
        match self {
            Outcome::Charged(charge)
            | Outcome::SessionEnded {
                charge: Some(charge),
                ..
            } => Some(charge),
            _ => None,
        }
    }

    /// The money a refund brings back in all.
    pub fn refunded_money(&self) -> Decimal {
        match self {
            Outcome::Refunded {
                money, units_money, ..
            } => money + units_money,
            _ => Decimal::ZERO,
        }
    }

    /// The outcome's kind as a short stable name (`charged`, `rejected`), for listing and
    /// filtering.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Charged(_) => "charged",
            Outcome::Paid { .. } => "paid",
            Outcome::Opened { .. } => "opened",
            Outcome::NumberAdded { .. } => "number_added",
            Outcome::OptionActivated { .. } => "option_activated",
            Outcome::OptionDeactivated { .. } => "option_deactivated",
            Outcome::CreditLimitSet { .. } => "credit_limit_set",
            Outcome::Ticked => "ticked",
            Outcome::Duplicate => "duplicate",
            Outcome::Rejected(_) => "rejected",
            Outcome::DetalizationOrdered { .. } => "detalization_ordered",
            Outcome::PromiseGranted { .. } => "promise_granted",
            Outcome::PlanChanged { .. } => "plan_changed",
            Outcome::StatusChanged { .. } => "status_changed",
            Outcome::BalanceAlertsSet { .. } => "balance_alerts_set",
            Outcome::TransferSent { .. } => "transfer_sent",
            Outcome::TransferReceived { .. } => "transfer_received",
            Outcome::TransferBounced { .. } => "transfer_bounced",
            Outcome::SpendingLimitSet { .. } => "spending_limit_set",
            Outcome::TransferRefunded { .. } => "transfer_refunded",
            Outcome::GroupSet { .. } => "group_set",
            Outcome::Adjusted { .. } => "adjusted",
            Outcome::Granted { .. } => "granted",
            Outcome::PointsRedeemed { .. } => "points_redeemed",
            Outcome::UnitsTaken { .. } => "units_taken",
            Outcome::Refunded { .. } => "refunded",
            Outcome::PaymentReversed { .. } => "payment_reversed",
            Outcome::Reserved(_) => "reserved",
            Outcome::SessionEnded { .. } => "session_ended",
            Outcome::Reconciled { .. } => "reconciled",
        }
    }
}

impl Rejection {
    /// The reason as a short stable code (`unknown_number`), for counting and filtering.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Malformed(_) => "malformed",
            Rejection::QuantityTooLarge { .. } => "quantity_too_large",
            Rejection::UnknownNumber(_) => "unknown_number",
            Rejection::UnknownAccount(_) => "unknown_account",
            Rejection::AccountExists(_) => "account_exists",
            Rejection::NumberTaken(_) => "number_taken",
            Rejection::UnknownPlan(_) => "unknown_plan",
            Rejection::UnknownOption(_) => "unknown_option",
            Rejection::OptionNotForPlan { .. } => "option_not_for_plan",
            Rejection::OptionActive(_) => "option_active",
            Rejection::OptionNotActive(_) => "option_not_active",
            Rejection::BadOtherParty(_) => "bad_other_party",
            Rejection::UnknownDestination(_) => "unknown_destination",
            Rejection::NoRate { .. } => "no_rate",
            Rejection::AmountDecimals { .. } => "amount_decimals",
            Rejection::AmountNotPositive => "amount_not_positive",
            Rejection::AmountOutOfRange => "amount_out_of_range",
            Rejection::PromiseRefused(_) => "promise_refused",
            Rejection::SamePlan(..) => "same_plan",
            Rejection::WrongStatus { .. } => "wrong_status",
            Rejection::NoSuspension => "no_suspension",
            Rejection::Released(_) => "released",
            Rejection::TransferRefused(_) => "transfer_refused",
            Rejection::UnknownPackage(_) => "unknown_package",
            Rejection::RedeemRefused(_) => "redeem_refused",
            Rejection::UnknownCharge(_) => "unknown_charge",
            Rejection::UnknownPayment(_) => "unknown_payment",
            Rejection::RefundRefused(_) => "refund_refused",
            Rejection::InsufficientFunds { .. } => "insufficient_funds",
            Rejection::CreditLimitReached { .. } => "credit_limit_reached",
            Rejection::ServiceDenied(_) => "service_denied",
            Rejection::UnknownSession(_) => "unknown_session",
            Rejection::SessionRefused { .. } => "session_refused",
            Rejection::TooLate { .. } => "too_late",
            Rejection::BeforeNumberJoined { .. } | Rejection::BeforeJoiningTime { .. } => {
                "before_number_joined"
            }
        }
    }
}

impl From<crate::event::QuantityError> for Rejection {
    fn from(error: crate::event::QuantityError) -> Rejection {
        use crate::event::QuantityError as Q;
        match error {
            Q::Malformed(why) => Rejection::Malformed(why),
            Q::QuantityTooLarge { field, value, max } => {
                Rejection::QuantityTooLarge { field, value, max }
            }
        }
    }
}
