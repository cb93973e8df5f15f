//! Chat backends behind one small trait.
//!
//! The resolver speaks a provider-neutral [`ChatRequest`] (a system prompt, messages with tool
//! calls and results, tools, a response schema and how to ask for it) and gets a
//! [`ChatResponse`] back. Two backends: [`openai`] (any OpenAI-compatible chat-completions
//! endpoint through async-openai) and [`anthropic`] (the native Messages API through reqwest).
//! Retries, with backoff and `Retry-After`, live in [`retry`], outside both backends, so the
//! policy is one and tested once; the backends make exactly one HTTP request per call.

pub mod anthropic;
pub mod openai;
pub mod retry;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// How the answer's JSON Schema is put to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    /// `json_schema` for api.openai.com, `json_object` with a schema elsewhere.
    Auto,
    /// OpenAI's `{"type":"json_schema","json_schema":{"name","schema","strict"}}`.
    JsonSchema,
    /// llama.cpp / llama-cpp-python's `{"type":"json_object","schema":{...}}`.
    JsonObject,
    /// Nothing sent: the prompt asks for JSON and the answer is parsed locally.
    None,
}

impl std::str::FromStr for ResponseFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(ResponseFormat::Auto),
            "json_schema" => Ok(ResponseFormat::JsonSchema),
            "json_object" => Ok(ResponseFormat::JsonObject),
            "none" => Ok(ResponseFormat::None),
            other => Err(format!("unknown response format {other:?} (auto, json_schema, json_object, none)")),
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments.
    pub parameters: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Message {
    User(String),
    Assistant { text: String, tool_calls: Vec<ToolCall> },
    ToolResult { id: String, name: String, content: String },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatRequest {
    pub model: String,
    pub system: String,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    /// JSON Schema the final answer must follow.
    pub schema: Value,
    pub format: ResponseFormat,
    pub max_tokens: u32,
    #[serde(skip)]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    End,
    ToolUse,
    /// The answer was cut at `max_tokens`.
    MaxTokens,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    /// The server's own usage figures, when it gives them.
    pub tokens_in: Option<u64>,
    pub tokens_out: Option<u64>,
    pub stop: StopReason,
}

/// Why a call failed. None of these is an error of the scan: the resolver turns each into a
/// plan warning.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum LlmError {
    #[error("HTTP {status}: {body}")]
    Http { status: u16, retry_after: Option<Duration>, body: String },
    #[error("spend limit or quota exhausted: {0}")]
    QuotaExhausted(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("transport: {0}")]
    Transport(String),
    #[error("unreadable response: {0}")]
    Decode(String),
}

impl LlmError {
    /// A server that cannot do tool calling answers 4xx (or a 5xx naming tools) to a request
    /// that carries them.
    pub fn rejects_tools(&self) -> bool {
        match self {
            LlmError::Http { status, body, .. } => {
                let lower = body.to_ascii_lowercase();
                matches!(status, 400 | 404 | 405 | 422 | 501) || (*status >= 500 && lower.contains("tool"))
            }
            _ => false,
        }
    }
}

/// Classifies a non-success status: an exhausted spend limit is not a rate limit to wait out.
pub fn http_error(status: u16, retry_after: Option<Duration>, body: String) -> LlmError {
    let lower = body.to_ascii_lowercase();
    let quota = [
        "insufficient_quota",
        "credit balance",
        "spend limit",
        "billing",
        "quota exceeded",
        "exceeded your current quota",
    ];
    if (status == 429 || status == 402 || status == 403) && quota.iter().any(|q| lower.contains(q)) {
        return LlmError::QuotaExhausted(truncate(&body, 300));
    }
    LlmError::Http { status, retry_after, body: truncate(&body, 500) }
}

/// `Retry-After` in seconds (the HTTP-date form is rare from these APIs and ignored).
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    let v = value?.trim();
    v.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// One chat-completion round trip. Implementations make exactly one HTTP request and honour
/// `request.timeout`; they never retry.
#[async_trait]
pub trait ChatBackend: Send + Sync {
    /// `openai` or `anthropic`, for logs.
    fn provider(&self) -> &'static str;
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError>;
}

/// Runs `fut` under the request's timeout.
pub(crate) async fn with_timeout<T>(
    timeout: Duration,
    fut: impl std::future::Future<Output = Result<T, LlmError>>,
) -> Result<T, LlmError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(LlmError::Timeout(timeout)),
    }
}

pub(crate) fn reqwest_error(e: reqwest::Error, timeout: Duration) -> LlmError {
    if e.is_timeout() {
        LlmError::Timeout(timeout)
    } else {
        LlmError::Transport(e.to_string())
    }
}
