//! Online charging: a session's requests (first, update, end, expiry) and one-off debits,
//! decided against the money and buckets of the account less what its other sessions hold.
//!
//! A session is priced as one usage item from its start, through the pricing of usage items:
//! its hold is the price of what it used plus what it was granted, and its charge at the end is
//! the charge of the CDR of the same usage. A grant is the most units, up to those asked for,
//! whose price the money the number may spend covers (a price in packages alone always fits).

use super::usage::{charge, paid_for, Paid};
use crate::catalog::file::Abandoned;
use crate::catalog::Catalog;
use crate::decision::{Decision, Outcome, Rejection};
use crate::event::{EventId, Input, SessionRequest, SessionStep, Usage};
use crate::renewal::renewed;
use crate::service::Unit;
use crate::session::{Hold, Session, MAX_OPEN_SESSIONS};
use crate::state::{Account, State};
use crate::time::Timestamp;
use crate::verdict::{decided, rejected, Due};
use rust_decimal::Decimal;
use std::borrow::Cow;

pub(crate) fn decide_session(
    state: &State,
    cat: &Catalog,
    input: &Input,
    request: &SessionRequest,
) -> Decision {
    let Some(i) = state.index_of_number(request.msisdn) else {
        return rejected(input, cat, None, Rejection::UnknownNumber(request.msisdn));
    };
    let acct = state.account_at(i);
    let refuse = |why: String| {
        let session = request.session.clone();
        let why = why.into();
        rejected(
            input,
            cat,
            Some(&acct.id),
            Rejection::SessionRefused { session, why },
        )
    };
    // A session is its number's: the same id on another number is not this session.
    let open =
        (acct.sessions.iter()).find(|s| s.id == request.session && s.msisdn == request.msisdn);
    match (request.step, open) {
        (SessionStep::Event, _) => debit(cat, input, acct, request),
        (SessionStep::Initial, None) if acct.sessions.len() >= MAX_OPEN_SESSIONS => refuse(
            format!("the account has {MAX_OPEN_SESSIONS} sessions open, the most it may"),
        ),
        (SessionStep::Initial, None) => begin(cat, input, acct, request),
        (SessionStep::Initial, Some(_)) => refuse("is open already".into()),
        (_, None) => {
            let unknown = Rejection::UnknownSession(request.session.clone());
            rejected(input, cat, Some(&acct.id), unknown)
        }
        (_, Some(s)) if request.request <= s.request => refuse(format!(
            "request {} does not follow request {}",
            request.request, s.request
        )),
        (SessionStep::Update, Some(s)) => update(cat, input, acct, request, s),
        (SessionStep::Terminate, Some(s)) => end(cat, input, acct, request.used, s, false),
        (SessionStep::Expire, Some(s)) if request.time < expiry(cat, s) => {
            refuse(format!("may not expire before {}", expiry(cat, s)))
        }
        (SessionStep::Expire, Some(s)) => end(cat, input, acct, 0, s, true),
    }
}

/// How many units of its service `asked`'s number could be granted at its time (CGRateS's
/// GetMaxUsage): what a session begun then would get, up to the units it asks for (or the most
/// one usage item may carry). A read: nothing is held. `asked` is a first request whose session
/// id and request id are not used; the other sessions' holds count as for any grant.
pub fn max_usage(state: &State, cat: &Catalog, asked: &SessionRequest) -> Result<u64, Rejection> {
    let acct =
        (state.account_of_number(asked.msisdn)).ok_or(Rejection::UnknownNumber(asked.msisdn))?;
    if let Some(why) = denied(acct, asked) {
        return Err(Rejection::ServiceDenied(why.into()));
    }
    let (acct, _) = renewed(cat, acct, asked.time);
    // No open session has an empty id: every other session's hold is taken out.
    let probe = Session {
        id: Default::default(),
        expires: valid_until(cat, asked.time),
        ..Session::of(asked)
    };
    let most = crate::catalog::limits::most_units(asked.service.unit());
    let want = asked.requested.unwrap_or(most).min(most);
    grant(cat, &acct, &probe, asked.time, want).map(|granted| granted.units)
}

/// What `asked`'s units (at least one) would cost now in money, after what the number's
/// packages would pay, beside what the account's sessions hold (Diameter's PRICE_ENQUIRY). A
/// read: nothing is charged.
pub fn price(state: &State, cat: &Catalog, asked: &SessionRequest) -> Result<Decimal, Rejection> {
    let acct =
        (state.account_of_number(asked.msisdn)).ok_or(Rejection::UnknownNumber(asked.msisdn))?;
    // No open session has an empty id: every session's hold is taken out.
    let view = others_held(acct, "");
    let (acct, _) = renewed(cat, &view, asked.time);
    let want = wanted(cat, asked).max(1);
    let usage = usage_of(&Session::of(asked), &asked.id, asked.time, want);
    paid_for(cat, &acct, &usage, want).map(|paid| paid.money)
}

/// The CDR of a session charged online: reconciled with the session, open or ended lately, and
/// never charged; refused if the account knows no such session of the number.
pub(crate) fn reconcile(
    state: &State,
    cat: &Catalog,
    input: &Input,
    cdr: &crate::event::SessionCdr,
) -> Decision {
    let usage = &cdr.usage;
    let Some(acct) = state.account_of_number(usage.msisdn) else {
        return rejected(input, cat, None, Rejection::UnknownNumber(usage.msisdn));
    };
    let units = match usage.quantity() {
        Ok(units) => units,
        Err(e) => return rejected(input, cat, Some(&acct.id), e.into()),
    };
    let mine = |id: &str, msisdn| id == cdr.session && msisdn == usage.msisdn;
    let open = acct.sessions.iter().find(|s| mine(&s.id, s.msisdn));
    let ended = (acct.ended_sessions.iter().rev()).find(|e| mine(&e.id, e.msisdn));
    let (online_units, open, online_money) = match (open, ended) {
        (Some(session), _) => (session.used, true, Decimal::ZERO),
        (None, Some(ended)) => (ended.units, false, ended.money),
        (None, None) => {
            let unknown = Rejection::UnknownSession(cdr.session.clone());
            return rejected(input, cat, Some(&acct.id), unknown);
        }
    };
    let outcome = Outcome::Reconciled {
        session: cdr.session.clone(),
        msisdn: usage.msisdn,
        units,
        online_units,
        open,
        online_money,
    };
    decided(input, cat, Some(&acct.id), Due::default(), outcome)
}

/// When a session nobody reports on may be ended: its grant's end plus the catalog's grace.
pub fn expiry(cat: &Catalog, session: &Session) -> Timestamp {
    Timestamp(session.expires.0 + i64::from(cat.online.grace_seconds))
}

fn begin(cat: &Catalog, input: &Input, acct0: &Account, request: &SessionRequest) -> Decision {
    if let Some(why) = denied(acct0, request) {
        let denied = Rejection::ServiceDenied(why.into());
        return rejected(input, cat, Some(&acct0.id), denied);
    }
    let (acct, due) = renewed(cat, acct0, request.time);
    let opened = Session {
        expires: valid_until(cat, request.time),
        ..Session::of(request)
    };
    let want = wanted(cat, request);
    match grant(cat, &acct, &opened, request.time, want) {
        Err(rejection) => rejected(input, cat, Some(&acct0.id), rejection),
        // Data with a top-up page opens with nothing granted and its final unit: the network
        // redirects the subscriber there.
        Ok(Granted {
            units: 0,
            available,
            ..
        }) if want > 0 && !redirected(cat, request) => {
            let short = Rejection::CreditLimitReached { available };
            rejected(input, cat, Some(&acct0.id), short)
        }
        Ok(granted) => {
            let last = granted.units < want;
            reserved(cat, input, acct0, due, opened, granted, last)
        }
    }
}

fn update(
    cat: &Catalog,
    input: &Input,
    acct0: &Account,
    request: &SessionRequest,
    session: &Session,
) -> Decision {
    let (acct, due) = renewed(cat, acct0, request.time);
    let next = Session {
        request: request.request,
        used: session.used.saturating_add(request.used),
        expires: valid_until(cat, request.time),
        ..session.clone()
    };
    // A number barred since the session began gets nothing more; what it used is still held.
    let barred = denied(&acct, request).is_some();
    let want = if barred { 0 } else { wanted(cat, request) };
    match grant(cat, &acct, &next, request.time, want) {
        Err(rejection) => rejected(input, cat, Some(&acct0.id), rejection),
        Ok(granted) => {
            let last = barred || granted.units < want;
            reserved(cat, input, acct0, due, next, granted, last)
        }
    }
}

fn reserved(
    cat: &Catalog,
    input: &Input,
    acct0: &Account,
    due: Due,
    session: Session,
    granted: Granted,
    last: bool,
) -> Decision {
    let session = Session {
        granted: granted.units,
        final_units: last,
        hold: granted.hold,
        ..session
    };
    let outcome = Outcome::Reserved(Box::new(session));
    decided(input, cat, Some(&acct0.id), due, outcome)
}

/// The end of a session: what it used (and, expired, what it was last granted if the catalog
/// charges abandoned sessions for it) charged as the CDR of the same usage would be.
fn end(
    cat: &Catalog,
    input: &Input,
    acct: &Account,
    reported: u64,
    session: &Session,
    expired: bool,
) -> Decision {
    let mut used = session.used.saturating_add(reported);
    if expired && cat.online.abandoned == Abandoned::Charge {
        used = used.saturating_add(session.granted);
    }
    let ended = |charge| Outcome::SessionEnded {
        session: Box::new(session.clone()),
        charge,
        expired,
    };
    if used == 0 {
        return decided(input, cat, Some(&acct.id), Due::default(), ended(None));
    }
    let view = others_held(acct, &session.id);
    let usage = usage_of(session, input.id(), session.start, used);
    let mut decision = charge(cat, input, &view, &usage);
    decision.time = input.time();
    match std::mem::replace(&mut decision.outcome, Outcome::Duplicate) {
        Outcome::Charged(charged) => decision.outcome = ended(Some(charged)),
        other => decision.outcome = other,
    }
    decision
}

/// A one-off item charged at once if the money the number may spend covers it, as its CDR
/// would be; refused otherwise (Diameter's direct debiting).
fn debit(cat: &Catalog, input: &Input, acct0: &Account, request: &SessionRequest) -> Decision {
    let reject = |rejection| rejected(input, cat, Some(&acct0.id), rejection);
    if let Some(why) = denied(acct0, request) {
        return reject(Rejection::ServiceDenied(why.into()));
    }
    let want = wanted(cat, request).max(1);
    let view = others_held(acct0, &request.session);
    let template = Session::of(request);
    let usage = usage_of(&template, input.id(), request.time, want);
    let (acct, _) = renewed(cat, &view, request.time);
    let available = spendable(cat, &acct, request.msisdn, request.time, &request.session);
    match paid_for(cat, &acct, &usage, want) {
        Err(rejection) => reject(rejection),
        Ok(paid) if !fits(&paid, available) => reject(Rejection::CreditLimitReached { available }),
        Ok(_) => charge(cat, input, &view, &usage),
    }
}

/// Why the number may not start using a service now, if it may not.
fn denied(acct: &Account, request: &SessionRequest) -> Option<&'static str> {
    if let Some(status) = crate::activity::barred(acct, request.msisdn) {
        return Some(status);
    }
    let number = acct.number(request.msisdn)?;
    if number.is_unpaid() {
        return Some("a fee of the number is unpaid");
    }
    if let Some(limit) = number.limit {
        if limit.spent >= limit.amount && limit.amount > Decimal::ZERO {
            return Some("over its spending limit");
        }
    }
    None
}

/// Whether the catalog sends this service to a top-up page when the money runs out.
fn redirected(cat: &Catalog, request: &SessionRequest) -> bool {
    request.service == crate::Service::Data && cat.online.redirect.is_some()
}

fn wanted(cat: &Catalog, request: &SessionRequest) -> u64 {
    let unit = request.service.unit();
    request.requested.unwrap_or_else(|| cat.online.quota(unit))
}

fn valid_until(cat: &Catalog, time: Timestamp) -> Timestamp {
    Timestamp(time.0 + i64::from(cat.online.validity_seconds))
}

/// The money the number may spend now: the balance down to the credit limit, and within its
/// spending limit's month, less what the account's other sessions hold.
fn spendable(
    cat: &Catalog,
    acct: &Account,
    msisdn: crate::Msisdn,
    time: Timestamp,
    except: &str,
) -> Decimal {
    let others = || acct.sessions.iter().filter(|s| s.id != except);
    let held: Decimal = others().map(|s| s.hold.money).sum();
    let mut available = acct.balance + acct.credit_limit - held;
    if let Some(limit) = acct.number(msisdn).and_then(|n| n.limit) {
        let month = crate::Month::of(cat.calendar.local(time).date);
        let spent = if month == limit.month {
            limit.spent
        } else {
            Decimal::ZERO
        };
        let mine = others().filter(|s| s.msisdn == msisdn);
        let held_by_number: Decimal = mine.map(|s| s.hold.money).sum();
        available = available.min(limit.amount - spent - held_by_number);
    }
    available
}

/// The account as a session sees it: the bucket units its other sessions hold taken out.
fn others_held<'a>(acct: &'a Account, except: &str) -> Cow<'a, Account> {
    let others = || acct.sessions.iter().filter(|s| s.id != except);
    if others().all(|s| s.hold.takes.is_empty()) {
        return Cow::Borrowed(acct);
    }
    let mut view = acct.clone();
    for session in others() {
        let Some(number) = view.number_mut(session.msisdn) else {
            continue;
        };
        for take in &session.hold.takes {
            if let Some(bucket) = number.buckets.iter_mut().find(|b| b.id == take.bucket) {
                bucket.remaining = bucket.remaining.saturating_sub(take.units);
            }
        }
    }
    Cow::Owned(view)
}

fn fits(paid: &Paid, available: Decimal) -> bool {
    paid.money.is_zero() || paid.money <= available
}

/// Units granted, what the session then holds, and the money the number could spend.
struct Granted {
    units: u64,
    hold: Hold,
    available: Decimal,
}

/// The most units up to `want`, on top of what `session` used, whose price the money the
/// number may spend covers: all of them if it covers that, else found by bisection (a price
/// never falls as units grow).
fn grant(
    cat: &Catalog,
    acct: &Account,
    session: &Session,
    time: Timestamp,
    want: u64,
) -> Result<Granted, Rejection> {
    let view = others_held(acct, &session.id);
    let available = spendable(cat, &view, session.msisdn, time, &session.id);
    let price = |units: u64| -> Result<Option<Paid>, Rejection> {
        let total = session.used.saturating_add(units);
        if total == 0 {
            return Ok(None);
        }
        let usage = usage_of(session, &session.id, session.start, total);
        paid_for(cat, &view, &usage, total).map(Some)
    };
    let held = |paid: Option<Paid>| match paid {
        Some(paid) => Hold {
            takes: paid.takes,
            money: paid.money,
        },
        None => Hold::default(),
    };
    let all = price(want)?;
    if all.as_ref().is_none_or(|paid| fits(paid, available)) {
        let hold = held(all);
        return Ok(Granted {
            units: want,
            hold,
            available,
        });
    }
    let (mut low, mut high) = (0u64, want);
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        match price(middle)? {
            Some(paid) if !fits(&paid, available) => high = middle,
            _ => low = middle,
        }
    }
    let hold = held(price(low)?);
    Ok(Granted {
        units: low,
        hold,
        available,
    })
}

/// The usage item of `quantity` units of a session's service, from `start`.
fn usage_of(session: &Session, id: &EventId, start: Timestamp, quantity: u64) -> Usage {
    let (duration, bytes, count) = match session.service.unit() {
        Unit::Seconds => (Some(quantity), None, None),
        Unit::Bytes => (None, Some(quantity), None),
        Unit::Messages => (None, None, Some(quantity)),
    };
    Usage {
        id: id.clone(),
        msisdn: session.msisdn,
        service: session.service,
        direction: session.direction,
        other: session.other.clone(),
        start,
        duration,
        bytes,
        count,
        location: session.location,
        rating_group: session.rating_group,
    }
}

impl Session {
    /// A session of one request, which a one-off item is priced as.
    fn of(request: &SessionRequest) -> Session {
        Session {
            id: request.session.clone(),
            msisdn: request.msisdn,
            service: request.service,
            direction: request.direction,
            other: request.other.clone(),
            location: request.location,
            rating_group: request.rating_group,
            start: request.time,
            request: request.request,
            used: 0,
            granted: 0,
            final_units: false,
            hold: Hold::default(),
            expires: request.time,
        }
    }
}
