//! Quote: the price of a hypothetical usage item on a plan, touching no state. What the self-care
//! portal shows ("a call to this number now costs …") and what audits compare with charges.

use crate::catalog::Catalog;
use crate::decision::{Rejection, Span};
use crate::event::{Msisdn, Usage};
use crate::price::{Item, Offers, Pricer};
use crate::rate::{destination, usage_kind};
use crate::service::{Direction, Service, Zone};
use crate::time::Timestamp;
use compact_str::CompactString;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    pub plan: CompactString,
    #[serde(default)]
    pub options: Vec<CompactString>,
    pub service: Service,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub other: Option<CompactString>,
    pub start: Timestamp,
    /// Seconds, messages or bytes, as the service counts.
    pub quantity: u64,
    #[serde(default)]
    pub location: Zone,
    #[serde(default)]
    pub rating_group: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub rate: String,
    pub destination: Option<String>,
    #[serde(with = "crate::money::amount")]
    pub connect_fee: Decimal,
    #[serde(with = "crate::money::amount")]
    pub money: Decimal,
    pub capped: bool,
    pub spans: SmallVec<[Span; 1]>,
}

pub fn quote(cat: &Catalog, request: &QuoteRequest) -> Result<Quote, Rejection> {
    let plan = cat
        .plan(&request.plan)
        .ok_or_else(|| Rejection::UnknownPlan(request.plan.clone()))?;
    let addons = request
        .options
        .iter()
        .map(|o| {
            cat.addon(o)
                .ok_or_else(|| Rejection::UnknownOption(o.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (duration, bytes, count) = match request.service {
        Service::Voice => (Some(request.quantity), None, None),
        Service::Data => (None, Some(request.quantity), None),
        _ => (None, None, Some(request.quantity)),
    };
    let u = Usage {
        id: "quote".into(),
        msisdn: Msisdn(1),
        service: request.service,
        direction: request.direction,
        other: request.other.clone(),
        start: request.start,
        duration,
        bytes,
        count,
        location: request.location,
        rating_group: request.rating_group,
    };
    let quantity = u.quantity()?;
    let dest = destination(cat, request.service, request.other.as_ref())?;
    let item = Item {
        kind: usage_kind(cat, &u, dest),
        dest,
        start: request.start,
        quantity,
        offers: Offers {
            plan,
            addons: &addons,
        },
    };
    let pricer = Pricer::new(cat, &item);
    let no_rate = || Rejection::NoRate {
        service: request.service,
        direction: request.direction,
        destination: cat
            .destinations
            .get(dest as usize)
            .map_or("*any".into(), |d| d.id.as_str().into()),
    };
    let first = pricer.choose(&item, 0).ok_or_else(no_rate)?;
    let p = pricer.price(&item, first, 0).map_err(|_| no_rate())?;
    Ok(Quote {
        rate: cat.rates[first.rate as usize].id.clone(),
        destination: cat.destinations.get(dest as usize).map(|d| d.id.clone()),
        connect_fee: p.connect_fee,
        money: p.money,
        capped: p.capped,
        spans: p.spans,
    })
}
