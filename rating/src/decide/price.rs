//! Prices a stretch of usage in money: which price of the plan or its options holds at each
//! moment, how the usage splits into spans by slot and time band, how increments round, and the
//! connect fee, cap and final rounding. Shared by rating and quoting, so a quote and a charge can
//! never disagree.

use crate::catalog::{
    AddonIdx, Catalog, DestIdx, Offer, PlanIdx, Rate, RateIdx, Slot, UsageKind, ANY_DEST,
};
use crate::decision::Span;
use crate::money::Rounding;
use crate::service::Service;
use crate::time::{Local, Timestamp};
use rust_decimal::{Decimal, RoundingStrategy};
use smallvec::SmallVec;

/// The offers a number rates with: its active options first (they override), then its plan.
/// Usage past this many units (what packages paid) has no price at its moment: the item cannot
/// be charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoPriceFrom(pub u64);

#[derive(Clone, Copy)]
pub struct Offers<'a> {
    pub plan: PlanIdx,
    pub addons: &'a [AddonIdx],
}

/// The price chosen at some moment: which offer (0 = plan, i+1 = addons[i]) and which price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub offer: u16,
    pub price: u32,
    pub rate: RateIdx,
}

/// Noise below this many decimals (from an inexact division somewhere in 28 digits) is folded
/// away before the final rounding, so that rounding up never adds a kopeck for 10^-28.
const NOISE_DECIMALS: u32 = 18;

struct Ranked {
    choice: Choice,
    weight: i32,
    band_start: u32,
}

fn offer_at<'c>(cat: &'c Catalog, offers: Offers, index: u16) -> &'c Offer {
    if (index as usize) < offers.addons.len() {
        &cat.addons[offers.addons[index as usize] as usize]
    } else {
        &cat.plans[offers.plan as usize]
    }
}

/// The winning price at a moment: among prices for the exact destination, else for any
/// destination; the highest weight, then the band that started latest that day, then options
/// before the plan, then the earlier price in the file. The order is total.
///
/// `at` is the instant; its local time is worked out only if a banded price is met.
pub fn select(
    cat: &Catalog,
    offers: Offers,
    kind: &UsageKind,
    dest: DestIdx,
    at: Timestamp,
) -> Option<Choice> {
    let mut local: Option<Local> = None;
    for d in [dest, ANY_DEST] {
        let mut best: Option<Ranked> = None;
        // Options come first in `offers` order, then the plan (its index is addons.len()).
        for oi in 0..=offers.addons.len() as u16 {
            let o = offer_at(cat, offers, oi);
            for &pi in o.candidates(kind.service, kind.direction, d) {
                let p = &o.prices[pi as usize];
                if p.location.is_some_and(|l| l != kind.location) {
                    continue;
                }
                if p.rating_group.is_some() && p.rating_group != kind.rating_group {
                    continue;
                }
                let band_start = match p.band {
                    None => 0,
                    Some(b) => {
                        let l = *local.get_or_insert_with(|| cat.calendar.local(at));
                        match cat.bands[b as usize].active(l.date, l.weekday, l.second_of_day) {
                            Some(s) => s,
                            None => continue,
                        }
                    }
                };
                let better = match &best {
                    None => true,
                    Some(b) => (p.weight, band_start) > (b.weight, b.band_start),
                };
                if better {
                    best = Some(Ranked {
                        choice: Choice {
                            offer: oi,
                            price: pi,
                            rate: p.rate,
                        },
                        weight: p.weight,
                        band_start,
                    });
                }
            }
        }
        if let Some(b) = best {
            return Some(b.choice);
        }
        if dest == ANY_DEST {
            break;
        }
    }
    None
}

/// The money part of one usage item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Priced {
    pub first: Choice,
    pub spans: SmallVec<[Span; 1]>,
    pub connect_fee: Decimal,
    /// Total after cap and final rounding.
    pub money: Decimal,
    pub capped: bool,
}

/// A usage item to price: start, kind, destination and total quantity.
pub struct Item<'a> {
    pub kind: UsageKind,
    pub dest: DestIdx,
    pub start: Timestamp,
    pub quantity: u64,
    pub offers: Offers<'a>,
}

pub struct Pricer<'c> {
    cat: &'c Catalog,
    banded: bool,
}

impl<'c> Pricer<'c> {
    pub fn new(cat: &'c Catalog, item: &Item) -> Pricer<'c> {
        let banded = item.kind.service == Service::Voice
            && (cat.plans[item.offers.plan as usize].banded
                || item
                    .offers
                    .addons
                    .iter()
                    .any(|&a| cat.addons[a as usize].banded));
        Pricer { cat, banded }
    }

    pub fn choose(&self, item: &Item, elapsed: u64) -> Option<Choice> {
        select(
            self.cat,
            item.offers,
            &item.kind,
            item.dest,
            item.start.plus(elapsed),
        )
    }

    /// Where, before `end`, the winning price stops being `cur` (voice only: a call is split when
    /// the price changes with the time band; SMS and data take the price at their start).
    fn change_before(&self, item: &Item, from: u64, end: u64, cur: Choice) -> u64 {
        if !self.splits(item) {
            return end;
        }
        let mut e = from;
        while e < end {
            let l = self.cat.calendar.local(item.start.plus(e));
            let edge = self
                .cat
                .band_edges
                .iter()
                .copied()
                .find(|&b| b > l.second_of_day)
                .unwrap_or(86_400);
            e += u64::from(edge - l.second_of_day);
            if e >= end {
                break;
            }
            if self.choose(item, e) != Some(cur) {
                return e;
            }
        }
        end
    }

    fn splits(&self, item: &Item) -> bool {
        self.banded && item.kind.service == Service::Voice
    }

    /// Prices usage from `from` (units already paid by packages) to the item's quantity.
    pub fn price(&self, item: &Item, first: Choice, from: u64) -> Result<Priced, NoPriceFrom> {
        let cat = self.cat;
        let mut spans: SmallVec<[Span; 1]> = SmallVec::new();
        let first_rate = &cat.rates[first.rate as usize];
        if from >= item.quantity {
            return Ok(Priced {
                first,
                spans,
                connect_fee: Decimal::ZERO,
                money: Decimal::ZERO,
                capped: false,
            });
        }
        let mut cur = if from == 0 {
            first
        } else {
            self.choose(item, from).ok_or(NoPriceFrom(from))?
        };
        let mut e = from;
        let mut total = Decimal::ZERO;
        let mut rounding: Rounding = cat.rates[cur.rate as usize].rounding;
        while e < item.quantity {
            let rate = &cat.rates[cur.rate as usize];
            if rate.rounding.decimals > rounding.decimals {
                rounding = rate.rounding;
            }
            let (si, next_slot) = rate.slot_at(e);
            let slot = &rate.slots[si];
            let slot_end = item.quantity.min(next_slot.unwrap_or(u64::MAX));
            let end = self.change_before(item, e, slot_end, cur);
            let len = end - e;
            let n = len.div_ceil(slot.increment);
            let units = n * slot.increment;
            let cost = span_cost(rate, slot, n, units);
            total += cost;
            spans.push(Span {
                rate: cur.rate,
                slot: si as u8,
                from: e,
                units,
                cost,
            });
            e += units;
            if e < item.quantity && self.splits(item) {
                // The band may change where this span ended; with no price there, the call goes
                // on at the price it had.
                cur = self.choose(item, e).unwrap_or(cur);
            }
        }
        let (connect_fee, money, capped) = settle(first_rate, total, rounding);
        Ok(Priced {
            first,
            spans,
            connect_fee,
            money,
            capped,
        })
    }
}

/// What `units` of usage cost at `rate` from its start, slot by slot, without its connect fee,
/// capped at its maximum cost and rounded as the rate rounds: the value of units a package paid
/// for, when they come back as money (a refund).
pub fn value_at_rate(rate: &Rate, units: u64) -> Decimal {
    if rate.slots.is_empty() {
        return Decimal::ZERO;
    }
    let mut total = Decimal::ZERO;
    let mut e = 0u64;
    while e < units {
        let (si, next_slot) = rate.slot_at(e);
        let slot = &rate.slots[si];
        let end = units.min(next_slot.unwrap_or(u64::MAX));
        let increments = (end - e).div_ceil(slot.increment);
        let billed = increments * slot.increment;
        total += span_cost(rate, slot, increments, billed);
        e += billed;
    }
    if let Some(max) = rate.max_cost {
        total = total.min(max);
    }
    rate.rounding
        .apply(total.round_dp_with_strategy(NOISE_DECIMALS, RoundingStrategy::MidpointAwayFromZero))
}

/// The cost of `increments` increments of a slot (`units` in all): per increment when the rate rounds
/// each, else exact.
#[inline]
fn span_cost(rate: &Rate, slot: &Slot, increments: u64, units: u64) -> Decimal {
    match rate.increment_decimals {
        None => match slot.increment_price {
            Some(p) => p * Decimal::from(increments),
            None => slot.price * Decimal::from(units) / Decimal::from(slot.per),
        },
        Some(g) => {
            let half = RoundingStrategy::MidpointAwayFromZero;
            let raw = (slot.price * Decimal::from(units) / Decimal::from(slot.per))
                .round_dp_with_strategy(g, half);
            let inc = (raw / Decimal::from(increments)).round_dp_with_strategy(g, half);
            (inc * Decimal::from(increments)).round_dp_with_strategy(g, half)
        }
    }
}

/// The money an item's spans come to: with the first rate's connect fee, capped at its maximum
/// cost, and rounded; (connect fee, money, whether capped).
#[inline]
fn settle(first_rate: &Rate, spans_total: Decimal, rounding: Rounding) -> (Decimal, Decimal, bool) {
    let connect_fee = first_rate.connect_fee;
    let mut total = spans_total + connect_fee;
    let mut capped = false;
    if let Some(max) = first_rate.max_cost {
        if crate::money::order(total, max).is_gt() {
            total = max;
            capped = true;
        }
    }
    let money = rounding.apply(
        total.round_dp_with_strategy(NOISE_DECIMALS, RoundingStrategy::MidpointAwayFromZero),
    );
    (connect_fee, money, capped)
}
