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
/// (synthetic!), every eye uses its three images, and for each finding the eyes that have it
/// score above the eyes that do not (ground truth from the generator).
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
    assert!(stderr.contains("summary: 4 patients analysed"), "{stderr}");
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
    for (id, eyes) in scores {
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
    assert_eq!(header.len(), 17);
    let rows: Vec<Vec<String>> = lines.map(csv_fields).collect();
    assert!(
        rows.iter().all(|r| r.len() == 17),
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

/// The pointing game on held-out synthetic patients (the demo model's test seed): Grad-CAM for
/// the eye's finding peaks inside a planted lesion (grown by one patch) in at least 80 % of
/// lesion-positive fundus photographs. Attention rollout is measured beside it.
#[test]
#[allow(clippy::print_stderr)] // prints the figure the model card records
fn grad_cam_points_at_planted_lesions() {
    use fovea::analysis::heatmap::{HeatmapMethod, pointing_game};
    let analyzer = demo_analyzer();
    let grad_cam = pointing_game(&analyzer, HeatmapMethod::GradCam, 13, 48, 384).expect("runs");
    let rollout =
        pointing_game(&analyzer, HeatmapMethod::AttentionRollout, 13, 48, 384).expect("runs");
    eprintln!(
        "pointing game: Grad-CAM {}/{} = {:.3}; attention rollout {}/{} = {:.3}",
        grad_cam.hits,
        grad_cam.images,
        grad_cam.rate(),
        rollout.hits,
        rollout.images,
        rollout.rate()
    );
    assert!(grad_cam.images >= 15, "{grad_cam:?}");
    assert!(grad_cam.rate() >= 0.8, "{grad_cam:?}");
}

/// Heatmaps are data for the overlay: patch grid in [0, 1] with the model's stamp, upsampled
/// to the image; Grad-CAM needs a finding the pack has.
#[test]
fn heatmaps_are_grids_with_the_model_stamp() {
    use fovea::analysis::heatmap::{HeatmapError, HeatmapMethod, heatmap};
    let analyzer = demo_analyzer();
    let image = demo_image("SYN010001", "OD", "fundus");
    for method in [HeatmapMethod::AttentionRollout, HeatmapMethod::GradCam] {
        let map = heatmap(&analyzer, &image, method, Some("referable_dr")).expect("heatmap");
        assert_eq!((map.columns, map.rows), (8, 8));
        assert!(map.values.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(map.values.contains(&1.0), "scaled to its maximum");
        assert!(map.model.synthetic_training_data);
        let full = map.upsample(768, 768);
        assert_eq!(full.len(), 768 * 768);
        let (col, row) = map.peak();
        let brightest = full
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| (i % 768 / 96, i / 768 / 96))
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
