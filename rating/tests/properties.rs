//! Properties over random sequences of usage, payments and commands on the example catalog:
//! money is conserved to the kopeck, buckets never go below zero, a repeated id changes nothing,
//! rating is deterministic, replay equals live, and a quote equals the charge on a fresh account
//! without packages.

mod common;
use common::*;
use proptest::prelude::*;
use rating::codec::encode_decision;
use rating::event::*;
use rating::*;
use rust_decimal::Decimal;

const NUMBERS: [&str; 5] = [
    "79000000001",
    "79000000002",
    "79000000003",
    "79000000004",
    "79000000005",
];
const OTHERS: [&str; 8] = [
    "79001112233",
    "74951234567",
    "78121234567",
    "441234567890",
    "375291234567",
    "77011234567",
    "86123",
    "999000",
];
const PLANS: [&str; 3] = ["SMART", "DAILY", "BASIC"];
const OPTIONS: [&str; 2] = ["MESSENGERS", "TRAVEL"];
/// Packages a goodwill grant may name: the catalog's, and one it does not have.
const PACKAGES: [&str; 4] = [
    "SMART_MINUTES",
    "SMART_SMS",
    "DAILY_DATA",
    "NO_SUCH_PACKAGE",
];

#[derive(Clone, Debug)]
enum Op {
    Usage {
        number: usize,
        service: u8,
        other: usize,
        quantity: u64,
        incoming: bool,
        rg: bool,
    },
    Pay {
        account: usize,
        kopecks: u64,
        by_number: bool,
    },
    Tick {
        account: usize,
    },
    Option {
        number: usize,
        option: usize,
        on: bool,
    },
    Repeat {
        back: usize,
    },
    Garbage {
        number: usize,
    },
    Promise {
        account: usize,
        rubles: u64,
    },
    Report {
        number: usize,
        /// A whole month (November or December), or `None` for the last three days.
        month: Option<bool>,
    },
    ChangePlan {
        number: usize,
        plan: usize,
    },
    /// 0 suspend, 1 report lost, 2 resume.
    Status {
        number: usize,
        kind: u8,
    },
    Alerts {
        account: usize,
        autopay_rubles: Option<u64>,
        low_rubles: Option<u64>,
    },
    /// Event time jumps this many days: long enough for the inactivity rules.
    Sleep {
        days: u32,
    },
    Limit {
        number: usize,
        rubles: Option<u64>,
    },
    /// To one of the numbers, or (5) to a number nobody has.
    Transfer {
        from: usize,
        to: usize,
        rubles: u64,
    },
    /// The operator's correction: money in or out (`kopecks` may be of too many decimals when
    /// `fine`), naming a number (perhaps another account's) or none.
    Adjust {
        account: usize,
        kopecks: i64,
        fine: bool,
        number: Option<usize>,
    },
    /// Loyalty points into money, or into the reward for a number (perhaps another account's).
    Redeem {
        account: usize,
        points: u64,
        reward: Option<usize>,
    },
    /// Units of one of [`PACKAGES`] taken back.
    TakeBack {
        number: usize,
        package: usize,
        amount: u64,
    },
    /// A refund of an earlier usage (`back` from the latest), by its account or (`stranger`)
    /// another: in full, or of `kopecks` of its money, or of `units` of its units.
    Refund {
        back: usize,
        kopecks: Option<u64>,
        units: Option<u64>,
        stranger: bool,
    },
    /// An earlier payment (`back` from the latest) reversed.
    Reverse {
        back: usize,
    },
    /// A goodwill bucket of one of [`PACKAGES`].
    Grant {
        number: usize,
        package: usize,
        amount: u64,
        days: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..5usize, 0..4u8, 0..8usize, 0..4000u64, any::<bool>(), any::<bool>())
            .prop_map(|(number, service, other, quantity, incoming, rg)| Op::Usage { number, service, other, quantity, incoming, rg }),
        2 => (0..3usize, 1..200_000u64, any::<bool>()).prop_map(|(account, kopecks, by_number)| Op::Pay { account, kopecks, by_number }),
        1 => (0..3usize).prop_map(|account| Op::Tick { account }),
        1 => (0..5usize, 0..2usize, any::<bool>()).prop_map(|(number, option, on)| Op::Option { number, option, on }),
        1 => (0..50usize).prop_map(|back| Op::Repeat { back }),
        1 => (0..5usize).prop_map(|number| Op::Garbage { number }),
        1 => (0..5usize, prop::option::of(any::<bool>())).prop_map(|(number, month)| Op::Report { number, month }),
        1 => (0..3usize, 1..400u64).prop_map(|(account, rubles)| Op::Promise { account, rubles }),
        1 => (0..5usize, 0..3usize).prop_map(|(number, plan)| Op::ChangePlan { number, plan }),
        1 => (0..5usize, 0..3u8).prop_map(|(number, kind)| Op::Status { number, kind }),
        1 => (0..3usize, prop::option::of(0..300u64), prop::option::of(0..300u64))
            .prop_map(|(account, autopay_rubles, low_rubles)| Op::Alerts { account, autopay_rubles, low_rubles }),
        1 => (20..130u32).prop_map(|days| Op::Sleep { days }),
        1 => (0..5usize, 0..6usize, 1..300u64).prop_map(|(from, to, rubles)| Op::Transfer { from, to, rubles }),
        1 => (0..5usize, prop::option::of(1..100u64)).prop_map(|(number, rubles)| Op::Limit { number, rubles }),
        1 => (0..3usize, -50_000..50_000i64, prop::bool::weighted(0.1), prop::option::of(0..5usize))
            .prop_map(|(account, kopecks, fine, number)| Op::Adjust { account, kopecks, fine, number }),
        1 => (0..5usize, 0..PACKAGES.len(), 1..20_000u64)
            .prop_map(|(number, package, amount)| Op::TakeBack { number, package, amount }),
        1 => (0..3usize, 1..120u64, prop::option::of(0..5usize))
            .prop_map(|(account, points, reward)| Op::Redeem { account, points, reward }),
        1 => (0..5usize, 0..PACKAGES.len(), 1..20_000u64, 0..40u32)
            .prop_map(|(number, package, amount, days)| Op::Grant { number, package, amount, days }),
        2 => (0..8usize, prop::option::of(1..3_000u64), prop::option::of(1..2_000u64), prop::bool::weighted(0.1))
            .prop_map(|(back, kopecks, units, stranger)| Op::Refund { back, kopecks, units, stranger }),
        1 => (0..4usize).prop_map(|back| Op::Reverse { back }),
    ]
}

/// Three accounts: A0 holds numbers 0 and 1 (a family), A1 number 2, A2 numbers 3 and 4.
fn script(plans: [usize; 5], ops: &[(Op, u32)]) -> Vec<Input> {
    let start = t("2026-11-01T00:00:00Z");
    let owners = [0, 0, 1, 2, 2];
    let mut out = Vec::new();
    for a in 0..3 {
        let numbers = (0..5)
            .filter(|&n| owners[n] == a)
            .map(|n| NewNumber {
                msisdn: msisdn(NUMBERS[n]),
                plan: PLANS[plans[n]].into(),
                options: vec![],
            })
            .collect();
        out.push(Input::OpenAccount(OpenAccount {
            id: format!("open-{a}").into(),
            account: format!("A{a}").into(),
            time: start,
            credit_limit: Decimal::new(10_000, 2),
            numbers,
        }));
    }
    let mut now = start;
    // Earlier usages and payments, with their accounts, for refunds and reversals to name.
    let mut usages: Vec<(EventId, usize)> = Vec::new();
    let mut payments: Vec<(EventId, usize)> = Vec::new();
    for (i, (op, gap)) in ops.iter().enumerate() {
        now = now.plus(u64::from(*gap));
        let id: EventId = format!("e{i}").into();
        match op {
            Op::Usage { number, .. } => usages.push((id.clone(), owners[*number])),
            Op::Pay { account, .. } => payments.push((id.clone(), *account)),
            _ => {}
        }
        let earlier = |list: &[(EventId, usize)], back: usize| {
            list.len()
                .checked_sub(1 + back % list.len().max(1))
                .map(|k| list[k].clone())
        };
        let input = match op {
            Op::Refund {
                back,
                kopecks,
                units,
                stranger,
            } => {
                let (charge, owner) = earlier(&usages, *back).unwrap_or(("none".into(), 0));
                let owner = if *stranger { (owner + 1) % 3 } else { owner };
                Input::Refund(Refund {
                    id,
                    account: format!("A{owner}").into(),
                    charge,
                    amount: kopecks.map(|k| Decimal::new(k as i64, 2)),
                    units: *units,
                    reason: "dispute".into(),
                    operator: "op-3".into(),
                    time: now,
                    found: None,
                })
            }
            Op::Reverse { back } => {
                let (payment, owner) = earlier(&payments, *back).unwrap_or(("none".into(), 0));
                Input::ReversePayment(ReversePayment {
                    id,
                    account: format!("A{owner}").into(),
                    payment,
                    reason: "chargeback".into(),
                    operator: "bank".into(),
                    time: now,
                    found: None,
                })
            }
            Op::Usage {
                number,
                service,
                other,
                quantity,
                incoming,
                rg,
            } => {
                let service = Service::ALL[*service as usize];
                let (duration, bytes, count) = match service {
                    Service::Voice => (Some(*quantity), None, None),
                    Service::Data => (None, Some(quantity * 997 + 1), None),
                    _ => (None, None, Some(quantity % 3 + 1)),
                };
                Input::Usage(Usage {
                    id,
                    msisdn: msisdn(NUMBERS[*number]),
                    service,
                    direction: if *incoming {
                        Direction::In
                    } else {
                        Direction::Out
                    },
                    other: (service != Service::Data).then(|| OTHERS[*other].into()),
                    start: now,
                    duration,
                    bytes,
                    count,
                    location: Zone::Home,
                    rating_group: rg.then_some(10),
                })
            }
            Op::Pay {
                account,
                kopecks,
                by_number,
            } => Input::Payment(Payment {
                id,
                account: (!by_number).then(|| format!("A{account}").into()),
                msisdn: by_number.then(|| msisdn(NUMBERS[[0, 2, 3][*account]])),
                amount: Decimal::new(*kopecks as i64, 2),
                time: now,
            }),
            Op::Tick { account } => Input::Tick(Tick {
                id,
                account: format!("A{account}").into(),
                time: now,
            }),
            Op::Option { number, option, on } => {
                let c = OptionChange {
                    id,
                    msisdn: msisdn(NUMBERS[*number]),
                    option: OPTIONS[*option].into(),
                    time: now,
                };
                if *on {
                    Input::ActivateOption(c)
                } else {
                    Input::DeactivateOption(c)
                }
            }
            Op::Repeat { back } => {
                let k = out.len().saturating_sub(1 + back);
                out[k].clone()
            }
            Op::Garbage { number } => Input::Payment(Payment {
                id,
                account: None,
                msisdn: Some(msisdn(NUMBERS[*number])),
                amount: Decimal::new(1, 3),
                time: now,
            }),
            Op::Promise { account, rubles } => Input::RequestPromise(RequestPromise {
                id,
                account: Some(format!("A{account}").into()),
                msisdn: None,
                amount: Decimal::from(*rubles),
                time: now,
            }),
            Op::Report { number, month } => Input::OrderDetalization(OrderDetalization {
                id,
                msisdn: msisdn(NUMBERS[*number]),
                month: month.map(|dec| Month::new(2026, if dec { 12 } else { 11 }).unwrap()),
                from: month.is_none().then(|| Timestamp(now.0 - 3 * 86_400)),
                to: month.is_none().then_some(now),
                time: now,
            }),
            Op::ChangePlan { number, plan } => Input::ChangePlan(ChangePlan {
                id,
                msisdn: msisdn(NUMBERS[*number]),
                plan: PLANS[*plan].into(),
                time: now,
            }),
            Op::Status { number, kind } => {
                let c = NumberCommand {
                    id,
                    msisdn: msisdn(NUMBERS[*number]),
                    time: now,
                };
                match kind {
                    0 => Input::Suspend(c),
                    1 => Input::ReportLost(c),
                    _ => Input::Resume(c),
                }
            }
            Op::Alerts {
                account,
                autopay_rubles,
                low_rubles,
            } => Input::SetBalanceAlerts(SetBalanceAlerts {
                id,
                account: format!("A{account}").into(),
                time: now,
                autopay: autopay_rubles.map(|r| rating::state::Autopay {
                    threshold: Decimal::from(r as i64 - 50),
                    amount: Decimal::from(300),
                }),
                low_balance: low_rubles.map(Decimal::from),
            }),
            Op::Limit { number, rubles } => Input::SetSpendingLimit(SetSpendingLimit {
                id,
                msisdn: msisdn(NUMBERS[*number]),
                limit: rubles.map(Decimal::from),
                time: now,
            }),
            Op::Transfer { from, to, rubles } => Input::Transfer(Transfer {
                id,
                from: msisdn(NUMBERS[*from]),
                to: msisdn(NUMBERS.get(*to).copied().unwrap_or("79009999999")),
                amount: Decimal::from(*rubles),
                time: now,
            }),
            Op::Adjust {
                account,
                kopecks,
                fine,
                number,
            } => Input::Adjust(Adjust {
                id,
                account: format!("A{account}").into(),
                msisdn: number.map(|n| msisdn(NUMBERS[n])),
                amount: Decimal::new(*kopecks, if *fine { 3 } else { 2 }),
                reason: "goodwill".into(),
                operator: "op-1".into(),
                time: now,
            }),
            Op::TakeBack {
                number,
                package,
                amount,
            } => Input::Take(TakeUnits {
                id,
                msisdn: msisdn(NUMBERS[*number]),
                package: PACKAGES[*package].into(),
                amount: *amount,
                reason: "rerate:p".into(),
                operator: "ratel-rerate".into(),
                time: now,
            }),
            Op::Redeem {
                account,
                points,
                reward,
            } => Input::RedeemPoints(RedeemPoints {
                id,
                account: format!("A{account}").into(),
                points: reward.is_none().then_some(*points),
                reward: reward.map(|_| "HOUR_OF_CALLS".into()),
                msisdn: reward.map(|n| msisdn(NUMBERS[n])),
                time: now,
            }),
            Op::Grant {
                number,
                package,
                amount,
                days,
            } => Input::Grant(Grant {
                id,
                msisdn: msisdn(NUMBERS[*number]),
                package: PACKAGES[*package].into(),
                amount: *amount,
                validity_days: *days,
                reason: "network_outage".into(),
                operator: "op-2".into(),
                time: now,
            }),
            Op::Sleep { days } => {
                now = now.plus(u64::from(*days) * 86_400);
                Input::Tick(Tick {
                    id,
                    account: "A0".into(),
                    time: now,
                })
            }
        };
        out.push(input);
    }
    out
}

fn scripts() -> impl Strategy<Value = Vec<Input>> {
    (
        prop::array::uniform5(0..3usize),
        prop::collection::vec((op(), 0..40_000u32), 1..120),
    )
        .prop_map(|(p, ops)| script(p, &ops))
}

/// A refund or a reversal with what the decision it names took, found among `log` the way the
/// engine finds it in the store; any other input as it is.
fn resolved(log: &[Decision], cat: &Catalog, input: &Input) -> Input {
    match input.refers_to() {
        Some(_) => {
            let named = log.iter().rev().filter(|d| rating::refund::may_be_named(d));
            let found = named
                .map(|d| rating::refund::found(input, cat, d))
                .find(Option::is_some);
            rating::refund::with_found(input, found.flatten())
        }
        None => input.clone(),
    }
}

/// Steps an input and what its decisions derive (a transfer's credit, a bounce's refund), the
/// way the engine delivers them: the inputs (refunds with what they found in `log`) and
/// decisions in order, added to `log`.
fn step_delivering(
    s: &mut State,
    cat: &Catalog,
    log: &mut Vec<Decision>,
    input: &Input,
) -> Vec<(Input, Decision)> {
    let mut out = Vec::new();
    let mut next = Some(resolved(log, cat, input));
    while let Some(i) = next {
        let d = step(s, cat, &i);
        next = rating::transfer::derived(&d);
        log.push(d.clone());
        out.push((i, d));
    }
    out
}

fn account_of(d: &Decision) -> Option<String> {
    match &d.outcome {
        Outcome::Opened { account, .. } => Some(account.id.to_string()),
        _ => d.account.as_ref().map(std::string::ToString::to_string),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn money_is_conserved_and_buckets_stay_whole(inputs in scripts(), prepaid: bool) {
        // The example catalog (plans pre-paid: fees that need funds), or post-paid.
        let cat = if prepaid { example() } else { postpaid() };
        let mut s = State::new();
        // Each promise: (granted, repaid so far, written off).
        let mut promises: std::collections::BTreeMap<String, (Decimal, Decimal, Decimal)> = Default::default();
        let mut expected: std::collections::BTreeMap<String, Decimal> = Default::default();
        // Each account's spending so far, which its loyalty points and remainder add up to.
        let mut spent: std::collections::BTreeMap<String, Decimal> = Default::default();
        let mut redeemed: std::collections::BTreeMap<String, u64> = Default::default();
        // Transfers: sent, received and refunded.
        let (mut sent, mut received, mut refunded) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        let mut queue: std::collections::VecDeque<Input> = inputs.iter().cloned().collect();
        let mut log: Vec<Decision> = Vec::new();
        // What each charge took and each payment brought, by account and id; what came back.
        let mut took: std::collections::BTreeMap<(String, String), (Decimal, u64)> = Default::default();
        let mut back: std::collections::BTreeMap<(String, String), (Decimal, u64)> = Default::default();
        while let Some(input) = queue.pop_front() {
            let input = &resolved(&log, &cat, &input);
            let before = s.clone();
            let d = rate(&s, &cat, input);
            // Deterministic: the same state, catalog and event give the same bytes.
            let (mut b1, mut b2) = (Vec::new(), Vec::new());
            encode_decision(&d, &mut b1);
            encode_decision(&rate(&s, &cat, input), &mut b2);
            prop_assert_eq!(b1, b2);
            apply(&mut s, &d).unwrap();
            if let Some(next) = rating::transfer::derived(&d) {
                queue.push_front(next);
            }
            if let Some(a) = account_of(&d).filter(|_| !matches!(d.outcome, Outcome::Rejected(_) | Outcome::Duplicate | Outcome::TransferBounced { .. })) {
                *spent.entry(a.clone()).or_default() += d.spending();
                if let Outcome::PointsRedeemed { points, .. } = &d.outcome {
                    // Redeemed points were earned: they count as spent.
                    *redeemed.entry(a.clone()).or_default() += *points;
                }
                let acct = s.account(&a).unwrap();
                let earned = acct.loyalty.points + redeemed.get(&a).copied().unwrap_or(0);
                prop_assert_eq!(Decimal::from(earned) * Decimal::from(10) + acct.loyalty.towards_next, spent[&a], "loyalty of {}", a);
                prop_assert!(acct.loyalty.towards_next < Decimal::from(10));
            }
            let key = |event: &EventId| (account_of(&d).unwrap_or_default(), event.to_string());
            match &d.outcome {
                Outcome::Charged(c) => {
                    took.insert(key(&d.event), (c.money, c.takes.iter().map(|t| t.units).sum()));
                }
                Outcome::Paid { amount, .. } => {
                    took.insert(key(&d.event), (*amount, 0));
                }
                Outcome::Refunded { charge, money, units, to_buckets, units_money, .. } => {
                    // Never beyond what the charge took, over all its refunds; units come back
                    // into buckets or as money, never both.
                    let (m0, u0) = took[&key(charge)];
                    let b = back.entry(key(charge)).or_default();
                    b.0 += *money;
                    b.1 += *units;
                    prop_assert!(b.0 <= m0 && b.1 <= u0, "refunded {:?} of {:?}", b, (m0, u0));
                    let into: u64 = to_buckets.iter().map(|t| t.units).sum();
                    prop_assert!(into <= *units && (into < *units || units_money.is_zero()));
                }
                Outcome::PaymentReversed { payment, amount, .. } => {
                    prop_assert_eq!(took[&key(payment)].0, *amount);
                    prop_assert!(back.insert(key(payment), (*amount, 0)).is_none(), "reversed once");
                }
                _ => {}
            }
            log.push(d.clone());
            match &d.outcome {
                Outcome::TransferSent { amount, .. } => sent += *amount,
                Outcome::TransferReceived { amount, .. } => received += *amount,
                Outcome::TransferRefunded { amount, .. } => refunded += *amount,
                _ => {}
            }
            let (out, inn) = d.money_flow();
            // The flow is the sum of the movements (`rating::movement`), each of something.
            prop_assert!(d.movements().iter().all(|m| m.amount > Decimal::ZERO), "{:?}", d.movements());
            if let Some(a) = account_of(&d) {
                *expected.entry(a.clone()).or_default() += inn - out;
                prop_assert_eq!(s.account(&a).unwrap().balance, expected[&a], "after {}", d.event);
            } else {
                prop_assert_eq!(out, Decimal::ZERO);
                prop_assert_eq!(inn, Decimal::ZERO);
            }
            if matches!(d.outcome, Outcome::Duplicate) {
                prop_assert!(before.accounts().any(|a| before.seen(&a.id, input) == rating::recent::Seen::Repeat));
                for a in before.accounts() {
                    prop_assert_eq!(Some(a), s.account(&a.id));
                }
            }
            // A promise is repaid from payments and written off at expiry, together never more
            // than was granted, and only one is outstanding at a time.
            let owner = account_of(&d);
            let open_promise = owner.as_ref().and_then(|a| before.account(a)).and_then(|a| a.promise.clone());
            if let Some(w) = &d.written_off {
                let p = promises.get_mut(w.promise.as_str()).expect("a written-off promise was granted");
                p.2 += w.amount;
                prop_assert_eq!(p.0, p.1 + p.2, "a write-off settles exactly what is owed");
            }
            match &d.outcome {
                Outcome::PromiseGranted { amount, .. } => {
                    prop_assert!(open_promise.as_ref().is_none_or(|p| p.expires <= input.time()), "one at a time");
                    promises.insert(d.event.to_string(), (*amount, Decimal::ZERO, Decimal::ZERO));
                }
                Outcome::Paid { amount, repaid, .. } if !repaid.is_zero() => {
                    let id = s.account(owner.as_deref().unwrap()).unwrap().promise.as_ref().map(|p| p.event.to_string())
                        .or_else(|| open_promise.as_ref().map(|p| p.event.to_string()))
                        .expect("a repayment has a promise");
                    let p = promises.get_mut(&id).unwrap();
                    p.1 += *repaid;
                    prop_assert!(*repaid <= *amount);
                    prop_assert!(p.1 + p.2 <= p.0, "repaid {} of {}", p.1, p.0);
                }
                _ => {}
            }
            if let Some(a) = owner.as_ref().and_then(|a| s.account(a)) {
                if let Some(p) = &a.promise {
                    let (g, r, w) = promises[p.event.as_str()];
                    prop_assert_eq!(p.outstanding, g - r - w);
                    prop_assert!(p.outstanding > Decimal::ZERO);
                }
            }
            if let Outcome::DetalizationOrdered { msisdn, month, free, fee, .. } = &d.outcome {
                // One free report per number and month; every other report costs the fee.
                let used = month.is_some_and(|m| before.free_report_used(*msisdn, m));
                prop_assert_eq!(*free, month.is_some() && !used);
                prop_assert_eq!(*fee, if *free { Decimal::ZERO } else { cat.detalization_fee });
            }
            // Alerts: the credit limit crossed either way, exactly when it was (an account opens
            // at zero).
            if let Outcome::Opened { account, .. } = &d.outcome {
                let a1 = s.account(&account.id).unwrap();
                let blocked = d.alerts.iter().any(|x| matches!(x, rating::decision::Alert::Blocked { .. }));
                prop_assert_eq!(blocked, a1.balance < -a1.credit_limit);
            }
            if let (Some(a0), Some(a1)) = (owner.as_ref().and_then(|a| before.account(a)), owner.as_ref().and_then(|a| s.account(a))) {
                let was = a0.balance < -a0.credit_limit;
                let is = a1.balance < -a1.credit_limit;
                let effective = !matches!(d.outcome, Outcome::Rejected(_) | Outcome::Duplicate);
                let blocked = d.alerts.iter().any(|x| matches!(x, rating::decision::Alert::Blocked { .. }));
                let unblocked = d.alerts.iter().any(|x| matches!(x, rating::decision::Alert::Unblocked { .. }));
                prop_assert_eq!(blocked, effective && !was && is, "blocked alert of {}", d.event);
                prop_assert_eq!(unblocked, effective && was && !is, "unblocked alert of {}", d.event);
                // A barred number pays only its status's fee.
                for r in &d.renewals {
                    if let Some(n) = a0.number(r.msisdn) {
                        if !n.status.is_active() {
                            prop_assert!(r.fees.iter().all(|f| matches!(f.source, rating::FeeSource::Suspension | rating::FeeSource::LostSim)), "{:?}", r.fees);
                            prop_assert!(r.granted.iter().all(|b| b.origin == rating::Origin::Rollover));
                        }
                    }
                }
                if a0.activity.released.is_some() {
                    prop_assert!(!matches!(d.outcome, Outcome::Charged(_) | Outcome::Paid { .. }), "a released account takes nothing");
                }
            }
            for a in s.accounts() {
                // An engine indexes an account by `due_from`: no work is due before it. The
                // times asked: it, a second before it, and each day's start around the input.
                let from = rating::due_from(&cat, a);
                if from.0 > 0 && from.0 < rating::time::NEVER.0 {
                    prop_assert!(!rating::work_due(&cat, a, Timestamp(from.0 - 1)), "work due before due_from for {}", a.id);
                }
                for day in -1..=40i64 {
                    let t = Timestamp((d.time.0 / 86_400 + day) * 86_400);
                    if rating::work_due(&cat, a, t) {
                        prop_assert!(from <= t, "{} due at {} before its due_from {}", a.id, t, from);
                    }
                }
                // The inactivity clock: "zero or below since" is set exactly while it is.
                prop_assert_eq!(a.activity.nonpositive_since.is_some(), a.balance <= Decimal::ZERO, "account {}", a.id);
                if a.activity.blocked.is_some() && a.activity.released.is_none() {
                    prop_assert!(a.balance <= Decimal::ZERO, "blocked for inactivity with money");
                }
                if let Some(r) = a.activity.released {
                    prop_assert!(a.activity.blocked.is_some_and(|b| b < r));
                }
            }
            if matches!(d.outcome, Outcome::Paid { .. }) {
                let a = s.account(owner.as_deref().unwrap()).unwrap();
                prop_assert_eq!(a.activity.fee_days, 0);
                prop_assert_eq!(a.activity.last_topup, d.time);
            }
            if let Outcome::Charged(c) = &d.outcome {
                // A number with an unpaid fee uses no package.
                let unpaid = owner.as_ref().and_then(|a| s.account(a)).and_then(|a| a.number(c.msisdn)).is_some_and(rating::Number::is_unpaid);
                prop_assert!(!unpaid || c.takes.is_empty(), "{:?}", c);
                prop_assert!(c.money >= Decimal::ZERO);
                prop_assert_eq!(c.money, c.money.round_dp(2), "the example catalog rounds every charge to kopecks");
            }
        }
        // Every transfer's money arrived once: with the receiver, or back with the sender.
        prop_assert_eq!(sent, received + refunded);
        for a in s.accounts() {
            for n in &a.numbers {
                for b in &n.buckets {
                    prop_assert!(b.remaining <= b.total, "bucket {} of {} holds {} of {}", b.id, n.msisdn, b.remaining, b.total);
                }
            }
        }
    }

    #[test]
    fn replay_of_the_decisions_equals_live(inputs in scripts(), prepaid: bool) {
        // The example catalog (plans pre-paid: fees that need funds), or post-paid.
        let cat = if prepaid { example() } else { postpaid() };
        let mut live = State::new();
        let mut log = Vec::new();
        let steps: Vec<(Input, Decision)> = inputs.iter().flat_map(|i| step_delivering(&mut live, &cat, &mut log, i)).collect();
        let decisions: Vec<Decision> = steps.iter().map(|(_, d)| d.clone()).collect();
        let mut replayed = State::new();
        for d in &decisions {
            let mut bytes = Vec::new();
            encode_decision(d, &mut bytes);
            apply(&mut replayed, &rating::codec::decode_decision(&bytes).unwrap()).unwrap();
        }
        for a in live.accounts() {
            prop_assert_eq!(Some(a), replayed.account(&a.id));
        }
        prop_assert_eq!(live.seen_count(), replayed.seen_count());
        let sorted = |s: &State| { let mut v: Vec<_> = s.free_reports().collect(); v.sort(); v };
        prop_assert_eq!(sorted(&live), sorted(&replayed));
        // Rating the same inputs again from scratch gives the same decisions.
        let mut again = State::new();
        for (i, d) in &steps {
            prop_assert_eq!(&step(&mut again, &cat, i), d);
        }
    }

    #[test]
    fn cache_hints_ahead_change_no_decision(inputs in scripts()) {
        let cat = example();
        let mut plain = State::new();
        let mut hinted = State::new();
        let mut ahead = rating::prefetch::Ahead::default();
        let (mut plain_log, mut hinted_log) = (Vec::new(), Vec::new());
        for (i, x) in inputs.iter().enumerate() {
            let a = step_delivering(&mut plain, &cat, &mut plain_log, x);
            ahead.before(&hinted, i, |k| inputs.get(k));
            prop_assert_eq!(a, step_delivering(&mut hinted, &cat, &mut hinted_log, x));
        }
        for a in plain.accounts() {
            prop_assert_eq!(Some(a), hinted.account(&a.id));
        }
    }

    #[test]
    fn every_event_twice_equals_every_event_once(inputs in scripts(), prepaid: bool) {
        // The example catalog (plans pre-paid: fees that need funds), or post-paid.
        let cat = if prepaid { example() } else { postpaid() };
        let mut once = State::new();
        let mut twice = State::new();
        let (mut once_log, mut twice_log) = (Vec::new(), Vec::new());
        for i in &inputs {
            step_delivering(&mut once, &cat, &mut once_log, i);
            // Each step, and each step it derives, delivered twice.
            for (i, first) in step_delivering(&mut twice, &cat, &mut twice_log, i) {
                let d = step(&mut twice, &cat, &i);
                if rating::decision::remembered_by(&first).is_none() && first.outcome != Outcome::Duplicate {
                    // Too late to be told from a repeat (the script sends old ids again after
                    // its sleeps), or naming no account: refused again, moving nothing either
                    // time.
                    prop_assert!(matches!(first.outcome, Outcome::Rejected(_)));
                    prop_assert_eq!(d.outcome, first.outcome);
                } else {
                    prop_assert_eq!(d.outcome, Outcome::Duplicate);
                }
            }
        }
        for a in once.accounts() {
            prop_assert_eq!(Some(a), twice.account(&a.id));
            // Memory is bounded by the window: an account holds no id decided more than a
            // window and a quarter before its latest rated event.
            let (w, r) = (twice.window(), twice.recent(&a.id).unwrap());
            if let Some(h) = r.horizon(w) {
                prop_assert!(r.ids().all(|(_, t)| t.0 >= h.0 - w / 4));
            }
        }
    }

    #[test]
    fn a_quote_equals_the_charge_on_a_fresh_account_without_packages(
        service in 0..4u8, other in 0..8usize, quantity in 0..20_000u64, gap in 0..(86_400u64 * 60), incoming: bool,
    ) {
        let cat = example();
        let start = t("2026-11-01T00:00:00Z").plus(gap);
        let service = Service::ALL[service as usize];
        let quantity = match service { Service::Voice => quantity, Service::Data => quantity * 4099 + 1, _ => quantity % 5 + 1 };
        let q = QuoteRequest {
            plan: "BASIC".into(), options: vec![], service,
            direction: if incoming { Direction::In } else { Direction::Out },
            other: (service != Service::Data).then(|| OTHERS[other].into()),
            start, quantity, location: Zone::Home, rating_group: None,
        };
        let mut s = State::new();
        step(&mut s, &cat, &Input::OpenAccount(OpenAccount { id: "o".into(), account: "A".into(), time: start, credit_limit: Decimal::ZERO, numbers: vec![NewNumber { msisdn: msisdn(NUMBERS[0]), plan: "BASIC".into(), options: vec![] }] }));
        let (duration, bytes, count) = match service { Service::Voice => (Some(quantity), None, None), Service::Data => (None, Some(quantity), None), _ => (None, None, Some(quantity)) };
        let u = Input::Usage(Usage { id: "u".into(), msisdn: msisdn(NUMBERS[0]), service, direction: q.direction, other: q.other.clone(), start, duration, bytes, count, location: Zone::Home, rating_group: None });
        let d = step(&mut s, &cat, &u);
        match (quote(&cat, &q), &d.outcome) {
            (Ok(qt), Outcome::Charged(c)) => {
                prop_assert_eq!(qt.money, c.money);
                prop_assert_eq!(&qt.spans, &c.spans);
            }
            (Err(e), Outcome::Rejected(r)) => prop_assert_eq!(&e, r),
            (a, b) => prop_assert!(false, "quote {:?} but charge {:?}", a, b),
        }
    }
}

/// The random scripts do reach the lifecycle: over a fixed set of them every kind of lifecycle
/// decision and alert happens, so the properties above are not vacuous about it.
#[test]
fn the_scripts_reach_every_part_of_the_lifecycle() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let (example, limited) = (postpaid(), example());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let mut seen: std::collections::BTreeSet<&'static str> = Default::default();
    for k in 0..256 {
        // Every other script with the plans pre-paid.
        let cat = if k % 2 == 0 { &example } else { &limited };
        let inputs = scripts().new_tree(&mut runner).unwrap().current();
        let mut s = State::new();
        let mut goodwill: std::collections::BTreeSet<(Msisdn, u32)> = Default::default();
        let mut log = Vec::new();
        for d in inputs
            .iter()
            .flat_map(|i| step_delivering(&mut s, cat, &mut log, i))
            .map(|(_, d)| d)
        {
            if d.renewals.iter().any(|r| !r.unpaid.is_empty()) {
                seen.insert("unpaid");
            }
            if matches!(
                d.outcome,
                Outcome::Paid { .. } | Outcome::PromiseGranted { .. }
            ) && d
                .renewals
                .iter()
                .any(|r| r.expired.is_empty() && !r.fees.is_empty() && r.unpaid.is_empty())
            {
                seen.insert("unpaid fee settled by money in");
            }
            match &d.outcome {
                Outcome::TransferReceived { .. } => {
                    seen.insert("transfer received");
                }
                Outcome::TransferRefunded { .. } => {
                    seen.insert("transfer refunded");
                }
                Outcome::PlanChanged { .. } => {
                    seen.insert("plan changed");
                }
                Outcome::StatusChanged { status, .. } => {
                    seen.insert(status.name());
                }
                Outcome::BalanceAlertsSet { .. } => {
                    seen.insert("alerts set");
                }
                Outcome::Rejected(Rejection::Released(_)) => {
                    seen.insert("refused: released");
                }
                Outcome::Adjusted { amount, .. } => {
                    seen.insert(if amount.is_sign_negative() {
                        "adjusted out"
                    } else {
                        "adjusted in"
                    });
                }
                Outcome::Granted { msisdn, bucket, .. } => {
                    seen.insert("granted");
                    goodwill.insert((*msisdn, bucket.id));
                }
                Outcome::Charged(c)
                    if c.takes
                        .iter()
                        .any(|t| goodwill.contains(&(c.msisdn, t.bucket))) =>
                {
                    seen.insert("goodwill used");
                }
                Outcome::Rejected(Rejection::UnknownPackage(_)) => {
                    seen.insert("refused: unknown package");
                }
                Outcome::PointsRedeemed { bucket, .. } => {
                    seen.insert(if bucket.is_some() {
                        "points into a reward"
                    } else {
                        "points into money"
                    });
                }
                Outcome::Rejected(Rejection::RedeemRefused(_)) => {
                    seen.insert("refused: redemption");
                }
                Outcome::UnitsTaken { takes, .. } if !takes.is_empty() => {
                    seen.insert("units taken back");
                }
                Outcome::Refunded {
                    to_buckets,
                    units_money,
                    money,
                    ..
                } => {
                    if !to_buckets.is_empty() {
                        seen.insert("refund: units back to a bucket");
                    }
                    if !units_money.is_zero() {
                        seen.insert("refund: units back as money");
                    }
                    if !money.is_zero() {
                        seen.insert("refund: money");
                    }
                }
                Outcome::PaymentReversed { .. } => {
                    seen.insert("payment reversed");
                }
                Outcome::Rejected(Rejection::RefundRefused(_)) => {
                    seen.insert("refused: refund");
                }
                Outcome::Rejected(Rejection::UnknownCharge(_)) => {
                    seen.insert("refused: unknown charge");
                }
                Outcome::Rejected(Rejection::InsufficientFunds { .. }) => {
                    seen.insert("refused: insufficient funds");
                }
                _ => {}
            }
            if d.loyalty.is_some_and(|l| l.points > 0) {
                seen.insert("loyalty");
            }
            if let Some(w) = &d.inactivity {
                if !w.fees.is_empty() {
                    seen.insert("inactivity fee");
                }
                if w.blocked.is_some() {
                    seen.insert("blocked for inactivity");
                }
                if w.released.is_some() {
                    seen.insert("released");
                }
            }
            for a in &d.alerts {
                seen.insert(match a {
                    rating::decision::Alert::Blocked { .. } => "alert: blocked",
                    rating::decision::Alert::Unblocked { .. } => "alert: unblocked",
                    rating::decision::Alert::LowBalance { .. } => "alert: low balance",
                    rating::decision::Alert::Autopay { .. } => "alert: autopay",
                    rating::decision::Alert::UsageWhileBarred { .. } => "alert: barred usage",
                    rating::decision::Alert::OverSpendingLimit { .. } => "alert: over limit",
                });
            }
        }
    }
    let all = [
        "plan changed",
        "suspended",
        "lost",
        "active",
        "alerts set",
        "inactivity fee",
        "blocked for inactivity",
        "released",
        "refused: released",
        "alert: blocked",
        "alert: unblocked",
        "alert: low balance",
        "alert: autopay",
        "alert: barred usage",
        "transfer received",
        "transfer refunded",
        "alert: over limit",
        "loyalty",
        "adjusted in",
        "adjusted out",
        "granted",
        "goodwill used",
        "refused: unknown package",
        "points into a reward",
        "points into money",
        "refused: redemption",
        "units taken back",
        "refund: units back to a bucket",
        "refund: units back as money",
        "refund: money",
        "payment reversed",
        "refused: refund",
        "refused: unknown charge",
        "unpaid",
        "unpaid fee settled by money in",
        "refused: insufficient funds",
    ];
    let missing: Vec<_> = all.iter().filter(|k| !seen.contains(*k)).collect();
    assert!(missing.is_empty(), "never happened: {missing:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// A runtime's notes of an account ([`rating::state::Mark`]) stay with that account when
    /// others are let go, whatever the order they were opened in and whichever leave, and the
    /// predicate is asked about each account with its own index and mark.
    #[test]
    fn marks_stay_with_their_accounts_when_others_leave(
        leave in proptest::collection::vec(any::<bool>(), 1..40),
        again in proptest::collection::vec(any::<bool>(), 40),
    ) {
        let cat = example();
        let mut state = State::new();
        for (i, _) in leave.iter().enumerate() {
            let number = format!("7900100{i:04}");
            let opened = open(&format!("o{i}"), &format!("A{}", 1000 - i), "2026-01-01T00:00:00Z", &[(&number, "SMART", &[])]);
            let decision = step(&mut state, &cat, &opened);
            prop_assert!(matches!(decision.outcome, Outcome::Opened { .. }), "{:?}", decision.outcome);
        }
        prop_assert_eq!(state.len(), leave.len());
        drop(state.take_renumbered());
        let mark_of = |id: &str| {
            let n: u64 = id[1..].parse().unwrap();
            rating::state::Mark { last_use: n, bytes: n as usize * 7, due: Some(Timestamp(n as i64 * 3)) }
        };
        let ids: Vec<String> = state.accounts().map(|a| a.id.to_string()).collect();
        for id in &ids {
            let index = state.index_of(id).unwrap();
            *state.mark_mut(index) = mark_of(id);
        }
        for round in [&leave, &again] {
            let before: Vec<String> = state.accounts().map(|a| a.id.to_string()).collect();
            let mut asked = Vec::new();
            state.retain_accounts(|index, account, mark| {
                asked.push((index, account.id.to_string(), mark));
                !round[index as usize]
            });
            prop_assert_eq!(asked.len(), before.len());
            for (place, (index, id, mark)) in asked.into_iter().enumerate() {
                prop_assert_eq!(index as usize, place);
                prop_assert_eq!(&before[place], &id);
                prop_assert_eq!(mark, mark_of(&id));
            }
            prop_assert_eq!(state.marks().len(), state.len());
            for (account, mark) in state.accounts().zip(state.marks()) {
                prop_assert_eq!(*mark, mark_of(&account.id));
                let index = state.index_of(&account.id).unwrap();
                prop_assert_eq!(state.marks()[index as usize], mark_of(&account.id));
                let number = account.numbers[0].msisdn;
                prop_assert_eq!(state.index_of_number(number), Some(index));
            }
            let kept: Vec<String> = (before.iter().enumerate())
                .filter(|(i, _)| !round[*i])
                .map(|(_, id)| id.clone())
                .collect();
            prop_assert_eq!(state.accounts().map(|a| a.id.to_string()).collect::<Vec<_>>(), kept);
        }
    }
}
