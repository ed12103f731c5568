//! One logged decision → the updates of the read models. Pure: the same decision, catalog and
//! state give the same updates, live and in a rebuild.

pub use crate::item::LogPos;
use crate::item::{
    encode_row, Category, HoldingChange, HoldingRow, Item, PaymentKind, PaymentRow, What,
};
pub use crate::models::Updates;
use crate::models::{self, Family};
use rating::{Catalog, Decision, FeeCharge, Month, Outcome, State, Timestamp};
use rust_decimal::Decimal;

struct Projector<'a> {
    cat: &'a Catalog,
    decision: &'a Decision,
    account: &'a str,
    /// The account's numbers (after the decision): those a release gives back.
    numbers: &'a [rating::Number],
    at: LogPos,
    /// Items of this decision so far: the third part of their key.
    n: u16,
    balance: Decimal,
    out: &'a mut Updates,
}

impl Projector<'_> {
    fn month(&self, at: Timestamp) -> Month {
        Month::of(self.cat.calendar.local(at).date)
    }

    fn item(&mut self, item: Item) {
        let month = self.month(item.time);
        let cat = item.category();
        if !item.money.is_zero() {
            self.out.adds.push((
                models::spending_key(self.account, month, Some(item.msisdn), cat),
                item.money,
            ));
        }
        let key = models::detail_key(item.msisdn, item.time, self.at, self.n);
        self.n += 1;
        let mut v = Vec::with_capacity(96);
        encode_row(&item, &mut v);
        self.out.puts.push((Family::Detail, key.to_vec(), v));
    }

    fn fee(&mut self, charge: &FeeCharge) {
        self.balance -= charge.amount;
        self.item(Item {
            event: self.decision.event.clone(),
            msisdn: charge.msisdn,
            time: charge.at,
            what: What::Fee {
                fee: charge.kind,
                source: charge.source,
            },
            from_packages: 0,
            money: charge.amount,
            balance_after: self.balance,
            account: self.account.into(),
        });
    }

    fn payment(&mut self, kind: PaymentKind, time: Timestamp, amount: Decimal, repaid: Decimal) {
        let row = PaymentRow {
            event: self.decision.event.clone(),
            time,
            kind,
            amount,
            repaid,
            balance_after: self.balance,
        };
        let mut v = Vec::with_capacity(72);
        encode_row(&row, &mut v);
        // The write-off and the decision's own row share the decision's place in the log.
        let mut key = models::payment_key(self.account, time, self.at);
        key.extend_from_slice(&self.n.to_be_bytes());
        self.n += 1;
        self.out.puts.push((Family::Payments, key, v));
    }

    /// Account-level spending (a promised payment's fee): no number to book it on.
    fn account_spending(&mut self, at: Timestamp, category: Category, amount: Decimal) {
        if !amount.is_zero() {
            let month = self.month(at);
            self.out.adds.push((
                models::spending_key(self.account, month, None, category),
                amount,
            ));
        }
    }

    /// A number joins the account (at the decision's time) or leaves it with its release.
    fn holding(&mut self, msisdn: rating::Msisdn, at: Timestamp, change: HoldingChange) {
        let row = HoldingRow {
            account: self.account.into(),
            change,
        };
        let mut v = Vec::with_capacity(32);
        encode_row(&row, &mut v);
        let key = models::holding_key(msisdn, at, self.at);
        self.out.puts.push((Family::Numbers, key.to_vec(), v));
    }
}

impl Projector<'_> {
    /// The periodic work recorded before the outcome: a promise written off, renewals' and
    /// inactivity's fees.
    fn periodic_work(&mut self) {
        if let Some(w) = &self.decision.written_off {
            self.balance -= w.amount;
            self.payment(
                PaymentKind::PromiseWrittenOff,
                w.at,
                -w.amount,
                Decimal::ZERO,
            );
        }
        for r in &self.decision.renewals {
            for f in &r.fees {
                self.fee(f);
            }
        }
        for f in self.decision.inactivity.iter().flat_map(|w| &w.fees) {
            self.fee(f);
        }
        let released = self.decision.inactivity.as_ref().and_then(|w| w.released);
        if let Some(at) = released {
            for number in self.numbers {
                self.holding(number.msisdn, at, HoldingChange::Released);
            }
        }
    }

    /// The rows of the decision's outcome: one of these applies (the others are outcomes that
    /// make no rows).
    fn outcome(&mut self) {
        self.usage_or_report();
        self.money_in_or_out();
        self.fees_and_numbers();
        self.correction();
        self.refund();
    }

    /// A charge refunded: a row of the payment history, and an item of the charged number's
    /// detalization (category adjustments, its money negative); a payment reversed: a row of
    /// the payment history, its amount negative, and the account's adjustments.
    fn refund(&mut self) {
        let d = self.decision;
        match &d.outcome {
            Outcome::Refunded {
                charge,
                msisdn,
                to_buckets,
                reason,
                ..
            } => {
                let money = d.outcome.refunded_money();
                self.balance += money;
                self.payment(PaymentKind::Refund, d.time, money, Decimal::ZERO);
                let Some(msisdn) = msisdn else {
                    self.account_spending(d.time, Category::Adjustments, -money);
                    return;
                };
                self.item(Item {
                    event: d.event.clone(),
                    msisdn: *msisdn,
                    time: d.time,
                    what: What::Refund {
                        charge: charge.clone(),
                        units: to_buckets.iter().map(|t| t.units).sum(),
                        reason: reason.clone(),
                    },
                    from_packages: 0,
                    money: -money,
                    balance_after: self.balance,
                    account: self.account.into(),
                });
            }
            Outcome::PaymentReversed { amount, .. } => {
                self.balance -= *amount;
                self.payment(
                    PaymentKind::PaymentReversed,
                    d.time,
                    -*amount,
                    Decimal::ZERO,
                );
                // Money the operator took back: a correction, as an adjustment out is.
                self.account_spending(d.time, Category::Adjustments, *amount);
            }
            _ => {}
        }
    }

    /// A usage item or a report ordered: an item of the number's detalization.
    fn usage_or_report(&mut self) {
        let d = self.decision;
        if let Some(c) = d.outcome.charge() {
            self.balance -= c.money;
            self.item(Item {
                event: d.event.clone(),
                msisdn: c.msisdn,
                time: c.start,
                what: What::Usage {
                    service: c.service,
                    direction: c.direction,
                    other: c.other.clone(),
                    quantity: c.quantity,
                },
                from_packages: c.takes.iter().map(|t| t.units).sum(),
                money: c.money,
                balance_after: c.balance_after,
                account: self.account.into(),
            });
        }
        if let Outcome::DetalizationOrdered {
            msisdn,
            fee,
            balance_after,
            ..
        } = &d.outcome
        {
            self.balance -= *fee;
            self.item(Item {
                event: d.event.clone(),
                msisdn: *msisdn,
                time: d.time,
                what: What::Report,
                from_packages: 0,
                money: *fee,
                balance_after: *balance_after,
                account: self.account.into(),
            });
        }
    }

    /// Money into or out of the account: a row of its payments.
    fn money_in_or_out(&mut self) {
        let d = self.decision;
        match &d.outcome {
            Outcome::Paid {
                amount,
                repaid,
                balance_after,
                ..
            } => {
                self.balance += *amount - *repaid;
                debug_assert_eq!(self.balance, *balance_after);
                self.payment(PaymentKind::Payment, d.time, *amount, *repaid);
            }
            Outcome::PromiseGranted {
                amount,
                fee,
                balance_after,
                ..
            } => {
                self.balance += *amount - *fee;
                debug_assert_eq!(self.balance, *balance_after);
                self.payment(PaymentKind::PromisedPayment, d.time, *amount, Decimal::ZERO);
                self.account_spending(d.time, Category::Other, *fee);
            }
            Outcome::TransferSent {
                amount,
                fee,
                balance_after,
                ..
            } => {
                self.balance -= *amount + *fee;
                debug_assert_eq!(self.balance, *balance_after);
                self.payment(PaymentKind::TransferSent, d.time, -*amount, Decimal::ZERO);
                self.account_spending(d.time, Category::Other, *fee);
            }
            Outcome::TransferReceived { amount, .. } => {
                self.balance += *amount;
                self.payment(
                    PaymentKind::TransferReceived,
                    d.time,
                    *amount,
                    Decimal::ZERO,
                );
            }
            Outcome::TransferRefunded { amount, .. } => {
                self.balance += *amount;
                self.payment(
                    PaymentKind::TransferRefunded,
                    d.time,
                    *amount,
                    Decimal::ZERO,
                );
            }
            _ => {}
        }
    }

    /// The operator's corrections: an adjustment in the payment history (and the detalization
    /// of the number it names), a goodwill bucket in its number's detalization.
    fn correction(&mut self) {
        let d = self.decision;
        match &d.outcome {
            Outcome::Adjusted {
                msisdn,
                amount,
                reason,
                operator,
                balance_after,
            } => {
                self.balance += *amount;
                debug_assert_eq!(self.balance, *balance_after);
                self.payment(PaymentKind::Adjustment, d.time, *amount, Decimal::ZERO);
                let Some(msisdn) = msisdn else {
                    self.account_spending(d.time, Category::Adjustments, -*amount);
                    return;
                };
                self.item(Item {
                    event: d.event.clone(),
                    msisdn: *msisdn,
                    time: d.time,
                    what: What::Adjustment {
                        reason: reason.clone(),
                        operator: operator.clone(),
                    },
                    from_packages: 0,
                    money: -*amount,
                    balance_after: *balance_after,
                    account: self.account.into(),
                });
            }
            Outcome::PointsRedeemed {
                money,
                msisdn,
                bucket,
                ..
            } => {
                self.balance += *money;
                if !money.is_zero() {
                    self.payment(PaymentKind::PointsRedeemed, d.time, *money, Decimal::ZERO);
                }
                if let (Some(msisdn), Some(bucket)) = (msisdn, bucket) {
                    self.given(*msisdn, bucket, "loyalty_points");
                }
            }
            Outcome::Granted {
                msisdn,
                bucket,
                reason,
                ..
            } => self.given(*msisdn, bucket, reason),
            Outcome::UnitsTaken {
                msisdn,
                takes,
                reason,
                ..
            } => self.taken(*msisdn, takes, reason),
            _ => {}
        }
    }

    /// Units taken back from a number's buckets: an item of its detalization per package.
    fn taken(&mut self, msisdn: rating::Msisdn, takes: &[rating::Take], reason: &str) {
        let d = self.decision;
        let buckets = (self.numbers.iter())
            .find(|n| n.msisdn == msisdn)
            .map(|n| n.buckets.as_slice())
            .unwrap_or_default();
        let mut by_package: std::collections::BTreeMap<rating::catalog::PackageIdx, u64> =
            std::collections::BTreeMap::new();
        for take in takes {
            if let Some(b) = buckets.iter().find(|b| b.id == take.bucket) {
                *by_package.entry(b.package).or_default() += take.units;
            }
        }
        for (package, units) in by_package {
            self.item(Item {
                event: d.event.clone(),
                msisdn,
                time: d.time,
                what: What::Take {
                    package,
                    units,
                    reason: reason.into(),
                },
                from_packages: units,
                money: Decimal::ZERO,
                balance_after: self.balance,
                account: self.account.into(),
            });
        }
    }

    /// A bucket given to a number (a goodwill grant, a reward): an item of its detalization.
    fn given(&mut self, msisdn: rating::Msisdn, bucket: &rating::Bucket, reason: &str) {
        let d = self.decision;
        self.item(Item {
            event: d.event.clone(),
            msisdn,
            time: d.time,
            what: What::Grant {
                package: bucket.package,
                units: bucket.total,
                reason: reason.into(),
            },
            from_packages: 0,
            money: Decimal::ZERO,
            balance_after: self.balance,
            account: self.account.into(),
        });
    }

    /// Numbers joining, and the fees of openings and of commands.
    fn fees_and_numbers(&mut self) {
        let d = self.decision;
        match &d.outcome {
            Outcome::Opened { account: a, fees } => {
                for n in &a.numbers {
                    self.holding(n.msisdn, n.joined, HoldingChange::Joined);
                }
                for f in fees {
                    self.fee(f);
                }
            }
            Outcome::NumberAdded { number, fees } => {
                self.holding(number.msisdn, number.joined, HoldingChange::Joined);
                for f in fees {
                    self.fee(f);
                }
            }
            Outcome::OptionActivated { fees, .. }
            | Outcome::PlanChanged { fees, .. }
            | Outcome::StatusChanged { fees, .. } => {
                for f in fees {
                    self.fee(f);
                }
            }
            _ => {}
        }
    }
}

/// The updates one decision makes, given the state *after* it was applied.
pub fn project(cat: &Catalog, state: &State, decided: &Decision, at: LogPos, out: &mut Updates) {
    let account = match &decided.outcome {
        Outcome::Duplicate | Outcome::Rejected(_) => return,
        Outcome::Opened { account, .. } => &account.id,
        _ => match &decided.account {
            Some(a) => a,
            None => return,
        },
    };
    let holder = state
        .account(account)
        .expect("a decision that was applied names an existing account");
    let after = holder.balance;
    let (spent, paid) = decided.money_flow();
    let mut p = Projector {
        cat,
        decision: decided,
        account,
        numbers: &holder.numbers,
        at,
        n: 0,
        balance: after + spent - paid,
        out,
    };
    p.periodic_work();
    p.outcome();
    assert_eq!(
        p.balance, after,
        "decision {}: the items' balances must end at the account's balance",
        decided.event
    );
}
