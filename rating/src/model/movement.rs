//! What a decision moved: its money, movement by movement (what kind of money moved, for which
//! number, and how much), and the package units it granted. The movements of a decision add up
//! to what it did to the balance; spending, the money flow, exports and re-rating are all read
//! from them, so they cannot disagree.

use crate::decision::{Decision, FeeCharge, FeeKind, FeeSource, Outcome};
use crate::event::Msisdn;
use rust_decimal::Decimal;
use serde::Serialize;

/// The kinds of money a decision moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// Usage charged in money.
    Usage,
    ConnectionFee,
    MonthlyFee,
    DailyFee,
    /// Changing to a plan.
    SwitchFee,
    /// An option's fees, whatever their period.
    OptionFee,
    SuspensionFee,
    LostSimFee,
    InactivityFee,
    DetalizationFee,
    PromiseFee,
    TransferFee,
    Payment,
    /// A promised payment's credit.
    Promise,
    /// A promised payment repaid from a payment.
    Repayment,
    /// A promised payment written off at its expiry.
    WriteOff,
    TransferOut,
    TransferIn,
    /// A transfer that could not be delivered, back to its sender.
    TransferRefund,
    /// Money the operator put in (`adjust`).
    AdjustmentIn,
    /// Money the operator took out (`adjust`).
    AdjustmentOut,
    /// Loyalty points turned into money (`redeem_points`).
    PointsRedeemed,
    /// A usage charge refunded (`refund`): its money, and its units that came back as money.
    Refund,
    /// A payment taken back (`reverse_payment`).
    PaymentReversal,
}

impl MovementKind {
    /// Every kind, in order.
    pub const ALL: [MovementKind; 24] = [
        MovementKind::Usage,
        MovementKind::ConnectionFee,
        MovementKind::MonthlyFee,
        MovementKind::DailyFee,
        MovementKind::SwitchFee,
        MovementKind::OptionFee,
        MovementKind::SuspensionFee,
        MovementKind::LostSimFee,
        MovementKind::InactivityFee,
        MovementKind::DetalizationFee,
        MovementKind::PromiseFee,
        MovementKind::TransferFee,
        MovementKind::Payment,
        MovementKind::Promise,
        MovementKind::Repayment,
        MovementKind::WriteOff,
        MovementKind::TransferOut,
        MovementKind::TransferIn,
        MovementKind::TransferRefund,
        MovementKind::AdjustmentIn,
        MovementKind::AdjustmentOut,
        MovementKind::PointsRedeemed,
        MovementKind::Refund,
        MovementKind::PaymentReversal,
    ];

    /// The kind's name, as its JSON names it (`monthly_fee`).
    pub fn name(self) -> &'static str {
        match self {
            MovementKind::Usage => "usage",
            MovementKind::ConnectionFee => "connection_fee",
            MovementKind::MonthlyFee => "monthly_fee",
            MovementKind::DailyFee => "daily_fee",
            MovementKind::SwitchFee => "switch_fee",
            MovementKind::OptionFee => "option_fee",
            MovementKind::SuspensionFee => "suspension_fee",
            MovementKind::LostSimFee => "lost_sim_fee",
            MovementKind::InactivityFee => "inactivity_fee",
            MovementKind::DetalizationFee => "detalization_fee",
            MovementKind::PromiseFee => "promise_fee",
            MovementKind::TransferFee => "transfer_fee",
            MovementKind::Payment => "payment",
            MovementKind::Promise => "promise",
            MovementKind::Repayment => "repayment",
            MovementKind::WriteOff => "write_off",
            MovementKind::TransferOut => "transfer_out",
            MovementKind::TransferIn => "transfer_in",
            MovementKind::TransferRefund => "transfer_refund",
            MovementKind::AdjustmentIn => "adjustment_in",
            MovementKind::AdjustmentOut => "adjustment_out",
            MovementKind::PointsRedeemed => "points_redeemed",
            MovementKind::Refund => "refund",
            MovementKind::PaymentReversal => "payment_reversal",
        }
    }

    /// A fee: money the operator takes for a service other than usage.
    pub fn is_fee(self) -> bool {
        !matches!(
            self,
            MovementKind::Usage
                | MovementKind::Payment
                | MovementKind::Promise
                | MovementKind::Repayment
                | MovementKind::WriteOff
                | MovementKind::TransferOut
                | MovementKind::TransferIn
                | MovementKind::TransferRefund
                | MovementKind::AdjustmentIn
                | MovementKind::AdjustmentOut
                | MovementKind::PointsRedeemed
                | MovementKind::Refund
                | MovementKind::PaymentReversal
        )
    }

    /// Money the subscriber spent (usage and fees), as against money that only moved.
    pub fn is_spending(self) -> bool {
        self == MovementKind::Usage || self.is_fee()
    }

    /// Money into the balance (a payment, a promise, a transfer received or refunded).
    pub fn is_in(self) -> bool {
        matches!(
            self,
            MovementKind::Payment
                | MovementKind::Promise
                | MovementKind::TransferIn
                | MovementKind::TransferRefund
                | MovementKind::AdjustmentIn
                | MovementKind::PointsRedeemed
                | MovementKind::Refund
        )
    }

    fn of_fee(fee: &FeeCharge) -> MovementKind {
        match (fee.source, fee.kind) {
            (FeeSource::Plan(_), FeeKind::Connection) => MovementKind::ConnectionFee,
            (FeeSource::Plan(_), FeeKind::Monthly) => MovementKind::MonthlyFee,
            (FeeSource::Plan(_), FeeKind::Daily) => MovementKind::DailyFee,
            (FeeSource::Plan(_), FeeKind::Switch) => MovementKind::SwitchFee,
            (FeeSource::Addon(_), _) => MovementKind::OptionFee,
            (FeeSource::Suspension, _) => MovementKind::SuspensionFee,
            (FeeSource::LostSim, _) => MovementKind::LostSimFee,
            (FeeSource::Inactivity, _) => MovementKind::InactivityFee,
        }
    }
}

/// Money of one kind a decision moved, for a number where there is one. `amount` is never
/// negative: [`MovementKind::is_in`] says which way it went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Movement {
    pub kind: MovementKind,
    pub msisdn: Option<Msisdn>,
    #[serde(with = "crate::money::amount")]
    pub amount: Decimal,
}

impl Movement {
    /// The movement's effect on the balance: positive in, negative out.
    pub fn signed(&self) -> Decimal {
        if self.kind.is_in() {
            self.amount
        } else {
            -self.amount
        }
    }
}

impl Decision {
    /// Every movement of money this decision made, in the order it made them: a promise written
    /// off and periodic work first, then the outcome's own. Movements of nothing are left out.
    pub fn movements(&self) -> Vec<Movement> {
        let mut out = Vec::new();
        self.each_movement(|m| out.push(m));
        out
    }

    /// Hands `each` every movement, as [`Decision::movements`] lists them, without collecting
    /// them: spending and the money flow are read on the hot path, once a decision.
    pub fn each_movement(&self, mut each: impl FnMut(Movement)) {
        let mut put = |kind, msisdn, amount: Decimal| {
            if !amount.is_zero() {
                each(Movement {
                    kind,
                    msisdn,
                    amount,
                });
            }
        };
        if let Some(w) = &self.written_off {
            put(MovementKind::WriteOff, None, w.amount);
        }
        let fees = self.renewals.iter().flat_map(|r| &r.fees);
        let fees = fees.chain(self.inactivity.iter().flat_map(|w| &w.fees));
        for fee in fees.chain(own_fees(&self.outcome)) {
            put(MovementKind::of_fee(fee), Some(fee.msisdn), fee.amount);
        }
        if let Some(c) = self.outcome.charge() {
            put(MovementKind::Usage, Some(c.msisdn), c.money);
        }
        match &self.outcome {
            Outcome::DetalizationOrdered { msisdn, fee, .. } => {
                put(MovementKind::DetalizationFee, Some(*msisdn), *fee);
            }
            Outcome::PromiseGranted { amount, fee, .. } => {
                put(MovementKind::Promise, None, *amount);
                put(MovementKind::PromiseFee, None, *fee);
            }
            Outcome::Paid { amount, repaid, .. } => {
                put(MovementKind::Payment, None, *amount);
                put(MovementKind::Repayment, None, *repaid);
            }
            Outcome::TransferSent { amount, fee, .. } => {
                put(MovementKind::TransferOut, None, *amount);
                put(MovementKind::TransferFee, None, *fee);
            }
            Outcome::TransferReceived { amount, .. } => {
                put(MovementKind::TransferIn, None, *amount);
            }
            Outcome::TransferRefunded { amount, .. } => {
                put(MovementKind::TransferRefund, None, *amount);
            }
            Outcome::Adjusted { msisdn, amount, .. } if amount.is_sign_positive() => {
                put(MovementKind::AdjustmentIn, *msisdn, *amount);
            }
            Outcome::Adjusted { msisdn, amount, .. } => {
                put(MovementKind::AdjustmentOut, *msisdn, -*amount);
            }
            Outcome::PointsRedeemed { money, .. } => {
                put(MovementKind::PointsRedeemed, None, *money);
            }
            Outcome::Refunded { msisdn, .. } => {
                put(MovementKind::Refund, *msisdn, self.outcome.refunded_money());
            }
            Outcome::PaymentReversed { amount, .. } => {
                put(MovementKind::PaymentReversal, None, *amount);
            }
            _ => {}
        }
    }

    /// The buckets this decision granted, as (number, package, units): at an opening, a number
    /// added, an option, a change of plan or status, and in its periodic work (rollovers
    /// included).
    pub fn grants(&self) -> Vec<(Msisdn, crate::catalog::PackageIdx, u64)> {
        let of = |msisdn: Msisdn, buckets: &[crate::number::Bucket]| {
            (buckets.iter())
                .map(|b| (msisdn, b.package, b.total))
                .collect::<Vec<_>>()
        };
        let mut out: Vec<_> = (self.renewals.iter())
            .flat_map(|r| of(r.msisdn, &r.granted))
            .collect();
        match &self.outcome {
            Outcome::Opened { account, .. } => {
                for n in &account.numbers {
                    out.extend(of(n.msisdn, &n.buckets));
                }
            }
            Outcome::NumberAdded { number, .. } => out.extend(of(number.msisdn, &number.buckets)),
            Outcome::OptionActivated {
                msisdn, granted, ..
            }
            | Outcome::PlanChanged {
                msisdn, granted, ..
            }
            | Outcome::StatusChanged {
                msisdn, granted, ..
            } => out.extend(of(*msisdn, granted)),
            Outcome::Granted { msisdn, bucket, .. }
            | Outcome::PointsRedeemed {
                msisdn: Some(msisdn),
                bucket: Some(bucket),
                ..
            } => out.extend(of(*msisdn, std::slice::from_ref(bucket))),
            _ => {}
        }
        out
    }

    /// What the subscriber spent by this decision: charges and fees, not money that only moved
    /// (a write-off, a repayment, a transfer's amount).
    pub fn spending(&self) -> Decimal {
        let mut spent = Decimal::ZERO;
        self.each_movement(|m| {
            if m.kind.is_spending() {
                spent += m.amount;
            }
        });
        spent
    }

    /// Money that left the balance by this decision (fees and charges, repayments, write-offs,
    /// transfers sent), and money that came in.
    pub fn money_flow(&self) -> (Decimal, Decimal) {
        let (mut out, mut inn) = (Decimal::ZERO, Decimal::ZERO);
        self.each_movement(|m| {
            if m.kind.is_in() {
                inn += m.amount;
            } else {
                out += m.amount;
            }
        });
        (out, inn)
    }
}

/// The fees an outcome charged itself (periodic work aside).
fn own_fees(outcome: &Outcome) -> &[FeeCharge] {
    match outcome {
        Outcome::Opened { fees, .. }
        | Outcome::NumberAdded { fees, .. }
        | Outcome::OptionActivated { fees, .. }
        | Outcome::PlanChanged { fees, .. }
        | Outcome::StatusChanged { fees, .. } => fees,
        _ => &[],
    }
}
