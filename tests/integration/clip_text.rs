//! The CLIP text tower in burn gives open_clip's text embeddings for the same weights and ids
//! (tests/data/reference/tiny_clip_text.safetensors, from tests/reference/clip_text_reference.py).

use burn::prelude::*;
use fovea::encoder::clip_text::{ClipTextConfig, load_open_clip_text};

use crate::support::{f32s, i64s, max_abs_diff, reference_tensor};

const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/reference/tiny_clip_text.safetensors"
);
/// The bound: embeddings within 1e-4 absolute of the reference implementation.
const TOLERANCE: f32 = 1e-4;

fn tensor_bytes(name: &str) -> (Vec<usize>, Vec<u8>) {
    reference_tensor("tiny_clip_text.safetensors", name)
}

fn embed_on(device: &Device) -> (Vec<f32>, Vec<f32>) {
    let mut model = ClipTextConfig::new(77, 512, 48, 2, 4, 32).init(device);
    load_open_clip_text(&mut model, std::path::Path::new(REFERENCE))
        .expect("loads with every key used");
    let (shape, raw) = tensor_bytes("reference.ids");
    let ids = i64s(&raw);
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, shape), device);
    let got = model
        .forward(ids)
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32");
    let (_, raw) = tensor_bytes("reference.embedding");
    let want = f32s(&raw);
    (got, want)
}

fn assert_close(got: &[f32], want: &[f32]) {
    let diff = max_abs_diff(got, want);
    assert!(
        diff < TOLERANCE,
        "text embedding differs from open_clip by {diff}"
    );
    assert!(
        want.iter().map(|v| v.abs()).fold(0.0, f32::max) > 0.1,
        "reference is not trivial"
    );
}

#[test]
fn text_embeddings_match_open_clip_on_the_cpu_backend() {
    let (got, want) = embed_on(&Device::flex());
    assert_close(&got, &want);
}

#[test]
fn text_embeddings_match_open_clip_on_wgpu() {
    let (got, want) = embed_on(&Device::wgpu(DeviceKind::DefaultDevice));
    assert_close(&got, &want);
}
