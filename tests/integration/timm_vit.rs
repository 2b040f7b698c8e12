//! timm ViT (RETFound): tiny checkpoints in RETFound's layouts — a fine-tuned classifier
//! (`model` key, argparse `args` beside it, average pooling + `fc_norm` + head) and an fp16 MAE
//! encoder with its decoder — import through `fovea model import --arch retfound` (pooling and
//! head read from the keys) and reproduce timm's features, logits and last attention maps
//! within 1e-4 on the CPU and on wgpu (tests/reference/timm_vit_reference.py).

use burn::prelude::*;
use fovea::encoder::pack::{Architecture, PackModel, load_pack};
use fovea::encoder::timm_vit::VitPool;

use crate::support::{
    assert_close, import_pack, max_abs_diff, reference_floats, reference_on, reference_path,
};

const OUTPUTS: &str = "tiny_timm_outputs.safetensors";
const TINY: &str =
    r#"{"image_size": 32, "patch_size": 8, "width": 64, "layers": 2, "heads": 4, "pool": "avg"}"#;

fn import(dir: &std::path::Path, file: &str) -> (std::path::PathBuf, String) {
    let pack = dir.join(file.replace('.', "_"));
    let output = import_pack(dir, "retfound", Some(TINY), &reference_path(file), &pack);
    assert!(
        output.status.success(),
        "{file}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (pack, String::from_utf8_lossy(&output.stdout).to_string())
}

#[test]
fn retfound_classifier_and_mae_encoder_match_timm_on_cpu_and_wgpu() {
    let dir = tempfile::tempdir().expect("tmp");
    let (classifier, _) = import(dir.path(), "tiny_retfound_classifier.pth");
    let (mae, mae_stdout) = import(dir.path(), "tiny_retfound_mae.pth");
    assert!(
        mae_stdout.contains("decoder_pred.weight") && mae_stdout.contains("mask_token"),
        "the MAE decoder is reported as dropped: {mae_stdout}"
    );
    for (device, context) in [
        (Device::flex(), "cpu"),
        (Device::wgpu(DeviceKind::DefaultDevice), "wgpu"),
    ] {
        let loaded = load_pack(&classifier, &device).expect("classifier loads");
        let Architecture::TimmVit { config } = &loaded.manifest.architecture else {
            panic!("a timm ViT pack")
        };
        assert_eq!(
            (config.pool, config.num_classes),
            (VitPool::Avg, 5),
            "read from the keys"
        );
        let PackModel::TimmVit(model) = &loaded.model else {
            panic!("a timm ViT model")
        };
        let out = model.forward(reference_on::<4>(OUTPUTS, "image", &device));
        assert_close(out.features, OUTPUTS, "classifier_features", 1e-4, context);
        assert_close(
            out.logits.expect("head"),
            OUTPUTS,
            "classifier_logits",
            1e-4,
            context,
        );
        assert_close(
            out.attention,
            OUTPUTS,
            "classifier_attention",
            1e-4,
            context,
        );

        let loaded = load_pack(&mae, &device).expect("MAE encoder loads");
        let Architecture::TimmVit { config } = &loaded.manifest.architecture else {
            panic!("a timm ViT pack")
        };
        assert_eq!((config.pool, config.num_classes), (VitPool::Token, 0));
        let PackModel::TimmVit(model) = &loaded.model else {
            panic!("a timm ViT model")
        };
        let out = model.forward(reference_on::<4>(OUTPUTS, "image", &device));
        assert!(out.logits.is_none());
        assert_close(out.features, OUTPUTS, "mae_features", 1e-4, context);
        assert_close(out.attention, OUTPUTS, "mae_attention", 1e-4, context);
    }
}

/// End to end through `fovea model embed`: a PNG through timm's eval transform (shorter side to
/// size / 0.875, centre crop, ImageNet mean/std) gives the classifier's features; this pack has
/// no text tower, which the command says.
#[test]
fn embed_command_reproduces_timm_end_to_end_and_refuses_text() {
    let dir = tempfile::tempdir().expect("tmp");
    let (classifier, _) = import(dir.path(), "tiny_retfound_classifier.pth");
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fovea"))
            .args(["model", "embed", "--json", "--device", "cpu"])
            .args(extra)
            .arg(&classifier)
            .arg(reference_path("preprocess_photo.png"))
            .output()
            .expect("run")
    };
    let output = run(&[]);
    crate::support::assert_succeeded(&output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let got = crate::support::json_floats(&json["images"][0]["embedding"]);
    // The reference has the photo's logits; the pack's head applied to our features must give them.
    let loaded = load_pack(&classifier, &Device::flex()).expect("loads");
    let PackModel::TimmVit(model) = &loaded.model else {
        panic!("a timm ViT model")
    };
    let features = Tensor::<2>::from_data(TensorData::new(got, [1, 64]), &Device::flex());
    let logits = model.head.as_ref().expect("head").forward(features);
    let (_, want) = reference_floats(OUTPUTS, "classifier_photo_logits");
    let diff = max_abs_diff(&logits.into_data().try_to_vec::<f32>().expect("f32"), &want);
    assert!(diff < 1e-4, "end-to-end logits differ from timm by {diff}");
    let text = run(&["--text", "drusen"]);
    assert_eq!(text.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&text.stderr).contains("no text tower"));
}
