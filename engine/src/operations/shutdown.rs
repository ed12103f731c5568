//! The stop an operator asks for with SIGTERM or SIGINT. A run looks at [`requested`] between
//! batches: it stops reading, lands what is in flight, publishes it, leaves its consumer group
//! and exits 0. A second signal ends the process at once (exit 130), for a stop that hangs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;

static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();

fn flag() -> &'static Arc<AtomicBool> {
    STOP.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Makes SIGTERM and SIGINT ask for a stop, and a second of either end the process.
pub fn on_signals() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for signal in [SIGTERM, SIGINT] {
        // Registered first, so that it sees the flag before the second handler sets it.
        signal_hook::flag::register_conditional_shutdown(signal, 130, flag().clone())?;
        signal_hook::flag::register(signal, flag().clone())?;
    }
    Ok(())
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    STOP.get().is_some_and(|f| f.load(Ordering::Relaxed))
}

/// Asks for a stop, as a signal would (tests, and a fatal error in a helper thread).
pub fn request() {
    flag().store(true, Ordering::Relaxed);
}
