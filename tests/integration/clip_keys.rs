//! Full-size OpenAI-style CLIP towers (ViT-B/32 = EyeCLIP, B/16, L/14) hold exactly the keys and
//! shapes of open_clip's state dicts (tests/data/reference/clip_state_dict_keys.json, from
//! tests/reference/clip_keys_reference.py), so a published checkpoint loads with every key used.

use std::collections::BTreeMap;

use burn::prelude::*;
use burn_store::{BurnToPyTorchAdapter, ModuleSnapshot};
use fovea::encoder::clip_text::ClipTextConfig;
use fovea::encoder::clip_vision::ClipVisionConfig;

/// Keys of the checkpoint that the towers do not hold, each with its reason.
const NOT_IN_THE_TOWERS: &[(&str, &str)] = &[(
    "logit_scale",
    "zero-shot temperature, read by the findings engine",
)];

/// A module's tensors under PyTorch names: burn's adapter undoes the transposes and norm
/// renames, and the fused-attention rule of `open_clip_keys` is reversed.
fn pytorch_keys(module: &impl ModuleSnapshot, prefix: &str) -> BTreeMap<String, Vec<usize>> {
    module
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), false)
        .into_iter()
        .map(|t| {
            let name = t
                .name
                .replace(".attn.in_proj.weight", ".attn.in_proj_weight")
                .replace(".attn.in_proj.bias", ".attn.in_proj_bias");
            (format!("{prefix}{name}"), t.shape.to_vec())
        })
        .collect()
}

fn check(model: &str, vision: ClipVisionConfig, text: ClipTextConfig) {
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/reference/clip_state_dict_keys.json"
        ))
        .expect("keys"),
    )
    .expect("json");
    let want: BTreeMap<String, Vec<usize>> = json["models"][model]
        .as_object()
        .expect("model present")
        .iter()
        .filter(|(k, _)| !NOT_IN_THE_TOWERS.iter().any(|(n, _)| n == k))
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_array()
                    .expect("shape")
                    .iter()
                    .map(|d| d.as_u64().expect("dim") as usize)
                    .collect(),
            )
        })
        .collect();
    let device = Device::flex();
    let mut got = pytorch_keys(&vision.init(&device), "visual.");
    got.extend(pytorch_keys(&text.init(&device), ""));
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{model}: fovea lacks {missing:?}; open_clip lacks {extra:?}"
    );
    let shapes: Vec<_> = want
        .iter()
        .filter(|(k, s)| got[*k] != **s)
        .map(|(k, s)| format!("{k}: open_clip {s:?}, fovea {:?}", got[k]))
        .collect();
    assert!(shapes.is_empty(), "{model}: {}", shapes.join("\n"));
    assert!(want.len() > 150, "{model}: {} keys compared", want.len());
}

#[test]
fn vit_b32_holds_every_key_of_open_clip() {
    check(
        "ViT-B-32-quickgelu",
        ClipVisionConfig::vit_b32(),
        ClipTextConfig::vit_b(),
    );
}

#[test]
fn vit_b16_holds_every_key_of_open_clip() {
    check(
        "ViT-B-16-quickgelu",
        ClipVisionConfig::vit_b16(),
        ClipTextConfig::vit_b(),
    );
}

#[test]
fn vit_l14_holds_every_key_of_open_clip() {
    check(
        "ViT-L-14-quickgelu",
        ClipVisionConfig::vit_l14(),
        ClipTextConfig::vit_l14(),
    );
}
