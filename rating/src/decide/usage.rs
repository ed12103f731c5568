//! Usage: a usage item (CDR) charged from the number's package buckets first, then from money at
//! the price in force (or a CGRateS tariff's), with its destination resolved and its repeats and
//! late arrivals told apart first.

use crate::catalog::{prefix, Catalog, DestIdx, UsageKind, ANY_DEST};
use crate::decision::{Charge, Decision, Outcome, Rejection, Take, Why};
use crate::event::{Input, Usage};
use crate::number::Number;
use crate::price::{Item, Offers, Pricer};
use crate::recent::Seen;
use crate::renewal::renewed;
use crate::service::{Direction, Service};
use crate::state::{Account, State};
use crate::time::Timestamp;
use crate::verdict::{decided, rejected, Due};
use compact_str::CompactString;
use rust_decimal::Decimal;
use smallvec::SmallVec;

pub(crate) fn usage_kind(cat: &Catalog, usage: &Usage, dest: DestIdx) -> UsageKind {
    let d = (dest != ANY_DEST).then(|| &cat.destinations[dest as usize]);
    UsageKind {
        service: usage.service,
        direction: usage.direction,
        zone: d.map(|d| d.zone),
        network: d.map(|d| d.network),
        location: usage.location,
        rating_group: usage.rating_group,
    }
}

pub(crate) fn rate_usage(state: &State, cat: &Catalog, input: &Input, usage: &Usage) -> Decision {
    let Some(i) = state.index_of_number(usage.msisdn) else {
        return rejected(input, cat, None, Rejection::UnknownNumber(usage.msisdn));
    };
    let acct0 = state.account_at(i);
    if let Some(seen) = unless_new(state, cat, input, &acct0.id, state.seen_at(i, input)) {
        return seen;
    }
    charge(cat, input, acct0, usage)
}

/// The decision for an input its account has seen or that comes too late (`crate::recent`);
/// none for a new one.
pub(crate) fn unless_new(
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

/// Why a usage item cannot be charged to its number yet: it began before the number joined.
#[inline]
fn before_joining(cat: &Catalog, acct: &Account, item: &Usage) -> Option<Rejection> {
    let n = acct
        .number(item.msisdn)
        .expect("the index points at the account holding the number");
    // Most usage is later than the joining time and the latest instant at which the joining
    // day could still be earlier somewhere (its midnight in UTC plus the widest offset west),
    // and is let through without a time zone conversion.
    let midnight = n.anchor.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
    if item.start >= n.joined && item.start.0 >= midnight + 12 * 3600 {
        return None;
    }
    // The day first: a number read from a record before joining times (`codec::v3`) knows only
    // its day, and was decided by it.
    let date = cat.calendar.local(item.start).date;
    if date < n.anchor {
        return Some(Rejection::BeforeNumberJoined {
            msisdn: item.msisdn,
            date,
            joined: n.anchor,
        });
    }
    (item.start < n.joined).then_some(Rejection::BeforeJoiningTime {
        msisdn: item.msisdn,
        start: item.start,
        joined: n.joined,
    })
}

/// The decision for a usage item, built in place: a decision is a few hundred bytes, and the
/// hot path should not move it from frame to frame.
pub(crate) fn charge(cat: &Catalog, input: &Input, acct0: &Account, usage: &Usage) -> Decision {
    let reject = |r| rejected(input, cat, Some(&acct0.id), r);
    let quantity = match usage.quantity() {
        Ok(q) => q,
        Err(r) => return reject(r.into()),
    };
    if let Some(r) = before_joining(cat, acct0, usage) {
        return reject(r);
    }
    let (acct, due) = renewed(cat, acct0, usage.start);
    match paid_for(cat, &acct, usage, quantity) {
        Ok(paid) => charged(cat, usage, acct0, &acct, due, paid),
        Err(r) => reject(r),
    }
}

/// What `quantity` units of a usage item would be paid with, from the buckets and money of
/// `acct` (the account after the renewals due at the item's start): the price of a CDR, and
/// of an online session's usage so far.
pub(crate) fn paid_for(
    cat: &Catalog,
    acct: &Account,
    usage: &Usage,
    quantity: u64,
) -> Result<Paid, Rejection> {
    let n = acct
        .number(usage.msisdn)
        .expect("the index points at the account holding the number");
    if let Some(cg) = &cat.plans[n.plan as usize].cgrates {
        return paid_cgrates(cat, usage, quantity, cg);
    }
    let dest = destination(cat, usage.service, usage.other.as_ref())?;
    let kind = usage_kind(cat, usage, dest);
    let item = Item {
        kind,
        dest,
        start: usage.start,
        quantity,
        offers: Offers {
            plan: n.plan,
            addons: &n.options,
        },
    };
    let pricer = Pricer::new(cat, &item);
    let first = pricer
        .choose(&item, 0)
        .ok_or_else(|| no_rate(cat, usage, dest))?;
    let free = cat.rates[first.rate as usize].free;

    // Packages first, unless the price is free anyway, or a fee of the number is unpaid (its
    // usage is paid in money until a payment settles the fee).
    let (takes, covered) = match !free && quantity > 0 && !n.is_unpaid() {
        true => take_from_buckets(cat, n, &kind, usage.start, quantity),
        false => (SmallVec::new(), 0),
    };
    let priced = pricer
        .price(&item, first, covered)
        .map_err(|_| no_rate(cat, usage, dest))?;
    Ok(Paid {
        quantity,
        destination: (dest != ANY_DEST).then_some(dest),
        rate: first.rate,
        takes,
        spans: priced.spans,
        connect_fee: priced.connect_fee,
        money: priced.money,
        why: why_paid(free, covered, quantity, priced.capped),
    })
}

/// The units a usage item takes from the number's buckets that cover it, in the order of their
/// package's priority, then the soonest to expire; and how much of the quantity they cover.
#[inline]
fn take_from_buckets(
    cat: &Catalog,
    number: &Number,
    kind: &UsageKind,
    start: Timestamp,
    quantity: u64,
) -> (SmallVec<[Take; 2]>, u64) {
    let mut takes: SmallVec<[Take; 2]> = SmallVec::new();
    let mut covered = 0u64;
    let mut eligible: SmallVec<[(i32, Timestamp, u32, usize); 4]> = SmallVec::new();
    for (i, b) in number.buckets.iter().enumerate() {
        if b.remaining == 0 || !b.valid_at(start) {
            continue;
        }
        let p = &cat.packages[b.package as usize];
        if p.covers(kind) {
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
        let b = &number.buckets[i];
        let inc = cat.packages[b.package as usize].increment;
        let want = left.div_ceil(inc) * inc;
        let units = want.min(b.remaining);
        covered += units.min(left);
        takes.push(Take {
            bucket: b.id,
            units,
        });
    }
    (takes, covered)
}

/// The alerts a charge raises and the loyalty points it earns.
fn alert_and_accrue(
    cat: &Catalog,
    acct0: &Account,
    balance_after: Decimal,
    money: Decimal,
    due_nothing: bool,
    decision: &mut Decision,
) {
    // Most CDRs are covered by packages and move no money: no alert and no points can follow,
    // and the hot path skips the decimal work of looking.
    let moved = !money.is_zero()
        || !decision.renewals.is_empty()
        || decision.written_off.is_some()
        || decision.inactivity.is_some();
    if moved {
        if due_nothing {
            // The balance moved by the charge alone: it ends at `balance_after`, and what
            // was spent is the charge.
            crate::lifecycle::alert_crossings(
                acct0,
                balance_after,
                acct0.credit_limit,
                &mut decision.alerts,
            );
            decision.loyalty = crate::lifecycle::accrual(cat, acct0, money);
        } else {
            crate::lifecycle::alert_balance(acct0, decision);
            crate::lifecycle::accrue(cat, acct0, decision);
        }
    }
}

/// Why a usage item costs what it does.
fn why_paid(free: bool, covered: u64, quantity: u64, capped: bool) -> Why {
    if free {
        Why::Free
    } else if covered >= quantity && quantity > 0 {
        Why::Packages
    } else if capped {
        Why::MoneyCapped
    } else if covered > 0 {
        Why::PackagesAndMoney
    } else {
        Why::Money
    }
}

/// What a usage item was paid with.
pub(crate) struct Paid {
    quantity: u64,
    destination: Option<DestIdx>,
    rate: crate::catalog::RateIdx,
    pub takes: SmallVec<[Take; 2]>,
    spans: SmallVec<[crate::decision::Span; 1]>,
    connect_fee: Decimal,
    pub money: Decimal,
    why: Why,
}

/// The decision of a charge, for whichever pricing paid it. `acct` is the account after the
/// renewals the decision carries.
#[inline(always)]
fn charged(
    cat: &Catalog,
    usage: &Usage,
    acct0: &Account,
    acct: &Account,
    due: Due,
    paid: Paid,
) -> Decision {
    debug_assert!(paid.money >= Decimal::ZERO, "a charge is never negative");
    let due_nothing =
        due.renewals.is_empty() && due.written_off.is_none() && due.inactivity.is_none();
    let balance_after = acct.balance - paid.money;
    let over_limit = usage.direction == Direction::Out
        && !paid.money.is_zero()
        && crate::money::order(balance_after, -acct.credit_limit).is_lt();
    let mut alerts = Vec::new();
    if let Some(status) = crate::activity::barred(acct, usage.msisdn) {
        alerts.push(crate::decision::Alert::UsageWhileBarred {
            msisdn: usage.msisdn,
            status: status.into(),
        });
    }
    let mut d = Decision {
        event: usage.id.clone(),
        catalog: cat.tag(),
        time: usage.start,
        account: Some(acct0.id.clone()),
        written_off: due.written_off,
        renewals: due.renewals,
        outcome: Outcome::Charged(Charge {
            msisdn: usage.msisdn,
            service: usage.service,
            direction: usage.direction,
            other: usage.other.clone(),
            start: usage.start,
            quantity: paid.quantity,
            destination: paid.destination,
            rate: paid.rate,
            takes: paid.takes,
            spans: paid.spans,
            connect_fee: paid.connect_fee,
            money: paid.money,
            balance_after,
            why: paid.why,
            over_limit,
        }),
        inactivity: due.inactivity,
        alerts,
        loyalty: None,
        spent: None,
    };
    alert_and_accrue(cat, acct0, balance_after, paid.money, due_nothing, &mut d);
    crate::lifecycle::count_spending(cat, acct, usage, &mut d);
    d
}

/// `Charge::rate` of a charge priced by the catalog's CGRateS tariff plan, which has no ratel rate.
pub const CGRATES_RATE: crate::catalog::RateIdx = crate::catalog::RateIdx::MAX;

/// A usage item of a number whose plan CGRateS prices: the tariff plan's price of the whole item
/// (its MSISDN as the subject, the catalog's time zone as the call's), paid in money; incoming
/// usage is free, as CGRateS plans price the calling side. The breakdown is not logged: `ratel
/// quote --tenant` reproduces it from the same catalog.
#[cold]
fn paid_cgrates(
    cat: &Catalog,
    item: &Usage,
    quantity: u64,
    cg: &crate::cgrates::file::PricingFile,
) -> Result<Paid, Rejection> {
    use chrono::TimeZone;
    let tariff = cat
        .cgrates
        .as_ref()
        .expect("the catalog refuses a CGRateS-priced plan without a tariff plan");
    let (money, connect_fee, why) = if item.direction == Direction::In {
        (Decimal::ZERO, Decimal::ZERO, Why::Free)
    } else {
        let voice = item.service == Service::Voice;
        let usage = if voice {
            quantity.saturating_mul(crate::cgrates::SECOND)
        } else {
            quantity
        };
        let Some(start) = cat.tz.timestamp_opt(item.start.0, 0).single() else {
            return Err(no_cgrates_rate(item));
        };
        let subject = item.msisdn.to_string();
        let req = crate::cgrates::CgrRequest {
            tenant: &cg.tenant,
            category: cg.categories.of(item.service),
            subject: &subject,
            destination: item.other.as_deref().unwrap_or(""),
            start: start.fixed_offset(),
            usage,
            voice,
        };
        match tariff.price(&req) {
            Ok(q) if q.cost.is_sign_negative() => return Err(no_cgrates_rate(item)),
            Ok(q) => {
                let why = if q.max_cost.is_some() {
                    Why::MoneyCapped
                } else {
                    Why::Money
                };
                (q.cost, q.connect_fee, why)
            }
            Err(_) => return Err(no_cgrates_rate(item)),
        }
    };
    Ok(Paid {
        quantity,
        destination: None,
        rate: CGRATES_RATE,
        takes: SmallVec::new(),
        spans: SmallVec::new(),
        connect_fee,
        money,
        why,
    })
}

fn no_cgrates_rate(usage: &Usage) -> Rejection {
    Rejection::NoRate {
        service: usage.service,
        direction: usage.direction,
        destination: usage.other.clone().unwrap_or_else(|| "*any".into()),
    }
}

fn no_rate(cat: &Catalog, usage: &Usage, dest: DestIdx) -> Rejection {
    let destination = if dest == ANY_DEST {
        "*any".into()
    } else {
        cat.destinations[dest as usize].id.as_str().into()
    };
    Rejection::NoRate {
        service: usage.service,
        direction: usage.direction,
        destination,
    }
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
