//! The price of one usage item as CGRateS computes it (`../shared/cgrates/README.md` has the
//! algorithm step by step): the rating profile and its activation, the destination by longest
//! prefix among those the plan rates, spans split at midnight, activations, timing changes and
//! slot starts, each span rounded up to whole increments and priced per increment at the global
//! decimals, the connect fee once, the `*free` cap, and the final rounding.

use super::tariff::{
    Activation, Interval, Method, Plan, Tariff, ANY, DAY, MAX_FALLBACK_DEPTH, MAX_USAGE, SECOND,
};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, Timelike, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

/// A call can be split at most this often (a month-long session splits ~100 times).
const MAX_SPANS: usize = 100_000;

/// A usage item in CGRateS's terms.
#[derive(Debug, Clone)]
pub struct CgrRequest<'a> {
    pub tenant: &'a str,
    pub category: &'a str,
    pub subject: &'a str,
    /// The dialled number, matched literally; "" or "*any" matches only `*any` destinations.
    pub destination: &'a str,
    /// Its offset is the call's own time zone: timings are read on that wall clock.
    pub start: DateTime<FixedOffset>,
    /// Nanoseconds for voice, messages for SMS/MMS, bytes for data.
    pub usage: u64,
    /// Voice is split by time (midnight, timings, activations); SMS and data are not.
    pub voice: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error("no rating profile for {tenant}:{category}:{subject} (nor {tenant}:{category}:*any)")]
    NoProfile {
        tenant: String,
        category: String,
        subject: String,
    },
    #[error("no rating plan of {profile} is active at {at}")]
    NotActive { profile: String, at: String },
    #[error("destination {destination:?} is not authorised by {profile} at {at}")]
    NotAuthorised {
        destination: String,
        profile: String,
        at: String,
    },
    #[error("no rate interval of plan {plan} for {destination} is active at {at}")]
    NoInterval {
        plan: String,
        destination: String,
        at: String,
    },
    #[error("usage {0} is above the limit {MAX_USAGE}")]
    TooLarge(u64),
    #[error("the call splits into more than {MAX_SPANS} spans")]
    TooManySpans,
}

/// One span of the breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgrSpan {
    pub start: String,
    /// Usage elapsed since the item began when this span starts.
    pub elapsed: u64,
    /// Billed usage: a whole number of increments.
    pub usage: u64,
    pub subject: String,
    pub rating_plan: String,
    pub destination: String,
    pub prefix: String,
    pub destination_rates: String,
    pub timing: String,
    #[serde(with = "crate::money::amount")]
    pub weight: Decimal,
    pub rate: String,
    pub slot: usize,
    #[serde(with = "crate::money::amount")]
    pub price: Decimal,
    pub rate_unit: u64,
    pub rate_increment: u64,
    pub increments: u64,
    #[serde(with = "crate::money::amount")]
    pub increment_cost: Decimal,
    #[serde(with = "crate::money::amount")]
    pub cost: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgrRounding {
    pub method: Method,
    pub decimals: u32,
    pub global_decimals: u32,
}

/// The price and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgrQuote {
    pub usage: u64,
    pub billed_usage: u64,
    #[serde(with = "crate::money::amount")]
    pub connect_fee: Decimal,
    pub spans: Vec<CgrSpan>,
    /// Connect fee plus spans, after the `*free` cap, before the final rounding.
    #[serde(with = "crate::money::amount")]
    pub total: Decimal,
    /// The cap applied, if the total reached it.
    #[serde(with = "crate::money::opt_amount")]
    pub max_cost: Option<Decimal>,
    pub rounding: CgrRounding,
    #[serde(with = "crate::money::amount")]
    pub cost: Decimal,
}

/// What rates a stretch of the item: the plan, the destination matched and its intervals.
struct Resolved<'t> {
    subject: String,
    plan: &'t Plan,
    destination: String,
    prefix: String,
    intervals: &'t [Interval],
}

/// The spans priced so far: the first interval with its connect fee, and each span's rounding.
#[derive(Default)]
struct Priced<'t> {
    spans: Vec<CgrSpan>,
    first: Option<(&'t Interval, Decimal)>,
    roundings: Vec<(Method, u32)>,
}

fn offset(nanoseconds: u64) -> Duration {
    Duration::nanoseconds(nanoseconds as i64)
}

/// The moment `elapsed` into the usage, as CGRateS prints it; SMS and data stay at their start.
fn moment(req: &CgrRequest, elapsed: u64) -> String {
    (req.start + offset(if req.voice { elapsed } else { 0 }))
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn local_parts(local: NaiveDateTime) -> (NaiveDate, u64) {
    let tod = u64::from(local.num_seconds_from_midnight()) * SECOND
        + u64::from(local.nanosecond().min(999_999_999));
    (local.date(), tod)
}

impl Tariff {
    fn active(&self, iv: &Interval, date: NaiveDate, tod: u64) -> bool {
        self.timings[iv.timing as usize].active(date, tod)
    }

    /// Of the intervals active now, the highest weight, then the timing that started latest.
    fn pick<'a>(&self, ivs: &'a [Interval], date: NaiveDate, tod: u64) -> Option<&'a Interval> {
        let mut best: Option<&Interval> = None;
        for iv in ivs.iter().filter(|iv| self.active(iv, date, tod)) {
            let key = |i: &Interval| (i.weight, self.timings[i.timing as usize].start);
            if best.is_none_or(|b| key(iv) > key(b)) {
                best = Some(iv);
            }
        }
        best
    }

    /// The next moment of the day (nanoseconds since midnight) at which the span must end:
    /// midnight, the end of the current interval, or the start of another interval of equal or
    /// higher weight.
    fn next_change(&self, ivs: &[Interval], cur: &Interval, date: NaiveDate, tod: u64) -> u64 {
        let mut next = DAY;
        let ct = &self.timings[cur.timing as usize];
        if ct.end > tod {
            next = next.min(ct.end);
        }
        for iv in ivs {
            let t = &self.timings[iv.timing as usize];
            if !std::ptr::eq(iv, cur) && iv.weight >= cur.weight && t.start > tod && t.on_day(date)
            {
                next = next.min(t.start);
            }
        }
        next
    }

    /// Longest prefix first; at each length the destinations the plan rates with an interval
    /// active now, the highest weight winning; else the plan's `*any`.
    fn match_destination<'t>(
        &'t self,
        plan: &'t Plan,
        number: &str,
        date: NaiveDate,
        tod: u64,
    ) -> Option<(String, String, &'t [Interval])> {
        if !(number.is_empty() || number == "*any") {
            for len in (1..=number.len()).rev() {
                if !number.is_char_boundary(len) {
                    continue;
                }
                let p = &number[..len];
                let Some(ds) = self.by_prefix.get(p) else {
                    continue;
                };
                let mut best: Option<(Decimal, u32, &Vec<Interval>)> = None;
                for &d in ds {
                    let Some(ivs) = plan.by_dest.get(&d) else {
                        continue;
                    };
                    if !ivs.iter().any(|iv| self.active(iv, date, tod)) {
                        continue;
                    }
                    let w = ivs.iter().map(|iv| iv.weight).max().unwrap_or_default();
                    if best.as_ref().is_none_or(|b| w > b.0) {
                        best = Some((w, d, ivs));
                    }
                }
                if let Some((_, d, ivs)) = best {
                    return Some((self.destinations[d as usize].clone(), p.to_string(), ivs));
                }
            }
        }
        plan.by_dest
            .get(&ANY)
            .map(|ivs| ("*any".to_string(), "*any".to_string(), ivs.as_slice()))
    }

    /// The activation of `acts` in force at `at`.
    fn in_force(acts: &[Activation], at: DateTime<Utc>) -> Option<usize> {
        acts.partition_point(|a| a.at <= at).checked_sub(1)
    }

    #[allow(clippy::too_many_arguments)]
    fn resolve<'t>(
        &'t self,
        req: &CgrRequest,
        subject: &str,
        act: &'t Activation,
        at: DateTime<Utc>,
        date: NaiveDate,
        tod: u64,
        depth: usize,
    ) -> Option<Resolved<'t>> {
        let plan = &self.plans[act.plan as usize];
        if let Some((destination, prefix, intervals)) =
            self.match_destination(plan, req.destination, date, tod)
        {
            return Some(Resolved {
                subject: subject.to_string(),
                plan,
                destination,
                prefix,
                intervals,
            });
        }
        if depth >= MAX_FALLBACK_DEPTH {
            return None;
        }
        for fb in &act.fallback {
            let key = (req.tenant.to_string(), req.category.to_string(), fb.clone());
            let Some(acts) = self.profiles.get(&key) else {
                continue;
            };
            let Some(i) = Self::in_force(acts, at) else {
                continue;
            };
            if let Some(r) = self.resolve(req, fb, &acts[i], at, date, tod, depth + 1) {
                return Some(r);
            }
        }
        None
    }

    /// Prices one usage item. Pure: the same tariff and request give the same quote.
    pub fn price(&self, req: &CgrRequest) -> Result<CgrQuote, PriceError> {
        if req.usage > MAX_USAGE {
            return Err(PriceError::TooLarge(req.usage));
        }
        let (subject, acts) = self.profile_of(req)?;
        let priced = self.spans(req, subject, acts)?;
        Ok(self.quote(req, priced))
    }

    /// The subject whose profile prices the request, and its activations. Subject `*any` serves
    /// only subjects that have no profile of their own.
    fn profile_of<'a>(
        &'a self,
        req: &CgrRequest<'a>,
    ) -> Result<(&'a str, &'a [Activation]), PriceError> {
        let key = |subject: &str| {
            (
                req.tenant.to_string(),
                req.category.to_string(),
                subject.to_string(),
            )
        };
        if let Some(acts) = self.profiles.get(&key(req.subject)) {
            return Ok((req.subject, acts));
        }
        match self.profiles.get(&key("*any")) {
            Some(acts) => Ok(("*any", acts)),
            None => Err(PriceError::NoProfile {
                tenant: req.tenant.into(),
                category: req.category.into(),
                subject: req.subject.into(),
            }),
        }
    }

    /// The usage cut into spans, each within one rate slot, one interval and one activation.
    fn spans<'a>(
        &'a self,
        req: &CgrRequest,
        subject: &str,
        acts: &'a [Activation],
    ) -> Result<Priced<'a>, PriceError> {
        let profile = format!("{}:{}:{}", req.tenant, req.category, subject);
        let start_utc = req.start.with_timezone(&Utc);
        let start_local = req.start.naive_local();
        let mut priced = Priced::default();
        let mut elapsed = 0u64;
        let mut current: Option<(usize, Resolved)> = None;
        loop {
            // Only voice moves through time; SMS and data are rated at their start.
            let moved = if req.voice { elapsed } else { 0 };
            let at = start_utc + offset(moved);
            let (date, tod) = local_parts(start_local + offset(moved));
            let ai = Self::in_force(acts, at).ok_or_else(|| PriceError::NotActive {
                profile: profile.clone(),
                at: moment(req, elapsed),
            })?;
            if current.as_ref().is_none_or(|(i, _)| *i != ai) {
                let r = self
                    .resolve(req, subject, &acts[ai], at, date, tod, 1)
                    .ok_or_else(|| PriceError::NotAuthorised {
                        destination: req.destination.into(),
                        profile: profile.clone(),
                        at: moment(req, elapsed),
                    })?;
                current = Some((ai, r));
            }
            let r = &current.as_ref().expect("resolved above").1;
            let cur = self
                .pick(r.intervals, date, tod)
                .ok_or_else(|| PriceError::NoInterval {
                    plan: r.plan.id.clone(),
                    destination: r.destination.clone(),
                    at: moment(req, elapsed),
                })?;
            let rate = &self.rates[cur.rate as usize];
            priced.first.get_or_insert((cur, rate.slots[0].connect_fee));
            if elapsed >= req.usage {
                return Ok(priced);
            }
            let (si, next_slot) = rate.slot_at(elapsed);
            let mut end = req.usage.min(next_slot.unwrap_or(u64::MAX));
            if req.voice {
                let change = self.next_change(r.intervals, cur, date, tod);
                end = end.min(elapsed + (change - tod));
                if let Some(next_act) = acts.get(ai + 1) {
                    let until = (next_act.at - start_utc)
                        .num_nanoseconds()
                        .unwrap_or(i64::MAX);
                    if until > elapsed as i64 {
                        end = end.min(until as u64);
                    }
                }
            }
            debug_assert!(end > elapsed, "a span always covers some usage");
            let span = self.span(req, r, cur, si, elapsed, end);
            // A span rounded up to its increment swallows what it now covers.
            elapsed += span.usage;
            priced.spans.push(span);
            priced.roundings.push((cur.method, cur.decimals));
            if priced.spans.len() > MAX_SPANS {
                return Err(PriceError::TooManySpans);
            }
        }
    }

    /// One span, from `elapsed` to `end` rounded up to the slot's increment, and its cost.
    fn span(
        &self,
        req: &CgrRequest,
        resolved: &Resolved,
        cur: &Interval,
        si: usize,
        elapsed: u64,
        end: u64,
    ) -> CgrSpan {
        let rate = &self.rates[cur.rate as usize];
        let slot = &rate.slots[si];
        let g = self.rounding_decimals;
        let n = (end - elapsed).div_ceil(slot.increment);
        let usage = n * slot.increment;
        let half = Method::Middle;
        let raw = half.round(
            Decimal::from(usage) * slot.rate / Decimal::from(slot.unit),
            g,
        );
        let increment_cost = half.round(raw / Decimal::from(n), g);
        let cost = half.round(increment_cost * Decimal::from(n), g);
        CgrSpan {
            start: moment(req, elapsed),
            elapsed,
            usage,
            subject: resolved.subject.clone(),
            rating_plan: resolved.plan.id.clone(),
            destination: resolved.destination.clone(),
            prefix: resolved.prefix.clone(),
            destination_rates: cur.destination_rates.clone(),
            timing: self.timings[cur.timing as usize].id.clone(),
            weight: cur.weight,
            rate: rate.id.clone(),
            slot: si,
            price: slot.rate,
            rate_unit: slot.unit,
            rate_increment: slot.increment,
            increments: n,
            increment_cost,
            cost,
        }
    }

    /// The quote of the spans: the connect fee, the max cost, the final rounding.
    fn quote(&self, req: &CgrRequest, priced: Priced) -> CgrQuote {
        let Priced {
            spans,
            first,
            roundings,
        } = priced;
        let (first, connect_fee) = first.expect("the loop runs at least once");
        let mut total = connect_fee + spans.iter().map(|s| s.cost).sum::<Decimal>();
        let mut max_cost = None;
        if first.free && first.max_cost > Decimal::ZERO && total > first.max_cost {
            total = first.max_cost;
            max_cost = Some(first.max_cost);
        }
        // The final rounding is that of the span with the most decimals (the first on a tie).
        let (method, decimals) =
            roundings
                .iter()
                .copied()
                .fold((first.method, first.decimals), |best, x| {
                    if x.1 > best.1 {
                        x
                    } else {
                        best
                    }
                });
        let cost = method.round(total, decimals);
        CgrQuote {
            usage: req.usage,
            billed_usage: spans.iter().map(|s| s.usage).sum(),
            connect_fee,
            spans,
            total,
            max_cost,
            rounding: CgrRounding {
                method,
                decimals,
                global_decimals: self.rounding_decimals,
            },
            cost,
        }
    }
}
