//! The earlier decisions that refunds and reversals name (`Input::refers_to`): found in this
//! batch's decisions, or in the account's entries in the store, and recorded with the input
//! (`rating::refund::with_found`) so that rating reads no log and replay reads the same.
//!
//! The store holds every batch before this one only once they have landed: a run lands the
//! batches in flight before it rates a batch that holds a reference ([`holds_reference`]).

use crate::store::{Store, StoreError};
use rating::{AccountId, Catalog, Decision, EventId, Input};
use std::collections::{HashMap, HashSet};

/// Whether a batch holds an input that names an earlier decision.
pub fn holds_reference(parsed: &[Result<Input, String>]) -> bool {
    parsed
        .iter()
        .any(|i| i.as_ref().is_ok_and(|i| i.refers_to().is_some()))
}

/// The decisions of the batch being rated that a later input of the batch names.
#[derive(Default)]
pub(super) struct References {
    wanted: HashSet<(AccountId, EventId)>,
    decided: HashMap<(AccountId, EventId), Decision>,
}

impl References {
    /// A new batch: what its inputs name.
    pub(super) fn expect(&mut self, parsed: &[Result<Input, String>]) {
        self.wanted.clear();
        self.decided.clear();
        for input in parsed.iter().flatten() {
            if let Some((account, event)) = input.refers_to() {
                self.wanted.insert((account.clone(), event.clone()));
            }
        }
    }

    /// A decision of the batch, kept if a later input may name it.
    pub(super) fn note(&mut self, decision: &Decision) {
        if self.wanted.is_empty() || !rating::refund::may_be_named(decision) {
            return;
        }
        if let Some(account) = &decision.account {
            let key = (account.clone(), decision.event.clone());
            if self.wanted.contains(&key) {
                self.decided.insert(key, decision.clone());
            }
        }
    }

    /// `input` (a refund, a reversal) with what the decision it names took or brought, or
    /// nothing where its account has no such decision. `cat` is the catalog in force;
    /// `recorded` reads another the log recorded, by its tag.
    pub(super) fn resolve<E: From<StoreError>>(
        &self,
        (store, cat): (&Store, &Catalog),
        input: &Input,
        recorded: impl FnOnce(u64) -> Result<Catalog, E>,
    ) -> Result<Input, E> {
        let (account, event) = input.refers_to().expect("called for a reference");
        let key = (account.clone(), event.clone());
        let found = match self.decided.get(&key) {
            Some(decision) => rating::refund::found(input, cat, decision),
            None => match store.find_decision(account, event, rating::refund::may_be_named)? {
                Some(decision) if decision.catalog == cat.tag() => {
                    rating::refund::found(input, cat, &decision)
                }
                Some(decision) => {
                    let made_by = recorded(decision.catalog)?;
                    rating::refund::found(input, &made_by, &decision)
                }
                None => None,
            },
        };
        Ok(rating::refund::with_found(input, found))
    }
}
