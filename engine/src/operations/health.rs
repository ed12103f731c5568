//! Whether this process is alive and ready: `/healthz` answers while it runs, `/readyz` only
//! once every partition it owns is restored and caught up (see docs/operations.md for the
//! bound). The engine's thread says which, here; the endpoint's thread reads it.

use std::sync::Mutex;

/// Why the process is not ready; `None`: ready.
static NOT_READY: Mutex<Option<String>> = Mutex::new(Some(String::new()));

/// The process is ready to be counted on.
pub fn ready() {
    set(None);
}

/// The process is not ready, and why (shown by `/readyz`).
pub fn not_ready(reason: impl Into<String>) {
    set(Some(reason.into()));
}

fn set(value: Option<String>) {
    let mut guard = NOT_READY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let ready = value.is_none();
    *guard = value;
    drop(guard);
    metrics::gauge!(crate::operations::metrics::READY).set(f64::from(u8::from(ready)));
}

/// `Ok` when ready; otherwise why not.
pub fn readiness() -> Result<(), String> {
    let guard = NOT_READY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match guard.as_deref() {
        None => Ok(()),
        Some("") => Err("starting".into()),
        Some(reason) => Err(reason.to_string()),
    }
}
