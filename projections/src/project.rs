//! One logged decision → the updates of the read models. Pure: the same decision, catalog and
//! state give the same updates, live and in a rebuild.

pub use crate::item::LogPos;
use crate::item::{encode_row, Category, Item, PaymentKind, PaymentRow, What};
pub use crate::models::Updates;
use crate::models::{self, Family};
use rating::{Catalog, Decision, FeeCharge, Month, Outcome, State, Timestamp};
use rust_decimal::Decimal;

struct Projector<'a> {
    cat: &'a Catalog,
    d: &'a Decision,
    account: &'a str,
    at: LogPos,
    /// Items of this decision so far: the third part of their key.
    n: u16,
    balance: Decimal,
    out: &'a mut Updates,
}

impl Projector<'_> {
    fn month(&self, t: Timestamp) -> Month {
        Month::of(self.cat.calendar.local(t).date)
    }

    fn item(&mut self, item: Item) {
        let month = self.month(item.time);
        let cat = item.category();
        if !item.money.is_zero() {
            self.out.adds.push((
                models::spending_key_number(item.msisdn, month, cat),
                item.money,
            ));
            self.out.adds.push((
                models::spending_key_account(self.account, month, cat),
                item.money,
            ));
        }
        let key = models::detail_key(item.msisdn, item.time, self.at, self.n);
        self.n += 1;
        let mut v = Vec::with_capacity(96);
        encode_row(&item, &mut v);
        self.out.puts.push((Family::Detail, key.to_vec(), v));
    }

    fn fee(&mut self, f: &FeeCharge) {
        self.balance -= f.amount;
        self.item(Item {
            event: self.d.event.clone(),
            msisdn: f.msisdn,
            time: f.at,
            what: What::Fee {
                fee: f.kind,
                source: f.source,
            },
            from_packages: 0,
            money: f.amount,
            balance_after: self.balance,
        });
    }

    fn payment(&mut self, kind: PaymentKind, time: Timestamp, amount: Decimal, repaid: Decimal) {
        let row = PaymentRow {
            event: self.d.event.clone(),
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
    fn account_spending(&mut self, t: Timestamp, c: Category, amount: Decimal) {
        if !amount.is_zero() {
            let month = self.month(t);
            self.out
                .adds
                .push((models::spending_key_account(self.account, month, c), amount));
        }
    }

    fn number(&mut self, m: rating::Msisdn) {
        self.out.puts.push((
            Family::Numbers,
            m.0.to_be_bytes().to_vec(),
            self.account.as_bytes().to_vec(),
        ));
    }
}

/// The updates one decision makes, given the state *after* it was applied.
pub fn project(cat: &Catalog, state: &State, d: &Decision, at: LogPos, out: &mut Updates) {
    let account = match &d.outcome {
        Outcome::Duplicate | Outcome::Rejected(_) => return,
        Outcome::Opened { account, .. } => &account.id,
        _ => match &d.account {
            Some(a) => a,
            None => return,
        },
    };
    let after = state
        .account(account)
        .expect("a decision that was applied names an existing account")
        .balance;
    let (spent, paid) = d.money_flow();
    let mut p = Projector {
        cat,
        d,
        account,
        at,
        n: 0,
        balance: after + spent - paid,
        out,
    };
    if let Some(w) = &d.written_off {
        p.balance -= w.amount;
        p.payment(
            PaymentKind::PromiseWrittenOff,
            w.at,
            -w.amount,
            Decimal::ZERO,
        );
    }
    for r in &d.renewals {
        for f in &r.fees {
            p.fee(f);
        }
    }
    for f in d.inactivity.iter().flat_map(|w| &w.fees) {
        p.fee(f);
    }
    match &d.outcome {
        Outcome::Charged(c) => {
            p.balance -= c.money;
            p.item(Item {
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
            });
        }
        Outcome::Paid {
            amount,
            repaid,
            balance_after,
            ..
        } => {
            p.balance += *amount - *repaid;
            debug_assert_eq!(p.balance, *balance_after);
            p.payment(PaymentKind::Payment, d.time, *amount, *repaid);
        }
        Outcome::PromiseGranted {
            amount,
            fee,
            balance_after,
            ..
        } => {
            p.balance += *amount - *fee;
            debug_assert_eq!(p.balance, *balance_after);
            p.payment(PaymentKind::PromisedPayment, d.time, *amount, Decimal::ZERO);
            p.account_spending(d.time, Category::Other, *fee);
        }
        Outcome::Opened { account: a, fees } => {
            for n in &a.numbers {
                p.number(n.msisdn);
            }
            for f in fees {
                p.fee(f);
            }
        }
        Outcome::NumberAdded { number, fees } => {
            p.number(number.msisdn);
            for f in fees {
                p.fee(f);
            }
        }
        Outcome::OptionActivated { fees, .. }
        | Outcome::PlanChanged { fees, .. }
        | Outcome::StatusChanged { fees, .. } => {
            for f in fees {
                p.fee(f);
            }
        }
        Outcome::DetalizationOrdered {
            msisdn,
            fee,
            balance_after,
            ..
        } => {
            p.balance -= *fee;
            p.item(Item {
                event: d.event.clone(),
                msisdn: *msisdn,
                time: d.time,
                what: What::Report,
                from_packages: 0,
                money: *fee,
                balance_after: *balance_after,
            });
        }
        Outcome::TransferSent {
            amount,
            fee,
            balance_after,
            ..
        } => {
            p.balance -= *amount + *fee;
            debug_assert_eq!(p.balance, *balance_after);
            p.payment(PaymentKind::TransferSent, d.time, -*amount, Decimal::ZERO);
            p.account_spending(d.time, Category::Other, *fee);
        }
        Outcome::TransferReceived { amount, .. } => {
            p.balance += *amount;
            p.payment(
                PaymentKind::TransferReceived,
                d.time,
                *amount,
                Decimal::ZERO,
            );
        }
        Outcome::TransferRefunded { amount, .. } => {
            p.balance += *amount;
            p.payment(
                PaymentKind::TransferRefunded,
                d.time,
                *amount,
                Decimal::ZERO,
            );
        }
        Outcome::OptionDeactivated { .. }
        | Outcome::TransferBounced { .. }
        | Outcome::SpendingLimitSet { .. }
        | Outcome::GroupSet { .. }
        | Outcome::CreditLimitSet { .. }
        | Outcome::BalanceAlertsSet { .. }
        | Outcome::Ticked => {}
        Outcome::Duplicate | Outcome::Rejected(_) => unreachable!("returned above"),
    }
    assert_eq!(
        p.balance, after,
        "decision {}: the items' balances must end at the account's balance",
        d.event
    );
}
