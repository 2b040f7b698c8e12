//! CLIP preprocessing equals open_clip's transform on real images
//! (tests/data/reference/clip_preprocess.safetensors, from tests/reference/clip_preprocess_reference.py).

use fovea::encoder::preprocess::ShortestSideCropPreprocess;

/// The bound for preprocessing parity.
const TOLERANCE: f32 = 1e-3;

#[test]
fn preprocessed_tensors_match_open_clip() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reference");
    let bytes = std::fs::read(format!("{dir}/clip_preprocess.safetensors")).expect("reference");
    let reference = safetensors::SafeTensors::deserialize(&bytes).expect("safetensors");
    let preprocess = ShortestSideCropPreprocess::clip_224();
    for name in [
        "preprocess_photo",
        "preprocess_fundus_down",
        "preprocess_fundus_up",
    ] {
        let image = image::open(format!("{dir}/{name}.png"))
            .expect("png")
            .to_rgb8();
        let got = preprocess.apply(&image);
        let view = reference.tensor(name).expect("tensor");
        assert_eq!(view.shape(), [3, 224, 224]);
        let want: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
            .collect();
        let diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(diff < TOLERANCE, "{name}: differs from open_clip by {diff}");
    }
}
