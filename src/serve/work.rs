//! A scan's work in flight: its concurrency slot, its cancel flag, and the checks that run
//! before a scan is admitted.
//!
//! Why the slot lives with the work: a timed-out scan's caller stops waiting, but its blocking
//! fetch or unpack does not stop by itself. If the slot were freed with the caller, the next
//! scan would start next to it and work in flight would exceed `max_concurrent_scans`. So
//! every blocking step holds a clone of the slot, the timeout sets the cancel flag (checked
//! by the fetch's transfer progress and per archive entry), and the slot is free once the
//! last step has returned.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use tokio::sync::OwnedSemaphorePermit;

use super::auth::Caller;
use super::error::ApiError;
use super::routes::Job;
use super::AppState;
use crate::cancel::Cancel;
use crate::source::{self, git};

/// One admitted scan's slot and cancel flag.
pub struct Work {
    slot: Arc<OwnedSemaphorePermit>,
    pub cancel: Cancel,
}

impl Work {
    pub fn new(permit: OwnedSemaphorePermit) -> Work {
        Work { slot: Arc::new(permit), cancel: Cancel::new() }
    }

    /// A handle on the slot for a blocking step; the slot is released when all are dropped.
    pub fn slot(&self) -> Arc<OwnedSemaphorePermit> {
        Arc::clone(&self.slot)
    }
}

/// The longest `source` URL accepted (the OpenAPI document states it).
pub const MAX_SOURCE_CHARS: usize = 8192;

/// The form of `source`, `ref` and `subdir`, checked before the scan is admitted: a malformed
/// one is a 400 without any git traffic.
pub(super) fn check_job_form(job: &Job) -> Result<(), ApiError> {
    let (git_ref, subdir) = match job {
        Job::Git { target, git_ref, subdir, .. } => {
            if target.url.chars().count() > MAX_SOURCE_CHARS {
                return Err(ApiError::BadRequest(
                    "invalid_source",
                    format!("source is over {MAX_SOURCE_CHARS} characters"),
                ));
            }
            (git_ref.as_deref(), subdir.as_deref())
        }
        Job::Archive { subdir, .. } => (None, subdir.as_deref()),
    };
    if let Some(r) = git_ref {
        git::check_ref(r)?;
    }
    if let Some(d) = subdir {
        source::check_subdir(d)?;
    }
    Ok(())
}

/// The per-address rate limit, before authentication (so unauthenticated floods are bounded
/// too). A request without a peer address (a test calling the router directly) passes.
pub(super) fn check_address(state: &AppState, req: &Request) -> Result<(), u64> {
    match req.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => state.ip_rate.check(&Caller(format!("address:{}", addr.ip()))),
        None => Ok(()),
    }
}
