//! Account state: balances, numbers, their plans, options and package buckets, and the ids of
//! events already applied. State changes only by applying a [`crate::Decision`].

use crate::event::{AccountId, EventId, Month, Msisdn};
use crate::recent::{Recent, Seen, DEFAULT_WINDOW, MAX_WINDOW, MIN_WINDOW};
use crate::session::Session;
use crate::time::Timestamp;
use rust_decimal::Decimal;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

pub use crate::event::Autopay;
pub use crate::number::{Bucket, Number, NumberStatus, Origin, SpendingLimit};

/// A promised payment: money credited now against payments to come. Payments repay what is
/// outstanding first; what is still outstanding when it expires is written off the balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promise {
    pub event: EventId,
    #[serde(with = "crate::money::amount")]
    pub amount: Decimal,
    #[serde(with = "crate::money::amount")]
    pub outstanding: Decimal,
    pub granted: Timestamp,
    pub expires: Timestamp,
}

/// Money paid into an account in one calendar month (the catalog's time zone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthPaid {
    pub month: Month,
    #[serde(with = "crate::money::amount")]
    pub amount: Decimal,
}

/// Where an account stands under the catalog's inactivity rules (all by event time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// The last payment in (or the opening): inactivity days count from its local date.
    pub last_topup: Timestamp,
    /// Daily inactivity fees charged since that payment.
    pub fee_days: u32,
    /// Since when the balance has been zero or below (the first event that left it there).
    pub nonpositive_since: Option<Timestamp>,
    /// Blocked for inactivity: restorable by a payment until it is released.
    pub blocked: Option<Timestamp>,
    /// Released: the numbers went back to the operator; the account takes no more usage.
    pub released: Option<Timestamp>,
}

impl Activity {
    /// Notes the balance an event left: the clock of "zero or below" starts at the first such
    /// event and stops at the first one above zero, which also restores a blocked account.
    pub(crate) fn note_balance(&mut self, balance: Decimal, at: Timestamp) {
        if balance > Decimal::ZERO {
            self.nonpositive_since = None;
            if self.released.is_none() {
                self.blocked = None;
            }
        } else if self.nonpositive_since.is_none() {
            self.nonpositive_since = Some(at);
        }
    }

    pub fn new(opened: Timestamp) -> Activity {
        Activity {
            last_topup: opened,
            fee_days: 0,
            nonpositive_since: Some(opened),
            blocked: None,
            released: None,
        }
    }
}

/// Months of payments an account keeps: the promised-payment policy looks at three.
pub const PAID_MONTHS: usize = 3;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    #[serde(with = "crate::money::amount")]
    pub balance: Decimal,
    /// How far below zero the balance may go.
    #[serde(with = "crate::money::amount")]
    pub credit_limit: Decimal,
    pub numbers: Vec<Number>,
    /// The promised payment not yet repaid or written off, if any.
    pub promise: Option<Promise>,
    /// Payments of the latest months, oldest first, at most [`PAID_MONTHS`].
    #[serde(with = "crate::small_vec")]
    pub paid: SmallVec<[MonthPaid; PAID_MONTHS]>,
    pub autopay: Option<Autopay>,
    /// Notify the subscriber when the balance falls below this.
    #[serde(with = "crate::money::opt_amount")]
    pub low_balance: Option<Decimal>,
    pub activity: Activity,
    pub loyalty: Loyalty,
    /// What was refunded of each charge, and the payments reversed, that are still refundable
    /// ([`REFUNDABLE_DAYS`]). Kept in the account's record after the account (record layout 8),
    /// not in the account's own encoding, which decisions of older layouts hold.
    #[serde(skip)]
    pub refunds: Vec<Refunded>,
    /// Online sessions open on the account's numbers, at most
    /// [`crate::session::MAX_OPEN_SESSIONS`]. Kept in the account's record after the refunds
    /// (record layout 9), not in the account's own encoding.
    #[serde(skip)]
    pub sessions: Vec<Session>,
    /// Sessions ended lately, the latest last, at most
    /// [`crate::session::MAX_ENDED_SESSIONS`]: their CDRs are reconciled, not charged. Kept in
    /// the account's record after the open sessions (record layout 10).
    #[serde(skip)]
    pub ended_sessions: Vec<crate::session::EndedSession>,
}

/// How long after a charge or a payment it can be refunded or reversed, in days of event time.
pub const REFUNDABLE_DAYS: u64 = 400;
/// The most charges and payments an account keeps refunds of at once.
pub const MAX_REFUNDED: usize = 1_000;

/// What has been refunded of one charge (money, and units), or a payment reversed (`money` its
/// amount).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refunded {
    pub event: EventId,
    /// The charge's or payment's event time: the entry is dropped once it is no longer
    /// refundable.
    pub time: Timestamp,
    #[serde(with = "crate::money::amount")]
    pub money: Decimal,
    pub units: u64,
}

impl Account {
    /// What was refunded of the charge (or payment) `event` so far.
    pub fn refunded(&self, event: &str) -> Option<&Refunded> {
        self.refunds.iter().find(|r| r.event == event)
    }
}

/// Loyalty points earned, and spending that counts towards the next one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loyalty {
    pub points: u64,
    #[serde(with = "crate::money::amount")]
    pub towards_next: Decimal,
}

impl Account {
    pub fn new(
        id: AccountId,
        credit_limit: Decimal,
        numbers: Vec<Number>,
        opened: Timestamp,
    ) -> Account {
        Account {
            id,
            balance: Decimal::ZERO,
            credit_limit,
            numbers,
            promise: None,
            paid: SmallVec::new(),
            autopay: None,
            low_balance: None,
            activity: Activity::new(opened),
            loyalty: Loyalty::default(),
            refunds: Vec::new(),
            sessions: Vec::new(),
            ended_sessions: Vec::new(),
        }
    }

    pub fn next_due(&self) -> Timestamp {
        let numbers = self
            .numbers
            .iter()
            .map(|n| n.next_due)
            .min()
            .unwrap_or(crate::time::NEVER);
        match &self.promise {
            Some(p) => numbers.min(p.expires),
            None => numbers,
        }
    }

    /// Money paid in `month` and the months before it that the account remembers.
    pub fn paid_since(&self, first: Month) -> Decimal {
        self.paid
            .iter()
            .filter(|p| p.month >= first)
            .map(|p| p.amount)
            .sum()
    }

    /// Books a payment in its month, forgetting months beyond [`PAID_MONTHS`].
    pub(crate) fn book_payment(&mut self, month: Month, amount: Decimal) {
        match self.paid.iter_mut().find(|p| p.month == month) {
            Some(p) => p.amount += amount,
            None => {
                self.paid.push(MonthPaid { month, amount });
                self.paid.sort_by_key(|p| p.month);
                if self.paid.len() > PAID_MONTHS {
                    self.paid.remove(0);
                }
            }
        }
    }

    pub fn number(&self, msisdn: Msisdn) -> Option<&Number> {
        self.numbers.iter().find(|n| n.msisdn == msisdn)
    }

    pub fn number_mut(&mut self, msisdn: Msisdn) -> Option<&mut Number> {
        self.numbers.iter_mut().find(|n| n.msisdn == msisdn)
    }

    /// Below the credit limit: outgoing chargeable usage is flagged.
    pub fn over_limit(&self) -> bool {
        self.balance < -self.credit_limit
    }
}

/// A number whose holder changed ([`State::take_renumbered`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Renumbered {
    pub msisdn: Msisdn,
    /// The account whose decision changed it.
    pub by: AccountId,
    /// The account holding it now.
    pub holder: Option<AccountId>,
}

/// What a runtime that holds accounts within a memory budget notes of each, kept beside the
/// account so that its notes need no index of their own (a map by id cost a hash lookup an
/// account read, and one more an account written). No decision reads or changes a mark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mark {
    /// The last batch (or chunk of a replay) that read or changed the account.
    pub last_use: u64,
    /// What the account takes in memory ([`State::footprint`]) when the runtime last noted it;
    /// 0 until it does.
    pub bytes: usize,
    /// The time the runtime's index of periodic work holds for it, if known.
    pub due: Option<Timestamp>,
}

/// All accounts of one partition (or of the whole system in memory).
#[derive(Clone, Debug)]
pub struct State {
    accounts: Vec<Account>,
    /// Beside `accounts`, index for index: the ids each account decided lately.
    recent: Vec<Recent>,
    /// Beside `accounts`, index for index: the runtime's notes ([`Mark`]).
    marks: Vec<Mark>,
    by_id: FxHashMap<AccountId, u32>,
    by_msisdn: FxHashMap<Msisdn, u32>,
    /// How long an account remembers its inputs' ids (seconds of event time; `crate::recent`).
    window: i64,
    /// Months whose free whole-month detalization each number has had.
    free_reports: FxHashSet<(Msisdn, Month)>,
    /// The numbers whose holder the decisions applied since [`State::take_renumbered`] changed
    /// (an account opened, a number added, an account released): what an engine writes to
    /// its index of holders.
    renumbered: Vec<(Msisdn, u32)>,
}

impl Default for State {
    fn default() -> Self {
        State::with_window(DEFAULT_WINDOW)
    }
}

impl State {
    pub fn new() -> State {
        State::default()
    }

    /// A state whose accounts remember their inputs' ids for `window` seconds of event time.
    pub fn with_window(window: i64) -> State {
        assert!(
            (MIN_WINDOW..=MAX_WINDOW).contains(&window),
            "window {window} s out of bounds"
        );
        State {
            accounts: Vec::new(),
            recent: Vec::new(),
            marks: Vec::new(),
            by_id: FxHashMap::default(),
            by_msisdn: FxHashMap::default(),
            window,
            free_reports: FxHashSet::default(),
            renumbered: Vec::new(),
        }
    }

    pub fn window(&self) -> i64 {
        self.window
    }

    pub fn account(&self, id: &str) -> Option<&Account> {
        self.by_id.get(id).map(|&i| &self.accounts[i as usize])
    }

    pub fn account_of_number(&self, msisdn: Msisdn) -> Option<&Account> {
        self.account_of(msisdn)
    }

    pub(crate) fn account_of(&self, msisdn: Msisdn) -> Option<&Account> {
        self.index_of_number(msisdn).map(|i| self.account_at(i))
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.iter()
    }

    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// What `account` remembers of `input` (`crate::recent`). What the engine derives from its
    /// own log is owed whenever it comes: never too late.
    pub fn seen(&self, account: &str, input: &crate::Input) -> Seen {
        match self.by_id.get(account) {
            Some(&i) => self.seen_at(i, input),
            None => Seen::Fresh,
        }
    }

    /// [`State::seen`] for the account at index `index` (from [`State::index_of_number`]).
    pub(crate) fn seen_at(&self, index: u32, input: &crate::Input) -> Seen {
        let owed = input.is_derived() || matches!(input, crate::Input::Tick(_));
        self.recent[index as usize].check(input.id(), input.time(), owed, self.window)
    }

    /// Where the account holding a number is kept: one look-up serves the account and what it
    /// remembers.
    pub fn index_of_number(&self, msisdn: Msisdn) -> Option<u32> {
        self.by_msisdn.get(&msisdn).copied()
    }

    /// An account's index: its place among the accounts, which it keeps until accounts are let
    /// go ([`State::retain_accounts`]).
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    /// The account at index `index` and the ids it holds.
    pub fn by_index(&self, index: u32) -> Option<(&Account, &Recent)> {
        Some((
            self.accounts.get(index as usize)?,
            self.recent.get(index as usize)?,
        ))
    }

    /// Looks an account's id up in the index, for a cache hint: the lookup that applying its
    /// decision makes finds the entry in the cache.
    pub(crate) fn warm_id(&self, id: &str) {
        std::hint::black_box(self.by_id.get(id));
    }

    pub(crate) fn account_at(&self, index: u32) -> &Account {
        let a = &self.accounts[index as usize];
        debug_assert!(
            a.activity.released.is_none(),
            "a released account's numbers are out of the index"
        );
        a
    }

    /// The runtime's notes of every account, index for index ([`Mark`]).
    pub fn marks(&self) -> &[Mark] {
        &self.marks
    }

    /// The runtime's notes of the account at `index`.
    pub fn mark_mut(&mut self, index: u32) -> &mut Mark {
        &mut self.marks[index as usize]
    }

    /// The ids held in memory, over all accounts.
    pub fn seen_count(&self) -> usize {
        self.recent.iter().map(Recent::len).sum()
    }

    /// The ids `account` holds, with their event times.
    pub fn recent(&self, account: &str) -> Option<&Recent> {
        self.by_id.get(account).map(|&i| &self.recent[i as usize])
    }

    pub(crate) fn account_mut(&mut self, id: &str) -> Option<&mut Account> {
        let i = *self.by_id.get(id)?;
        Some(&mut self.accounts[i as usize])
    }

    pub(crate) fn insert_account(&mut self, opened: Account) {
        let i = self.accounts.len() as u32;
        if opened.activity.released.is_none() {
            (self.renumbered).extend(opened.numbers.iter().map(|n| (n.msisdn, i)));
        }
        self.insert_loaded(opened);
    }

    fn insert_loaded(&mut self, opened: Account) {
        let i = self.accounts.len() as u32;
        // A released account's numbers went back to the operator (another account may hold
        // them now): they do not point at it.
        for n in opened
            .numbers
            .iter()
            .filter(|_| opened.activity.released.is_none())
        {
            self.by_msisdn.insert(n.msisdn, i);
        }
        self.by_id.insert(opened.id.clone(), i);
        self.accounts.push(opened);
        self.recent.push(Recent::default());
        self.marks.push(Mark::default());
    }

    /// The numbers of a released account go back to the operator: they no longer lead to it.
    pub(crate) fn release_numbers(&mut self, account: &str) {
        let Some(&i) = self.by_id.get(account) else {
            return;
        };
        for n in &self.accounts[i as usize].numbers {
            if self.by_msisdn.get(&n.msisdn) == Some(&i) {
                self.by_msisdn.remove(&n.msisdn);
                self.renumbered.push((n.msisdn, i));
            }
        }
    }

    pub(crate) fn index_number(&mut self, account: &str, msisdn: Msisdn) {
        let i = self.by_id[account];
        self.by_msisdn.insert(msisdn, i);
        self.renumbered.push((msisdn, i));
    }

    /// The numbers whose holder changed since the last call, in the order they changed: each
    /// with the account that changed it, and the one that holds it now (`None`: no account
    /// does).
    pub fn take_renumbered(&mut self) -> Vec<Renumbered> {
        let changed = std::mem::take(&mut self.renumbered);
        let id = |i: u32| self.accounts[i as usize].id.clone();
        (changed.into_iter())
            .map(|(msisdn, by)| Renumbered {
                msisdn,
                by: id(by),
                holder: self.by_msisdn.get(&msisdn).map(|&i| id(i)),
            })
            .collect()
    }

    /// Keeps only the accounts `keep` says, given each one's index and mark (with what they
    /// remember), as a cache evicts: every number, id and free report of an account dropped
    /// leaves with it, and the accounts kept keep what the index said of their numbers, and
    /// their marks. Indexes of accounts change.
    pub fn retain_accounts(&mut self, mut keep: impl FnMut(u32, &Account, Mark) -> bool) {
        assert!(
            self.renumbered.is_empty(),
            "the numbers renumbered are taken before accounts move"
        );
        // In place, keeping the order: vectors built anew here grew by doubling into fresh
        // memory at every eviction, and the kernel's zeroing of those pages took a fifth of the
        // rating thread at ten million accounts (perf, 2026-12-07).
        let mut moved: Vec<Option<u32>> = Vec::with_capacity(self.accounts.len());
        let mut dropped_numbers = FxHashSet::default();
        let mut kept = 0;
        for i in 0..self.accounts.len() {
            let account = &self.accounts[i];
            if keep(i as u32, account, self.marks[i]) {
                moved.push(Some(kept as u32));
                self.accounts.swap(kept, i);
                self.recent.swap(kept, i);
                self.marks.swap(kept, i);
                kept += 1;
            } else {
                moved.push(None);
                self.by_id.remove(account.id.as_str());
                dropped_numbers.extend(account.numbers.iter().map(|n| n.msisdn));
            }
        }
        self.accounts.truncate(kept);
        self.recent.truncate(kept);
        self.marks.truncate(kept);
        for i in self.by_id.values_mut() {
            *i = moved[*i as usize].expect("an account kept keeps its id");
        }
        self.by_msisdn.retain(|_, i| match moved[*i as usize] {
            Some(new) => {
                *i = new;
                true
            }
            None => false,
        });
        (self.free_reports).retain(|(m, _)| !dropped_numbers.contains(m));
    }

    /// Replaces the whole account (used to restore state from a snapshot).
    pub fn restore(&mut self, account: Account) {
        match self.by_id.get(account.id.as_str()) {
            Some(&i) => {
                for n in account
                    .numbers
                    .iter()
                    .filter(|_| account.activity.released.is_none())
                {
                    self.by_msisdn.insert(n.msisdn, i);
                }
                self.accounts[i as usize] = account;
            }
            None => self.insert_loaded(account),
        }
    }

    pub fn free_report_used(&self, msisdn: Msisdn, month: Month) -> bool {
        self.free_reports.contains(&(msisdn, month))
    }

    pub fn free_reports(&self) -> impl Iterator<Item = (Msisdn, Month)> + '_ {
        self.free_reports.iter().copied()
    }

    /// Records a free report (from [`crate::apply`], or when restoring a snapshot).
    pub fn restore_free_report(&mut self, msisdn: Msisdn, month: Month) {
        self.free_reports.insert((msisdn, month));
    }

    /// Restores an id `account` decided at `at` (from a store made before checkpoints held the
    /// ids); `rated` as in [`Recent::remember`]. An id of an unknown account is ignored: it can
    /// never be asked for.
    pub fn restore_seen(
        &mut self,
        account: &str,
        id: &str,
        at: Timestamp,
        rated: bool,
        for_ever: bool,
    ) {
        // An id of an account the state does not hold can never be asked for.
        let _ = self.remember(account, id, at, rated, for_ever);
    }

    /// Restores what `account` remembers, as its checkpoint recorded it (after
    /// [`State::restore`] of the account itself).
    pub fn restore_recent(&mut self, account: &str, recent: Recent) {
        let i = *self
            .by_id
            .get(account)
            .expect("an account's ids are restored after the account");
        self.recent[i as usize] = recent;
    }

    /// Remembers an input `id` of `account` at `at` (`crate::recent`), once its decision is
    /// applied; `false` if the state holds no such account (a log applied out of its order).
    #[must_use]
    pub(crate) fn remember(
        &mut self,
        account: &str,
        id: &str,
        at: Timestamp,
        rated: bool,
        for_ever: bool,
    ) -> bool {
        let Some(&i) = self.by_id.get(account) else {
            return false;
        };
        self.remember_at(i, id, at, rated, for_ever);
        true
    }

    fn remember_at(&mut self, index: u32, id: &str, at: Timestamp, rated: bool, for_ever: bool) {
        self.recent[index as usize].remember(id, at, rated, for_ever, self.window);
    }
}
