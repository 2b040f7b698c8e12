//! Key rules for OpenAI/open_clip CLIP checkpoints (EyeCLIP's format), on top of
//! [`super::checkpoint`]:
//! - for a whole [`super::clip::Clip`], text-tower keys (`token_embedding`,
//!   `positional_embedding`, `transformer`, `ln_final`, `text_projection`) go under `text.`;
//!   for one tower, its prefix (`visual.`) is stripped instead;
//! - `attn.in_proj_weight` / `attn.in_proj_bias` (PyTorch `MultiheadAttention`'s fused q,k,v)
//!   become `attn.in_proj.weight` / `.bias`, the fused Linear of
//!   [`super::transformer::FusedAttention`].
//!
//! Raw matrices (`proj`, `text_projection`, `class_embedding`, `positional_embedding`) are used
//! as `x @ P` and load untransposed.

use std::path::Path;

use burn::module::Module;

use super::checkpoint::{KeyRules, load_checkpoint};
pub use super::checkpoint::{LoadError, LoadReport};

/// Checkpoint keys that are not weights of the inference model: dropped on load, reported.
/// - `visual.decoder.*`, `decoder_*`, `mask_token`: EyeCLIP's / MAE's reconstruction decoder;
/// - `logit_scale`: the zero-shot temperature, kept in the pack's manifest, not a tower weight;
/// - `attn_mask`: a buffer some exports save; the text tower builds its causal mask itself.
pub const TRAINING_ONLY_KEYS: &[&str] = &[
    r"^visual\.decoder\.",
    r"^decoder_",
    r"^mask_token$",
    r"^logit_scale$",
    r"^attn_mask$",
];

const FUSED_QKV: (&str, &str) = (r"^(.*)\.attn\.in_proj_(weight|bias)$", "$1.attn.in_proj.$2");

/// Renames of a whole OpenAI-style CLIP checkpoint.
pub const CLIP_RENAMES: &[(&str, &str)] = &[
    (
        r"^(token_embedding|positional_embedding|transformer|ln_final|text_projection)(.*)$",
        "text.$1$2",
    ),
    FUSED_QKV,
];

/// The rules for a whole OpenAI-style CLIP checkpoint: every key used or training-only.
pub fn clip_rules() -> KeyRules<'static> {
    KeyRules {
        renames: CLIP_RENAMES,
        training_only: TRAINING_ONLY_KEYS,
        ignore_unused: false,
    }
}

/// Loads a whole OpenAI-style CLIP checkpoint into [`super::clip::Clip`].
pub fn load_clip_checkpoint<M: Module>(
    model: &mut M,
    path: &Path,
) -> Result<LoadReport, LoadError> {
    load_checkpoint(model, path, &clip_rules())
}

/// Loads one tower: the keys under `prefix` (all keys when `None`); other keys are ignored,
/// a missing one is an error.
pub fn load_open_clip_state_dict<M: Module>(
    model: &mut M,
    path: &Path,
    prefix: Option<&str>,
) -> Result<(), LoadError> {
    let strip = prefix.map(|p| format!(r"^{}\.(.*)$", regex::escape(p)));
    let mut renames: Vec<(&str, &str)> = Vec::new();
    if let Some(strip) = &strip {
        renames.push((strip.as_str(), "$1"));
    }
    renames.push(FUSED_QKV);
    load_checkpoint(
        model,
        path,
        &KeyRules {
            renames: &renames,
            training_only: &[],
            ignore_unused: true,
        },
    )
    .map(|_| ())
}
