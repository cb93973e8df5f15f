//! `RepoView`: a read-only, bounded snapshot of a repository.
//!
//! Rules never touch the file system, git or the network: they ask a `RepoView`. The view is
//! listed once, up front, by a source (a directory walk, a git tree, an archive, or memory in
//! tests); file contents are read lazily, at most `max_file_bytes` each, and cached, so rules
//! may ask for the same manifest twice without paying twice.
//!
//! Why paths are `String`s: rules compare names, and a lossily-decoded name is good enough to
//! compare; the original bytes stay in the entry's location for reading. Symlinks that resolve
//! outside the root are listed (so a rule can say "the Procfile is a link out of the repo") but
//! never read.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use thiserror::Error;

/// Caps on what a scan may list and read. Defaults suit real repositories; flags change them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Files listed before the walk stops (the rest is ignored, with a warning).
    pub max_files: usize,
    /// Bytes read from one file; larger files are refused, with a warning.
    pub max_file_bytes: u64,
    /// Directory depth below the root that is listed.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_files: 200_000, max_file_bytes: 1 << 20, max_depth: 24 }
    }
}

/// Directories no rule needs and that can hold most of a tree's files.
pub const SKIPPED_DIRS: &[&str] =
    &[".git", "node_modules", "__pycache__", ".venv", ".tox", ".mypy_cache", ".pytest_cache", ".next"];

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ReadError {
    #[error("no such file")]
    NotFound,
    #[error("file is {size} bytes, over the read limit of {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("file is binary")]
    Binary,
    #[error("file is not valid UTF-8")]
    NotUtf8,
    #[error("symlink points outside the repository (to {target})")]
    SymlinkEscape { target: String },
    #[error("read failed: {0}")]
    Io(String),
}

/// Where an entry's bytes live.
#[derive(Debug, Clone)]
pub enum Location {
    /// A file of a directory source at the entry's own path below the backend's root: no
    /// per-file path is stored, which keeps a 100k-file listing small.
    Rooted,
    Fs(PathBuf),
    /// An object id the source's own reader understands (a git blob's): the view stores it
    /// and never interprets it, so it does not depend on git.
    Object(Arc<[u8]>),
    Memory(Arc<[u8]>),
    /// A symlink resolving outside the root: listed, never read.
    Escaped(String),
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// Relative to the repository root, `/`-separated.
    pub path: String,
    pub location: Location,
}

/// Something the listing noticed that a plan should mention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingNote {
    SymlinkEscape { path: String, target: String },
    NonUtf8Path { path: String },
    FileLimit { limit: usize },
    DepthLimit { path: String, limit: usize },
}

impl ListingNote {
    fn path(&self) -> Option<&str> {
        match self {
            ListingNote::SymlinkEscape { path, .. }
            | ListingNote::NonUtf8Path { path }
            | ListingNote::DepthLimit { path, .. } => Some(path),
            ListingNote::FileLimit { .. } => None,
        }
    }
}

/// Reads an entry's bytes; implemented by each kind of source.
pub trait Backend: Send + Sync {
    /// Reads at most `limit + 1` bytes, so the caller can tell "too large" apart.
    fn read(&self, entry: &Entry, limit: u64) -> Result<Vec<u8>, ReadError>;
}

/// Reads already made, by repository path.
type ReadCache = Mutex<HashMap<String, Result<Arc<[u8]>, ReadError>>>;

struct Inner {
    entries: Vec<Entry>,
    backend: Arc<dyn Backend>,
    limits: Limits,
    notes: Vec<ListingNote>,
    cache: ReadCache,
}

/// A read-only view of a repository, or of one directory of it (`subview`).
#[derive(Clone)]
pub struct RepoView {
    inner: Arc<Inner>,
    /// `""` or `"dir/sub/"`: paths given to and returned by the view are relative to it.
    prefix: String,
    /// The entries under `prefix`: a contiguous range, since entries are sorted by path.
    range: std::ops::Range<usize>,
}

impl std::fmt::Debug for RepoView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoView").field("prefix", &self.prefix).field("files", &self.range.len()).finish()
    }
}

impl RepoView {
    /// Builds a view from listed entries. Entries are sorted and deduplicated here.
    pub fn new(mut entries: Vec<Entry>, backend: Box<dyn Backend>, limits: Limits, notes: Vec<ListingNote>) -> Self {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        entries.dedup_by(|a, b| a.path == b.path);
        let len = entries.len();
        RepoView {
            inner: Arc::new(Inner {
                entries,
                backend: Arc::from(backend),
                limits,
                notes,
                cache: Mutex::new(HashMap::new()),
            }),
            prefix: String::new(),
            range: 0..len,
        }
    }

    /// An in-memory view, for tests and for rules over synthetic trees.
    pub fn from_memory<P: Into<String>, B: AsRef<[u8]>>(files: impl IntoIterator<Item = (P, B)>) -> Self {
        let entries = files
            .into_iter()
            .map(|(p, b)| Entry { path: p.into(), location: Location::Memory(Arc::from(b.as_ref())) })
            .collect();
        RepoView::new(entries, Box::new(MemoryBackend), Limits::default(), Vec::new())
    }

    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// The directory of this view inside the repository, `""` for the root.
    pub fn subdir(&self) -> &str {
        self.prefix.trim_end_matches('/')
    }

    /// Path of `rel` from the repository root.
    pub fn repo_path(&self, rel: &str) -> String {
        format!("{}{}", self.prefix, rel)
    }

    fn entries(&self) -> &[Entry] {
        &self.inner.entries[self.range.clone()]
    }

    /// Number of files in the view.
    pub fn len(&self) -> usize {
        self.range.len()
    }

    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }

    /// Every file path, relative to the view, in sorted order.
    pub fn files(&self) -> impl Iterator<Item = &str> + '_ {
        let n = self.prefix.len();
        self.entries().iter().map(move |e| &e.path[n..])
    }

    fn find(&self, rel: &str) -> Option<&Entry> {
        let entries = self.entries();
        // `path` against `prefix + rel` without building it: rules look files up by the hundred.
        let (prefix, rel) = (self.prefix.as_bytes(), rel.as_bytes());
        let i = entries
            .binary_search_by(|e| {
                let path = e.path.as_bytes();
                let head = path.len().min(prefix.len());
                match path[..head].cmp(&prefix[..head]) {
                    std::cmp::Ordering::Equal if head < prefix.len() => std::cmp::Ordering::Less,
                    std::cmp::Ordering::Equal => path[head..].cmp(rel),
                    other => other,
                }
            })
            .ok()?;
        Some(&entries[i])
    }

    /// True when `rel` is a listed file (a symlink out of the root counts: it is there).
    pub fn is_file(&self, rel: &str) -> bool {
        self.find(rel).is_some()
    }

    /// True when some file lives under directory `rel`.
    pub fn is_dir(&self, rel: &str) -> bool {
        let rel = rel.trim_end_matches('/');
        if rel.is_empty() {
            return !self.is_empty();
        }
        let dir = format!("{}{}/", self.prefix, rel);
        let entries = self.entries();
        let i = entries.partition_point(|e| e.path.as_str() < dir.as_str());
        entries.get(i).is_some_and(|e| e.path.starts_with(&dir))
    }

    /// Immediate children of `dir` (`""` for the view's root): (name, is_dir), sorted, unique.
    pub fn list_dir(&self, dir: &str) -> Vec<(String, bool)> {
        let dir = dir.trim_end_matches('/');
        let base = if dir.is_empty() { self.prefix.clone() } else { format!("{}{}/", self.prefix, dir) };
        let mut out: Vec<(String, bool)> = self.children(&base).map(|(n, d)| (n.to_string(), d)).collect();
        out.sort();
        out.dedup();
        out
    }

    /// Files directly in the view's root whose name ends with `suffix`, sorted.
    pub fn root_files_ending(&self, suffix: &str) -> Vec<String> {
        // Files have no '/', so path order is name order.
        self.children(&self.prefix).filter(|(n, d)| !d && n.ends_with(suffix)).map(|(n, _)| n.to_string()).collect()
    }

    /// The children of directory `base` (a listed prefix: empty or ending in '/') in path
    /// order, borrowed: a file once, a directory once per subtree, skipped in one search.
    fn children<'a>(&'a self, base: &'a str) -> impl Iterator<Item = (&'a str, bool)> + 'a {
        let entries = self.entries();
        let mut i = entries.partition_point(|e| e.path.as_str() < base);
        std::iter::from_fn(move || {
            let rest = entries.get(i)?.path.strip_prefix(base)?;
            Some(match rest.find('/') {
                Some(slash) => {
                    let name = &rest[..slash];
                    let under = |p: &str| {
                        p.strip_prefix(base).and_then(|r| r.strip_prefix(name)).is_some_and(|r| r.starts_with('/'))
                    };
                    i += entries[i..].partition_point(|e| under(&e.path));
                    (name, true)
                }
                None => {
                    i += 1;
                    (rest, false)
                }
            })
        })
    }

    /// Files (relative paths) at most `max_depth` directories deep whose name satisfies `pred`.
    pub fn find_files(&self, max_depth: usize, pred: impl Fn(&str) -> bool) -> Vec<String> {
        self.files()
            .filter(|p| p.matches('/').count() <= max_depth)
            .filter(|p| pred(p.rsplit('/').next().unwrap_or(p)))
            .map(str::to_string)
            .collect()
    }

    /// The views of this view's directory and of each directory above it, nearest first, up
    /// to the repository root: for files a workspace keeps at its root (lockfiles).
    pub fn ancestors(&self) -> Vec<RepoView> {
        let root = RepoView { inner: self.inner.clone(), prefix: String::new(), range: 0..self.inner.entries.len() };
        let mut out = vec![self.clone()];
        let mut dir = self.subdir().to_string();
        while !dir.is_empty() {
            dir = dir.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
            out.push(root.subview(&dir));
        }
        out
    }

    /// A view of directory `rel`, sharing this view's listing and cache.
    pub fn subview(&self, rel: &str) -> RepoView {
        let rel = rel.trim_matches('/');
        if rel.is_empty() {
            return self.clone();
        }
        let prefix = format!("{}{}/", self.prefix, rel);
        let all = &self.inner.entries;
        let start = all[self.range.clone()].partition_point(|e| e.path.as_str() < prefix.as_str()) + self.range.start;
        let len = all[start..self.range.end].partition_point(|e| e.path.starts_with(&prefix));
        RepoView { inner: self.inner.clone(), prefix, range: start..start + len }
    }

    /// The same repository without some files (e.g. its Procfile, to measure inference). Shares
    /// the backend; no file is copied.
    pub fn without(&self, hidden: &[&str]) -> RepoView {
        let hidden: Vec<String> = hidden.iter().map(|h| self.repo_path(h)).collect();
        let entries: Vec<Entry> = self.inner.entries.iter().filter(|e| !hidden.contains(&e.path)).cloned().collect();
        let inner = Inner {
            entries,
            backend: self.inner.backend.clone(),
            limits: self.inner.limits,
            notes: self.inner.notes.clone(),
            cache: Mutex::new(HashMap::new()),
        };
        let root = RepoView { prefix: String::new(), range: 0..inner.entries.len(), inner: Arc::new(inner) };
        root.subview(self.subdir())
    }

    /// Reads a file, bounded by the view's limits. Results are cached per path.
    pub fn read(&self, rel: &str) -> Result<Arc<[u8]>, ReadError> {
        let full = self.repo_path(rel);
        if let Ok(cache) = self.inner.cache.lock() {
            if let Some(hit) = cache.get(&full) {
                return hit.clone();
            }
        }
        let result = match self.find(rel) {
            None => Err(ReadError::NotFound),
            Some(Entry { location: Location::Escaped(t), .. }) => Err(ReadError::SymlinkEscape { target: t.clone() }),
            Some(e) => {
                let limit = self.inner.limits.max_file_bytes;
                self.inner.backend.read(e, limit).and_then(|bytes| {
                    if bytes.len() as u64 > limit {
                        Err(ReadError::TooLarge { size: bytes.len() as u64, limit })
                    } else {
                        Ok(Arc::from(bytes))
                    }
                })
            }
        };
        if let Ok(mut cache) = self.inner.cache.lock() {
            cache.insert(full, result.clone());
        }
        result
    }

    /// Reads a text file: UTF-8, a leading BOM dropped, no NUL bytes.
    pub fn read_text(&self, rel: &str) -> Result<String, ReadError> {
        let bytes = self.read(rel)?;
        if bytes.contains(&0) {
            return Err(ReadError::Binary);
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| ReadError::NotUtf8)?;
        Ok(text.strip_prefix('\u{feff}').unwrap_or(text).to_string())
    }

    /// Text of a file when it exists and reads cleanly; None otherwise.
    pub fn text(&self, rel: &str) -> Option<String> {
        self.read_text(rel).ok()
    }

    /// Notes from listing the files under this view.
    pub fn notes(&self) -> Vec<ListingNote> {
        self.inner.notes.iter().filter(|n| n.path().is_none_or(|p| p.starts_with(&self.prefix))).cloned().collect()
    }
}

/// Reads [`Location::Memory`] blobs: in-memory views and uploaded archives.
pub struct MemoryBackend;

impl Backend for MemoryBackend {
    fn read(&self, entry: &Entry, limit: u64) -> Result<Vec<u8>, ReadError> {
        let location = &entry.location;
        match location {
            Location::Memory(b) => Ok(b[..b.len().min(limit as usize + 1)].to_vec()),
            _ => Err(ReadError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> RepoView {
        RepoView::from_memory([
            ("a/b/c.txt", "c"),
            ("a/x.txt", "x"),
            ("ab.txt", "ab"),
            ("Procfile", "\u{feff}web: run"),
            ("z", "\0bin"),
        ])
    }

    #[test]
    fn lists_children_once() {
        let v = view();
        assert_eq!(
            v.list_dir(""),
            vec![("Procfile".into(), false), ("a".into(), true), ("ab.txt".into(), false), ("z".into(), false)]
        );
        assert_eq!(v.list_dir("a"), vec![("b".into(), true), ("x.txt".into(), false)]);
    }

    #[test]
    fn subview_sees_only_its_directory() {
        let v = view().subview("a");
        assert_eq!(v.files().collect::<Vec<_>>(), vec!["b/c.txt", "x.txt"]);
        assert!(v.is_dir("b"));
        assert!(!v.is_file("ab.txt"));
        assert_eq!(v.read_text("x.txt").as_deref(), Ok("x"));
        assert_eq!(v.repo_path("x.txt"), "a/x.txt");
    }

    #[test]
    fn lookups_agree_with_the_listing_in_every_subview() {
        let files = ["a", "a-b/c", "a.txt", "a/b", "a/b/c", "ab/x", "b", "b/a"];
        let root = RepoView::from_memory(files.iter().map(|f| (*f, "")));
        let names = ["", "a", "b", "c", "x", "a.txt", "b/c", "a/b", "-b/c", "b/a", "zz"];
        assert_eq!(root.root_files_ending(""), vec!["a", "a.txt", "b"]);
        assert_eq!(root.subview("a").root_files_ending("b"), vec!["b"]);
        for dir in ["", "a", "a/b", "ab", "b"] {
            let view = root.subview(dir);
            let listed: Vec<String> = view.list_dir("").into_iter().filter(|(_, d)| !d).map(|(n, _)| n).collect();
            assert_eq!(view.root_files_ending(""), listed, "{dir:?}");
            for rel in names {
                let listed = view.files().any(|f| f == rel);
                assert_eq!(view.is_file(rel), listed, "{dir:?} / {rel:?}");
            }
        }
    }

    #[test]
    fn ancestors_go_up_to_the_root() {
        let v = view().subview("a/b");
        let dirs: Vec<String> = v.ancestors().iter().map(|a| a.subdir().to_string()).collect();
        assert_eq!(dirs, vec!["a/b", "a", ""]);
        assert!(v.ancestors()[2].is_file("Procfile"));
    }

    #[test]
    fn without_hides_files() {
        let v = view().without(&["Procfile"]);
        assert!(!v.is_file("Procfile"));
        assert!(v.is_file("ab.txt"));
        assert_eq!(v.len(), 4);
    }

    #[test]
    fn text_reads_drop_bom_and_refuse_binary() {
        let v = view();
        assert_eq!(v.read_text("Procfile").as_deref(), Ok("web: run"));
        assert_eq!(v.read_text("z"), Err(ReadError::Binary));
        assert_eq!(v.read_text("nope"), Err(ReadError::NotFound));
    }
}
