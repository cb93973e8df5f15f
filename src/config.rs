//! Configuration of the LLM resolver, in layers: defaults < file (`repo-scanner.toml` or
//! `--config FILE`) < environment (`REPO_SCANNER_*`, see [`crate::env`]) < flags.
//!
//! No key and no base URL means rules only: never an error. API keys live in [`Secret`], which
//! never prints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::env;
use crate::llm::ResponseFormat;
// Re-exported: the secret type lives in its own module so `llm` need not import `config`.
pub use crate::secret::Secret;

/// The default model: Anthropic's Haiku-class model.
pub const DEFAULT_MODEL: &str = "claude-haiku-5-5";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Anthropic,
    Openai,
}

impl std::str::FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "anthropic" => Ok(Provider::Anthropic),
            "openai" | "openai-compatible" => Ok(Provider::Openai),
            other => Err(format!("unknown LLM provider {other:?} (anthropic, openai)")),
        }
    }
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LlmConfig {
    pub provider: Provider,
    pub base_url: Option<String>,
    pub api_key: Option<Secret>,
    pub model: String,
    /// Per request.
    pub timeout: Duration,
    /// Output tokens per request.
    pub max_tokens: u32,
    /// Tool-call rounds before the model must answer.
    pub max_rounds: u32,
    /// Input tokens over all rounds of one repository; past it, no more tools.
    pub max_total_tokens: u64,
    pub response_format: ResponseFormat,
    /// Tokens of repository context in the first request.
    pub token_budget: usize,
    pub max_attempts: u32,
    /// None: no cache.
    pub cache_dir: Option<PathBuf>,
    pub prices: BTreeMap<String, Price>,
}

impl Default for LlmConfig {
    fn default() -> Self {
        let mut prices = BTreeMap::new();
        prices.insert(DEFAULT_MODEL.to_string(), Price { input_per_mtok: 0.10, output_per_mtok: 0.50 });
        LlmConfig {
            provider: Provider::Anthropic,
            base_url: None,
            api_key: None,
            model: DEFAULT_MODEL.to_string(),
            timeout: Duration::from_secs(30),
            max_tokens: 512,
            max_rounds: 2,
            max_total_tokens: 12_000,
            response_format: ResponseFormat::Auto,
            token_budget: 3000,
            max_attempts: 3,
            cache_dir: dirs::cache_dir().map(|d| d.join("repo-scanner").join("llm")),
            prices,
        }
    }
}

/// What the flags say; None leaves the lower layers' value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LlmOverrides {
    pub provider: Option<Provider>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub timeout_secs: Option<f64>,
    pub max_tokens: Option<u32>,
    pub max_rounds: Option<u32>,
    pub response_format: Option<ResponseFormat>,
    pub cache_dir: Option<PathBuf>,
    pub config_file: Option<PathBuf>,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config file {path}: {message}")]
    File { path: String, message: String },
    #[error("{name}: {message}")]
    Env { name: &'static str, message: String },
}

/// The file's `[llm]` table; other tables (`[limits]`, `[ssrf]`, ... of `serve`) are theirs.
#[derive(Debug, Default, Deserialize)]
struct FileConfig {
    #[serde(default)]
    llm: FileLlm,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLlm {
    provider: Option<Provider>,
    base_url: Option<String>,
    api_key: Option<Secret>,
    model: Option<String>,
    timeout_secs: Option<f64>,
    max_tokens: Option<u32>,
    max_rounds: Option<u32>,
    max_total_tokens: Option<u64>,
    response_format: Option<ResponseFormat>,
    token_budget: Option<usize>,
    max_attempts: Option<u32>,
    cache_dir: Option<PathBuf>,
    #[serde(default)]
    prices: BTreeMap<String, Price>,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.clamp(0.05, 3600.0))
}

impl LlmConfig {
    /// Layers the file, the environment (through `env_var`, so tests need not touch the
    /// process's) and the flags over the defaults.
    pub fn resolve(flags: &LlmOverrides, env_var: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut c = LlmConfig::default();
        let get = |name: &str| env_var(name).filter(|v| !v.trim().is_empty());
        let file = flags.config_file.clone().or_else(|| get(env::CONFIG).map(PathBuf::from));
        let (file, required) = match file {
            Some(f) => (Some(f), true),
            None => (Some(PathBuf::from("repo-scanner.toml")).filter(|p| p.is_file()), false),
        };
        let mut provider_set = false;
        if let Some(path) = file {
            if required || path.is_file() {
                let f = read_file(&path)?.llm;
                provider_set |= f.provider.is_some();
                c.provider = f.provider.unwrap_or(c.provider);
                c.base_url = f.base_url.or(c.base_url);
                c.api_key = f.api_key.or(c.api_key);
                c.model = f.model.unwrap_or(c.model);
                c.timeout = f.timeout_secs.map(secs).unwrap_or(c.timeout);
                c.max_tokens = f.max_tokens.unwrap_or(c.max_tokens);
                c.max_rounds = f.max_rounds.unwrap_or(c.max_rounds);
                c.max_total_tokens = f.max_total_tokens.unwrap_or(c.max_total_tokens);
                c.response_format = f.response_format.unwrap_or(c.response_format);
                c.token_budget = f.token_budget.unwrap_or(c.token_budget);
                c.max_attempts = f.max_attempts.unwrap_or(c.max_attempts);
                c.cache_dir = f.cache_dir.or(c.cache_dir);
                c.prices.extend(f.prices);
            }
        }
        if let Some(p) = get(env::LLM_PROVIDER) {
            c.provider = p.parse().map_err(|message| ConfigError::Env { name: env::LLM_PROVIDER, message })?;
            provider_set = true;
        }
        if let Some(u) = get(env::LLM_BASE_URL) {
            c.base_url = Some(u);
            if !provider_set {
                c.provider = Provider::Openai; // a base URL alone means an OpenAI-compatible server
            }
        }
        if let Some(m) = get(env::LLM_MODEL) {
            c.model = m;
        }
        if let Some(d) = get(env::LLM_CACHE_DIR) {
            c.cache_dir = Some(PathBuf::from(d));
        }
        if let Some(p) = flags.provider {
            c.provider = p;
            provider_set = true;
        }
        if let Some(u) = &flags.base_url {
            c.base_url = Some(u.clone());
            if !provider_set {
                c.provider = Provider::Openai;
            }
        }
        if let Some(m) = &flags.model {
            c.model = m.clone();
        }
        if let Some(t) = flags.timeout_secs {
            c.timeout = secs(t);
        }
        c.max_tokens = flags.max_tokens.unwrap_or(c.max_tokens);
        c.max_rounds = flags.max_rounds.unwrap_or(c.max_rounds);
        c.response_format = flags.response_format.unwrap_or(c.response_format);
        if let Some(d) = &flags.cache_dir {
            c.cache_dir = Some(d.clone());
        }
        let fallback = match c.provider {
            Provider::Anthropic => env::ANTHROPIC_API_KEY,
            Provider::Openai => env::OPENAI_API_KEY,
        };
        if let Some(k) = get(env::LLM_API_KEY).or_else(|| get(fallback)) {
            c.api_key = Some(Secret::new(k));
        }
        Ok(c)
    }

    /// A model can be called: a key, or (OpenAI-compatible) a base URL of a local server.
    pub fn enabled(&self) -> bool {
        match self.provider {
            Provider::Anthropic => self.api_key.is_some(),
            Provider::Openai => self.api_key.is_some() || self.base_url.is_some(),
        }
    }

    /// Cost of a call by the price table; 0 for a model it does not list.
    pub fn cost(&self, tokens_in: u64, tokens_out: u64) -> f64 {
        self.prices
            .get(&self.model)
            .map(|p| (tokens_in as f64 * p.input_per_mtok + tokens_out as f64 * p.output_per_mtok) / 1e6)
            .unwrap_or(0.0)
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let err = |message: String| ConfigError::File { path: path.display().to_string(), message };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    toml::from_str(&text).map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn nothing_configured_means_rules_only() {
        let c = LlmConfig::resolve(&LlmOverrides::default(), &env_of(&[])).expect("config");
        assert!(!c.enabled());
        assert_eq!(c.provider, Provider::Anthropic);
        assert_eq!(c.model, DEFAULT_MODEL);
    }

    #[test]
    fn base_url_alone_selects_openai_and_keys_fall_back() {
        let c = LlmConfig::resolve(&LlmOverrides::default(), &env_of(&[(env::LLM_BASE_URL, "http://127.0.0.1:1/v1")]))
            .expect("config");
        assert_eq!(c.provider, Provider::Openai);
        assert!(c.enabled());
        let c = LlmConfig::resolve(&LlmOverrides::default(), &env_of(&[(env::ANTHROPIC_API_KEY, "sk-ant-xyz")]))
            .expect("config");
        assert!(c.enabled());
        assert!(!format!("{c:?}").contains("sk-ant-xyz"), "keys never in Debug");
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("rs.toml");
        std::fs::write(&file, "[llm]\nmodel = \"from-file\"\nmax_rounds = 5\n[llm.prices.\"from-file\"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n")
            .expect("write");
        let flags = LlmOverrides { config_file: Some(file.clone()), ..Default::default() };
        let c = LlmConfig::resolve(&flags, &env_of(&[])).expect("config");
        assert_eq!((c.model.as_str(), c.max_rounds), ("from-file", 5));
        assert!((c.cost(1_000_000, 1_000_000) - 3.0).abs() < 1e-9);
        let c = LlmConfig::resolve(&flags, &env_of(&[(env::LLM_MODEL, "from-env")])).expect("config");
        assert_eq!(c.model, "from-env");
        let flags = LlmOverrides { model: Some("from-flag".into()), ..flags };
        let c = LlmConfig::resolve(&flags, &env_of(&[(env::LLM_MODEL, "from-env")])).expect("config");
        assert_eq!(c.model, "from-flag");
    }

    #[test]
    fn haiku_prices() {
        let c = LlmConfig::default();
        assert!((c.cost(3000, 200) - 0.0004).abs() < 1e-9);
    }
}
