//! Re-rating: the log's inputs rated again from an empty state with another catalog, and every
//! movement compared with what was recorded. The movements are usage, each fee (connection,
//! monthly, daily, switch, option, suspension, lost SIM, inactivity, detalization, promised
//! payment, transfer), the money that only moves (payments, repayments, write-offs, transfers),
//! and the package units granted. The report gives each decision's changed movements, and each
//! account's totals by kind.

use crate::entry::Entry;
use crate::pipeline::EngineError;
use crate::store::{decode_rated, Store};
use rating::{apply, rate, Catalog, Decision, MovementKind, Msisdn, Timestamp};
use rust_decimal::Decimal;
use sha2::Digest;
use std::collections::BTreeMap;

/// What a decision moved of one kind (a movement kind's name, or `units:<package>`) for one
/// number, recorded and re-rated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub account: String,
    pub msisdn: String,
    pub event: String,
    pub time: String,
    pub kind: String,
    pub old: Decimal,
    pub new: Decimal,
    pub difference: Decimal,
}

/// An account's totals of one kind in the period: recorded, re-rated, and the difference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub old: Decimal,
    pub new: Decimal,
    pub difference: Decimal,
}

#[derive(Debug, Default)]
pub struct RerateReport {
    /// Decisions in the period.
    pub decisions_compared: u64,
    pub differences: Vec<Difference>,
    /// Per account and kind, where they differ.
    pub totals: BTreeMap<(String, String), Totals>,
    /// What re-rating does to the balances: money in minus money out, re-rated less recorded.
    pub net: Decimal,
}

/// Whether an input is a re-rating's correction (`ratel rerate --apply`): its id begins
/// `rerate:`.
pub fn is_correction(input: &rating::Input) -> bool {
    input.id().starts_with(CORRECTION_PREFIX)
}

/// The ids of a re-rating's corrections begin with this.
pub const CORRECTION_PREFIX: &str = "rerate:";

/// The name of package units granted, as a kind.
fn units_kind(cat: &Catalog, package: rating::catalog::PackageIdx) -> String {
    format!("units:{}", projections::view::package_name(cat, package))
}

/// A decision's movements and grants, by kind and number.
fn moved(cat: &Catalog, decision: &Decision) -> BTreeMap<(String, Option<Msisdn>), Decimal> {
    let mut out: BTreeMap<(String, Option<Msisdn>), Decimal> = BTreeMap::new();
    for m in decision.movements() {
        *out.entry((m.kind.name().to_string(), m.msisdn))
            .or_default() += m.amount;
    }
    for (msisdn, package, units) in decision.grants() {
        *out.entry((units_kind(cat, package), Some(msisdn)))
            .or_default() += Decimal::from(units);
    }
    out
}

/// Money's effect on a balance, by kind's name: in positive, out negative; units none.
fn balance_effect(kind: &str, amount: Decimal) -> Decimal {
    match MovementKind::ALL.iter().find(|k| k.name() == kind) {
        Some(k) if k.is_in() => amount,
        Some(_) => -amount,
        None => Decimal::ZERO,
    }
}

/// Rates every recorded input again with `new` from an empty state, and compares what the
/// decisions of `[from, to)` (by event time) moved with what was recorded.
pub fn rerate(
    store: &Store,
    new: &Catalog,
    from: Timestamp,
    to: Timestamp,
) -> Result<RerateReport, EngineError> {
    Ok(rerate_with_state(store, new, (from, to))?.0)
}

/// [`rerate`], with the state the new catalog leads to.
pub fn rerate_with_state(
    store: &Store,
    new: &Catalog,
    (from, to): (Timestamp, Timestamp),
) -> Result<(RerateReport, rating::State), EngineError> {
    let mut state = store.empty_state()?;
    let mut report = RerateReport::default();
    for item in store.log() {
        let (partition, seq, entry) = item?;
        let Entry::Rated {
            input, decision, ..
        } = entry
        else {
            continue;
        };
        let (input, recorded) = decode_rated(partition, seq, &input, &decision)?;
        // A re-rating's own correction is no part of the world a catalog makes: it is
        // compared with nothing (what it moved counts against what is still to correct), and
        // not applied to the re-rated state.
        let again = if is_correction(&input) {
            None
        } else {
            let again = rate(&state, new, &input);
            apply(&mut state, &again)?;
            Some(again)
        };
        if recorded.time >= from && recorded.time < to {
            report.decisions_compared += 1;
            report.compare(new, &recorded, again.as_ref());
        }
    }
    report.totals.retain(|_, t| !t.difference.is_zero());
    Ok((report, state))
}

/// The corrections that make the store follow the new catalog (`ratel rerate --apply`): for
/// each account whose money the period's decisions moved otherwise, one `adjust` of the net
/// effect on its balance; for each number whose live buckets of a package hold fewer units
/// than the new catalog leaves it, a `grant` of the difference, valid as long as the new
/// catalog's bucket. Their ids are `rerate:<run>:…`, and `run` names the re-rating (its
/// catalog and period). Re-rating compares a correction already in the log with nothing and
/// leaves it out of the re-rated world, so the same re-rating done again finds nothing left to
/// correct; and a file of corrections fed twice is all repeats.
/// Where the new catalog leaves fewer live units, a `take` of the difference.
pub struct Corrections {
    pub inputs: Vec<rating::Input>,
    /// Net money put in by the adjustments (out negative): the report's net effect.
    pub net: Decimal,
    /// (number, package, units) the new catalog leaves fewer of than the store holds: each
    /// taken back by a `take` among the inputs.
    pub short: Vec<(Msisdn, String, u64)>,
}

pub fn corrections(
    report: &RerateReport,
    cat: &Catalog,
    (actual, rerated): (&rating::State, &rating::State),
    (run, at): (&str, Timestamp),
) -> Corrections {
    let mut out = Corrections {
        inputs: Vec::new(),
        net: Decimal::ZERO,
        short: Vec::new(),
    };
    let mut by_account: BTreeMap<&str, Decimal> = BTreeMap::new();
    for d in &report.differences {
        *by_account.entry(d.account.as_str()).or_default() += balance_effect(&d.kind, d.difference);
    }
    for (account, amount) in by_account.into_iter().filter(|(_, a)| !a.is_zero()) {
        out.net += amount;
        out.inputs
            .push(rating::Input::Adjust(rating::event::Adjust {
                id: correction_id(run, &format!("a:{account}")).into(),
                account: account.into(),
                msisdn: None,
                amount,
                reason: format!("rerate:{run}").into(),
                operator: "ratel-rerate".into(),
                time: at,
            }));
    }
    for account in actual.accounts().filter(|a| a.activity.released.is_none()) {
        for number in &account.numbers {
            out.units(cat, number, rerated, (run, at));
        }
    }
    out
}

/// A correction's id: `rerate:<run>:<what>`, or, where that would be longer than an id may be,
/// `rerate:<run>:h:<the sha256 of what, 16 hex digits>`.
fn correction_id(run: &str, what: &str) -> String {
    let id = format!("{CORRECTION_PREFIX}{run}:{what}");
    if id.len() <= rating::event::MAX_ID_BYTES {
        return id;
    }
    let digest = sha2::Sha256::digest(what.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{CORRECTION_PREFIX}{run}:h:{hex}")
}

impl Corrections {
    /// A grant for each package the new catalog leaves the number more live units of.
    fn units(
        &mut self,
        cat: &Catalog,
        number: &rating::Number,
        rerated: &rating::State,
        (run, at): (&str, Timestamp),
    ) {
        let live = |n: &rating::Number| {
            let mut by: BTreeMap<rating::catalog::PackageIdx, (u64, Timestamp)> = BTreeMap::new();
            for b in n.buckets.iter().filter(|b| b.valid_until > at) {
                let e = by.entry(b.package).or_insert((0, b.valid_until));
                e.0 += b.remaining;
                e.1 = e.1.max(b.valid_until);
            }
            by
        };
        let Some(again) =
            (rerated.account_of_number(number.msisdn)).and_then(|a| a.number(number.msisdn))
        else {
            return;
        };
        let (is, should) = (live(number), live(again));
        for (package, (units, until)) in &should {
            let held = is.get(package).map_or(0, |x| x.0);
            let name = projections::view::package_name(cat, *package);
            if *units > held {
                let days = ((until.0 - at.0).max(1) + 86_399) / 86_400;
                self.inputs.push(rating::Input::Grant(rating::event::Grant {
                    id: correction_id(run, &format!("g:{}:{name}", number.msisdn)).into(),
                    msisdn: number.msisdn,
                    package: name.into(),
                    amount: units - held,
                    validity_days: days.clamp(1, i64::from(rating::event::MAX_GRANT_DAYS)) as u32,
                    reason: format!("rerate:{run}").into(),
                    operator: "ratel-rerate".into(),
                    time: at,
                }));
            }
        }
        for (package, (held, _)) in &is {
            let units = should.get(package).map_or(0, |x| x.0);
            if *held > units {
                let name = projections::view::package_name(cat, *package);
                self.inputs
                    .push(rating::Input::Take(rating::event::TakeUnits {
                        id: correction_id(run, &format!("t:{}:{name}", number.msisdn)).into(),
                        msisdn: number.msisdn,
                        package: name.clone().into(),
                        amount: held - units,
                        reason: format!("rerate:{run}").into(),
                        operator: "ratel-rerate".into(),
                        time: at,
                    }));
                self.short.push((number.msisdn, name, held - units));
            }
        }
    }
}

impl RerateReport {
    fn compare(&mut self, cat: &Catalog, recorded: &Decision, again: Option<&Decision>) {
        let account = (rating::decision::changed_by(recorded))
            .or(recorded.account.as_ref())
            .or(again.and_then(|d| d.account.as_ref()))
            .map_or_else(|| "?".to_string(), ToString::to_string);
        let (old, new) = (
            moved(cat, recorded),
            again.map(|d| moved(cat, d)).unwrap_or_default(),
        );
        let mut keys: Vec<_> = old.keys().chain(new.keys()).cloned().collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            let was = old.get(&key).copied().unwrap_or_default();
            let is = new.get(&key).copied().unwrap_or_default();
            let totals = (self.totals)
                .entry((account.clone(), key.0.clone()))
                .or_default();
            totals.old += was;
            totals.new += is;
            totals.difference = totals.new - totals.old;
            if was == is {
                continue;
            }
            self.net += balance_effect(&key.0, is - was);
            self.differences.push(Difference {
                account: account.clone(),
                msisdn: key.1.map(|m| m.to_string()).unwrap_or_default(),
                event: recorded.event.to_string(),
                time: recorded.time.to_rfc3339(),
                kind: key.0,
                old: was,
                new: is,
                difference: is - was,
            });
        }
    }

    /// Differences by kind: how many decisions changed, and by how much in all.
    pub fn by_kind(&self) -> BTreeMap<&str, (u64, Decimal)> {
        let mut kinds: BTreeMap<&str, (u64, Decimal)> = BTreeMap::new();
        for d in &self.differences {
            let k = kinds.entry(d.kind.as_str()).or_default();
            k.0 += 1;
            k.1 += d.difference;
        }
        kinds
    }

    /// The differences, then the accounts' totals by kind, as CSV (ids that a spreadsheet
    /// would read as formulas neutralised).
    pub fn to_csv(&self) -> String {
        let text = projections::export::spreadsheet_text;
        let mut differences = vec![header(&[
            "account",
            "msisdn",
            "event",
            "time",
            "kind",
            "old",
            "new",
            "difference",
        ])];
        differences.extend(self.differences.iter().map(|d| {
            vec![
                text(&d.account),
                d.msisdn.clone(),
                text(&d.event),
                d.time.clone(),
                d.kind.clone(),
                d.old.to_string(),
                d.new.to_string(),
                d.difference.to_string(),
            ]
        }));
        let mut totals = vec![header(&[
            "account",
            "kind",
            "old_total",
            "new_total",
            "difference",
        ])];
        totals.extend(self.totals.iter().map(|((account, kind), t)| {
            vec![
                text(account),
                kind.clone(),
                t.old.to_string(),
                t.new.to_string(),
                t.difference.to_string(),
            ]
        }));
        format!("{}\n{}", table(differences), table(totals))
    }
}

fn header(names: &[&str]) -> Vec<String> {
    names.iter().map(ToString::to_string).collect()
}

fn table(rows: Vec<Vec<String>>) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r).expect("CSV into memory");
    }
    let bytes = w.into_inner().expect("a Vec never fails to flush");
    String::from_utf8(bytes).expect("CSV of UTF-8 fields")
}
