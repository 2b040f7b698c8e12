//! Table-driven tests over real DICOM files nobody here wrote: pydicom's test files, each
//! compared with what pydicom + pylibjpeg decode (`tests/data/pydicom/reference.json`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use fovea::study::pixels::decode_dicom_file;
use fovea::study::scan_paths;
use serde::Deserialize;

use crate::support::{pydicom_dir, tree_fingerprint, within_seconds};

#[derive(Debug, Deserialize)]
struct Reference {
    files: BTreeMap<String, FileReference>,
}

#[derive(Debug, Deserialize)]
struct FileReference {
    decodes: bool,
    #[serde(default)]
    transfer_syntax: String,
    #[serde(default)]
    frames: u32,
    #[serde(default)]
    rows: u32,
    #[serde(default)]
    columns: u32,
    #[serde(default)]
    samples_per_pixel: u8,
    #[serde(default)]
    lossy: bool,
    #[serde(default)]
    mean: f64,
    #[serde(default)]
    points: Vec<Point>,
}

#[derive(Debug, Deserialize)]
struct Point {
    frame: u32,
    row: u32,
    column: u32,
    sample: u32,
    value: f64,
}

/// Files pydicom decodes that Fovea refuses on purpose, with the reason it gives.
/// 32-bit samples (RT dose grids) are not ophthalmic images; 12-bit JPEG extended is not
/// supported by the pure-Rust JPEG decoder; `SC_rgb_jpeg.dcm` declares explicit VR but is
/// encoded implicit VR (pydicom guesses around it, dicom-rs reports the file as broken).
const REFUSED_ON_PURPOSE: &[(&str, &str)] = &[
    ("SC_rgb_rle_32bit.dcm", "BitsAllocated other than 8 or 16"),
    (
        "SC_rgb_rle_32bit_2frame.dcm",
        "BitsAllocated other than 8 or 16",
    ),
    ("rtdose.dcm", "BitsAllocated 32 is not supported"),
    ("rtdose_1frame.dcm", "BitsAllocated 32 is not supported"),
    ("rtdose_expb.dcm", "BitsAllocated 32 is not supported"),
    (
        "rtdose_expb_1frame.dcm",
        "BitsAllocated 32 is not supported",
    ),
    ("rtdose_rle.dcm", "BitsAllocated other than 8 or 16"),
    ("rtdose_rle_1frame.dcm", "BitsAllocated other than 8 or 16"),
    ("JPGExtended.dcm", "SamplePrecision(12)"),
    ("SC_rgb_jpeg.dcm", "broken DICOM file"),
];

/// Largest difference allowed at a sampled pixel of a lossy file: JPEG decoders may differ
/// in IDCT and colour-conversion rounding (IEEE 1180 allows ±1 per IDCT output; chroma
/// upsampling and YCbCr→RGB rounding add a few levels).
const LOSSY_POINT_TOLERANCE: f64 = 6.0;

fn load_reference() -> Reference {
    let path = pydicom_dir().join("reference.json");
    let text = std::fs::read_to_string(&path).expect("reference.json is committed");
    serde_json::from_str(&text).expect("reference.json parses")
}

#[test]
fn every_pydicom_file_decodes_like_pydicom_or_fails_with_a_clear_error() {
    let reference = load_reference();
    assert!(reference.files.len() > 70, "the vendored set is complete");
    let mut problems = Vec::new();
    let mut matched = 0;
    for (name, expected) in &reference.files {
        let path: PathBuf = pydicom_dir().join(name);
        let decoded = match within_seconds(60, name, {
            let path = path.clone();
            move || decode_dicom_file(&path)
        }) {
            Ok(result) => result,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let refused = REFUSED_ON_PURPOSE.iter().find(|(n, _)| n == name);
        match (decoded, expected.decodes, refused) {
            (Err(e), _, Some((_, reason))) => {
                let message = e.to_string();
                if !message.contains(reason) || !message.contains(name.as_str()) {
                    problems.push(format!(
                        "{name}: refused with '{message}', expected to name the file and '{reason}'"
                    ));
                }
            }
            (Ok(_), _, Some(_)) => problems.push(format!(
                "{name}: decoded but is listed as refused on purpose"
            )),
            (Err(e), true, None) => {
                problems.push(format!("{name}: pydicom decodes it, Fovea fails: {e}"))
            }
            (Err(e), false, None) => {
                let message = e.to_string();
                if !message.contains(name.as_str()) || message.len() < name.len() + 10 {
                    problems.push(format!(
                        "{name}: error does not say which file and why: '{message}'"
                    ));
                }
            }
            (Ok(image), true, None) => {
                matched += 1;
                problems.extend(compare(name, expected, &image));
            }
            (Ok(image), false, None) => {
                // pydicom cannot decode it; Fovea may, but what it returns must be coherent.
                if image.samples.len() != image.samples_per_frame() * image.frames as usize {
                    problems.push(format!(
                        "{name}: decoded sample count does not match its size"
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(matched >= 45, "only {matched} files compared with pydicom");
}

fn compare(
    name: &str,
    expected: &FileReference,
    image: &fovea::study::DecodedImage,
) -> Vec<String> {
    let mut problems = Vec::new();
    let shape = (image.frames, image.rows, image.columns, image.channels);
    let want = (
        expected.frames,
        expected.rows,
        expected.columns,
        expected.samples_per_pixel,
    );
    if shape != want {
        return vec![format!("{name}: shape {shape:?}, pydicom {want:?}")];
    }
    let tolerance = if expected.lossy {
        LOSSY_POINT_TOLERANCE
    } else {
        0.0
    };
    let mut worst: f64 = 0.0;
    for p in &expected.points {
        let index = ((p.frame as usize * image.rows as usize + p.row as usize)
            * image.columns as usize
            + p.column as usize)
            * usize::from(image.channels)
            + p.sample as usize;
        let got = image.samples.get_f64(index).unwrap_or(f64::NAN);
        worst = worst.max((got - p.value).abs());
    }
    if worst > tolerance || worst.is_nan() {
        problems.push(format!(
            "{name} ({}): sampled pixels differ from pydicom by up to {worst} (allowed {tolerance})",
            expected.transfer_syntax
        ));
    }
    let mean = (0..image.samples.len())
        .filter_map(|i| image.samples.get_f64(i))
        .sum::<f64>()
        / image.samples.len() as f64;
    let mean_tolerance = if expected.lossy { 1.0 } else { 1e-6 };
    if (mean - expected.mean).abs() > mean_tolerance {
        problems.push(format!("{name}: mean {mean}, pydicom {}", expected.mean));
    }
    problems
}

#[test]
fn scanning_the_pydicom_folder_lists_every_file_and_writes_nothing() {
    let before = tree_fingerprint(&pydicom_dir());
    let catalog =
        within_seconds(120, "scan", || scan_paths(&[pydicom_dir()])).expect("scan finishes");
    let after = tree_fingerprint(&pydicom_dir());
    assert_eq!(before, after, "scanning must never write to source files");
    // Every file is accounted for exactly once: an image, unreadable with a reason, or skipped.
    let images = catalog.image_count();
    let accounted =
        images + catalog.unreadable.len() + catalog.skipped.len() + catalog.media_directories.len();
    let files = before.len();
    assert_eq!(
        accounted, files,
        "every file is an image, unreadable, skipped or a DICOMDIR"
    );
    for bad in &catalog.unreadable {
        assert!(
            !bad.reason.is_empty(),
            "{} has an empty reason",
            bad.path.display()
        );
    }
    let truncated = catalog
        .unreadable
        .iter()
        .any(|u| u.path.ends_with("badVR.dcm") || u.path.ends_with("no_meta.dcm"));
    assert!(
        truncated,
        "known-bad files are reported: {:?}",
        catalog.unreadable
    );
    assert!(images >= 50, "only {images} images found");
}

#[test]
fn dicomdir_media_opens_the_files_its_records_reference() {
    let dicomdir = pydicom_dir().join("dicomdirtests/DICOMDIR");
    let catalog = scan_paths(&[dicomdir]);
    // Counted with pydicom from the same DICOMDIR; see tests/data/pydicom/dicomdir_expected.json.
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(pydicom_dir().join("dicomdir_expected.json"))
            .expect("expected counts"),
    )
    .expect("json");
    assert_eq!(
        catalog.patients.len() as u64,
        expected["patients"].as_u64().expect("patients")
    );
    assert_eq!(
        catalog.image_count() as u64,
        expected["images"].as_u64().expect("images")
    );
    let ids: Vec<&str> = catalog
        .patients
        .iter()
        .map(|p| p.info.id.as_str())
        .collect();
    let want: Vec<&str> = expected["patient_ids"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(ids, want);
}
