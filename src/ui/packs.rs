//! The packs the Model menu offers: the bundled demo pack and those installed in the user's
//! data folder (`<data dir>/fovea/packs/<name>/`, beside eframe's own storage), each read
//! from its manifest only (the weights are checked when a pack is switched to).

use std::path::{Path, PathBuf};

use crate::encoder::pack::read_manifest;

/// One pack the menu lists.
#[derive(Debug, Clone, PartialEq)]
pub struct PackEntry {
    /// Its folder.
    pub path: PathBuf,
    /// "name vversion", or why its manifest cannot be read.
    pub label: String,
    /// Whether it carries a validation (a domain description).
    pub validated: bool,
}

/// Where installed packs live.
pub fn installed_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("fovea").join("packs"))
}

/// The bundled pack (first) and every installed one, by folder name.
pub fn available_packs(bundled: &Path) -> Vec<PackEntry> {
    let mut folders = vec![bundled.to_path_buf()];
    if let Some(dir) = installed_dir()
        && let Ok(entries) = std::fs::read_dir(&dir)
    {
        let mut installed: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("manifest.json").is_file())
            .collect();
        installed.sort();
        folders.extend(installed);
    }
    folders.into_iter().map(|path| entry(&path)).collect()
}

/// The entry of one pack folder.
pub fn entry(path: &Path) -> PackEntry {
    match read_manifest(path) {
        Ok(m) => PackEntry {
            path: path.to_path_buf(),
            label: format!(
                "{} v{}{}",
                m.name,
                m.version,
                if m.domain.is_some() {
                    " · validated"
                } else {
                    ""
                }
            ),
            validated: m.domain.is_some(),
        },
        Err(e) => PackEntry {
            path: path.to_path_buf(),
            label: format!("{} (unreadable: {e})", path.display()),
            validated: false,
        },
    }
}
