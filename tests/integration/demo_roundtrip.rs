//! The synthetic generator's output round-trips: written → scanned → grouped into the right
//! patients and eyes → decoded pixels equal the PNG; and dciodvfy finds no error in it.

use std::path::Path;

use fovea::study::model::{Eye, EyeSource, Modality};
use fovea::study::pixels::{Samples, decode_dicom_file, decode_plain_file};
use fovea::study::scan_paths;
use fovea::synth::dicom_writer::PixelEncoding;
use fovea::synth::generate;

use crate::support::{demo_set, small_config, tree_fingerprint};

#[test]
fn dicom_is_grouped_into_the_right_patients_and_eyes() {
    let set = demo_set();
    let catalog = scan_paths(&[set.root.join("dicom")]);
    assert!(catalog.unreadable.is_empty(), "{:?}", catalog.unreadable);
    assert_eq!(catalog.patients.len(), set.truth.patients.len());
    for (patient, truth) in catalog.patients.iter().zip(&set.truth.patients) {
        assert_eq!(patient.info.id, truth.patient_id);
        assert_eq!(patient.studies.len(), 1);
        let eyes = &patient.studies[0].eyes;
        let labels: Vec<Eye> = eyes.iter().map(|e| e.eye).collect();
        assert_eq!(labels, vec![Eye::Right, Eye::Left], "OD then OS");
        for eye in eyes {
            let modalities: Vec<Modality> = eye.images.iter().map(|i| i.modality).collect();
            assert_eq!(
                modalities,
                vec![Modality::ColourFundus, Modality::Oct, Modality::SloIr]
            );
            assert!(
                eye.images
                    .iter()
                    .all(|i| i.eye_source == EyeSource::ImageLaterality)
            );
            let slo = &eye.images[2];
            let oct = &eye.images[1];
            let localizer = oct.localizer.as_ref().expect("OCT names its localizer");
            let fovea::study::model::ImageSource::Dicom {
                sop_instance_uid, ..
            } = &slo.source
            else {
                panic!("SLO is DICOM")
            };
            assert_eq!(&localizer.sop_instance_uid, sop_instance_uid);
            assert_eq!(localizer.bscan_locations.len(), oct.frames as usize);
            assert_eq!(oct.frame_of_reference_uid, slo.frame_of_reference_uid);
            // B-scans run left to right, top to bottom, inside the localizer.
            let first = &localizer.bscan_locations[0].points;
            let last = &localizer.bscan_locations[oct.frames as usize - 1].points;
            assert!(first[0].x < first[1].x && (first[0].y - first[1].y).abs() < 1e-3);
            assert!(first[0].y < last[0].y);
            for p in localizer.bscan_locations.iter().flat_map(|b| &b.points) {
                assert!(
                    p.x >= 0.0
                        && p.y >= 0.0
                        && p.x <= f64::from(slo.columns)
                        && p.y <= f64::from(slo.rows)
                );
            }
            let spacing = oct.pixel_spacing_mm.expect("OCT pixel spacing");
            assert!((spacing.column_mm - 6.0 / f64::from(oct.columns)).abs() < 1e-6);
        }
    }
}

#[test]
fn decoded_dicom_pixels_equal_the_png() {
    let set = demo_set();
    for patient in &set.truth.patients {
        for eye in &patient.eyes {
            for image in &eye.images {
                let png_path = set.root.join(image.png.as_ref().expect("PNG written"));
                let dicom = decode_dicom_file(&set.root.join(&image.dicom)).expect("decode DICOM");
                let png = decode_plain_file(&png_path).expect("decode PNG");
                let frame = if image.modality == Modality::Oct {
                    dicom.frames as usize / 2
                } else {
                    0
                };
                let n = dicom.samples_per_frame();
                let (Samples::U8(d), Samples::U8(p)) = (&dicom.samples, &png.samples) else {
                    panic!("8-bit samples expected")
                };
                assert_eq!(
                    (dicom.columns, dicom.rows, dicom.channels),
                    (png.columns, png.rows, png.channels)
                );
                assert!(
                    &d[frame * n..(frame + 1) * n] == p.as_slice(),
                    "{} differs from its PNG",
                    image.dicom.display()
                );
            }
        }
    }
}

#[test]
fn png_copies_group_by_their_sidecars() {
    let set = demo_set();
    let catalog = scan_paths(&[set.root.join("png")]);
    assert!(catalog.unreadable.is_empty(), "{:?}", catalog.unreadable);
    assert_eq!(catalog.patients.len(), set.truth.patients.len());
    for patient in &catalog.patients {
        let eyes: Vec<Eye> = patient
            .studies
            .iter()
            .flat_map(|s| &s.eyes)
            .map(|e| e.eye)
            .collect();
        assert_eq!(eyes, vec![Eye::Right, Eye::Left]);
        assert!(patient.images().all(|i| i.eye_source == EyeSource::Sidecar));
        assert_eq!(patient.images().count(), 6);
    }
}

#[test]
fn same_seed_same_files_other_seed_other_files() {
    let a = tempfile::tempdir().expect("tmp");
    let b = tempfile::tempdir().expect("tmp");
    let c = tempfile::tempdir().expect("tmp");
    generate(a.path(), &small_config(3, 1, PixelEncoding::ExplicitLe)).expect("a");
    generate(b.path(), &small_config(3, 1, PixelEncoding::ExplicitLe)).expect("b");
    generate(c.path(), &small_config(4, 1, PixelEncoding::ExplicitLe)).expect("c");
    let hashes = |d: &Path| {
        tree_fingerprint(d)
            .into_iter()
            .map(|(p, h, _)| (p.strip_prefix(d).expect("prefix").to_path_buf(), h))
            .collect::<Vec<_>>()
    };
    assert_eq!(hashes(a.path()), hashes(b.path()));
    assert_ne!(hashes(a.path()), hashes(c.path()));
}

#[test]
fn findings_are_drawn_where_the_truth_says() {
    // A glaucoma eye's disc is paler over a larger area than a normal eye's: the cup is bigger.
    let set = demo_set();
    let mut glaucoma_cdr = Vec::new();
    let mut normal_cdr = Vec::new();
    for p in &set.truth.patients {
        for e in &p.eyes {
            if e.truth.glaucoma {
                glaucoma_cdr.push(e.truth.cup_to_disc_ratio);
            } else if e.truth.grading().is_normal() {
                normal_cdr.push(e.truth.cup_to_disc_ratio);
            }
            // Every lesion's centre is inside the fundus field: the mask is on the image.
            for l in &e.truth.lesions {
                assert!(
                    l.x_mm.abs() < 6.5 && l.y_mm.abs() < 6.5,
                    "{l:?} outside the field"
                );
            }
        }
    }
    assert!(!glaucoma_cdr.is_empty() && !normal_cdr.is_empty());
    assert!(
        glaucoma_cdr.iter().cloned().fold(f64::MAX, f64::min)
            > normal_cdr.iter().cloned().fold(0.0, f64::max)
    );
    // Exudates are bright yellow on the fundus photo at their mask.
    for p in &set.truth.patients {
        for e in &p.eyes {
            let exudates: Vec<_> = e
                .truth
                .lesions
                .iter()
                .filter(|l| l.kind == fovea::synth::truth::LesionKind::HardExudate)
                .collect();
            if exudates.is_empty() {
                continue;
            }
            let fundus = &e.images[0];
            let png_path = set.root.join(fundus.png.as_ref().expect("png"));
            let img = image::open(&png_path).expect("open").to_rgb8();
            let sidecar: serde_json::Value = serde_json::from_slice(
                &std::fs::read(png_path.with_extension("json")).expect("sidecar"),
            )
            .expect("json");
            let masks = sidecar["lesion_masks_px"].as_array().expect("masks");
            let mut inside = Vec::new();
            for m in masks.iter().filter(|m| m["kind"] == "hard_exudate") {
                let (x, y) = (
                    m["cx"].as_f64().expect("cx") as u32,
                    m["cy"].as_f64().expect("cy") as u32,
                );
                let px = img.get_pixel(x.min(img.width() - 1), y.min(img.height() - 1));
                inside.push(f64::from(px[1]));
            }
            let mean_green = inside.iter().sum::<f64>() / inside.len() as f64;
            let field_green = img.pixels().map(|p| f64::from(p[1])).sum::<f64>()
                / f64::from(img.width() * img.height());
            assert!(
                mean_green > field_green * 1.5,
                "exudates are bright: {mean_green} vs field {field_green}"
            );
        }
    }
}

/// dciodvfy (dicom3tools, Debian 12) checks the Multi-frame Functional Groups concatenation
/// attributes with their generic conditions, but PS3.3 C.8.17.7 (Ophthalmic Tomography Image
/// Module) makes Concatenation Frame Offset Number = 0, In-concatenation Number = 1 and
/// In-concatenation Total Number = 1 Type 1 "to prevent the use of Concatenations" (PS3.3
/// C.7.6.16: "unless an IOD overrides this constraint to enumerate a value of 1"). Exactly these
/// three messages, on OPT files only, are therefore not counted; omitting the attributes would
/// instead raise Type 1 "missing" errors from the same tool.
const DCIODVFY_OPT_CONCATENATION_MESSAGES: [&str; 3] = [
    "Error - Attribute present when condition unsatisfied (which may not be present otherwise) Type 1C Conditional Element=<ConcatenationFrameOffsetNumber> Module=<MultiFrameFunctionalGroupsCommon>",
    "Error - Attribute present when condition unsatisfied (which may not be present otherwise) Type 1C Conditional Element=<InConcatenationNumber> Module=<MultiFrameFunctionalGroupsCommon>",
    "Error - Cannot be less than or equal to one since then not a Concatenation - attribute <InConcatenationTotalNumber>",
];

fn dciodvfy_errors(path: &Path) -> Vec<String> {
    let output = std::process::Command::new("dciodvfy")
        .arg(path)
        .output()
        .expect("dciodvfy runs: install dicom3tools with packaging/install-deps.sh");
    let text = String::from_utf8_lossy(&output.stderr).to_string()
        + &String::from_utf8_lossy(&output.stdout);
    let is_opt = text
        .lines()
        .any(|l| l.trim() == "OphthalmicTomographyImage");
    let errors: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("Error"))
        .map(str::to_string)
        .collect();
    if is_opt {
        // The standard-mandated values must be there (all three messages), and nothing else.
        for expected in DCIODVFY_OPT_CONCATENATION_MESSAGES {
            assert!(
                errors.iter().any(|e| e == expected),
                "{}: expected dciodvfy to see the OPT concatenation values",
                path.display()
            );
        }
        errors
            .into_iter()
            .filter(|e| !DCIODVFY_OPT_CONCATENATION_MESSAGES.contains(&e.as_str()))
            .collect()
    } else {
        errors
    }
}

#[test]
fn dciodvfy_finds_no_error_in_generated_dicom() {
    let set = demo_set();
    let jpeg = tempfile::tempdir().expect("tmp");
    let jpeg_truth = generate(
        jpeg.path(),
        &small_config(11, 1, PixelEncoding::JpegBaseline),
    )
    .expect("jpeg set");
    let mut problems = Vec::new();
    let lossless = set
        .truth
        .patients
        .iter()
        .flat_map(|p| &p.eyes)
        .flat_map(|e| &e.images)
        .map(|i| set.root.join(&i.dicom));
    let lossy = jpeg_truth
        .patients
        .iter()
        .flat_map(|p| &p.eyes)
        .flat_map(|e| &e.images)
        .map(|i| jpeg.path().join(&i.dicom));
    let files: Vec<_> = lossless.chain(lossy).collect();
    assert_eq!(files.len(), 30);
    for file in files {
        for e in dciodvfy_errors(&file) {
            problems.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn jpeg_baseline_demo_decodes_close_to_the_png() {
    let dir = tempfile::tempdir().expect("tmp");
    let truth =
        generate(dir.path(), &small_config(5, 1, PixelEncoding::JpegBaseline)).expect("jpeg set");
    for image in truth
        .patients
        .iter()
        .flat_map(|p| &p.eyes)
        .flat_map(|e| &e.images)
    {
        let dicom = decode_dicom_file(&dir.path().join(&image.dicom)).expect("decode");
        let png =
            decode_plain_file(&dir.path().join(image.png.as_ref().expect("png"))).expect("png");
        let frame = if image.modality == Modality::Oct {
            dicom.frames as usize / 2
        } else {
            0
        };
        let n = dicom.samples_per_frame();
        let (Samples::U8(d), Samples::U8(p)) = (&dicom.samples, &png.samples) else {
            panic!("8-bit")
        };
        let mean_abs = d[frame * n..(frame + 1) * n]
            .iter()
            .zip(p)
            .map(|(a, b)| f64::from(a.abs_diff(*b)))
            .sum::<f64>()
            / n as f64;
        // Quality-92 JPEG of noisy synthetic images: a few grey levels on average.
        assert!(
            mean_abs < 4.0,
            "{}: mean abs error {mean_abs}",
            image.dicom.display()
        );
        assert!(mean_abs > 0.0, "JPEG is lossy: some difference is expected");
    }
}

#[test]
fn bundled_demo_patients_are_what_the_generator_writes() {
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let fresh = tempfile::tempdir().expect("tmp");
    let config = fovea::synth::DemoConfig {
        patients: 4,
        seed: 1,
        encoding: PixelEncoding::JpegBaseline,
        write_png: false,
        ..fovea::synth::DemoConfig::default()
    };
    generate(fresh.path(), &config).expect("generate");
    let hashes = |d: &Path| {
        tree_fingerprint(d)
            .into_iter()
            .map(|(p, h, _)| (p.strip_prefix(d).expect("prefix").to_path_buf(), h))
            .filter(|(p, _)| p.extension().is_some_and(|e| e == "dcm" || e == "json"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        hashes(&bundled),
        hashes(fresh.path()),
        "assets/demo is stale: regenerate it (see assets/demo/README.md)"
    );
    let catalog = scan_paths(&[bundled.join("dicom")]);
    assert!(catalog.unreadable.is_empty());
    assert_eq!((catalog.patients.len(), catalog.image_count()), (4, 24));
}
