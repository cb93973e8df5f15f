//! Any OpenAI-compatible chat-completions endpoint (llama.cpp, llama-cpp-python, vLLM, Ollama,
//! OpenAI, gateways) through async-openai.
//!
//! The request body is built as JSON and sent with async-openai's bring-your-own-types call,
//! because the llama.cpp form of structured output (`json_object` with a `schema`) is not in
//! OpenAI's types. The client's own retry layer is replaced by a plain transport that also
//! keeps the status, `Retry-After` and body of a failure, so [`super::retry`] decides.

use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use async_openai::Client;
use async_trait::async_trait;
use serde_json::{json, Value};
use tracing::{debug, info_span, Instrument};

use super::{
    http_error, parse_retry_after, reqwest_error, with_timeout, ChatBackend, ChatRequest, ChatResponse, LlmError,
    Message, ResponseFormat, StopReason, ToolCall,
};

/// A failed HTTP exchange, carried through async-openai's boxed middleware error.
#[derive(Debug)]
struct HttpFailure(LlmError);

impl std::fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for HttpFailure {}

/// One request, one response: no retries. Non-success answers become [`HttpFailure`].
#[derive(Clone)]
struct Transport {
    client: reqwest::Client,
    timeout: Duration,
}

impl tower::Service<HttpRequestFactory> for Transport {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<reqwest::Response, OpenAIError>> + Send + 'static>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), OpenAIError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let client = self.client.clone();
        let timeout = self.timeout;
        Box::pin(async move {
            let request = factory.build().await?;
            let boxed = |e: LlmError| OpenAIError::Boxed(Box::new(HttpFailure(e)));
            let response = client.execute(request).await.map_err(|e| boxed(reqwest_error(e, timeout)))?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            let retry_after = parse_retry_after(response.headers().get("retry-after").and_then(|v| v.to_str().ok()));
            let body = response.text().await.unwrap_or_default();
            Err(boxed(http_error(status.as_u16(), retry_after, body)))
        })
    }
}

pub struct OpenAiBackend {
    client: Client<OpenAIConfig>,
    base_url: String,
}

impl OpenAiBackend {
    /// `base_url` ends in `/v1` (e.g. `http://127.0.0.1:8080/v1`); `timeout` bounds each request.
    pub fn new(base_url: &str, api_key: Option<&str>, timeout: Duration) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| LlmError::Transport(e.to_string()))?;
        let config =
            OpenAIConfig::new().with_api_base(base_url.trim_end_matches('/')).with_api_key(api_key.unwrap_or(""));
        let client = Client::with_config(config)
            .with_http_client(http.clone())
            .with_http_service(Transport { client: http, timeout });
        Ok(OpenAiBackend { client, base_url: base_url.to_string() })
    }

    /// `auto`: OpenAI's own API takes `json_schema`; llama.cpp and most others take
    /// `json_object` with a schema.
    pub fn effective_format(&self, asked: ResponseFormat) -> ResponseFormat {
        match asked {
            ResponseFormat::Auto if self.base_url.contains("api.openai.com") => ResponseFormat::JsonSchema,
            ResponseFormat::Auto => ResponseFormat::JsonObject,
            other => other,
        }
    }

    /// The chat-completions body for `request`.
    pub fn body(&self, request: &ChatRequest) -> Value {
        let mut messages = vec![json!({"role": "system", "content": request.system})];
        for m in &request.messages {
            messages.push(match m {
                Message::User(text) => json!({"role": "user", "content": text}),
                Message::Assistant { text, tool_calls } if tool_calls.is_empty() => {
                    json!({"role": "assistant", "content": text})
                }
                Message::Assistant { text, tool_calls } => json!({
                    "role": "assistant",
                    "content": if text.is_empty() { Value::Null } else { json!(text) },
                    "tool_calls": tool_calls.iter().map(|c| json!({
                        "id": c.id, "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments.to_string()}
                    })).collect::<Vec<_>>(),
                }),
                Message::ToolResult { id, content, .. } => {
                    json!({"role": "tool", "tool_call_id": id, "content": content})
                }
            });
        }
        let mut body = json!({
            "model": request.model,
            "messages": messages,
            "max_tokens": request.max_tokens,
            "temperature": 0,
            "stream": false,
        });
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description, "parameters": t.parameters}})
                })
                .collect();
        }
        match self.effective_format(request.format) {
            ResponseFormat::JsonSchema => {
                body["response_format"] = json!({"type": "json_schema", "json_schema": {
                    "name": "resolution", "schema": request.schema, "strict": true}});
            }
            ResponseFormat::JsonObject => {
                body["response_format"] = json!({"type": "json_object", "schema": request.schema});
            }
            ResponseFormat::None | ResponseFormat::Auto => {}
        }
        body
    }
}

#[async_trait]
impl ChatBackend for OpenAiBackend {
    fn provider(&self) -> &'static str {
        "openai"
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = self.body(request);
        let span = info_span!("llm.openai", model = %request.model, tools = request.tools.len());
        let call = async {
            let value: Value = self.client.chat().create_byot(body).await.map_err(|e| match e {
                OpenAIError::Boxed(b) => match b.downcast::<HttpFailure>() {
                    Ok(f) => f.0,
                    Err(other) => LlmError::Transport(other.to_string()),
                },
                OpenAIError::JSONDeserialize(err, _) => LlmError::Decode(err.to_string()),
                OpenAIError::Reqwest(e) => reqwest_error(e, request.timeout),
                OpenAIError::ApiError(a) => http_error(a.status_code.as_u16(), None, a.api_error.message),
                other => LlmError::Transport(other.to_string()),
            })?;
            parse_response(&value)
        };
        let r = with_timeout(request.timeout, call).instrument(span).await;
        debug!(ok = r.is_ok(), "openai-compatible call done");
        r
    }
}

/// Reads `choices[0].message` and `usage` of a chat-completions response.
pub fn parse_response(v: &Value) -> Result<ChatResponse, LlmError> {
    let choice =
        v.get("choices").and_then(|c| c.get(0)).ok_or_else(|| LlmError::Decode("no choices in the response".into()))?;
    let message = choice.get("message").ok_or_else(|| LlmError::Decode("no message in the choice".into()))?;
    let text = message.get("content").and_then(Value::as_str).unwrap_or("").to_string();
    let mut tool_calls = Vec::new();
    if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
        for (i, c) in calls.iter().enumerate() {
            let f = c.get("function").unwrap_or(&Value::Null);
            let Some(name) = f.get("name").and_then(Value::as_str) else { continue };
            let arguments = match f.get("arguments") {
                Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
                Some(other) => other.clone(),
                None => Value::Null,
            };
            let id = c.get("id").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| format!("call_{i}"));
            tool_calls.push(ToolCall { id, name: name.to_string(), arguments });
        }
    }
    let stop = match choice.get("finish_reason").and_then(Value::as_str) {
        Some("stop") => StopReason::End,
        Some("length") => StopReason::MaxTokens,
        Some("tool_calls" | "function_call") => StopReason::ToolUse,
        _ if !tool_calls.is_empty() => StopReason::ToolUse,
        _ => StopReason::Other,
    };
    let usage = v.get("usage");
    let n = |k: &str| usage.and_then(|u| u.get(k)).and_then(Value::as_u64);
    Ok(ChatResponse { text, tool_calls, tokens_in: n("prompt_tokens"), tokens_out: n("completion_tokens"), stop })
}
