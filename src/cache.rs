//! A byte cache with a TTL, in-process or in Redis, shared by scans (and later LLM answers).
//!
//! The API is deliberately generic: `get`/`put` of bytes under a string key. Callers choose the
//! key (a scan: URL, resolved commit, subdirectory, LLM flag) and the encoding.
//!
//! - [`Cache::memory`], the default: an LRU in this process, bounded by entries and by bytes
//!   (each entry weighs its key plus its value); a value over the per-entry limit is not
//!   cached at all, so one huge plan cannot evict everything else. Each replica has its own.
//!   Entries expire at their TTL (checked on read) or leave earlier when evicted.
//! - [`Cache::redis`] (`--cache-url redis://...`): shared by every replica, so a repository
//!   scanned by one is a hit on all. Redis is an optimisation, never a dependency: every call
//!   has a short timeout, and an error marks Redis down for a back-off (1 s doubling to 30 s)
//!   during which the cache behaves as empty (`get` misses, `put` is dropped) without waiting.
//!   A warning is logged when Redis goes away and an info line when it is back; scans never
//!   fail because of the cache.

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
    Memory(Mutex<Memory>),
    Redis(RedisCache),
}

/// The in-process LRU and its weight.
struct Memory {
    lru: lru::LruCache<String, (Vec<u8>, Instant)>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
    max_entry_bytes: usize,
}

impl Memory {
    fn weight(key: &str, value: &[u8]) -> usize {
        key.len() + value.len()
    }

    fn remove(&mut self, key: &str) {
        if let Some((v, _)) = self.lru.pop(key) {
            self.bytes -= Self::weight(key, &v);
        }
    }

    fn put(&mut self, key: &str, value: &[u8], expires: Instant) {
        self.remove(key);
        let w = Self::weight(key, value);
        if w > self.max_entry_bytes || w > self.max_bytes {
            return;
        }
        while self.bytes + w > self.max_bytes || self.lru.len() >= self.max_entries {
            match self.lru.pop_lru() {
                Some((k, (v, _))) => self.bytes -= Self::weight(&k, &v),
                None => break,
            }
        }
        self.bytes += w;
        self.lru.put(key.to_string(), (value.to_vec(), expires));
    }
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
    /// An in-process LRU holding at most `capacity` entries and 64 MiB, entries up to 1 MiB.
    pub fn memory(capacity: usize) -> Cache {
        Cache::memory_bounded(capacity, 64 << 20, 1 << 20)
    }

    /// An in-process LRU holding at most `capacity` entries weighing `max_bytes` together;
    /// a value weighing more than `max_entry_bytes` is not cached.
    pub fn memory_bounded(capacity: usize, max_bytes: usize, max_entry_bytes: usize) -> Cache {
        // Unbounded storage, bounded here: `LruCache::new` would allocate `capacity` up front.
        let memory = Memory {
            lru: lru::LruCache::unbounded(),
            bytes: 0,
            max_entries: capacity.max(1),
            max_bytes,
            max_entry_bytes,
        };
        Cache { backend: Backend::Memory(Mutex::new(memory)), errors: AtomicU64::new(0) }
    }

    /// Bytes held by the in-process cache (0 for Redis).
    pub fn weight(&self) -> usize {
        match &self.backend {
            Backend::Memory(m) => m.lock().map_or(0, |m| m.bytes),
            Backend::Redis(_) => 0,
        }
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
                match m.lru.get(key) {
                    Some((v, expires)) if *expires > Instant::now() => Some(v.clone()),
                    Some(_) => {
                        m.remove(key);
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
                    m.put(key, value, Instant::now() + ttl);
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
    async fn memory_cache_is_bounded_by_bytes() {
        let c = Cache::memory_bounded(1000, 100, 40);
        let ttl = Duration::from_secs(60);
        c.put("big", &[0; 50], ttl).await;
        assert_eq!(c.get("big").await, None, "over the per-entry limit: not cached");
        for k in ["a", "b", "c", "d"] {
            c.put(k, &[1; 29], ttl).await;
        }
        assert!(c.weight() <= 100, "{}", c.weight());
        assert_eq!(c.get("a").await, None, "the oldest left to make room");
        assert!(c.get("d").await.is_some());
        c.put("d", &[2; 9], ttl).await;
        assert_eq!(c.weight(), 70, "b and c (30 each) and the new d (10)");
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
