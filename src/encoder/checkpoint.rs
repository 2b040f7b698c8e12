//! Reading published checkpoints (safetensors, or PyTorch `.pt`/`.pth`) into the burn towers.
//!
//! Every architecture brings its own [`KeyRules`]; what all of them share is done here:
//! - a PyTorch file's pickle is audited first ([`super::pickle_audit`]): one that names
//!   anything but tensors, containers and module classes is refused;
//! - a whole pickled model (`torch.save(model)`) is read as its `state_dict()`;
//! - a PyTorch file's state dict is found at the top level or under `model_state_dict`,
//!   `state_dict` or `model`;
//! - `module.` (from `DataParallel` training) is stripped, then the architecture's renames apply
//!   in order;
//! - separate q, k, v projections (renamed to `….attn.query|key|value.weight|bias`) are fused
//!   into the one `….attn.in_proj` of [`super::transformer::FusedAttention`];
//! - burn's `PyTorchToBurnAdapter` transposes Linear weights (`[out, in]` → `[in, out]`) and
//!   renames LayerNorm `weight`/`bias` to `gamma`/`beta`; every float tensor is cast to f32
//!   (published checkpoints are often fp16 or bf16);
//! - a key the model needs and the file lacks, a tensor of the wrong shape, or a key left
//!   unused that is not training-only is an error naming it.

use std::collections::BTreeMap;
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

/// How one architecture's checkpoint keys become the burn module's.
#[derive(Debug, Clone, Copy)]
pub struct KeyRules<'a> {
    /// `(regex, replacement)` pairs applied in order to every key (after `module.` is stripped).
    pub renames: &'a [(&'a str, &'a str)],
    /// Regexes (on the renamed key) of keys that are not weights of the inference model:
    /// dropped and reported.
    pub training_only: &'a [&'a str],
    /// When true, keys the model does not use are ignored silently (loading one tower of a
    /// two-tower file); otherwise they are an error.
    pub ignore_unused: bool,
}

/// What a checkpoint load found.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// `safetensors` or `pytorch`.
    pub format: &'static str,
    /// Where in a PyTorch file the weights were (`model_state_dict`, …), if not the top level.
    pub state_dict_key: Option<String>,
    /// Tensors loaded.
    pub loaded: usize,
    /// Training-only keys dropped, in the checkpoint's (renamed) names.
    pub dropped: Vec<String>,
    /// The checkpoint's `logit_scale*` scalars (logs of the zero-shot temperatures).
    pub logit_scales: BTreeMap<String, f32>,
}

/// A checkpoint's tensors, before renaming.
pub struct RawCheckpoint {
    /// `safetensors` or `pytorch`.
    pub format: &'static str,
    /// Where in a PyTorch file the weights were, if not the top level.
    pub state_dict_key: Option<String>,
    /// The tensors.
    pub tensors: Vec<PackTensor>,
}

impl RawCheckpoint {
    /// The names, with `module.` stripped.
    pub fn names(&self) -> Vec<String> {
        self.tensors
            .iter()
            .map(|t| strip_module(&t.name).to_string())
            .collect()
    }

    /// The shape of the tensor named `name` (after `module.` is stripped), if present.
    pub fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        self.tensors
            .iter()
            .find(|t| strip_module(&t.name) == name)
            .map(|t| t.shape.to_vec())
    }
}

/// The top-level dictionary keys under which published checkpoints keep their weights.
const STATE_DICT_KEYS: &[&str] = &["model_state_dict", "state_dict", "model"];

fn strip_module(name: &str) -> &str {
    name.strip_prefix("module.").unwrap_or(name)
}

pub(crate) fn read_error(path: &Path, message: String) -> LoadError {
    LoadError::Read {
        path: path.to_path_buf(),
        message,
    }
}

/// Reads every tensor of a safetensors or PyTorch file.
pub fn read_checkpoint(path: &Path) -> Result<RawCheckpoint, LoadError> {
    if is_safetensors(path) {
        let mut store = SafetensorsStore::from_file(path);
        return Ok(RawCheckpoint {
            format: "safetensors",
            state_dict_key: None,
            tensors: all_tensors(&mut store, path)?,
        });
    }
    super::pickle_audit::audit_file(path).map_err(|e| read_error(path, e.to_string()))?;
    let keys = PytorchStore::from_file(path)
        .keys()
        .map_err(|e| read_error(path, e.to_string()))?;
    let state_dict_key = STATE_DICT_KEYS
        .iter()
        .find(|k| keys.iter().any(|key| key.starts_with(&format!("{k}."))))
        .map(|k| (*k).to_string());
    // Keep PyTorch's indices as they are: `nn.Sequential` heads skip the indices of layers
    // without weights (RET-CLIP's `text_projection.0` / `.2`), and the key rules name them.
    let mut store = PytorchStore::from_file(path).map_indices_contiguous(false);
    if let Some(key) = &state_dict_key {
        store = store.with_top_level_key(key.clone());
    }
    Ok(RawCheckpoint {
        format: "pytorch",
        state_dict_key,
        tensors: all_tensors(&mut store, path)?,
    })
}

/// Reads `path` and loads it into `model` by `rules`.
pub fn load_checkpoint<M: Module>(
    model: &mut M,
    path: &Path,
    rules: &KeyRules,
) -> Result<LoadReport, LoadError> {
    let raw = read_checkpoint(path)?;
    apply_checkpoint(model, path, raw, rules)
}

/// Loads already-read tensors into `model` by `rules` (see the module docs).
pub fn apply_checkpoint<M: Module>(
    model: &mut M,
    path: &Path,
    raw: RawCheckpoint,
    rules: &KeyRules,
) -> Result<LoadReport, LoadError> {
    let mut patterns: Vec<(&str, &str)> = vec![(r"^module\.(.*)$", "$1")];
    patterns.extend_from_slice(rules.renames);
    let remapper = patterns
        .iter()
        .try_fold(KeyRemapper::new(), |r, (from, to)| {
            r.add_pattern(*from, *to)
                .map_err(|e| read_error(path, e.to_string()))
        })?;
    let (tensors, _) = remapper.remap(raw.tensors);
    let tensors = fuse_split_qkv(tensors, path)?;
    let logit_scales = tensors
        .iter()
        .filter(|t| t.name.starts_with("logit_scale"))
        .filter_map(|t| scalar_f32(t).map(|v| (t.name.clone(), v)))
        .collect();
    let adapter: Box<dyn ModuleAdapter> = Box::new(ChainAdapter::new(
        PyTorchToBurnAdapter,
        FloatCastAdapter::to(DType::F32),
    ));
    let result = model.apply(tensors, None, Some(adapter), true);
    check_complete(path, &result)?;
    let training_only: Vec<regex::Regex> = rules
        .training_only
        .iter()
        .map(|p| regex::Regex::new(p).map_err(|e| read_error(path, e.to_string())))
        .collect::<Result<_, _>>()?;
    let (dropped, unexpected): (Vec<String>, Vec<String>) = result
        .unused
        .iter()
        .cloned()
        .partition(|k| training_only.iter().any(|r| r.is_match(k)));
    if !unexpected.is_empty() && !rules.ignore_unused {
        return Err(LoadError::Mismatch {
            path: path.to_path_buf(),
            details: format!(
                "keys left unused (not part of this architecture): [{}]",
                unexpected.join(", ")
            ),
        });
    }
    Ok(LoadReport {
        format: raw.format,
        state_dict_key: raw.state_dict_key,
        loaded: result.applied.len(),
        dropped,
        logit_scales,
    })
}

/// Replaces every `P.attn.query|key|value.S` triple by one `P.attn.in_proj.S`, concatenated
/// along the output dimension (rows of PyTorch's `[out, in]` weight), in q, k, v order.
fn fuse_split_qkv(tensors: Vec<PackTensor>, path: &Path) -> Result<Vec<PackTensor>, LoadError> {
    const PARTS: [&str; 3] = ["query", "key", "value"];
    let split = |name: &str| -> Option<(String, usize, String)> {
        PARTS.iter().enumerate().find_map(|(i, part)| {
            let marker = format!(".attn.{part}.");
            name.find(&marker).map(|at| {
                (
                    name[..at].to_string(),
                    i,
                    name[at + marker.len()..].to_string(),
                )
            })
        })
    };
    let mut kept = Vec::new();
    let mut groups: BTreeMap<(String, String), [Option<PackTensor>; 3]> = BTreeMap::new();
    for tensor in tensors {
        match split(&tensor.name) {
            Some((prefix, part, suffix)) => {
                groups.entry((prefix, suffix)).or_default()[part] = Some(tensor);
            }
            None => kept.push(tensor),
        }
    }
    for ((prefix, suffix), parts) in groups {
        let name = format!("{prefix}.attn.in_proj.{suffix}");
        let [Some(q), Some(k), Some(v)] = parts else {
            return Err(LoadError::Mismatch {
                path: path.to_path_buf(),
                details: format!("{name}: query, key and value are not all present"),
            });
        };
        let mut rows = 0;
        let mut rest: Option<Vec<usize>> = None;
        let mut values = Vec::new();
        for part in [&q, &k, &v] {
            let shape = part.shape.to_vec();
            let Some((first, tail)) = shape.split_first() else {
                return Err(read_error(path, format!("{}: a scalar", part.name)));
            };
            if rest.as_ref().is_some_and(|r| r != tail) {
                return Err(LoadError::Mismatch {
                    path: path.to_path_buf(),
                    details: format!("{name}: query, key and value differ in shape"),
                });
            }
            rest = Some(tail.to_vec());
            rows += first;
            values.extend(
                to_f32(part).ok_or_else(|| {
                    read_error(path, format!("{}: not a float tensor", part.name))
                })?,
            );
        }
        let mut shape = vec![rows];
        shape.extend(rest.unwrap_or_default());
        let data = TensorData::new(values, shape.clone());
        kept.push(PackTensor::new(
            name,
            DType::F32,
            shape,
            None,
            data.into_bytes(),
        ));
    }
    Ok(kept)
}

/// Every tensor of a store.
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

/// A float tensor's values as f32, whatever its float type.
fn to_f32(tensor: &PackTensor) -> Option<Vec<f32>> {
    let bytes = tensor.to_bytes().ok()?;
    let data = TensorData::try_from_bytes(bytes, tensor.shape.clone(), tensor.dtype).ok()?;
    data.convert_dtype(DType::F32).try_to_vec::<f32>().ok()
}

/// The single value of a one-element float tensor.
fn scalar_f32(tensor: &PackTensor) -> Option<f32> {
    let values = to_f32(tensor)?;
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
    let errors: Vec<String> = result.errors.iter().map(describe_apply_error).collect();
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing [{}]", first_of(&missing)));
    }
    if !errors.is_empty() {
        parts.push(format!("shapes or types differ: {}", first_of(&errors)));
    }
    Err(LoadError::Mismatch {
        path: path.to_path_buf(),
        details: format!(
            "{}; is it a checkpoint of another architecture or size (--arch, --arch-config)?",
            parts.join("; ")
        ),
    })
}

/// The first few items, then how many more: a checkpoint of another architecture differs in
/// hundreds of keys, and the first ones say what it is.
fn first_of(items: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut text = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}

fn describe_apply_error(error: &burn_store::ApplyError) -> String {
    match error {
        burn_store::ApplyError::ShapeMismatch {
            path,
            expected,
            found,
        } => format!(
            "{path} (model {:?}, file {:?})",
            expected.as_slice(),
            found.as_slice()
        ),
        burn_store::ApplyError::DTypeMismatch {
            path,
            expected,
            found,
        } => format!("{path} (model {expected:?}, file {found:?})"),
        other => format!("{other:?}"),
    }
}
