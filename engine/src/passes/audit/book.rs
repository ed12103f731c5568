//! One effective decision into the ledger: money by kind, buckets by grant, take and expiry,
//! promises and transfers by their steps. Each balance a decision records is checked against
//! what the ledger sums to at that point.

use super::ledger::{Ledger, Refundable};
use super::report::AuditReport;
use rating::{Charge, Decision, Msisdn, Outcome};
use rust_decimal::Decimal;
use std::collections::HashSet;

/// Books one effective decision.
pub(super) fn book(report: &mut AuditReport, ledger: &mut Ledger, at: &str, decision: &Decision) {
    let Some(account) = account_booked(report, ledger, at, decision) else {
        return;
    };
    let mut booking = Booking {
        report,
        ledger,
        at,
        decision,
        account,
    };
    booking.write_off();
    let periodic_fees = booking.periodic_work();
    let fees = booking.outcome(periodic_fees);
    booking.report.fees += fees;
}

/// The account a decision books to: the one it opens, or one the log opened before.
fn account_booked(
    report: &mut AuditReport,
    ledger: &mut Ledger,
    at: &str,
    decision: &Decision,
) -> Option<String> {
    if let Outcome::Opened { account, .. } = &decision.outcome {
        let opened = ledger
            .balance
            .insert(account.id.to_string(), account.balance);
        if opened.is_some() {
            report.bad(format!("{at}: account {} opened twice", account.id));
        }
        for number in &account.numbers {
            ledger.owner.insert(number.msisdn, account.id.to_string());
            for bucket in &number.buckets {
                ledger.grant(report, at, number.msisdn, bucket);
            }
        }
        return Some(account.id.to_string());
    }
    match &decision.account {
        Some(account) if ledger.balance.contains_key(account.as_str()) => Some(account.to_string()),
        _ => {
            report.bad(format!(
                "{at}: {} changes an account the log never opened",
                decision.event
            ));
            None
        }
    }
}

fn sum_of(fees: &[rating::FeeCharge]) -> Decimal {
    fees.iter().map(|fee| fee.amount).sum()
}

/// A decision being booked to its account.
struct Booking<'a> {
    report: &'a mut AuditReport,
    ledger: &'a mut Ledger,
    at: &'a str,
    decision: &'a Decision,
    account: String,
}

impl Booking<'_> {
    fn balance(&mut self) -> &mut Decimal {
        self.ledger
            .balance
            .get_mut(&self.account)
            .expect("booked before")
    }

    /// The balance the log sums to is the one the decision records.
    fn balance_is(&mut self, recorded: Decimal) {
        let sums = *self.balance();
        if sums != recorded {
            self.report.bad(format!(
                "{}: balance after {} is recorded as {recorded}, the log sums to {sums}",
                self.at, self.decision.event
            ));
        }
    }

    /// A promised payment written off: the one the log owes, for what it owes.
    fn write_off(&mut self) {
        let Some(write_off) = &self.decision.written_off else {
            return;
        };
        match self.ledger.promises.remove(&self.account) {
            Some((event, owed))
                if event == write_off.promise.as_str() && owed == write_off.amount => {}
            other => self.report.bad(format!(
                "{}: writes off {} of promise {} but the log owes {other:?}",
                self.at, write_off.amount, write_off.promise
            )),
        }
        *self.balance() -= write_off.amount;
        self.report.written_off += write_off.amount;
    }

    /// Renewals and the inactivity rules' work: their buckets, and the fees they take.
    fn periodic_work(&mut self) -> Decimal {
        let mut fees = Decimal::ZERO;
        for renewal in &self.decision.renewals {
            self.renew(renewal);
            fees += sum_of(&renewal.fees);
        }
        if let Some(work) = &self.decision.inactivity {
            fees += sum_of(&work.fees);
            if work.released.is_some() {
                self.release();
            }
        }
        fees
    }

    /// What expiring buckets held is either lost or carried into a rollover bucket.
    fn renew(&mut self, renewal: &rating::Renewal) {
        let (report, ledger, at) = (&mut *self.report, &mut *self.ledger, self.at);
        let held: u64 = (renewal.expired.iter())
            .map(|expiry| ledger.expire(report, at, renewal.msisdn, expiry.bucket))
            .sum();
        let lost: u64 = renewal.expired.iter().map(|expiry| expiry.lost).sum();
        let carried: u64 = (renewal.granted.iter())
            .filter(|bucket| bucket.origin == rating::Origin::Rollover)
            .map(|bucket| bucket.total)
            .sum();
        if held != lost + carried {
            report.bad(format!(
                "{at}: renewal of {} expires {held} units but loses {lost} and carries {carried}",
                renewal.msisdn
            ));
        }
        for bucket in &renewal.granted {
            ledger.grant(report, at, renewal.msisdn, bucket);
        }
    }

    /// A released account's numbers go back to the operator, with their buckets; another
    /// account may take them.
    fn release(&mut self) {
        let numbers: HashSet<Msisdn> = (self.ledger.owner.iter())
            .filter(|(_, owner)| **owner == self.account)
            .map(|(msisdn, _)| *msisdn)
            .collect();
        self.ledger
            .owner
            .retain(|msisdn, _| !numbers.contains(msisdn));
        (self.ledger.buckets).retain(|(msisdn, _), _| !numbers.contains(msisdn));
    }

    /// Buckets dropped (an option gone, a plan left) lose what they held.
    fn drop_buckets(&mut self, msisdn: Msisdn, dropped: &[rating::Expiry]) {
        for expiry in dropped {
            let held = self
                .ledger
                .expire(self.report, self.at, msisdn, expiry.bucket);
            if held != expiry.lost {
                self.report.bad(format!(
                    "{}: bucket {msisdn}/{} dropped losing {} but holds {held}",
                    self.at, expiry.bucket, expiry.lost
                ));
            }
        }
    }

    fn grant_all(&mut self, msisdn: Msisdn, granted: &[rating::Bucket]) {
        for bucket in granted {
            self.ledger.grant(self.report, self.at, msisdn, bucket);
        }
    }

    /// The outcome's own money and buckets; every fee booked, the periodic work's included.
    fn outcome(&mut self, periodic_fees: Decimal) -> Decimal {
        let mut fees = periodic_fees;
        match &self.decision.outcome {
            Outcome::Charged(charge) => self.charged(fees, charge),
            Outcome::Reserved(_) | Outcome::SessionEnded { .. } => self.session(fees),
            Outcome::Paid {
                amount,
                repaid,
                balance_after,
                ..
            } => self.paid(fees, *amount, *repaid, *balance_after),
            Outcome::DetalizationOrdered { .. } => fees += self.detalization(fees),
            Outcome::PromiseGranted {
                amount,
                fee,
                balance_after,
                ..
            } => {
                self.promise_granted(fees + *fee, *amount, *balance_after);
                fees += *fee;
            }
            Outcome::PlanChanged {
                msisdn,
                fees: own,
                dropped,
                granted,
                balance_after,
                ..
            } => {
                self.drop_buckets(*msisdn, dropped);
                self.grant_all(*msisdn, granted);
                fees += sum_of(own);
                *self.balance() -= fees;
                self.balance_is(*balance_after);
            }
            Outcome::TransferSent { .. }
            | Outcome::TransferReceived { .. }
            | Outcome::TransferRefunded { .. } => fees += self.transfer(fees),
            Outcome::Adjusted {
                amount,
                balance_after,
                ..
            } => self.adjusted(fees, *amount, *balance_after),
            Outcome::Refunded { .. } => self.refunded(fees),
            Outcome::PaymentReversed {
                payment,
                amount,
                balance_after,
                ..
            } => self.reversed(fees, payment, *amount, *balance_after),
            Outcome::PointsRedeemed {
                money,
                msisdn,
                bucket,
                balance_after,
                ..
            } => {
                if let (Some(msisdn), Some(bucket)) = (msisdn, bucket) {
                    self.grant_all(*msisdn, std::slice::from_ref(bucket));
                }
                *self.balance() += *money - fees;
                self.report.redeemed += *money;
                self.balance_is(*balance_after);
            }
            _ => {
                fees += self.without_balance_check();
                *self.balance() -= fees;
            }
        }
        fees
    }

    /// The outcomes that record no balance: their own fees, buckets and numbers.
    fn without_balance_check(&mut self) -> Decimal {
        match &self.decision.outcome {
            Outcome::Opened { fees, .. } => sum_of(fees),
            Outcome::NumberAdded { number, fees } => {
                let taken = (self.ledger.owner).insert(number.msisdn, self.account.clone());
                if taken.is_some() {
                    let at = self.at;
                    self.report
                        .bad(format!("{at}: number {} added twice", number.msisdn));
                }
                self.grant_all(number.msisdn, &number.buckets);
                sum_of(fees)
            }
            Outcome::OptionActivated {
                msisdn,
                fees,
                granted,
                ..
            }
            | Outcome::StatusChanged {
                msisdn,
                fees,
                granted,
                ..
            } => {
                self.grant_all(*msisdn, granted);
                sum_of(fees)
            }
            Outcome::OptionDeactivated {
                msisdn, dropped, ..
            } => {
                self.drop_buckets(*msisdn, dropped);
                Decimal::ZERO
            }
            Outcome::Granted { msisdn, bucket, .. } => {
                self.grant_all(*msisdn, std::slice::from_ref(bucket));
                Decimal::ZERO
            }
            Outcome::UnitsTaken { msisdn, takes, .. } => {
                self.take_units(*msisdn, takes);
                Decimal::ZERO
            }
            Outcome::Reconciled { .. } => {
                self.reconciled();
                Decimal::ZERO
            }
            Outcome::CreditLimitSet { .. }
            | Outcome::BalanceAlertsSet { .. }
            | Outcome::SpendingLimitSet { .. }
            | Outcome::GroupSet { .. }
            | Outcome::Ticked => Decimal::ZERO,
            Outcome::TransferBounced { .. } => unreachable!("booked by the caller"),
            Outcome::Duplicate | Outcome::Rejected(_) => unreachable!("not booked"),
            _ => unreachable!("booked with a balance check"),
        }
    }

    /// Units taken from live buckets, never more than they hold.
    fn take_units(&mut self, msisdn: Msisdn, takes: &[rating::Take]) {
        let at = self.at;
        for take in takes {
            match self.ledger.buckets.get_mut(&(msisdn, take.bucket)) {
                Some(units) if units.remaining >= take.units => units.remaining -= take.units,
                Some(units) => self.report.bad(format!(
                    "{at}: takes {} units of bucket {msisdn}/{} holding {}",
                    take.units, take.bucket, units.remaining
                )),
                None => self.report.bad(format!(
                    "{at}: takes from bucket {msisdn}/{} that is not live",
                    take.bucket
                )),
            }
        }
    }

    fn charged(&mut self, fees: Decimal, charge: &rating::Charge) {
        *self.balance() -= fees;
        let at = self.at;
        self.take_units(charge.msisdn, &charge.takes);
        if charge.money.is_sign_negative() {
            self.report
                .bad(format!("{at}: a negative charge {}", charge.money));
        }
        *self.balance() -= charge.money;
        self.report.charges += charge.money;
        self.balance_is(charge.balance_after);
        let units: u64 = charge.takes.iter().map(|t| t.units).sum();
        if !charge.money.is_zero() || units > 0 {
            self.refundable(charge.money, units);
        }
    }

    /// An online session's request: a grant holds money without moving it; an end charges
    /// what the session used, as a usage item.
    fn session(&mut self, fees: Decimal) {
        match &self.decision.outcome {
            Outcome::Reserved(session) => {
                *self.balance() -= fees;
                self.reserved(session);
            }
            Outcome::SessionEnded {
                session, charge, ..
            } => {
                self.session_ended(session, charge.as_ref());
                match charge {
                    Some(charge) => self.charged(fees, charge),
                    None => *self.balance() -= fees,
                }
            }
            _ => unreachable!("booked only for a session's outcomes"),
        }
    }

    /// A session's grant: what it holds replaces what it held. A hold is never negative.
    fn reserved(&mut self, session: &rating::session::Session) {
        let at = self.at;
        if session.hold.money.is_sign_negative() && !session.hold.money.is_zero() {
            let money = session.hold.money;
            self.report
                .bad(format!("{at}: session {} holds {money}", session.id));
        }
        let key = (self.account.clone(), session.id.to_string());
        self.ledger.sessions.insert(key, session.hold.money);
    }

    /// A session ends once, and only one that was open.
    fn session_ended(&mut self, session: &rating::session::Session, charge: Option<&Charge>) {
        let key = (self.account.clone(), session.id.to_string());
        let charged = charge.map_or((0, Decimal::ZERO), |c| (c.quantity, c.money));
        self.ledger.ended_sessions.insert(key.clone(), charged);
        if self.ledger.sessions.remove(&key).is_none() {
            let at = self.at;
            let id = &session.id;
            self.report
                .bad(format!("{at}: session {id} ended but was not open"));
        }
    }

    /// A session's CDR reconciled: the session is open, or ended charged what the decision
    /// says. Nothing moves; the CDRs whose units differ from the session's are counted.
    fn reconciled(&mut self) {
        let Outcome::Reconciled {
            session,
            units,
            online_units,
            open,
            online_money,
            ..
        } = &self.decision.outcome
        else {
            unreachable!("booked only for a reconciliation")
        };
        let key = (self.account.clone(), session.to_string());
        let at = self.at;
        let known = match open {
            true => self.ledger.sessions.contains_key(&key),
            false => self.ledger.ended_sessions.get(&key) == Some(&(*online_units, *online_money)),
        };
        if !known {
            self.report.bad(format!(
                "{at}: a CDR reconciled with session {session} ({online_units} units, {online_money}), which the log does not show"
            ));
        }
        self.report.reconciled += 1;
        if units != online_units {
            self.report.reconciled_apart += 1;
        }
    }

    /// This decision's charge or payment, which a refund or a reversal may name later.
    fn refundable(&mut self, money: Decimal, units: u64) {
        let key = (self.account.clone(), self.decision.event.to_string());
        let r = Refundable {
            money,
            units,
            ..Refundable::default()
        };
        self.ledger.refundable.insert(key, r);
    }

    /// A charge's refund: over all its refunds, never more money or units than the charge took
    /// as the log booked it; units into the buckets they came from, and money for units only
    /// for those not put back.
    fn refunded(&mut self, fees: Decimal) {
        let Outcome::Refunded {
            charge,
            msisdn,
            money,
            units,
            to_buckets,
            units_money,
            balance_after,
            ..
        } = &self.decision.outcome
        else {
            unreachable!("called for a refund")
        };
        let at = self.at;
        let back: u64 = to_buckets.iter().map(|t| t.units).sum();
        let shape = !money.is_sign_negative()
            && !units_money.is_sign_negative()
            && back <= *units
            && (back < *units || units_money.is_zero());
        let key = (self.account.clone(), charge.to_string());
        match self.ledger.refundable.get_mut(&key) {
            Some(r)
                if shape && r.money_back + money <= r.money && r.units_back + units <= r.units =>
            {
                r.money_back += money;
                r.units_back += units;
            }
            other => self.report.bad(format!(
                "{at}: refunds {money} and {units} units ({back} into buckets, {units_money} as \
                 money) of charge {charge}, of which the log books {other:?}"
            )),
        }
        for take in to_buckets {
            let bucket = msisdn.and_then(|m| self.ledger.buckets.get_mut(&(m, take.bucket)));
            match bucket {
                Some(b) if b.remaining + take.units <= b.total => b.remaining += take.units,
                other => self.report.bad(format!(
                    "{at}: gives {} units back to bucket {} of {msisdn:?}, which is {other:?}",
                    take.units, take.bucket
                )),
            }
        }
        let total = *money + *units_money;
        *self.balance() += total - fees;
        self.report.refunded += total;
        self.balance_is(*balance_after);
    }

    /// A payment reversed: one the log booked, for its amount, once.
    fn reversed(&mut self, fees: Decimal, payment: &str, amount: Decimal, balance_after: Decimal) {
        let at = self.at;
        let key = (self.account.clone(), payment.to_string());
        match self.ledger.refundable.get_mut(&key) {
            Some(r) if r.money == amount && r.money_back.is_zero() && r.units == 0 => {
                r.money_back = amount;
            }
            other => self.report.bad(format!(
                "{at}: reverses {amount} of payment {payment}, of which the log books {other:?}"
            )),
        }
        *self.balance() -= amount + fees;
        self.report.reversed += amount;
        self.balance_is(balance_after);
    }

    /// Money the operator put in (positive) or took out.
    fn adjusted(&mut self, fees: Decimal, amount: Decimal, balance_after: Decimal) {
        *self.balance() += amount - fees;
        if amount.is_sign_negative() {
            self.report.adjusted_out -= amount;
        } else {
            self.report.adjusted_in += amount;
        }
        self.balance_is(balance_after);
    }

    fn paid(&mut self, fees: Decimal, amount: Decimal, repaid: Decimal, balance_after: Decimal) {
        let at = self.at;
        if !repaid.is_zero() {
            match self.ledger.promises.get_mut(&self.account) {
                Some((_, owed)) if repaid <= *owed && repaid <= amount => {
                    *owed -= repaid;
                    if owed.is_zero() {
                        self.ledger.promises.remove(&self.account);
                    }
                }
                other => {
                    (self.report).bad(format!("{at}: repays {repaid} but the log owes {other:?}"));
                }
            }
        } else if let Some((event, owed)) = self.ledger.promises.get(&self.account) {
            self.report.bad(format!(
                "{at}: a payment repays nothing of promise {event} owing {owed}"
            ));
        }
        *self.balance() -= fees;
        *self.balance() += amount - repaid;
        self.report.payments += amount;
        self.report.repaid += repaid;
        self.balance_is(balance_after);
        self.refundable(amount, 0);
    }

    /// A detalization's fee (a free one costs nothing, once a month); the fee it took.
    fn detalization(&mut self, fees: Decimal) -> Decimal {
        let Outcome::DetalizationOrdered {
            msisdn,
            month,
            free,
            fee,
            balance_after,
            ..
        } = &self.decision.outcome
        else {
            unreachable!("called for an ordered detalization")
        };
        let at = self.at;
        if *free && !fee.is_zero() {
            self.report
                .bad(format!("{at}: a free report that costs {fee}"));
        }
        if *free {
            match month {
                Some(m) if !self.ledger.free_reports.insert((*msisdn, *m)) => {
                    (self.report).bad(format!("{at}: a second free report of {m} for {msisdn}"));
                }
                Some(_) => {}
                None => self
                    .report
                    .bad(format!("{at}: a free report of no whole month")),
            }
        }
        *self.balance() -= fees + *fee;
        self.balance_is(*balance_after);
        *fee
    }

    fn promise_granted(&mut self, fees: Decimal, amount: Decimal, balance_after: Decimal) {
        if let Some((event, owed)) = self.ledger.promises.get(&self.account) {
            let at = self.at;
            (self.report).bad(format!("{at}: a second promise while {event} owes {owed}"));
        }
        let granted = (self.decision.event.to_string(), amount);
        self.ledger.promises.insert(self.account.clone(), granted);
        *self.balance() -= fees;
        *self.balance() += amount;
        self.report.promised += amount;
        self.balance_is(balance_after);
    }

    /// A transfer's step: sent (with its fee), received, or refunded; the fee it took.
    fn transfer(&mut self, fees: Decimal) -> Decimal {
        let (report, ledger, at) = (&mut *self.report, &mut *self.ledger, self.at);
        let (own_fee, delta, balance_after) = match &self.decision.outcome {
            Outcome::TransferSent {
                amount,
                fee,
                balance_after,
                ..
            } => {
                report.transfers += *amount;
                let step = (self.account.as_str(), self.decision.event.as_str());
                ledger.transfer_step(report, at, step, 0, *amount);
                (*fee, -(*fee + *amount), *balance_after)
            }
            Outcome::TransferReceived {
                transfer,
                amount,
                balance_after,
                from_account,
            } => {
                let step = (from_account.as_str(), transfer.as_str());
                ledger.transfer_step(report, at, step, 1, *amount);
                (Decimal::ZERO, *amount, *balance_after)
            }
            Outcome::TransferRefunded {
                transfer,
                amount,
                balance_after,
            } => {
                let step = (self.account.as_str(), transfer.as_str());
                ledger.transfer_step(report, at, step, 3, *amount);
                (Decimal::ZERO, *amount, *balance_after)
            }
            _ => unreachable!("called for a transfer's step"),
        };
        *self.balance() += delta - fees;
        self.balance_is(balance_after);
        own_fee
    }
}
