//! The LLM flags, shared by `scan` and `eval`, and the runtime the resolver runs on.

use std::path::PathBuf;

use clap::ValueEnum;

use repo_scanner::config::{LlmConfig, LlmOverrides, Provider};
use repo_scanner::llm::ResponseFormat;
use repo_scanner::pipeline::Model;
use repo_scanner::resolver::Resolver;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderArg {
    Anthropic,
    Openai,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Auto,
    JsonSchema,
    JsonObject,
    None,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct LlmArgs {
    /// Model API: anthropic (default) or openai (any OpenAI-compatible endpoint).
    #[arg(long, value_enum)]
    pub llm_provider: Option<ProviderArg>,
    /// Base URL of the model server, e.g. http://127.0.0.1:8080/v1 (alone, selects openai).
    #[arg(long)]
    pub llm_base_url: Option<String>,
    /// Model name (default claude-haiku-5-5).
    #[arg(long)]
    pub llm_model: Option<String>,
    /// Seconds per request.
    #[arg(long)]
    pub llm_timeout: Option<f64>,
    /// Output tokens per request.
    #[arg(long)]
    pub llm_max_tokens: Option<u32>,
    /// Tool-call rounds the model may take before it must answer (default 2).
    #[arg(long)]
    pub llm_max_rounds: Option<u32>,
    /// How the answer's JSON Schema is sent.
    #[arg(long, value_enum)]
    pub llm_response_format: Option<FormatArg>,
    /// Where answers are cached (default: the user's cache dir).
    #[arg(long)]
    pub llm_cache_dir: Option<PathBuf>,
    /// Config file (default ./repo-scanner.toml when present).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

impl LlmArgs {
    pub fn overrides(&self) -> LlmOverrides {
        LlmOverrides {
            provider: self.llm_provider.map(|p| match p {
                ProviderArg::Anthropic => Provider::Anthropic,
                ProviderArg::Openai => Provider::Openai,
            }),
            base_url: self.llm_base_url.clone(),
            model: self.llm_model.clone(),
            timeout_secs: self.llm_timeout,
            max_tokens: self.llm_max_tokens,
            max_rounds: self.llm_max_rounds,
            response_format: self.llm_response_format.map(|f| match f {
                FormatArg::Auto => ResponseFormat::Auto,
                FormatArg::JsonSchema => ResponseFormat::JsonSchema,
                FormatArg::JsonObject => ResponseFormat::JsonObject,
                FormatArg::None => ResponseFormat::None,
            }),
            cache_dir: self.llm_cache_dir.clone(),
            config_file: self.config.clone(),
        }
    }

    /// The resolver and a runtime to drive it, or None for rules only (`--no-llm`, or no model
    /// configured).
    pub fn resolver(&self, no_llm: bool) -> anyhow::Result<Option<(Resolver, tokio::runtime::Runtime)>> {
        if no_llm {
            return Ok(None);
        }
        let config = self.config()?;
        let Some(resolver) = Resolver::from_config(&config)? else {
            tracing::debug!("no model configured: rules only");
            return Ok(None);
        };
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        Ok(Some((resolver, rt)))
    }

    fn config(&self) -> anyhow::Result<LlmConfig> {
        Ok(LlmConfig::resolve(&self.overrides(), &|k| std::env::var(k).ok())?)
    }

    /// Whether a model would be called: configuration only, no client built (the small
    /// binary's test for a rules-only scan). An unreadable configuration counts as configured,
    /// so the command that reports it is the one that would have used it.
    pub fn configured(&self, no_llm: bool) -> bool {
        !no_llm && self.config().as_ref().map_or(true, LlmConfig::enabled)
    }

    /// The model escalation for the pipeline, with the runtime that drives it (kept alive by
    /// the caller), or None for rules only.
    pub fn model(&self, no_llm: bool) -> anyhow::Result<Option<(Model, tokio::runtime::Runtime)>> {
        Ok(self.resolver(no_llm)?.map(|(resolver, rt)| (Model { resolver, runtime: rt.handle().clone() }, rt)))
    }
}
