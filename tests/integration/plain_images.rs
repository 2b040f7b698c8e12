//! Plain images: one unknown patient per file unless a sidecar or the folder's `patient.json`
//! says otherwise; eye from file-name conventions.

use fovea::study::model::{Eye, EyeSource, Modality};
use fovea::study::scan_paths;

fn write_png(path: &std::path::Path, colour: bool) {
    if colour {
        image::RgbImage::from_pixel(8, 6, image::Rgb([200, 80, 30]))
            .save(path)
            .expect("png");
    } else {
        image::GrayImage::from_pixel(8, 6, image::Luma([90]))
            .save(path)
            .expect("png");
    }
}

#[test]
fn folder_patient_json_groups_images_and_file_names_give_the_eye() {
    let dir = tempfile::tempdir().expect("tmp");
    write_png(&dir.path().join("visit_OD.png"), true);
    write_png(&dir.path().join("visit-left.png"), true);
    write_png(&dir.path().join("visit_ir.png"), false);
    std::fs::write(
        dir.path().join("patient.json"),
        r#"{"patient_id": "CAMP-0042", "patient_name": "DOE^JANE", "study_date": "20261101"}"#,
    )
    .expect("write");
    let catalog = scan_paths(&[dir.path().to_path_buf()]);
    assert!(catalog.unreadable.is_empty(), "{:?}", catalog.unreadable);
    assert_eq!(catalog.patients.len(), 1);
    let patient = &catalog.patients[0];
    assert_eq!(patient.info.id, "CAMP-0042");
    assert_eq!(patient.info.name.as_deref(), Some("DOE^JANE"));
    let eyes: Vec<(Eye, usize)> = patient.studies[0]
        .eyes
        .iter()
        .map(|e| (e.eye, e.images.len()))
        .collect();
    assert_eq!(
        eyes,
        vec![(Eye::Right, 1), (Eye::Left, 1), (Eye::Unknown, 1)]
    );
    let right = &patient.studies[0].eyes[0].images[0];
    assert_eq!(
        (right.eye_source, right.modality, right.columns, right.rows),
        (EyeSource::FileName, Modality::ColourFundus, 8, 6)
    );
    assert_eq!(
        patient.studies[0].eyes[2].images[0].eye_source,
        EyeSource::NotDetermined
    );
}

#[test]
fn loose_images_are_each_their_own_unknown_patient_and_a_bad_sidecar_is_reported() {
    let dir = tempfile::tempdir().expect("tmp");
    write_png(&dir.path().join("a.png"), true);
    write_png(&dir.path().join("b.png"), true);
    write_png(&dir.path().join("c.png"), true);
    std::fs::write(dir.path().join("c.json"), "{ not json").expect("write");
    std::fs::write(dir.path().join("d.png"), b"not really a png").expect("write");
    let catalog = scan_paths(&[dir.path().to_path_buf()]);
    assert_eq!(
        catalog.patients.len(),
        2,
        "a.png and b.png, one patient each"
    );
    let reasons: Vec<String> = catalog
        .unreadable
        .iter()
        .map(|u| format!("{}: {}", u.path.display(), u.reason))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("c.json") && r.contains("sidecar JSON is invalid")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("d.png")), "{reasons:?}");
}

/// A screening camp's camera folder: files named by patient and eye become patients with both
/// eyes; the id is the name without the eye (never a path); ambiguous names stay one patient
/// per file; a folder `patient.json` still wins (the first test).
#[test]
fn camera_photo_folders_are_grouped_by_file_name() {
    let dir = tempfile::tempdir().expect("tmp");
    for name in [
        "Patient001_L.jpg",
        "Patient001_R.jpg",
        "Patient002_L.png",
        "CHASEDB1_08L.png",
        "P0042_20240131_OD.png",
        "P0042_20240131_OS_2.png",
        "both_OD_OS.png",
    ] {
        let path = dir.path().join(name);
        image::RgbImage::from_pixel(8, 6, image::Rgb([200, 80, 30]))
            .save(&path)
            .expect("image");
    }
    let catalog = scan_paths(&[dir.path().to_path_buf()]);
    assert!(catalog.unreadable.is_empty(), "{:?}", catalog.unreadable);
    let eyes_of = |id: &str| -> Vec<(Eye, usize)> {
        let patient = catalog
            .patients
            .iter()
            .find(|p| p.info.id == id)
            .unwrap_or_else(|| {
                panic!(
                    "{id} among {:?}",
                    catalog
                        .patients
                        .iter()
                        .map(|p| &p.info.id)
                        .collect::<Vec<_>>()
                )
            });
        patient
            .studies
            .iter()
            .flat_map(|s| s.eyes.iter().map(|e| (e.eye, e.images.len())))
            .collect()
    };
    assert_eq!(eyes_of("Patient001"), vec![(Eye::Right, 1), (Eye::Left, 1)]);
    assert_eq!(eyes_of("Patient002"), vec![(Eye::Left, 1)]);
    assert_eq!(eyes_of("CHASEDB1_08"), vec![(Eye::Left, 1)]);
    assert_eq!(eyes_of("P0042"), vec![(Eye::Right, 1), (Eye::Left, 1)]);
    let p0042 = catalog
        .patients
        .iter()
        .find(|p| p.info.id == "P0042")
        .expect("P0042");
    assert_eq!(p0042.studies.len(), 1, "one visit");
    assert_eq!(p0042.studies[0].info.date.as_deref(), Some("20240131"));
    let ambiguous = catalog
        .patients
        .iter()
        .find(|p| p.info.id.ends_with("both_OD_OS.png"))
        .expect("left alone: a patient of its own");
    assert_eq!(ambiguous.images().next().map(|r| r.eye), Some(Eye::Unknown));
    assert_eq!(catalog.patients.len(), 5);
}

/// The modality of an image without a sidecar, from its pixels: every synthetic photograph,
/// SLO and B-scan of the demo set (truth from their sidecars) and every real sample (fundus
/// photographs, a Cirrus B-scan PNG, the Spectralis SLOs and B-scans, the Spectralis IR OP).
#[test]
fn the_modality_of_an_image_is_read_from_its_content() {
    use fovea::study::content_modality::{measure, modality_of};
    let mut cases: Vec<(String, image::RgbImage, Modality)> = Vec::new();
    let demo = &crate::support::demo_set().root;
    for entry in walkdir::WalkDir::new(demo.join("png"))
        .into_iter()
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "png") {
            let sidecar: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(path.with_extension("json")).expect("sidecar"),
            )
            .expect("json");
            let truth: Modality =
                serde_json::from_value(sidecar["modality"].clone()).expect("modality");
            let image = image::open(path).expect("png").to_rgb8();
            cases.push((path.display().to_string(), image, truth));
        }
    }
    assert!(cases.len() >= 24, "{} synthetic images", cases.len());
    if let Some(real) = crate::support::real_material("") {
        for (file, truth) in [
            ("fundus/normal_left_eye_OS.jpg", Modality::ColourFundus),
            ("fundus/normal_right_eye_OD.jpg", Modality::ColourFundus),
            ("oct/cirrus_onh_bscan.png", Modality::Oct),
        ] {
            let image = image::open(real.join(file)).expect("real image").to_rgb8();
            cases.push((file.to_string(), image, truth));
        }
        let catalog = scan_paths(&[real.join("vol"), real.join("dicom")]);
        for record in catalog.patients.iter().flat_map(|p| p.images()) {
            let decoded = fovea::study::pixels::decode_image(record).expect("decodes");
            let image = decoded.frame_to_rgb8(0).expect("frame");
            cases.push((
                record.source.path().display().to_string(),
                image,
                record.modality,
            ));
        }
    }
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(_, image, truth)| modality_of(image) != *truth)
        .map(|(name, image, truth)| format!("{name}: {truth:?}, measured {:?}", measure(image)))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} wrong: {wrong:?}",
        wrong.len(),
        cases.len()
    );
}
