//! The API's one error type: each variant has a stable `code`, a status, and renders as
//! `{"error": {"code": "...", "message": "..."}}`. Handlers return it; nothing else decides a
//! status.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::source::archive::ArchiveError;
use crate::source::ssrf::SsrfError;
use crate::source::SourceError;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ApiError {
    /// 400: the request is malformed (JSON, fields, content type).
    #[error("{1}")]
    BadRequest(&'static str, String),
    /// 400: the git URL was refused by the SSRF guard (its code says why).
    #[error("{1}")]
    Refused(&'static str, String),
    /// 401: no or wrong bearer token.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// 404: no such scan, or no such route.
    #[error("{0}")]
    NotFound(String),
    /// 413: a body or archive limit.
    #[error("{1}")]
    TooLarge(&'static str, String),
    /// 422: the source could not be read (clone failed, ref or subdir missing, bad archive).
    #[error("{1}")]
    Unreadable(&'static str, String),
    /// 429: the token's rate limit; retry after the given seconds.
    #[error("rate limit exceeded; retry in {0} s")]
    RateLimited(u64),
    /// 503: every scan slot and queue place is taken, or the server is shutting down.
    #[error("{1}")]
    Unavailable(u64, String),
    /// 504: the scan did not finish within the scan timeout.
    #[error("the scan did not finish within {0} s")]
    Timeout(u64),
    /// 500: a bug or an I/O failure of the server itself.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The JSON body of an error.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(..) | ApiError::Refused(..) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooLarge(..) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unreadable(..) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(..) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(c, _)
            | ApiError::Refused(c, _)
            | ApiError::TooLarge(c, _)
            | ApiError::Unreadable(c, _) => c,
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotFound(_) => "not_found",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::Unavailable(..) => "overloaded",
            ApiError::Timeout(_) => "scan_timeout",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody { error: ErrorDetail { code: self.code().to_string(), message: self.to_string() } }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status(), axum::Json(self.body())).into_response();
        let retry = match &self {
            ApiError::RateLimited(s) | ApiError::Unavailable(s, _) => Some(*s),
            _ => None,
        };
        if let Some(s) = retry {
            if let Ok(v) = HeaderValue::from_str(&s.max(1).to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if matches!(self, ApiError::Unauthorized) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // The body was refused unread, and the connection closes after this answer: said
        // aloud, so a client does not send its next request down a socket that is going away.
        if matches!(self, ApiError::TooLarge("body_too_large", _)) {
            resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

impl From<SsrfError> for ApiError {
    fn from(e: SsrfError) -> Self {
        match e {
            SsrfError::Unresolvable(_) => ApiError::Unreadable(e.code(), e.to_string()),
            _ => ApiError::Refused(e.code(), e.to_string()),
        }
    }
}

impl From<SourceError> for ApiError {
    fn from(e: SourceError) -> Self {
        let code = match &e {
            SourceError::RefNotFound(_) => "ref_not_found",
            SourceError::SubdirNotFound(_) => "subdir_not_found",
            SourceError::InvalidSubdir(_) => return ApiError::BadRequest("invalid_subdir", e.to_string()),
            SourceError::InvalidRef(_) => return ApiError::BadRequest("invalid_ref", e.to_string()),
            SourceError::TooLarge { .. } => return ApiError::TooLarge("source_too_large", e.to_string()),
            SourceError::Git(_) => "source_unreadable",
            SourceError::Unreadable { .. } | SourceError::NotADirectory { .. } => "source_unreadable",
            SourceError::Cancelled(_) => return ApiError::Internal("the scan was cancelled".into()),
        };
        ApiError::Unreadable(code, e.to_string())
    }
}

impl From<ArchiveError> for ApiError {
    fn from(e: ArchiveError) -> Self {
        if e.is_limit() {
            ApiError::TooLarge(e.code(), e.to_string())
        } else {
            ApiError::Unreadable(e.code(), e.to_string())
        }
    }
}
