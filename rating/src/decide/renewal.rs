//! The periodic work due on an account before an input of time `t` is decided: a promised
//! payment's write-off, the renewals of its numbers' periods, and the inactivity rules' work.

use crate::activity;
use crate::catalog::Catalog;
use crate::decision::{Decision, Outcome, WriteOff};
use crate::event::Input;
use crate::period;
use crate::state::Account;
use crate::time::Timestamp;
use crate::verdict::{decided, Due};

/// The account as it stands once periodic work due by `t` is done, and that work.
/// An account as of an event's time: itself when no periodic work was due (the hot path), or a
/// renewed copy. Boxed, unlike a `Cow`, so that the common case moves a pointer, not an account.
pub(crate) enum Current<'a> {
    Unchanged(&'a Account),
    Renewed(Box<Account>),
}

impl std::ops::Deref for Current<'_> {
    type Target = Account;
    fn deref(&self) -> &Account {
        match self {
            Current::Unchanged(a) => a,
            Current::Renewed(a) => a,
        }
    }
}

// The cheap test is inlined into the hot path; the work, rare, is out of line (`renewed_now`).
#[inline(always)]
pub(crate) fn renewed<'a>(cat: &Catalog, acct: &'a Account, at: Timestamp) -> (Current<'a>, Due) {
    // A released account has no periodic work: its numbers went back to the operator.
    if acct.activity.released.is_some()
        || (acct.next_due() > at && !activity::inactivity_due(cat, acct, at))
    {
        return (Current::Unchanged(acct), Due::default());
    }
    renewed_now(cat, acct, at)
}

/// The periodic work due on `acct` by `time`, and the account after it.
#[cold]
#[inline(never)]
fn renewed_now<'a>(cat: &Catalog, acct: &'a Account, time: Timestamp) -> (Current<'a>, Due) {
    let mut a = Box::new(acct.clone());
    let written_off = match &acct.promise {
        Some(p) if p.expires <= time => {
            let w = WriteOff {
                promise: p.event.clone(),
                amount: p.outstanding,
                at: p.expires,
            };
            crate::model::apply::apply_write_off(&mut a, &w)
                .expect("a write-off computed from this account applies to it");
            Some(w)
        }
        _ => None,
    };
    let renewals = period::renew(cat, &a, time);
    for r in &renewals {
        crate::model::apply::apply_renewal(&mut a, r)
            .expect("a renewal computed from this account applies to it");
    }
    let inactivity = activity::inactivity(cat, &a, time);
    if let Some(w) = &inactivity {
        crate::model::apply::apply_inactivity(&mut a, w);
    }
    (
        Current::Renewed(a),
        Due {
            written_off: written_off.map(Box::new),
            renewals,
            inactivity: inactivity.map(Box::new),
        },
    )
}

/// The decision of an input about `acct` at `at` whose outcome does not depend on the periodic
/// work due before it: that work, then `outcome`.
pub(crate) fn after_due(
    input: &Input,
    cat: &Catalog,
    acct: &Account,
    at: Timestamp,
    outcome: Outcome,
) -> Decision {
    let (_, due) = renewed(cat, acct, at);
    decided(input, cat, Some(&acct.id), due, outcome)
}
