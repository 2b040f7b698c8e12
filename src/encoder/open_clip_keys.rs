//! Loading OpenAI/open_clip CLIP state dicts (safetensors) into the burn towers.
//!
//! Key rules, applied to the checkpoint's names:
//! - a tower prefix (`visual.`) is stripped when loading that tower;
//! - `attn.in_proj_weight` / `attn.in_proj_bias` (PyTorch `MultiheadAttention`'s fused q,k,v)
//!   become `attn.in_proj.weight` / `.bias`, the fused Linear of [`super::clip_vision::FusedAttention`];
//! - burn's `PyTorchToBurnAdapter` transposes Linear weights (`[out, in]` → `[in, out]`) and
//!   renames LayerNorm `weight`/`bias` to `gamma`/`beta`.
//!
//! Raw matrices (`proj`, `text_projection`, `class_embedding`, `positional_embedding`) are used
//! as `x @ P` and load untransposed. Keys the model does not use (the other tower,
//! `logit_scale`, an MAE decoder) are ignored; a key the model needs and the file lacks, or a
//! tensor of the wrong shape, is an error naming it.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn_store::{KeyRemapper, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};

/// Why a checkpoint did not load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read or parsed.
    #[error("{path}: cannot read weights: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The store's message.
        message: String,
    },
    /// Keys the model needs are absent, or tensors did not fit.
    #[error("{path}: weights do not match the model: {details}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Missing keys and errors, listed.
        details: String,
    },
}

/// Loads the keys under `prefix` (all keys when `None`) into `model`.
pub fn load_open_clip_state_dict<M: Module>(
    model: &mut M,
    path: &Path,
    prefix: Option<&str>,
) -> Result<(), LoadError> {
    let read_error = |message: String| LoadError::Read {
        path: path.to_path_buf(),
        message,
    };
    let mut remapper = KeyRemapper::new();
    if let Some(prefix) = prefix {
        remapper = remapper
            .add_pattern(format!(r"^{}\.(.*)$", regex::escape(prefix)), "$1")
            .map_err(|e| read_error(e.to_string()))?;
    }
    let remapper = remapper
        .add_pattern(r"^(.*)\.attn\.in_proj_(weight|bias)$", "$1.attn.in_proj.$2")
        .map_err(|e| read_error(e.to_string()))?;
    let mut store = SafetensorsStore::from_file(path)
        .remap(remapper)
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(true);
    let result = model
        .load_from(&mut store)
        .map_err(|e| read_error(e.to_string()))?;
    if result.missing.is_empty() && result.errors.is_empty() {
        return Ok(());
    }
    let missing: Vec<String> = result.missing.iter().map(|(key, _)| key.clone()).collect();
    let errors: Vec<String> = result.errors.iter().map(|e| format!("{e:?}")).collect();
    Err(LoadError::Mismatch {
        path: path.to_path_buf(),
        details: format!(
            "missing [{}]; errors [{}]",
            missing.join(", "),
            errors.join("; ")
        ),
    })
}
