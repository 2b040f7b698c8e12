//! Loading OpenAI/open_clip CLIP state dicts (safetensors, or PyTorch `.pt`/`.pth`) into the
//! burn towers.
//!
//! Key rules, applied to the checkpoint's names:
//! - `module.` (from `DataParallel` training) is stripped;
//! - for a whole [`super::clip::Clip`], text-tower keys (`token_embedding`, `positional_embedding`,
//!   `transformer`, `ln_final`, `text_projection`) go under `text.`; for one tower, its prefix
//!   (`visual.`) is stripped instead;
//! - `attn.in_proj_weight` / `attn.in_proj_bias` (PyTorch `MultiheadAttention`'s fused q,k,v)
//!   become `attn.in_proj.weight` / `.bias`, the fused Linear of [`super::clip_vision::FusedAttention`];
//! - burn's `PyTorchToBurnAdapter` transposes Linear weights (`[out, in]` → `[in, out]`) and
//!   renames LayerNorm `weight`/`bias` to `gamma`/`beta`; every float tensor is cast to f32
//!   (published checkpoints are often fp16).
//!
//! Raw matrices (`proj`, `text_projection`, `class_embedding`, `positional_embedding`) are used
//! as `x @ P` and load untransposed. A key the model needs and the file lacks, or a tensor of the
//! wrong shape, is an error naming it.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{DType, TensorData};
use burn_pack::Tensor as PackTensor;
use burn_store::{
    ApplyResult, ChainAdapter, FloatCastAdapter, KeyRemapper, ModuleAdapter, ModuleSnapshot,
    ModuleStore, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};

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
    /// Keys the model needs are absent, tensors did not fit, or keys were left unused.
    #[error("{path}: weights do not match the model: {details}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Missing or unused keys and errors, listed.
        details: String,
    },
}

/// Checkpoint keys that are not weights of the inference model: dropped on load, reported.
/// - `visual.decoder.*`, `decoder_*`, `mask_token`: EyeCLIP's / MAE's reconstruction decoder;
/// - `logit_scale`: the zero-shot temperature, read by the findings engine, not a tower weight;
/// - `attn_mask`: a buffer some exports save; the text tower builds its causal mask itself.
pub const TRAINING_ONLY_KEYS: &[&str] = &[
    r"^visual\.decoder\.",
    r"^decoder_",
    r"^mask_token$",
    r"^logit_scale$",
    r"^attn_mask$",
];

/// The top-level dictionary keys under which published checkpoints keep their weights.
const STATE_DICT_KEYS: &[&str] = &["model_state_dict", "state_dict", "model"];

/// What a checkpoint load found.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// `safetensors` or `pytorch`.
    pub format: &'static str,
    /// Where in a PyTorch file the weights were (`model_state_dict`, …), if not the top level.
    pub state_dict_key: Option<String>,
    /// Tensors loaded.
    pub loaded: usize,
    /// Training-only keys dropped (see [`TRAINING_ONLY_KEYS`]).
    pub dropped: Vec<String>,
    /// The checkpoint's `logit_scale` (log of the zero-shot temperature), if it has one.
    pub logit_scale: Option<f32>,
}

/// A file read and applied.
struct ReadOutcome {
    format: &'static str,
    state_dict_key: Option<String>,
    result: ApplyResult,
    logit_scale: Option<f32>,
}

/// Loads a whole OpenAI-style CLIP checkpoint into [`super::clip::Clip`]; every key must be
/// used or training-only.
pub fn load_clip_checkpoint<M: Module>(
    model: &mut M,
    path: &Path,
) -> Result<LoadReport, LoadError> {
    let remapper = remapper(
        path,
        &[
            (r"^module\.(.*)$", "$1"),
            (
                r"^(token_embedding|positional_embedding|transformer|ln_final|text_projection)(.*)$",
                "text.$1$2",
            ),
            (r"^(.*)\.attn\.in_proj_(weight|bias)$", "$1.attn.in_proj.$2"),
        ],
    )?;
    let ReadOutcome {
        format,
        state_dict_key,
        result,
        logit_scale,
    } = read_and_apply(model, path, remapper)?;
    check_complete(path, &result)?;
    let training_only: Vec<regex::Regex> = TRAINING_ONLY_KEYS
        .iter()
        .map(|p| regex::Regex::new(p).map_err(|e| read_error(path, e.to_string())))
        .collect::<Result<_, _>>()?;
    let (dropped, unexpected): (Vec<String>, Vec<String>) = result
        .unused
        .iter()
        .cloned()
        .partition(|k| training_only.iter().any(|r| r.is_match(k)));
    if !unexpected.is_empty() {
        return Err(LoadError::Mismatch {
            path: path.to_path_buf(),
            details: format!(
                "keys left unused (not part of this architecture): [{}]",
                unexpected.join(", ")
            ),
        });
    }
    Ok(LoadReport {
        format,
        state_dict_key,
        loaded: result.applied.len(),
        dropped,
        logit_scale,
    })
}

/// Loads one tower: the keys under `prefix` (all keys when `None`); other keys are ignored,
/// a missing one is an error.
pub fn load_open_clip_state_dict<M: Module>(
    model: &mut M,
    path: &Path,
    prefix: Option<&str>,
) -> Result<(), LoadError> {
    let strip = prefix.map(|p| format!(r"^{}\.(.*)$", regex::escape(p)));
    let mut rules: Vec<(&str, &str)> = vec![(r"^module\.(.*)$", "$1")];
    if let Some(strip) = &strip {
        rules.push((strip.as_str(), "$1"));
    }
    rules.push((r"^(.*)\.attn\.in_proj_(weight|bias)$", "$1.attn.in_proj.$2"));
    let outcome = read_and_apply(model, path, remapper(path, &rules)?)?;
    check_complete(path, &outcome.result)
}

fn read_error(path: &Path, message: String) -> LoadError {
    LoadError::Read {
        path: path.to_path_buf(),
        message,
    }
}

fn remapper(path: &Path, rules: &[(&str, &str)]) -> Result<KeyRemapper, LoadError> {
    rules.iter().try_fold(KeyRemapper::new(), |r, (from, to)| {
        r.add_pattern(*from, *to)
            .map_err(|e| read_error(path, e.to_string()))
    })
}

/// Reads a safetensors or PyTorch file (a PyTorch file's state dict is found at the top level or
/// under [`STATE_DICT_KEYS`]), renames its keys and applies them to `model` through one adapter
/// chain: PyTorch layout → burn, then every float tensor to f32.
fn read_and_apply<M: Module>(
    model: &mut M,
    path: &Path,
    remapper: KeyRemapper,
) -> Result<ReadOutcome, LoadError> {
    let adapter = || -> Box<dyn ModuleAdapter> {
        Box::new(ChainAdapter::new(
            PyTorchToBurnAdapter,
            FloatCastAdapter::to(DType::F32),
        ))
    };
    let (format, state_dict_key, tensors): (_, _, Vec<PackTensor>) = if is_safetensors(path) {
        let mut store = SafetensorsStore::from_file(path).remap(remapper);
        let tensors = all_tensors(&mut store, path)?;
        ("safetensors", None, tensors)
    } else {
        let keys = PytorchStore::from_file(path)
            .keys()
            .map_err(|e| read_error(path, e.to_string()))?;
        let state_dict_key = STATE_DICT_KEYS
            .iter()
            .find(|k| keys.iter().any(|key| key.starts_with(&format!("{k}."))))
            .map(|k| (*k).to_string());
        let mut store = PytorchStore::from_file(path).remap(remapper);
        if let Some(key) = &state_dict_key {
            store = store.with_top_level_key(key.clone());
        }
        let tensors = all_tensors(&mut store, path)?;
        ("pytorch", state_dict_key, tensors)
    };
    let logit_scale = tensors
        .iter()
        .find(|t| t.name == "logit_scale")
        .and_then(scalar_f32);
    let result = model.apply(tensors, None, Some(adapter()), true);
    Ok(ReadOutcome {
        format,
        state_dict_key,
        result,
        logit_scale,
    })
}

/// Every tensor of a store, renamed by its remapper.
fn all_tensors<S: ModuleStore>(store: &mut S, path: &Path) -> Result<Vec<PackTensor>, LoadError>
where
    S::Error: std::fmt::Display,
{
    Ok(store
        .get_all_tensors()
        .map_err(|e| read_error(path, e.to_string()))?
        .values()
        .cloned()
        .collect())
}

/// The single value of a one-element float tensor, whatever its float type.
fn scalar_f32(tensor: &PackTensor) -> Option<f32> {
    let bytes = tensor.to_bytes().ok()?;
    let data = TensorData::try_from_bytes(bytes, tensor.shape.clone(), tensor.dtype).ok()?;
    let values = data.convert_dtype(DType::F32).try_to_vec::<f32>().ok()?;
    (values.len() == 1).then(|| values[0])
}

/// A safetensors file starts with an 8-byte header length and then `{`; a `.pt` file is a zip.
fn is_safetensors(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0_u8; 9];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|()| head[8] == b'{')
        .unwrap_or(false)
}

fn check_complete(path: &Path, result: &ApplyResult) -> Result<(), LoadError> {
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
