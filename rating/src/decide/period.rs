//! Periods by event time: what a number owes and receives when it joins a plan or an option, and
//! when event time passes a daily or monthly boundary (fees, renewal of packages, rollover of
//! remainders, expiry). Days and months are the catalog's local calendar, counted from the date
//! the number joined; a month that starts on the 31st ends on the last day of a shorter month.

use crate::catalog::{AddonIdx, Catalog, FeePeriod, PackageIdx, PackagePeriod};
use crate::decision::{Expiry, FeeCharge, FeeKind, FeeSource, Renewal};
use crate::event::Msisdn;
use crate::number::Offering;
use crate::state::NumberStatus;
use crate::state::{Account, Bucket, Number, Origin};
use crate::time::{add_months, start_of_day, Timestamp};
use chrono::{Datelike, Days};
use rust_decimal::Decimal;

/// "Nothing due": the last representable event time, so that it survives the binary form.
pub use crate::time::NEVER;

pub(crate) fn day_start(cat: &Catalog, number: &Number, day: u32) -> Timestamp {
    match number.anchor.checked_add_days(Days::new(u64::from(day))) {
        Some(d) => start_of_day(&cat.tz, d),
        None => NEVER,
    }
}

pub(crate) fn month_start(cat: &Catalog, number: &Number, month: u32) -> Timestamp {
    start_of_day(&cat.tz, add_months(number.anchor, month))
}

/// Index of the daily and monthly period that holds `at`.
pub(crate) fn indexes(cat: &Catalog, number: &Number, at: Timestamp) -> (u32, u32) {
    indexes_at(cat, number, at)
}

fn indexes_at(cat: &Catalog, number: &Number, at: Timestamp) -> (u32, u32) {
    let date = cat.calendar.local(at).date;
    let days = (date - number.anchor).num_days().max(0) as u32;
    let mut months = ((i64::from(date.year()) * 12 + i64::from(date.month0()))
        - (i64::from(number.anchor.year()) * 12 + i64::from(number.anchor.month0())))
    .max(0) as u32;
    while months > 0 && add_months(number.anchor, months) > date {
        months -= 1;
    }
    (days, months)
}

struct Offerings<'a> {
    plan: (FeeSource, &'a crate::catalog::Offer),
    addons: Vec<(FeeSource, &'a crate::catalog::Offer)>,
}

fn offerings<'a>(cat: &'a Catalog, number: &Number) -> Offerings<'a> {
    Offerings {
        plan: (
            FeeSource::Plan(number.plan),
            &cat.plans[number.plan as usize],
        ),
        addons: number
            .options
            .iter()
            .map(|&a| (FeeSource::Addon(a), &cat.addons[a as usize]))
            .collect(),
    }
}

impl<'a> Offerings<'a> {
    fn all(&self) -> impl Iterator<Item = &(FeeSource, &'a crate::catalog::Offer)> {
        std::iter::once(&self.plan).chain(self.addons.iter())
    }

    fn needs(&self, cat: &Catalog, fee: FeePeriod, pkg: PackagePeriod) -> bool {
        self.all().any(|(_, o)| {
            o.fees.iter().any(|f| f.period == fee)
                || o.packages
                    .iter()
                    .any(|&p| cat.packages[p as usize].period == pkg)
        })
    }
}

fn origin_of(source: FeeSource) -> Origin {
    match source {
        FeeSource::Plan(p) => Origin::Plan(p),
        FeeSource::Addon(a) => Origin::Addon(a),
        _ => unreachable!("only offers grant packages"),
    }
}

/// The plan or option behind a fee source that is an offer.
fn offer_of(cat: &Catalog, source: FeeSource) -> &crate::catalog::Offer {
    match source {
        FeeSource::Plan(p) => &cat.plans[p as usize],
        FeeSource::Addon(a) => &cat.addons[a as usize],
        _ => unreachable!("only offers are joined or taken up"),
    }
}

fn grant(
    cat: &Catalog,
    number: &mut Number,
    package: PackageIdx,
    origin: Origin,
    from: Timestamp,
) -> Bucket {
    let p = &cat.packages[package as usize];
    let valid_until = match p.period {
        PackagePeriod::Daily => day_start(cat, number, number.days + 1),
        PackagePeriod::Monthly => month_start(cat, number, number.months + 1),
        PackagePeriod::Once => from.plus(u64::from(p.validity_days) * 86_400),
    };
    let id = number.next_bucket;
    number.next_bucket += 1;
    Bucket {
        id,
        package,
        origin,
        total: p.amount,
        remaining: p.amount,
        valid_from: from,
        valid_until,
    }
}

/// The earliest event time at which this number has periodic work.
pub(crate) fn next_due(cat: &Catalog, number: &Number) -> Timestamp {
    let mut due = number
        .buckets
        .iter()
        .map(|b| b.valid_until)
        .min()
        .unwrap_or(NEVER);
    let (need_d, need_m) = needs(cat, number);
    if need_d {
        due = due.min(day_start(cat, number, number.days + 1));
    }
    if need_m {
        due = due.min(month_start(cat, number, number.months + 1));
    }
    due
}

/// The daily fee a number pays instead of its offers' while it is not active, if it is not.
pub(crate) fn barred_fee(cat: &Catalog, number: &Number) -> Option<(FeeSource, Decimal)> {
    match number.status {
        NumberStatus::Active => None,
        NumberStatus::Suspended { .. } => Some((
            FeeSource::Suspension,
            cat.lifecycle.suspension_fee.unwrap_or_default(),
        )),
        NumberStatus::Lost { .. } => Some((FeeSource::LostSim, cat.lifecycle.lost_sim_fee)),
    }
}

/// Whether the number has work at each daily and each monthly boundary.
fn needs(cat: &Catalog, number: &Number) -> (bool, bool) {
    match barred_fee(cat, number) {
        Some((_, fee)) => (!fee.is_zero(), false),
        None => {
            let o = offerings(cat, number);
            (
                o.needs(cat, FeePeriod::Daily, PackagePeriod::Daily),
                o.needs(cat, FeePeriod::Monthly, PackagePeriod::Monthly),
            )
        }
    }
}

/// Whether `package` is still offered to the number by its plan or an option.
fn offered(cat: &Catalog, number: &Number, package: PackageIdx) -> bool {
    cat.plans[number.plan as usize].packages.contains(&package)
        || number
            .options
            .iter()
            .any(|&a| cat.addons[a as usize].packages.contains(&package))
}

/// What joining an offer costs and grants at `time`: connection fee, the first period's fees, and
/// the packages. `number` receives the buckets; the fees are returned. An offer whose period
/// fees `available` cannot pay, and whose catalog limits what is unpaid, takes its connection
/// fee only: the number is unpaid for it ([`Number::unpaid`]).
fn join_offer(
    cat: &Catalog,
    number: &mut Number,
    source: FeeSource,
    time: Timestamp,
    available: &mut Decimal,
    (fees, granted): (&mut Vec<FeeCharge>, &mut Vec<Bucket>),
) {
    let o = offer_of(cat, source);
    if !o.connection_fee.is_zero() {
        *available -= o.connection_fee;
        fees.push(FeeCharge {
            msisdn: number.msisdn,
            source,
            kind: FeeKind::Connection,
            at: time,
            amount: o.connection_fee,
        });
    }
    let period_fees: Vec<FeeCharge> = period_fees(o, (source, number.msisdn), None, time).collect();
    if !pays(o, &period_fees, available) {
        number.unpaid.push(offering_of(source));
        return;
    }
    fees.extend(period_fees);
    for &p in &o.packages {
        let b = grant(cat, number, p, origin_of(source), time);
        granted.push(b);
    }
}

/// An offer's fees of `period` (of every period: `None`) as charges to `msisdn` from `at`;
/// fees of nothing left out.
fn period_fees<'a>(
    offer: &'a crate::catalog::Offer,
    (source, msisdn): (FeeSource, Msisdn),
    period: Option<FeePeriod>,
    at: Timestamp,
) -> impl Iterator<Item = FeeCharge> + 'a {
    (offer.fees.iter())
        .filter(move |f| period.is_none_or(|p| f.period == p) && !f.amount.is_zero())
        .map(move |f| FeeCharge {
            msisdn,
            source,
            kind: match f.period {
                FeePeriod::Daily => FeeKind::Daily,
                FeePeriod::Monthly => FeeKind::Monthly,
            },
            at,
            amount: f.amount,
        })
}

/// Whether an offer's `fees` are taken: always, unless its catalog limits what is unpaid and
/// `available` cannot pay them. What is taken comes off `available`.
fn pays(offer: &crate::catalog::Offer, fees: &[FeeCharge], available: &mut Decimal) -> bool {
    let owed: Decimal = fees.iter().map(|f| f.amount).sum();
    if offer.limits_unpaid() && owed > *available {
        return false;
    }
    *available -= owed;
    true
}

/// The plan or option a fee source that is an offer names.
pub(crate) fn offering_of(source: FeeSource) -> Offering {
    match source {
        FeeSource::Plan(p) => Offering::Plan(p),
        FeeSource::Addon(a) => Offering::Addon(a),
        _ => unreachable!("only offers go unpaid"),
    }
}

fn source_of(offering: Offering) -> FeeSource {
    match offering {
        Offering::Plan(p) => FeeSource::Plan(p),
        Offering::Addon(a) => FeeSource::Addon(a),
    }
}

/// A number joining the system at `at` on `plan` with `addons`, its account able to spend
/// `available` (less what the number takes).
pub(crate) fn join(
    cat: &Catalog,
    msisdn: Msisdn,
    (plan, addons): (crate::catalog::PlanIdx, &[AddonIdx]),
    at: Timestamp,
    available: &mut Decimal,
) -> (Number, Vec<FeeCharge>) {
    let mut n = Number {
        msisdn,
        plan,
        options: addons.iter().copied().collect(),
        buckets: Vec::new(),
        anchor: cat.calendar.local(at).date,
        days: 0,
        months: 0,
        next_due: NEVER,
        next_bucket: 0,
        status: NumberStatus::Active,
        limit: None,
        group: None,
        joined: at,
        unpaid: smallvec::SmallVec::new(),
    };
    let mut fees = Vec::new();
    let mut granted = Vec::new();
    let sources = std::iter::once(FeeSource::Plan(plan));
    for source in sources.chain(addons.iter().map(|&a| FeeSource::Addon(a))) {
        join_offer(
            cat,
            &mut n,
            source,
            at,
            available,
            (&mut fees, &mut granted),
        );
    }
    n.buckets = granted;
    n.next_due = next_due(cat, &n);
    (n, fees)
}

/// What activating an option on `number` at `at` charges and grants. Returns the number as it will be.
pub(crate) fn activate(
    cat: &Catalog,
    number: &Number,
    addon: AddonIdx,
    at: Timestamp,
) -> (Number, Vec<FeeCharge>, Vec<Bucket>) {
    let mut work = number.clone();
    let (days, months) = indexes_at(cat, &work, at);
    work.days = work.days.max(days);
    work.months = work.months.max(months);
    work.options.push(addon);
    let mut fees = Vec::new();
    let mut granted = Vec::new();
    // The option is refused before this if it limits what is unpaid and the money cannot pay
    // it: here it is always paid.
    let mut unlimited = Decimal::MAX;
    join_offer(
        cat,
        &mut work,
        FeeSource::Addon(addon),
        at,
        &mut unlimited,
        (&mut fees, &mut granted),
    );
    work.buckets.extend(granted.iter().cloned());
    work.next_due = next_due(cat, &work);
    (work, fees, granted)
}

fn expire_until(
    work: &mut Number,
    cat: &Catalog,
    at: Timestamp,
    boundary: Option<(PackagePeriod, Timestamp)>,
    renewal: &mut Renewal,
) {
    let mut i = 0;
    while i < work.buckets.len() {
        let b = &work.buckets[i];
        if b.valid_until > at {
            i += 1;
            continue;
        }
        let b = work.buckets.remove(i);
        let p = &cat.packages[b.package as usize];
        let mut lost = b.remaining;
        // A kept bucket of a plan the number left does not roll over.
        if let (Some(ro), Some((period, _)), false, true) = (
            &p.rollover,
            boundary,
            b.origin == Origin::Rollover,
            offered(cat, work, b.package),
        ) {
            if p.period == period && b.remaining > 0 {
                let carried = b.remaining.min(ro.max);
                lost -= carried;
                let until = match period {
                    PackagePeriod::Daily => day_start(cat, work, work.days + ro.periods),
                    _ => month_start(cat, work, work.months + ro.periods),
                };
                if carried > 0 {
                    let id = work.next_bucket;
                    work.next_bucket += 1;
                    let nb = Bucket {
                        id,
                        package: b.package,
                        origin: Origin::Rollover,
                        total: carried,
                        remaining: carried,
                        valid_from: b.valid_until,
                        valid_until: until,
                    };
                    renewal.granted.push(nb.clone());
                    work.buckets.insert(i, nb);
                    i += 1;
                }
            }
        }
        if renewal.granted.iter().any(|g| g.id == b.id) {
            // Granted and expired within this renewal: it never reaches the state.
            renewal.granted.retain(|g| g.id != b.id);
        } else {
            renewal.expired.push(Expiry {
                bucket: b.id,
                at: b.valid_until,
                lost,
            });
        }
    }
}

/// Periodic work due on the account's numbers up to event time `at`, in time order per number.
pub(crate) fn renew(cat: &Catalog, acct: &Account, at: Timestamp) -> Vec<Renewal> {
    let mut available = acct.balance + acct.credit_limit;
    (acct.numbers.iter())
        .filter(|n| n.next_due <= at)
        .map(|n| renew_number(cat, n, at, &mut available))
        .collect()
}

/// The periodic work due on one number up to `time`: each daily and monthly boundary passed, in
/// time order, with the buckets that expire at it, and its fees and packages.
fn renew_number(
    cat: &Catalog,
    number: &Number,
    time: Timestamp,
    available: &mut Decimal,
) -> Renewal {
    let mut w = number.clone();
    let o = offerings(cat, number);
    let barred = barred_fee(cat, number);
    let (need_d, need_m) = needs(cat, number);
    let (target_d, target_m) = indexes_at(cat, number, time);
    let mut r = Renewal {
        msisdn: number.msisdn,
        days: 0,
        months: 0,
        next_due: NEVER,
        next_bucket: 0,
        fees: vec![],
        expired: vec![],
        granted: vec![],
        unpaid: smallvec::SmallVec::new(),
    };
    if !need_d {
        w.days = w.days.max(target_d);
    }
    if !need_m {
        w.months = w.months.max(target_m);
    }
    loop {
        let next_m = (w.months < target_m).then(|| month_start(cat, &w, w.months + 1));
        let next_d = (w.days < target_d).then(|| day_start(cat, &w, w.days + 1));
        let (period, at) = match (next_m, next_d) {
            (None, None) => break,
            (Some(m), Some(d)) if m <= d => (PackagePeriod::Monthly, m),
            (Some(m), None) => (PackagePeriod::Monthly, m),
            (_, Some(d)) => (PackagePeriod::Daily, d),
        };
        match period {
            PackagePeriod::Monthly => w.months += 1,
            _ => w.days += 1,
        }
        expire_until(&mut w, cat, at, Some((period, at)), &mut r);
        let boundary = (period, at);
        open_period(cat, &mut w, (&o, barred), boundary, available, &mut r);
    }
    expire_until(&mut w, cat, time, None, &mut r);
    r.unpaid = w.unpaid.clone();
    r.days = w.days;
    r.months = w.months;
    r.next_bucket = w.next_bucket;
    r.next_due = next_due(cat, &w);
    debug_assert!(
        r.next_due > time || r.next_due == NEVER,
        "renewal must leave nothing due at {time}"
    );
    r
}

/// A daily or monthly period of the number begins at `at`: its offers' fees and packages, or,
/// barred, the status's own daily fee and no new packages.
fn open_period(
    cat: &Catalog,
    work: &mut Number,
    (offerings, barred): (&Offerings, Option<(FeeSource, Decimal)>),
    (period, at): (PackagePeriod, Timestamp),
    available: &mut Decimal,
    renewal: &mut Renewal,
) {
    let (fee_period, kind) = match period {
        PackagePeriod::Monthly => (FeePeriod::Monthly, FeeKind::Monthly),
        _ => (FeePeriod::Daily, FeeKind::Daily),
    };
    let msisdn = work.msisdn;
    if let Some((source, amount)) = barred {
        if period == PackagePeriod::Daily && !amount.is_zero() {
            renewal.fees.push(FeeCharge {
                msisdn,
                source,
                kind,
                at,
                amount,
            });
        }
        return;
    }
    let sources: Vec<(FeeSource, &crate::catalog::Offer)> = offerings.all().copied().collect();
    for (source, offer) in sources {
        let fees: Vec<FeeCharge> =
            period_fees(offer, (source, msisdn), Some(fee_period), at).collect();
        // An unpaid offer stays unpaid, without packages, until a period's fee is paid.
        let offering = offering_of(source);
        let unpaid = work.unpaid.contains(&offering);
        if (fees.is_empty() && unpaid) || !pays(offer, &fees, available) {
            if !unpaid {
                work.unpaid.push(offering);
            }
            continue;
        }
        work.unpaid.retain(|u| *u != offering);
        renewal.fees.extend(fees);
        for &p in offer
            .packages
            .iter()
            .filter(|&&p| cat.packages[p as usize].period == period)
        {
            let b = grant(cat, work, p, origin_of(source), at);
            renewal.granted.push(b.clone());
            work.buckets.push(b);
        }
    }
}

/// Joining an offer (an option, a plan, or back to them on resuming) for `fees` is refused when
/// one of the offers the fees are of limits what is unpaid and the money the account may spend
/// cannot pay them all.
pub(crate) fn check_funds(
    cat: &Catalog,
    account: &Account,
    fees: &[FeeCharge],
) -> Result<(), crate::decision::Rejection> {
    let needed: Decimal = fees.iter().map(|f| f.amount).sum();
    let available = account.balance + account.credit_limit;
    let limited = (fees.iter()).any(|f| {
        matches!(f.source, FeeSource::Plan(_) | FeeSource::Addon(_))
            && offer_of(cat, f.source).limits_unpaid()
    });
    if limited && needed > available {
        return Err(crate::decision::Rejection::InsufficientFunds { needed, available });
    }
    Ok(())
}

/// What a payment settles of the account's unpaid fees (`account` as the payment left it, able
/// to spend `available`): for each active number, its plan then its options, each whose fee
/// for the rest of its period (a monthly fee prorated as the catalog says, a daily fee whole)
/// the money covers is paid, and its packages for the rest of the period granted. A renewal of
/// each number settled.
pub(crate) fn settle(
    cat: &Catalog,
    account: &Account,
    time: Timestamp,
    mut available: Decimal,
) -> Vec<Renewal> {
    let mut out = Vec::new();
    for number in (account.numbers.iter()).filter(|n| n.is_unpaid() && n.status.is_active()) {
        let mut work = number.clone();
        let (mut fees, mut granted) = (Vec::new(), Vec::new());
        for offering in number.unpaid.iter().copied() {
            let source = source_of(offering);
            let mut trial = work.clone();
            let (mut owed, given) = take_up(cat, &mut trial, &[source], time);
            let offer = offer_of(cat, source);
            let daily = Some(FeePeriod::Daily);
            owed.extend(period_fees(offer, (source, number.msisdn), daily, time));
            let total: Decimal = owed.iter().map(|f| f.amount).sum();
            if total > available {
                continue;
            }
            available -= total;
            trial.unpaid.retain(|u| *u != offering);
            work = trial;
            fees.extend(owed);
            granted.extend(given);
        }
        if work.unpaid.len() < number.unpaid.len() {
            out.push(Renewal {
                msisdn: number.msisdn,
                days: work.days,
                months: work.months,
                next_due: work.next_due,
                next_bucket: work.next_bucket,
                fees,
                expired: Vec::new(),
                granted,
                unpaid: work.unpaid.clone(),
            });
        }
    }
    out
}

/// The part of the number's current monthly period left at `at`, as (days left, days in it),
/// both counting local days; `at`'s day is left.
fn period_left(cat: &Catalog, number: &Number, at: Timestamp) -> (u32, u32) {
    let today = cat.calendar.local(at).date;
    let start = add_months(number.anchor, number.months);
    let end = add_months(number.anchor, number.months + 1);
    let total = (end - start).num_days().max(1) as u32;
    let left = (end - today).num_days().clamp(0, i64::from(total)) as u32;
    (left, total)
}

/// What a number owes and receives from `time` to the end of its current periods when it takes up
/// `plan` (a change of plan) or comes back to it (resuming): the plan's and options' monthly
/// fees and monthly packages for the rest of the month (prorated by days if the catalog says
/// so), its daily and one-off packages whole. Daily fees start at the next day. `number` is the
/// number as it will be (plan, status); it receives the buckets and its counters move to `time`.
pub(crate) fn take_up(
    cat: &Catalog,
    number: &mut Number,
    sources: &[FeeSource],
    time: Timestamp,
) -> (Vec<FeeCharge>, Vec<Bucket>) {
    let (days, months) = indexes_at(cat, number, time);
    number.days = number.days.max(days);
    number.months = number.months.max(months);
    let (left, total) = if cat.lifecycle.prorate {
        period_left(cat, number, time)
    } else {
        (1, 1)
    };
    let mut fees = Vec::new();
    let mut granted = Vec::new();
    for &source in sources {
        let o = offer_of(cat, source);
        for f in o.fees.iter().filter(|f| f.period == FeePeriod::Monthly) {
            let amount = crate::money::Rounding::new(cat.rounding.method, cat.decimals)
                .apply(f.amount * Decimal::from(left) / Decimal::from(total));
            if !amount.is_zero() {
                fees.push(FeeCharge {
                    msisdn: number.msisdn,
                    source,
                    kind: FeeKind::Monthly,
                    at: time,
                    amount,
                });
            }
        }
        for &p in &o.packages {
            let mut b = grant(cat, number, p, origin_of(source), time);
            if cat.packages[p as usize].period == PackagePeriod::Monthly {
                let units = (u128::from(b.total) * u128::from(left) / u128::from(total)) as u64;
                b.total = units;
                b.remaining = units;
            }
            if b.total > 0 {
                granted.push(b);
            }
        }
    }
    number.buckets.extend(granted.iter().cloned());
    number.next_due = next_due(cat, number);
    (fees, granted)
}
