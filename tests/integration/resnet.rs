//! torchvision ResNet (Image+Fundus): tiny checkpoints in every layout the authors' code and
//! its users write — the whole DataParallel model object (`torch.save(model)`), a DataParallel
//! state dict (`module.` keys), a plain fp16 state dict, safetensors — plus a basic-block
//! ResNet-18 with torchvision's Linear `fc`, import through `fovea model import` and reproduce
//! torchvision's pooled features, logits and layer4 activation within 1e-4 on the CPU and on
//! wgpu, and the plain-torch Grad-CAM map with correlation ≥ 0.99
//! (tests/reference/resnet_reference.py). Bad checkpoints are refused by name.

use burn::prelude::*;
use fovea::encoder::device::DeviceChoice;
use fovea::encoder::pack::{Architecture, PackModel, load_pack};
use fovea::encoder::resnet::{ResNet, ResNetHead};
use fovea::encoder::session::EncoderSession;

use crate::support::{
    assert_close, assert_succeeded, import_pack, json_floats, max_abs_diff, reference_floats,
    reference_on, reference_path,
};

const OUTPUTS: &str = "tiny_resnet_outputs.safetensors";
const AT_256: &str = r#"{"image_size": 256}"#;

fn import(dir: &std::path::Path, arch: &str, file: &str) -> (std::path::PathBuf, String) {
    let pack = dir.join(file.replace('.', "_"));
    let output = import_pack(dir, arch, Some(AT_256), &reference_path(file), &pack);
    assert!(
        output.status.success(),
        "{file}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (pack, String::from_utf8_lossy(&output.stdout).to_string())
}

fn resnet(pack: &fovea::encoder::pack::LoadedPack) -> &ResNet {
    match &pack.model {
        PackModel::Resnet(m) => m,
        _ => panic!("a ResNet pack"),
    }
}

/// Pearson correlation.
fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let mean = |v: &[f32]| v.iter().map(|x| f64::from(*x)).sum::<f64>() / n;
    let (ma, mb) = (mean(a), mean(b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (f64::from(*x) - ma, f64::from(*y) - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    sab / (saa * sbb).sqrt()
}

#[test]
fn image_fundus_checkpoints_in_every_layout_match_torchvision_on_cpu_and_wgpu() {
    let dir = tempfile::tempdir().expect("tmp");
    let (whole, whole_stdout) = import(
        dir.path(),
        "image-fundus",
        "tiny_image_fundus_dataparallel.pth",
    );
    assert!(
        whole_stdout.contains("num_batches_tracked"),
        "BatchNorm counters are reported as dropped: {whole_stdout}"
    );
    let (state_dict, _) = import(
        dir.path(),
        "image-fundus",
        "tiny_image_fundus_state_dict.pth",
    );
    let (safetensors, _) = import(dir.path(), "image-fundus", "tiny_image_fundus.safetensors");
    let (fp16, _) = import(dir.path(), "image-fundus", "tiny_image_fundus_fp16.pth");
    let (resnet18, _) = import(dir.path(), "resnet18", "tiny_resnet18.pth");
    for (device, context) in [
        (Device::flex(), "cpu"),
        (Device::wgpu(DeviceKind::DefaultDevice), "wgpu"),
    ] {
        for pack in [&whole, &state_dict, &safetensors] {
            let loaded = load_pack(pack, &device).expect("loads");
            let Architecture::Resnet { config } = &loaded.manifest.architecture else {
                panic!("a ResNet pack")
            };
            assert_eq!(
                (config.base_width, config.head, config.num_classes),
                (8, ResNetHead::Mlp { hidden: 32 }, 2),
                "read from the keys"
            );
            let model = resnet(&loaded);
            let map = model.feature_map(reference_on::<4>(OUTPUTS, "image", &device));
            let features = ResNet::pool(map.clone());
            let context = format!("{context} {}", pack.display());
            assert_close(map, OUTPUTS, "layer4", 1e-4, &context);
            assert_close(features.clone(), OUTPUTS, "features", 1e-4, &context);
            let logits = model.head(features).expect("head");
            assert_close(logits, OUTPUTS, "logits", 1e-4, &context);
        }
        let loaded = load_pack(&fp16, &device).expect("fp16 loads");
        let model = resnet(&loaded);
        let features = model.encode_image(reference_on::<4>(OUTPUTS, "image", &device));
        assert_close(features.clone(), OUTPUTS, "fp16_features", 1e-4, context);
        let logits = model.head(features).expect("head");
        assert_close(logits, OUTPUTS, "fp16_logits", 1e-4, context);

        let loaded = load_pack(&resnet18, &device).expect("ResNet-18 loads");
        let Architecture::Resnet { config } = &loaded.manifest.architecture else {
            panic!("a ResNet pack")
        };
        assert_eq!((config.head, config.num_classes), (ResNetHead::Linear, 3));
        let model = resnet(&loaded);
        let features = model.encode_image(reference_on::<4>(OUTPUTS, "image", &device));
        assert_close(
            features.clone(),
            OUTPUTS,
            "resnet18_features",
            1e-4,
            context,
        );
        let logits = model.head(features).expect("head");
        assert_close(logits, OUTPUTS, "resnet18_logits", 1e-4, context);
    }
}

/// Grad-CAM through the session (the photo through Fovea's Image+Fundus preprocessing, then
/// burn's autodiff) against torch's hooks on layer4, on the CPU and on wgpu; the ViT-only maps
/// say why they are not available.
#[test]
fn classic_grad_cam_matches_torch_hooks_and_vit_maps_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let (pack, _) = import(
        dir.path(),
        "image-fundus",
        "tiny_image_fundus_dataparallel.pth",
    );
    let photo = image::open(reference_path("preprocess_photo.png"))
        .expect("photo")
        .to_rgb8();
    let (_, want) = reference_floats(OUTPUTS, "photo_grad_cam");
    for choice in [DeviceChoice::Cpu, DeviceChoice::Gpu] {
        let session = EncoderSession::open(&pack, choice).expect("session");
        assert!(session.is_convolutional() && !session.has_text());
        let map = session.head_grad_cam(&photo, &[1]).expect("grad-cam");
        assert_eq!((map.width, map.height), (8, 8), "layer4's grid at 256 px");
        let r = correlation(&map.values, &want);
        assert!(
            r >= 0.99,
            "{choice:?}: Grad-CAM correlation with torch {r:.4}"
        );
        let rollout = session
            .attention_rollout(&photo)
            .expect_err("no attention in a CNN");
        assert!(rollout.to_string().contains("CNN"), "{rollout}");
        let features = session.image_features(&[&photo]).expect("features");
        let logits = session
            .head_logits(&features[0])
            .expect("head")
            .expect("a head");
        let (_, want_logits) = reference_floats(OUTPUTS, "photo_logits");
        let diff = max_abs_diff(&logits, &want_logits);
        assert!(
            diff < 1e-4,
            "{choice:?}: photo logits differ from torch by {diff}"
        );
    }
}

/// End to end: `fovea model embed` gives the pooled feature (the head applied to it gives
/// torch's logits), text is refused with "no text encoder", and `fovea analyze` shows the
/// bundled head finding, uncalibrated.
#[test]
fn embed_and_analyze_an_image_fundus_pack_without_text() {
    let dir = tempfile::tempdir().expect("tmp");
    let (pack, stdout) = import(
        dir.path(),
        "image-fundus",
        "tiny_image_fundus_dataparallel.pth",
    );
    assert!(stdout.contains("normal vs abnormal"), "{stdout}");
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fovea"))
            .args(["model", "embed", "--json", "--device", "cpu"])
            .args(extra)
            .arg(&pack)
            .arg(reference_path("preprocess_photo.png"))
            .output()
            .expect("run")
    };
    let output = run(&[]);
    assert_succeeded(&output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let got = json_floats(&json["images"][0]["embedding"]);
    assert_eq!(got.len(), 256, "the pooled feature (8 × 8 × 4 channels)");
    let loaded = load_pack(&pack, &Device::flex()).expect("loads");
    let features = Tensor::<2>::from_data(TensorData::new(got, [1, 256]), &Device::flex());
    let logits = resnet(&loaded).head(features).expect("head");
    let (_, want) = reference_floats(OUTPUTS, "photo_logits");
    let diff = max_abs_diff(&logits.into_data().try_to_vec::<f32>().expect("f32"), &want);
    assert!(diff < 1e-4, "end-to-end logits differ from torch by {diff}");
    let text = run(&["--text", "drusen"]);
    assert_eq!(text.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&text.stderr).contains("no text encoder"),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );

    let json = crate::support::analyze_json(&pack, &[&crate::support::demo_set().root]);
    let patients = json["patients"].as_array().expect("patients");
    assert_eq!(patients.len(), 4);
    for eye in patients
        .iter()
        .flat_map(|p| p["eyes"].as_array().expect("eyes"))
    {
        let findings = eye["findings"].as_array().expect("findings");
        let abnormal = findings
            .iter()
            .find(|f| f["id"] == "abnormal")
            .unwrap_or_else(|| panic!("the head's finding is scored per eye: {eye}"));
        assert_eq!(
            abnormal["calibrated"], false,
            "uncalibrated until validated"
        );
        assert_eq!(
            abnormal["refer"], false,
            "an unvalidated pack flags nothing"
        );
        let p = abnormal["probability"].as_f64().expect("p");
        assert!((0.0..=1.0).contains(&p));
    }
}

#[test]
fn bad_checkpoints_are_refused_naming_the_problem() {
    let dir = tempfile::tempdir().expect("tmp");
    let refuse = |file: &std::path::Path, arch: &str| {
        let out = dir.path().join(format!(
            "pack-{}",
            file.file_name().expect("name").to_string_lossy()
        ));
        let output = import_pack(dir.path(), arch, Some(AT_256), file, &out);
        assert!(!output.status.success(), "{} was accepted", file.display());
        assert!(!out.exists(), "nothing written for {}", file.display());
        String::from_utf8_lossy(&output.stderr).to_string()
    };
    let malicious = refuse(&reference_path("tiny_malicious.pth"), "image-fundus");
    assert!(
        malicious.contains("posix.system") && malicious.contains("refused"),
        "{malicious}"
    );
    let whole = std::fs::read(reference_path("tiny_image_fundus_dataparallel.pth")).expect("read");
    let truncated = dir.path().join("truncated.pth");
    std::fs::write(&truncated, &whole[..whole.len() / 2]).expect("write");
    let message = refuse(&truncated, "image-fundus");
    assert!(message.contains("truncated.pth"), "{message}");
    let vit = refuse(
        &reference_path("tiny_retfound_classifier.pth"),
        "image-fundus",
    );
    assert!(
        vit.contains("conv1.weight") && vit.contains("missing"),
        "a ViT is not a ResNet: {vit}"
    );
    let deeper = refuse(
        &reference_path("tiny_image_fundus_dataparallel.pth"),
        "resnet18",
    );
    assert!(
        deeper.contains("layer1.0.conv1.weight (model [8, 8, 3, 3], file [8, 8, 1, 1])")
            && deeper.contains("more;"),
        "a ResNet-50 is not a ResNet-18, said briefly: {deeper}"
    );
}

/// Retrieval with a CNN pack: a library built on the demo patients with the Image+Fundus
/// pack (its pooled feature as the embedding) finds the query image itself (similarity 1) at
/// image and eye level; a text query says the model has no text encoder. (The tiny random
/// network embeds all fundus photographs nearly alike, so ranks below the first mean nothing.)
#[test]
fn a_case_library_built_with_an_image_fundus_pack_finds_similar_cases() {
    let dir = tempfile::tempdir().expect("tmp");
    let (pack, _) = import(
        dir.path(),
        "image-fundus",
        "tiny_image_fundus_dataparallel.pth",
    );
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let fovea = env!("CARGO_BIN_EXE_fovea");
    let library = dir.path().join("library");
    let built = std::process::Command::new(fovea)
        .args(["library", "build"])
        .arg(root.join("assets/demo/dicom"))
        .arg("--labels")
        .arg(root.join("assets/demo/ground_truth.json"))
        .arg("--out")
        .arg(&library)
        .arg("--pack")
        .arg(&pack)
        .args(["--device", "cpu"])
        .output()
        .expect("build runs");
    assert_succeeded(&built);
    let search = |args: &[&str]| {
        std::process::Command::new(fovea)
            .args(["library", "search"])
            .arg(&library)
            .args(args)
            .arg("--pack")
            .arg(&pack)
            .args(["--device", "cpu", "--json"])
            .output()
            .expect("search runs")
    };
    let fundus = root.join("assets/demo/dicom/SYN010001/SYN010001_OD_fundus.dcm");
    let fundus = fundus.to_string_lossy();
    for (args, level) in [
        (vec!["--image", &*fundus, "--k", "3"], "image"),
        (vec!["--image", &*fundus, "--eye-level", "--k", "3"], "eye"),
    ] {
        let output = search(&args);
        assert_succeeded(&output);
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        assert_eq!(json["level"], level, "{json}");
        let hits = json["hits"].as_array().expect("hits");
        assert_eq!(hits.len(), 3, "{json}");
        let top = hits[0]["similarity"].as_f64().expect("similarity");
        assert!(
            top > 0.9999,
            "{level}: the query's own image or eye is found: {json}"
        );
        assert_eq!(hits[0]["eye"], "OD", "{json}");
    }
    let text = search(&["--text", "drusen"]);
    assert!(!text.status.success());
    let stderr = String::from_utf8_lossy(&text.stderr);
    assert!(stderr.contains("no text encoder"), "{stderr}");
}

/// The audit reads PyTorch's legacy (non-zip) format too: its five pickles in a row.
#[test]
fn the_pickle_audit_reads_the_legacy_format() {
    use fovea::encoder::pickle_audit::{AuditError, audit_file};
    audit_file(&reference_path("tiny_legacy.pth")).expect("a plain state dict passes");
    assert_eq!(
        audit_file(&reference_path("tiny_legacy_malicious.pth")),
        Err(AuditError::Forbidden("posix.system".to_string()))
    );
    audit_file(&reference_path("tiny_image_fundus_dataparallel.pth"))
        .expect("a whole DataParallel ResNet passes");
    audit_file(&reference_path("tiny_retfound_classifier.pth"))
        .expect("RETFound's argparse args beside the weights pass");
}
