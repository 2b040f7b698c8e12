//! The CLIP image tower in burn gives open_clip's outputs for the same weights and input
//! (tests/data/reference/tiny_clip_visual.safetensors, from tests/reference/clip_vision_reference.py).

use burn::prelude::*;
use fovea::encoder::clip_vision::{ClipVisionConfig, load_open_clip_visual};
use fovea::encoder::open_clip_keys::LoadError;

use crate::support::{f32s, max_abs_diff, reference_tensor};

const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/reference/tiny_clip_visual.safetensors"
);
/// The bound: embeddings within 1e-4 absolute of the reference implementation.
const TOLERANCE: f32 = 1e-4;

fn tiny_config() -> ClipVisionConfig {
    ClipVisionConfig::new(32, 8, 64, 2, 4, 32)
}

fn reference(name: &str) -> (Vec<usize>, Vec<f32>) {
    let (shape, raw) = reference_tensor("tiny_clip_visual.safetensors", name);
    (shape, f32s(&raw))
}

fn check_on(device: &Device) {
    let mut model = tiny_config().init(device);
    load_open_clip_visual(&mut model, std::path::Path::new(REFERENCE))
        .expect("loads with every key used");
    let (shape, input) = reference("reference.input");
    let images = Tensor::<4>::from_data(TensorData::new(input, shape), device);
    let (embedding, maps) = model.forward_with_attention(images);
    let got: Vec<f32> = embedding.into_data().try_to_vec::<f32>().expect("f32");
    let (_, want) = reference("reference.embedding");
    let diff = max_abs_diff(&got, &want);
    assert!(
        diff < TOLERANCE,
        "embedding differs from open_clip by {diff}"
    );
    assert!(
        want.iter().map(|v| v.abs()).fold(0.0, f32::max) > 0.1,
        "reference is not trivial"
    );
    let got_maps: Vec<f32> = maps.into_data().try_to_vec::<f32>().expect("f32");
    let (_, want_maps) = reference("reference.last_attention");
    let diff = max_abs_diff(&got_maps, &want_maps);
    assert!(
        diff < TOLERANCE,
        "last-block attention differs from open_clip by {diff}"
    );
}

#[test]
fn image_embedding_and_attention_match_open_clip_on_the_cpu_backend() {
    check_on(&Device::flex());
}

#[test]
fn image_embedding_and_attention_match_open_clip_on_wgpu() {
    // On machines without a GPU this runs on Mesa's lavapipe (installed by packaging/install-deps.sh).
    check_on(&Device::wgpu(DeviceKind::DefaultDevice));
}

#[test]
fn a_checkpoint_missing_keys_is_refused_naming_them() {
    let mut deeper = ClipVisionConfig::new(32, 8, 64, 3, 4, 32).init(&Device::flex());
    let error = load_open_clip_visual(&mut deeper, std::path::Path::new(REFERENCE))
        .expect_err("block 2 is missing");
    let LoadError::Mismatch { details, .. } = &error else {
        panic!("{error}")
    };
    assert!(details.contains("resblocks.2"), "{details}");
}
