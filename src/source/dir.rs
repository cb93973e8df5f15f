//! A local directory, walked once without following directory symlinks.
//!
//! Why it is shaped this way (a 100k-file tree should list about as fast as `find`):
//! entries' types come from the directory read itself (no `stat` per file; sizes are checked
//! only when a file is read); and a plain file stores no path of its own (it is read at
//! root + its relative path). Directories are read breadth first, so when the file cap cuts a
//! huge tree short, the root's manifests are still listed.

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
    let mut queue = std::collections::VecDeque::from([(canonical_root.clone(), String::new(), 0usize)]);
    'walk: while let Some((dir, rel, depth)) = queue.pop_front() {
        let Ok(read_dir) = fs::read_dir(&dir) else {
            continue; // an unreadable subdirectory is skipped, the rest still scans
        };
        for dirent in read_dir.flatten() {
            let os_name = dirent.file_name();
            let (name, utf8) = match os_name.to_str() {
                Some(n) => (n.to_string(), true),
                None => (os_name.to_string_lossy().into_owned(), false),
            };
            let Ok(file_type) = dirent.file_type() else { continue };
            let rel_path = format!("{rel}{name}");
            if !utf8 {
                notes.push(ListingNote::NonUtf8Path { path: rel_path.clone() });
            }
            if file_type.is_dir() {
                if SKIPPED_DIRS.contains(&name.as_str()) {
                    continue;
                }
                if depth + 1 > limits.max_depth {
                    notes.push(ListingNote::DepthLimit { path: rel_path, limit: limits.max_depth });
                    continue;
                }
                queue.push_back((dirent.path(), format!("{rel_path}/"), depth + 1));
                continue;
            }
            let entry = if file_type.is_file() {
                // A lossily decoded name cannot be rejoined to the root: keep its real path.
                let location = if utf8 { Location::Rooted } else { Location::Fs(dirent.path()) };
                Some(Entry { path: rel_path, location })
            } else if file_type.is_symlink() {
                symlink(&dirent.path(), rel_path, &canonical_root, &mut notes)
            } else {
                None // sockets, fifos, devices: not repository content
            };
            if let Some(e) = entry {
                if entries.len() >= limits.max_files {
                    notes.push(ListingNote::FileLimit { limit: limits.max_files });
                    break 'walk;
                }
                entries.push(e);
            }
        }
    }
    Ok(RepoView::new(entries, Box::new(FsBackend { root: canonical_root }), limits, notes))
}

/// A symlink: a file inside the root reads its target; a link out of the root is listed (so
/// rules can say so) but never read; links to directories are not followed (no loops).
fn symlink(path: &Path, rel_path: String, root: &Path, notes: &mut Vec<ListingNote>) -> Option<Entry> {
    // The link's own text in messages: the canonical path would reveal the host's layout.
    let link_text = || fs::read_link(path).map(|t| t.display().to_string()).unwrap_or_default();
    match fs::canonicalize(path) {
        Ok(target) if target.starts_with(root) => {
            target.is_file().then_some(Entry { path: rel_path, location: Location::Fs(target) })
        }
        Ok(_) => {
            let target = link_text();
            notes.push(ListingNote::SymlinkEscape { path: rel_path.clone(), target: target.clone() });
            Some(Entry { path: rel_path, location: Location::Escaped(target) })
        }
        Err(_) => {
            // Dangling: the target may be outside too; never read it.
            let target = link_text();
            if Path::new(&target).is_absolute() || target.starts_with("..") {
                notes.push(ListingNote::SymlinkEscape { path: rel_path.clone(), target: target.clone() });
                Some(Entry { path: rel_path, location: Location::Escaped(target) })
            } else {
                None
            }
        }
    }
}

struct FsBackend {
    root: PathBuf,
}

impl Backend for FsBackend {
    fn read(&self, entry: &Entry, limit: u64) -> Result<Vec<u8>, ReadError> {
        let joined;
        let path = match &entry.location {
            Location::Rooted => {
                joined = self.root.join(&entry.path);
                &joined
            }
            Location::Fs(p) => p,
            _ => return Err(ReadError::NotFound),
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_is_sorted_and_reads_rooted_files() {
        let dir = tempfile::tempdir().expect("tmp");
        for f in ["a-b", "a/x", "a.txt", "a/b/c", "b", "A"] {
            let p = dir.path().join(f);
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs::write(&p, f).expect("write");
        }
        let view = list(dir.path(), Limits::default()).expect("lists");
        let files: Vec<&str> = view.files().collect();
        let mut sorted = files.clone();
        sorted.sort();
        assert_eq!(files, sorted);
        assert_eq!(files, vec!["A", "a-b", "a.txt", "a/b/c", "a/x", "b"]);
        assert_eq!(view.read_text("a/b/c").as_deref(), Ok("a/b/c"));
    }
}
