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

use super::checkpoint::{LoadError, LoadReport, read_checkpoint};
use super::clip::{Clip, ClipConfig};
use super::clip_tripartite::{ClipTripartite, init_clip_tripartite};
use super::preprocess::Preprocess;
use super::resnet::{ResNet, ResNetConfig, ResNetHead, load_resnet_checkpoint};
use super::ret_clip::{
    RetClip, RetClipConfig, TripartiteHeads, TripartiteText, load_ret_clip_checkpoint,
};
use super::timm_vit::{TimmVit, TimmVitConfig, load_timm_checkpoint};
use super::verified::{self, FileIdentity};
use crate::path_error::AtPath;

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
    /// RET-CLIP: Chinese-CLIP image tower, BERT text tower, tripartite heads.
    RetClip {
        /// Tower sizes.
        config: RetClipConfig,
    },
    /// timm ViT (RETFound): image features and optionally a classifier head.
    TimmVit {
        /// Sizes, pooling and head.
        config: TimmVitConfig,
    },
    /// OpenAI-style CLIP with RET-CLIP's tripartite heads (Fovea's demo model).
    ClipTripartite {
        /// Tower sizes; the heads follow from them.
        config: ClipConfig,
    },
    /// torchvision ResNet (Image+Fundus): pooled features and optionally a head; no text.
    Resnet {
        /// Depth, widths and head.
        config: ResNetConfig,
    },
}

/// The sizes of both CLIP towers, for descriptions.
fn clip_sizes(config: &ClipConfig) -> String {
    format!(
        "image {} px / patch {} / width {} × {} layers, text width {} × {} layers, embedding {}",
        config.vision.image_size,
        config.vision.patch_size,
        config.vision.width,
        config.vision.layers,
        config.text.width,
        config.text.layers,
        config.vision.embed_dim
    )
}

impl Architecture {
    /// A one-line description for people.
    pub fn describe(&self) -> String {
        match self {
            Architecture::OpenaiClip { config } => {
                format!("OpenAI-style CLIP: {}", clip_sizes(config))
            }
            Architecture::RetClip { config } => format!(
                "RET-CLIP: image {} px / patch {} / width {} × {} layers, BERT width {} × {} layers (vocabulary {}), tripartite heads, embedding {}",
                config.vision.image_size,
                config.vision.patch_size,
                config.vision.width,
                config.vision.layers,
                config.text.hidden_size,
                config.text.layers,
                config.text.vocab_size,
                config.vision.embed_dim
            ),
            Architecture::ClipTripartite { config } => format!(
                "OpenAI-style CLIP with tripartite heads: {}",
                clip_sizes(config)
            ),
            Architecture::TimmVit { config } => format!(
                "timm ViT: image {} px / patch {} / width {} × {} layers, {:?} pooling, {}",
                config.image_size,
                config.patch_size,
                config.width,
                config.layers,
                config.pool,
                if config.num_classes > 0 {
                    format!("{}-class head", config.num_classes)
                } else {
                    "no head (features only)".to_string()
                }
            ),
            Architecture::Resnet { config } => format!(
                "torchvision {}: image {} px, stem width {}, feature {}, {}",
                config.depth_name(),
                config.image_size,
                config.base_width,
                config.feature_width(),
                match config.head {
                    ResNetHead::None => "no head (features only)".to_string(),
                    ResNetHead::Linear => format!("{}-class linear head", config.num_classes),
                    ResNetHead::Mlp { hidden } => format!(
                        "{}-class MLP head (hidden {hidden}, Image+Fundus)",
                        config.num_classes
                    ),
                }
            ),
        }
    }

    /// Whether the architecture has a text tower (prompts, zero-shot, text search).
    pub fn has_text_tower(&self) -> bool {
        !matches!(
            self,
            Architecture::TimmVit { .. } | Architecture::Resnet { .. }
        )
    }

    /// Outputs of the classifier head, 0 without one.
    pub fn head_classes(&self) -> usize {
        match self {
            Architecture::TimmVit { config } => config.num_classes,
            Architecture::Resnet { config } => config.num_classes,
            _ => 0,
        }
    }

    /// Builds the model with placeholder weights on `device`.
    pub fn init(&self, device: &Device) -> PackModel {
        match self {
            Architecture::OpenaiClip { config } => {
                PackModel::OpenaiClip(Box::new(config.init(device)))
            }
            Architecture::RetClip { config } => PackModel::RetClip(Box::new(config.init(device))),
            Architecture::TimmVit { config } => PackModel::TimmVit(Box::new(config.init(device))),
            Architecture::ClipTripartite { config } => {
                PackModel::ClipTripartite(Box::new(init_clip_tripartite(config, device)))
            }
            Architecture::Resnet { config } => PackModel::Resnet(Box::new(config.init(device))),
        }
    }

    /// The preprocessing the published models were trained with.
    pub fn default_preprocessing(&self) -> Preprocess {
        match self {
            Architecture::OpenaiClip { config } => {
                Preprocess::clip(config.vision.image_size as u32)
            }
            Architecture::RetClip { config } => {
                Preprocess::squash_clip(config.vision.image_size as u32)
            }
            Architecture::TimmVit { config } => Preprocess::timm_eval(config.image_size as u32),
            Architecture::ClipTripartite { config } => {
                Preprocess::squash_clip(config.vision.image_size as u32)
            }
            Architecture::Resnet { config } => {
                Preprocess::squash_imagenet(config.image_size as u32)
            }
        }
    }
}

/// A pack's model, loaded.
#[derive(Debug)]
pub enum PackModel {
    /// OpenAI-style CLIP.
    OpenaiClip(Box<Clip>),
    /// RET-CLIP.
    RetClip(Box<RetClip>),
    /// timm ViT.
    TimmVit(Box<TimmVit>),
    /// CLIP with tripartite heads.
    ClipTripartite(Box<ClipTripartite>),
    /// torchvision ResNet.
    Resnet(Box<ResNet>),
}

impl PackModel {
    /// Images `[batch, 3, size, size]` (preprocessed) → the image tower's features: CLIP's
    /// embedding, RET-CLIP's shared feature (before eye/patient mappings), the ViT's pooled
    /// feature (the head's input).
    pub fn encode_image(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            PackModel::OpenaiClip(m) => m.encode_image(images),
            PackModel::RetClip(m) => m.encode_image(images),
            PackModel::TimmVit(m) => m.forward(images).features,
            PackModel::ClipTripartite(m) => m.encode_image(images),
            PackModel::Resnet(m) => m.encode_image(images),
        }
    }

    /// The eye and patient mappings, for packs that have them (RET-CLIP, the demo model).
    pub fn tripartite_heads(&self) -> Option<&TripartiteHeads> {
        match self {
            PackModel::RetClip(m) => Some(&m.heads),
            PackModel::ClipTripartite(m) => Some(&m.heads),
            PackModel::OpenaiClip(_) | PackModel::TimmVit(_) | PackModel::Resnet(_) => None,
        }
    }

    /// Token ids `[batch, context]` → text embeddings against image-level vectors (CLIP's
    /// joint space; RET-CLIP's patient head, used with its single-image rule) and, for
    /// tripartite packs, in the patient, left-eye and right-eye spaces. `None` without a text
    /// tower.
    pub fn encode_text_spaces(
        &self,
        ids: Tensor<2, Int>,
    ) -> Option<(Tensor<2>, Option<TripartiteText>)> {
        match self {
            PackModel::OpenaiClip(m) => Some((m.encode_text(ids), None)),
            PackModel::ClipTripartite(m) => {
                let tripartite = m.encode_text_tripartite(ids.clone());
                Some((m.encode_text(ids), Some(tripartite)))
            }
            PackModel::RetClip(m) => {
                let text = m.encode_text(ids);
                Some((text.patient.clone(), Some(text)))
            }
            PackModel::TimmVit(_) | PackModel::Resnet(_) => None,
        }
    }

    /// The classifier head's logits for pooled features `[batch, width]`, for models with a
    /// head (a fine-tuned RETFound, Image+Fundus).
    pub fn head_logits(&self, features: Tensor<2>) -> Option<Tensor<2>> {
        match self {
            PackModel::TimmVit(m) => m.head.as_ref().map(|h| h.forward(features)),
            PackModel::Resnet(m) => m.head(features),
            _ => None,
        }
    }
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
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
    pub preprocessing: Preprocess,
    /// What the model may and may not be used for.
    pub intended_use: String,
    /// Where the weights came from.
    pub provenance: Provenance,
    /// The weights.
    pub weights: WeightsEntry,
    /// `logit_scale*` from the checkpoint (`logit_scale`, and RET-CLIP's `logit_scale_left`,
    /// `logit_scale_right`): zero-shot logits are `exp(logit_scale) · cos`.
    #[serde(default)]
    pub logit_scales: std::collections::BTreeMap<String, f32>,
    /// What the pack can score, with prompts and calibration (empty for imported packs until
    /// findings are configured).
    #[serde(default)]
    pub findings: Vec<FindingSpec>,
    /// Class groups (softmax over class prompts) the pack scores.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_groups: Vec<ClassGroup>,
    /// The classifier head's classes and findings, for packs with a head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<ClassifierHead>,
    /// The finding set these came from (name, source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding_set: Option<FindingSetInfo>,
    /// What the images the pack was validated on look like to it, per modality (written by
    /// `fovea model validate`); absent: "not validated here".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<super::domain::DomainDescription>,
    /// True when the weights were trained on synthetic data only (the demo model): every
    /// result it produces must say so.
    #[serde(default)]
    pub synthetic_training_data: bool,
    /// When set, a colour fundus photograph is seen twice: whole, and through its centre crop
    /// of this fraction of each side (the posterior pole at more pixels per millimetre, where
    /// exudates, microaneurysms and drusen are a pixel or two in the whole view). The image's
    /// features are then the normalised mean of both views' normalised features — as the demo
    /// model was trained. Unset for imported packs (one view).
    #[serde(default)]
    pub fundus_centre_view: Option<f32>,
}

pub use super::finding_set::FindingSpec;
use super::finding_set::{
    ClassGroup, ClassifierHead, FINDING_SET_FORMAT_VERSION, FindingSet, FindingSetInfo,
};

impl PackManifest {
    /// The pack's finding set (what it scores, with its calibration).
    pub fn finding_set(&self) -> FindingSet {
        let info = self.finding_set.clone().unwrap_or_default();
        FindingSet {
            format_version: FINDING_SET_FORMAT_VERSION,
            name: info.name,
            source: info.source,
            note: info.note,
            architectures: Vec::new(),
            findings: self.findings.clone(),
            class_groups: self.class_groups.clone(),
            classifier: self.classifier.clone(),
        }
    }

    /// Replaces what the pack scores with `set` (its calibration included).
    pub fn set_finding_set(&mut self, set: FindingSet) {
        self.finding_set = Some(set.info());
        self.findings = set.findings;
        self.class_groups = set.class_groups;
        self.classifier = set.classifier;
    }

    /// Whether the pack scores nothing.
    pub fn scores_nothing(&self) -> bool {
        self.findings.is_empty() && self.class_groups.is_empty() && self.classifier.is_none()
    }
}

/// Why a pack could not be made or opened.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// The finding set is malformed or does not fit the pack.
    #[error(transparent)]
    FindingSet(#[from] super::finding_set::FindingSetError),
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
    /// The architecture has no published checkpoints to import.
    #[error("{0}")]
    NotImportable(String),
    /// Writing the weights failed.
    #[error("{path}: cannot write weights: {message}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The store's message.
        message: String,
    },
}

crate::path_error::from_path_error!(PackError, std::io::Error => Io, serde_json::Error => Manifest);

/// SHA-256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String, PackError> {
    let mut file = std::fs::File::open(path).at_path(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0_u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).at_path(path)?;
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

/// The intended-use text of a pack imported from a published checkpoint.
pub const IMPORTED_INTENDED_USE: &str = "Research use only. Not a medical device; not for diagnosis. Imported from a published checkpoint; validate on your own data before drawing conclusions.";

/// What to write into a new pack besides the weights.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Pack name.
    pub name: String,
    /// Pack version.
    pub version: String,
    /// Intended-use text.
    pub intended_use: String,
    /// What the pack scores; `None`: the bundled set of the architecture
    /// ([`super::bundled_sets::default_for`]).
    pub finding_set: Option<FindingSet>,
}

/// Refuses an output folder that exists and is not empty (checked before any work, so a long
/// import or training does not end in this error).
pub fn refuse_existing(out: &Path) -> Result<(), PackError> {
    let occupied = out.exists()
        && std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true);
    if occupied {
        return Err(PackError::OutputExists {
            path: out.to_path_buf(),
        });
    }
    Ok(())
}

/// Converts a published checkpoint of `architecture` into a pack folder `out` (created; it
/// must not exist or be empty). A timm ViT's pooling and head are taken from the checkpoint's
/// keys. Written to a temporary sibling folder first and renamed, so a failed import leaves
/// nothing half-written.
pub fn import_checkpoint(
    checkpoint: &Path,
    architecture: Architecture,
    out: &Path,
    options: &ImportOptions,
) -> Result<PackManifest, PackError> {
    refuse_existing(out)?;
    let device = Device::flex();
    let raw = read_checkpoint(checkpoint)?;
    let architecture = match architecture {
        Architecture::TimmVit { config } => Architecture::TimmVit {
            config: config.fitted_to(&raw),
        },
        Architecture::Resnet { config } => Architecture::Resnet {
            config: config.fitted_to(&raw),
        },
        other => other,
    };
    let finding_set = match &options.finding_set {
        Some(set) => Some(set.clone()),
        None => super::bundled_sets::default_for(&architecture)?,
    };
    if let Some(set) = &finding_set {
        super::bundled_sets::check_fits(set, &architecture, &set.name)?;
    }
    let mut model = architecture.init(&device);
    let report: LoadReport = match &mut model {
        PackModel::OpenaiClip(m) => super::checkpoint::apply_checkpoint(
            m.as_mut(),
            checkpoint,
            raw,
            &super::open_clip_keys::clip_rules(),
        )?,
        PackModel::RetClip(m) => load_ret_clip_checkpoint(m, checkpoint, raw)?,
        PackModel::TimmVit(m) => load_timm_checkpoint(m, checkpoint, raw)?,
        PackModel::Resnet(m) => load_resnet_checkpoint(m, checkpoint, raw)?,
        PackModel::ClipTripartite(_) => {
            return Err(PackError::NotImportable(
                "CLIP with tripartite heads is trained by Fovea (fovea train-demo), not imported"
                    .to_string(),
            ));
        }
    };
    let mut manifest = PackManifest {
        format_version: FORMAT_VERSION,
        name: options.name.clone(),
        version: options.version.clone(),
        preprocessing: architecture.default_preprocessing(),
        architecture,
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
        logit_scales: report.logit_scales,
        weights: WeightsEntry::default(),
        findings: Vec::new(),
        class_groups: Vec::new(),
        classifier: None,
        finding_set: None,
        domain: None,
        synthetic_training_data: false,
        fundus_centre_view: None,
    };
    if let Some(set) = finding_set {
        manifest.set_finding_set(set);
    }
    write_pack(out, manifest, &model)
}

/// Writes `model` and `manifest` (its `weights` entry filled in here) as a pack folder `out`
/// (which must not exist or be empty): into a staging sibling first, renamed into place, so a
/// failure leaves nothing half-written.
pub fn write_pack(
    out: &Path,
    manifest: PackManifest,
    model: &PackModel,
) -> Result<PackManifest, PackError> {
    write_staged(out, manifest, |weights_path| {
        // One metadata entry: burn's default three sit in a hash map whose order changes from
        // process to process, and with them the file's bytes and checksum. With one, the same
        // model is the same file every time.
        let mut store = SafetensorsStore::from_file(weights_path)
            .clear_metadata()
            .metadata("producer", "fovea");
        let saved = match model {
            PackModel::OpenaiClip(m) => m.save_into(&mut store),
            PackModel::RetClip(m) => m.save_into(&mut store),
            PackModel::TimmVit(m) => m.save_into(&mut store),
            PackModel::ClipTripartite(m) => m.save_into(&mut store),
            PackModel::Resnet(m) => m.save_into(&mut store),
        };
        saved.map_err(|e| PackError::Write {
            path: weights_path.to_path_buf(),
            message: e.to_string(),
        })
    })
}

/// Writes a pack folder `out` with the weights file of the pack `source` (copied byte for byte,
/// so its checksum — and every library built with it — stays valid) and a new `manifest`: how
/// a pack's calibration is changed without touching its weights. `source`'s weights must have
/// the checksum its manifest names; that is checked before anything is written.
pub fn write_pack_with_weights_of(
    source: &Path,
    out: &Path,
    manifest: PackManifest,
) -> Result<PackManifest, PackError> {
    let (source_weights, _) = checked_weights(source, &read_manifest(source)?)?;
    write_staged(out, manifest, |weights_path| {
        std::fs::copy(&source_weights, weights_path)
            .map(|_| ())
            .at_path(&source_weights)
            .map_err(PackError::from)
    })
}

/// Creates `out` through a staging sibling: `write_weights` fills the weights file, the
/// manifest's `weights` entry is set from it, the manifest is written, and the folder renamed
/// into place.
fn write_staged(
    out: &Path,
    mut manifest: PackManifest,
    write_weights: impl FnOnce(&Path) -> Result<(), PackError>,
) -> Result<PackManifest, PackError> {
    refuse_existing(out)?;
    let staging = out.with_extension("importing");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).at_path(&staging)?;
    }
    std::fs::create_dir_all(&staging).at_path(&staging)?;
    let weights_path = staging.join(WEIGHTS_FILE);
    write_weights(&weights_path)?;
    manifest.weights = WeightsEntry {
        file: WEIGHTS_FILE.to_string(),
        sha256: sha256_file(&weights_path)?,
        bytes: std::fs::metadata(&weights_path)
            .at_path(&weights_path)?
            .len(),
    };
    let manifest_path = staging.join(MANIFEST_FILE);
    let json = serde_json::to_vec_pretty(&manifest).at_path(&manifest_path)?;
    std::fs::write(&manifest_path, json).at_path(&manifest_path)?;
    if out.exists() {
        std::fs::remove_dir(out).at_path(out)?; // empty, checked above
    }
    std::fs::rename(&staging, out).at_path(out)?;
    Ok(manifest)
}

/// Writes `manifest` over the manifest of the pack folder `pack`, keeping its weights entry
/// (for a pack this process has just written: a step after the weights, such as the demo
/// pack's domain description). Written to a sibling file and renamed over the old one.
pub fn update_manifest(pack: &Path, manifest: &PackManifest) -> Result<PackManifest, PackError> {
    let current = read_manifest(pack)?;
    let updated = PackManifest {
        weights: current.weights,
        ..manifest.clone()
    };
    let path = pack.join(MANIFEST_FILE);
    let staging = pack.join(format!("{MANIFEST_FILE}.new"));
    let json = serde_json::to_vec_pretty(&updated).at_path(&staging)?;
    std::fs::write(&staging, json).at_path(&staging)?;
    std::fs::rename(&staging, &path).at_path(&path)?;
    Ok(updated)
}

/// Reads and checks a pack's manifest (not the weights).
pub fn read_manifest(pack: &Path) -> Result<PackManifest, PackError> {
    let path = pack.join(MANIFEST_FILE);
    let bytes = std::fs::read(&path).at_path(&path)?;
    let manifest: PackManifest = serde_json::from_slice(&bytes).at_path(&path)?;
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
    pub model: PackModel,
}

/// Reads a file once from start to end, so that the loader's memory map finds its pages in the
/// page cache: faulting a cold 600 MB file in page by page is slower than one sequential read.
/// Failures are left to the loader, which reports them.
fn read_ahead(path: &Path) {
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = std::io::copy(&mut file, &mut std::io::sink());
    }
}

/// How [`checked_weights`] knew the weights were intact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WeightsCheck {
    /// Hashed just now (so the file is also in the page cache).
    Hashed,
    /// From a remembered verdict (the file was not read).
    Remembered,
}

/// The weights file of the pack folder `pack`, once its SHA-256 is the one `manifest` names:
/// hashed, unless this very file (same path, size, times, inode) was hashed with that result
/// before ([`super::verified`]).
fn checked_weights(
    pack: &Path,
    manifest: &PackManifest,
) -> Result<(PathBuf, WeightsCheck), PackError> {
    let weights_path = pack.join(&manifest.weights.file);
    let identity = FileIdentity::of(&weights_path);
    if identity
        .as_ref()
        .is_some_and(|i| verified::is_known(i, &manifest.weights.sha256))
    {
        return Ok((weights_path, WeightsCheck::Remembered));
    }
    let actual = sha256_file(&weights_path)?;
    if actual != manifest.weights.sha256 {
        return Err(PackError::Checksum {
            path: weights_path,
            expected: manifest.weights.sha256.clone(),
            actual,
        });
    }
    if let Some(identity) = identity {
        verified::remember(identity, &actual);
    }
    Ok((weights_path, WeightsCheck::Hashed))
}

/// Opens a pack: manifest, checksum of the weights, then the weights onto `device`.
pub fn load_pack(pack: &Path, device: &Device) -> Result<LoadedPack, PackError> {
    let manifest = read_manifest(pack)?;
    let (weights_path, check) = checked_weights(pack, &manifest)?;
    if check == WeightsCheck::Remembered {
        read_ahead(&weights_path);
    }
    let mut model = manifest.architecture.init(device);
    let mut store = SafetensorsStore::from_file(&weights_path);
    let result = match &mut model {
        PackModel::OpenaiClip(m) => m.load_from(&mut store),
        PackModel::RetClip(m) => m.load_from(&mut store),
        PackModel::TimmVit(m) => m.load_from(&mut store),
        PackModel::ClipTripartite(m) => m.load_from(&mut store),
        PackModel::Resnet(m) => m.load_from(&mut store),
    };
    let result = result.map_err(|e| LoadError::Read {
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
