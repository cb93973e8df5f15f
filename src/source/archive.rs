//! An uploaded `.tar.gz`, unpacked in memory into a [`RepoView`] under one budget.
//!
//! Nothing touches the disk: entries become in-memory blobs, in one streaming pass.
//!
//! # One budget
//!
//! Every byte the unpack produces counts against `max_unpacked_bytes`: the inflated stream
//! (tar headers, pax and GNU long-name records, padding, file contents) and the holes of GNU
//! sparse files, which the tar reader synthesizes without reading them (a 191-byte sparse
//! entry can describe terabytes). A sparse file's holes are counted from its header before a
//! byte of it is read. Also checked while streaming: the compressed size, the number of
//! entries, the compression ratio (unpacked / compressed, once past 1 MiB), and cancellation.
//! Bytes of a file past the view's per-file read limit are not kept (the file reads as too
//! large).
//!
//! Peak memory of one upload: at most 2 × `max_unpacked_bytes` plus about 200 bytes per
//! entry. Kept contents are part of the budget; the factor 2 is one pax or long-name record
//! as large as the budget, which the tar reader buffers in a doubling `Vec`.
//!
//! # The tree GNU tar extracts
//!
//! The scanner must plan the tree `tar -xzf` would give, not a benign decoy:
//! - every gzip member is read (`gzip -d` concatenates members; the first zero block ends
//!   the tar stream, as in GNU tar);
//! - a later entry at the same path replaces the earlier one, whatever either is (file,
//!   symlink, hard link, special file), so the last one wins;
//! - hard links copy what their target is at that point of the stream (a later entry at the
//!   target's path replaces the target, not the link);
//! - what GNU tar would extract differently from a plain reading is refused with a stable
//!   code: pax sparse files (GNU.sparse.* records), unknown entry types (GNU tar extracts them
//!   as regular files), global pax records that rename entries, a path that is both a file
//!   and a directory of the archive, a file name ending in `/`.
//!
//! Paths: an absolute path or a `..` component refuses the whole archive (a tool that wrote it
//! was either broken or hostile); a leading `./` is dropped. Symbolic links are resolved inside
//! the tree, else listed as escaping (a warning in the plan, never read), as for git and
//! directory sources. Hard links must name an earlier entry of the archive, else the archive
//! is refused. Devices and fifos are not content: they remove whatever was at their path.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::rc::Rc;
use std::sync::Arc;

use thiserror::Error;

use super::git::normalize_link;
use crate::cancel::Cancel;
use crate::view::{Entry, Limits, ListingNote, Location, RepoView, SKIPPED_DIRS};

/// Caps on an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    pub max_compressed_bytes: u64,
    pub max_entries: usize,
    /// The one budget: every byte produced (see the module docs). Peak memory is at most
    /// twice this.
    pub max_unpacked_bytes: u64,
    pub max_ratio: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_compressed_bytes: 50 << 20,
            max_entries: 50_000,
            max_unpacked_bytes: 200 << 20,
            max_ratio: 200,
        }
    }
}

/// Unpacked bytes below which the ratio is not checked.
const RATIO_FLOOR: u64 = 1 << 20;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ArchiveError {
    #[error("the archive is {size} bytes, over the limit of {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("the archive has more than {limit} entries")]
    TooManyEntries { limit: usize },
    #[error("the archive unpacks to more than {limit} bytes")]
    UnpackedTooLarge { limit: u64 },
    #[error("the archive inflates more than {limit} times its compressed size")]
    RatioExceeded { limit: u64 },
    #[error("unsafe path in the archive: {0:?} (absolute or containing `..`)")]
    UnsafePath(String),
    #[error("hard link {path:?} points outside the archive's files (to {target:?})")]
    LinkEscape { path: String, target: String },
    #[error("the archive holds {0}, which tar would extract differently; repack it without")]
    Unsupported(String),
    #[error("not a readable .tar.gz: {0}")]
    Unreadable(String),
    #[error("the unpack was cancelled")]
    Cancelled,
}

impl ArchiveError {
    /// The stable code API clients see.
    pub fn code(&self) -> &'static str {
        match self {
            ArchiveError::TooLarge { .. } => "upload_too_large",
            ArchiveError::TooManyEntries { .. } => "archive_too_many_entries",
            ArchiveError::UnpackedTooLarge { .. } => "archive_unpacked_too_large",
            ArchiveError::RatioExceeded { .. } => "archive_ratio_exceeded",
            ArchiveError::UnsafePath(_) => "archive_unsafe_path",
            ArchiveError::LinkEscape { .. } => "archive_link_escape",
            ArchiveError::Unsupported(_) => "archive_unsupported_entry",
            ArchiveError::Unreadable(_) => "archive_unreadable",
            ArchiveError::Cancelled => "cancelled",
        }
    }

    /// True for a limit (the request was too big), false for a malformed or unsafe archive.
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            ArchiveError::TooLarge { .. }
                | ArchiveError::TooManyEntries { .. }
                | ArchiveError::UnpackedTooLarge { .. }
                | ArchiveError::RatioExceeded { .. }
        )
    }
}

/// Makes the error of a tripped limit (kept as a constructor: the error itself is not `Copy`).
type Trip = fn(ArchiveLimits) -> ArchiveError;

/// The budget, shared by the stream reader (inflated bytes) and the entry loop (sparse holes).
#[derive(Clone)]
struct Budget {
    used: Rc<Cell<u64>>,
    tripped: Rc<Cell<Option<Trip>>>,
    compressed: u64,
    limits: ArchiveLimits,
}

impl Budget {
    /// Adds `n` produced bytes; the error once a limit is passed.
    fn spend(&self, n: u64) -> Result<(), ArchiveError> {
        let used = self.used.get().saturating_add(n);
        self.used.set(used);
        let trip: Option<Trip> = if used > self.limits.max_unpacked_bytes {
            Some(|l| ArchiveError::UnpackedTooLarge { limit: l.max_unpacked_bytes })
        } else if used > RATIO_FLOOR && used > self.limits.max_ratio.saturating_mul(self.compressed.max(1)) {
            Some(|l| ArchiveError::RatioExceeded { limit: l.max_ratio })
        } else {
            None
        };
        match trip {
            Some(f) => {
                self.tripped.set(Some(f));
                Err(f(self.limits))
            }
            None => Ok(()),
        }
    }

    fn tripped(&self) -> Option<ArchiveError> {
        self.tripped.get().map(|f| f(self.limits))
    }
}

/// Counts inflated bytes against the budget and stops the stream at its limits.
struct Counted<R> {
    inner: R,
    budget: Budget,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.budget.spend(n as u64).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(n)
    }
}

/// A repository path from an entry's raw path: `./` dropped, `/`-joined; None when unsafe.
fn clean_path(raw: &[u8]) -> Result<Option<String>, ArchiveError> {
    let text = String::from_utf8_lossy(raw).into_owned();
    if text.starts_with('/') || text.starts_with('\\') {
        return Err(ArchiveError::UnsafePath(text));
    }
    let mut parts = Vec::new();
    for c in text.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(ArchiveError::UnsafePath(text)),
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(parts.join("/")))
}

/// Unpacks `bytes` (a gzip-compressed tar) into a view.
pub fn list(bytes: &[u8], archive_limits: ArchiveLimits, limits: Limits) -> Result<RepoView, ArchiveError> {
    list_cancellable(bytes, archive_limits, limits, &Cancel::new())
}

/// [`list`], stopping with [`ArchiveError::Cancelled`] at the next entry once `cancel` is set.
pub fn list_cancellable(
    bytes: &[u8],
    archive_limits: ArchiveLimits,
    limits: Limits,
    cancel: &Cancel,
) -> Result<RepoView, ArchiveError> {
    let compressed = bytes.len() as u64;
    if compressed > archive_limits.max_compressed_bytes {
        return Err(ArchiveError::TooLarge { size: compressed, limit: archive_limits.max_compressed_bytes });
    }
    let budget = Budget { used: Rc::default(), tripped: Rc::default(), compressed, limits: archive_limits };
    let mut counted = Counted { inner: flate2::read::MultiGzDecoder::new(bytes), budget: budget.clone() };
    let result = unpack(&mut counted, &budget, archive_limits, limits, cancel);
    match (result, budget.tripped()) {
        (_, Some(limit)) => Err(limit),
        (r, None) => r,
    }
}

/// What a path holds after the entries so far, as tar would leave it.
enum Node {
    File(Arc<[u8]>),
    Symlink(String),
}

/// Pax keywords that change which entry or path tar extracts.
fn pax_changes_tree(key: &[u8]) -> bool {
    key.starts_with(b"GNU.sparse.") || matches!(key, b"path" | b"linkpath" | b"size")
}

fn unpack<R: Read>(
    reader: &mut Counted<R>,
    budget: &Budget,
    archive_limits: ArchiveLimits,
    limits: Limits,
    cancel: &Cancel,
) -> Result<RepoView, ArchiveError> {
    let unreadable = |e: std::io::Error| ArchiveError::Unreadable(e.to_string());
    let mut archive = tar::Archive::new(reader);
    let mut nodes: HashMap<String, Node> = HashMap::new();
    let mut dirs: HashSet<String> = HashSet::new();
    let mut notes = Vec::new();
    let mut count = 0usize;
    let mut capped = false;
    // One byte past the read limit, so a read of the kept bytes still says "too large".
    let keep = limits.max_file_bytes.saturating_add(1);
    for entry in archive.entries().map_err(unreadable)? {
        if cancel.is_cancelled() {
            return Err(ArchiveError::Cancelled);
        }
        let mut entry = entry.map_err(unreadable)?;
        count += 1;
        if count > archive_limits.max_entries {
            return Err(ArchiveError::TooManyEntries { limit: archive_limits.max_entries });
        }
        let kind = entry.header().entry_type();
        if let Some(pax) = entry.pax_extensions().map_err(unreadable)? {
            for ext in pax {
                let ext = ext.map_err(unreadable)?;
                if ext.key_bytes().starts_with(b"GNU.sparse.") {
                    return Err(ArchiveError::Unsupported("a pax sparse file".into()));
                }
            }
        }
        if kind == tar::EntryType::XGlobalHeader {
            // `git archive` writes one with the commit id; harmless unless it renames entries.
            let mut data = Vec::new();
            entry.by_ref().take(keep).read_to_end(&mut data).map_err(unreadable)?;
            let renames = tar::PaxExtensions::new(&data).flatten().any(|e| pax_changes_tree(e.key_bytes()));
            if renames {
                return Err(ArchiveError::Unsupported("a global pax header that renames entries".into()));
            }
            continue;
        }
        let raw_path = entry.path_bytes().into_owned();
        let Some(path) = clean_path(&raw_path)? else { continue };
        if std::str::from_utf8(&raw_path).is_err() {
            notes.push(ListingNote::NonUtf8Path { path: path.clone() });
        }
        let skipped = path.split('/').any(|c| SKIPPED_DIRS.contains(&c));
        let too_deep = path.matches('/').count() > limits.max_depth;
        let listed = !skipped && !too_deep;
        let node = match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                if raw_path.ends_with(b"/") {
                    return Err(ArchiveError::Unsupported(format!("a file named like a directory ({path}/)")));
                }
                // Holes are produced without being read: count them before reading.
                if kind == tar::EntryType::GNUSparse {
                    let stored = entry.header().entry_size().map_err(unreadable)?;
                    budget.spend(entry.size().saturating_sub(stored))?;
                }
                if !listed {
                    continue; // the tar reader skips (and counts) the unread contents
                }
                let mut buf = Vec::new();
                entry.by_ref().take(keep).read_to_end(&mut buf).map_err(unreadable)?;
                Some(Node::File(Arc::from(buf)))
            }
            tar::EntryType::Symlink => {
                let target = entry.link_name_bytes().map(|t| String::from_utf8_lossy(&t).into_owned());
                Some(Node::Symlink(target.unwrap_or_default()))
            }
            tar::EntryType::Link => {
                let target = entry.link_name_bytes().map(|t| t.into_owned()).unwrap_or_default();
                let escape =
                    || ArchiveError::LinkEscape { path: path.clone(), target: String::from_utf8_lossy(&target).into() };
                let inside = clean_path(&target).map_err(|_| escape())?.ok_or_else(escape)?;
                match nodes.get(&inside) {
                    Some(Node::File(b)) => Some(Node::File(b.clone())),
                    Some(Node::Symlink(t)) => Some(Node::Symlink(t.clone())),
                    // A link to an unlisted (skipped, too deep) file names a real entry.
                    None if inside.split('/').any(|c| SKIPPED_DIRS.contains(&c))
                        || inside.matches('/').count() > limits.max_depth =>
                    {
                        None
                    }
                    None => return Err(escape()),
                }
            }
            tar::EntryType::Directory => {
                if listed {
                    dirs.insert(path.clone());
                }
                continue;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => None,
            other => {
                return Err(ArchiveError::Unsupported(format!(
                    "an entry of unknown type {:?} at {path}",
                    char::from(other.as_byte())
                )))
            }
        };
        if !listed {
            continue;
        }
        match node {
            Some(node) => {
                if !nodes.contains_key(&path) && nodes.len() >= limits.max_files {
                    capped = true;
                    continue;
                }
                nodes.insert(path, node);
            }
            // A special file replaces what was there and is not content itself.
            None => {
                nodes.remove(&path);
            }
        }
    }
    if capped {
        notes.push(ListingNote::FileLimit { limit: limits.max_files });
    }
    check_no_conflicts(&nodes, &dirs)?;
    let file_of = |p: &str| match nodes.get(p) {
        Some(Node::File(b)) => Some(b.clone()),
        _ => None,
    };
    let mut entries = Vec::with_capacity(nodes.len());
    for (path, node) in &nodes {
        match node {
            Node::File(b) => entries.push(Entry { path: path.clone(), location: Location::Memory(b.clone()) }),
            Node::Symlink(target) => match normalize_link(path, target) {
                Some(inside) => {
                    if let Some(b) = file_of(&inside) {
                        entries.push(Entry { path: path.clone(), location: Location::Memory(b) });
                    }
                }
                None => {
                    notes.push(ListingNote::SymlinkEscape { path: path.clone(), target: target.clone() });
                    entries.push(Entry { path: path.clone(), location: Location::Escaped(target.clone()) });
                }
            },
        }
    }
    Ok(RepoView::new(entries, Box::new(crate::view::MemoryBackend), limits, notes))
}

/// Refuses a path that is both a file (or link) and a directory of the archive: tar extracts
/// it differently depending on order and options (a symlink then `dir/file` goes through
/// GNU tar's delayed links), so no single tree is "the" tree.
fn check_no_conflicts(nodes: &HashMap<String, Node>, dirs: &HashSet<String>) -> Result<(), ArchiveError> {
    let mut parents: HashSet<&str> = HashSet::new();
    for path in nodes.keys() {
        let mut p = path.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            if !parents.insert(parent) {
                break; // its own parents are in already
            }
            p = parent;
        }
    }
    match nodes.keys().find(|p| parents.contains(p.as_str()) || dirs.contains(p.as_str())) {
        Some(p) => Err(ArchiveError::Unsupported(format!("{p:?} as both a file and a directory"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tgz(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        let tar = b.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        gz.finish().unwrap()
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append_data(&mut h, path, data).unwrap();
    }

    #[test]
    fn lists_files_and_links() {
        let bytes = tgz(|b| {
            file(b, "./app.py", b"x");
            file(b, "requirements.txt", b"flask");
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, "Procfile", "/etc/passwd").unwrap();
        });
        let v = list(&bytes, ArchiveLimits::default(), Limits::default()).unwrap();
        assert!(v.is_file("app.py") && v.is_file("requirements.txt") && v.is_file("Procfile"));
        assert!(v.read("Procfile").is_err());
        assert!(v.notes().iter().any(|n| matches!(n, ListingNote::SymlinkEscape { .. })));
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, data).unwrap();
        gz.finish().unwrap()
    }

    fn symlink(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, path, target).unwrap();
    }

    fn octal(field: &mut [u8], n: u64) {
        let s = format!("{n:0w$o}\0", w = field.len() - 1);
        field.copy_from_slice(s.as_bytes());
    }

    /// A GNU sparse entry: `data` stored at offset 0, then a hole up to `real_size`.
    pub(crate) fn sparse(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], real_size: u64) {
        let mut h = tar::Header::new_gnu();
        h.set_path(path).unwrap();
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::GNUSparse);
        h.set_size(data.len() as u64);
        let g = h.as_gnu_mut().unwrap();
        octal(&mut g.sparse[0].offset, 0);
        octal(&mut g.sparse[0].numbytes, data.len() as u64);
        octal(&mut g.sparse[1].offset, real_size);
        octal(&mut g.sparse[1].numbytes, 0);
        octal(&mut g.realsize, real_size);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    #[test]
    fn sparse_holes_count_against_the_budget() {
        let bytes = tgz(|b| sparse(b, "big.bin", b"x", 3 << 30));
        assert!(bytes.len() < 400, "{} bytes", bytes.len());
        let e = list(&bytes, ArchiveLimits::default(), Limits::default()).unwrap_err();
        assert_eq!(e.code(), "archive_unpacked_too_large");
        // A small sparse file within the budget is read, holes and all.
        let bytes = tgz(|b| sparse(b, "small.bin", b"abc", 1000));
        let v = list(&bytes, ArchiveLimits::default(), Limits::default()).unwrap();
        let content = v.read("small.bin").unwrap();
        assert_eq!(content.len(), 1000);
        assert_eq!(&content[..3], b"abc");
    }

    #[test]
    fn every_gzip_member_is_read() {
        // One tar stream split across two gzip members, as `cat a.gz b.gz` makes.
        let mut b = tar::Builder::new(Vec::new());
        file(&mut b, "requirements.txt", b"flask");
        file(&mut b, "Procfile", b"web: gunicorn app:app");
        let tar = b.into_inner().unwrap();
        let (first, second) = tar.split_at(1024);
        let bytes = [gz(first), gz(second)].concat();
        let v = list(&bytes, ArchiveLimits::default(), Limits::default()).unwrap();
        assert_eq!(v.read_text("Procfile").unwrap(), "web: gunicorn app:app");
    }

    #[test]
    fn the_last_entry_at_a_path_wins() {
        let bytes = tgz(|b| {
            file(b, "Procfile", b"web: benign");
            file(b, "Procfile", b"web: evil");
            file(b, "real", b"web: from link");
            file(b, "linked", b"web: file first");
            symlink(b, "linked", "real");
            symlink(b, "relinked", "real");
            file(b, "relinked", b"web: file last");
        });
        let v = list(&bytes, ArchiveLimits::default(), Limits::default()).unwrap();
        assert_eq!(v.read_text("Procfile").unwrap(), "web: evil");
        assert_eq!(v.read_text("linked").unwrap(), "web: from link");
        assert_eq!(v.read_text("relinked").unwrap(), "web: file last");
    }

    #[test]
    fn a_special_file_replaces_a_regular_one() {
        let bytes = tgz(|b| {
            file(b, "Procfile", b"web: x");
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Fifo);
            h.set_size(0);
            h.set_cksum();
            b.append_data(&mut h, "Procfile", std::io::empty()).unwrap();
        });
        let v = list(&bytes, ArchiveLimits::default(), Limits::default()).unwrap();
        assert!(!v.is_file("Procfile"));
    }

    #[test]
    fn ambiguous_trees_are_refused() {
        let link_dir = tgz(|b| {
            symlink(b, "app", "/etc");
            file(b, "app/Procfile", b"web: x");
        });
        let unknown = tgz(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::new(b'Q'));
            h.set_size(1);
            h.set_cksum();
            b.append_data(&mut h, "Procfile", &b"x"[..]).unwrap();
        });
        let pax_sparse = tgz(|b| {
            b.append_pax_extensions([("GNU.sparse.major", &b"1"[..]), ("GNU.sparse.minor", &b"0"[..])]).unwrap();
            file(b, "GNUSparseFile.0/Procfile", b"1\n0\n0\n");
        });
        for bytes in [link_dir, unknown, pax_sparse] {
            let e = list(&bytes, ArchiveLimits::default(), Limits::default()).unwrap_err();
            assert_eq!(e.code(), "archive_unsupported_entry", "{e}");
        }
    }

    #[test]
    fn bytes_past_the_read_limit_are_not_kept() {
        let big = vec![b'a'; 10_000];
        let bytes = tgz(|b| file(b, "big.txt", &big));
        let limits = Limits { max_file_bytes: 100, ..Limits::default() };
        let v = list(&bytes, ArchiveLimits::default(), limits).unwrap();
        assert!(matches!(v.read("big.txt"), Err(crate::view::ReadError::TooLarge { .. })));
    }

    #[test]
    fn a_cancelled_unpack_stops() {
        let bytes = tgz(|b| file(b, "a", b"x"));
        let cancel = Cancel::new();
        cancel.cancel();
        let e = list_cancellable(&bytes, ArchiveLimits::default(), Limits::default(), &cancel).unwrap_err();
        assert_eq!(e, ArchiveError::Cancelled);
    }

    #[test]
    fn hard_link_out_is_refused() {
        let bytes = tgz(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Link);
            h.set_size(0);
            b.append_link(&mut h, "x", "elsewhere").unwrap();
        });
        let e = list(&bytes, ArchiveLimits::default(), Limits::default()).unwrap_err();
        assert_eq!(e.code(), "archive_link_escape");
    }

    #[test]
    fn garbage_is_unreadable() {
        let e = list(b"not gzip at all", ArchiveLimits::default(), Limits::default()).unwrap_err();
        assert_eq!(e.code(), "archive_unreadable");
    }
}
