//! `ratel audit`: an independent check of a store. It reads the log and recomputes, without the
//! rating core's `apply`, every account's balance from its payments, charges and fees, every
//! bucket from its grants, takes and expiries; it checks that no input id took effect twice, that
//! the log accounts for every line read (and for nothing else), and that the stored state is what
//! the log says. Any discrepancy is listed; `ok()` is false if there is one.

mod book;
mod ledger;
mod report;

pub use report::AuditReport;

use crate::entry::Entry;
use crate::pipeline::EngineError;
use crate::store::decode_rated;
use crate::store::Store;
use book::book;
use ledger::{Effects, Ledger, TransferSteps, Units};
use rating::{Decision, Input, Outcome};
use std::collections::{HashMap, HashSet};

/// Audits the store. Errors are for a store that cannot be read at all; everything the log or
/// the state gets wrong is a discrepancy in the report.
pub fn audit(store: &Store) -> Result<AuditReport, EngineError> {
    // Everything the audit vouches for is read whole first, checksums verified: a damaged
    // read model or index is an error even where the bookkeeping below never looks.
    store.verify_all()?;
    let source = store.meta_bytes(crate::keys::SOURCE)?;
    let mut walk = LogWalk {
        report: AuditReport::default(),
        ledger: Ledger::default(),
        effects: Effects {
            window: store.window()?.unwrap_or(rating::recent::DEFAULT_WINDOW),
            held: HashMap::new(),
            latest: HashMap::new(),
            ids: HashSet::new(),
        },
        refused: HashSet::new(),
        last_position: HashMap::new(),
        // Lines read in one stream: a file read in its own order (stores before files were
        // read as topics). Topics, from Kafka or a file, interleave their positions in
        // event-time order.
        kafka: source.is_some() && source.as_deref() != Some(b"file".as_slice()),
        tally: Tally::default(),
    };
    for item in store.log() {
        let (partition, seq, entry) = item?;
        walk.entry(partition, seq, &entry);
    }
    let LogWalk {
        mut report,
        mut ledger,
        last_position,
        tally,
        ..
    } = walk;
    let counters = store.counters()?;
    check_counts(&mut report, &tally, &counters);
    check_transfers(&mut report, &ledger);
    if counters.read != counters.rated + counters.rejected + counters.duplicates + counters.dead {
        report.bad_overall(format!(
            "{} lines read, {} accounted for",
            counters.read,
            counters.rated + counters.rejected + counters.duplicates + counters.dead
        ));
    }
    // A file's lines, over however many partitions, resume from one position.
    let stored = (store.meta_u64(&crate::keys::position(None, 0))?).unwrap_or(0);
    for (partition, last) in &last_position {
        if *last > stored {
            report.bad(format!(
                "partition {partition}: the log reaches position {last}, the store resumes at {stored}"
            ));
        }
    }
    check_totals(&mut report, &ledger);
    check_state(store, &mut report, &mut ledger)?;
    report.accounts = ledger.balance.len();
    Ok(report)
}

/// What the log holds, by kind, to compare with the counters.
#[derive(Default)]
struct Tally {
    rated: u64,
    rejected: u64,
    duplicates: u64,
    derived: u64,
}

/// The audit's pass over the log, entry by entry.
struct LogWalk {
    report: AuditReport,
    ledger: Ledger,
    /// Ids that took effect (an id is unique per account, `rating::recent`).
    effects: Effects,
    /// Ids that were rejected (a repeat of either is a duplicate).
    refused: HashSet<String>,
    last_position: HashMap<u32, u64>,
    kafka: bool,
    tally: Tally,
}

impl LogWalk {
    fn entry(&mut self, partition: u32, seq: u64, entry: &Entry) {
        self.report.entries += 1;
        let at = format!("{partition}/{seq}");
        let position = match entry {
            Entry::Catalog { .. } => return,
            Entry::Dead { position, .. } => {
                self.report.dead += 1;
                *position
            }
            Entry::Rated {
                position,
                input,
                decision,
            } => {
                match decode_rated(partition, seq, input, decision) {
                    Ok((input, decision)) => self.rated(&at, &input, &decision),
                    Err(e) => {
                        self.report.bad(format!("{at}: {e}"));
                        return;
                    }
                }
                *position
            }
        };
        // Only a file's positions are one stream (a Kafka partition's log interleaves three
        // topics' offsets, in event-time order).
        if self.kafka {
            return;
        }
        let last = self.last_position.entry(partition).or_insert(0);
        if position < *last {
            self.report
                .bad(format!("{at}: source position {position} after {last}"));
        }
        *last = position;
    }

    fn rated(&mut self, at: &str, input: &Input, decided: &Decision) {
        let r = &mut self.report;
        r.decisions += 1;
        if input.id() != decided.event.as_str() {
            r.bad(format!(
                "{at}: decision for {} recorded with input {}",
                decided.event,
                input.id()
            ));
        }
        match (input, &decided.outcome) {
            (Input::Tick(_), _) => r.ticks += 1,
            (i, _) if i.is_derived() => self.tally.derived += 1,
            (_, Outcome::Rejected(_)) => self.tally.rejected += 1,
            (_, Outcome::Duplicate) => self.tally.duplicates += 1,
            _ => self.tally.rated += 1,
        }
        match &decided.outcome {
            Outcome::Duplicate => {
                let event = decided.event.as_str();
                if !self.effects.ids.contains(event) && !self.refused.contains(event) {
                    r.bad(format!(
                        "{at}: {} called a duplicate of nothing earlier",
                        decided.event
                    ));
                }
            }
            Outcome::Rejected(_) => {
                self.refused.insert(decided.event.to_string());
            }
            Outcome::TransferBounced {
                transfer,
                from_account,
                amount,
                ..
            } => {
                self.effects.took_effect(r, at, decided);
                let step = (from_account.as_str(), transfer.as_str());
                self.ledger.transfer_step(r, at, step, 2, *amount);
            }
            _ => {
                self.effects.took_effect(r, at, decided);
                book(r, &mut self.ledger, at, decided);
            }
        }
    }
}

/// Every line read is in the log once: rated, rejected, a duplicate or a dead letter.
fn check_counts(report: &mut AuditReport, tally: &Tally, counters: &crate::store::Counters) {
    let Tally {
        rated,
        rejected,
        duplicates,
        derived,
    } = *tally;
    let logged = (
        rated,
        rejected,
        duplicates,
        report.dead,
        report.ticks,
        derived,
    );
    if logged
        != (
            counters.rated,
            counters.rejected,
            counters.duplicates,
            counters.dead,
            counters.ticks,
            counters.derived,
        )
    {
        report.bad_overall(format!(
            "the log holds {rated} rated, {rejected} rejected, {duplicates} duplicates, {} dead, {} ticks, {derived} derived; the counters say {} {} {} {} {} {}",
            report.dead, report.ticks, counters.rated, counters.rejected, counters.duplicates, counters.dead, counters.ticks, counters.derived
        ));
    }
}

/// The balances the log sums to add up to the money it moved by kind: a movement booked to an
/// account but to no total (or the other way round) is a discrepancy.
fn check_totals(report: &mut AuditReport, ledger: &Ledger) {
    report.balances = ledger.balance.values().copied().sum();
    if report.balances != report.moved() {
        report.bad_overall(format!(
            "the balances do not add up to the money moved: {} (the kinds come to {})",
            report.totals_line(),
            report.moved()
        ));
    }
}

/// Each transfer sent is received, or bounced and refunded, for the amount sent; a step
/// without its debit is money from nowhere.
fn check_transfers(report: &mut AuditReport, ledger: &Ledger) {
    let mut ids: Vec<_> = ledger.transfers.keys().cloned().collect();
    ids.sort();
    for id in ids {
        let TransferSteps([sent, received, bounced, refunded]) = &ledger.transfers[&id];
        let id = format!("{} of {}", id.1, id.0);
        match (sent, received, bounced, refunded) {
            (Some(sent), None, None | Some(_), None) => {
                report.transfers_in_flight += 1;
                report.in_flight += *sent;
            }
            (Some(s), Some(x), None, None) if s == x => {}
            (Some(s), None, Some(b), Some(x)) if s == b && s == x => {}
            other => report.bad(format!("transfer {id}: steps {other:?} do not settle it")),
        }
    }
}

/// The stored state is what the log says. The state is read as every reader reads it: the
/// records with the log's tail applied (`Store::load_state`), so a tail that does not apply (an
/// entry changed after it was written) is a discrepancy, not an error of the audit.
fn check_state(
    store: &Store,
    report: &mut AuditReport,
    ledger: &mut Ledger,
) -> Result<(), EngineError> {
    let mut seen_accounts = HashSet::new();
    let mut state = Vec::new();
    for a in store.accounts() {
        match a {
            Ok(a) => state.push(a),
            Err(crate::store::StoreError::Corrupt(e)) => {
                report.bad_overall(format!(
                    "the stored state does not follow from the log: {e}"
                ));
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
    }
    for account in &state {
        seen_accounts.insert(account.id.to_string());
        check_account(report, ledger, account);
    }
    let mut missing: Vec<_> = ledger
        .buckets
        .keys()
        .filter(|(m, _)| {
            ledger
                .owner
                .get(m)
                .is_some_and(|a| seen_accounts.contains(a))
        })
        .collect();
    missing.sort();
    for (m, b) in missing {
        report.bad(format!(
            "bucket {m}/{b} is live in the log but not in the state"
        ));
    }
    for a in ledger.balance.keys() {
        if !seen_accounts.contains(a) {
            report.bad(format!(
                "account {a} was opened in the log but is not stored"
            ));
        }
    }
    Ok(())
}

/// The stored account's open sessions are the ones the log left open, holding what it says;
/// each is taken off the ledger, and counted in the report's reserved money.
fn check_sessions(report: &mut AuditReport, ledger: &mut Ledger, account: &rating::Account) {
    for session in &account.sessions {
        let key = (account.id.to_string(), session.id.to_string());
        match ledger.sessions.remove(&key) {
            None => report.bad(format!(
                "account {}: session {} is open in the state but not in the log",
                account.id, session.id
            )),
            Some(held) if held != session.hold.money => report.bad(format!(
                "account {}: session {} holds {held} in the log, {} in the state",
                account.id, session.id, session.hold.money
            )),
            Some(_) => {}
        }
        report.sessions_open += 1;
        report.reserved += session.hold.money;
    }
}

/// One stored account against the ledger: its balance, its numbers' owner, its buckets (each
/// taken off the ledger, so that what remains there is missing from the state).
fn check_account(report: &mut AuditReport, ledger: &mut Ledger, account: &rating::Account) {
    check_sessions(report, ledger, account);
    match ledger.balance.get(account.id.as_str()) {
        None => report.bad(format!(
            "account {} is stored but never opened in the log",
            account.id
        )),
        Some(b) if *b != account.balance => report.bad(format!(
            "account {}: the log gives balance {b}, the state holds {}",
            account.id, account.balance
        )),
        Some(_) => {}
    }
    // A released account keeps its numbers' last state as history; they are not its own.
    for n in account
        .numbers
        .iter()
        .filter(|_| account.activity.released.is_none())
    {
        if ledger.owner.get(&n.msisdn).map(String::as_str) != Some(account.id.as_str()) {
            report.bad(format!(
                "number {} is stored in {} but the log puts it elsewhere",
                n.msisdn, account.id
            ));
        }
        for b in &n.buckets {
            match ledger.buckets.remove(&(n.msisdn, b.id)) {
                None => report.bad(format!(
                    "bucket {}/{} is stored but was never granted",
                    n.msisdn, b.id
                )),
                Some(u)
                    if u != (Units {
                        total: b.total,
                        remaining: b.remaining,
                    }) =>
                {
                    report.bad(format!(
                        "bucket {}/{}: the log gives {} of {}, the state holds {} of {}",
                        n.msisdn, b.id, u.remaining, u.total, b.remaining, b.total
                    ));
                }
                Some(_) => {}
            }
        }
    }
}
