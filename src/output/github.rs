//! Pull requests through GitHub's REST API: find the open one for a branch, else open one;
//! update it when found, so that running the hand-off again never opens a second.
//!
//! The base URL is configurable for GitHub Enterprise (`https://HOST/api/v3`). Every request
//! sends the headers GitHub documents (`Authorization: Bearer`, `Accept:
//! application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28`, a `User-Agent`), and every
//! failure GitHub answers with becomes one clear message: a bad token (401), a rate limit with
//! the time it resets (403/429), a missing repository (404), a rejected request with GitHub's
//! own reasons (422).

use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, USER_AGENT};
use serde::Deserialize;
use tracing::{debug, info, info_span};

pub const DEFAULT_API_URL: &str = "https://api.github.com";
pub const API_VERSION: &str = "2022-11-28";

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("GitHub rejected the token (401 Unauthorized: {0}); check GITHUB_TOKEN")]
    Unauthorized(String),
    #[error("GitHub API rate limit exceeded ({status}); it resets at {reset}; try again then")]
    RateLimited { status: u16, reset: String },
    #[error("GitHub refused the request (403 Forbidden: {0}); the token needs write access to pull requests")]
    Forbidden(String),
    #[error("GitHub repository {repo} not found (404), or the token cannot see it")]
    NotFound { repo: String },
    #[error("GitHub rejected the pull request (422 Unprocessable Entity): {0}")]
    Unprocessable(String),
    #[error("GitHub answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("cannot reach the GitHub API at {url}: {message}")]
    Transport { url: String, message: String },
    #[error("invalid GitHub repository {0:?}: expected OWNER/NAME")]
    InvalidRepo(String),
    #[error("unexpected answer from GitHub: {0}")]
    Decode(String),
}

/// A secret that never shows in `Debug` output or logs.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(s: impl Into<String>) -> Token {
        Token(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

/// `OWNER/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoName {
    pub owner: String,
    pub name: String,
}

impl RepoName {
    pub fn parse(s: &str) -> Result<RepoName, GitHubError> {
        let valid = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        match s.split_once('/') {
            Some((o, n)) if valid(o) && valid(n) => Ok(RepoName { owner: o.to_string(), name: n.to_string() }),
            _ => Err(GitHubError::InvalidRepo(s.to_string())),
        }
    }
}

impl std::fmt::Display for RepoName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// The pull request to find, open or update.
#[derive(Debug, Clone)]
pub struct PullRequestSpec {
    pub repo: RepoName,
    /// The owner of the pushed branch (the repository's owner unless it is a fork).
    pub head_owner: String,
    pub branch: String,
    /// The branch to merge into; None: the repository's default branch.
    pub base: Option<String>,
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrOutcome {
    Created { number: u64, url: String },
    Updated { number: u64, url: String },
}

impl PrOutcome {
    pub fn url(&self) -> &str {
        match self {
            PrOutcome::Created { url, .. } | PrOutcome::Updated { url, .. } => url,
        }
    }
}

#[derive(Debug, Deserialize)]
struct PullRequest {
    number: u64,
    html_url: String,
}

#[derive(Debug, Deserialize)]
struct Repository {
    default_branch: String,
}

/// A client for one API base URL and token.
pub struct GitHub {
    client: Client,
    api: String,
}

impl GitHub {
    pub fn new(api_url: &str, token: &Token) -> Result<GitHub, GitHubError> {
        let api = api_url.trim_end_matches('/').to_string();
        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| GitHubError::Unauthorized("the token holds characters a header cannot".into()))?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        headers.insert(ACCEPT, HeaderValue::from_static("application/vnd.github+json"));
        headers.insert("X-GitHub-Api-Version", HeaderValue::from_static(API_VERSION));
        headers.insert(USER_AGENT, HeaderValue::from_static(concat!("repo-scanner/", env!("CARGO_PKG_VERSION"))));
        let client = Client::builder()
            .default_headers(headers)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| GitHubError::Transport { url: api.clone(), message: e.to_string() })?;
        Ok(GitHub { client, api })
    }

    /// The web URL of a repository, for links: `https://github.com/o/r`, or on GitHub
    /// Enterprise the API host without `/api/v3`.
    pub fn web_url(&self, repo: &RepoName) -> String {
        let base = if self.api == DEFAULT_API_URL {
            "https://github.com".to_string()
        } else {
            self.api.trim_end_matches("/api/v3").to_string()
        };
        format!("{base}/{repo}")
    }

    /// Finds the open pull request for the branch and updates it, or opens one.
    pub fn open_or_update(&self, spec: &PullRequestSpec) -> Result<PrOutcome, GitHubError> {
        let span = info_span!("github.pull_request", repo = %spec.repo, branch = %spec.branch);
        let _enter = span.enter();
        if let Some(pr) = self.find(spec)? {
            let url = format!("{}/repos/{}/pulls/{}", self.api, spec.repo, pr.number);
            let mut body = serde_json::json!({ "title": spec.title, "body": spec.body });
            if let Some(base) = &spec.base {
                body["base"] = serde_json::Value::String(base.clone());
            }
            let resp = self.send(self.client.patch(&url).json(&body), &url)?;
            let pr: PullRequest = self.decode(resp, spec)?;
            info!(number = pr.number, "pull request updated");
            return Ok(PrOutcome::Updated { number: pr.number, url: pr.html_url });
        }
        let base = match &spec.base {
            Some(b) => b.clone(),
            None => self.default_branch(spec)?,
        };
        let url = format!("{}/repos/{}/pulls", self.api, spec.repo);
        let head = if spec.head_owner == spec.repo.owner {
            spec.branch.clone()
        } else {
            format!("{}:{}", spec.head_owner, spec.branch)
        };
        let body = serde_json::json!({
            "title": spec.title,
            "body": spec.body,
            "head": head,
            "base": base,
            "maintainer_can_modify": true,
        });
        let resp = self.send(self.client.post(&url).json(&body), &url)?;
        let pr: PullRequest = self.decode(resp, spec)?;
        info!(number = pr.number, "pull request opened");
        Ok(PrOutcome::Created { number: pr.number, url: pr.html_url })
    }

    fn find(&self, spec: &PullRequestSpec) -> Result<Option<PullRequest>, GitHubError> {
        let url = format!("{}/repos/{}/pulls", self.api, spec.repo);
        let head = format!("{}:{}", spec.head_owner, spec.branch);
        let req = self.client.get(&url).query(&[("head", head.as_str()), ("state", "open")]);
        let resp = self.send(req, &url)?;
        let prs: Vec<PullRequest> = self.decode(resp, spec)?;
        debug!(found = prs.len(), "open pull requests for the branch");
        Ok(prs.into_iter().next())
    }

    fn default_branch(&self, spec: &PullRequestSpec) -> Result<String, GitHubError> {
        let url = format!("{}/repos/{}", self.api, spec.repo);
        let resp = self.send(self.client.get(&url), &url)?;
        let repo: Repository = self.decode(resp, spec)?;
        Ok(repo.default_branch)
    }

    fn send(&self, req: reqwest::blocking::RequestBuilder, url: &str) -> Result<Response, GitHubError> {
        req.send().map_err(|e| GitHubError::Transport { url: url.to_string(), message: error_chain(&e) })
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, resp: Response, spec: &PullRequestSpec) -> Result<T, GitHubError> {
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return resp.json::<T>().map_err(|e| GitHubError::Decode(e.to_string()));
        }
        let headers = resp.headers().clone();
        let text = resp.text().unwrap_or_default();
        Err(classify(status, &headers, &text, &spec.repo))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

/// One error per status GitHub documents.
fn classify(status: u16, headers: &HeaderMap, text: &str, repo: &RepoName) -> GitHubError {
    let body: ErrorBody = serde_json::from_str(text).unwrap_or_default();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let message = if body.message.is_empty() { text.chars().take(200).collect() } else { body.message.clone() };
    let exhausted = header("x-ratelimit-remaining").as_deref() == Some("0");
    let rate_text = message.to_ascii_lowercase().contains("rate limit");
    match status {
        401 => GitHubError::Unauthorized(message),
        403 | 429 if exhausted || rate_text || status == 429 => {
            let reset = match (header("x-ratelimit-reset").and_then(|r| r.parse::<u64>().ok()), header("retry-after")) {
                (Some(epoch), _) => format!("{} (epoch {epoch})", utc(epoch)),
                (None, Some(after)) => format!("{after} s from now (Retry-After)"),
                (None, None) => "an unknown time".to_string(),
            };
            GitHubError::RateLimited { status, reset }
        }
        403 => GitHubError::Forbidden(message),
        404 => GitHubError::NotFound { repo: repo.to_string() },
        422 => {
            let details: Vec<String> = body
                .errors
                .iter()
                .map(|e| match e.get("message").and_then(|m| m.as_str()) {
                    Some(m) => m.to_string(),
                    None => e.to_string(),
                })
                .collect();
            if details.is_empty() {
                GitHubError::Unprocessable(message)
            } else {
                GitHubError::Unprocessable(format!("{message}: {}", details.join("; ")))
            }
        }
        _ => GitHubError::Status { status, message },
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` for a Unix time (Howard Hinnant's civil-from-days).
pub fn utc(epoch: u64) -> String {
    let days = i64::try_from(epoch / 86_400).unwrap_or(0);
    let secs = epoch % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_704_067_200), "2024-01-01 00:00:00 UTC");
        assert_eq!(utc(1_709_210_096), "2024-02-29 12:34:56 UTC");
    }

    #[test]
    fn repo_names() {
        assert!(RepoName::parse("a/b").is_ok());
        assert!(RepoName::parse("a").is_err());
        assert!(RepoName::parse("a/b/c").is_err());
    }

    #[test]
    fn tokens_do_not_leak_in_debug() {
        assert_eq!(format!("{:?}", Token::new("ghp_secret")), "Token(***)");
    }
}
