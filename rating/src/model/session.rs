//! Online charging's state: a session the network opened for a number (a call, a data session),
//! what it has used, what it was granted, and what it holds of the account's money and buckets
//! until it ends. A session is priced as one usage item from its start: its charge at the end
//! is the charge of the CDR of the same usage.

use crate::event::Msisdn;
use crate::service::{Direction, Service, Zone};
use crate::take::Take;
use crate::time::Timestamp;
use compact_str::CompactString;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// The network's id of a session (Diameter's Session-Id).
pub type SessionId = CompactString;

pub use crate::event::{SessionRequest, SessionStep, MAX_SESSION_ID_BYTES};

/// The most sessions an account holds open at once: a number has a call or two and a few data
/// sessions; more is a network fault or an attack, refused rather than remembered.
pub const MAX_OPEN_SESSIONS: usize = 32;

/// What a session holds: the bucket units and the money that its usage so far plus its grant
/// would take if it ended now. Others' grants see these as spent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    #[serde(with = "crate::small_vec")]
    pub takes: SmallVec<[Take; 2]>,
    #[serde(with = "crate::money::amount")]
    pub money: Decimal,
}

/// An open session of one of the account's numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub msisdn: Msisdn,
    pub service: Service,
    pub direction: Direction,
    pub other: Option<CompactString>,
    pub location: Zone,
    pub rating_group: Option<u32>,
    /// The first request's event time: the session is priced as one usage item from here.
    pub start: Timestamp,
    /// The number of the last request decided (Diameter's CC-Request-Number).
    pub request: u32,
    /// Units reported used so far.
    pub used: u64,
    /// Units granted by the last answer, not reported used yet.
    pub granted: u64,
    /// The grant is the last: the money ran out (Diameter's Final-Unit-Indication).
    pub final_units: bool,
    pub hold: Hold,
    /// When the grant lapses (the last request's time plus the validity time): a session not
    /// heard of by then, plus the catalog's grace, may be ended by an expiry.
    pub expires: Timestamp,
}

impl Session {
    /// The units the session's hold prices: those used and those granted.
    pub fn held_units(&self) -> u64 {
        self.used.saturating_add(self.granted)
    }
}

/// The most ended sessions an account remembers for reconciling their CDRs, and for how long:
/// a CDR of an online session comes from mediation minutes or hours after the session, rarely
/// days. A CDR of a session no longer remembered is refused (`unknown_session`), never charged.
pub const MAX_ENDED_SESSIONS: usize = 16;
pub const ENDED_SESSIONS_KEPT_SECONDS: i64 = 7 * 86_400;

/// A session that ended: what it was charged for, so that its CDR, when it comes from the
/// offline path, is reconciled against it and never charged again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedSession {
    pub id: SessionId,
    pub msisdn: Msisdn,
    /// Units charged at the end (used, and the last grant of an abandoned session the catalog
    /// charges).
    pub units: u64,
    #[serde(with = "crate::money::amount")]
    pub money: Decimal,
    pub ended: Timestamp,
}
