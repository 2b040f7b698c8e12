//! Model packs: a folder holding `manifest.json` (architecture, preprocessing, intended use,
//! provenance, weights checksum) and `weights.safetensors` in burn's own key names, so loading
//! needs no key rules. The SHA-256 of the weights is checked before they are read; a pack whose
//! checksum, keys or shapes do not match is refused with a message naming what is wrong.

use std::io::Read;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn_store::{ModuleSnapshot, SafetensorsStore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::clip::{Clip, ClipConfig};
use super::open_clip_keys::LoadError;
use super::preprocess::ShortestSideCropPreprocess;

/// The manifest's file name.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The weights' file name.
pub const WEIGHTS_FILE: &str = "weights.safetensors";
/// Manifest format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The architecture of a pack, with its hyper-parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Architecture {
    /// OpenAI-style CLIP (EyeCLIP): both towers.
    OpenaiClip {
        /// Tower sizes.
        config: ClipConfig,
    },
}

/// Where a pack's weights came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Provenance {
    /// File name of the imported checkpoint (no folder: it may name a person's machine).
    pub source_file: String,
    /// SHA-256 of that checkpoint.
    pub source_sha256: String,
    /// `pytorch` or `safetensors`.
    pub source_format: String,
    /// Where in a PyTorch file the weights were, if not the top level.
    pub state_dict_key: Option<String>,
    /// Training-only keys that were dropped.
    pub dropped_keys: Vec<String>,
}

/// The weights file and its checksum.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WeightsEntry {
    /// File name inside the pack.
    pub file: String,
    /// SHA-256, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackManifest {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Name shown with every result the pack produces.
    pub name: String,
    /// Pack version, shown with results.
    pub version: String,
    /// Architecture and sizes.
    pub architecture: Architecture,
    /// How images are prepared for the model.
    pub preprocessing: ShortestSideCropPreprocess,
    /// What the model may and may not be used for.
    pub intended_use: String,
    /// Where the weights came from.
    pub provenance: Provenance,
    /// The weights.
    pub weights: WeightsEntry,
    /// `logit_scale` from the checkpoint: zero-shot logits are `exp(logit_scale) · cos`.
    #[serde(default)]
    pub logit_scale: Option<f32>,
}

/// Why a pack could not be made or opened.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `manifest.json` is missing fields or is not JSON.
    #[error("{path}: invalid manifest: {source}")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// The manifest is from a newer or older Fovea.
    #[error(
        "{path}: manifest format {found} is not supported (this Fovea reads format {FORMAT_VERSION})"
    )]
    FormatVersion {
        /// The manifest.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
    /// The weights are not the ones the manifest names.
    #[error(
        "{path}: checksum mismatch: manifest says SHA-256 {expected}, file has {actual}; the pack is damaged or was changed — import it again"
    )]
    Checksum {
        /// The weights file.
        path: PathBuf,
        /// From the manifest.
        expected: String,
        /// Of the file.
        actual: String,
    },
    /// The weights do not fit the architecture.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The output folder exists and is not empty.
    #[error("{path}: already exists and is not empty; choose a new folder for the pack")]
    OutputExists {
        /// The folder.
        path: PathBuf,
    },
    /// Writing the weights failed.
    #[error("{path}: cannot write weights: {message}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The store's message.
        message: String,
    },
}

/// SHA-256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String, PackError> {
    let io = |source| PackError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0_u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// What to write into a new pack besides the weights.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Pack name.
    pub name: String,
    /// Pack version.
    pub version: String,
    /// Intended-use text.
    pub intended_use: String,
}

/// Converts a published OpenAI-style CLIP checkpoint into a pack folder `out` (created; it must
/// not exist or be empty). Written to a temporary sibling folder first and renamed, so a failed
/// import leaves nothing half-written.
pub fn import_openai_clip(
    checkpoint: &Path,
    config: ClipConfig,
    out: &Path,
    options: &ImportOptions,
) -> Result<PackManifest, PackError> {
    if out.exists()
        && std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(PackError::OutputExists {
            path: out.to_path_buf(),
        });
    }
    let device = Device::flex();
    let mut model = config.init(&device);
    let report = model.load(checkpoint)?;
    let staging = out.with_extension("importing");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PackError::Io { path, source }
    };
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    let weights_path = staging.join(WEIGHTS_FILE);
    let mut store = SafetensorsStore::from_file(&weights_path);
    model.save_into(&mut store).map_err(|e| PackError::Write {
        path: weights_path.clone(),
        message: e.to_string(),
    })?;
    let manifest = PackManifest {
        format_version: FORMAT_VERSION,
        name: options.name.clone(),
        version: options.version.clone(),
        preprocessing: ShortestSideCropPreprocess {
            size: config.vision.image_size as u32,
            ..ShortestSideCropPreprocess::clip_224()
        },
        architecture: Architecture::OpenaiClip { config },
        intended_use: options.intended_use.clone(),
        provenance: Provenance {
            source_file: checkpoint
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
            source_sha256: sha256_file(checkpoint)?,
            source_format: report.format.to_string(),
            state_dict_key: report.state_dict_key,
            dropped_keys: report.dropped,
        },
        logit_scale: report.logit_scale,
        weights: WeightsEntry {
            file: WEIGHTS_FILE.to_string(),
            sha256: sha256_file(&weights_path)?,
            bytes: std::fs::metadata(&weights_path)
                .map_err(io(&weights_path))?
                .len(),
        },
    };
    let manifest_path = staging.join(MANIFEST_FILE);
    let json = serde_json::to_vec_pretty(&manifest).map_err(|source| PackError::Manifest {
        path: manifest_path.clone(),
        source,
    })?;
    std::fs::write(&manifest_path, json).map_err(io(&manifest_path))?;
    if out.exists() {
        std::fs::remove_dir(out).map_err(io(out))?; // empty, checked above
    }
    std::fs::rename(&staging, out).map_err(io(out))?;
    Ok(manifest)
}

/// Reads and checks a pack's manifest (not the weights).
pub fn read_manifest(pack: &Path) -> Result<PackManifest, PackError> {
    let path = pack.join(MANIFEST_FILE);
    let bytes = std::fs::read(&path).map_err(|source| PackError::Io {
        path: path.clone(),
        source,
    })?;
    let manifest: PackManifest =
        serde_json::from_slice(&bytes).map_err(|source| PackError::Manifest {
            path: path.clone(),
            source,
        })?;
    if manifest.format_version != FORMAT_VERSION {
        return Err(PackError::FormatVersion {
            path,
            found: manifest.format_version,
        });
    }
    Ok(manifest)
}

/// A pack loaded onto a device.
pub struct LoadedPack {
    /// Its manifest.
    pub manifest: PackManifest,
    /// The model.
    pub model: Clip,
}

/// Opens a pack: manifest, checksum of the weights, then the weights onto `device`.
pub fn load_pack(pack: &Path, device: &Device) -> Result<LoadedPack, PackError> {
    let manifest = read_manifest(pack)?;
    let weights_path = pack.join(&manifest.weights.file);
    let actual = sha256_file(&weights_path)?;
    if actual != manifest.weights.sha256 {
        return Err(PackError::Checksum {
            path: weights_path,
            expected: manifest.weights.sha256.clone(),
            actual,
        });
    }
    let Architecture::OpenaiClip { config } = &manifest.architecture;
    let mut model = config.init(device);
    let mut store = SafetensorsStore::from_file(&weights_path);
    let result = model.load_from(&mut store).map_err(|e| LoadError::Read {
        path: weights_path.clone(),
        message: e.to_string(),
    })?;
    if !result.missing.is_empty() || !result.errors.is_empty() {
        let missing: Vec<String> = result.missing.iter().map(|(k, _)| k.clone()).collect();
        return Err(LoadError::Mismatch {
            path: weights_path,
            details: format!(
                "missing [{}]; errors {:?}",
                missing.join(", "),
                result.errors
            ),
        }
        .into());
    }
    Ok(LoadedPack { manifest, model })
}
