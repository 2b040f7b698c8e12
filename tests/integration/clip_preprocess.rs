//! CLIP preprocessing equals open_clip's transform on real images
//! (tests/data/reference/clip_preprocess.safetensors, from tests/reference/clip_preprocess_reference.py).

use fovea::encoder::preprocess::Preprocess;

use crate::support::{f32s, max_abs_diff, reference_tensor};

/// The bound for preprocessing parity.
const TOLERANCE: f32 = 1e-3;

#[test]
fn preprocessed_tensors_match_open_clip() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reference");
    let preprocess = Preprocess::clip_224();
    for name in [
        "preprocess_photo",
        "preprocess_fundus_down",
        "preprocess_fundus_up",
    ] {
        let image = image::open(format!("{dir}/{name}.png"))
            .expect("png")
            .to_rgb8();
        let got = preprocess.apply(&image);
        let (shape, raw) = reference_tensor("clip_preprocess.safetensors", name);
        assert_eq!(shape, [3, 224, 224]);
        let diff = max_abs_diff(&got, &f32s(&raw));
        assert!(diff < TOLERANCE, "{name}: differs from open_clip by {diff}");
    }
}
