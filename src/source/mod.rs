//! Sources: where a repository comes from, turned into a [`RepoView`].
//!
//! This is the I/O edge of a scan. A source lists the tree once (bounded by [`Limits`]) and hands
//! the rules a read-only view; nothing past this module touches the file system or git.

pub mod archive;
pub mod dir;
pub mod git;
pub mod ssrf;

use std::path::Path;

use thiserror::Error;

use crate::cancel::{Cancel, Cancelled};
use crate::plan::{Source, SourceKind};
use crate::view::{Limits, RepoView};

#[derive(Debug, Error)]
pub enum SourceError {
    #[error("cannot read {path}: {message}")]
    Unreadable { path: String, message: String },
    #[error("{path} is not a directory")]
    NotADirectory { path: String },
    #[error("git: {0}")]
    Git(String),
    #[error("ref {0:?} not found in the remote")]
    RefNotFound(String),
    #[error("subdirectory {0:?} not found in the repository")]
    SubdirNotFound(String),
    #[error("invalid subdirectory {0:?}: must be a relative path inside the repository")]
    InvalidSubdir(String),
    #[error("invalid ref {0:?}: not a branch, tag or commit name")]
    InvalidRef(String),
    #[error("the fetch transferred more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

/// A listed repository plus where it came from.
pub struct Loaded {
    pub view: RepoView,
    pub source: Source,
}

/// What the user asked to scan.
#[derive(Debug, Clone)]
pub enum Request {
    Dir(std::path::PathBuf),
    Git { url: String, git_ref: Option<String> },
}

impl Request {
    /// A local path unless the argument looks like a git URL (scheme or scp-like `host:path`).
    pub fn parse(arg: &str, git_ref: Option<String>) -> Request {
        if git::looks_like_url(arg) {
            Request::Git { url: arg.to_string(), git_ref }
        } else {
            Request::Dir(arg.into())
        }
    }
}

/// Lists the source, without a way to cancel it.
pub fn load(request: &Request, limits: Limits) -> Result<Loaded, SourceError> {
    load_with(request, limits, &Cancel::new())
}

/// Lists the source. `cancel` is checked before the listing starts; loaders that take long
/// (a git fetch, an archive) may check it as they go.
pub fn load_with(request: &Request, limits: Limits, cancel: &Cancel) -> Result<Loaded, SourceError> {
    cancel.check()?;
    match request {
        Request::Dir(path) => load_dir(path, limits),
        Request::Git { url, git_ref } => {
            let options = git::FetchOptions { cancel: cancel.clone(), ..Default::default() };
            let (view, commit) = git::fetch_and_list(url, git_ref.as_deref(), limits, &options)?;
            let source =
                Source { kind: SourceKind::Git, location: url.clone(), git_ref: git_ref.clone(), commit: Some(commit) };
            Ok(Loaded { view, source })
        }
    }
}

/// Lists a local directory. Apart from [`load_with`] for the small binary, which links no git.
pub fn load_dir(path: &std::path::Path, limits: Limits) -> Result<Loaded, SourceError> {
    let view = dir::list(path, limits)?;
    let source = Source { kind: SourceKind::Dir, location: path.display().to_string(), git_ref: None, commit: None };
    Ok(Loaded { view, source })
}

/// Checks a `--subdir` value's form without a tree: relative, no `.` or `..` components, no
/// control characters, at most 4096 bytes. Callers run it before any network traffic.
pub fn check_subdir(subdir: &str) -> Result<(), SourceError> {
    let trimmed = subdir.trim_matches('/');
    if trimmed.is_empty() || trimmed == "." {
        return Ok(());
    }
    let p = Path::new(trimmed);
    if subdir.len() > 4096
        || subdir.chars().any(char::is_control)
        || p.is_absolute()
        || trimmed.split('/').any(|c| c == ".." || c == "." || c.is_empty())
    {
        return Err(SourceError::InvalidSubdir(subdir.to_string()));
    }
    Ok(())
}

/// Checks a `--subdir` value: relative, no `..`, and present in the view.
pub fn subdir_view(view: &RepoView, subdir: &str) -> Result<RepoView, SourceError> {
    check_subdir(subdir)?;
    let trimmed = subdir.trim_matches('/');
    if trimmed.is_empty() || trimmed == "." {
        return Ok(view.clone());
    }
    if !view.is_dir(trimmed) {
        return Err(SourceError::SubdirNotFound(subdir.to_string()));
    }
    Ok(view.subview(trimmed))
}
