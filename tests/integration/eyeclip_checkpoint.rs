//! A checkpoint in EyeCLIP's published layout (PyTorch zip, weights under `model_state_dict`,
//! fp16, MAE decoder keys) loads into the burn CLIP with every key used or knowingly dropped,
//! and gives open_clip's image and text embeddings (tests/reference/eyeclip_checkpoint_reference.py).

use burn::prelude::*;
use fovea::encoder::clip::ClipConfig;
use fovea::encoder::clip_text::ClipTextConfig;
use fovea::encoder::clip_vision::ClipVisionConfig;
use fovea::encoder::open_clip_keys::LoadError;

use crate::support::{f32s, i64s, max_abs_diff, reference_tensor};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reference");
/// fp16 weights are upcast exactly; the remaining error is f32 arithmetic, as in the other parity tests.
const TOLERANCE: f32 = 1e-4;

fn tiny() -> ClipConfig {
    ClipConfig::new(
        ClipVisionConfig::new(32, 8, 64, 2, 4, 32),
        ClipTextConfig::new(77, 512, 48, 2, 4, 32),
    )
}

fn output(name: &str) -> (Vec<usize>, Vec<u8>) {
    reference_tensor("tiny_eyeclip_outputs.safetensors", name)
}

#[test]
fn eyeclip_layout_checkpoint_loads_and_matches_open_clip() {
    let device = Device::flex();
    let mut model = tiny().init(&device);
    let report = model
        .load(std::path::Path::new(&format!("{DIR}/tiny_eyeclip.pt")))
        .expect("loads");
    assert_eq!(report.format, "pytorch");
    assert_eq!(report.state_dict_key.as_deref(), Some("model_state_dict"));
    let mut dropped = report.dropped.clone();
    dropped.sort();
    assert_eq!(
        dropped,
        [
            "logit_scale",
            "visual.decoder.embed.weight",
            "visual.decoder.norm.bias"
        ]
    );
    let (shape, raw) = output("image");
    let images = Tensor::<4>::from_data(TensorData::new(f32s(&raw), shape), &device);
    let got = model
        .encode_image(images)
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32");
    let diff = max_abs_diff(&got, &f32s(&output("image_embedding").1));
    assert!(
        diff < TOLERANCE,
        "image embedding differs from open_clip by {diff}"
    );
    let (shape, raw) = output("ids");
    let ids = i64s(&raw);
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, shape), &device);
    let got = model
        .encode_text(ids)
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32");
    let diff = max_abs_diff(&got, &f32s(&output("text_embedding").1));
    assert!(
        diff < TOLERANCE,
        "text embedding differs from open_clip by {diff}"
    );
}

#[test]
fn a_checkpoint_without_the_image_tower_is_refused_naming_the_missing_keys() {
    let mut model = tiny().init(&Device::flex());
    let error = model
        .load(std::path::Path::new(&format!(
            "{DIR}/tiny_clip_text.safetensors"
        )))
        .expect_err("no visual keys");
    let LoadError::Mismatch { details, .. } = &error else {
        panic!("{error}")
    };
    assert!(
        details.contains("visual.conv1.weight") || details.contains("conv1"),
        "{details}"
    );
}

/// Both tiny tower references merged into one safetensors checkpoint, with or without their
/// `reference.*` tensors (which no CLIP has).
fn merged_checkpoint(dir: &std::path::Path, keep_reference_tensors: bool) -> std::path::PathBuf {
    let files: Vec<Vec<u8>> = ["tiny_clip_visual", "tiny_clip_text"]
        .iter()
        .map(|n| std::fs::read(format!("{DIR}/{n}.safetensors")).expect("reference"))
        .collect();
    let parsed: Vec<_> = files
        .iter()
        .map(|b| safetensors::SafeTensors::deserialize(b).expect("safetensors"))
        .collect();
    let mut tensors = Vec::new();
    for file in &parsed {
        for (name, view) in file.tensors() {
            let duplicate = tensors.iter().any(|(n, _)| *n == name);
            if !duplicate && (keep_reference_tensors || !name.starts_with("reference.")) {
                tensors.push((name, view));
            }
        }
    }
    let path = dir.join(format!("merged_{keep_reference_tensors}.safetensors"));
    safetensors::serialize_to_file(tensors, None, &path).expect("write");
    path
}

#[test]
fn a_complete_safetensors_checkpoint_loads_and_foreign_keys_are_refused_not_ignored() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut model = tiny().init(&Device::flex());
    let report = model
        .load(&merged_checkpoint(dir.path(), false))
        .expect("complete checkpoint loads");
    assert_eq!(
        (report.format, report.dropped.as_slice()),
        ("safetensors", &["logit_scale".to_string()][..])
    );
    let error = model
        .load(&merged_checkpoint(dir.path(), true))
        .expect_err("foreign keys");
    let message = error.to_string();
    assert!(
        message.contains("left unused") && message.contains("reference.input"),
        "{message}"
    );
}
