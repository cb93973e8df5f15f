//! Cooperative cancellation for a scan in flight.
//!
//! A scan that times out in `serve` must stop its fetch, unpack and cascade, not just lose
//! its caller: otherwise work in flight outgrows the concurrency limit. The owner keeps a
//! clone and calls [`Cancel::cancel`]; long loops call [`Cancel::check`] at their natural
//! boundaries (per object, per archive entry, per app) and return [`Cancelled`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A shared flag; cheap to clone, never reset once set.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

/// The work was cancelled by its owner (a timeout, a client gone, shutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(Cancelled)` once [`Cancel::cancel`] has been called on any clone.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_sees_the_cancel() {
        let c = Cancel::new();
        let seen = c.clone();
        assert_eq!(seen.check(), Ok(()));
        c.cancel();
        assert_eq!(seen.check(), Err(Cancelled));
    }
}
