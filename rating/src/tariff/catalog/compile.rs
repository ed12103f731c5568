//! The catalog compiled: the operator's file checked whole (every problem reported at once) and
//! turned into the indexed tables rating reads.

use super::file::{self, CatalogFile, FeeFile, PackagePeriod, PriceFile};
use super::limits::{MAX_CATALOG_BYTES, MAX_PRICE, MAX_PRICES_PER_OFFER, MAX_SLOTS};
use super::prefix::{self, PrefixTable};
use super::problem::Problem;
use super::{
    index_key, AddonIdx, Band, BandIdx, Catalog, CatalogError, DestIdx, Destination, Fee,
    Inactivity, Lifecycle, Offer, Online, Package, PlanIdx, Price, PromisePolicy, Rate, Rollover,
    Slot, ANY_DEST, MAX_INACTIVITY_DAYS, MAX_PROMISE_DAYS,
};
use crate::money::Rounding;
use crate::service::{Direction, Network, Service, Zone};
use chrono::NaiveDate;
use chrono_tz::Tz;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

impl Catalog {
    pub fn from_bytes(file: &str, bytes: &[u8]) -> Result<Catalog, CatalogError> {
        if bytes.len() > MAX_CATALOG_BYTES {
            return Err(CatalogError::Read {
                file: file.into(),
                reason: format!("larger than {MAX_CATALOG_BYTES} bytes"),
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|e| CatalogError::Syntax {
            file: file.into(),
            reason: format!("not UTF-8: {e}"),
        })?;
        let parsed: CatalogFile = toml::from_str(text).map_err(|e| CatalogError::Syntax {
            file: file.into(),
            reason: e.to_string(),
        })?;
        let fingerprint: [u8; 32] = Sha256::digest(bytes).into();
        compile(file, parsed, fingerprint)
    }

    pub fn from_toml(file: &str, text: &str) -> Result<Catalog, CatalogError> {
        Catalog::from_bytes(file, text.as_bytes())
    }
}

struct Checker {
    problems: Vec<Problem>,
    /// The currency's decimals: an amount charged or credited as it is written (a fee, a
    /// limit) has no more.
    decimals: u32,
}

impl Checker {
    fn rounding(&mut self, item: &str, rounding: &Rounding) {
        if rounding.decimals > 12 {
            self.bad(
                item,
                format!("rounding to {} decimals; at most 12", rounding.decimals),
            );
        }
    }

    fn bad(&mut self, item: impl Into<String>, problem: impl Into<String>) {
        self.problems.push(Problem {
            item: item.into(),
            problem: problem.into(),
        });
    }

    /// An amount taken or credited as written: within the limits and the currency's decimals.
    fn money(&mut self, item: &str, what: &str, amount: Decimal) {
        if amount.scale() > self.decimals {
            self.bad(
                item,
                format!(
                    "{what} {amount} has more decimals than the currency's {}",
                    self.decimals
                ),
            );
        }
        self.rate_money(item, what, amount);
    }

    /// A part of a price (per unit, or a call's connect fee): the rate's rounding applies to
    /// what it comes to, so it may have more decimals than the currency.
    fn rate_money(&mut self, item: &str, what: &str, amount: Decimal) {
        if amount.is_sign_negative() && !amount.is_zero() {
            self.bad(item, format!("{what} is negative ({amount})"));
        }
        if amount > Decimal::from(MAX_PRICE) {
            self.bad(
                item,
                format!("{what} {amount} is above the limit {MAX_PRICE}"),
            );
        }
    }

    fn unique<'a>(
        &mut self,
        kind: &str,
        ids: impl Iterator<Item = &'a str>,
    ) -> FxHashMap<String, u32> {
        let mut m = FxHashMap::default();
        for (i, id) in ids.enumerate() {
            if id.trim().is_empty() {
                self.bad(format!("{kind}[{i}]"), "empty id");
            } else if m.insert(id.to_string(), i as u32).is_some() {
                self.bad(format!("{kind}.{id}"), "defined twice");
            }
        }
        m
    }
}

fn parse_time_of_day(text: &str) -> Option<u32> {
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let n: Vec<u32> = parts
        .iter()
        .map(|p| if p.len() == 2 { p.parse().ok() } else { None })
        .collect::<Option<_>>()?;
    let (h, m, sec) = (n[0], n[1], n.get(2).copied().unwrap_or(0));
    if h == 24 && m == 0 && sec == 0 {
        return Some(86_400);
    }
    (h < 24 && m < 60 && sec < 60).then_some(h * 3600 + m * 60 + sec)
}

fn mask<T: Copy>(items: &Option<Vec<T>>, all: u8, bit: impl Fn(T) -> u8) -> u8 {
    match items {
        None => all,
        Some(v) => v.iter().fold(0, |m, &x| m | bit(x)),
    }
}

/// The plans, each an offer; a plan CGRateS prices is checked against the catalog's tariff.
fn plan(
    checker: &mut Checker,
    catalog_file: &CatalogFile,
    ctx: &OfferCtx,
    plan_file: &file::PlanFile,
) -> Offer {
    let mut o = ctx.offer(
        checker,
        "plans",
        &plan_file.id,
        &plan_file.name,
        plan_file.connection_fee,
        &plan_file.fees,
        &plan_file.packages,
        &plan_file.prices,
    );
    o.switch_fee = plan_file.switch_fee.unwrap_or_default();
    o.when_unpaid = plan_file.when_unpaid;
    checker.money(
        &format!("plans.{}", plan_file.id),
        "switch_fee",
        o.switch_fee,
    );
    if let Some(cg) = &plan_file.cgrates {
        check_priced_by_cgrates(checker, catalog_file, plan_file, cg);
        o.cgrates = Some(Box::new(cg.clone()));
    }
    o
}

/// A plan priced by CGRateS: the catalog holds a tariff with a profile of its tenant, and the
/// plan has no prices or packages of its own.
fn check_priced_by_cgrates(
    checker: &mut Checker,
    catalog_file: &CatalogFile,
    plan_file: &file::PlanFile,
    cg: &crate::cgrates::file::PricingFile,
) {
    let item = format!("plans.{}", plan_file.id);
    if catalog_file.cgrates.is_none() {
        checker.bad(
            &item,
            "priced by CGRateS, but the catalog has no [cgrates] tariff plan",
        );
    }
    if !plan_file.prices.is_empty() || !plan_file.packages.is_empty() {
        // CGRateS balances are not imported, and two price lists would be two truths.
        checker.bad(
            &item,
            "a plan priced by CGRateS has no prices or packages of its own",
        );
    }
    if !catalog_file
        .cgrates
        .as_ref()
        .is_some_and(|t| t.rating_profiles.iter().any(|r| r.tenant == cg.tenant))
    {
        checker.bad(
            &item,
            format!("no CGRateS rating profile of tenant {:?}", cg.tenant),
        );
    }
}

/// An option: an offer, with the plans it may join.
fn addon(
    checker: &mut Checker,
    ctx: &OfferCtx,
    plan_ix: &FxHashMap<String, u32>,
    plans: &[Offer],
    addon_file: &file::AddonFile,
) -> Offer {
    let mut o = ctx.offer(
        checker,
        "options",
        &addon_file.id,
        &addon_file.name,
        addon_file.connection_fee,
        &addon_file.fees,
        &addon_file.packages,
        &addon_file.prices,
    );
    o.when_unpaid = addon_file.when_unpaid;
    for pid in addon_file.plans.iter().flatten() {
        match plan_ix.get(pid) {
            Some(&i) => o.plans.push(i as PlanIdx),
            None => checker.bad(
                format!("options.{}", addon_file.id),
                format!("unknown plan {pid:?}"),
            ),
        }
    }
    // An option's prices would be silently ignored on a plan that CGRateS prices.
    let joins_cgrates = |pi: usize| plans.get(pi).is_some_and(|p: &Offer| p.cgrates.is_some());
    if !addon_file.prices.is_empty()
        && (if o.plans.is_empty() {
            (0..plans.len()).any(joins_cgrates)
        } else {
            o.plans.iter().any(|&p| joins_cgrates(p as usize))
        })
    {
        checker.bad(
            format!("options.{}", addon_file.id),
            "has prices and may join a plan priced by CGRateS; list the plans it may join",
        );
    }
    o
}

/// The catalog's header: its time zone (UTC when unknown, with the problem), its currency's
/// decimals and rounding, and the fee of a detalization.
fn header(checker: &mut Checker, head: &file::Header) -> (Tz, Decimal) {
    let tz: Tz = head.timezone.parse().unwrap_or_else(|_| {
        checker.bad(
            "catalog.timezone",
            format!("unknown time zone {:?}", head.timezone),
        );
        Tz::UTC
    });
    if head.decimals > 6 {
        checker.bad("catalog.decimals", "a currency has at most 6 decimals");
    }
    checker.rounding("catalog.rounding", &head.rounding);
    let detalization_fee = head.detalization_fee.unwrap_or_default();
    checker.money("catalog", "detalization_fee", detalization_fee);
    (tz, detalization_fee)
}

/// Compiles a parsed catalog file into the tables rating reads; every problem is reported at once.
fn compile(
    file: &str,
    catalog_file: CatalogFile,
    fingerprint: [u8; 32],
) -> Result<Catalog, CatalogError> {
    let h = &catalog_file.catalog;
    let mut c = Checker {
        problems: Vec::new(),
        decimals: h.decimals,
    };
    let (tz, detalization_fee) = header(&mut c, h);
    let promise = promise_policy(&mut c, &catalog_file);
    let lifecycle = lifecycle(&mut c, &catalog_file);
    let (dest_ix, prefixes, destinations) = destinations(&mut c, &catalog_file);
    let (band_ix, bands, band_edges) = bands(&mut c, &catalog_file);
    let (rate_ix, rates) = rates(&mut c, &catalog_file, h.rounding);
    let (pkg_ix, packages) = packages(&mut c, &catalog_file);
    let plan_ix = c.unique("plans", catalog_file.plans.iter().map(|p| p.id.as_str()));
    let addon_ix = c.unique(
        "options",
        catalog_file.options.iter().map(|p| p.id.as_str()),
    );
    let ctx = OfferCtx {
        dest_ix: &dest_ix,
        band_ix: &band_ix,
        rate_ix: &rate_ix,
        pkg_ix: &pkg_ix,
        rates: &rates,
    };
    let plans: Vec<Offer> = catalog_file
        .plans
        .iter()
        .map(|p| plan(&mut c, &catalog_file, &ctx, p))
        .collect();
    let addons: Vec<Offer> = (catalog_file.options.iter())
        .map(|a| addon(&mut c, &ctx, &plan_ix, &plans, a))
        .collect();
    let cgrates = cgrates_tariff(&mut c, &catalog_file);
    let online = online(&mut c, &catalog_file);
    check_counts(&mut c, &catalog_file, &plans, &addons, &bands);
    if !c.problems.is_empty() {
        return Err(CatalogError::Invalid {
            file: file.into(),
            problems: c.problems,
        });
    }
    Ok(Catalog {
        id: h.id.clone(),
        version: h.version.clone(),
        fingerprint,
        currency: h.currency.clone(),
        decimals: h.decimals,
        tz,
        calendar: crate::time::Calendar::new(tz),
        rounding: h.rounding,
        detalization_fee,
        promise,
        lifecycle,
        destinations,
        prefixes,
        bands,
        band_edges,
        rates,
        packages,
        plans,
        addons,
        plan_ix: (plan_ix.into_iter())
            .map(|(k, v)| (k, v as PlanIdx))
            .collect(),
        addon_ix: (addon_ix.into_iter())
            .map(|(k, v)| (k, v as AddonIdx))
            .collect(),
        cgrates,
        online,
    })
}

/// The CGRateS tariff plan the catalog holds, compiled; its problems are the catalog's.
fn cgrates_tariff(
    checker: &mut Checker,
    catalog_file: &CatalogFile,
) -> Option<crate::cgrates::Tariff> {
    let file = catalog_file.cgrates.as_ref()?;
    match crate::cgrates::Tariff::compile(file) {
        Ok(tariff) => Some(tariff),
        Err(problems) => {
            checker.problems.extend(problems);
            None
        }
    }
}

/// A catalog has a plan (or a CGRateS tariff), and no more plans, options or bands than their
/// indexes can number.
fn check_counts(
    checker: &mut Checker,
    catalog_file: &CatalogFile,
    plans: &[Offer],
    addons: &[Offer],
    bands: &[Band],
) {
    if plans.is_empty() && catalog_file.cgrates.is_none() {
        checker.bad(
            "plans",
            "the catalog has no plan (nor a CGRateS tariff plan)",
        );
    }
    if plans.len() > PlanIdx::MAX as usize
        || addons.len() > AddonIdx::MAX as usize
        || bands.len() > BandIdx::MAX as usize
    {
        checker.bad("catalog", "too many plans, options or bands");
    }
}

/// The promised-payment policy, if the catalog offers one.
fn promise_policy(checker: &mut Checker, catalog_file: &CatalogFile) -> Option<PromisePolicy> {
    catalog_file.promised_payment.as_ref().map(|p| {
        let item = "promised_payment";
        checker.money(item, "max_amount", p.max_amount);
        let fee = p.fee.unwrap_or_default();
        checker.money(item, "fee", fee);
        if p.share_of_recent_payments.is_sign_negative()
            || p.share_of_recent_payments > Decimal::ONE
        {
            checker.bad(item, "share_of_recent_payments is a share, 0 to 1");
        }
        if !(1..=MAX_PROMISE_DAYS).contains(&p.validity_days) {
            checker.bad(item, format!("validity_days is 1 to {MAX_PROMISE_DAYS}"));
        }
        PromisePolicy {
            max_amount: p.max_amount,
            share_of_recent_payments: p.share_of_recent_payments,
            validity_days: p.validity_days,
            fee,
        }
    })
}

/// What loyalty points are worth in money, and the buckets they buy.
fn rewards(
    checker: &mut Checker,
    catalog_file: &CatalogFile,
) -> (Option<Decimal>, Vec<super::Reward>) {
    let Some(loyalty) = &catalog_file.loyalty else {
        return (None, Vec::new());
    };
    if let Some(value) = loyalty.point_value {
        checker.money("loyalty", "point_value", value);
        if value <= Decimal::ZERO {
            checker.bad("loyalty", "point_value must be positive");
        }
    }
    let mut rewards: Vec<super::Reward> = Vec::new();
    for r in &loyalty.rewards {
        let package = catalog_file.packages.iter().position(|p| p.id == r.package);
        let what = format!("reward {}", r.id);
        if rewards.iter().any(|x| x.id == r.id) {
            checker.bad("loyalty", format!("{what} is given twice"));
        }
        if r.points == 0
            || r.amount == 0
            || !(1..=super::limits::MAX_GRANT_DAYS).contains(&r.validity_days)
        {
            checker.bad(
                "loyalty",
                format!(
                    "{what}: points and amount must be positive, validity_days 1 to {}",
                    super::limits::MAX_GRANT_DAYS
                ),
            );
        }
        match package {
            None => checker.bad("loyalty", format!("{what}: unknown package {}", r.package)),
            Some(p) => rewards.push(super::Reward {
                id: r.id.clone(),
                points: r.points,
                package: p as super::PackageIdx,
                amount: r.amount,
                validity_days: r.validity_days,
            }),
        }
    }
    (loyalty.point_value, rewards)
}

/// Online charging's rules, defaults filled in and each within its limit.
fn online(checker: &mut Checker, catalog_file: &CatalogFile) -> Online {
    use super::limits::most_units;
    use crate::Unit;
    let rules = catalog_file.online.clone().unwrap_or_default();
    let online = Online {
        quota_seconds: rules.quota_seconds.unwrap_or(300),
        quota_bytes: rules.quota_bytes.unwrap_or(10 << 20),
        quota_messages: rules.quota_messages.unwrap_or(1),
        validity_seconds: rules.validity_seconds.unwrap_or(900),
        grace_seconds: rules.grace_seconds.unwrap_or(120),
        abandoned: rules.abandoned,
        redirect: rules.redirect,
    };
    for (what, value, most) in [
        (
            "quota_seconds",
            online.quota_seconds,
            most_units(Unit::Seconds),
        ),
        ("quota_bytes", online.quota_bytes, most_units(Unit::Bytes)),
        (
            "quota_messages",
            online.quota_messages,
            most_units(Unit::Messages),
        ),
        (
            "validity_seconds",
            u64::from(online.validity_seconds),
            86_400,
        ),
        ("grace_seconds", u64::from(online.grace_seconds), 86_400),
    ] {
        if value == 0 || value > most {
            checker.bad("online", format!("{what} must be 1 to {most}"));
        }
    }
    if online
        .redirect
        .as_ref()
        .is_some_and(|r| r.is_empty() || r.len() > 256)
    {
        checker.bad("online", "redirect must be 1 to 256 bytes");
    }
    online
}

/// The lifecycle's policies: plan changes, suspension and lost-SIM fees, inactivity, transfers,
/// loyalty.
fn lifecycle(checker: &mut Checker, catalog_file: &CatalogFile) -> Lifecycle {
    let change = catalog_file
        .plan_change
        .clone()
        .unwrap_or(file::PlanChangeFile {
            old_packages: file::OldPackages::Keep,
            prorate: true,
        });
    let suspension_fee = catalog_file
        .suspension
        .as_ref()
        .map(|s| s.daily_fee.unwrap_or_default());
    if let Some(fee) = suspension_fee {
        checker.money("suspension", "daily_fee", fee);
    }
    let lost_sim_fee = catalog_file
        .lost_sim
        .as_ref()
        .and_then(|s| s.daily_fee)
        .unwrap_or_default();
    checker.money("lost_sim", "daily_fee", lost_sim_fee);
    let inactivity = catalog_file
        .inactivity
        .as_ref()
        .map(|rules| inactivity(checker, rules));
    let transfers = catalog_file.transfers.as_ref().map(|t| {
        let fee = t.fee.unwrap_or_default();
        checker.money("transfers", "max_amount", t.max_amount);
        checker.money("transfers", "fee", fee);
        (t.max_amount, fee)
    });
    let spend_per_point = catalog_file.loyalty.as_ref().map(|l| {
        checker.money("loyalty", "spend_per_point", l.spend_per_point);
        if l.spend_per_point <= Decimal::ZERO {
            checker.bad("loyalty", "spend_per_point must be positive");
        }
        l.spend_per_point
    });
    let (point_value, rewards) = rewards(checker, catalog_file);
    Lifecycle {
        spend_per_point,
        point_value,
        rewards,
        transfers,
        old_packages: change.old_packages,
        prorate: change.prorate,
        suspension_fee,
        lost_sim_fee,
        inactivity,
    }
}

/// The inactivity rules: their fee and their periods in days.
fn inactivity(checker: &mut Checker, rules: &file::InactivityFile) -> Inactivity {
    let item = "inactivity";
    checker.money(item, "daily_fee", rules.daily_fee);
    for (what, days) in [
        ("fee_after_days", rules.fee_after_days),
        ("block_after_days", rules.block_after_days),
        ("restore_days", rules.restore_days),
    ] {
        if !(1..=MAX_INACTIVITY_DAYS).contains(&days) {
            checker.bad(item, format!("{what} is 1 to {MAX_INACTIVITY_DAYS}"));
        }
    }
    Inactivity {
        fee_after_days: rules.fee_after_days,
        daily_fee: rules.daily_fee,
        block_after_days: rules.block_after_days,
        restore_days: rules.restore_days,
    }
}

/// The destinations, their index by id, and the table of their prefixes.
fn destinations(
    checker: &mut Checker,
    catalog_file: &CatalogFile,
) -> (FxHashMap<String, u32>, PrefixTable, Vec<Destination>) {
    // Destinations and their prefixes.
    let dest_ix = checker.unique(
        "destinations",
        catalog_file.destinations.iter().map(|d| d.id.as_str()),
    );
    let mut prefixes = PrefixTable::default();
    let mut owner: FxHashMap<&str, &str> = FxHashMap::default();
    for (i, d) in catalog_file.destinations.iter().enumerate() {
        if d.prefixes.is_empty() {
            checker.bad(format!("destinations.{}", d.id), "no prefixes");
        }
        for p in &d.prefixes {
            match prefix::digits(p) {
                None => checker.bad(
                    format!("destinations.{}", d.id),
                    format!("prefix {p:?} is not digits"),
                ),
                Some(digits) => {
                    if let Some(other) = owner.insert(p.trim_start_matches('+'), &d.id) {
                        checker.bad(
                            format!("destinations.{}", d.id),
                            format!("prefix {p} also belongs to {other}"),
                        );
                    }
                    prefixes.insert(digits, i as u32);
                }
            }
        }
    }
    let destinations = catalog_file
        .destinations
        .iter()
        .map(|d| Destination {
            id: d.id.clone(),
            zone: d.zone,
            network: d.network,
        })
        .collect();
    (dest_ix, prefixes, destinations)
}

/// The time bands, their index by id, and the edges of the day where some band begins or ends.
fn bands(
    checker: &mut Checker,
    catalog_file: &CatalogFile,
) -> (FxHashMap<String, u32>, Vec<Band>, Vec<u32>) {
    let band_ix = checker.unique("bands", catalog_file.bands.iter().map(|b| b.id.as_str()));
    let bands: Vec<Band> = catalog_file
        .bands
        .iter()
        .map(|b| band(checker, b))
        .collect();
    let mut edges = vec![0u32, 86_400];
    for b in &bands {
        edges.extend([b.from, b.to.min(86_400)]);
    }
    edges.sort();
    edges.dedup();
    (band_ix, bands, edges)
}

/// One time band: its weekdays, its hours and its dates.
fn band(checker: &mut Checker, band_file: &file::BandFile) -> Band {
    let item = format!("bands.{}", band_file.id);
    let mut weekdays = 0u8;
    for w in &band_file.weekdays {
        const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        match NAMES.iter().position(|n| n.eq_ignore_ascii_case(w)) {
            Some(i) => weekdays |= 1 << i,
            None => checker.bad(&item, format!("unknown weekday {w:?} (mon..sun)")),
        }
    }
    if band_file.weekdays.is_empty() {
        weekdays = 0x7f;
    }
    let from = match band_file.from.as_deref().map(parse_time_of_day) {
        None => 0,
        Some(Some(v)) if v < 86_400 => v,
        Some(_) => {
            checker.bad(
                &item,
                format!(
                    "from {:?} is not a time of day HH:MM",
                    band_file.from.as_deref().unwrap_or("")
                ),
            );
            0
        }
    };
    let to = match band_file.to.as_deref().map(parse_time_of_day) {
        None => 86_400,
        Some(Some(v)) => v,
        Some(None) => {
            checker.bad(
                &item,
                format!(
                    "to {:?} is not a time of day HH:MM",
                    band_file.to.as_deref().unwrap_or("")
                ),
            );
            86_400
        }
    };
    if from == to {
        checker.bad(&item, "from equals to: an empty band");
    }
    let mut dates = Vec::new();
    for d in &band_file.dates {
        match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(v) => dates.push(v),
            Err(_) => checker.bad(&item, format!("date {d:?} is not YYYY-MM-DD")),
        }
    }
    dates.sort();
    dates.dedup();
    Band {
        id: band_file.id.clone(),
        weekdays,
        from,
        to,
        dates,
    }
}

/// The rates and their index by id.
fn rates(
    checker: &mut Checker,
    catalog_file: &CatalogFile,
    default_rounding: Rounding,
) -> (FxHashMap<String, u32>, Vec<Rate>) {
    let rate_ix = checker.unique("rates", catalog_file.rates.iter().map(|r| r.id.as_str()));
    let rates = catalog_file
        .rates
        .iter()
        .map(|r| rate(checker, r, default_rounding))
        .collect();
    (rate_ix, rates)
}

/// One rate: its fees and its slots, each checked.
fn rate(checker: &mut Checker, rate_file: &file::RateFile, default_rounding: Rounding) -> Rate {
    let item = format!("rates.{}", rate_file.id);
    let connect_fee = rate_file.connect_fee.unwrap_or_default();
    checker.rate_money(&item, "connect_fee", connect_fee);
    if let Some(m) = rate_file.max_cost {
        checker.money(&item, "max_cost", m);
    }
    if let Some(rd) = &rate_file.rounding {
        checker.rounding(&format!("{item}.rounding"), rd);
    }
    if rate_file.increment_decimals.is_some_and(|d| d > 12) {
        checker.bad(&item, "increment_decimals above 12");
    }
    if rate_file.slots.is_empty() {
        checker.bad(&item, "no slots");
    } else if rate_file.slots.len() > MAX_SLOTS {
        checker.bad(&item, format!("more than {MAX_SLOTS} slots"));
    }
    let slots = slots(checker, &item, &rate_file.slots);
    let free = connect_fee.is_zero() && slots.iter().all(|s| s.price.is_zero());
    Rate {
        id: rate_file.id.clone(),
        unit: rate_file.unit,
        connect_fee,
        max_cost: rate_file.max_cost,
        rounding: rate_file.rounding.unwrap_or(default_rounding),
        increment_decimals: rate_file.increment_decimals,
        slots,
        free,
    }
}

/// A rate's slots, in order from 0, each with its price per increment when exact.
fn slots(checker: &mut Checker, item: &str, file_slots: &[file::SlotFile]) -> Vec<Slot> {
    let mut slots = Vec::new();
    for (i, s) in file_slots.iter().enumerate() {
        let si = format!("{item}.slots[{i}]");
        checker.rate_money(&si, "price", s.price);
        if s.per == 0 {
            checker.bad(&si, "per is zero");
        }
        if s.increment == 0 {
            checker.bad(&si, "increment is zero");
        }
        if i == 0 && s.from != 0 {
            checker.bad(&si, "the first slot must start at 0");
        }
        if i > 0 && s.from <= file_slots[i - 1].from {
            checker.bad(
                &si,
                format!(
                    "overlapping slots: starts at {} which is not after the previous slot's {}",
                    s.from,
                    file_slots[i - 1].from
                ),
            );
        }
        let increment_price = if s.per == 0 {
            None
        } else {
            let whole = s.price * Decimal::from(s.increment);
            let p = whole / Decimal::from(s.per);
            // Exact only if multiplying back gives the numerator (1.00/60 does not).
            (p * Decimal::from(s.per) == whole).then_some(p)
        };
        slots.push(Slot {
            from: s.from,
            price: s.price,
            per: s.per.max(1),
            increment: s.increment.max(1),
            increment_price,
        });
    }
    slots
}

/// The packages and their index by id.
fn packages(
    checker: &mut Checker,
    catalog_file: &CatalogFile,
) -> (FxHashMap<String, u32>, Vec<Package>) {
    let pkg_ix = checker.unique(
        "packages",
        catalog_file.packages.iter().map(|p| p.id.as_str()),
    );
    let packages = catalog_file
        .packages
        .iter()
        .map(|p| package(checker, p))
        .collect();
    (pkg_ix, packages)
}

/// One package: what it covers and for how long.
fn package(checker: &mut Checker, package_file: &file::PackageFile) -> Package {
    let item = format!("packages.{}", package_file.id);
    if package_file.services.is_empty() {
        checker.bad(&item, "covers no service");
    }
    for s in &package_file.services {
        if s.unit() != package_file.unit {
            checker.bad(
                &item,
                format!(
                    "unit {} cannot pay for {s}, which is counted in {}",
                    package_file.unit,
                    s.unit()
                ),
            );
        }
    }
    if package_file.amount == 0 {
        checker.bad(&item, "amount is zero");
    }
    if package_file.increment == Some(0) {
        checker.bad(&item, "increment is zero");
    }
    let validity_days = match (package_file.period, package_file.validity_days) {
        (PackagePeriod::Once, Some(d)) if d > 0 => d,
        (PackagePeriod::Once, _) => {
            checker.bad(&item, "period once needs validity_days > 0");
            1
        }
        (_, Some(_)) => {
            checker.bad(
                &item,
                "validity_days is only for period once; daily and monthly packages live one period",
            );
            0
        }
        (_, None) => 0,
    };
    if let Some(r) = &package_file.rollover {
        if package_file.period == PackagePeriod::Once {
            checker.bad(&item, "a one-off package cannot roll over");
        }
        if r.periods == 0 {
            checker.bad(&item, "rollover.periods is zero");
        }
    }
    Package {
        id: package_file.id.clone(),
        unit: package_file.unit,
        amount: package_file.amount,
        services: package_file.services.iter().fold(0, |m, s| m | s.bit()),
        directions: mask(
            &package_file.directions,
            Direction::Out.bit(),
            Direction::bit,
        ),
        zones: mask(&package_file.zones, 0b111, Zone::bit),
        networks: mask(&package_file.networks, 0b11, Network::bit),
        rating_groups: package_file.rating_groups.clone().unwrap_or_default(),
        increment: package_file.increment.unwrap_or(1).max(1),
        period: package_file.period,
        validity_days,
        priority: package_file.priority,
        rollover: package_file.rollover.as_ref().map(|r| Rollover {
            max: r.max,
            periods: r.periods.max(1),
        }),
    }
}

struct OfferCtx<'a> {
    dest_ix: &'a FxHashMap<String, u32>,
    band_ix: &'a FxHashMap<String, u32>,
    rate_ix: &'a FxHashMap<String, u32>,
    pkg_ix: &'a FxHashMap<String, u32>,
    rates: &'a [Rate],
}

impl OfferCtx<'_> {
    #[allow(clippy::too_many_arguments)]
    fn offer(
        &self,
        checker: &mut Checker,
        kind: &str,
        id: &str,
        name: &Option<String>,
        connection_fee: Option<Decimal>,
        fees: &[FeeFile],
        packages: &[String],
        prices: &[PriceFile],
    ) -> Offer {
        let item = format!("{kind}.{id}");
        let connection_fee = connection_fee.unwrap_or_default();
        checker.money(&item, "connection_fee", connection_fee);
        for (i, fee) in fees.iter().enumerate() {
            checker.money(&format!("{item}.fees[{i}]"), "amount", fee.amount);
        }
        let mut pk = Vec::new();
        for p in packages {
            match self.pkg_ix.get(p) {
                Some(&i) => pk.push(i),
                None => checker.bad(&item, format!("unknown package {p:?}")),
            }
        }
        if prices.len() > MAX_PRICES_PER_OFFER {
            checker.bad(&item, format!("more than {MAX_PRICES_PER_OFFER} prices"));
        }
        let mut out = Vec::new();
        let mut index: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
        for (i, p) in prices.iter().enumerate() {
            let pi = format!("{item}.prices[{i}]");
            if let Some((price, dests)) = self.price(checker, &pi, p) {
                let idx = out.len() as u32;
                out.push(price);
                for d in dests {
                    index
                        .entry(index_key(p.service, p.direction, d))
                        .or_default()
                        .push(idx);
                }
            }
        }
        let banded = out.iter().any(|p| p.band.is_some());
        let priced = prices.iter().fold(0u32, |m, p| {
            m | 1 << (p.service as u8 * 2 + p.direction as u8)
        });
        Offer {
            banded,
            priced,
            id: id.to_string(),
            name: name.clone().unwrap_or_else(|| id.to_string()),
            connection_fee,
            fees: fees
                .iter()
                .map(|f| Fee {
                    period: f.period,
                    amount: f.amount,
                })
                .collect(),
            packages: pk,
            prices: out,
            index,
            plans: Vec::new(),
            cgrates: None,
            switch_fee: Decimal::ZERO,
            when_unpaid: file::WhenUnpaid::default(),
        }
    }

    /// One price of an offer, and the destinations it is indexed under; none if its rate is
    /// unknown.
    fn price(
        &self,
        checker: &mut Checker,
        pi: &str,
        price_file: &PriceFile,
    ) -> Option<(Price, Vec<DestIdx>)> {
        let Some(&rate) = self.rate_ix.get(&price_file.rate) else {
            checker.bad(pi, format!("unknown rate {:?}", price_file.rate));
            return None;
        };
        let unit = self.rates[rate as usize].unit;
        if unit != price_file.service.unit() {
            checker.bad(
                pi,
                format!(
                    "rate {} is per {unit} but {} is counted in {}",
                    price_file.rate,
                    price_file.service,
                    price_file.service.unit()
                ),
            );
        }
        let band = match &price_file.band {
            None => None,
            Some(b) => match self.band_ix.get(b) {
                Some(&x) => Some(x as BandIdx),
                None => {
                    checker.bad(pi, format!("unknown band {b:?}"));
                    None
                }
            },
        };
        if price_file.rating_group.is_some() && price_file.service != Service::Data {
            checker.bad(pi, "rating_group applies to data only");
        }
        let dests: Vec<DestIdx> = match &price_file.destinations {
            None => vec![ANY_DEST],
            Some(v) if v.iter().any(|d| d == "*any") => {
                if v.len() > 1 {
                    checker.bad(pi, "*any together with named destinations");
                }
                vec![ANY_DEST]
            }
            Some(v) => v
                .iter()
                .filter_map(|d| match self.dest_ix.get(d) {
                    Some(&x) => Some(x),
                    None => {
                        checker.bad(pi, format!("unknown destination {d:?}"));
                        None
                    }
                })
                .collect(),
        };
        if price_file.service == Service::Data && dests != [ANY_DEST] {
            checker.bad(pi, "data has no destination; leave destinations out");
        }
        Some((
            Price {
                band,
                weight: price_file.weight,
                rate,
                location: price_file.location,
                rating_group: price_file.rating_group,
            },
            dests,
        ))
    }
}
