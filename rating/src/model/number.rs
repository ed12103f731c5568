//! A number of an account: its plan, options and package buckets, its periods, its status and
//! limits, and when it joined the account; and how a number is read from records of every layout.

use crate::catalog::{AddonIdx, PackageIdx, PlanIdx};
use crate::event::{Month, Msisdn};
use crate::time::Timestamp;
use chrono::NaiveDate;
use compact_str::CompactString;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// Where a bucket's units came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Plan(PlanIdx),
    Addon(AddonIdx),
    /// Carried over from an earlier period of the same package.
    Rollover,
    /// Given by the operator (a `grant`).
    Goodwill,
    /// Bought with loyalty points (`redeem_points`).
    Loyalty,
}

/// An allowance of units of one package, valid for `[valid_from, valid_until)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Unique within its number, never reused.
    pub id: u32,
    pub package: PackageIdx,
    pub origin: Origin,
    pub total: u64,
    pub remaining: u64,
    pub valid_from: Timestamp,
    pub valid_until: Timestamp,
}

impl Bucket {
    pub fn valid_at(&self, at: Timestamp) -> bool {
        self.valid_from <= at && at < self.valid_until
    }
}

/// A number of an account. Read back through [`layout::deserialize`], which knows the layouts
/// before the joining time was recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Number {
    pub msisdn: Msisdn,
    pub plan: PlanIdx,
    #[serde(with = "crate::small_vec")]
    pub options: SmallVec<[AddonIdx; 2]>,
    pub buckets: Vec<Bucket>,
    /// Local date the number joined: its daily and monthly periods count from here.
    pub anchor: NaiveDate,
    /// Index of the current daily and monthly period (0 = the one that began at joining).
    pub days: u32,
    pub months: u32,
    /// The earliest event time at which periodic work (a fee, a renewal, an expiry) is due.
    pub next_due: Timestamp,
    pub next_bucket: u32,
    /// Whether the number may be used, and since when it may not.
    pub status: NumberStatus,
    /// A monthly spending limit on the number's usage (family and corporate accounts).
    pub limit: Option<SpendingLimit>,
    /// The group of the account's numbers it belongs to (a corporate client's department).
    pub group: Option<CompactString>,
    /// When the number joined its account: usage before it was another holder's, or nobody's.
    /// The layouts before it read as a prefix ([`layout3`]).
    pub joined: Timestamp,
    /// The plan and options whose fee of the current period the money could not pay (their
    /// catalog says `when_unpaid = "limit"`): that period's packages were not granted, and
    /// usage is charged in money, until a payment settles them. Layout 5; the layouts before
    /// it read as a prefix ([`layout4`]).
    #[serde(with = "crate::small_vec")]
    pub unpaid: SmallVec<[Offering; 1]>,
}

impl Number {
    /// Whether a fee of the number's plan or options is unpaid.
    pub fn is_unpaid(&self) -> bool {
        !self.unpaid.is_empty()
    }

    /// The status as views name it: `unpaid` for an active number with an unpaid fee.
    pub fn status_name(&self) -> &'static str {
        match self.status {
            NumberStatus::Active if self.is_unpaid() => "unpaid",
            status => status.name(),
        }
    }
}

/// A plan or an option of a number, as an unpaid fee names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Offering {
    Plan(PlanIdx),
    Addon(AddonIdx),
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Number, D::Error> {
        layout::deserialize(deserializer)
    }
}

/// A number's monthly spending limit, and what its usage spent in the month last charged.
/// Usage over it is still charged (it happened) but flagged, and the crossing is notified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendingLimit {
    #[serde(with = "crate::money::amount")]
    pub amount: Decimal,
    pub month: Month,
    #[serde(with = "crate::money::amount")]
    pub spent: Decimal,
}

/// A number's status. Usage of a number that is not active is still charged (CDRs arrive after
/// the fact) but flagged, so that the operator can see traffic that should not have happened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberStatus {
    #[default]
    Active,
    /// Voluntarily suspended by the subscriber: the catalog's reduced fee instead of the plan's.
    Suspended { since: Timestamp },
    /// Blocked because the SIM was reported lost: the catalog's lost-SIM fee, if any.
    Lost { since: Timestamp },
}

impl NumberStatus {
    pub fn is_active(&self) -> bool {
        matches!(self, NumberStatus::Active)
    }
    pub fn name(&self) -> &'static str {
        match self {
            NumberStatus::Active => "active",
            NumberStatus::Suspended { .. } => "suspended",
            NumberStatus::Lost { .. } => "lost",
        }
    }
}

/// Layout version 3: today's types, but a number without the time it joined its account. Such a
/// number is read as having joined at the earliest instant of its joining day in any time zone,
/// so that only the day rule it was decided by (usage on a local day before its joining day is
/// refused) applies to it.
///
/// A number sits inside accounts and decisions, and bincode has no field names to tell the
/// layouts apart, so whoever reads a record of this layout says so for the duration ([`read`])
/// and [`layout::deserialize`] reads the shorter form.
pub mod layout3 {
    use crate::catalog::{AddonIdx, PlanIdx};
    use crate::event::Msisdn;
    use crate::number::{Bucket, NumberStatus, SpendingLimit};
    use crate::time::Timestamp;
    use chrono::NaiveDate;
    use compact_str::CompactString;
    use serde::Deserialize;
    use smallvec::SmallVec;
    use std::cell::Cell;

    thread_local! {
        static READING: Cell<bool> = const { Cell::new(false) };
    }

    /// Runs `decode` with numbers read in layout 3.
    pub fn read<T>(decode: impl FnOnce() -> T) -> T {
        super::reading_with(&READING, decode)
    }

    pub(crate) fn reading() -> bool {
        READING.with(std::cell::Cell::get)
    }

    /// The earliest instant that is on `day` somewhere: its midnight at UTC+14, within the
    /// times a record may hold (a damaged record's day may be any date chrono knows).
    pub fn earliest_joining(day: NaiveDate) -> Timestamp {
        let midnight = day.and_time(chrono::NaiveTime::MIN).and_utc().timestamp();
        Timestamp((midnight - 14 * 3600).clamp(crate::time::MIN_TIME, crate::time::MAX_TIME))
    }

    #[derive(Deserialize)]
    pub struct Number {
        pub msisdn: Msisdn,
        pub plan: PlanIdx,
        #[serde(with = "crate::small_vec")]
        pub options: SmallVec<[AddonIdx; 2]>,
        pub buckets: Vec<Bucket>,
        pub anchor: NaiveDate,
        pub days: u32,
        pub months: u32,
        pub next_due: Timestamp,
        pub next_bucket: u32,
        pub status: NumberStatus,
        pub limit: Option<SpendingLimit>,
        pub group: Option<CompactString>,
    }

    impl From<Number> for crate::number::Number {
        fn from(number: Number) -> Self {
            crate::number::Number {
                msisdn: number.msisdn,
                plan: number.plan,
                options: number.options,
                buckets: number.buckets,
                anchor: number.anchor,
                days: number.days,
                months: number.months,
                next_due: number.next_due,
                next_bucket: number.next_bucket,
                status: number.status,
                limit: number.limit,
                group: number.group,
                joined: earliest_joining(number.anchor),
                unpaid: SmallVec::new(),
            }
        }
    }
}

/// Layout version 4: today's types, but a number without its unpaid fees and a renewal without
/// the number's unpaid fees after it. Whoever reads a record of this layout (or an older one
/// that holds today's renewals) says so for the duration ([`read`]), and the fields of layout 5
/// read as empty ([`since_layout_5`]).
pub mod layout4 {
    use std::cell::Cell;

    thread_local! {
        static READING: Cell<bool> = const { Cell::new(false) };
    }

    /// Runs `decode` with records read in layout 4.
    pub fn read<T>(decode: impl FnOnce() -> T) -> T {
        super::reading_with(&READING, decode)
    }

    pub(crate) fn reading() -> bool {
        READING.with(std::cell::Cell::get)
    }
}

/// Runs `decode` with an older layout's flag set, and puts the flag back as it was, even if
/// `decode` unwinds.
fn reading_with<T>(
    flag: &'static std::thread::LocalKey<std::cell::Cell<bool>>,
    decode: impl FnOnce() -> T,
) -> T {
    struct Restore(&'static std::thread::LocalKey<std::cell::Cell<bool>>, bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            self.0.with(|r| r.set(self.1));
        }
    }
    let _restore = Restore(flag, flag.with(|r| r.replace(true)));
    decode()
}

/// A field of layout 5 (unpaid fees): read from today's records, empty in older ones, which
/// end before it. Such a field comes last, so that nothing of an older record is read for it.
pub fn since_layout_5<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<SmallVec<[Offering; 1]>, D::Error> {
    if layout3::reading() || layout4::reading() {
        Ok(SmallVec::new())
    } else {
        crate::small_vec::deserialize(deserializer)
    }
}

/// How a [`crate::number::Number`] is read back: in today's layout, or in layout 3's while a
/// record of that layout is read ([`layout3::read`]).
pub mod layout {
    use crate::catalog::{AddonIdx, PlanIdx};
    use crate::event::Msisdn;
    use crate::number::{Bucket, Number, NumberStatus, SpendingLimit};
    use crate::time::Timestamp;
    use chrono::NaiveDate;
    use compact_str::CompactString;
    use serde::{Deserialize, Deserializer};
    use smallvec::SmallVec;

    /// Today's layout, field for field (serde checks that it builds a `Number`).
    #[derive(Deserialize)]
    #[serde(remote = "Number")]
    struct Layout {
        msisdn: Msisdn,
        plan: PlanIdx,
        #[serde(with = "crate::small_vec")]
        options: SmallVec<[AddonIdx; 2]>,
        buckets: Vec<Bucket>,
        anchor: NaiveDate,
        days: u32,
        months: u32,
        next_due: Timestamp,
        next_bucket: u32,
        status: NumberStatus,
        limit: Option<SpendingLimit>,
        group: Option<CompactString>,
        joined: Timestamp,
        #[serde(default, deserialize_with = "crate::number::since_layout_5")]
        unpaid: SmallVec<[super::Offering; 1]>,
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Number, D::Error> {
        if crate::number::layout3::reading() {
            crate::number::layout3::Number::deserialize(deserializer).map(Number::from)
        } else {
            Layout::deserialize(deserializer)
        }
    }
}
