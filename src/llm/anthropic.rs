//! Anthropic's native Messages API through reqwest.
//!
//! `POST {base}/v1/messages` with `x-api-key` and `anthropic-version`; tools as
//! `{name, description, input_schema}`, the model's calls as `tool_use` blocks and our answers
//! as `tool_result` blocks in a user turn; the answer's schema in
//! `output_config.format = {type: json_schema, schema}` (Anthropic's OpenAI-compatible endpoint
//! ignores `response_format`, hence this backend).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};
use tracing::{info_span, Instrument};

use super::{
    http_error, parse_retry_after, reqwest_error, with_timeout, ChatBackend, ChatRequest, ChatResponse, LlmError,
    Message, ResponseFormat, StopReason, ToolCall,
};
use crate::secret::Secret;

pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
pub const API_VERSION: &str = "2023-06-01";

pub struct AnthropicBackend {
    http: reqwest::Client,
    base_url: String,
    api_key: Secret,
}

impl AnthropicBackend {
    pub fn new(base_url: Option<&str>, api_key: Secret, timeout: Duration) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| LlmError::Transport(e.to_string()))?;
        let base = base_url.unwrap_or(DEFAULT_BASE_URL).trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base).to_string();
        Ok(AnthropicBackend { http, base_url: base, api_key })
    }

    /// The Messages API body for `request`.
    pub fn body(request: &ChatRequest) -> Value {
        let mut messages: Vec<Value> = Vec::new();
        for m in &request.messages {
            let (role, blocks) = match m {
                Message::User(text) => ("user", vec![json!({"type": "text", "text": text})]),
                Message::Assistant { text, tool_calls } => {
                    let mut b = Vec::new();
                    if !text.is_empty() {
                        b.push(json!({"type": "text", "text": text}));
                    }
                    for c in tool_calls {
                        let input = if c.arguments.is_object() { c.arguments.clone() } else { json!({}) };
                        b.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}));
                    }
                    ("assistant", b)
                }
                Message::ToolResult { id, content, .. } => {
                    ("user", vec![json!({"type": "tool_result", "tool_use_id": id, "content": content})])
                }
            };
            // Consecutive turns of one role merge: tool results for several calls go in one turn.
            match messages.last_mut() {
                Some(last) if last["role"] == role => {
                    if let Some(arr) = last["content"].as_array_mut() {
                        arr.extend(blocks);
                    }
                }
                _ => messages.push(json!({"role": role, "content": blocks})),
            }
        }
        let mut body = json!({
            "model": request.model,
            "max_tokens": request.max_tokens,
            "system": request.system,
            "messages": messages,
            "temperature": 0,
        });
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
                .collect();
        }
        if request.format != ResponseFormat::None {
            body["output_config"] = json!({"format": {"type": "json_schema", "schema": request.schema}});
        }
        body
    }
}

#[async_trait]
impl ChatBackend for AnthropicBackend {
    fn provider(&self) -> &'static str {
        "anthropic"
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let span = info_span!("llm.anthropic", model = %request.model, tools = request.tools.len());
        let url = format!("{}/v1/messages", self.base_url);
        let body = Self::body(request);
        let call = async {
            let response = self
                .http
                .post(&url)
                .header("x-api-key", self.api_key.expose())
                .header("anthropic-version", API_VERSION)
                .json(&body)
                .send()
                .await
                .map_err(|e| reqwest_error(e, request.timeout))?;
            let status = response.status();
            let retry_after = parse_retry_after(response.headers().get("retry-after").and_then(|v| v.to_str().ok()));
            let text = response.text().await.map_err(|e| reqwest_error(e, request.timeout))?;
            if !status.is_success() {
                return Err(http_error(status.as_u16(), retry_after, text));
            }
            let v: Value = serde_json::from_str(&text).map_err(|e| LlmError::Decode(e.to_string()))?;
            parse_response(&v)
        };
        with_timeout(request.timeout, call).instrument(span).await
    }
}

/// Reads the content blocks, stop reason and usage of a Messages API response.
pub fn parse_response(v: &Value) -> Result<ChatResponse, LlmError> {
    let blocks = v.get("content").and_then(Value::as_array).ok_or_else(|| LlmError::Decode("no content".into()))?;
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for b in blocks {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(b.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => tool_calls.push(ToolCall {
                id: b.get("id").and_then(Value::as_str).unwrap_or("").to_string(),
                name: b.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
                arguments: b.get("input").cloned().unwrap_or(Value::Null),
            }),
            _ => {}
        }
    }
    let stop = match v.get("stop_reason").and_then(Value::as_str) {
        Some("end_turn" | "stop_sequence") => StopReason::End,
        Some("tool_use") => StopReason::ToolUse,
        Some("max_tokens") => StopReason::MaxTokens,
        _ => StopReason::Other,
    };
    let usage = v.get("usage");
    let n = |k: &str| usage.and_then(|u| u.get(k)).and_then(Value::as_u64);
    Ok(ChatResponse { text, tool_calls, tokens_in: n("input_tokens"), tokens_out: n("output_tokens"), stop })
}
