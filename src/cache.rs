//! A byte cache with a TTL, in-process or in Redis, shared by scans (and later LLM answers).
//!
//! The API is deliberately generic: `get`/`put` of bytes under a string key. Callers choose the
//! key (a scan: URL, resolved commit, subdirectory, LLM flag) and the encoding.
//!
//! - [`Cache::memory`], the default: a bounded LRU in this process. Each replica has its own.
//! - [`Cache::redis`] (`--cache-url redis://...`): shared by every replica, so a repository
//!   scanned by one is a hit on all. Redis is an optimisation, never a dependency: every call
//!   has a short timeout, and an error marks Redis down for a back-off (1 s doubling to 30 s)
//!   during which the cache behaves as empty (`get` misses, `put` is dropped) without waiting.
//!   A warning is logged when Redis goes away and an info line when it is back; scans never
//!   fail because of the cache.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use tracing::{info, warn};

/// How long one Redis call may take before the cache gives up on it.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("invalid cache URL: {0}")]
    InvalidUrl(String),
}

/// See the module docs.
pub struct Cache {
    backend: Backend,
    /// Calls that failed (Redis unreachable, timed out, refused).
    errors: AtomicU64,
}

enum Backend {
    Memory(Mutex<lru::LruCache<String, (Vec<u8>, Instant)>>),
    Redis(RedisCache),
}

struct RedisCache {
    client: redis::Client,
    state: tokio::sync::Mutex<RedisState>,
}

#[derive(Default)]
struct RedisState {
    conn: Option<MultiplexedConnection>,
    /// While set and in the future, Redis is considered down and not tried.
    down_until: Option<Instant>,
    backoff: Option<Duration>,
}

impl Cache {
    /// An in-process LRU holding at most `capacity` entries.
    pub fn memory(capacity: usize) -> Cache {
        let cap = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Cache { backend: Backend::Memory(Mutex::new(lru::LruCache::new(cap))), errors: AtomicU64::new(0) }
    }

    /// A Redis cache at `url` (`redis://host:port/db`). Connects lazily: a Redis that is down
    /// at start is the same as one that goes away later.
    pub fn redis(url: &str) -> Result<Cache, CacheError> {
        let client = redis::Client::open(url).map_err(|e| CacheError::InvalidUrl(e.to_string()))?;
        Ok(Cache {
            backend: Backend::Redis(RedisCache { client, state: tokio::sync::Mutex::new(RedisState::default()) }),
            errors: AtomicU64::new(0),
        })
    }

    /// True when this cache is shared between replicas.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Redis(_))
    }

    /// Backend failures so far (for metrics).
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        match &self.backend {
            Backend::Memory(m) => {
                let mut m = m.lock().ok()?;
                match m.get(key) {
                    Some((v, expires)) if *expires > Instant::now() => Some(v.clone()),
                    Some(_) => {
                        m.pop(key);
                        None
                    }
                    None => None,
                }
            }
            Backend::Redis(r) => {
                let mut cmd = redis::cmd("GET");
                cmd.arg(key);
                r.run(cmd, &self.errors).await.and_then(|v: Option<Vec<u8>>| v)
            }
        }
    }

    pub async fn put(&self, key: &str, value: &[u8], ttl: Duration) {
        match &self.backend {
            Backend::Memory(m) => {
                if let Ok(mut m) = m.lock() {
                    m.put(key.to_string(), (value.to_vec(), Instant::now() + ttl));
                }
            }
            Backend::Redis(r) => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(key).arg(value).arg("PX").arg(ttl.as_millis().max(1) as u64);
                let _: Option<()> = r.run(cmd, &self.errors).await;
            }
        }
    }
}

impl RedisCache {
    /// Runs `cmd`, or returns None at once while Redis is marked down.
    async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd, errors: &AtomicU64) -> Option<T> {
        let mut conn = {
            let mut st = self.state.lock().await;
            if st.down_until.is_some_and(|t| Instant::now() < t) {
                return None;
            }
            match &st.conn {
                Some(c) => c.clone(),
                None => match tokio::time::timeout(REDIS_TIMEOUT, self.client.get_multiplexed_async_connection()).await
                {
                    Ok(Ok(c)) => {
                        if st.backoff.take().is_some() {
                            info!("redis cache reachable again");
                        }
                        st.down_until = None;
                        st.conn = Some(c.clone());
                        c
                    }
                    Ok(Err(e)) => {
                        self.mark_down(&mut st, &e.to_string(), errors);
                        return None;
                    }
                    Err(_) => {
                        self.mark_down(&mut st, "connect timed out", errors);
                        return None;
                    }
                },
            }
        };
        match tokio::time::timeout(REDIS_TIMEOUT, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                let mut st = self.state.lock().await;
                self.mark_down(&mut st, &e.to_string(), errors);
                None
            }
            Err(_) => {
                let mut st = self.state.lock().await;
                self.mark_down(&mut st, "command timed out", errors);
                None
            }
        }
    }

    fn mark_down(&self, st: &mut RedisState, why: &str, errors: &AtomicU64) {
        errors.fetch_add(1, Ordering::Relaxed);
        let backoff = st.backoff.map_or(BACKOFF_MIN, |b| (b * 2).min(BACKOFF_MAX));
        if st.backoff.is_none() {
            warn!(error = why, "redis cache unavailable; continuing without a cache");
        }
        st.backoff = Some(backoff);
        st.down_until = Some(Instant::now() + backoff);
        st.conn = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_cache_expires_and_evicts() {
        let c = Cache::memory(2);
        c.put("a", b"1", Duration::from_secs(60)).await;
        c.put("b", b"2", Duration::from_millis(0)).await;
        assert_eq!(c.get("a").await.as_deref(), Some(&b"1"[..]));
        assert_eq!(c.get("b").await, None, "expired");
        c.put("c", b"3", Duration::from_secs(60)).await;
        c.put("d", b"4", Duration::from_secs(60)).await;
        assert_eq!(c.get("a").await, None, "evicted");
    }

    #[tokio::test]
    async fn unreachable_redis_is_a_miss() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let c = Cache::redis(&format!("redis://127.0.0.1:{port}/")).unwrap();
        c.put("k", b"v", Duration::from_secs(1)).await;
        assert_eq!(c.get("k").await, None);
        assert!(c.errors() >= 1);
    }
}
