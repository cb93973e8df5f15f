//! `repo-scanner serve`: the pre-deploy analysis API (axum on tokio).
//!
//! # Shape
//!
//! [`run`] takes a bound listener, an [`AppState`] and a shutdown future (the CLI passes
//! Ctrl-C/SIGTERM, tests a oneshot), like mini-redis's `server::run`. When the future fires
//! the server stops accepting, lets in-flight requests finish, then waits for background scans
//! (those already answered with 202) to drain before returning.
//!
//! # A scan
//!
//! `POST /v1/scans` checks the URL with the SSRF guard, then admits the scan or answers 503:
//! at most `max_concurrent_scans` run (a semaphore) and `max_queued_scans` wait. The scan runs
//! in its own task: `ls-remote` resolves the ref to a commit, the cache is asked for
//! (URL, commit, subdir, llm), and only a miss fetches objects and runs the cascade. The
//! request waits up to `wait_ms` for the plan (200) and otherwise answers 202 with a Location;
//! the task goes on and leaves its result in the job store for `GET /v1/scans/{id}`. A full
//! 40-hex commit as `ref` is immutable, so its cache entry is looked up before any network
//! call: a deploy that names its commit costs no git round trip when the plan is cached.
//!
//! # Replicas
//!
//! Nothing a second replica needs lives only here: plans are in the cache, which with
//! `--cache-url redis://...` is Redis, shared by all replicas; 202 jobs are written to the
//! same Redis (and kept locally too, so polling the replica that ran the scan works even while
//! Redis is down). Without Redis each replica has its own cache and jobs, so a load balancer
//! must then route polls to the replica that answered 202 (or clients wait instead of polling).
//! Rate-limit buckets are per replica: a token's effective limit is the configured one times
//! the number of replicas.

pub mod auth;
pub mod config;
pub mod conn;
pub mod error;
pub mod metrics;
pub mod proxy;
mod routes;
mod work;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tracing::{info, warn};

use crate::cache::Cache;
use crate::plan::Plan;
use crate::source::ssrf::Policy;
use crate::view::RepoView;
use auth::RateLimiter;
use config::ServeConfig;
use error::ApiError;
use metrics::Metrics;

pub use routes::router;

/// The LLM resolver hook: resolves a rules plan's open questions.
///
/// [`LlmHook`] implements it with the LLM resolver when a model is configured; without one,
/// [`AppState::resolver`] is `None` and a request with `"llm": true` is scanned with the rules
/// alone (its plan says `resolution.decided_by = "rules"`). The cache key includes the llm
/// flag, so rules-only and LLM plans never mix.
pub trait PlanResolver: Send + Sync {
    /// Called on a blocking thread, only when the request asked for the LLM.
    fn resolve(&self, view: &RepoView, plan: Plan) -> Plan;
}

/// The LLM resolver behind the hook: its async `resolve` runs on the server's runtime, driven
/// from the blocking scan thread; repositories the rules decided never reach the model.
pub struct LlmHook {
    pub resolver: crate::resolver::Resolver,
    pub runtime: tokio::runtime::Handle,
}

impl PlanResolver for LlmHook {
    fn resolve(&self, view: &RepoView, plan: Plan) -> Plan {
        if !crate::resolver::needs_llm(&plan) {
            return plan;
        }
        self.runtime.block_on(self.resolver.resolve(plan, view))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    #[error("cannot start the SSRF proxy: {0}")]
    Proxy(std::io::Error),
}

/// Everything a request handler needs; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub config: ServeConfig,
    /// The SSRF policy (defaults plus the configured allow-list).
    pub policy: Arc<Policy>,
    /// `http://127.0.0.1:PORT` of the checking CONNECT proxy libgit2 uses for https remotes.
    pub proxy_url: String,
    /// Plans by (URL, commit, subdir, llm). Memory or Redis; never fails a scan.
    pub cache: Cache,
    /// Results of scans answered with 202.
    pub jobs: Jobs,
    /// One permit per running scan: bounds clones, temp repos and blocking threads. Without
    /// it a burst of scans would exhaust disk and the blocking pool.
    pub slots: Arc<Semaphore>,
    /// Scans admitted and not finished (running + waiting for a slot); bounded by
    /// `max_concurrent_scans + max_queued_scans`, past which requests get 503.
    pending: AtomicUsize,
    pub rate: RateLimiter,
    /// Per client address, checked before authentication (see [`conn`]).
    pub ip_rate: RateLimiter,
    pub metrics: Metrics,
    /// The LLM resolver; `None` until it is connected (see [`PlanResolver`]).
    pub resolver: Option<Arc<dyn PlanResolver>>,
    /// Set when shutdown starts: new scans get 503, `/readyz` says not ready.
    shutting_down: AtomicBool,
    /// Background scan tasks still running; [`run`] waits for zero before returning.
    tasks: AtomicUsize,
}

impl AppState {
    /// Builds the state: the cache backend, the SSRF proxy, libgit2's network timeouts.
    pub async fn new(config: ServeConfig) -> Result<AppState, ServeError> {
        AppState::with_resolver(config, None).await
    }

    /// [`AppState::new`] with the LLM resolver connected (requests with `"llm": true` use it).
    pub async fn with_resolver(
        config: ServeConfig,
        resolver: Option<Arc<dyn PlanResolver>>,
    ) -> Result<AppState, ServeError> {
        let policy = Arc::new(config.policy());
        let proxy_url = proxy::start(policy.clone()).await.map_err(ServeError::Proxy)?;
        let cache = match &config.cache_url {
            Some(url) => Cache::redis(url.expose())?,
            None => Cache::memory_bounded(
                config.limits.cache_capacity,
                config.limits.cache_max_bytes,
                config.limits.cache_max_entry_bytes,
            ),
        };
        set_git_timeouts();
        let l = &config.limits;
        let state = Shared {
            policy,
            proxy_url,
            jobs: Jobs::new(config.cache_ttl(), config.limits.jobs_max_bytes),
            ip_rate: RateLimiter::new(l.ip_rate_per_minute, l.ip_rate_burst),
            slots: Arc::new(Semaphore::new(l.max_concurrent_scans)),
            pending: AtomicUsize::new(0),
            rate: RateLimiter::new(l.rate_per_minute, l.rate_burst),
            metrics: Metrics::default(),
            resolver,
            shutting_down: AtomicBool::new(false),
            tasks: AtomicUsize::new(0),
            cache,
            config,
        };
        Ok(AppState(Arc::new(state)))
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Takes a place for a scan (running or queued), or refuses with 503.
    fn admit(&self) -> Result<Ticket, ApiError> {
        let retry = self.config.limits.retry_after_s;
        if self.is_shutting_down() {
            self.metrics.rejected("shutting_down");
            return Err(ApiError::Unavailable(retry, "the server is shutting down".into()));
        }
        let cap = self.config.limits.max_concurrent_scans + self.config.limits.max_queued_scans;
        let before = self.pending.fetch_add(1, Ordering::SeqCst);
        if before >= cap {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            self.metrics.rejected("overload");
            return Err(ApiError::Unavailable(
                retry,
                format!("{cap} scans are already running or queued; retry later"),
            ));
        }
        self.metrics.queued.fetch_add(1, Ordering::SeqCst);
        Ok(Ticket { state: self.clone() })
    }

    /// Counts a background task until the guard drops.
    fn track(&self) -> TaskGuard {
        self.tasks.fetch_add(1, Ordering::SeqCst);
        TaskGuard { state: self.clone() }
    }
}

/// A place among the admitted scans; dropping it frees the place.
struct Ticket {
    state: AppState,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.state.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

struct TaskGuard {
    state: AppState,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.state.tasks.fetch_sub(1, Ordering::SeqCst);
    }
}

/// libgit2 waits forever on a silent server by default; a scan slot must not.
fn set_git_timeouts() {
    // SAFETY: these set process-wide libgit2 options; they are plain integers, and libgit2
    // reads them when a connection is made.
    unsafe {
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(10_000);
        let _ = git2::opts::set_server_timeout_in_milliseconds(60_000);
    }
}

/// Serves `listener` until `shutdown` completes, then drains: in-flight requests finish (a
/// synchronous scan still gets its plan), and scans running in the background (202) finish and
/// store their results, before this returns.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone());
    let st = state.clone();
    let signal = async move {
        shutdown.await;
        info!("shutting down: no new connections; draining in-flight scans");
        st.0.shutting_down.store(true, Ordering::SeqCst);
    };
    let l = &state.config.limits;
    let limits = conn::ConnLimits {
        header_read_timeout: Duration::from_millis(l.header_read_timeout_ms),
        max_connections: l.max_connections,
        max_connections_per_ip: l.max_connections_per_ip,
    };
    conn::serve(listener, app, limits, signal).await?;
    let started = Instant::now();
    while state.tasks.load(Ordering::SeqCst) > 0 {
        if started.elapsed() > state.config.scan_timeout() + Duration::from_secs(5) {
            warn!(tasks = state.tasks.load(Ordering::SeqCst), "gave up waiting for background scans");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    info!("stopped");
    Ok(())
}

/// Where 202 scans leave their results, keyed by job id.
///
/// Records are bytes: `R` running; `D` + the plan's JSON; `F` + a 3-digit status + the error
/// body's JSON. They are kept here and, when the cache is shared (Redis), written there too so
/// another replica can answer the poll.
///
/// The local store is bounded by bytes like the plan cache (an LRU weighing each record); a
/// record is kept for the cache TTL unless evicted earlier, after which its poll is a 404.
pub struct Jobs {
    local: Cache,
    ttl: Duration,
}

/// A job's state as a poll sees it.
pub enum JobRecord {
    Running,
    Done(Vec<u8>),
    Failed(u16, Vec<u8>),
}

impl JobRecord {
    fn encode(&self) -> Vec<u8> {
        match self {
            JobRecord::Running => b"R".to_vec(),
            JobRecord::Done(plan) => [b"D".as_slice(), plan].concat(),
            JobRecord::Failed(status, body) => [format!("F{status:03}").as_bytes(), body].concat(),
        }
    }

    fn decode(b: &[u8]) -> Option<JobRecord> {
        match b.first()? {
            b'R' => Some(JobRecord::Running),
            b'D' => Some(JobRecord::Done(b[1..].to_vec())),
            b'F' => {
                let status = std::str::from_utf8(b.get(1..4)?).ok()?.parse().ok()?;
                Some(JobRecord::Failed(status, b[4..].to_vec()))
            }
            _ => None,
        }
    }
}

impl Jobs {
    fn new(ttl: Duration, max_bytes: usize) -> Jobs {
        // A record holds a plan or an error body: the same per-entry bound as plans.
        Jobs { local: Cache::memory_bounded(usize::MAX, max_bytes, max_bytes / 4), ttl }
    }

    fn key(id: &str) -> String {
        format!("repo-scanner:job:{id}")
    }

    async fn put(&self, cache: &Cache, id: &str, record: &JobRecord) {
        let bytes = record.encode();
        self.local.put(id, &bytes, self.ttl).await;
        if cache.is_shared() {
            cache.put(&Self::key(id), &bytes, self.ttl).await;
        }
    }

    async fn get(&self, cache: &Cache, id: &str) -> Option<JobRecord> {
        if let Some(b) = self.local.get(id).await {
            return JobRecord::decode(&b);
        }
        if cache.is_shared() {
            return JobRecord::decode(&cache.get(&Self::key(id)).await?);
        }
        None
    }
}
