//! The server's configuration: defaults < the TOML file (`--config`) < flags.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! # Without tokens the server refuses a non-loopback listen address unless this is set.
//! allow_unauthenticated_public = false
//! cache_url = "redis://127.0.0.1:6379/"   # omit for the in-process cache
//!
//! [[tokens]]
//! name = "deployer"          # appears in logs and rate-limit keys; the token never does
//! token = "s3cret"
//!
//! [ssrf]
//! allow = ["10.20.0.0/16", "git.internal.example"]   # private git servers
//!
//! [limits]
//! max_concurrent_scans = 4
//! max_queued_scans = 16
//! wait_ms = 10000
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::source::archive::ArchiveLimits;
use crate::source::ssrf::{Cidr, Policy};
use crate::view::Limits;

/// The crate's one secret type: never printed by `Debug`.
pub use crate::config::Secret;

/// One API client.
#[derive(Debug, Clone, Deserialize)]
pub struct Token {
    pub name: String,
    pub token: Secret,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SsrfConfig {
    /// CIDRs, addresses or host names whose (otherwise refused) addresses are allowed.
    pub allow: Vec<String>,
}

/// Every limit of the service, with defaults that suit one small replica.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Scans (clone + cascade) running at once; each holds a blocking thread and a temp repo.
    pub max_concurrent_scans: usize,
    /// Scans waiting for a slot; past it, 503 with Retry-After.
    pub max_queued_scans: usize,
    /// How long `POST /v1/scans` waits for the plan before answering 202 with a Location.
    pub wait_ms: u64,
    /// A scan still running after this fails with 504 (`scan_timeout`).
    pub scan_timeout_ms: u64,
    /// Seconds suggested by Retry-After on 503.
    pub retry_after_s: u64,
    /// JSON request bodies.
    pub max_json_bytes: usize,
    /// `.tar.gz` uploads (compressed).
    pub max_upload_bytes: u64,
    pub archive_max_entries: usize,
    pub archive_max_unpacked_bytes: u64,
    pub archive_max_ratio: u64,
    /// Requests per minute per token (or for all anonymous clients together); 0 = unlimited.
    pub rate_per_minute: u32,
    /// Requests a token may make at once above the steady rate.
    pub rate_burst: u32,
    /// How long a cached plan (and a finished job) is kept.
    pub cache_ttl_s: u64,
    /// Entries of the in-process cache.
    pub cache_capacity: usize,
    /// Bytes of the in-process plan cache (keys plus plans); the least recently used leave.
    pub cache_max_bytes: usize,
    /// A plan weighing more is not cached (it is still answered).
    pub cache_max_entry_bytes: usize,
    /// Bytes of the in-process job store (results of 202 scans, kept `cache_ttl_s`).
    pub jobs_max_bytes: usize,
    /// Bytes one git fetch may receive; past it the scan fails with 413 `source_too_large`.
    pub max_fetch_bytes: u64,
    /// A connection must send a request's headers within this, also between keep-alive
    /// requests (idle); else it is closed.
    pub header_read_timeout_ms: u64,
    /// Open connections; past it new ones are closed at once.
    pub max_connections: usize,
    /// Open connections from one client address, so one client cannot take them all. Behind a
    /// reverse proxy every client has the proxy's address: raise it to `max_connections`.
    pub max_connections_per_ip: usize,
    /// Requests per minute from one client address, checked before authentication; 0 = off
    /// (behind a reverse proxy, where every request comes from its address).
    pub ip_rate_per_minute: u32,
    pub ip_rate_burst: u32,
    /// Files listed / bytes read per file / directory depth, as for `scan`.
    pub max_files: usize,
    pub max_file_bytes: u64,
    pub max_depth: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let a = ArchiveLimits::default();
        let v = Limits::default();
        LimitsConfig {
            max_concurrent_scans: 4,
            max_queued_scans: 16,
            wait_ms: 10_000,
            scan_timeout_ms: 120_000,
            retry_after_s: 5,
            max_json_bytes: 64 << 10,
            max_upload_bytes: a.max_compressed_bytes,
            archive_max_entries: a.max_entries,
            archive_max_unpacked_bytes: a.max_unpacked_bytes,
            archive_max_ratio: a.max_ratio,
            rate_per_minute: 600,
            rate_burst: 100,
            cache_ttl_s: 24 * 3600,
            cache_capacity: 10_000,
            cache_max_bytes: 64 << 20,
            cache_max_entry_bytes: 1 << 20,
            jobs_max_bytes: 32 << 20,
            max_fetch_bytes: 100 << 20,
            header_read_timeout_ms: 10_000,
            max_connections: 1024,
            max_connections_per_ip: 128,
            ip_rate_per_minute: 1200,
            ip_rate_burst: 200,
            max_files: v.max_files,
            max_file_bytes: v.max_file_bytes,
            max_depth: v.max_depth,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    pub listen: Option<SocketAddr>,
    pub allow_unauthenticated_public: bool,
    pub cache_url: Option<Secret>,
    pub tokens: Vec<Token>,
    pub ssrf: SsrfConfig,
    pub limits: LimitsConfig,
    /// The `[llm]` table of the same file, read by `config::LlmConfig`.
    #[serde(rename = "llm")]
    pub _llm: Option<toml::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("invalid configuration {path}: {message}")]
    Parse { path: String, message: String },
    #[error("ssrf.allow entry {0:?} is neither a CIDR nor a host name")]
    BadAllow(String),
    #[error(
        "no tokens are configured, so {0} would serve anyone on the network; listen on loopback, \
         add [[tokens]], or set allow_unauthenticated_public"
    )]
    PublicWithoutTokens(SocketAddr),
    #[error("limits.{0} must be greater than 0")]
    Zero(&'static str),
}

impl ServeConfig {
    pub fn from_toml(text: &str, path: &str) -> Result<ServeConfig, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse { path: path.into(), message: e.to_string() })
    }

    pub fn load(path: &std::path::Path) -> Result<ServeConfig, ConfigError> {
        let p = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError::Read { path: p.clone(), message: e.to_string() })?;
        Self::from_toml(&text, &p)
    }

    /// Checks what cannot be expressed in types; `listen` is the address about to be bound.
    pub fn validate(&self, listen: SocketAddr) -> Result<(), ConfigError> {
        if self.tokens.is_empty() && !listen.ip().is_loopback() && !self.allow_unauthenticated_public {
            return Err(ConfigError::PublicWithoutTokens(listen));
        }
        for e in &self.ssrf.allow {
            let host_like = !e.is_empty() && e.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c));
            if Cidr::parse(e).is_none() && !host_like {
                return Err(ConfigError::BadAllow(e.clone()));
            }
        }
        if self.limits.max_concurrent_scans == 0 {
            return Err(ConfigError::Zero("max_concurrent_scans"));
        }
        Ok(())
    }

    pub fn policy(&self) -> Policy {
        Policy::with_allow_list(&self.ssrf.allow)
    }

    pub fn view_limits(&self) -> Limits {
        Limits {
            max_files: self.limits.max_files,
            max_file_bytes: self.limits.max_file_bytes,
            max_depth: self.limits.max_depth,
        }
    }

    pub fn archive_limits(&self) -> ArchiveLimits {
        ArchiveLimits {
            max_compressed_bytes: self.limits.max_upload_bytes,
            max_entries: self.limits.archive_max_entries,
            max_unpacked_bytes: self.limits.archive_max_unpacked_bytes,
            max_ratio: self.limits.archive_max_ratio,
        }
    }

    pub fn wait(&self) -> Duration {
        Duration::from_millis(self.limits.wait_ms)
    }

    pub fn scan_timeout(&self) -> Duration {
        Duration::from_millis(self.limits.scan_timeout_ms)
    }

    pub fn cache_ttl(&self) -> Duration {
        Duration::from_secs(self.limits.cache_ttl_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_hides_tokens() {
        let c = ServeConfig::from_toml(
            "[[tokens]]\nname = \"ci\"\ntoken = \"hunter2\"\n[ssrf]\nallow = [\"127.0.0.0/8\"]\n[limits]\nwait_ms = 5\n",
            "x",
        )
        .unwrap();
        assert_eq!(c.limits.wait_ms, 5);
        assert_eq!(c.limits.max_concurrent_scans, 4);
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(c.validate("0.0.0.0:80".parse().unwrap()).is_ok());
    }

    #[test]
    fn public_without_tokens_is_refused() {
        let c = ServeConfig::default();
        assert!(c.validate("127.0.0.1:80".parse().unwrap()).is_ok());
        assert!(matches!(c.validate("0.0.0.0:80".parse().unwrap()), Err(ConfigError::PublicWithoutTokens(_))));
        let open = ServeConfig { allow_unauthenticated_public: true, ..ServeConfig::default() };
        assert!(open.validate("0.0.0.0:80".parse().unwrap()).is_ok());
        assert!(ServeConfig::from_toml("bogus = 1", "x").is_err());
    }
}
