//! Model packs through the `fovea` binary: import a checkpoint in EyeCLIP's layout, check it,
//! load it with the reference's outputs, and refuse a damaged one.

use std::path::Path;
use std::process::Command;

use burn::prelude::*;
use fovea::encoder::pack::{PackError, load_pack};

use crate::support::{f32s, max_abs_diff, reference_tensor};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reference");

fn fovea() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fovea"))
}

/// Imports tests/data/reference/tiny_eyeclip.pt into `out` with the tiny tower sizes.
fn import(dir: &Path, out: &Path) -> std::process::Output {
    let config = dir.join("tiny.json");
    std::fs::write(
        &config,
        r#"{"vision": {"image_size": 32, "patch_size": 8, "width": 64, "layers": 2, "heads": 4, "embed_dim": 32},
            "text": {"context_length": 77, "vocab_size": 512, "width": 48, "layers": 2, "heads": 4, "embed_dim": 32}}"#,
    )
    .expect("config");
    fovea()
        .args([
            "model",
            "import",
            "--arch",
            "eyeclip",
            "--name",
            "tiny EyeCLIP (test)",
            "--arch-config",
        ])
        .arg(&config)
        .arg(format!("{DIR}/tiny_eyeclip.pt"))
        .arg(out)
        .output()
        .expect("run")
}

#[test]
fn import_then_info_then_embeddings_equal_the_reference() {
    let dir = tempfile::tempdir().expect("tmp");
    let pack = dir.path().join("pack");
    let output = import(dir.path(), &pack);
    crate::support::assert_succeeded(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains("dropped training-only keys"));
    assert!(
        !dir.path().join("pack.importing").exists(),
        "staging folder removed"
    );
    let info = fovea()
        .args(["model", "info"])
        .arg(&pack)
        .output()
        .expect("run");
    crate::support::assert_succeeded(&info);
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        text.contains("tiny EyeCLIP (test)") && text.contains("checksum OK"),
        "{text}"
    );

    let device = Device::flex();
    let loaded = load_pack(&pack, &device).expect("pack loads");
    assert_eq!(
        loaded.manifest.provenance.state_dict_key.as_deref(),
        Some("model_state_dict")
    );
    assert_eq!(
        loaded.manifest.preprocessing.size(),
        32,
        "preprocessing follows the model's input size"
    );
    let logit_scale =
        f32s(&reference_tensor("tiny_eyeclip_outputs.safetensors", "logit_scale").1)[0];
    assert_eq!(
        loaded.manifest.logit_scales.get("logit_scale").copied(),
        Some(logit_scale),
        "logit_scale carried from the fp16 checkpoint"
    );
    let floats = |name: &str| {
        let (shape, raw) = reference_tensor("tiny_eyeclip_outputs.safetensors", name);
        (shape, f32s(&raw))
    };
    let (shape, image) = floats("image");
    let got = loaded
        .model
        .encode_image(Tensor::<4>::from_data(
            TensorData::new(image, shape),
            &device,
        ))
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32");
    let want = floats("image_embedding").1;
    let diff = max_abs_diff(&got, &want);
    assert!(
        diff < 1e-4,
        "image embedding from the pack differs from open_clip by {diff}"
    );
}

#[test]
fn a_damaged_pack_is_refused_by_checksum_and_info_says_why() {
    let dir = tempfile::tempdir().expect("tmp");
    let pack = dir.path().join("pack");
    assert!(import(dir.path(), &pack).status.success());
    let weights = pack.join("weights.safetensors");
    let mut bytes = std::fs::read(&weights).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&weights, bytes).expect("write");
    let error = load_pack(&pack, &Device::flex()).err().expect("refused");
    assert!(matches!(error, PackError::Checksum { .. }), "{error}");
    let info = fovea()
        .args(["model", "info"])
        .arg(&pack)
        .output()
        .expect("run");
    assert_eq!(info.status.code(), Some(1));
    let message = String::from_utf8_lossy(&info.stderr);
    assert!(
        message.contains("checksum mismatch") && message.contains("weights.safetensors"),
        "{message}"
    );
}

/// Loading remembers a good checksum, so the next load does not hash 100s of MB again — but
/// a pack changed after that (same size, its old modification time put back) is hashed again
/// and refused.
#[test]
fn a_pack_changed_after_a_good_load_is_still_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let pack = dir.path().join("pack");
    assert!(import(dir.path(), &pack).status.success());
    load_pack(&pack, &Device::flex()).expect("an intact pack loads");
    let weights = pack.join("weights.safetensors");
    let manifest = fovea::encoder::pack::read_manifest(&pack).expect("manifest");
    assert!(
        fovea::encoder::verified::is_verified(&weights, &manifest.weights.sha256),
        "the good verdict is remembered"
    );
    load_pack(&pack, &Device::flex()).expect("and loads again");
    let modified = std::fs::metadata(&weights)
        .and_then(|m| m.modified())
        .expect("mtime");
    let mut bytes = std::fs::read(&weights).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&weights, bytes).expect("write");
    std::fs::File::options()
        .write(true)
        .open(&weights)
        .and_then(|f| f.set_modified(modified))
        .expect("old mtime back");
    let error = load_pack(&pack, &Device::flex()).err().expect("refused");
    assert!(matches!(error, PackError::Checksum { .. }), "{error}");
}

#[test]
fn import_refuses_an_existing_pack_folder_and_a_wrong_architecture() {
    let dir = tempfile::tempdir().expect("tmp");
    let pack = dir.path().join("pack");
    assert!(import(dir.path(), &pack).status.success());
    let again = import(dir.path(), &pack);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    // The real ViT-B/32 sizes do not fit the tiny checkpoint: refused, naming the mismatch.
    let wrong = fovea()
        .args(["model", "import", "--arch", "eyeclip"])
        .arg(format!("{DIR}/tiny_eyeclip.pt"))
        .arg(dir.path().join("other"))
        .output()
        .expect("run");
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("do not match"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    assert!(!dir.path().join("other").exists(), "nothing half-written");
}

/// `fovea model embed` reads a real PNG, preprocesses it as the pack says and gives open_clip's
/// end-to-end embedding, on the CPU and on wgpu; text with this tiny vocabulary is refused.
#[test]
fn embed_command_reproduces_open_clip_end_to_end_on_cpu_and_gpu() {
    let dir = tempfile::tempdir().expect("tmp");
    let pack = dir.path().join("pack");
    assert!(import(dir.path(), &pack).status.success());
    let want = f32s(&reference_tensor("tiny_eyeclip_outputs.safetensors", "photo_embedding").1);
    for device in ["cpu", "gpu"] {
        let output = fovea()
            .args(["model", "embed", "--json", "--device", device])
            .arg(&pack)
            .arg(format!("{DIR}/preprocess_photo.png"))
            .output()
            .expect("run");
        assert!(
            output.status.success(),
            "{device}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        assert_eq!(json["device"], if device == "cpu" { "cpu" } else { "wgpu" });
        assert_eq!(json["pack"]["name"], "tiny EyeCLIP (test)");
        let got = crate::support::json_floats(&json["images"][0]["embedding"]);
        let diff = max_abs_diff(&got, &want);
        assert!(
            diff < 1e-4,
            "{device}: end-to-end embedding differs from open_clip by {diff}"
        );
    }
    let text = fovea()
        .args(["model", "embed", "--device", "cpu", "--text", "drusen"])
        .arg(&pack)
        .output()
        .expect("run");
    assert_eq!(text.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&text.stderr).contains("cannot embed text"));
}

/// The seeded test pack (the viewer's pictures are drawn with it) is the same bytes every time.
#[test]
fn the_seeded_test_pack_is_the_same_bytes_every_time() {
    let dir = tempfile::tempdir().expect("tmp");
    let first = fovea::demo::seeded::write_seeded_pack(&dir.path().join("a"), 7).expect("a");
    let second = fovea::demo::seeded::write_seeded_pack(&dir.path().join("b"), 7).expect("b");
    assert_eq!(first.weights.sha256, second.weights.sha256);
    let other = fovea::demo::seeded::write_seeded_pack(&dir.path().join("c"), 8).expect("c");
    assert_ne!(
        first.weights.sha256, other.weights.sha256,
        "the seed decides"
    );
}
