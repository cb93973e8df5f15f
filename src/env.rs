//! Every environment variable repo-scanner reads, in one place.

/// Log filter, like `RUST_LOG` (the `--log` flag).
pub const LOG: &str = "REPO_SCANNER_LOG";
/// `anthropic` (the default) or `openai` (any OpenAI-compatible endpoint).
pub const LLM_PROVIDER: &str = "REPO_SCANNER_LLM_PROVIDER";
/// Base URL of the model server, e.g. `http://127.0.0.1:8080/v1`. Set alone, it selects `openai`.
pub const LLM_BASE_URL: &str = "REPO_SCANNER_LLM_BASE_URL";
/// The model name sent to the server (default `claude-haiku-5-5`).
pub const LLM_MODEL: &str = "REPO_SCANNER_LLM_MODEL";
/// The API key. Falls back to [`ANTHROPIC_API_KEY`] or [`OPENAI_API_KEY`] by provider.
pub const LLM_API_KEY: &str = "REPO_SCANNER_LLM_API_KEY";
/// Anthropic's own variable, read when [`LLM_API_KEY`] is unset and the provider is anthropic.
pub const ANTHROPIC_API_KEY: &str = "ANTHROPIC_API_KEY";
/// OpenAI's own variable, read when [`LLM_API_KEY`] is unset and the provider is openai.
pub const OPENAI_API_KEY: &str = "OPENAI_API_KEY";
/// Directory of the on-disk answer cache (the `--llm-cache-dir` flag).
pub const LLM_CACHE_DIR: &str = "REPO_SCANNER_LLM_CACHE_DIR";
/// The config file (the `--config` flag); default `./repo-scanner.toml` when present.
pub const CONFIG: &str = "REPO_SCANNER_CONFIG";

/// Every name above, for documentation and tests.
pub const ALL: &[&str] = &[
    LOG,
    LLM_PROVIDER,
    LLM_BASE_URL,
    LLM_MODEL,
    LLM_API_KEY,
    ANTHROPIC_API_KEY,
    OPENAI_API_KEY,
    LLM_CACHE_DIR,
    CONFIG,
];
