//! The routes: axum handlers, the auth and rate-limit middleware, request ids and tracing.

use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::{info_span, warn, Instrument, Span};

use super::auth::authenticate;
use super::error::ApiError;
use super::{AppState, JobRecord};
use crate::pipeline;
use crate::plan::{self, Source, SourceKind};
use crate::source::ssrf::Target;
use crate::source::{archive, git, Loaded};

const REQUEST_ID: &str = "x-request-id";

/// The whole API. `/v1/*` needs a token (when tokens are configured) and is rate limited;
/// health, readiness, metrics and the OpenAPI document are open.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/v1/scans", post(create_scan))
        .route("/v1/scans/{id}", get(get_scan))
        .route("/v1/schema", get(schema))
        .layer(middleware::from_fn_with_state(state.clone(), guard));
    let request_id = HeaderName::from_static(REQUEST_ID);
    Router::new()
        .merge(v1)
        .route("/openapi.json", get(openapi))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                    let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        request_id = %id,
                        caller = tracing::field::Empty
                    )
                }))
                .layer(PropagateRequestIdLayer::new(request_id)),
        )
}

/// The client address's rate limit, auth, then the caller's rate limit.
async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Err(retry) = super::work::check_address(&state, &req) {
        state.metrics.rejected("rate_limit_address");
        return ApiError::RateLimited(retry).into_response();
    }
    let caller = match authenticate(&state.config.tokens, req.headers()) {
        Ok(c) => c,
        Err(e) => {
            state.metrics.rejected("unauthorized");
            return e.into_response();
        }
    };
    if let Err(retry) = state.rate.check(&caller) {
        state.metrics.rejected("rate_limit");
        return ApiError::RateLimited(retry).into_response();
    }
    Span::current().record("caller", caller.0.as_str());
    req.extensions_mut().insert(caller);
    next.run(req).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanRequest {
    source: String,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    subdir: Option<String>,
    #[serde(default)]
    llm: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadQuery {
    subdir: Option<String>,
    #[serde(default)]
    llm: bool,
}

/// What a scan task runs.
pub(super) enum Job {
    Git { target: Target, git_ref: Option<String>, subdir: Option<String>, llm: bool },
    Archive { body: Bytes, subdir: Option<String>, llm: bool },
}

fn is_gzip(headers: &HeaderMap) -> Option<bool> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let essence = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/gzip" | "application/x-gzip" | "application/x-tar+gzip" | "application/x-gtar" => Some(true),
        "application/json" => Some(false),
        _ => None,
    }
}

async fn read_body(state: &AppState, headers: &HeaderMap, body: Body, limit: u64) -> Result<Bytes, ApiError> {
    let too_large = || {
        state.metrics.rejected("body_too_large");
        ApiError::TooLarge("body_too_large", format!("the request body is over the limit of {limit} bytes"))
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit as usize).await.map_err(|_| too_large())
}

async fn create_scan(
    State(state): State<AppState>,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let gzip = is_gzip(&headers).ok_or_else(|| {
        ApiError::BadRequest(
            "unsupported_content_type",
            "send application/json ({source, ref, subdir, llm}) or application/gzip (a .tar.gz)".into(),
        )
    })?;
    let job = if gzip {
        let body = read_body(&state, &headers, body, state.config.limits.max_upload_bytes).await?;
        let Query(q) = query.map_err(|e| ApiError::BadRequest("invalid_query", e.body_text()))?;
        Job::Archive { body, subdir: q.subdir, llm: q.llm }
    } else {
        let body = read_body(&state, &headers, body, state.config.limits.max_json_bytes as u64).await?;
        let req: ScanRequest = serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest("invalid_json", format!("invalid scan request: {e}")))?;
        let target = match state.policy.check_url_without_dns(&req.source) {
            Some(checked) => checked,
            None => {
                let (policy, url) = (state.policy.clone(), req.source.clone());
                tokio::task::spawn_blocking(move || policy.check_url(&url))
                    .await
                    .map_err(|e| ApiError::Internal(e.to_string()))?
            }
        };
        let target = target.inspect_err(|e| {
            state.metrics.rejected("ssrf");
            warn!(url = %req.source, code = e.code(), "source refused");
        })?;
        // A full commit id is immutable: a cached plan answers without any network call.
        if let Some(sha) = req.git_ref.as_deref().filter(|r| git::is_full_sha(r)) {
            let key = scan_key(&target.url, &sha.to_ascii_lowercase(), req.subdir.as_deref(), req.llm);
            if let Some(bytes) = state.cache.get(&key).await {
                state.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
                record(&state, &Ok(bytes.clone()), started);
                return Ok(plan_response(bytes));
            }
        }
        Job::Git { target, git_ref: req.git_ref, subdir: req.subdir, llm: req.llm }
    };
    super::work::check_job_form(&job)?;
    let ticket = state.admit()?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (tx, mut rx) = tokio::sync::oneshot::channel::<Result<Vec<u8>, ApiError>>();
    let task_state = state.clone();
    let task_id = id.clone();
    let guard = state.track();
    tokio::spawn(
        async move {
            let result = execute(&task_state, job).await;
            drop(ticket);
            record(&task_state, &result, started);
            if let Err(result) = tx.send(result) {
                // The request answered 202: leave the result for polling.
                let rec = match result {
                    Ok(plan) => JobRecord::Done(plan),
                    Err(e) => JobRecord::Failed(e.status().as_u16(), serde_json::to_vec(&e.body()).unwrap_or_default()),
                };
                task_state.jobs.put(&task_state.cache, &task_id, &rec).await;
            }
            drop(guard);
        }
        .instrument(Span::current()),
    );
    match tokio::time::timeout(state.config.wait(), &mut rx).await {
        Ok(Ok(result)) => result.map(plan_response),
        Ok(Err(_)) => Err(ApiError::Internal("the scan task ended without a result".into())),
        Err(_) => {
            state.jobs.put(&state.cache, &id, &JobRecord::Running).await;
            // After close() the task's send fails, so its result goes to the job store; a
            // result sent just before is still here.
            rx.close();
            if let Ok(result) = rx.try_recv() {
                return result.map(plan_response);
            }
            Ok(accepted(&id))
        }
    }
}

fn accepted(id: &str) -> Response {
    let location = format!("/v1/scans/{id}");
    let mut resp =
        (StatusCode::ACCEPTED, Json(json!({"id": id, "status": "running", "location": location}))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn plan_response(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], bytes).into_response()
}

/// The cache key of a scan: every input that changes the plan.
fn scan_key(url: &str, commit: &str, subdir: Option<&str>, llm: bool) -> String {
    let subdir = subdir.unwrap_or("").trim_matches('/');
    format!(
        "repo-scanner:scan:v{}:{}:{url}\n{commit}\n{subdir}\n{llm}",
        plan::SCHEMA_VERSION,
        env!("CARGO_PKG_VERSION")
    )
}

/// The labels a finished scan is counted under.
#[derive(Deserialize)]
struct Labels {
    status: String,
    strategy: String,
    language: Option<LanguageLabel>,
}

#[derive(Deserialize)]
struct LanguageLabel {
    name: String,
}

fn record(state: &AppState, result: &Result<Vec<u8>, ApiError>, started: Instant) {
    let took = started.elapsed();
    match result.as_ref().ok().and_then(|b| serde_json::from_slice::<Labels>(b).ok()) {
        Some(l) => {
            let lang = l.language.map_or("none".to_string(), |l| l.name);
            state.metrics.scan_finished(&l.status, &l.strategy, &lang, took);
        }
        None => state.metrics.scan_finished("failed", "none", "none", took),
    }
}

/// Holds a slot for the whole scan, bounded by the scan timeout. The slot lives with the work
/// (see [`super::work`]): a scan that times out is cancelled, and its slot is free only once
/// its fetch or unpack has stopped.
async fn execute(state: &AppState, job: Job) -> Result<Vec<u8>, ApiError> {
    let permit = state.slots.clone().acquire_owned().await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let work = super::work::Work::new(permit);
    state.metrics.queued.fetch_sub(1, Ordering::SeqCst);
    state.metrics.in_flight.fetch_add(1, Ordering::SeqCst);
    let timeout = state.config.scan_timeout();
    let result = match tokio::time::timeout(timeout, scan_job(state, job, &work)).await {
        Ok(r) => r,
        Err(_) => {
            work.cancel.cancel();
            Err(ApiError::Timeout(timeout.as_secs()))
        }
    };
    state.metrics.in_flight.fetch_sub(1, Ordering::SeqCst);
    result
}

/// Runs `f` on the blocking pool inside the current span, holding `work`'s slot until `f`
/// returns (even when the caller has stopped waiting).
async fn blocking<T: Send + 'static>(
    work: &super::work::Work,
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let span = Span::current();
    let slot = work.slot();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        span.in_scope(f)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// The pipeline over a listed source, with the server's resolver as the escalation.
fn run_pipeline(
    loaded: Loaded,
    subdir: Option<String>,
    resolver: Option<std::sync::Arc<dyn crate::serve::PlanResolver>>,
    cancel: crate::cancel::Cancel,
) -> Result<crate::plan::Plan, ApiError> {
    let escalate = |plan, view: &crate::view::RepoView| match &resolver {
        Some(r) => r.resolve(view, plan),
        None => plan,
    };
    let options = pipeline::Options {
        subdir,
        escalation: resolver.is_some().then_some(&escalate as &dyn pipeline::Escalate),
        cancel,
        ..pipeline::Options::default()
    };
    match pipeline::run_loaded(loaded, &options) {
        Ok(out) => Ok(out.plan),
        Err(pipeline::PipelineError::Source(e)) => Err(e.into()),
        Err(pipeline::PipelineError::Cancelled(_)) => Err(ApiError::Internal("the scan was cancelled".into())),
    }
}

async fn scan_job(state: &AppState, job: Job, work: &super::work::Work) -> Result<Vec<u8>, ApiError> {
    let cancel = work.cancel.clone();
    let limits = state.config.view_limits();
    let resolver = state.resolver.clone();
    match job {
        Job::Archive { body, subdir, llm } => {
            let archive_limits = state.config.archive_limits();
            let plan = blocking(work, move || {
                let view = archive::list_cancellable(&body, archive_limits, limits, &cancel)?;
                let source =
                    Source { kind: SourceKind::Archive, location: "upload".into(), git_ref: None, commit: None };
                run_pipeline(Loaded { view, source }, subdir, resolver.filter(|_| llm), cancel)
            })
            .await?;
            serde_json::to_vec(&plan).map_err(|e| ApiError::Internal(e.to_string()))
        }
        Job::Git { target, git_ref, subdir, llm } => {
            let options = git::FetchOptions {
                proxy: target.needs_proxy.then(|| state.proxy_url.clone()),
                max_bytes: Some(state.config.limits.max_fetch_bytes),
                cancel: cancel.clone(),
                ..git::FetchOptions::default()
            };
            let (url, r, o) = (target.connect_url.clone(), git_ref.clone(), options.clone());
            let resolved = blocking(work, move || Ok(git::resolve_ref(&url, r.as_deref(), &o)?)).await?;
            if let Some(commit) = resolved.commit() {
                let key = scan_key(&target.url, &commit, subdir.as_deref(), llm);
                if let Some(bytes) = state.cache.get(&key).await {
                    state.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(bytes);
                }
            }
            state.metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
            state.metrics.git_fetches.fetch_add(1, Ordering::Relaxed);
            let (url, location, sub) = (target.connect_url.clone(), target.url.clone(), subdir.clone());
            let (plan, commit) = blocking(work, move || {
                let (view, commit) = git::fetch_resolved(&url, git_ref.as_deref(), &resolved, limits, &options)?;
                let source = Source { kind: SourceKind::Git, location, git_ref, commit: Some(commit.clone()) };
                Ok((run_pipeline(Loaded { view, source }, sub, resolver.filter(|_| llm), cancel)?, commit))
            })
            .await?;
            let bytes = serde_json::to_vec(&plan).map_err(|e| ApiError::Internal(e.to_string()))?;
            let key = scan_key(&target.url, &commit, subdir.as_deref(), llm);
            state.cache.put(&key, &bytes, state.config.cache_ttl()).await;
            Ok(bytes)
        }
    }
}

async fn get_scan(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let unknown = || ApiError::NotFound(format!("no scan {id:?}"));
    if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(unknown());
    }
    match state.jobs.get(&state.cache, &id).await.ok_or_else(unknown)? {
        JobRecord::Running => Ok(accepted(&id)),
        JobRecord::Done(plan) => Ok(plan_response(plan)),
        JobRecord::Failed(status, body) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Ok((status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response())
        }
    }
}

async fn schema() -> Json<serde_json::Value> {
    Json(plan::json_schema())
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.is_shutting_down() {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "shutting_down"}))).into_response()
    } else {
        Json(json!({"status": "ready"})).into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(state.cache.errors());
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"))], text).into_response()
}

async fn openapi() -> Json<serde_json::Value> {
    Json(openapi_document())
}

/// The OpenAPI 3.1 description of the API, written by hand (a dozen operations; the plan's
/// own schema is generated and embedded). A test checks it against the router's routes.
pub fn openapi_document() -> serde_json::Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let err = |desc: &str| json!({"description": desc, "content": {"application/json": {"schema": error}}});
    let plan_ref = json!({"$ref": "#/components/schemas/Plan"});
    let plan_ok = json!({"description": "The plan", "content": {"application/json": {"schema": plan_ref}}});
    let running = json!({
        "description": "Still running: poll the Location",
        "headers": {"Location": {"schema": {"type": "string"}}},
        "content": {"application/json": {"schema": {"type": "object", "properties": {
            "id": {"type": "string"}, "status": {"const": "running"}, "location": {"type": "string"}}}}}
    });
    // The plan's schema refers to its `$defs`; in the document they join components.schemas.
    let generated = plan::json_schema().to_string().replace("#/$defs/", "#/components/schemas/");
    let mut plan_schema: serde_json::Value = serde_json::from_str(&generated).unwrap_or_default();
    let mut schemas = serde_json::Map::new();
    if let Some(o) = plan_schema.as_object_mut() {
        o.remove("$schema");
        if let Some(serde_json::Value::Object(defs)) = o.remove("$defs") {
            schemas.extend(defs);
        }
    }
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "repo-scanner", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Pre-deploy analysis: how a repository is built and run."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Plan": plan_schema,
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "ScanRequest": {"type": "object", "required": ["source"], "additionalProperties": false, "properties": {
                    "source": {"type": "string", "minLength": 1, "maxLength": super::work::MAX_SOURCE_CHARS,
                               "pattern": "^([hH][tT][tT][pP][sS]|[gG][iI][tT])://",
                               "description": "https:// or git:// URL of a public host (private and loopback addresses are refused unless allow-listed); no credentials in the URL"},
                    "ref": {"type": ["string", "null"], "maxLength": 255,
                            "description": "branch, tag, full ref or commit id (4-40 hex); default: HEAD"},
                    "subdir": {"type": ["string", "null"], "maxLength": 4096,
                               "description": "relative directory of the app: no `.` or `..` components, no control characters"},
                    "llm": {"type": "boolean", "default": false}}}
            }
        },
        "paths": {
            "/v1/scans": {"post": {
                "summary": "Scan a git URL (JSON) or an uploaded .tar.gz (application/gzip)",
                "security": [{"bearer": []}],
                "parameters": [
                    {"name": "subdir", "in": "query", "schema": {"type": "string"}, "description": "uploads only"},
                    {"name": "llm", "in": "query", "schema": {"type": "boolean"}, "description": "uploads only"}],
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ScanRequest"}},
                    "application/gzip": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": {
                    "200": plan_ok, "202": running,
                    "400": err("Bad request: JSON, content type, ref or subdir form, or a URL refused by the SSRF guard"),
                    "401": err("Missing or wrong bearer token"),
                    "413": err("Body, archive or git fetch over a limit"),
                    "422": err("The source could not be read"),
                    "429": err("Rate limited (Retry-After)"),
                    "503": err("Overloaded or shutting down (Retry-After)"),
                    "504": err("The scan timed out")}}},
            "/v1/scans/{id}": {"get": {
                "summary": "Poll a scan answered with 202",
                "security": [{"bearer": []}],
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": plan_ok, "202": running, "404": err("Unknown scan (or expired)"),
                              "401": err("Missing or wrong bearer token"),
                              "429": err("Rate limited (Retry-After)"),
                              "400": err("The scan failed: invalid subdirectory or ref"),
                              "413": err("The scan failed: archive or fetch over a limit"),
                              "422": err("The scan failed: the source could not be read"),
                              "500": err("The scan failed: internal error"),
                              "504": err("The scan timed out")}}},
            "/v1/schema": {"get": {"summary": "The plan's JSON Schema", "security": [{"bearer": []}],
                "responses": {"200": {"description": "JSON Schema", "content": {"application/json": {}}},
                              "401": err("Missing or wrong bearer token"),
                              "429": err("Rate limited (Retry-After)")}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI"}}}},
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "alive"}}}},
            "/readyz": {"get": {"summary": "Readiness", "responses": {
                "200": {"description": "ready"}, "503": {"description": "shutting down"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
                "200": {"description": "text exposition format", "content": {"text/plain": {}}}}}}
        }
    });
    if let Some(s) = doc["components"]["schemas"].as_object_mut() {
        s.extend(schemas);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_lists_every_route() {
        let doc = openapi_document();
        for p in ["/v1/scans", "/v1/scans/{id}", "/v1/schema", "/openapi.json", "/healthz", "/readyz", "/metrics"] {
            assert!(doc["paths"][p].is_object(), "{p}");
        }
        assert!(doc["components"]["schemas"]["Plan"]["properties"]["processes"].is_object());
    }

    #[test]
    fn cache_keys_separate_every_input() {
        let a = scan_key("git://h/r", "c", None, false);
        assert_eq!(a, scan_key("git://h/r", "c", Some("/"), false));
        assert_ne!(a, scan_key("git://h/r", "c", None, true));
        assert_ne!(a, scan_key("git://h/r", "c", Some("x"), false));
        assert_ne!(a, scan_key("git://h/r", "d", None, false));
    }
}
