//! The server's clock: an online request's event time when the network stamps none, and the
//! time an abandoned session is expired at. Read here only, and recorded in the log with the
//! request it dates, so that replay needs no clock.

use rating::Timestamp;

pub fn now() -> Timestamp {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(i64::try_from(since.as_secs()).unwrap_or(i64::MAX))
}
