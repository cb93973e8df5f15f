//! A local directory, walked once without following directory symlinks.
//!
//! The walk reads directory entries' types without a `stat` per file (sizes are checked only
//! when a file is read), which keeps a 100k-file tree close to `find`'s speed.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::SourceError;
use crate::view::{Backend, Entry, Limits, ListingNote, Location, ReadError, RepoView, SKIPPED_DIRS};

/// Lists `root` into a view.
pub fn list(root: &Path, limits: Limits) -> Result<RepoView, SourceError> {
    let unreadable =
        |e: std::io::Error| SourceError::Unreadable { path: root.display().to_string(), message: e.to_string() };
    let meta = fs::metadata(root).map_err(unreadable)?;
    if !meta.is_dir() {
        return Err(SourceError::NotADirectory { path: root.display().to_string() });
    }
    let canonical_root = fs::canonicalize(root).map_err(unreadable)?;
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    // (directory on disk, its path relative to the root with a trailing '/', depth)
    let mut stack: Vec<(PathBuf, String, usize)> = vec![(canonical_root.clone(), String::new(), 0)];
    'walk: while let Some((dir, rel, depth)) = stack.pop() {
        let Ok(read_dir) = fs::read_dir(&dir) else {
            continue; // an unreadable subdirectory is skipped, the rest still scans
        };
        for dirent in read_dir.flatten() {
            if entries.len() >= limits.max_files {
                notes.push(ListingNote::FileLimit { limit: limits.max_files });
                break 'walk;
            }
            let os_name = dirent.file_name();
            let name = match os_name.to_str() {
                Some(n) => n.to_string(),
                None => {
                    let lossy = os_name.to_string_lossy().into_owned();
                    notes.push(ListingNote::NonUtf8Path { path: format!("{rel}{lossy}") });
                    lossy
                }
            };
            let Ok(file_type) = dirent.file_type() else { continue };
            let path = dirent.path();
            let rel_path = format!("{rel}{name}");
            if file_type.is_dir() {
                if SKIPPED_DIRS.contains(&name.as_str()) {
                    continue;
                }
                if depth + 1 > limits.max_depth {
                    notes.push(ListingNote::DepthLimit { path: rel_path, limit: limits.max_depth });
                    continue;
                }
                stack.push((path, format!("{rel_path}/"), depth + 1));
            } else if file_type.is_file() {
                entries.push(Entry { path: rel_path, location: Location::Fs(path) });
            } else if file_type.is_symlink() {
                match fs::canonicalize(&path) {
                    Ok(target) if target.starts_with(&canonical_root) => {
                        // Links to files inside the root read their target; links to
                        // directories are not followed (no loops, no double counting).
                        if target.is_file() {
                            entries.push(Entry { path: rel_path, location: Location::Fs(target) });
                        }
                    }
                    Ok(_) => {
                        // The link's own text: the canonical path would reveal the host's layout.
                        let target = fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_default();
                        notes.push(ListingNote::SymlinkEscape { path: rel_path.clone(), target: target.clone() });
                        entries.push(Entry { path: rel_path, location: Location::Escaped(target) });
                    }
                    Err(_) => {
                        // Dangling: the target may be outside too; never read it.
                        let target = fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_default();
                        if Path::new(&target).is_absolute() || target.starts_with("..") {
                            notes.push(ListingNote::SymlinkEscape { path: rel_path.clone(), target: target.clone() });
                            entries.push(Entry { path: rel_path, location: Location::Escaped(target) });
                        }
                    }
                }
            }
            // sockets, fifos, devices: not repository content
        }
    }
    Ok(RepoView::new(entries, Box::new(FsBackend), limits, notes))
}

struct FsBackend;

impl Backend for FsBackend {
    fn read(&self, location: &Location, limit: u64) -> Result<Vec<u8>, ReadError> {
        let Location::Fs(path) = location else { return Err(ReadError::NotFound) };
        let io = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::NotFound => ReadError::NotFound,
            _ => ReadError::Io(e.to_string()),
        };
        let file = fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(ReadError::Io("not a regular file".into()));
        }
        if meta.len() > limit {
            return Err(ReadError::TooLarge { size: meta.len(), limit });
        }
        let mut buf = Vec::with_capacity(meta.len() as usize);
        file.take(limit + 1).read_to_end(&mut buf).map_err(io)?;
        Ok(buf)
    }
}
