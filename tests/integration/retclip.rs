//! RET-CLIP: WordPiece ids equal cn_clip's; a tiny checkpoint in RET-CLIP's training layout
//! (`state_dict`, `module.`, fp16, HF BERT keys with the pooler) imports through
//! `fovea model import --arch retclip`, and the pack reproduces the reference (cn_clip image
//! tower + transformers BERT + tripartite heads, tests/reference/retclip_reference.py): image
//! features, eye and patient mappings, text embeddings in the three spaces and both towers'
//! last attention maps, within 1e-4 on the CPU and on wgpu.

use burn::prelude::*;
use burn::tensor::TensorData;
use fovea::encoder::pack::{LoadedPack, PackModel, load_pack};
use fovea::encoder::ret_clip::{PAD_ID, Side};
use fovea::encoder::wordpiece::WordPieceTokenizer;

use crate::support::{
    assert_close, i64s, import_pack, max_abs_diff, reference_on, reference_path, reference_tensor,
};

const OUTPUTS: &str = "tiny_retclip_outputs.safetensors";
const TINY: &str = r#"{"vision": {"image_size": 32, "patch_size": 8, "width": 64, "layers": 2, "heads": 4, "embed_dim": 32},
    "text": {"vocab_size": 21128, "hidden_size": 48, "layers": 2, "heads": 4, "intermediate_size": 96, "max_position_embeddings": 64},
    "context_length": 52}"#;

#[test]
fn wordpiece_ids_equal_cn_clip_for_every_case() {
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reference_path("wordpiece_tokenizer.json")).expect("read"),
    )
    .expect("json");
    let tokenizer = WordPieceTokenizer::chinese().expect("vocabulary");
    assert_eq!(tokenizer.vocab_size(), 21_128);
    let cases = json["cases"].as_array().expect("cases");
    assert!(cases.len() >= 20);
    for case in cases {
        let text = case["text"].as_str().expect("text");
        let context = case["context_length"].as_u64().expect("context") as usize;
        let want: Vec<u32> = case["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .map(|v| v.as_u64().expect("id") as u32)
            .collect();
        assert_eq!(
            tokenizer.tokenize(text, context),
            want,
            "{text:?} at context {context}"
        );
    }
}

fn import(dir: &std::path::Path) -> std::path::PathBuf {
    let pack = dir.join("retclip");
    let output = import_pack(
        dir,
        "retclip",
        Some(TINY),
        &reference_path("tiny_retclip.pt"),
        &pack,
    );
    crate::support::assert_succeeded(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("bert.pooler.dense.weight"), "{stdout}");
    pack
}

fn check_on(loaded: &LoadedPack, device: &Device, context: &str) {
    let PackModel::RetClip(model) = &loaded.model else {
        panic!("a RET-CLIP pack")
    };
    let image = reference_on::<4>(OUTPUTS, "image", device);
    let (features, vision_maps) = model.visual.forward_with_attention(image);
    assert_close(features.clone(), OUTPUTS, "image_features", 1e-4, context);
    assert_close(vision_maps, OUTPUTS, "vision_attention", 1e-4, context);
    let first = features.clone().narrow(0, 0, 1);
    let second = features.narrow(0, 1, 1);
    assert_close(
        model.heads.eye(first.clone(), Side::Left),
        OUTPUTS,
        "left_eye",
        1e-4,
        context,
    );
    assert_close(
        model.heads.eye(second.clone(), Side::Right),
        OUTPUTS,
        "right_eye",
        1e-4,
        context,
    );
    assert_close(
        model.heads.patient(first, second),
        OUTPUTS,
        "patient",
        1e-4,
        context,
    );

    let (shape, raw) = reference_tensor(OUTPUTS, "ids");
    let ids = Tensor::<2, Int>::from_data(TensorData::new(i64s(&raw), shape), device);
    let text = model.encode_text(ids.clone());
    assert_close(text.patient, OUTPUTS, "text_patient", 1e-4, context);
    assert_close(text.left, OUTPUTS, "text_left", 1e-4, context);
    assert_close(text.right, OUTPUTS, "text_right", 1e-4, context);
    let (_, text_maps) = model.bert.forward(ids, PAD_ID);
    assert_close(text_maps, OUTPUTS, "text_attention", 1e-4, context);
}

#[test]
fn imported_retclip_matches_the_reference_on_cpu_and_wgpu() {
    let dir = tempfile::tempdir().expect("tmp");
    let pack = import(dir.path());
    for (device, context) in [
        (Device::flex(), "cpu"),
        (Device::wgpu(DeviceKind::DefaultDevice), "wgpu"),
    ] {
        let loaded = load_pack(&pack, &device).expect("pack loads");
        check_on(&loaded, &device, context);
    }
    let loaded = load_pack(&pack, &Device::flex()).expect("pack loads");
    let m = &loaded.manifest;
    assert_eq!(m.provenance.state_dict_key.as_deref(), Some("state_dict"));
    let (_, raw) = reference_tensor(OUTPUTS, "logit_scales");
    let want = crate::support::f32s(&raw);
    let got: Vec<f32> = ["logit_scale", "logit_scale_left", "logit_scale_right"]
        .iter()
        .map(|k| m.logit_scales[*k])
        .collect();
    assert!(max_abs_diff(&got, &want) < 1e-6, "{got:?} vs {want:?}");
    // The tokenizer gives the reference's ids for the reference's texts.
    let tokenizer = WordPieceTokenizer::chinese().expect("vocabulary");
    let (_, raw) = reference_tensor(OUTPUTS, "ids");
    let ids = i64s(&raw);
    let first: Vec<i64> = tokenizer
        .tokenize("双眼糖尿病视网膜病变", 52)
        .into_iter()
        .map(i64::from)
        .collect();
    assert_eq!(first, ids[..52].to_vec());
}

/// `fovea model embed` on a RET-CLIP pack: a PNG squash-resized as RET-CLIP does gives the
/// reference's features; a text gives all three spaces.
#[test]
fn embed_command_reproduces_retclip_end_to_end() {
    let dir = tempfile::tempdir().expect("tmp");
    let pack = import(dir.path());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fovea"))
        .args([
            "model",
            "embed",
            "--json",
            "--device",
            "cpu",
            "--text",
            "双眼糖尿病视网膜病变",
        ])
        .arg(&pack)
        .arg(reference_path("preprocess_photo.png"))
        .output()
        .expect("run");
    crate::support::assert_succeeded(&output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let floats = crate::support::json_floats;
    let (_, want) = crate::support::reference_floats(OUTPUTS, "photo_features");
    let diff = max_abs_diff(&floats(&json["images"][0]["embedding"]), &want);
    assert!(diff < 1e-4, "end-to-end image features differ by {diff}");
    let (_, patient) = crate::support::reference_floats(OUTPUTS, "text_patient");
    let (_, left) = crate::support::reference_floats(OUTPUTS, "text_left");
    let text = &json["texts"][0];
    assert!(max_abs_diff(&floats(&text["embedding"]), &patient[..32]) < 1e-4);
    assert!(max_abs_diff(&floats(&text["embedding_left_eye"]), &left[..32]) < 1e-4);
}
