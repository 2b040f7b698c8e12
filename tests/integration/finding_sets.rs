//! Finding sets end to end: `model import` attaches the architecture's bundled set,
//! `analyze` scores it (class groups with their grade distribution, scoped to modalities,
//! uncalibrated and never flagged), `model findings` swaps a set with the weights unchanged,
//! and sets that are malformed or do not fit are refused with the reason.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{analyze_json, assert_succeeded, demo_set, import_pack, reference_path};

const TINY_CLIP: &str = r#"{"vision": {"image_size": 32, "patch_size": 8, "width": 64, "layers": 2, "heads": 4, "embed_dim": 32},
    "text": {"context_length": 77, "vocab_size": 512, "width": 48, "layers": 2, "heads": 4, "embed_dim": 32}}"#;
const TINY_VIT: &str =
    r#"{"image_size": 32, "patch_size": 8, "width": 64, "layers": 2, "heads": 4, "pool": "avg"}"#;

fn fovea() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fovea"))
}

fn sets_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/finding-sets")
}

fn tiny_eyeclip(dir: &Path) -> PathBuf {
    let pack = dir.join("eyeclip");
    let output = import_pack(
        dir,
        "eyeclip",
        Some(TINY_CLIP),
        &reference_path("tiny_eyeclip.pt"),
        &pack,
    );
    assert_succeeded(&output);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("EyeCLIP zero-shot classes"),
        "import says which set it attached"
    );
    pack
}

/// A seeded pack in EyeCLIP's layout whose text tower has CLIP's vocabulary (the tiny
/// imported one's 512 tokens cannot embed prompts), with the bundled EyeCLIP set.
fn seeded_eyeclip(dir: &Path) -> PathBuf {
    let pack = dir.join("seeded-eyeclip");
    fovea::demo::seeded::write_seeded_eyeclip_pack(&pack, 5).expect("seeded pack");
    pack
}

#[test]
fn an_imported_pack_whose_text_cannot_embed_says_so_per_eye() {
    let dir = tempfile::tempdir().expect("tmp");
    let pack = tiny_eyeclip(dir.path());
    let manifest = fovea::encoder::pack::read_manifest(&pack).expect("manifest");
    assert_eq!(
        manifest.class_groups[0].id, "dr_grade",
        "import attached the set"
    );
    let json = analyze_json(&pack, &[&demo_set().root]);
    let eye = &json["patients"][0]["eyes"][0];
    let note = eye["note"].as_str().expect("a note, not silence");
    assert!(note.contains("vocabulary"), "{note}");
}

#[test]
fn an_eyeclip_layout_pack_scores_its_sets_class_groups_uncalibrated() {
    let dir = tempfile::tempdir().expect("tmp");
    let pack = seeded_eyeclip(dir.path());
    let json = analyze_json(&pack, &[&demo_set().root]);
    let patients = json["patients"].as_array().expect("patients");
    assert_eq!(patients.len(), 4);
    for patient in patients {
        let eyes = patient["eyes"].as_array().expect("eyes");
        assert!(!eyes.is_empty());
        for eye in eyes {
            let ids: Vec<&str> = eye["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .filter_map(|f| f["id"].as_str())
                .collect();
            // The demo patients have colour fundus photographs and OCT volumes: both the
            // fundus groups and the OCT group apply at eye level.
            for want in ["referable_dr", "any_dr", "glaucoma", "oct_macular_hole"] {
                assert!(ids.contains(&want), "{want} missing from {ids:?}");
            }
            for f in eye["findings"].as_array().expect("findings") {
                assert_eq!(f["calibrated"], false, "zero-shot is uncalibrated");
                assert_eq!(f["refer"], false, "an unvalidated pack flags nothing");
                let p = f["probability"].as_f64().expect("p");
                assert!((0.0..=1.0).contains(&p));
            }
            let grade = eye["distributions"]
                .as_array()
                .expect("distributions")
                .iter()
                .find(|d| d["id"] == "dr_grade")
                .expect("the DR grade distribution is kept");
            let shares: Vec<f64> = grade["classes"]
                .as_array()
                .expect("classes")
                .iter()
                .map(|c| c["probability"].as_f64().expect("p"))
                .collect();
            assert_eq!(shares.len(), 5);
            assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-6);
            let referable = eye["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .find(|f| f["id"] == "referable_dr")
                .and_then(|f| f["probability"].as_f64())
                .expect("referable");
            assert!(
                (referable - shares[2..].iter().sum::<f64>()).abs() < 1e-6,
                "referable = moderate + severe + proliferative"
            );
        }
        // Per image, the OCT classes are scored on B-scans only, the fundus ones on photographs.
        for image in patient["images"].as_array().expect("images") {
            let ids: Vec<&str> = image["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .filter_map(|f| f["id"].as_str())
                .collect();
            match image["modality"].as_str() {
                Some("oct") => {
                    assert!(
                        ids.contains(&"oct_amd") && !ids.contains(&"glaucoma"),
                        "{ids:?}"
                    )
                }
                Some("colour_fundus") => {
                    assert!(
                        !ids.contains(&"oct_amd") && ids.contains(&"glaucoma"),
                        "{ids:?}"
                    )
                }
                _ => {}
            }
        }
    }
}

#[test]
fn model_findings_swaps_the_set_and_keeps_the_weights() {
    let dir = tempfile::tempdir().expect("tmp");
    let pack = seeded_eyeclip(dir.path());
    let set = dir.path().join("macular-hole.json");
    std::fs::write(
        &set,
        r#"{"format_version": 1, "name": "one pair", "source": "a test",
            "findings": [{"id": "macular_hole", "name": "Macular hole", "prompt": "macular hole",
                          "negative_prompt": "normal macula", "modalities": ["oct"]}]}"#,
    )
    .expect("write");
    let out = dir.path().join("swapped");
    let output = fovea()
        .args(["model", "findings"])
        .arg(&pack)
        .arg("--set")
        .arg(&set)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run");
    assert_succeeded(&output);
    let before = std::fs::read(pack.join("weights.safetensors")).expect("weights");
    let after = std::fs::read(out.join("weights.safetensors")).expect("weights");
    assert!(before == after, "weights copied byte for byte");
    let json = analyze_json(&out, &[&demo_set().root]);
    let eye = &json["patients"][0]["eyes"][0];
    let ids: Vec<&str> = eye["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(ids, ["macular_hole"]);
}

#[test]
fn malformed_and_unfitting_sets_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let pack = tiny_eyeclip(dir.path());
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"format_version": 1, "name": "x", "source": "y", "findngs": []}"#,
    )
    .expect("write");
    let run = |set: &Path| {
        fovea()
            .args(["model", "findings"])
            .arg(&pack)
            .arg("--set")
            .arg(set)
            .arg("--out")
            .arg(dir.path().join("never"))
            .output()
            .expect("run")
    };
    let output = run(&bad);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("findngs") && stderr.contains("bad.json"),
        "{stderr}"
    );
    let output = run(&sets_dir().join("retfound-dr5.json"));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("timm_vit"), "{stderr}");
    assert!(!dir.path().join("never").exists(), "nothing written");
}

#[test]
fn a_retfound_head_is_named_by_its_set_and_a_wrong_one_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let checkpoint = reference_path("tiny_retfound_classifier.pth");
    let mut command = fovea();
    std::fs::write(dir.path().join("vit.json"), TINY_VIT).expect("config");
    let wrong = command
        .args(["model", "import", "--arch", "retfound", "--arch-config"])
        .arg(dir.path().join("vit.json"))
        .arg("--findings")
        .arg(sets_dir().join("retfound-glaucoma3.json"))
        .arg(&checkpoint)
        .arg(dir.path().join("wrong"))
        .output()
        .expect("run");
    assert!(!wrong.status.success(), "a 3-class set on a 5-output head");
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(stderr.contains("head has 5"), "{stderr}");
    let pack = dir.path().join("dr5");
    let mut command = fovea();
    let output = command
        .args(["model", "import", "--arch", "retfound", "--arch-config"])
        .arg(dir.path().join("vit.json"))
        .arg("--findings")
        .arg(sets_dir().join("retfound-dr5.json"))
        .arg(&checkpoint)
        .arg(&pack)
        .output()
        .expect("run");
    assert_succeeded(&output);
    let json = analyze_json(&pack, &[&demo_set().root]);
    let eye = &json["patients"][0]["eyes"][0];
    let grade = &eye["distributions"][0];
    assert_eq!(grade["id"], "dr_grade");
    assert_eq!(grade["classes"].as_array().map(Vec::len), Some(5));
    let ids: Vec<&str> = eye["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(ids, ["referable_dr", "any_dr"]);
    // OCT images are outside the head's scope (colour fundus only).
    for image in json["patients"][0]["images"].as_array().expect("images") {
        if image["modality"] == "oct" {
            assert!(image["findings"].as_array().is_some_and(Vec::is_empty));
        }
    }
}

#[test]
fn the_schema_names_every_key_the_format_has() {
    let schema: serde_json::Value = serde_json::from_slice(
        &std::fs::read(sets_dir().join("finding-set.schema.json")).expect("schema"),
    )
    .expect("json");
    let top: Vec<&str> = schema["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(String::as_str)
        .collect();
    for (file, _) in fovea::encoder::bundled_sets::BUNDLED {
        let set: serde_json::Value =
            serde_json::from_slice(&std::fs::read(sets_dir().join(file)).expect("set"))
                .expect("json");
        for key in set.as_object().expect("object").keys() {
            assert!(
                top.contains(&key.as_str()),
                "{file}: {key} not in the schema"
            );
        }
    }
    for key in [
        "format_version",
        "name",
        "source",
        "note",
        "architectures",
        "findings",
        "class_groups",
        "classifier",
    ] {
        assert!(top.contains(&key), "schema lacks {key}");
    }
}
