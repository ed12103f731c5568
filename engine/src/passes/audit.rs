//! `ratel audit`: an independent check of a store. It reads the log and recomputes, without the
//! rating core's `apply`, every account's balance from its payments, charges and fees, every
//! bucket from its grants, takes and expiries; it checks that no input id took effect twice, that
//! the log accounts for every line read (and for nothing else), and that the stored state is what
//! the log says. Any discrepancy is listed; `ok()` is false if there is one.

use crate::entry::Entry;
use crate::pipeline::EngineError;
use crate::store::decode_rated;
use crate::store::Store;
use rating::{Decision, Input, Msisdn, Outcome};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Keeps at most this many discrepancies in a report (the count goes on).
const MAX_LISTED: usize = 200;

#[derive(Debug, Default, Serialize)]
pub struct AuditReport {
    pub entries: u64,
    pub decisions: u64,
    pub dead: u64,
    pub ticks: u64,
    pub accounts: usize,
    #[serde(with = "rating::money::amount")]
    pub payments: Decimal,
    #[serde(with = "rating::money::amount")]
    pub charges: Decimal,
    #[serde(with = "rating::money::amount")]
    pub fees: Decimal,
    /// Promised payments credited, repaid from payments, and written off at expiry.
    #[serde(with = "rating::money::amount")]
    pub promised: Decimal,
    #[serde(with = "rating::money::amount")]
    pub repaid: Decimal,
    #[serde(with = "rating::money::amount")]
    pub written_off: Decimal,
    /// Money sent by transfers, and transfers whose credit or refund the log does not hold yet.
    #[serde(with = "rating::money::amount")]
    pub transfers: Decimal,
    pub transfers_in_flight: u64,
    pub discrepancies: u64,
    pub listed: Vec<String>,
}

impl AuditReport {
    pub fn ok(&self) -> bool {
        self.discrepancies == 0
    }

    fn bad(&mut self, what: String) {
        self.discrepancies += 1;
        if self.listed.len() < MAX_LISTED {
            self.listed.push(what);
        }
    }

    /// A finding about the whole store (the counters, the positions): listed first, whatever
    /// the entry-by-entry findings filled the list with.
    fn bad_overall(&mut self, what: String) {
        self.discrepancies += 1;
        self.listed.insert(0, what);
        self.listed.truncate(MAX_LISTED.max(1));
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Units {
    total: u64,
    remaining: u64,
}

#[derive(Default)]
struct Ledger {
    balance: BTreeMap<String, Decimal>,
    buckets: HashMap<(Msisdn, u32), Units>,
    owner: HashMap<Msisdn, String>,
    free_reports: std::collections::HashSet<(Msisdn, rating::Month)>,
    /// Outstanding promised payment of each account: the granting event and what is owed.
    promises: HashMap<String, (String, Decimal)>,
    /// Each transfer's steps, wherever they were logged: the partitions' logs are read one
    /// after another, so a credit may be read before its debit.
    /// Keyed by the sender's account and the transfer's id: two senders may use one id.
    transfers: HashMap<(String, String), TransferSteps>,
}

/// The amounts of a transfer's steps: `[sent, received, bounced, refunded]`.
#[derive(Default, Debug)]
struct TransferSteps([Option<Decimal>; 4]);

impl Ledger {
    fn transfer_step(
        &mut self,
        r: &mut AuditReport,
        at: &str,
        (sender, id): (&str, &str),
        step: usize,
        amount: Decimal,
    ) {
        let key = (sender.to_string(), id.to_string());
        let t = self.transfers.entry(key).or_default();
        if t.0[step].replace(amount).is_some() {
            r.bad(format!(
                "{at}: transfer {id} of {sender} takes the same step twice"
            ));
        }
    }
}

impl Ledger {
    fn grant(&mut self, r: &mut AuditReport, at: &str, m: Msisdn, b: &rating::Bucket) {
        if b.remaining > b.total {
            r.bad(format!(
                "{at}: bucket {m}/{} granted with {} of {}",
                b.id, b.remaining, b.total
            ));
        }
        let u = Units {
            total: b.total,
            remaining: b.remaining,
        };
        if self.buckets.insert((m, b.id), u).is_some() {
            r.bad(format!("{at}: bucket {m}/{} granted twice", b.id));
        }
    }

    /// Removes a bucket; the units it still held.
    fn expire(&mut self, r: &mut AuditReport, at: &str, m: Msisdn, bucket: u32) -> u64 {
        match self.buckets.remove(&(m, bucket)) {
            None => {
                r.bad(format!(
                    "{at}: bucket {m}/{bucket} expires but was never granted"
                ));
                0
            }
            Some(u) => u.remaining,
        }
    }
}

/// The inputs that took effect, by account and id, as the rules of `docs/events.md` say an
/// account remembers them: a payment's, a transfer's or a command's id for ever, a usage's (or a
/// tick's) for the window of event time after its account's clock passed it. Kept here by its
/// own bookkeeping, not by the rating core's.
struct Effects {
    window: i64,
    /// Each id that took effect, with the account's clock when it did (`None`: held for ever).
    held: HashMap<(String, String), Option<i64>>,
    /// Each account's latest event time of an input that took effect.
    latest: HashMap<String, i64>,
    ids: HashSet<String>,
}

impl Effects {
    /// Records that `d`'s input took effect in its account; a second time while the account
    /// still holds its id is a fault.
    fn took_effect(&mut self, r: &mut AuditReport, at: &str, d: &Decision) {
        let owner = rating::decision::remembered_by(d).map_or("", |(a, _)| a.as_str());
        let key = (owner.to_string(), d.event.to_string());
        let latest = self.latest.get(owner).copied();
        let horizon = latest.map(|l| l - self.window);
        let still_held = match self.held.get(&key) {
            None => false,
            Some(None) => true,
            Some(Some(clock)) => horizon.is_none_or(|h| *clock >= h),
        };
        // Usage before its account's horizon is refused as too late, repeat or not: only the
        // same id coming again later than the horizon, once the first fell behind it, is new.
        let too_late =
            matches!(d.outcome, Outcome::Charged(_)) && horizon.is_some_and(|h| d.time.0 < h);
        if still_held || (too_late && self.held.contains_key(&key)) {
            r.bad(format!("{at}: {} took effect twice", d.event));
        } else if too_late {
            r.bad(format!(
                "{at}: {} was charged although before its account's horizon",
                d.event
            ));
        }
        let clock = latest.map_or(d.time.0, |l| l.max(d.time.0));
        self.latest.insert(owner.to_string(), clock);
        let for_ever = rating::decision::held_for_ever(d);
        self.held.insert(key, (!for_ever).then_some(clock));
        self.ids.insert(d.event.to_string());
    }
}

/// Audits the store. Errors are for a store that cannot be read at all; everything the log or
/// the state gets wrong is a discrepancy in the report.
pub fn audit(store: &Store) -> Result<AuditReport, EngineError> {
    // Everything the audit vouches for is read whole first, checksums verified: a damaged
    // read model or index is an error even where the bookkeeping below never looks.
    store.verify_all()?;
    let mut r = AuditReport::default();
    let mut l = Ledger::default();
    // Ids that took effect (an id is unique per account, `rating::recent`), and ids that were
    // rejected (a repeat of either is a duplicate).
    let mut effects = Effects {
        window: store.window()?.unwrap_or(rating::recent::DEFAULT_WINDOW),
        held: HashMap::new(),
        latest: HashMap::new(),
        ids: HashSet::new(),
    };
    let mut refused: HashSet<String> = HashSet::new();
    let mut last_position: HashMap<u32, u64> = HashMap::new();
    // Lines read in one stream: a file read in its own order (stores before files were read
    // as topics). Topics, from Kafka or a file, interleave their positions in event-time order.
    let kafka = store.meta_bytes(crate::keys::SOURCE)?.as_deref() != Some(b"file".as_slice())
        && store.meta_bytes(crate::keys::SOURCE)?.is_some();
    let (mut rated, mut rejected, mut duplicates, mut derived) = (0u64, 0u64, 0u64, 0u64);
    for item in store.log() {
        let (partition, seq, entry) = item?;
        r.entries += 1;
        let at = format!("{partition}/{seq}");
        let position = match &entry {
            Entry::Catalog { .. } => continue,
            Entry::Dead { position, .. } => {
                r.dead += 1;
                *position
            }
            Entry::Rated {
                position,
                input,
                decision,
            } => {
                let (input, d) = match decode_rated(partition, seq, input, decision) {
                    Ok(x) => x,
                    Err(e) => {
                        r.bad(format!("{at}: {e}"));
                        continue;
                    }
                };
                r.decisions += 1;
                if input.id() != d.event.as_str() {
                    r.bad(format!(
                        "{at}: decision for {} recorded with input {}",
                        d.event,
                        input.id()
                    ));
                }
                match (&input, &d.outcome) {
                    (Input::Tick(_), _) => r.ticks += 1,
                    (i, _) if i.is_derived() => derived += 1,
                    (_, Outcome::Rejected(_)) => rejected += 1,
                    (_, Outcome::Duplicate) => duplicates += 1,
                    _ => rated += 1,
                }
                match &d.outcome {
                    Outcome::Duplicate => {
                        if !effects.ids.contains(d.event.as_str())
                            && !refused.contains(d.event.as_str())
                        {
                            r.bad(format!(
                                "{at}: {} called a duplicate of nothing earlier",
                                d.event
                            ));
                        }
                    }
                    Outcome::Rejected(_) => {
                        refused.insert(d.event.to_string());
                    }
                    Outcome::TransferBounced {
                        transfer,
                        from_account,
                        amount,
                        ..
                    } => {
                        effects.took_effect(&mut r, &at, &d);
                        l.transfer_step(&mut r, &at, (from_account, transfer), 2, *amount);
                    }
                    _ => {
                        effects.took_effect(&mut r, &at, &d);
                        book(&mut r, &mut l, &at, &d);
                    }
                }
                *position
            }
        };
        // Only a file's positions are one stream (a Kafka partition's log interleaves three
        // topics' offsets, in event-time order).
        if kafka {
            continue;
        }
        let last = last_position.entry(partition).or_insert(0);
        if position < *last {
            r.bad(format!("{at}: source position {position} after {last}"));
        }
        *last = position;
    }

    // Every line read is in the log once: rated, rejected, a duplicate or a dead letter.
    let c = store.counters()?;
    let logged = (rated, rejected, duplicates, r.dead, r.ticks, derived);
    if logged
        != (
            c.rated,
            c.rejected,
            c.duplicates,
            c.dead,
            c.ticks,
            c.derived,
        )
    {
        r.bad_overall(format!(
            "the log holds {rated} rated, {rejected} rejected, {duplicates} duplicates, {} dead, {} ticks, {derived} derived; the counters say {} {} {} {} {} {}",
            r.dead, r.ticks, c.rated, c.rejected, c.duplicates, c.dead, c.ticks, c.derived
        ));
    }
    // Each transfer sent is received, or bounced and refunded, for the amount sent; a step
    // without its debit is money from nowhere.
    let mut ids: Vec<_> = l.transfers.keys().cloned().collect();
    ids.sort();
    for id in ids {
        let TransferSteps([sent, received, bounced, refunded]) = &l.transfers[&id];
        let id = format!("{} of {}", id.1, id.0);
        match (sent, received, bounced, refunded) {
            (Some(_), None, None | Some(_), None) => {
                r.transfers_in_flight += 1;
            }
            (Some(s), Some(x), None, None) if s == x => {}
            (Some(s), None, Some(b), Some(x)) if s == b && s == x => {}
            other => r.bad(format!("transfer {id}: steps {other:?} do not settle it")),
        }
    }
    if c.read != c.rated + c.rejected + c.duplicates + c.dead {
        r.bad_overall(format!(
            "{} lines read, {} accounted for",
            c.read,
            c.rated + c.rejected + c.duplicates + c.dead
        ));
    }
    // A file's lines, over however many partitions, resume from one position.
    let stored = store
        .meta_u64(&crate::keys::position(None, 0))?
        .unwrap_or(0);
    for (p, last) in &last_position {
        if *last > stored {
            r.bad(format!(
                "partition {p}: the log reaches position {last}, the store resumes at {stored}"
            ));
        }
    }

    // The stored state is what the log says. The state is read as every reader reads it: the
    // records with the log's tail applied (`Store::load_state`), so a tail that does not apply
    // (an entry changed after it was written) is a discrepancy, not an error of the audit.
    let mut seen_accounts = HashSet::new();
    let mut state = Vec::new();
    for a in store.accounts() {
        match a {
            Ok(a) => state.push(a),
            Err(crate::store::StoreError::Corrupt(e)) => {
                r.bad_overall(format!(
                    "the stored state does not follow from the log: {e}"
                ));
                return Ok(r);
            }
            Err(e) => return Err(e.into()),
        }
    }
    for a in state {
        seen_accounts.insert(a.id.to_string());
        match l.balance.get(a.id.as_str()) {
            None => r.bad(format!(
                "account {} is stored but never opened in the log",
                a.id
            )),
            Some(b) if *b != a.balance => r.bad(format!(
                "account {}: the log gives balance {b}, the state holds {}",
                a.id, a.balance
            )),
            Some(_) => {}
        }
        // A released account keeps its numbers' last state as history; they are not its own.
        for n in a.numbers.iter().filter(|_| a.activity.released.is_none()) {
            if l.owner.get(&n.msisdn).map(String::as_str) != Some(a.id.as_str()) {
                r.bad(format!(
                    "number {} is stored in {} but the log puts it elsewhere",
                    n.msisdn, a.id
                ));
            }
            for b in &n.buckets {
                match l.buckets.remove(&(n.msisdn, b.id)) {
                    None => r.bad(format!(
                        "bucket {}/{} is stored but was never granted",
                        n.msisdn, b.id
                    )),
                    Some(u)
                        if u != (Units {
                            total: b.total,
                            remaining: b.remaining,
                        }) =>
                    {
                        r.bad(format!(
                            "bucket {}/{}: the log gives {} of {}, the state holds {} of {}",
                            n.msisdn, b.id, u.remaining, u.total, b.remaining, b.total
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
    }
    let mut missing: Vec<_> = l
        .buckets
        .keys()
        .filter(|(m, _)| l.owner.get(m).is_some_and(|a| seen_accounts.contains(a)))
        .collect();
    missing.sort();
    for (m, b) in missing {
        r.bad(format!(
            "bucket {m}/{b} is live in the log but not in the state"
        ));
    }
    for a in l.balance.keys() {
        if !seen_accounts.contains(a) {
            r.bad(format!(
                "account {a} was opened in the log but is not stored"
            ));
        }
    }
    r.accounts = l.balance.len();
    Ok(r)
}

/// The balance the log sums to is the one the decision records.
fn balance_is(r: &mut AuditReport, at: &str, d: &Decision, sums: Decimal, recorded: Decimal) {
    if sums != recorded {
        r.bad(format!(
            "{at}: balance after {} is recorded as {recorded}, the log sums to {sums}",
            d.event
        ));
    }
}

/// One effective decision into the ledger: money by kind, buckets by grant, take and expiry.
fn book(r: &mut AuditReport, l: &mut Ledger, at: &str, d: &Decision) {
    let account = match &d.outcome {
        Outcome::Opened { account, .. } => {
            if l.balance
                .insert(account.id.to_string(), account.balance)
                .is_some()
            {
                r.bad(format!("{at}: account {} opened twice", account.id));
            }
            for n in &account.numbers {
                l.owner.insert(n.msisdn, account.id.to_string());
                for b in &n.buckets {
                    l.grant(r, at, n.msisdn, b);
                }
            }
            account.id.to_string()
        }
        _ => match &d.account {
            Some(a) if l.balance.contains_key(a.as_str()) => a.to_string(),
            _ => {
                r.bad(format!(
                    "{at}: {} changes an account the log never opened",
                    d.event
                ));
                return;
            }
        },
    };
    if let Some(w) = &d.written_off {
        match l.promises.remove(&account) {
            Some((event, owed)) if event == w.promise.as_str() && owed == w.amount => {}
            other => r.bad(format!(
                "{at}: writes off {} of promise {} but the log owes {other:?}",
                w.amount, w.promise
            )),
        }
        *l.balance.get_mut(&account).expect("booked above") -= w.amount;
        r.written_off += w.amount;
    }
    let mut fees = Decimal::ZERO;
    for rn in &d.renewals {
        // What expiring buckets held is either lost or carried into a rollover bucket.
        let held: u64 = rn
            .expired
            .iter()
            .map(|e| l.expire(r, at, rn.msisdn, e.bucket))
            .sum();
        let lost: u64 = rn.expired.iter().map(|e| e.lost).sum();
        let carried: u64 = rn
            .granted
            .iter()
            .filter(|b| b.origin == rating::Origin::Rollover)
            .map(|b| b.total)
            .sum();
        if held != lost + carried {
            r.bad(format!(
                "{at}: renewal of {} expires {held} units but loses {lost} and carries {carried}",
                rn.msisdn
            ));
        }
        for b in &rn.granted {
            l.grant(r, at, rn.msisdn, b);
        }
        fees += rn.fees.iter().map(|f| f.amount).sum::<Decimal>();
    }
    if let Some(w) = &d.inactivity {
        fees += w.fees.iter().map(|f| f.amount).sum::<Decimal>();
        if w.released.is_some() {
            // Its numbers go back to the operator, with their buckets; another account may
            // take them.
            let numbers: HashSet<Msisdn> = l
                .owner
                .iter()
                .filter(|(_, a)| **a == account)
                .map(|(m, _)| *m)
                .collect();
            l.owner.retain(|m, _| !numbers.contains(m));
            l.buckets.retain(|(m, _), _| !numbers.contains(m));
        }
    }
    let bal = l.balance.get_mut(&account).expect("booked above");
    match &d.outcome {
        Outcome::Charged(c) => {
            *bal -= fees;
            for t in &c.takes {
                match l.buckets.get_mut(&(c.msisdn, t.bucket)) {
                    Some(u) if u.remaining >= t.units => u.remaining -= t.units,
                    Some(u) => r.bad(format!(
                        "{at}: takes {} units of bucket {}/{} holding {}",
                        t.units, c.msisdn, t.bucket, u.remaining
                    )),
                    None => r.bad(format!(
                        "{at}: takes from bucket {}/{} that is not live",
                        c.msisdn, t.bucket
                    )),
                }
            }
            if c.money.is_sign_negative() {
                r.bad(format!("{at}: a negative charge {}", c.money));
            }
            *bal -= c.money;
            r.charges += c.money;
            balance_is(r, at, d, *bal, c.balance_after);
        }
        Outcome::Paid {
            amount,
            repaid,
            balance_after,
            ..
        } => {
            if !repaid.is_zero() {
                match l.promises.get_mut(&account) {
                    Some((_, owed)) if *repaid <= *owed && *repaid <= *amount => {
                        *owed -= *repaid;
                        if owed.is_zero() {
                            l.promises.remove(&account);
                        }
                    }
                    other => r.bad(format!("{at}: repays {repaid} but the log owes {other:?}")),
                }
            } else if let Some((event, owed)) = l.promises.get(&account) {
                r.bad(format!(
                    "{at}: a payment repays nothing of promise {event} owing {owed}"
                ));
            }
            let bal = l.balance.get_mut(&account).expect("booked above");
            *bal -= fees;
            *bal += *amount - *repaid;
            r.payments += *amount;
            r.repaid += *repaid;
            balance_is(r, at, d, *bal, *balance_after);
        }
        Outcome::Opened { fees: f, .. } => fees += f.iter().map(|f| f.amount).sum::<Decimal>(),
        Outcome::NumberAdded { number, fees: f } => {
            fees += f.iter().map(|f| f.amount).sum::<Decimal>();
            if l.owner.insert(number.msisdn, account.clone()).is_some() {
                r.bad(format!("{at}: number {} added twice", number.msisdn));
            }
            for b in &number.buckets {
                l.grant(r, at, number.msisdn, b);
            }
        }
        Outcome::OptionActivated {
            msisdn,
            fees: f,
            granted,
            ..
        }
        | Outcome::StatusChanged {
            msisdn,
            fees: f,
            granted,
            ..
        } => {
            fees += f.iter().map(|f| f.amount).sum::<Decimal>();
            for b in granted {
                l.grant(r, at, *msisdn, b);
            }
        }
        Outcome::OptionDeactivated {
            msisdn, dropped, ..
        } => {
            for e in dropped {
                let held = l.expire(r, at, *msisdn, e.bucket);
                if held != e.lost {
                    r.bad(format!(
                        "{at}: bucket {msisdn}/{} dropped losing {} but holds {held}",
                        e.bucket, e.lost
                    ));
                }
            }
        }
        Outcome::DetalizationOrdered {
            msisdn,
            month,
            free,
            fee,
            balance_after,
            ..
        } => {
            if *free && !fee.is_zero() {
                r.bad(format!("{at}: a free report that costs {fee}"));
            }
            if *free {
                match month {
                    Some(m) if !l.free_reports.insert((*msisdn, *m)) => {
                        r.bad(format!("{at}: a second free report of {m} for {msisdn}"));
                    }
                    Some(_) => {}
                    None => r.bad(format!("{at}: a free report of no whole month")),
                }
            }
            let bal = l.balance.get_mut(&account).expect("booked above");
            *bal -= fees + *fee;
            fees += *fee;
            balance_is(r, at, d, *bal, *balance_after);
        }
        Outcome::PromiseGranted {
            amount,
            fee,
            balance_after,
            ..
        } => {
            if let Some((event, owed)) = l.promises.get(&account) {
                r.bad(format!("{at}: a second promise while {event} owes {owed}"));
            }
            l.promises
                .insert(account.clone(), (d.event.to_string(), *amount));
            let bal = l.balance.get_mut(&account).expect("booked above");
            *bal -= fees + *fee;
            *bal += *amount;
            fees += *fee;
            r.promised += *amount;
            balance_is(r, at, d, *bal, *balance_after);
        }
        Outcome::PlanChanged {
            msisdn,
            fees: f,
            dropped,
            granted,
            balance_after,
            ..
        } => {
            for e in dropped {
                let held = l.expire(r, at, *msisdn, e.bucket);
                if held != e.lost {
                    r.bad(format!(
                        "{at}: bucket {msisdn}/{} dropped losing {} but holds {held}",
                        e.bucket, e.lost
                    ));
                }
            }
            for b in granted {
                l.grant(r, at, *msisdn, b);
            }
            let own: Decimal = f.iter().map(|f| f.amount).sum();
            fees += own;
            let bal = l.balance.get_mut(&account).expect("booked above");
            *bal -= fees;
            balance_is(r, at, d, *bal, *balance_after);
        }
        Outcome::TransferSent {
            amount,
            fee,
            balance_after,
            ..
        } => {
            r.transfers += *amount;
            fees += *fee;
            l.transfer_step(r, at, (&account, &d.event), 0, *amount);
            let bal = l.balance.get_mut(&account).expect("booked above");
            *bal -= fees + *amount;
            balance_is(r, at, d, *bal, *balance_after);
        }
        Outcome::TransferReceived {
            transfer,
            amount,
            balance_after,
            ..
        }
        | Outcome::TransferRefunded {
            transfer,
            amount,
            balance_after,
        } => {
            let (step, sender) = match &d.outcome {
                Outcome::TransferReceived { from_account, .. } => (1, from_account.as_str()),
                _ => (3, account.as_str()),
            };
            l.transfer_step(r, at, (sender, transfer), step, *amount);
            let bal = l.balance.get_mut(&account).expect("booked above");
            *bal += *amount;
            *bal -= fees;
            balance_is(r, at, d, *bal, *balance_after);
        }
        Outcome::TransferBounced { .. } => unreachable!("booked by the caller"),
        Outcome::CreditLimitSet { .. }
        | Outcome::BalanceAlertsSet { .. }
        | Outcome::SpendingLimitSet { .. }
        | Outcome::GroupSet { .. }
        | Outcome::Ticked => {}
        Outcome::Duplicate | Outcome::Rejected(_) => unreachable!("not booked"),
    }
    if !matches!(
        d.outcome,
        Outcome::Charged(_)
            | Outcome::Paid { .. }
            | Outcome::DetalizationOrdered { .. }
            | Outcome::PromiseGranted { .. }
            | Outcome::PlanChanged { .. }
            | Outcome::TransferSent { .. }
            | Outcome::TransferReceived { .. }
            | Outcome::TransferRefunded { .. }
    ) {
        *l.balance.get_mut(&account).expect("booked above") -= fees;
    }
    r.fees += fees;
}
