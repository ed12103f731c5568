//! `rate(state, catalog, event)`: the decision for one input event. Pure: it reads the state and
//! the catalog and returns what should happen; [`crate::apply`] makes it happen.

use crate::catalog::{prefix, Catalog, DestIdx, UsageKind, ANY_DEST};
use crate::decision::{Charge, Decision, Outcome, Rejection, Take, Why};
use crate::event::{Input, NewNumber, Usage};
use crate::period;
use crate::price::{Item, Offers, Pricer};
use crate::recent::Seen;
use crate::renewal::{after_due, renewed};
use crate::service::{Direction, Service};
use crate::state::{Account, State};
use crate::time::Timestamp;
use crate::verdict::{check_amount, decided, rejected, Due};
use compact_str::CompactString;
use rust_decimal::Decimal;
use smallvec::SmallVec;

/// Rates one input event against the state and catalog.
pub fn rate(state: &State, cat: &Catalog, input: &Input) -> Decision {
    let mut d = decide(state, cat, input);
    // Usage was told from repeats and late inputs before it was charged (the hot path);
    // other inputs are told by the account their decision names (`crate::recent`), found
    // after deciding, which costs nothing but for repeats.
    if !matches!(input, Input::Usage(_)) {
        let owner = match input {
            Input::OpenAccount(x) => Some(&x.account),
            _ => crate::decision::concerned(&d),
        };
        if let Some(owner) = owner {
            if let Some(seen) = unless_new(state, cat, input, owner, state.seen(owner, input)) {
                d = seen;
                return d;
            }
        }
    }
    // The account was released before this event: nothing of it is decided. The release
    // itself is recorded by the account's next tick (a refund is owed regardless; a credit
    // bounces, see `transfer::credit`).
    if d.inactivity.as_ref().is_some_and(|w| w.released.is_some())
        && !matches!(
            input,
            Input::Tick(_) | Input::TransferRefund(_) | Input::TransferCredit(_)
        )
    {
        let account = d
            .account
            .clone()
            .expect("inactivity work names its account");
        // Assigned, not returned: one return value lets the decision be built in the caller's
        // slot instead of copied out of this frame.
        d = rejected(
            input,
            cat,
            Some(&account),
            Rejection::Released(account.clone()),
        );
    } else {
        crate::lifecycle::alert(state, cat, &mut d);
    }
    d
}

fn decide(state: &State, cat: &Catalog, input: &Input) -> Decision {
    if let Err(e) = input.check() {
        return rejected(input, cat, None, Rejection::Malformed(e));
    }
    // A released account takes nothing more. Inputs that name it by a number cannot reach it
    // (its numbers are out of the index); these name it by its id. A refund is still owed.
    if let Some(a) = named_account(state, input).filter(|a| a.activity.released.is_some()) {
        return rejected(input, cat, Some(&a.id), Rejection::Released(a.id.clone()));
    }
    match input {
        Input::Usage(u) => rate_usage(state, cat, input, u),
        Input::Payment(p) => {
            let acct = match account_named(state, p.account.as_ref(), p.msisdn, "payment") {
                Ok(a) => a,
                Err(r) => return rejected(input, cat, None, r),
            };
            if let Err(r) = check_amount(cat, p.amount, true) {
                return rejected(input, cat, Some(&acct.id), r);
            }
            let (a, due) = renewed(cat, acct, p.time);
            // A payment repays what is outstanding of a promised payment first.
            let repaid = a
                .promise
                .as_ref()
                .map_or(Decimal::ZERO, |pr| pr.outstanding.min(p.amount));
            let balance_after = a.balance + p.amount - repaid;
            if balance_after > crate::money::MAX_AMOUNT {
                return rejected(input, cat, Some(&acct.id), Rejection::AmountOutOfRange);
            }
            decided(
                input,
                cat,
                Some(&acct.id),
                due,
                Outcome::Paid {
                    amount: p.amount,
                    repaid,
                    month: crate::event::Month::of(cat.calendar.local(p.time).date),
                    balance_after,
                },
            )
        }
        Input::OpenAccount(o) => {
            if state.account(&o.account).is_some() {
                return rejected(
                    input,
                    cat,
                    None,
                    Rejection::AccountExists(o.account.clone()),
                );
            }
            if let Err(r) = check_amount(cat, o.credit_limit, false) {
                return rejected(input, cat, None, r);
            }
            let mut numbers = Vec::new();
            let mut fees = Vec::new();
            for nn in &o.numbers {
                if numbers
                    .iter()
                    .any(|n: &crate::Number| n.msisdn == nn.msisdn)
                {
                    return rejected(input, cat, None, Rejection::NumberTaken(nn.msisdn));
                }
                match new_number(state, cat, nn, o.time) {
                    Ok((n, f)) => {
                        numbers.push(n);
                        fees.extend(f);
                    }
                    Err(r) => return rejected(input, cat, None, r),
                }
            }
            let account = Account::new(o.account.clone(), o.credit_limit, numbers, o.time);
            decided(
                input,
                cat,
                Some(&o.account),
                Due::default(),
                Outcome::Opened {
                    account: Box::new(account),
                    fees,
                },
            )
        }
        Input::AddNumber(x) => {
            let Some(acct) = state.account(&x.account) else {
                return rejected(
                    input,
                    cat,
                    None,
                    Rejection::UnknownAccount(x.account.clone()),
                );
            };
            let (_, due) = renewed(cat, acct, x.time);
            match new_number(state, cat, &x.number, x.time) {
                Ok((number, fees)) => decided(
                    input,
                    cat,
                    Some(&acct.id),
                    due,
                    Outcome::NumberAdded { number, fees },
                ),
                Err(r) => rejected(input, cat, Some(&acct.id), r),
            }
        }
        Input::ActivateOption(x) | Input::DeactivateOption(x) => {
            let activate = matches!(input, Input::ActivateOption(_));
            let Some(acct) = state.account_of(x.msisdn) else {
                return rejected(input, cat, None, Rejection::UnknownNumber(x.msisdn));
            };
            let Some(addon) = cat.addon(&x.option) else {
                return rejected(
                    input,
                    cat,
                    Some(&acct.id),
                    Rejection::UnknownOption(x.option.clone()),
                );
            };
            let (a, due) = renewed(cat, acct, x.time);
            let n = a
                .number(x.msisdn)
                .expect("the index points at the account holding the number");
            let active = n.options.contains(&addon);
            let outcome = if activate {
                let allowed = &cat.addons[addon as usize].plans;
                if active {
                    return rejected(
                        input,
                        cat,
                        Some(&acct.id),
                        Rejection::OptionActive(x.option.clone()),
                    );
                }
                if !allowed.is_empty() && !allowed.contains(&n.plan) {
                    let plan = CompactString::from(cat.plans[n.plan as usize].id.as_str());
                    return rejected(
                        input,
                        cat,
                        Some(&acct.id),
                        Rejection::OptionNotForPlan {
                            option: x.option.clone(),
                            plan,
                        },
                    );
                }
                let (after, fees, granted) = period::activate(cat, n, addon, x.time);
                Outcome::OptionActivated {
                    msisdn: x.msisdn,
                    addon,
                    fees,
                    granted,
                    next_bucket: after.next_bucket,
                    next_due: after.next_due,
                    days: after.days,
                    months: after.months,
                }
            } else {
                if !active {
                    return rejected(
                        input,
                        cat,
                        Some(&acct.id),
                        Rejection::OptionNotActive(x.option.clone()),
                    );
                }
                // The option's own buckets go with it.
                let dropped = n
                    .buckets
                    .iter()
                    .filter(|b| b.origin == crate::Origin::Addon(addon))
                    .map(|b| crate::Expiry {
                        bucket: b.id,
                        at: x.time,
                        lost: b.remaining,
                    })
                    .collect();
                Outcome::OptionDeactivated {
                    msisdn: x.msisdn,
                    addon,
                    dropped,
                }
            };
            decided(input, cat, Some(&acct.id), due, outcome)
        }
        Input::SetCreditLimit(x) => {
            let Some(acct) = state.account(&x.account) else {
                return rejected(
                    input,
                    cat,
                    None,
                    Rejection::UnknownAccount(x.account.clone()),
                );
            };
            if let Err(r) = check_amount(cat, x.credit_limit, false) {
                return rejected(input, cat, Some(&acct.id), r);
            }
            after_due(
                input,
                cat,
                acct,
                x.time,
                Outcome::CreditLimitSet {
                    credit_limit: x.credit_limit,
                },
            )
        }
        Input::Tick(x) => {
            let Some(acct) = state.account(&x.account) else {
                return rejected(
                    input,
                    cat,
                    None,
                    Rejection::UnknownAccount(x.account.clone()),
                );
            };
            after_due(input, cat, acct, x.time, Outcome::Ticked)
        }
        Input::RequestPromise(x) => promise(state, cat, input, x),
        Input::ChangePlan(x) => crate::lifecycle::change_plan(state, cat, input, x),
        Input::Suspend(x) | Input::ReportLost(x) | Input::Resume(x) => {
            crate::lifecycle::change_status(state, cat, input, x)
        }
        Input::SetBalanceAlerts(x) => crate::lifecycle::set_balance_alerts(state, cat, input, x),
        Input::Transfer(x) => crate::transfer::send(state, cat, input, x),
        Input::TransferCredit(x) => crate::transfer::credit(state, cat, input, x),
        Input::TransferRefund(x) => crate::transfer::refund(state, cat, input, x),
        Input::SetSpendingLimit(x) => crate::lifecycle::set_spending_limit(state, cat, input, x),
        Input::SetGroup(x) => match state.account_of(x.msisdn) {
            None => rejected(input, cat, None, Rejection::UnknownNumber(x.msisdn)),
            Some(acct) => after_due(
                input,
                cat,
                acct,
                x.time,
                Outcome::GroupSet {
                    msisdn: x.msisdn,
                    group: x.group.clone(),
                },
            ),
        },
        Input::OrderDetalization(x) => {
            let Some(acct) = state.account_of(x.msisdn) else {
                return rejected(input, cat, None, Rejection::UnknownNumber(x.msisdn));
            };
            let (from, to) = match (x.month, x.from, x.to) {
                (Some(m), _, _) => (
                    crate::time::start_of_day(&cat.tz, m.first_day()),
                    crate::time::start_of_day(&cat.tz, m.next().first_day()),
                ),
                (None, Some(f), Some(t)) => (f, t),
                _ => unreachable!("Input::check admits a month or a period"),
            };
            let free = x
                .month
                .is_some_and(|m| !state.free_report_used(x.msisdn, m));
            let fee = if free {
                Decimal::ZERO
            } else {
                cat.detalization_fee
            };
            let (a, due) = renewed(cat, acct, x.time);
            let balance_after = a.balance - fee;
            decided(
                input,
                cat,
                Some(&acct.id),
                due,
                Outcome::DetalizationOrdered {
                    msisdn: x.msisdn,
                    month: x.month,
                    from,
                    to,
                    free,
                    fee,
                    balance_after,
                },
            )
        }
    }
}

/// A promised payment: granted within the catalog's policy, one at a time, at any balance.
fn promise(
    state: &State,
    cat: &Catalog,
    input: &Input,
    x: &crate::event::RequestPromise,
) -> Decision {
    let acct = match account_named(state, x.account.as_ref(), x.msisdn, "a promised payment") {
        Ok(a) => a,
        Err(r) => return rejected(input, cat, None, r),
    };
    let refuse = |why: String| {
        rejected(
            input,
            cat,
            Some(&acct.id),
            Rejection::PromiseRefused(why.into()),
        )
    };
    let Some(policy) = &cat.promise else {
        return refuse("the catalog offers no promised payments".into());
    };
    if let Err(r) = check_amount(cat, x.amount, true) {
        return rejected(input, cat, Some(&acct.id), r);
    }
    let (a, due) = renewed(cat, acct, x.time);
    if let Some(p) = &a.promise {
        return refuse(format!(
            "{} of the promised payment {} is still outstanding",
            p.outstanding, p.event
        ));
    }
    let month = crate::event::Month::of(cat.calendar.local(x.time).date);
    let recent = a.paid_since(crate::event::Month(month.0.saturating_sub(2)));
    let allowed = policy.max_amount.min(
        (recent * policy.share_of_recent_payments)
            .round_dp_with_strategy(cat.decimals, rust_decimal::RoundingStrategy::ToZero),
    );
    if x.amount > allowed {
        let mut allowed = allowed;
        allowed.rescale(cat.decimals);
        return refuse(format!(
            "at most {allowed}: the lesser of {} and {} of the {recent} paid in this and the two previous months",
            policy.max_amount, policy.share_of_recent_payments
        ));
    }
    let expires = x.time.plus(u64::from(policy.validity_days) * 86_400);
    let balance_after = a.balance + x.amount - policy.fee;
    decided(
        input,
        cat,
        Some(&acct.id),
        due,
        Outcome::PromiseGranted {
            amount: x.amount,
            fee: policy.fee,
            expires,
            balance_after,
        },
    )
}

fn new_number(
    state: &State,
    cat: &Catalog,
    nn: &NewNumber,
    t: Timestamp,
) -> Result<(crate::Number, Vec<crate::FeeCharge>), Rejection> {
    if state.account_of(nn.msisdn).is_some() {
        return Err(Rejection::NumberTaken(nn.msisdn));
    }
    let plan = cat
        .plan(&nn.plan)
        .ok_or_else(|| Rejection::UnknownPlan(nn.plan.clone()))?;
    let mut addons: Vec<crate::catalog::AddonIdx> = Vec::new();
    for o in &nn.options {
        let a = cat
            .addon(o)
            .ok_or_else(|| Rejection::UnknownOption(o.clone()))?;
        let allowed = &cat.addons[a as usize].plans;
        if !allowed.is_empty() && !allowed.contains(&plan) {
            return Err(Rejection::OptionNotForPlan {
                option: o.clone(),
                plan: nn.plan.clone(),
            });
        }
        if addons.contains(&a) {
            return Err(Rejection::OptionActive(o.clone()));
        }
        addons.push(a);
    }
    Ok(period::join(cat, nn.msisdn, plan, &addons, t))
}

/// Resolves the other party of a usage item to a destination (data has none).
pub(crate) fn destination(
    cat: &Catalog,
    service: Service,
    other: Option<&CompactString>,
) -> Result<DestIdx, Rejection> {
    if service == Service::Data {
        return Ok(ANY_DEST);
    }
    let other =
        other.ok_or_else(|| Rejection::Malformed(format!("{service} usage needs `other`")))?;
    let digits = prefix::digits(other).ok_or_else(|| Rejection::BadOtherParty(other.clone()))?;
    cat.destination(digits)
        .ok_or_else(|| Rejection::UnknownDestination(other.clone()))
}

pub(crate) fn usage_kind(cat: &Catalog, u: &Usage, dest: DestIdx) -> UsageKind {
    let d = (dest != ANY_DEST).then(|| &cat.destinations[dest as usize]);
    UsageKind {
        service: u.service,
        direction: u.direction,
        zone: d.map(|d| d.zone),
        network: d.map(|d| d.network),
        location: u.location,
        rating_group: u.rating_group,
    }
}

/// The account an input names by its id, for the inputs that change it.
/// The account an input names by its id or by one of its numbers. Naming both is allowed only
/// when the number is the account's: money is never credited to one account on the word of
/// another's number.
fn account_named<'a>(
    state: &'a State,
    account: Option<&crate::event::AccountId>,
    msisdn: Option<crate::event::Msisdn>,
    what: &str,
) -> Result<&'a Account, Rejection> {
    match (account, msisdn) {
        (Some(a), m) => {
            let acct = state
                .account(a)
                .ok_or_else(|| Rejection::UnknownAccount(a.clone()))?;
            match m {
                Some(m) if acct.number(m).is_none() => Err(Rejection::Malformed(format!(
                    "{what} names account {a} and number {m}, which is not that account's"
                ))),
                _ => Ok(acct),
            }
        }
        (None, Some(m)) => state.account_of(m).ok_or(Rejection::UnknownNumber(m)),
        (None, None) => Err(Rejection::Malformed(format!(
            "{what} names neither account nor msisdn"
        ))),
    }
}

fn named_account<'a>(state: &'a State, input: &Input) -> Option<&'a Account> {
    let id = match input {
        Input::Payment(x) => x.account.as_deref()?,
        Input::RequestPromise(x) => x.account.as_deref()?,
        Input::AddNumber(x) => &x.account,
        Input::SetCreditLimit(x) => &x.account,
        Input::SetBalanceAlerts(x) => &x.account,
        _ => return None,
    };
    state.account(id)
}

fn rate_usage(state: &State, cat: &Catalog, input: &Input, u: &Usage) -> Decision {
    let Some(i) = state.index_of_number(u.msisdn) else {
        return rejected(input, cat, None, Rejection::UnknownNumber(u.msisdn));
    };
    let acct0 = state.account_at(i);
    if let Some(seen) = unless_new(state, cat, input, &acct0.id, state.seen_at(i, input)) {
        return seen;
    }
    charge(cat, input, acct0, u)
}

/// The decision for an input its account has seen or that comes too late (`crate::recent`);
/// none for a new one.
fn unless_new(
    state: &State,
    cat: &Catalog,
    input: &Input,
    owner: &str,
    seen: Seen,
) -> Option<Decision> {
    match seen {
        Seen::Fresh => None,
        Seen::Repeat => Some(decided(
            input,
            cat,
            None,
            Due::default(),
            Outcome::Duplicate,
        )),
        Seen::TooLate { horizon } => Some(rejected(
            input,
            cat,
            Some(owner),
            Rejection::TooLate {
                horizon,
                window: state.window(),
            },
        )),
    }
}

/// The decision for a usage item, built in place: a decision is a few hundred bytes, and the
/// hot path should not move it from frame to frame.
#[inline]
fn before_joining(cat: &Catalog, acct: &Account, u: &Usage) -> Option<Rejection> {
    let n = acct
        .number(u.msisdn)
        .expect("the index points at the account holding the number");
    // Most usage is later than the joining time and the latest instant at which the joining
    // day could still be earlier somewhere (its midnight in UTC plus the widest offset west),
    // and is let through without a time zone conversion.
    let midnight = n.anchor.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
    if u.start >= n.joined && u.start.0 >= midnight + 12 * 3600 {
        return None;
    }
    // The day first: a number read from a record before joining times (`codec::v3`) knows only
    // its day, and was decided by it.
    let date = cat.calendar.local(u.start).date;
    if date < n.anchor {
        return Some(Rejection::BeforeNumberJoined {
            msisdn: u.msisdn,
            date,
            joined: n.anchor,
        });
    }
    (u.start < n.joined).then_some(Rejection::BeforeJoiningTime {
        msisdn: u.msisdn,
        start: u.start,
        joined: n.joined,
    })
}

fn charge(cat: &Catalog, input: &Input, acct0: &Account, u: &Usage) -> Decision {
    let reject = |r| rejected(input, cat, Some(&acct0.id), r);
    let quantity = match u.quantity() {
        Ok(q) => q,
        Err(r) => return reject(r.into()),
    };
    if let Some(r) = before_joining(cat, acct0, u) {
        return reject(r);
    }
    let (acct, due) = renewed(cat, acct0, u.start);
    let n = acct
        .number(u.msisdn)
        .expect("the index points at the account holding the number");
    if let Some(cg) = &cat.plans[n.plan as usize].cgrates {
        return charge_cgrates(cat, input, acct0, &acct, due, u, quantity, cg);
    }
    let dest = match destination(cat, u.service, u.other.as_ref()) {
        Ok(d) => d,
        Err(r) => return reject(r),
    };
    let kind = usage_kind(cat, u, dest);
    let item = Item {
        kind,
        dest,
        start: u.start,
        quantity,
        offers: Offers {
            plan: n.plan,
            addons: &n.options,
        },
    };
    let pricer = Pricer::new(cat, &item);
    let Some(first) = pricer.choose(&item, 0) else {
        return reject(no_rate(cat, u, dest));
    };
    let free = cat.rates[first.rate as usize].free;

    // Packages first, unless the price is free anyway.
    let mut takes: SmallVec<[Take; 2]> = SmallVec::new();
    let mut covered = 0u64;
    if !free && quantity > 0 {
        let mut eligible: SmallVec<[(i32, Timestamp, u32, usize); 4]> = SmallVec::new();
        for (i, b) in n.buckets.iter().enumerate() {
            if b.remaining == 0 || !b.valid_at(u.start) {
                continue;
            }
            let p = &cat.packages[b.package as usize];
            if p.covers(&kind) {
                eligible.push((p.priority, b.valid_until, b.id, i));
            }
        }
        // Usually one or two: an insertion sort beats the general sort here.
        for i in 1..eligible.len() {
            let mut j = i;
            while j > 0 && eligible[j - 1] > eligible[j] {
                eligible.swap(j - 1, j);
                j -= 1;
            }
        }
        for &(_, _, _, i) in &eligible {
            let left = quantity - covered;
            if left == 0 {
                break;
            }
            let b = &n.buckets[i];
            let inc = cat.packages[b.package as usize].increment;
            let want = left.div_ceil(inc) * inc;
            let units = want.min(b.remaining);
            covered += units.min(left);
            takes.push(Take {
                bucket: b.id,
                units,
            });
        }
    }
    let Ok(priced) = pricer.price(&item, first, covered) else {
        return reject(no_rate(cat, u, dest));
    };
    let why = if free {
        Why::Free
    } else if covered >= quantity && quantity > 0 {
        Why::Packages
    } else if priced.capped {
        Why::MoneyCapped
    } else if covered > 0 {
        Why::PackagesAndMoney
    } else {
        Why::Money
    };
    charged(
        cat,
        u,
        acct0,
        &acct,
        due,
        Paid {
            quantity,
            destination: (dest != ANY_DEST).then_some(dest),
            rate: first.rate,
            takes,
            spans: priced.spans,
            connect_fee: priced.connect_fee,
            money: priced.money,
            why,
        },
    )
}

/// What a usage item was paid with.
struct Paid {
    quantity: u64,
    destination: Option<DestIdx>,
    rate: crate::catalog::RateIdx,
    takes: SmallVec<[Take; 2]>,
    spans: SmallVec<[crate::decision::Span; 1]>,
    connect_fee: Decimal,
    money: Decimal,
    why: Why,
}

/// The decision of a charge, for whichever pricing paid it. `acct` is the account after the
/// renewals the decision carries.
#[inline(always)]
fn charged(
    cat: &Catalog,
    u: &Usage,
    acct0: &Account,
    acct: &Account,
    due: Due,
    p: Paid,
) -> Decision {
    debug_assert!(p.money >= Decimal::ZERO, "a charge is never negative");
    let due_nothing =
        due.renewals.is_empty() && due.written_off.is_none() && due.inactivity.is_none();
    let balance_after = acct.balance - p.money;
    let over_limit = u.direction == Direction::Out
        && !p.money.is_zero()
        && crate::money::order(balance_after, -acct.credit_limit).is_lt();
    let mut alerts = Vec::new();
    if let Some(status) = crate::activity::barred(acct, u.msisdn) {
        alerts.push(crate::decision::Alert::UsageWhileBarred {
            msisdn: u.msisdn,
            status: status.into(),
        });
    }
    let mut d = Decision {
        event: u.id.clone(),
        catalog: cat.tag(),
        time: u.start,
        account: Some(acct0.id.clone()),
        written_off: due.written_off,
        renewals: due.renewals,
        outcome: Outcome::Charged(Charge {
            msisdn: u.msisdn,
            service: u.service,
            direction: u.direction,
            other: u.other.clone(),
            start: u.start,
            quantity: p.quantity,
            destination: p.destination,
            rate: p.rate,
            takes: p.takes,
            spans: p.spans,
            connect_fee: p.connect_fee,
            money: p.money,
            balance_after,
            why: p.why,
            over_limit,
        }),
        inactivity: due.inactivity,
        alerts,
        loyalty: None,
        spent: None,
    };
    // Most CDRs are covered by packages and move no money: no alert and no points can follow,
    // and the hot path skips the decimal work of looking.
    let moved = !p.money.is_zero()
        || !d.renewals.is_empty()
        || d.written_off.is_some()
        || d.inactivity.is_some();
    if moved {
        if due_nothing {
            // The balance moved by the charge alone: it ends at `balance_after`, and what
            // was spent is the charge.
            crate::lifecycle::alert_crossings(
                acct0,
                balance_after,
                acct0.credit_limit,
                &mut d.alerts,
            );
            d.loyalty = crate::lifecycle::accrual(cat, acct0, p.money);
        } else {
            crate::lifecycle::alert_balance(acct0, &mut d);
            crate::lifecycle::accrue(cat, acct0, &mut d);
        }
    }
    crate::lifecycle::count_spending(cat, acct, u, &mut d);
    d
}

/// `Charge::rate` of a charge priced by the catalog's CGRateS tariff plan, which has no ratel rate.
pub const CGRATES_RATE: crate::catalog::RateIdx = crate::catalog::RateIdx::MAX;

/// A usage item of a number whose plan CGRateS prices: the tariff plan's price of the whole item
/// (its MSISDN as the subject, the catalog's time zone as the call's), paid in money; incoming
/// usage is free, as CGRateS plans price the calling side. The breakdown is not logged: `ratel
/// quote --tenant` reproduces it from the same catalog.
#[cold]
#[allow(clippy::too_many_arguments)]
fn charge_cgrates(
    cat: &Catalog,
    input: &Input,
    acct0: &Account,
    acct: &Account,
    due: Due,
    u: &Usage,
    quantity: u64,
    cg: &crate::cgrates::file::PricingFile,
) -> Decision {
    use chrono::TimeZone;
    let reject = |r| rejected(input, cat, Some(&acct0.id), r);
    let tariff = cat
        .cgrates
        .as_ref()
        .expect("the catalog refuses a CGRateS-priced plan without a tariff plan");
    let (money, connect_fee, why) = if u.direction == Direction::In {
        (Decimal::ZERO, Decimal::ZERO, Why::Free)
    } else {
        let voice = u.service == Service::Voice;
        let usage = if voice {
            quantity.saturating_mul(crate::cgrates::SECOND)
        } else {
            quantity
        };
        let Some(start) = cat.tz.timestamp_opt(u.start.0, 0).single() else {
            return reject(no_cgrates_rate(u));
        };
        let subject = u.msisdn.to_string();
        let req = crate::cgrates::CgrRequest {
            tenant: &cg.tenant,
            category: cg.categories.of(u.service),
            subject: &subject,
            destination: u.other.as_deref().unwrap_or(""),
            start: start.fixed_offset(),
            usage,
            voice,
        };
        match tariff.price(&req) {
            Ok(q) if q.cost.is_sign_negative() => return reject(no_cgrates_rate(u)),
            Ok(q) => {
                let why = if q.max_cost.is_some() {
                    Why::MoneyCapped
                } else {
                    Why::Money
                };
                (q.cost, q.connect_fee, why)
            }
            Err(_) => return reject(no_cgrates_rate(u)),
        }
    };
    charged(
        cat,
        u,
        acct0,
        acct,
        due,
        Paid {
            quantity,
            destination: None,
            rate: CGRATES_RATE,
            takes: SmallVec::new(),
            spans: SmallVec::new(),
            connect_fee,
            money,
            why,
        },
    )
}

fn no_cgrates_rate(u: &Usage) -> Rejection {
    Rejection::NoRate {
        service: u.service,
        direction: u.direction,
        destination: u.other.clone().unwrap_or_else(|| "*any".into()),
    }
}

fn no_rate(cat: &Catalog, u: &Usage, dest: DestIdx) -> Rejection {
    let destination = if dest == ANY_DEST {
        "*any".into()
    } else {
        cat.destinations[dest as usize].id.as_str().into()
    };
    Rejection::NoRate {
        service: u.service,
        direction: u.direction,
        destination,
    }
}
