//! Bearer tokens and the per-token rate limit.
//!
//! Tokens come from the configuration; a presented token is compared with every configured
//! one in constant time (`subtle`), so the comparison leaks neither which token nor how many
//! leading bytes matched (only, as any comparison of unequal lengths, that the lengths differ).
//! With no token configured the API is open, and the CLI then refuses to listen anywhere but
//! loopback unless `allow_unauthenticated_public` says otherwise.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::http::{header, HeaderMap};
use subtle::ConstantTimeEq;

use super::config::Token;
use super::error::ApiError;

/// Who made a request: the configured token's name, or `anonymous` when auth is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);

/// Checks the `Authorization: Bearer` header against `tokens`.
pub fn authenticate(tokens: &[Token], headers: &HeaderMap) -> Result<Caller, ApiError> {
    if tokens.is_empty() {
        return Ok(Caller("anonymous".into()));
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized)?;
    // Every token is compared (no early exit), so timing does not tell which one matched.
    let mut found: Option<&Token> = None;
    for t in tokens {
        let eq: bool = t.token.expose().as_bytes().ct_eq(presented.as_bytes()).into();
        if eq && found.is_none() {
            found = Some(t);
        }
    }
    found.map(|t| Caller(t.name.clone())).ok_or(ApiError::Unauthorized)
}

/// Buckets kept before refilled ones are dropped.
const MAX_BUCKETS: usize = 50_000;

/// A token bucket per caller: `burst` requests at once, refilled at `per_minute`.
pub struct RateLimiter {
    per_minute: u32,
    burst: u32,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter { per_minute, burst: burst.max(1), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `caller`'s bucket, or says in how many seconds one is available.
    pub fn check(&self, caller: &Caller) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let rate = f64::from(self.per_minute) / 60.0;
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
        // Keys are client addresses too: drop buckets that have refilled, so many addresses
        // cannot grow the map without bound.
        if buckets.len() >= MAX_BUCKETS {
            let refill = std::time::Duration::from_secs_f64(f64::from(self.burst) / rate);
            buckets.retain(|_, (_, last)| now.duration_since(*last) < refill);
        }
        let (tokens, last) = buckets.entry(caller.0.clone()).or_insert((f64::from(self.burst), now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(f64::from(self.burst));
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::Secret;
    use super::*;

    #[test]
    fn bearer_tokens() {
        let tokens = vec![Token { name: "ci".into(), token: Secret::new("abc") }];
        let mut h = HeaderMap::new();
        assert_eq!(authenticate(&tokens, &h), Err(ApiError::Unauthorized));
        h.insert(header::AUTHORIZATION, "Bearer abd".parse().unwrap());
        assert_eq!(authenticate(&tokens, &h), Err(ApiError::Unauthorized));
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(authenticate(&tokens, &h), Ok(Caller("ci".into())));
        assert_eq!(authenticate(&[], &HeaderMap::new()), Ok(Caller("anonymous".into())));
    }

    #[test]
    fn bucket_empties_then_refuses() {
        let r = RateLimiter::new(1, 2);
        let c = Caller("x".into());
        assert!(r.check(&c).is_ok());
        assert!(r.check(&c).is_ok());
        assert!(r.check(&c).unwrap_err() >= 1);
        assert!(r.check(&Caller("y".into())).is_ok(), "buckets are per caller");
    }
}
