//! Remembered checksum verdicts, so that a pack's weights are hashed once, not at every start
//! (SHA-256 of a 605 MB EyeCLIP file is a good part of a second).
//!
//! What is remembered: a weights file whose SHA-256 matched its manifest, under the identity of
//! the file when it was hashed — its canonical path, size, modification time and, on Unix, its
//! inode, device and status-change time (`ctime`). Any ordinary change to the file (a write, a
//! copy over it, a rename into place, `touch`, even restoring the old mtime) changes one of
//! these, and the file is hashed again before use. `ctime` cannot be set back by user programs,
//! so only someone who can reset the clock (root) could change the bytes unnoticed.
//!
//! The threat this guards against is accidental: a damaged disk, an interrupted copy, the wrong
//! file in a folder. It is not a defence against someone who can write to the pack — they could
//! edit `manifest.json` (which is not signed) just as well, with or without this cache.
//!
//! The verdicts live in one JSON file in the user's cache folder
//! (`$XDG_CACHE_HOME/fovea/verified-weights.json` on Linux), written through a temporary file
//! and a rename; losing it costs one hash per pack, never a wrong verdict.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How many verdicts are kept (the oldest go first).
const KEPT: usize = 64;

/// What identifies a file's contents without reading them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    path: PathBuf,
    bytes: u64,
    modified_ns: u128,
    changed_ns: i128,
    inode: u64,
    device: u64,
}

impl FileIdentity {
    /// The identity of the file at `path` now; `None` when it cannot be read.
    pub fn of(path: &Path) -> Option<Self> {
        let path = std::fs::canonicalize(path).ok()?;
        let meta = std::fs::metadata(&path).ok()?;
        let modified_ns = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_nanos();
        #[cfg(unix)]
        let (changed_ns, inode, device) = {
            use std::os::unix::fs::MetadataExt;
            (
                i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
                meta.ino(),
                meta.dev(),
            )
        };
        #[cfg(not(unix))]
        let (changed_ns, inode, device) = (0, 0, 0);
        Some(FileIdentity {
            path,
            bytes: meta.len(),
            modified_ns,
            changed_ns,
            inode,
            device,
        })
    }
}

/// One remembered verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Verdict {
    file: FileIdentity,
    sha256: String,
}

/// The verdicts file, when the user has a cache folder.
fn verdicts_file() -> Option<PathBuf> {
    Some(
        dirs::cache_dir()?
            .join("fovea")
            .join("verified-weights.json"),
    )
}

fn read_verdicts(file: &Path) -> Vec<Verdict> {
    std::fs::read(file)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Whether `path` was found to have SHA-256 `sha256` and has not changed since.
pub fn is_verified(path: &Path, sha256: &str) -> bool {
    FileIdentity::of(path).is_some_and(|identity| is_known(&identity, sha256))
}

/// Whether a file with this identity was found to have SHA-256 `sha256`.
pub fn is_known(identity: &FileIdentity, sha256: &str) -> bool {
    let Some(file) = verdicts_file() else {
        return false;
    };
    read_verdicts(&file)
        .iter()
        .any(|v| &v.file == identity && v.sha256 == sha256)
}

/// Remembers that the file with `identity` has SHA-256 `sha256`. Give the identity taken
/// before hashing: a file that changed meanwhile has another one now, and is hashed again
/// next time. A cache that cannot be written is logged and otherwise ignored.
pub fn remember(identity: FileIdentity, sha256: &str) {
    let Some(file) = verdicts_file() else {
        return;
    };
    let mut verdicts = read_verdicts(&file);
    verdicts.retain(|v| v.file.path != identity.path);
    verdicts.push(Verdict {
        file: identity,
        sha256: sha256.to_string(),
    });
    let excess = verdicts.len().saturating_sub(KEPT);
    verdicts.drain(..excess);
    if let Err(e) = write_atomically(&file, &verdicts) {
        log::info!("checksum verdicts not saved in {}: {e}", file.display());
    }
}

fn write_atomically(file: &Path, verdicts: &[Verdict]) -> std::io::Result<()> {
    if let Some(folder) = file.parent() {
        std::fs::create_dir_all(folder)?;
    }
    let staging = file.with_extension(format!("{}.partial", std::process::id()));
    std::fs::write(&staging, serde_json::to_vec(verdicts)?)?;
    std::fs::rename(&staging, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_write_changes_the_identity_even_with_the_old_mtime_and_size() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("weights");
        std::fs::write(&path, b"0123456789").expect("write");
        let before = FileIdentity::of(&path).expect("identity");
        let modified = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, b"0123456780").expect("same size");
        let file = std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open");
        file.set_modified(modified).expect("mtime back");
        let after = FileIdentity::of(&path).expect("identity");
        assert_eq!(before.bytes, after.bytes);
        assert_eq!(before.modified_ns, after.modified_ns);
        assert_ne!(before, after, "ctime moved");
    }
}
