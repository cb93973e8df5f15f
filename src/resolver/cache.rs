//! The on-disk answer cache: one JSON file per key, the key a SHA-256 of the prompt version,
//! the model and the exact first request. The same repository at the same commit sends the
//! same request, so it costs one call. Writes go through a temporary file and a rename, so a
//! concurrent reader never sees half a file; an unreadable entry is a miss.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Answer;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The first answer, then the repair round's when there was one.
    pub answers: Vec<Answer>,
    pub files_read: Vec<String>,
    pub tokens_in: u64,
    pub tokens_out: u64,
}

pub fn key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn path(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}.json"))
}

pub fn get(dir: &Path, key: &str) -> Option<Entry> {
    let text = std::fs::read_to_string(path(dir, key)).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn put(dir: &Path, key: &str, entry: &Entry) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let text = serde_json::to_string(entry).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!(".{key}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path(dir, key))
}
