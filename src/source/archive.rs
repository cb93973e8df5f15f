//! An uploaded `.tar.gz`, unpacked in memory into a [`RepoView`] under limits.
//!
//! Nothing touches the disk: entries become in-memory blobs. Every limit is checked while
//! streaming, so a gzip bomb is stopped at the limit, not after inflating it:
//!
//! - the compressed size (the caller's body limit, checked again here);
//! - the number of entries;
//! - the total unpacked size (file contents plus tar headers and padding, i.e. what inflates);
//! - the compression ratio, unpacked / compressed, once past 1 MiB unpacked (below that a tiny
//!   archive of text is legitimately very compressible: tar pads every file to 512 bytes);
//! - paths: an absolute path or a `..` component refuses the whole archive (a tool that wrote
//!   it was either broken or hostile); a leading `./` is dropped;
//! - symbolic links: resolved inside the tree, else listed as escaping (a warning in the plan,
//!   never read), as for git and directory sources;
//! - hard links: must name an earlier regular file of the archive, else the archive is refused.
//!
//! Devices, fifos and other special entries are skipped.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use thiserror::Error;

use super::git::normalize_link;
use crate::view::{Entry, Limits, ListingNote, Location, RepoView, SKIPPED_DIRS};

/// Caps on an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    pub max_compressed_bytes: u64,
    pub max_entries: usize,
    pub max_unpacked_bytes: u64,
    pub max_ratio: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_compressed_bytes: 50 << 20,
            max_entries: 50_000,
            max_unpacked_bytes: 500 << 20,
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
    #[error("not a readable .tar.gz: {0}")]
    Unreadable(String),
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
            ArchiveError::Unreadable(_) => "archive_unreadable",
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

/// Counts inflated bytes and stops the stream at the size and ratio limits.
struct Counted<R> {
    inner: R,
    read: u64,
    compressed: u64,
    limits: ArchiveLimits,
    tripped: Option<ArchiveError>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        let err = if self.read > self.limits.max_unpacked_bytes {
            Some(ArchiveError::UnpackedTooLarge { limit: self.limits.max_unpacked_bytes })
        } else if self.read > RATIO_FLOOR && self.read > self.limits.max_ratio.saturating_mul(self.compressed.max(1)) {
            Some(ArchiveError::RatioExceeded { limit: self.limits.max_ratio })
        } else {
            None
        };
        if let Some(e) = err {
            let msg = e.to_string();
            self.tripped = Some(e);
            return Err(std::io::Error::other(msg));
        }
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
    let compressed = bytes.len() as u64;
    if compressed > archive_limits.max_compressed_bytes {
        return Err(ArchiveError::TooLarge { size: compressed, limit: archive_limits.max_compressed_bytes });
    }
    let mut counted = Counted {
        inner: flate2::read::GzDecoder::new(bytes),
        read: 0,
        compressed,
        limits: archive_limits,
        tripped: None,
    };
    let result = unpack(&mut counted, archive_limits, limits);
    match (result, counted.tripped.take()) {
        (_, Some(limit)) => Err(limit),
        (r, None) => r,
    }
}

fn unpack<R: Read>(
    reader: &mut Counted<R>,
    archive_limits: ArchiveLimits,
    limits: Limits,
) -> Result<RepoView, ArchiveError> {
    let unreadable = |e: std::io::Error| ArchiveError::Unreadable(e.to_string());
    let mut archive = tar::Archive::new(reader);
    let mut files: HashMap<String, Arc<[u8]>> = HashMap::new();
    let mut symlinks: Vec<(String, String)> = Vec::new();
    let mut notes = Vec::new();
    let mut count = 0usize;
    let mut capped = false;
    for entry in archive.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        count += 1;
        if count > archive_limits.max_entries {
            return Err(ArchiveError::TooManyEntries { limit: archive_limits.max_entries });
        }
        let raw_path = entry.path_bytes().into_owned();
        let Some(path) = clean_path(&raw_path)? else { continue };
        if std::str::from_utf8(&raw_path).is_err() {
            notes.push(ListingNote::NonUtf8Path { path: path.clone() });
        }
        let skipped = path.split('/').any(|c| SKIPPED_DIRS.contains(&c));
        let too_deep = path.matches('/').count() > limits.max_depth;
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                // Read the content even when the entry is not kept: it counts towards the limits.
                let mut buf = Vec::new();
                entry.read_to_end(&mut buf).map_err(unreadable)?;
                if skipped || too_deep {
                    continue;
                }
                if files.len() >= limits.max_files {
                    capped = true;
                    continue;
                }
                files.insert(path, Arc::from(buf));
            }
            tar::EntryType::Symlink => {
                let target = entry.link_name_bytes().map(|t| String::from_utf8_lossy(&t).into_owned());
                if !skipped && !too_deep {
                    symlinks.push((path, target.unwrap_or_default()));
                }
            }
            tar::EntryType::Link => {
                let target = entry.link_name_bytes().map(|t| t.into_owned()).unwrap_or_default();
                let escape =
                    || ArchiveError::LinkEscape { path: path.clone(), target: String::from_utf8_lossy(&target).into() };
                let inside = clean_path(&target).map_err(|_| escape())?.ok_or_else(escape)?;
                let data = files.get(&inside).cloned().ok_or_else(escape)?;
                if !skipped && !too_deep {
                    files.insert(path, data);
                }
            }
            _ => {} // directories are implied by their files; devices and fifos are not content
        }
    }
    if capped {
        notes.push(ListingNote::FileLimit { limit: limits.max_files });
    }
    let mut entries: Vec<Entry> =
        files.iter().map(|(p, b)| Entry { path: p.clone(), location: Location::Memory(b.clone()) }).collect();
    for (path, target) in symlinks {
        match normalize_link(&path, &target) {
            Some(inside) => {
                if let Some(b) = files.get(&inside) {
                    entries.push(Entry { path, location: Location::Memory(b.clone()) });
                }
            }
            None => {
                notes.push(ListingNote::SymlinkEscape { path: path.clone(), target: target.clone() });
                entries.push(Entry { path, location: Location::Escaped(target) });
            }
        }
    }
    Ok(RepoView::new(entries, Box::new(crate::view::MemoryBackend), limits, notes))
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
