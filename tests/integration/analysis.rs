//! The findings engine and `fovea analyze` on the bundled demo patients with the bundled demo
//! model: gradeability rules on real renders and degraded copies, results per image, eye and
//! patient carrying the model's stamp, the demo patients' diagnoses found, JSON and CSV output,
//! ungradable images and one-eyed patients handled honestly.

use std::path::{Path, PathBuf};
use std::process::Command;

use fovea::analysis::quality::assess;
use fovea::study::Modality;
use fovea::study::pixels::decode_dicom_file;

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo")
}

fn demo_image(patient: &str, eye: &str, kind: &str) -> image::RgbImage {
    let path = demo().join(format!("dicom/{patient}/{patient}_{eye}_{kind}.dcm"));
    let decoded = decode_dicom_file(&path).expect("demo file decodes");
    let frame = if kind == "oct" { decoded.frames / 2 } else { 0 };
    decoded.frame_to_rgb8(frame).expect("frame")
}

#[test]
fn demo_images_are_gradable_and_degraded_copies_are_not_with_the_reason() {
    for patient in ["SYN010001", "SYN010002", "SYN010003", "SYN010004"] {
        for eye in ["OD", "OS"] {
            for (kind, modality) in [
                ("fundus", Modality::ColourFundus),
                ("slo", Modality::SloIr),
                ("oct", Modality::Oct),
            ] {
                let verdict = assess(&demo_image(patient, eye, kind), modality);
                assert!(verdict.gradable, "{patient} {eye} {kind}: {verdict:?}");
            }
        }
    }
    let fundus = demo_image("SYN010001", "OD", "fundus");
    assert!(assess(&image::imageops::blur(&fundus, 1.0), Modality::ColourFundus).gradable);
    let blurred = image::imageops::blur(&fundus, 4.0);
    let verdict = assess(&blurred, Modality::ColourFundus);
    assert!(
        !verdict.gradable && verdict.reasons[0].starts_with("blurred"),
        "{verdict:?}"
    );
    let mut dark = fundus.clone();
    for p in dark.pixels_mut() {
        for c in p.0.iter_mut() {
            *c = (f32::from(*c) * 0.2) as u8;
        }
    }
    let verdict = assess(&dark, Modality::ColourFundus);
    assert!(
        !verdict.gradable && verdict.reasons[0].starts_with("under-exposed"),
        "{verdict:?}"
    );
    let black = image::RgbImage::new(512, 512);
    let verdict = assess(&black, Modality::ColourFundus);
    assert!(
        !verdict.gradable && verdict.reasons[0].starts_with("no retina"),
        "{verdict:?}"
    );
}

fn fovea_analyze(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fovea"))
        .args(["analyze", "--device", "cpu"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run fovea")
}

/// The bundled demo model on the bundled demo patients: every result carries the model's stamp
/// (synthetic!), every eye uses its three images, and for each finding whose held-out eye-level
/// AUROC in the model card's `evaluation.json` reaches the 0.95 target, the eyes that have it
/// score above the eyes that do not (ground truth from the generator) — the card's claims hold
/// on the bundled patients. Findings below target are listed in the card and the issue notes.
#[test]
fn analyze_json_on_the_demo_patients_finds_their_diagnoses() {
    let output = fovea_analyze(&["assets/demo", "--format", "json", "--prompt", "drusen"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("summary: 4 patients analyzed"), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["model"]["synthetic_training_data"], true);
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(demo().join("ground_truth.json")).expect("truth"),
    )
    .expect("json");
    let mut scores: std::collections::BTreeMap<&str, Vec<(f64, bool)>> = Default::default();
    let patients = json["patients"].as_array().expect("patients");
    assert_eq!(patients.len(), 4);
    for patient in patients {
        assert_eq!(patient["model"]["name"], "Fovea demo (synthetic)");
        assert_eq!(patient["patient_rule"], "patient_head");
        let id = patient["patient_id"].as_str().expect("id");
        let written = truth["patients"]
            .as_array()
            .expect("patients")
            .iter()
            .find(|p| p["patient_id"] == id)
            .expect("patient in the truth");
        let eyes = patient["eyes"].as_array().expect("eyes");
        assert_eq!(eyes.len(), 2);
        for (eye, eye_truth) in eyes.iter().zip(written["eyes"].as_array().expect("eyes")) {
            assert_eq!(eye["contributing"].as_array().expect("used").len(), 3);
            assert_eq!(eye["zero_shot"][0]["text"], "drusen");
            let t = &eye_truth["truth"];
            let labels = [
                (
                    "referable_dr",
                    ["moderate", "severe", "proliferative"]
                        .contains(&t["dr_grade"].as_str().unwrap_or("")),
                ),
                ("glaucoma", t["glaucoma"] == true),
                ("amd", t["amd"] != "none"),
            ];
            for (id, label) in labels {
                let p = eye["findings"]
                    .as_array()
                    .expect("findings")
                    .iter()
                    .find(|f| f["id"] == id)
                    .expect("finding")["probability"]
                    .as_f64()
                    .expect("probability");
                scores.entry(id).or_default().push((p, label));
            }
        }
    }
    let evaluation: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("models/demo/evaluation.json"),
        )
        .expect("the demo pack's evaluation"),
    )
    .expect("json");
    let claimed: Vec<&str> = scores
        .keys()
        .copied()
        .filter(|id| {
            evaluation["findings"][*id]["eye"]["auroc"]
                .as_f64()
                .unwrap_or(0.0)
                >= 0.95
        })
        .collect();
    assert!(!claimed.is_empty(), "the card claims at least one finding");
    for (id, eyes) in scores.into_iter().filter(|(id, _)| claimed.contains(id)) {
        let lowest_positive = eyes
            .iter()
            .filter(|e| e.1)
            .map(|e| e.0)
            .fold(f64::MAX, f64::min);
        let highest_negative = eyes
            .iter()
            .filter(|e| !e.1)
            .map(|e| e.0)
            .fold(f64::MIN, f64::max);
        assert!(
            lowest_positive > highest_negative,
            "{id}: eyes with the finding must outscore eyes without: {eyes:?}"
        );
    }
}

/// Splits one CSV line with RFC 4180 quoting.
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().expect("field").push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().expect("field").push(c),
        }
    }
    fields
}

/// A folder with a one-eyed patient whose second photo is blurred, and a broken file: the run
/// goes on, the blurred photo is left out with its reason, the patient result says it rests on
/// one eye, the broken file is reported and the exit status says something failed.
#[test]
fn ungradable_images_one_eyed_patients_and_broken_files_are_reported() {
    let dir = tempfile::tempdir().expect("tmp");
    let folder = dir.path().join("camp");
    std::fs::create_dir(&folder).expect("mkdir");
    std::fs::write(
        folder.join("patient.json"),
        r#"{"patient_id": "CAMP-7", "patient_name": "Test^One eye"}"#,
    )
    .expect("json");
    let fundus = demo_image("SYN010002", "OD", "fundus");
    fundus
        .save(folder.join("CAMP-7_OD_fundus.png"))
        .expect("png");
    image::imageops::blur(&fundus, 5.0)
        .save(folder.join("CAMP-7_OD_second.png"))
        .expect("png");
    let mut broken = vec![0_u8; 128];
    broken.extend_from_slice(b"DICM\x02\x00\x00\x00garbage");
    std::fs::write(folder.join("broken.dcm"), broken).expect("write");
    let out = dir.path().join("report.csv");
    let output = fovea_analyze(&[
        folder.to_str().expect("utf-8"),
        "--format",
        "csv",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let csv = std::fs::read_to_string(&out).expect("csv written");
    let mut lines = csv.lines();
    let header = csv_fields(lines.next().expect("header"));
    assert_eq!(header.len(), 20);
    assert_eq!(header.last().map(String::as_str), Some("domain"));
    let rows: Vec<Vec<String>> = lines.map(csv_fields).collect();
    assert!(
        rows.iter().all(|r| r.len() == 20),
        "every row has every column"
    );
    let column = |name: &str| header.iter().position(|h| h == name).expect("column");
    let patient_rows: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r[column("level")].starts_with("patient"))
        .collect();
    assert_eq!(patient_rows.len(), 3, "three findings at patient level");
    assert!(patient_rows[0][column("level")].contains("EitherEye"));
    assert!(
        patient_rows[0][column("reasons")].contains("only the OD eye"),
        "{:?}",
        patient_rows[0]
    );
    let eye_rows: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r[column("level")] == "eye")
        .collect();
    assert!(eye_rows.iter().all(|r| r[column("eye")] == "OD"));
    assert!(eye_rows[0][column("images_used")].ends_with("CAMP-7_OD_fundus.png"));
    assert!(
        eye_rows[0][column("reasons")].contains("ungradable: blurred"),
        "{:?}",
        eye_rows[0]
    );
    assert!(
        rows.iter()
            .all(|r| r[column("synthetic_training_data")] == "true")
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("1 files unreadable"), "{stderr}");
}

fn demo_analyzer() -> fovea::analysis::engine::Analyzer {
    let pack = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/demo");
    let session = fovea::encoder::session::EncoderSession::open(
        &pack,
        fovea::encoder::device::DeviceChoice::Cpu,
    )
    .expect("the bundled demo pack opens");
    fovea::analysis::engine::Analyzer::new(session).expect("prompts embed")
}

/// The pointing game on held-out synthetic patients (the demo model's test seed): both
/// class-specific maps (last-block Grad-CAM and relevance through every block) for the eye's
/// finding peak inside a planted lesion (grown by one patch) in at least 80 % of lesion-positive
/// fundus photographs. Attention rollout (not class-specific) is measured beside them.
#[test]
#[allow(clippy::print_stderr)] // prints the figures the model card records
fn grad_cam_points_at_planted_lesions() {
    use fovea::analysis::heatmap::HeatmapMethod;
    use fovea::demo::pointing_game::pointing_game;
    let analyzer = demo_analyzer();
    let grad_cam = pointing_game(&analyzer, HeatmapMethod::GradCam, 13, 48, 768).expect("runs");
    let rollout =
        pointing_game(&analyzer, HeatmapMethod::AttentionRollout, 13, 48, 768).expect("runs");
    let relevance = pointing_game(&analyzer, HeatmapMethod::Relevance, 13, 48, 768).expect("runs");
    for report in [&grad_cam, &relevance, &rollout] {
        eprintln!(
            "pointing game: {} {}/{} = {:.3}",
            report.method.label(),
            report.hits,
            report.images,
            report.rate()
        );
    }
    assert!(grad_cam.images >= 15, "{grad_cam:?}");
    assert!(grad_cam.rate() >= 0.8, "{grad_cam:?}");
    assert!(relevance.rate() >= 0.8, "{relevance:?}");
}

/// Heatmaps are data for the overlay: patch grid in [0, 1] with the model's stamp, upsampled
/// to the image; Grad-CAM needs a finding the pack has.
#[test]
fn heatmaps_are_grids_with_the_model_stamp() {
    use fovea::analysis::heatmap::{HeatmapError, HeatmapMethod, heatmap};
    let analyzer = demo_analyzer();
    let image = demo_image("SYN010001", "OD", "fundus");
    for method in [
        HeatmapMethod::AttentionRollout,
        HeatmapMethod::GradCam,
        HeatmapMethod::Relevance,
    ] {
        let map = heatmap(&analyzer, &image, method, Some("referable_dr")).expect("heatmap");
        let fovea::encoder::pack::Architecture::ClipTripartite { config } =
            &analyzer.session().manifest().architecture
        else {
            panic!("the demo pack is a CLIP with tripartite heads")
        };
        let grid = config.vision.image_size / config.vision.patch_size;
        assert_eq!((map.columns, map.rows), (grid, grid));
        assert!(map.values.iter().all(|v| (0.0..=1.0).contains(v)));
        if map.values.iter().all(|v| *v == 0.0) {
            // A class-specific map is all zeros when nothing in the image supports the finding.
            assert!(method.needs_finding());
            continue;
        }
        assert!(
            map.values.contains(&1.0),
            "{method:?} scaled to its maximum: {:?}",
            map.values
        );
        assert!(map.model.synthetic_training_data);
        let full = map.upsample(768, 768);
        assert_eq!(full.len(), 768 * 768);
        let (col, row) = map.peak();
        let brightest = full
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| (i % 768 * grid / 768, i / 768 * grid / 768))
            .expect("pixels");
        assert_eq!(
            brightest,
            (col, row),
            "the upsampled map peaks in the peak patch"
        );
        assert!(full.iter().all(|v| (0.0..=1.0).contains(v)));
    }
    assert!(matches!(
        heatmap(&analyzer, &image, HeatmapMethod::GradCam, Some("cataract")),
        Err(HeatmapError::UnknownFinding(_))
    ));
}

/// A text tower that embeds every text alike is caught (EyeCLIP issue #10); the demo model's
/// is not, and free text ranks the AMD eye's drusen above a normal eye's.
#[test]
fn degenerate_text_towers_are_caught_and_the_demo_tower_is_not() {
    use fovea::analysis::zero_shot::{ZeroShot, degenerate};
    let same = vec![vec![0.3_f32, 0.1, -0.2]; 5];
    let nearly: Vec<Vec<f32>> = (0..5).map(|i| vec![1.0, 0.001 * i as f32, 0.0]).collect();
    assert!(degenerate(&same).is_some());
    assert!(degenerate(&nearly).is_some());
    let varied = vec![
        vec![1.0_f32, 0.0, 0.0],
        vec![0.0, 1.0, 0.0],
        vec![0.6, 0.0, 0.8],
    ];
    assert!(degenerate(&varied).is_none());
    let analyzer = demo_analyzer();
    let mut zero_shot = ZeroShot::new(analyzer.session()).expect("the demo text tower works");
    let vectors = zero_shot
        .vectors(analyzer.session(), "drusen")
        .expect("embeds")
        .clone();
    let again = zero_shot
        .vectors(analyzer.session(), "  drusen ")
        .expect("cached")
        .clone();
    assert_eq!(vectors, again);
    assert_eq!(zero_shot.cached(), 1);
}

/// `fovea train-demo` end to end at toy size: renders patients, trains with autodiff, fits
/// temperatures, evaluates on another seed and writes a pack that loads, with a model card
/// that says the data were synthetic and holds the measured numbers; `--recalibrate` refits
/// that pack's calibration and keeps its weights.
#[test]
fn train_demo_writes_a_loadable_pack_with_its_model_card() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("demo");
    let output = Command::new(env!("CARGO_BIN_EXE_fovea"))
        .args([
            "train-demo",
            "--steps",
            "6",
            "--train-patients",
            "8",
            "--validation-patients",
            "8",
            "--test-patients",
            "8",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("run");
    crate::support::assert_succeeded(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("glaucoma\teye\tAUROC"), "{stdout}");
    let pack =
        fovea::encoder::pack::load_pack(&out, &burn::prelude::Device::flex()).expect("loads");
    assert!(pack.manifest.synthetic_training_data);
    assert_eq!(pack.manifest.findings.len(), 3);
    assert!(
        pack.manifest
            .findings
            .iter()
            .all(|f| f.temperature.len() == 3 && f.operating_point.len() == 3)
    );
    let card = std::fs::read_to_string(out.join("MODEL_CARD.md")).expect("card");
    assert!(card.contains("Not for clinical use") && card.contains("synthetic only"));
    assert!(card.contains(&pack.manifest.weights.sha256));
    assert!(card.contains("lesion guidance"), "{card}");
    let evaluation: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("evaluation.json")).expect("json"))
            .expect("json");
    assert_eq!(evaluation["config"]["steps"], 6);
    assert_eq!(evaluation["config"]["guidance_weight"], 0.5);
    assert!(evaluation["findings"]["amd"]["eye"]["auroc"].is_number());
    assert_eq!(evaluation["recalibrated"], false);

    // Recalibration: the same weights, temperatures and operating points refitted on another
    // validation size, the card saying so.
    let recalibrated = dir.path().join("recalibrated");
    let output = Command::new(env!("CARGO_BIN_EXE_fovea"))
        .args(["train-demo", "--validation-patients", "10", "--recalibrate"])
        .arg(&out)
        .arg("--out")
        .arg(&recalibrated)
        .output()
        .expect("run");
    crate::support::assert_succeeded(&output);
    let again = fovea::encoder::pack::load_pack(&recalibrated, &burn::prelude::Device::flex())
        .expect("loads");
    assert_eq!(again.manifest.weights.sha256, pack.manifest.weights.sha256);
    let evaluation: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(recalibrated.join("evaluation.json")).expect("json"),
    )
    .expect("json");
    assert_eq!(evaluation["recalibrated"], true);
    assert_eq!(evaluation["config"]["validation_patients"], 10);
    assert_eq!(evaluation["config"]["test_patients"], 8);
    assert_eq!(evaluation["config"]["steps"], 6);
    for finding in &again.manifest.findings {
        for (level, temperature) in &finding.temperature {
            let recorded = evaluation["findings"][&finding.id][level]["temperature"]
                .as_f64()
                .expect("temperature");
            assert!((f64::from(*temperature) - recorded).abs() < 1e-5);
        }
    }
    let card = std::fs::read_to_string(recalibrated.join("MODEL_CARD.md")).expect("card");
    assert!(card.contains("--recalibrate") && card.contains("10 validation patients"));
    assert!(card.contains(&pack.manifest.weights.sha256));

    // Training options do not go with --recalibrate; an existing output is refused.
    let output = Command::new(env!("CARGO_BIN_EXE_fovea"))
        .args(["train-demo", "--steps", "3", "--recalibrate"])
        .arg(&out)
        .arg("--out")
        .arg(dir.path().join("other"))
        .output()
        .expect("run");
    assert!(!output.status.success());
    let output = Command::new(env!("CARGO_BIN_EXE_fovea"))
        .args(["train-demo", "--recalibrate"])
        .arg(&out)
        .arg("--out")
        .arg(&recalibrated)
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("already exists"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A recalibrated pack copies its source's weights only when they are the ones the source's
/// manifest names: a changed weights file is refused and nothing is left at the output.
#[test]
fn a_pack_whose_weights_changed_is_not_copied() {
    let dir = tempfile::tempdir().expect("tmp");
    let source = dir.path().join("source");
    std::fs::create_dir(&source).expect("mkdir");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/demo");
    for file in ["manifest.json", "weights.safetensors"] {
        std::fs::copy(demo.join(file), source.join(file)).expect("copy");
    }
    let manifest = fovea::encoder::pack::read_manifest(&source).expect("manifest");
    let out = dir.path().join("copy");
    let copied = fovea::encoder::pack::write_pack_with_weights_of(&source, &out, manifest.clone())
        .expect("an intact pack is copied");
    assert_eq!(copied.weights.sha256, manifest.weights.sha256);

    let mut weights = std::fs::read(source.join("weights.safetensors")).expect("read");
    let last = weights.len() - 1;
    weights[last] ^= 1;
    std::fs::write(source.join("weights.safetensors"), weights).expect("write");
    let refused = dir.path().join("refused");
    let error = fovea::encoder::pack::write_pack_with_weights_of(&source, &refused, manifest)
        .expect_err("changed weights");
    assert!(error.to_string().contains("checksum mismatch"), "{error}");
    assert!(!refused.exists());
}

/// `fovea model info` on the demo pack says, before anything else a reader might quote, that it
/// was trained on synthetic data, and lists its findings.
#[test]
fn model_info_of_the_demo_pack_says_it_is_synthetic() {
    let output = Command::new(env!("CARGO_BIN_EXE_fovea"))
        .args(["model", "info", "models/demo"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run");
    crate::support::assert_succeeded(&output);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("TRAINED ON SYNTHETIC DATA ONLY"), "{text}");
    assert!(text.contains("not for clinical use"), "{text}");
    for id in ["referable_dr", "glaucoma", "amd"] {
        assert!(text.contains(&format!("finding {id}:")), "{text}");
    }
}

/// `--findings` scores a pack with findings it did not ship with (imported packs have none):
/// uncalibrated, never flagged, said so in JSON and CSV; a malformed file is an error naming
/// the expected shape.
#[test]
fn analyze_with_given_findings_scores_them_uncalibrated_and_never_flags_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let findings = dir.path().join("findings.json");
    std::fs::write(
        &findings,
        r#"[{"id": "drusen", "name": "Macular drusen", "prompt": "drusen at the macula", "negative_prompt": "normal macula"}]"#,
    )
    .expect("write");
    let patient = demo().join("dicom/SYN010004");
    let output = fovea_analyze(&[
        patient.to_str().expect("path"),
        "--format",
        "json",
        "--findings",
        findings.to_str().expect("path"),
    ]);
    crate::support::assert_succeeded(&output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let patient = &json["patients"][0];
    let mut seen = 0;
    for findings in std::iter::once(&patient["findings"]).chain(
        patient["eyes"]
            .as_array()
            .expect("eyes")
            .iter()
            .map(|e| &e["findings"]),
    ) {
        let findings = findings.as_array().expect("findings");
        assert_eq!(findings.len(), 1, "{findings:?}");
        let f = &findings[0];
        assert_eq!(f["id"], "drusen");
        assert_eq!(f["calibrated"], false);
        assert!(f["operating_point"].is_null());
        assert_eq!(f["refer"], false);
        let p = f["probability"].as_f64().expect("probability");
        assert!(p > 0.0 && p < 1.0);
        seen += 1;
    }
    assert_eq!(seen, 3);

    std::fs::write(&findings, r#"[{"id": "x"}]"#).expect("write");
    let output = fovea_analyze(&[
        demo().join("dicom/SYN010004").to_str().expect("path"),
        "--findings",
        findings.to_str().expect("path"),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("negative_prompt"), "{stderr}");
}

/// A normal run is quiet: `fovea analyze` on the demo patients with the default device rule
/// prints no `error:` line (nor wgpu's `ERROR` log lines), and says in one line which device
/// it chose.
#[test]
fn analyze_with_the_default_device_prints_no_error_lines() {
    let output = Command::new(env!("CARGO_BIN_EXE_fovea"))
        .args(["analyze", "assets/demo/dicom", "--format", "json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("RUST_LOG")
        .output()
        .expect("run fovea");
    crate::support::assert_succeeded(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let noisy: Vec<&str> = stderr
        .lines()
        .filter(|l| l.to_lowercase().contains("error"))
        .collect();
    assert!(noisy.is_empty(), "error lines on a normal run: {noisy:?}");
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("device: ")).count(),
        1,
        "{stderr}"
    );
}

/// `-v` says more (what Fovea does, at info level) on any command; without it those lines are
/// not printed.
#[test]
fn verbose_adds_info_lines_and_the_default_is_quiet() {
    let run = |verbose: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fovea"));
        if verbose {
            command.arg("-v");
        }
        let output = command
            .args(["analyze", "assets/demo/dicom/SYN010004", "--device", "cpu"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("RUST_LOG")
            .output()
            .expect("run fovea");
        crate::support::assert_succeeded(&output);
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let verbose = run(true);
    assert!(
        verbose.contains("model pack") && verbose.contains("ready in"),
        "{verbose}"
    );
    let quiet = run(false);
    assert!(!quiet.contains("ready in"), "{quiet}");
}
