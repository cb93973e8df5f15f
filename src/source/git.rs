//! A git URL and ref, fetched with libgit2 into a temporary bare repository and read straight
//! from its objects: no work tree is ever checked out.
//!
//! Why shallow first: a deploy scans one commit, and `depth 1` of a branch or tag is what
//! `git clone --depth 1` costs. A full commit sha that no ref advertises is asked for by id,
//! shallowly (servers that allow it, like GitHub, answer with that commit alone); where the
//! server refuses, or for a short sha, the branches and tags are fetched and the commit looked
//! up locally. Every fetch is bounded: [`FetchOptions::max_bytes`] is checked in libgit2's
//! transfer progress (a 150 MB blob stops at the budget, not after it), and
//! [`FetchOptions::cancel`] is checked there too, so a scan that timed out stops fetching.
//! `ref` is checked for form before any network traffic.

use std::path::Path;
use std::sync::{Arc, Mutex};

use git2::{Direction, FetchOptions as GitFetchOptions, ObjectType, Oid, Repository};
use tracing::{debug, info_span};

use super::SourceError;
use crate::cancel::Cancel;
use crate::view::{Backend, Entry, Limits, ListingNote, Location, ReadError, RepoView, SKIPPED_DIRS};

/// Knobs of a fetch; the defaults suit the CLI.
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// Fetch the full history even for a branch or tag.
    pub full: bool,
    /// An HTTP proxy every http(s) connection goes through (`http://127.0.0.1:PORT`). The API
    /// points this at its SSRF-checking CONNECT proxy; the CLI leaves it unset.
    pub proxy: Option<String>,
    /// Bytes a fetch may receive before it is aborted with [`SourceError::TooLarge`]; `None`
    /// is unbounded (the CLI's default: the user chose the repository).
    pub max_bytes: Option<u64>,
    /// Checked as data arrives: once set, the fetch stops with [`SourceError::Cancelled`].
    pub cancel: Cancel,
}

/// Checks a `ref` for form before any network traffic: a commit id, `HEAD`, or a name git
/// accepts as a branch, tag or full ref (no control characters, no `..`, at most 255 bytes).
pub fn check_ref(git_ref: &str) -> Result<(), SourceError> {
    let invalid = || SourceError::InvalidRef(git_ref.to_string());
    if git_ref.is_empty() || git_ref.len() > 255 || git_ref.chars().any(char::is_control) {
        return Err(invalid());
    }
    if git_ref == "HEAD" || is_hex_sha(git_ref) {
        return Ok(());
    }
    let full = if git_ref.starts_with("refs/") { git_ref.to_string() } else { format!("refs/heads/{git_ref}") };
    if git2::Reference::is_valid_name(&full) {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// Remote callbacks that abort a transfer past the byte budget or once cancelled; `over` is
/// set when the budget was the reason.
fn bounded_callbacks<'a>(options: &'a FetchOptions, over: &'a std::cell::Cell<bool>) -> git2::RemoteCallbacks<'a> {
    let mut cb = git2::RemoteCallbacks::new();
    cb.transfer_progress(move |p| {
        if options.cancel.is_cancelled() {
            return false;
        }
        if options.max_bytes.is_some_and(|max| p.received_bytes() as u64 > max) {
            over.set(true);
            return false;
        }
        true
    });
    cb.sideband_progress(move |_| !options.cancel.is_cancelled());
    cb
}

/// The error of a failed transfer: the budget or the cancel flag when they stopped it.
fn transfer_err(e: git2::Error, options: &FetchOptions, over: bool) -> SourceError {
    if over {
        SourceError::TooLarge { limit: options.max_bytes.unwrap_or(0) }
    } else if options.cancel.is_cancelled() {
        SourceError::Cancelled(crate::cancel::Cancelled)
    } else {
        git_err(e)
    }
}

/// A scheme (`https://`, `git://`, `file://`, ...) or an scp-like `user@host:path`.
pub fn looks_like_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if ["https://", "http://", "git://", "ssh://", "file://"].iter().any(|p| lower.starts_with(p)) {
        return true;
    }
    match s.find(':') {
        Some(colon) => {
            let host = &s[..colon];
            host.contains('@') && !host.contains('/') && !Path::new(s).exists()
        }
        None => false,
    }
}

fn git_err(e: git2::Error) -> SourceError {
    SourceError::Git(e.message().to_string())
}

/// What a ref names on the remote.
#[derive(Debug, Clone)]
enum Wanted {
    /// A ref the remote advertises, with the refspec that fetches it.
    Ref { refspec: String, oid: Oid },
    /// A commit id no ref advertises (or a short one): fetch everything, then look it up.
    Commit(String),
}

/// A ref resolved against the remote's advertisement (`git ls-remote`), before any object is
/// fetched. Resolving first is what lets a caller with a cache skip the fetch entirely when it
/// has already scanned [`Resolved::commit`].
#[derive(Debug, Clone)]
pub struct Resolved {
    wanted: Wanted,
}

impl Resolved {
    /// The commit the ref names, when the advertisement tells it (a branch, a tag, HEAD, or the
    /// full id of an advertised tip). None for a short or unadvertised sha: only a fetch tells.
    pub fn commit(&self) -> Option<String> {
        match &self.wanted {
            Wanted::Ref { oid, .. } => Some(oid.to_string()),
            Wanted::Commit(_) => None,
        }
    }
}

/// True when libgit2 reads `url` through its local transport: `file://` or a plain path.
fn is_local_transport(url: &str) -> bool {
    url.to_ascii_lowercase().starts_with("file://") || (!url.contains("://") && Path::new(url).exists())
}

fn is_hex_sha(s: &str) -> bool {
    (4..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// True for a full 40-hex commit id: immutable, so it names the same tree on every remote
/// that has it.
pub fn is_full_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn proxy_options(options: &FetchOptions) -> Option<git2::ProxyOptions<'static>> {
    options.proxy.as_deref().map(|p| {
        let mut po = git2::ProxyOptions::new();
        po.url(p);
        po
    })
}

/// Fetches `url` at `git_ref` (default: the remote's HEAD) and lists its tree.
/// Returns the view and the resolved commit id.
pub fn fetch_and_list(
    url: &str,
    git_ref: Option<&str>,
    limits: Limits,
    options: &FetchOptions,
) -> Result<(RepoView, String), SourceError> {
    let resolved = resolve_ref(url, git_ref, options)?;
    fetch_resolved(url, git_ref, &resolved, limits, options)
}

/// `git ls-remote`: connects, reads the advertised refs, and picks the one `git_ref` names.
/// Fetches no object.
pub fn resolve_ref(url: &str, git_ref: Option<&str>, options: &FetchOptions) -> Result<Resolved, SourceError> {
    let span = info_span!("git.ls_remote", url, git_ref);
    let _enter = span.enter();
    if let Some(r) = git_ref {
        check_ref(r)?;
    }
    options.cancel.check()?;
    // A remote needs a repository only to exist; `detached` makes one with no directory.
    let mut remote = git2::Remote::create_detached(url).map_err(git_err)?;
    let over = std::cell::Cell::new(false);
    let conn = remote
        .connect_auth(Direction::Fetch, Some(bounded_callbacks(options, &over)), proxy_options(options))
        .map_err(|e| transfer_err(e, options, over.get()))?;
    let heads = conn.list().map_err(git_err)?;
    let advertised: Vec<(String, Oid)> = heads.iter().map(|h| (h.name().to_string(), h.oid())).collect();
    Ok(Resolved { wanted: resolve(&advertised, git_ref)? })
}

/// Fetches what [`resolve_ref`] picked into a temporary bare repository and lists its tree.
/// Returns the view and the commit id.
pub fn fetch_resolved(
    url: &str,
    git_ref: Option<&str>,
    resolved: &Resolved,
    limits: Limits,
    options: &FetchOptions,
) -> Result<(RepoView, String), SourceError> {
    let fetched = fetch_resolved_repo(url, git_ref, resolved, options)?;
    let view = fetched.list(limits)?;
    Ok((view, fetched.commit.to_string()))
}

/// Fetches `url` at `git_ref` (default: the remote's HEAD) into a temporary bare repository.
pub fn fetch(url: &str, git_ref: Option<&str>, options: &FetchOptions) -> Result<Fetched, SourceError> {
    let resolved = resolve_ref(url, git_ref, options)?;
    fetch_resolved_repo(url, git_ref, &resolved, options)
}

/// A fetched commit in a temporary bare repository, removed when the last of this and the
/// views listed from it is dropped.
pub struct Fetched {
    repo: Repository,
    commit: Oid,
    dir: Arc<tempfile::TempDir>,
}

impl Fetched {
    /// The temporary repository: the scanned commit and its objects are in it.
    pub fn repo(&self) -> &Repository {
        &self.repo
    }

    /// The commit the ref resolved to.
    pub fn commit(&self) -> Oid {
        self.commit
    }

    /// Lists the commit's tree into a view. The view holds its own handle on the repository.
    pub fn list(&self, limits: Limits) -> Result<RepoView, SourceError> {
        let commit = self.repo.find_commit(self.commit).map_err(git_err)?;
        let tree = commit.tree().map_err(git_err)?;
        let (entries, notes) = list_tree(&self.repo, &tree, limits);
        let handle = Repository::open_bare(self.dir.path()).map_err(git_err)?;
        let backend = GitBackend { repo: Mutex::new(handle), _dir: Arc::clone(&self.dir) };
        Ok(RepoView::new(entries, Box::new(backend), limits, notes))
    }
}

/// The fetch itself: what `resolved` names, into a new temporary bare repository.
fn fetch_resolved_repo(
    url: &str,
    git_ref: Option<&str>,
    resolved: &Resolved,
    options: &FetchOptions,
) -> Result<Fetched, SourceError> {
    let span = info_span!("git.fetch", url, git_ref);
    let _enter = span.enter();
    let tmp = tempfile::Builder::new()
        .prefix("repo-scanner-git-")
        .tempdir()
        .map_err(|e| SourceError::Git(format!("cannot create a temporary repository: {e}")))?;
    let repo = Repository::init_bare(tmp.path()).map_err(git_err)?;
    let local = is_local_transport(url);
    let commit_id = {
        let mut remote = repo.remote_anonymous(url).map_err(git_err)?;
        let over = std::cell::Cell::new(false);
        let opts = |depth: bool| {
            let mut fetch_opts = GitFetchOptions::new();
            fetch_opts.remote_callbacks(bounded_callbacks(options, &over));
            if let Some(po) = proxy_options(options) {
                fetch_opts.proxy_options(po);
            }
            // libgit2's local transport refuses shallow fetches ("shallow fetch is not
            // supported by the local transport"): a local repository is fetched in full.
            if depth && !options.full && !local {
                fetch_opts.depth(1);
            }
            fetch_opts
        };
        match &resolved.wanted {
            Wanted::Ref { refspec, oid } => {
                debug!(%refspec, "fetching");
                remote
                    .fetch(&[refspec.as_str()], Some(&mut opts(true)), None)
                    .map_err(|e| transfer_err(e, options, over.get()))?;
                *oid
            }
            Wanted::Commit(sha) => {
                // By id first: one commit, shallow, where the server allows wants of unadvertised
                // objects. Refused (or a short sha): every branch and tag, within the budget.
                let by_id = is_full_sha(sha)
                    && match remote.fetch(&[sha.as_str()], Some(&mut opts(true)), None) {
                        Ok(()) => true,
                        Err(e) => {
                            let err = transfer_err(e, options, over.get());
                            if !matches!(err, SourceError::Git(_)) {
                                return Err(err);
                            }
                            debug!(error = %err, "fetch by id refused; fetching branches and tags");
                            false
                        }
                    };
                if !by_id {
                    remote
                        .fetch(
                            &["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"],
                            Some(&mut opts(false)),
                            None,
                        )
                        .map_err(|e| transfer_err(e, options, over.get()))?;
                }
                let obj = repo.revparse_single(sha).map_err(|_| SourceError::RefNotFound(sha.clone()))?;
                obj.id()
            }
        }
    };
    let commit = repo
        .find_object(commit_id, None)
        .and_then(|o| o.peel_to_commit())
        .map_err(|_| SourceError::RefNotFound(git_ref.unwrap_or("HEAD").to_string()))?
        .id();
    Ok(Fetched { repo, commit, dir: Arc::new(tmp) })
}

/// Picks the advertised ref a user's `--ref` names: exact ref, branch, tag (peeled), HEAD;
/// else a commit sha.
fn resolve(advertised: &[(String, Oid)], git_ref: Option<&str>) -> Result<Wanted, SourceError> {
    let find = |name: &str| advertised.iter().find(|(n, _)| n == name).map(|(_, o)| *o);
    let Some(r) = git_ref else {
        // HEAD: fetch the branch it points at when we can tell, else HEAD itself.
        let head = find("HEAD").ok_or_else(|| SourceError::RefNotFound("HEAD".into()))?;
        let branch = advertised.iter().find(|(n, o)| *o == head && n.starts_with("refs/heads/"));
        let refspec = match branch {
            Some((n, _)) => format!("+{n}:{n}"),
            None => "+HEAD:refs/heads/scanned".to_string(),
        };
        return Ok(Wanted::Ref { refspec, oid: head });
    };
    for name in [r.to_string(), format!("refs/heads/{r}"), format!("refs/tags/{r}")] {
        if let Some(oid) = find(&name) {
            // An annotated tag advertises its peeled commit as `name^{}`.
            let peeled = find(&format!("{name}^{{}}")).unwrap_or(oid);
            return Ok(Wanted::Ref { refspec: format!("+{name}:{name}"), oid: peeled });
        }
    }
    if is_hex_sha(r) {
        if let Some((name, oid)) = advertised.iter().find(|(n, o)| o.to_string() == r && !n.ends_with("^{}")) {
            return Ok(Wanted::Ref { refspec: format!("+{name}:{name}"), oid: *oid });
        }
        return Ok(Wanted::Commit(r.to_string()));
    }
    Err(SourceError::RefNotFound(r.to_string()))
}

/// Lists blobs of `tree` under the same caps and rules as a directory walk.
fn list_tree(repo: &Repository, tree: &git2::Tree<'_>, limits: Limits) -> (Vec<Entry>, Vec<ListingNote>) {
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    let mut links: Vec<(String, Oid)> = Vec::new();
    let mut capped = false;
    // An explicit pre-order walk rather than `Tree::walk`: git2's walk callback receives the
    // parent path as `&str` and aborts the whole walk at the first directory whose name is not
    // UTF-8, silently dropping every entry after it. Names are read as bytes here instead, and
    // the stack (not recursion) keeps a deeply nested tree from exhausting the call stack.
    // (tree, its path with a trailing '/', its depth, index of the next entry)
    let mut stack: Vec<(git2::Tree<'_>, String, usize, usize)> = vec![(tree.clone(), String::new(), 0, 0)];
    while let Some((tree, prefix, depth, next)) = stack.last_mut() {
        // Owned copies, so the entry's borrow of the stack ends before a subtree is pushed.
        let Some((name_bytes, kind, id, mode)) =
            tree.get(*next).map(|e| (e.name_bytes().to_vec(), e.kind(), e.id(), e.filemode()))
        else {
            stack.pop();
            continue;
        };
        // Capped only when an entry remains unlisted (a tree of exactly max_files is complete).
        if entries.len() >= limits.max_files {
            capped = true;
            break;
        }
        *next += 1;
        let depth = *depth;
        let name = String::from_utf8_lossy(&name_bytes).into_owned();
        let path = format!("{prefix}{name}");
        if std::str::from_utf8(&name_bytes).is_err() {
            notes.push(ListingNote::NonUtf8Path { path: path.clone() });
        }
        match kind {
            Some(ObjectType::Tree) => {
                if SKIPPED_DIRS.contains(&name.as_str()) {
                    continue;
                }
                if depth + 1 > limits.max_depth {
                    notes.push(ListingNote::DepthLimit { path, limit: limits.max_depth });
                    continue;
                }
                match repo.find_tree(id) {
                    Ok(sub) => stack.push((sub, format!("{path}/"), depth + 1, 0)),
                    Err(e) => debug!(%path, error = e.message(), "tree not readable; skipped"),
                }
            }
            Some(ObjectType::Blob) if mode == 0o120000 => links.push((path, id)),
            Some(ObjectType::Blob) => {
                entries.push(Entry { path, location: Location::Object(Arc::from(id.as_bytes())) })
            }
            _ => {} // submodules: not part of this repository's content
        }
    }
    if capped {
        notes.push(ListingNote::FileLimit { limit: limits.max_files });
    }
    // Symlinks: a blob holding the target path. Resolve inside the tree or mark escaped.
    let by_path: std::collections::HashMap<&str, Arc<[u8]>> = entries
        .iter()
        .filter_map(|e| match &e.location {
            Location::Object(oid) => Some((e.path.as_str(), oid.clone())),
            _ => None,
        })
        .collect();
    let mut resolved = Vec::new();
    for (path, oid) in links {
        let target = repo.find_blob(oid).map(|b| String::from_utf8_lossy(b.content()).into_owned()).unwrap_or_default();
        match normalize_link(&path, &target) {
            Some(inside) => {
                if let Some(oid) = by_path.get(inside.as_str()) {
                    resolved.push(Entry { path, location: Location::Object(oid.clone()) });
                }
            }
            None => {
                notes.push(ListingNote::SymlinkEscape { path: path.clone(), target: target.clone() });
                resolved.push(Entry { path, location: Location::Escaped(target) });
            }
        }
    }
    entries.extend(resolved);
    (entries, notes)
}

/// The repository path a link at `link_path` pointing to `target` names, or None when it
/// leaves the repository.
pub fn normalize_link(link_path: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = link_path.split('/').collect();
    parts.pop();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

struct GitBackend {
    repo: Mutex<Repository>,
    /// Dropped with the view (and the [`Fetched`] it came from): the temporary repository goes
    /// with the last of them.
    _dir: Arc<tempfile::TempDir>,
}

impl Backend for GitBackend {
    fn read(&self, entry: &Entry, limit: u64) -> Result<Vec<u8>, ReadError> {
        let location = &entry.location;
        let Location::Object(id) = location else { return Err(ReadError::NotFound) };
        let oid = &Oid::from_bytes(id).map_err(|e| ReadError::Io(e.message().to_string()))?;
        let repo = self.repo.lock().map_err(|_| ReadError::Io("repository lock poisoned".into()))?;
        let odb = repo.odb().map_err(|e| ReadError::Io(e.message().to_string()))?;
        let (size, _) = odb.read_header(*oid).map_err(|e| ReadError::Io(e.message().to_string()))?;
        if size as u64 > limit {
            return Err(ReadError::TooLarge { size: size as u64, limit });
        }
        let blob = repo.find_blob(*oid).map_err(|e| ReadError::Io(e.message().to_string()))?;
        Ok(blob.content().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_inside_or_escape() {
        assert_eq!(normalize_link("a/Procfile", "../Procfile.real").as_deref(), Some("Procfile.real"));
        assert_eq!(normalize_link("Procfile", "../../etc/passwd"), None);
        assert_eq!(normalize_link("Procfile", "/etc/passwd"), None);
        assert_eq!(normalize_link("a/b/link", "./c").as_deref(), Some("a/b/c"));
    }

    /// A bare repository holding `files` (path bytes, content) in one tree.
    fn tree_of(files: &[(&[u8], &str)]) -> (tempfile::TempDir, Repository, Oid) {
        use std::os::unix::ffi::OsStrExt;
        fn build(repo: &Repository, files: &[(Vec<u8>, String)]) -> Oid {
            let mut tb = repo.treebuilder(None).unwrap();
            let mut dirs: std::collections::BTreeMap<Vec<u8>, Vec<(Vec<u8>, String)>> = Default::default();
            for (path, content) in files {
                match path.iter().position(|b| *b == b'/') {
                    Some(i) => {
                        dirs.entry(path[..i].to_vec()).or_default().push((path[i + 1..].to_vec(), content.clone()))
                    }
                    None => {
                        let blob = repo.blob(content.as_bytes()).unwrap();
                        tb.insert(std::ffi::OsStr::from_bytes(path), blob, 0o100644).unwrap();
                    }
                }
            }
            for (dir, sub) in dirs {
                let oid = build(repo, &sub);
                tb.insert(std::ffi::OsStr::from_bytes(&dir), oid, 0o040000).unwrap();
            }
            tb.write().unwrap()
        }
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let owned: Vec<(Vec<u8>, String)> = files.iter().map(|(p, c)| (p.to_vec(), c.to_string())).collect();
        let oid = build(&repo, &owned);
        (dir, repo, oid)
    }

    #[test]
    fn a_non_utf8_directory_does_not_cut_the_listing_short() {
        let (_dir, repo, oid) =
            tree_of(&[(b"app.py", "x"), (b"d\xff/x.py", "y"), (b"requirements.txt", "flask"), (b"caf\xe9.txt", "z")]);
        let tree = repo.find_tree(oid).unwrap();
        let (entries, notes) = list_tree(&repo, &tree, Limits::default());
        let mut paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        paths.sort_unstable();
        assert_eq!(paths, ["app.py", "caf\u{fffd}.txt", "d\u{fffd}/x.py", "requirements.txt"]);
        assert_eq!(notes.iter().filter(|n| matches!(n, ListingNote::NonUtf8Path { .. })).count(), 2);
    }

    #[test]
    fn file_cap_is_reported_only_when_files_remain() {
        let (_dir, repo, oid) = tree_of(&[(b"a", "1"), (b"b", "2"), (b"c/d", "3")]);
        let tree = repo.find_tree(oid).unwrap();
        let exact = Limits { max_files: 3, ..Limits::default() };
        let (entries, notes) = list_tree(&repo, &tree, exact);
        assert_eq!(entries.len(), 3);
        assert!(!notes.iter().any(|n| matches!(n, ListingNote::FileLimit { .. })), "{notes:?}");
        let (entries, notes) = list_tree(&repo, &tree, Limits { max_files: 2, ..Limits::default() });
        assert_eq!(entries.len(), 2);
        assert!(notes.iter().any(|n| matches!(n, ListingNote::FileLimit { .. })));
    }

    #[test]
    fn urls_are_told_from_paths() {
        assert!(looks_like_url("https://github.com/a/b"));
        assert!(looks_like_url("git://127.0.0.1:9418/x"));
        assert!(looks_like_url("file:///tmp/x"));
        assert!(!looks_like_url("fixtures/python-flask"));
        assert!(!looks_like_url("./x"));
    }
}
