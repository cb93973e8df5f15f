//! Retries: bounded attempts, exponential backoff with jitter, `Retry-After` honoured.
//!
//! Retried: 429 (a rate limit, not an exhausted spend limit), 500, 502, 503, 504, 529
//! (Anthropic's "overloaded"), timeouts and transport failures. Not retried: other 4xx (the
//! request is wrong and will stay wrong), quota exhaustion, unreadable answers. A
//! `Retry-After` longer than `max_delay` is not waited out: the call gives up at once, since a
//! scan should not sit for minutes on a model.

use std::future::Future;
use std::time::Duration;

use tracing::warn;

use super::LlmError;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// First backoff; doubled per attempt, with up to 50 % jitter added.
    pub base_delay: Duration,
    /// Longest single wait, `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(20) }
    }
}

/// True for failures worth another attempt.
pub fn retryable(e: &LlmError) -> bool {
    match e {
        LlmError::Http { status, .. } => matches!(status, 429 | 500 | 502 | 503 | 504 | 529),
        LlmError::Timeout(_) | LlmError::Transport(_) => true,
        LlmError::QuotaExhausted(_) | LlmError::Decode(_) => false,
    }
}

/// What the retries did, for the plan's warning and for tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attempts {
    pub count: u32,
    /// Each wait taken, in order.
    pub waits: Vec<Duration>,
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (attempt counts from 1).
    pub fn delay(&self, attempt: u32, err: &LlmError) -> Option<Duration> {
        if let LlmError::Http { retry_after: Some(ra), .. } = err {
            return (*ra <= self.max_delay).then_some(*ra);
        }
        let exp = self.base_delay.saturating_mul(1u32 << (attempt - 1).min(16));
        let jitter = exp.mul_f64(fastrand::f64() * 0.5);
        Some((exp + jitter).min(self.max_delay))
    }

    /// Calls `op` until it succeeds, fails for good, or the attempts run out.
    pub async fn run<T, F, Fut>(&self, mut op: F) -> (Result<T, LlmError>, Attempts)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, LlmError>>,
    {
        let mut attempts = Attempts::default();
        loop {
            attempts.count += 1;
            let err = match op().await {
                Ok(v) => return (Ok(v), attempts),
                Err(e) => e,
            };
            if !retryable(&err) || attempts.count >= self.max_attempts.max(1) {
                return (Err(err), attempts);
            }
            let Some(wait) = self.delay(attempts.count, &err) else {
                warn!(error = %err, "Retry-After longer than the longest wait: giving up");
                return (Err(err), attempts);
            };
            warn!(error = %err, attempt = attempts.count, wait_ms = wait.as_millis() as u64, "LLM call failed; retrying");
            attempts.waits.push(wait);
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, ra: Option<u64>) -> LlmError {
        LlmError::Http { status, retry_after: ra.map(Duration::from_secs), body: String::new() }
    }

    #[test]
    fn classifies() {
        assert!(retryable(&http(429, None)));
        assert!(retryable(&http(529, None)));
        assert!(retryable(&http(503, None)));
        assert!(!retryable(&http(400, None)));
        assert!(!retryable(&LlmError::QuotaExhausted("x".into())));
        assert!(!retryable(&LlmError::Decode("x".into())));
    }

    #[test]
    fn honours_retry_after_and_caps_backoff() {
        let p =
            RetryPolicy { max_attempts: 5, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(2) };
        assert_eq!(p.delay(1, &http(429, Some(1))), Some(Duration::from_secs(1)));
        assert_eq!(p.delay(1, &http(429, Some(60))), None);
        let d = p.delay(3, &http(500, None)).expect("a wait");
        assert!(d >= Duration::from_millis(400) && d <= Duration::from_millis(600), "{d:?}");
        assert!(p.delay(12, &http(500, None)).expect("a wait") <= Duration::from_secs(2));
    }

    #[tokio::test]
    async fn stops_at_the_bound() {
        let p =
            RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(1), max_delay: Duration::from_millis(5) };
        let (r, a): (Result<(), _>, _) = p.run(|| async { Err(http(500, None)) }).await;
        assert!(r.is_err());
        assert_eq!(a.count, 3);
        assert_eq!(a.waits.len(), 2);
        let (r, a): (Result<(), _>, _) = p.run(|| async { Err(LlmError::QuotaExhausted("q".into())) }).await;
        assert!(r.is_err());
        assert_eq!(a.count, 1);
    }
}
