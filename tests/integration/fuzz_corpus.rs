//! The fuzz corpus replayed: every saved input of `fuzz/corpus/<target>` and every crash file
//! of `fuzz/regressions/<target>` goes through the same parser entry points the fuzz targets
//! call ([`fovea::reliability::feed`]), so a crash found once stays fixed. `packaging/fuzz.sh`
//! runs the fuzzers (not CI: instrumented builds compile every dependency again) and writes the
//! seeds with the ignored test [`writes_the_seed_corpora`].

use std::path::{Path, PathBuf};

use fovea::reliability::{ParserTarget, feed};
use fovea::study::heidelberg_vol::VolFile;
use fovea::synth::vol_writer::VolumeShape;

fn fuzz_dir() -> PathBuf {
    crate::support::root().join("fuzz")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Every saved input and crash file goes through its parser without a panic; each target's
/// corpus is there, and some of its inputs are accepted (a target whose every input is refused
/// would be fuzzing nothing but the first check).
#[test]
fn every_saved_input_and_crash_file_is_parsed_without_a_panic() {
    for target in ParserTarget::ALL {
        let corpus = files_in(&fuzz_dir().join("corpus").join(target.name()));
        let crashes = files_in(&fuzz_dir().join("regressions").join(target.name()));
        assert!(
            corpus.len() >= 3,
            "fuzz/corpus/{} holds {} inputs: run packaging/fuzz.sh",
            target.name(),
            corpus.len()
        );
        let mut accepted = 0;
        for file in corpus.iter().chain(&crashes) {
            let bytes = std::fs::read(file).expect("read a saved input");
            let outcome = std::panic::catch_unwind(|| feed(target, &bytes));
            match outcome {
                Ok(Ok(true)) => accepted += 1,
                Ok(Ok(false)) => {}
                Ok(Err(e)) => panic!("{}: temporary file: {e}", file.display()),
                Err(_) => panic!("{} panicked on {}", target.name(), file.display()),
            }
        }
        assert!(
            accepted > 0,
            "{}: none of {} inputs was accepted",
            target.name(),
            corpus.len()
        );
    }
}

/// The entry points refuse what they should: an empty input, and another parser's file.
#[test]
fn the_entry_points_refuse_empty_and_foreign_inputs() {
    for target in ParserTarget::ALL {
        assert!(!feed(target, b"").expect("temp file"), "{}", target.name());
        assert_eq!(ParserTarget::from_name(target.name()), Some(target));
    }
    let csv = b"patient_id,eye,findings\nP1,OD,dr\n";
    assert!(feed(ParserTarget::LabelsCsv, csv).expect("temp file"));
    assert!(!feed(ParserTarget::HeidelbergVol, csv).expect("temp file"));
    assert!(!feed(ParserTarget::DicomMetadata, csv).expect("temp file"));
    assert!(!feed(ParserTarget::FindingSet, csv).expect("temp file"));
}

/// A small multi-B-scan volume with gaps in one layer and an invalid sample.
fn seed_volume() -> VolFile {
    fovea::synth::vol_writer::synthetic_volume(&VolumeShape {
        size_x: 16,
        size_z: 12,
        bscans: 3,
        layers: 2,
        invalid_every: 37,
        scale_x_mm: 0.05,
        distance_mm: 0.1,
        slo_px: 16,
        slo_scale_mm: 0.06,
        eye: "OD",
        patient_id: "FUZZ-1",
    })
}

/// Writes `fuzz/corpus/<target>/seed-*` from the project's own test files and from `synth`
/// (run by `packaging/fuzz.sh`; ignored in the ordinary run).
#[test]
#[ignore = "writes the seed corpora for packaging/fuzz.sh"]
fn writes_the_seed_corpora() {
    let root = crate::support::root();
    let pydicom = root.join("tests/data/pydicom");
    let small_dicoms: Vec<PathBuf> = files_in(&pydicom)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() <= 8 * 1024))
        .collect();
    let mut seeds: Vec<(ParserTarget, String, Vec<u8>)> = Vec::new();
    for path in &small_dicoms {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let bytes = std::fs::read(path).expect("read");
        seeds.push((ParserTarget::DicomMetadata, name.clone(), bytes.clone()));
        seeds.push((ParserTarget::DicomPixels, name.clone(), bytes.clone()));
        if bytes.len() > 132 && &bytes[128..132] == b"DICM" {
            // The data set alone: skip the preamble and the file meta group (0002,xxxx), which
            // is explicit VR little endian.
            let mut at = 132;
            while at + 8 <= bytes.len() && bytes[at] == 0x02 && bytes[at + 1] == 0x00 {
                let vr = &bytes[at + 4..at + 6];
                let (len, header) = if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT") {
                    let l = &bytes[at + 8..at + 12];
                    (u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize, 12)
                } else {
                    (
                        u16::from_le_bytes([bytes[at + 6], bytes[at + 7]]) as usize,
                        8,
                    )
                };
                at += header + len;
            }
            if at < bytes.len() {
                seeds.push((ParserTarget::RawDicom, name, bytes[at..].to_vec()));
            }
        } else {
            seeds.push((ParserTarget::RawDicom, name, bytes));
        }
    }
    let volume = seed_volume();
    let vol = fovea::synth::vol_writer::vol_bytes(&volume);
    seeds.push((
        ParserTarget::HeidelbergVol,
        "synthetic.vol".into(),
        vol.clone(),
    ));
    let mut circle = seed_volume();
    circle.header.scan_pattern = 2;
    circle.header.num_bscans = 1;
    circle.bscans.truncate(1);
    circle.header.scan_position = "OS".into();
    seeds.push((
        ParserTarget::HeidelbergVol,
        "circle.vol".into(),
        fovea::synth::vol_writer::vol_bytes(&circle),
    ));
    seeds.push((
        ParserTarget::HeidelbergVol,
        "trailing.vol".into(),
        [vol.as_slice(), &[0_u8; 132]].concat(),
    ));
    let sidecar =
        br#"{"patient_id":"P1","eye":"OD","modality":"colour_fundus","pixel_spacing_mm":0.01}"#;
    for (name, image) in tiny_images() {
        let mut with = (sidecar.len() as u16).to_le_bytes().to_vec();
        with.extend_from_slice(sidecar);
        with.extend_from_slice(&image);
        seeds.push((ParserTarget::PlainImage, format!("{name}-sidecar"), with));
        let mut without = vec![0_u8, 0];
        without.extend_from_slice(&image);
        seeds.push((ParserTarget::PlainImage, name, without));
    }
    let manifest = std::fs::read(root.join("models/demo/manifest.json")).expect("demo manifest");
    seeds.push((
        ParserTarget::PackManifest,
        "demo.json".into(),
        manifest.clone(),
    ));
    // Smaller variants (the fuzzer reads at most 64 KiB of an input): without the domain
    // description's vectors, and without the finding set and classifier too.
    let mut value: serde_json::Value = serde_json::from_slice(&manifest).expect("JSON");
    let object = value.as_object_mut().expect("an object");
    object.remove("domain");
    seeds.push((
        ParserTarget::PackManifest,
        "demo-no-domain.json".into(),
        serde_json::to_vec_pretty(&value).expect("JSON"),
    ));
    let object = value.as_object_mut().expect("an object");
    object.remove("finding_set");
    object.insert("classifier".into(), serde_json::Value::Null);
    seeds.push((
        ParserTarget::PackManifest,
        "demo-bare.json".into(),
        serde_json::to_vec(&value).expect("JSON"),
    ));
    for set in files_in(&root.join("models/finding-sets")) {
        let name = set.file_name().expect("name").to_string_lossy().to_string();
        seeds.push((
            ParserTarget::FindingSet,
            name,
            std::fs::read(&set).expect("read"),
        ));
    }
    for (name, csv) in [
        (
            "plain.csv",
            "patient_id,eye,findings\nP1,OD,dr_moderate\nP1,OS,\nP2,OS,amd;glaucoma\n",
        ),
        (
            "bom-quoted.csv",
            "\u{feff}Patient_ID,Eye,Findings\n\"P 3\",right,\"dr, amd\"\n",
        ),
        ("reordered.csv", "findings,patient_id,eye\nnormal,P9,L\n"),
    ] {
        seeds.push((
            ParserTarget::LabelsCsv,
            name.into(),
            csv.as_bytes().to_vec(),
        ));
    }
    for (target, name, bytes) in seeds {
        let dir = fuzz_dir().join("corpus").join(target.name());
        std::fs::create_dir_all(&dir).expect("corpus folder");
        std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write a seed");
    }
}

/// Tiny PNG, JPEG, TIFF and BMP files (RGB and grey) made with `image`.
fn tiny_images() -> Vec<(String, Vec<u8>)> {
    let rgb = image::RgbImage::from_fn(12, 10, |x, y| image::Rgb([x as u8 * 20, y as u8 * 25, 90]));
    let grey = image::GrayImage::from_fn(9, 7, |x, y| image::Luma([(x * y * 4) as u8]));
    let mut out = Vec::new();
    for (ext, format) in [
        ("png", image::ImageFormat::Png),
        ("jpg", image::ImageFormat::Jpeg),
        ("tif", image::ImageFormat::Tiff),
        ("bmp", image::ImageFormat::Bmp),
    ] {
        for (kind, picture) in [
            ("rgb", image::DynamicImage::ImageRgb8(rgb.clone())),
            ("grey", image::DynamicImage::ImageLuma8(grey.clone())),
        ] {
            let mut bytes = std::io::Cursor::new(Vec::new());
            picture.write_to(&mut bytes, format).expect("encode");
            out.push((format!("{kind}.{ext}"), bytes.into_inner()));
        }
    }
    out
}

/// The out-of-memory inputs the fuzzers found are refused before anything is allocated for
/// them: a 463-byte JPEG claiming 30,255 × 12,545 pixels (it took 1.5 GB), pydicom's
/// `UN_sequence.dcm`, where dicom-rs asked for 3.7 GB (the length guard's own test is in
/// `damaged_files`), mutated files where it asked for 1–3.8 GB (a meta group whose element
/// order only dicom-rs's own reader follows, a raw data set, a pixel fragment, Pixel Data
/// inside an item that never ends), a JPEG 2000 frame declaring 100 × 2,097,252 pixels in a
/// 100 × 100 data set (OpenJPEG asked for 2.1 GB), and an RLE file on which dicom-rs's
/// decoder panics.
#[test]
fn the_out_of_memory_inputs_are_refused_before_decoding() {
    use fovea::study::StudyError;
    let dir = tempfile::tempdir().expect("tmp");
    let mut seen = 0;
    for input in files_in(&fuzz_dir().join("regressions/plain_image")) {
        let bytes = std::fs::read(&input).expect("read");
        let image = dir.path().join("photo.png");
        std::fs::write(&image, fovea::reliability::parsers::split_sidecar(&bytes).1).expect("w");
        if !input
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("oom-"))
        {
            // A panic inside zune-jpeg (a JPEG-compressed TIFF strip): a damaged file.
            let decoded = fovea::study::pixels::decode_plain_file(&image);
            assert!(decoded.is_err(), "{}", input.display());
            continue;
        }
        let scanned = fovea::study::plain::read_plain_image(&image);
        assert!(
            matches!(scanned, Err(StudyError::ImageTooLarge { .. })),
            "{}: {:?}",
            input.display(),
            scanned.err()
        );
        let decoded = fovea::study::pixels::decode_plain_file(&image);
        assert!(matches!(decoded, Err(StudyError::ImageTooLarge { .. })));
        seen += 1;
    }
    assert!(seen > 0, "the JPEG is kept in fuzz/regressions/plain_image");
    for target in ["dicom_metadata", "dicom_pixels"] {
        for input in files_in(&fuzz_dir().join("regressions").join(target)) {
            let path = dir.path().join("image.dcm");
            std::fs::copy(&input, &path).expect("copy");
            let name = input
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string();
            if name.starts_with("oom-") && target == "dicom_metadata" {
                let Err(error) = fovea::study::dicom_meta::read_dicom_file(&path) else {
                    panic!("{name}: refused");
                };
                assert!(error.to_string().contains("claims"), "{name}: {error}");
            } else if name.starts_with("oom-") {
                // An element or fragment longer than the file, or a JPEG 2000 frame declaring
                // more rows than the data set (OpenJPEG asked for 2.1 GB).
                let Err(error) = fovea::study::pixels::decode_dicom_file(&path) else {
                    panic!("{name}: refused");
                };
                let text = error.to_string();
                assert!(
                    text.contains("claims") || text.contains("declares"),
                    "{name}: {text}"
                );
            } else {
                // A panic inside dicom-rs's RLE decoder: a damaged file, not a crash.
                let Err(error) = fovea::study::pixels::decode_dicom_file(&path) else {
                    panic!("refused");
                };
                assert!(error.to_string().contains("damaged"), "{name}: {error}");
            }
        }
    }
    // A mutated RT plan data set on which dicom-rs asked for 3.8 GB.
    let raw = files_in(&fuzz_dir().join("regressions/raw_dicom"));
    assert!(!raw.is_empty());
    for input in raw {
        let bytes = std::fs::read(&input).expect("read");
        let encoding = fovea::study::raw_dicom::detect(&bytes, bytes.len() as u64)
            .expect("taken for a raw data set");
        let path = dir.path().join("raw");
        std::fs::write(&path, &bytes).expect("write");
        let Err(error) = fovea::study::raw_dicom::open_raw(&path, encoding) else {
            panic!("refused");
        };
        assert!(error.to_string().contains("claims"), "{error}");
    }
}
