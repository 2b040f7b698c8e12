//! Raw DICOM data sets (no preamble, no `DICM`, no file meta): made here from the demo files
//! (implicit and explicit VR little endian) and from the real Spectralis OP (its JPEG Lossless
//! pixels written natively), they scan, group and decode like the originals, noted "no file
//! meta"; no file of the project that is not DICOM is taken for one.

use std::path::{Path, PathBuf};

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use fovea::study::model::{ImageRecord, ImageSource};
use fovea::study::pixels::{Samples, decode_dicom_file};
use fovea::study::scan_paths;

fn write_raw(dataset: &dicom_object::InMemDicomObject, out: &Path, ts_uid: &str) {
    let ts = TransferSyntaxRegistry.get(ts_uid).expect("transfer syntax");
    let file = std::fs::File::create(out).expect("create");
    dataset
        .write_dataset_with_ts(std::io::BufWriter::new(file), ts)
        .expect("write the data set alone");
}

fn only_record(path: &Path) -> ImageRecord {
    let catalog = scan_paths(&[path.to_path_buf()]);
    assert!(catalog.unreadable.is_empty(), "{:?}", catalog.unreadable);
    assert!(catalog.skipped.is_empty(), "{:?}", catalog.skipped);
    let records: Vec<ImageRecord> = catalog
        .patients
        .iter()
        .flat_map(|p| p.images().cloned())
        .collect();
    assert_eq!(records.len(), 1, "{}", path.display());
    records.into_iter().next().expect("one")
}

#[test]
fn raw_data_sets_from_the_demo_files_scan_and_decode_like_the_originals() {
    let dir = tempfile::tempdir().expect("tmp");
    let demo = &crate::support::demo_set().root;
    let mut originals: Vec<PathBuf> = walkdir::WalkDir::new(demo.join("dicom"))
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .map(|e| e.path().to_path_buf())
        .filter(|p| {
            let name = p.to_string_lossy();
            name.ends_with("_OD_fundus.dcm") || name.ends_with("_OD_oct.dcm")
        })
        .collect();
    originals.truncate(2);
    assert_eq!(originals.len(), 2, "a fundus photograph and an OCT volume");
    for original in &originals {
        let object = dicom_object::open_file(original).expect("demo file");
        let dataset = object.into_inner();
        for (ts, label) in [
            (
                dicom_dictionary_std::uids::IMPLICIT_VR_LITTLE_ENDIAN,
                "implicit",
            ),
            (
                dicom_dictionary_std::uids::EXPLICIT_VR_LITTLE_ENDIAN,
                "explicit",
            ),
        ] {
            let raw = dir.path().join(format!(
                "{label}-{}",
                original.file_stem().expect("name").to_string_lossy()
            ));
            write_raw(&dataset, &raw, ts);
            let bytes = std::fs::read(&raw).expect("read");
            assert!(
                bytes.len() < 132 || &bytes[128..132] != b"DICM",
                "no preamble"
            );
            let got = only_record(&raw);
            let want = only_record(original);
            assert_eq!(
                (got.modality, got.eye, got.columns, got.rows, got.frames),
                (
                    want.modality,
                    want.eye,
                    want.columns,
                    want.rows,
                    want.frames
                ),
                "{label} {}",
                original.display()
            );
            let ImageSource::Dicom {
                transfer_syntax_uid,
                ..
            } = &got.source
            else {
                panic!("a DICOM source")
            };
            assert_eq!(transfer_syntax_uid, ts, "the encoding is detected");
            assert!(
                got.description
                    .as_deref()
                    .is_some_and(|d| d.contains("no file meta")),
                "the catalog notes it: {:?}",
                got.description
            );
            assert_eq!(
                decode_dicom_file(&raw).expect("decodes").samples,
                decode_dicom_file(original).expect("decodes").samples,
                "{label} {}: same pixels",
                original.display()
            );
        }
    }
}

#[test]
fn a_raw_data_set_made_from_the_real_spectralis_op_decodes_to_its_pixels() {
    let Some(real) = crate::support::real_material("dicom") else {
        return;
    };
    let original = real.join("spectralis-ir-op.dcm");
    let want = decode_dicom_file(&original).expect("the original decodes");
    let Samples::U8(pixels) = &want.samples else {
        panic!("8-bit samples")
    };
    let mut dataset = dicom_object::open_file(&original)
        .expect("opens")
        .into_inner();
    // A raw data set has no transfer syntax to say "JPEG": its pixels are stored natively.
    dataset.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::from(pixels.clone()),
    ));
    let dir = tempfile::tempdir().expect("tmp");
    let raw = dir.path().join("spectralis-op-raw");
    write_raw(
        &dataset,
        &raw,
        dicom_dictionary_std::uids::IMPLICIT_VR_LITTLE_ENDIAN,
    );
    let record = only_record(&raw);
    assert_eq!((record.columns, record.rows), (1536, 1536));
    assert_eq!(record.eye, fovea::study::Eye::Right);
    assert_eq!(
        decode_dicom_file(&raw).expect("decodes").samples,
        want.samples
    );
}

/// Every file of the project and of the real material that is not DICOM: none is taken for a
/// raw data set (the false-positive rate is 0 of them).
#[test]
fn files_that_are_not_dicom_are_never_read_as_raw_data_sets() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut folders = vec![
        root.join("tests/data"),
        root.join("assets"),
        root.join("models"),
        root.join("src"),
    ];
    folders.extend(crate::support::real_material(""));
    let mut checked = 0;
    let mut false_positives = Vec::new();
    for folder in folders {
        for entry in walkdir::WalkDir::new(folder).into_iter().flatten() {
            let path = entry.path();
            if !entry.file_type().is_file() {
                continue;
            }
            let is_part10 = fovea::study::dicom_meta::has_dicom_magic(path).unwrap_or(false);
            let named_dicom = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("dcm"));
            if is_part10 || named_dicom {
                continue;
            }
            checked += 1;
            if fovea::study::raw_dicom::detect_file(path)
                .expect("readable")
                .is_some()
            {
                false_positives.push(path.to_path_buf());
            }
        }
    }
    assert!(checked > 100, "{checked} files checked");
    assert!(
        false_positives.is_empty(),
        "{} of {checked} non-DICOM files taken for raw data sets: {false_positives:?}",
        false_positives.len()
    );
}
