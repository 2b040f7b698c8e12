//! The optic disc as a laterality check: on synthetic patients (known eyes; colour fundus and
//! SLO), the decided share and the accuracy among the decided, and the fovea found where the
//! renderer put it; a flipped tag is warned about;
//! the real CC0 photographs (skipped without `../shared`) get their eyes.

use fovea::study::Eye;
use fovea::study::laterality::check;
use fovea::study::model::Modality;
use fovea::study::pixels::decode_image;

/// Where the synthetic renderer puts the fovea, as fractions of the image (`synth::render_eye`:
/// the photograph is centred 35 % of the way from the fovea to the disc, which is 4.6 mm
/// nasal, across 13 mm / 0.96; the SLO is centred on the fovea).
fn true_fovea(modality: Modality, eye: Eye) -> [f64; 2] {
    match modality {
        Modality::ColourFundus => {
            let nasal = if eye == Eye::Right { 1.0 } else { -1.0 };
            [0.5 - nasal * 4.6 * 0.35 / (13.0 / 0.96), 0.5]
        }
        _ => [0.5, 0.5],
    }
}

/// The synthetic disc's diameter (1.8 mm) as a fraction of the image's width.
fn disc_diameter(modality: Modality) -> f64 {
    match modality {
        Modality::ColourFundus => 1.8 / (13.0 / 0.96),
        _ => 1.8 / 8.8,
    }
}

#[test]
fn the_disc_gives_the_eye_of_synthetic_photographs_and_slo_images() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut config = crate::support::small_config(
        311,
        12,
        fovea::synth::dicom_writer::PixelEncoding::ExplicitLe,
    );
    config.write_png = false;
    fovea::synth::generate(dir.path(), &config).expect("patients");
    let catalog = fovea::study::scan_paths(&[dir.path().join("dicom")]);
    for modality in [Modality::ColourFundus, Modality::SloIr] {
        let (mut decided, mut right, mut total) = (0, 0, 0);
        let mut fovea_errors_dd = Vec::new();
        for record in catalog
            .patients
            .iter()
            .flat_map(|p| p.images())
            .filter(|r| r.modality == modality)
        {
            let image = decode_image(record)
                .expect("decodes")
                .frame_to_rgb8(0)
                .expect("frame");
            let evidence = check(&image, modality == Modality::ColourFundus);
            total += 1;
            if let Some([fx, fy]) = evidence.fovea {
                let [tx, ty] = true_fovea(modality, record.eye);
                let dd = disc_diameter(modality);
                fovea_errors_dd.push(((fx - tx).powi(2) + (fy - ty).powi(2)).sqrt() / dd);
            }
            if let Some(eye) = evidence.implied {
                decided += 1;
                right += usize::from(eye == record.eye);
                let flipped = if record.eye == Eye::Right {
                    Eye::Left
                } else {
                    Eye::Right
                };
                if eye == record.eye {
                    let warning = evidence
                        .contradiction(flipped)
                        .expect("a flipped tag is warned");
                    assert!(warning.contains("check the laterality"), "{warning}");
                    assert!(evidence.contradiction(record.eye).is_none());
                }
            }
        }
        assert_eq!(total, 24, "{modality:?}");
        // The fovea, where found, is where the renderer put it.
        fovea_errors_dd.sort_by(f64::total_cmp);
        let found = fovea_errors_dd.len();
        println!(
            "{modality:?}: fovea found in {found} of {total}, errors (disc diameters) {fovea_errors_dd:.2?}"
        );
        assert!(
            found as f64 >= 0.7 * total as f64,
            "{modality:?}: fovea in {found}/{total}"
        );
        assert!(
            fovea_errors_dd[found / 2] <= 0.5,
            "{modality:?}: median fovea error {fovea_errors_dd:?}"
        );
        let near = fovea_errors_dd.iter().filter(|e| **e <= 1.0).count();
        assert!(
            near as f64 >= 0.9 * found as f64,
            "{modality:?}: {fovea_errors_dd:?}"
        );
        assert!(
            decided as f64 >= 0.9 * total as f64,
            "{modality:?}: {decided}/{total} decided"
        );
        assert!(
            right as f64 >= 0.95 * decided as f64,
            "{modality:?}: {right}/{decided} right"
        );
    }
}

#[test]
fn the_real_photographs_get_their_eyes() {
    let Some(real) = crate::support::real_material("fundus") else {
        return;
    };
    for (file, eye) in [
        ("normal_left_eye_OS.jpg", Eye::Left),
        ("normal_right_eye_OD.jpg", Eye::Right),
    ] {
        let image = image::open(real.join(file)).expect("photo").to_rgb8();
        let evidence = check(&image, true);
        assert_eq!(evidence.implied, Some(eye), "{file}: {evidence:?}");
        // Both are macula-centred: the fovea, found, is near the middle of the picture.
        let [fx, _] = evidence.fovea.expect("the macula is visible");
        assert!((fx - 0.5).abs() < 0.1, "{file}: {evidence:?}");
    }
    // The Spectralis IR SLOs are right eyes (one centred on the disc): never called left.
    let Some(vol) = crate::support::real_material("vol") else {
        return;
    };
    let catalog = fovea::study::scan_paths(&[vol]);
    for record in catalog
        .patients
        .iter()
        .flat_map(|p| p.images())
        .filter(|r| r.modality == Modality::SloIr)
    {
        let image = decode_image(record)
            .expect("SLO")
            .frame_to_rgb8(0)
            .expect("frame");
        let evidence = check(&image, false);
        assert_ne!(
            evidence.implied,
            Some(Eye::Left),
            "{}: {evidence:?}",
            record.source.path().display()
        );
    }
}

fn studies_json(dir: &std::path::Path) -> serde_json::Value {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fovea"))
        .args(["studies", "--json"])
        .arg(dir)
        .output()
        .expect("run");
    crate::support::assert_succeeded(&output);
    serde_json::from_slice(&output.stdout).expect("json")
}

/// `fovea studies`: an untagged photograph gets a suggested eye with its evidence; a tag that
/// contradicts the disc is warned about; neither changes the image's eye.
#[test]
fn studies_suggests_eyes_and_warns_about_contradicting_tags() {
    let demo = &crate::support::demo_set().root;
    let photo = walkdir::WalkDir::new(demo.join("png"))
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .map(|e| e.path().to_path_buf())
        .find(|p| p.to_string_lossy().ends_with("_OD_fundus.png"))
        .expect("a synthetic OD photograph");
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::copy(&photo, dir.path().join("untagged.png")).expect("copy");
    std::fs::copy(&photo, dir.path().join("mislabelled.png")).expect("copy");
    std::fs::write(dir.path().join("mislabelled.json"), r#"{"eye": "OS"}"#).expect("sidecar");
    let json = studies_json(dir.path());
    let checks = json["laterality"].as_array().expect("laterality");
    let of = |name: &str| {
        checks
            .iter()
            .find(|c| c["path"].as_str().is_some_and(|p| p.ends_with(name)))
            .unwrap_or_else(|| panic!("{name} in {json}"))
    };
    let untagged = of("untagged.png");
    assert_eq!(untagged["tagged_eye"], "unknown");
    assert_eq!(untagged["suggested_eye"], "OD", "{untagged}");
    assert!(
        untagged["evidence"]["disc"].is_array(),
        "the disc position is kept"
    );
    let mislabelled = of("mislabelled.png");
    assert_eq!(mislabelled["tagged_eye"], "OS", "the tag is not changed");
    assert_eq!(
        mislabelled["warning"],
        "tagged OS, but the optic disc is on the right: check the laterality"
    );
}

/// The real CC0 photographs, copied under names that say nothing: their suggested eyes.
#[test]
fn the_real_photographs_get_the_right_suggested_eyes() {
    let Some(real) = crate::support::real_material("fundus") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::copy(
        real.join("normal_left_eye_OS.jpg"),
        dir.path().join("a.jpg"),
    )
    .expect("copy");
    std::fs::copy(
        real.join("normal_right_eye_OD.jpg"),
        dir.path().join("b.jpg"),
    )
    .expect("copy");
    let json = studies_json(dir.path());
    let suggested: Vec<(String, String)> = json["laterality"]
        .as_array()
        .expect("laterality")
        .iter()
        .map(|c| {
            (
                c["path"]
                    .as_str()
                    .unwrap_or_default()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                c["suggested_eye"].as_str().unwrap_or("none").to_string(),
            )
        })
        .collect();
    assert!(
        suggested.contains(&("a.jpg".to_string(), "OS".to_string())),
        "{suggested:?}"
    );
    assert!(
        suggested.contains(&("b.jpg".to_string(), "OD".to_string())),
        "{suggested:?}"
    );
}
