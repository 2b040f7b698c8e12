//! Building and extending a library from studies with known findings: every patient is
//! analyzed with the library's pack (gradeability, image vectors, the eyes' fused vectors),
//! its gradable images of a labelled eye are stored with a thumbnail, and the patient is
//! committed in one transaction. Patients without labels are skipped and reported.
//!
//! No identifier leaves the studies unless the library keeps identifiers: case ids are
//! derived ([`super::deid`]), file names and paths are not stored, thumbnails are pixels
//! only (DICOM pixel data carries no burned-in text in the demo; a clinic's own studies with
//! burned-in annotations need the user's judgement before they become reference cases).

use std::io::Cursor;

use sha2::{Digest, Sha256};

use super::error::LibraryError;
use super::labels::Labels;
use super::record::{CaseEye, CaseImage};
use super::store::{Added, Library, NewCase, NewEye, NewImage, NewLibrary};
use crate::analysis::engine::Analyzer;
use crate::study::model::{Catalog, ImageRecord, Patient};
use crate::study::pixels::decode_image;
use crate::study::{Eye, Modality};

/// Longest side of stored thumbnails, px.
pub const THUMBNAIL_PX: u32 = 128;

/// JPEG quality of thumbnails (a 128-px fundus thumbnail is ~5 KB, a fifth of a PNG's).
pub const THUMBNAIL_JPEG_QUALITY: u8 = 85;

/// Progress of a build, after each patient.
#[derive(Debug, Clone)]
pub struct BuildProgress {
    /// Patients done.
    pub done: usize,
    /// Of how many.
    pub total: usize,
}

/// What a build or add did.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    /// Patients with at least one image stored.
    pub patients: usize,
    /// Totals.
    pub added: Added,
    /// Patients or images left out, with the reason.
    pub skipped: Vec<String>,
}

/// Creates an empty library in `dir` for `analyzer`'s pack and `labels`' findings; `salt`:
/// see [`NewLibrary::salt`] (`None` for a fresh secret).
pub fn create_library(
    dir: &std::path::Path,
    analyzer: &Analyzer,
    labels: &Labels,
    keep_identifiers: bool,
    salt: Option<String>,
) -> Result<Library, LibraryError> {
    let stamp = analyzer.stamp();
    let pack_findings: Vec<String> = analyzer
        .session()
        .manifest()
        .findings
        .iter()
        .map(|f| f.id.clone())
        .collect();
    let mut finding_ids = pack_findings;
    for id in &labels.finding_ids {
        if !finding_ids.contains(id) {
            finding_ids.push(id.clone());
        }
    }
    Library::create(
        dir,
        NewLibrary {
            pack_name: stamp.name.clone(),
            pack_version: stamp.version.clone(),
            pack_sha256: stamp.weights_sha256.clone(),
            synthetic_pack: stamp.synthetic_training_data,
            image_dim: 0,
            eye_dim: 0,
            keep_identifiers,
            finding_ids,
            salt,
        },
    )
}

/// Adds every labelled patient of `catalog`, one transaction per patient.
pub fn add_catalog(
    library: &mut Library,
    analyzer: &Analyzer,
    catalog: &Catalog,
    labels: &Labels,
    progress: &mut dyn FnMut(BuildProgress),
) -> Result<BuildReport, LibraryError> {
    let stamp = analyzer.stamp();
    library.check_pack(&stamp.name, &stamp.weights_sha256)?;
    let mut report = BuildReport::default();
    for file in &catalog.unreadable {
        report
            .skipped
            .push(format!("{}: {}", file.path.display(), file.reason));
    }
    let total = catalog.patients.len();
    for (done, patient) in catalog.patients.iter().enumerate() {
        let case = case_of(library, analyzer, patient, labels, &mut report.skipped)?;
        if !case.images.is_empty() {
            let added = library.add_case(case)?;
            if added.images > 0 {
                report.patients += 1;
            }
            report.added.images += added.images;
            report.added.eyes += added.eyes;
            report.added.duplicates += added.duplicates;
        }
        progress(BuildProgress {
            done: done + 1,
            total,
        });
    }
    Ok(report)
}

fn case_of(
    library: &Library,
    analyzer: &Analyzer,
    patient: &Patient,
    labels: &Labels,
    skipped: &mut Vec<String>,
) -> Result<NewCase, LibraryError> {
    // Reported by the case id, so that the report itself carries no identifier.
    let case_id = library.case_id(&patient.info.id);
    let shown = if library.meta().keep_identifiers {
        patient.info.id.clone()
    } else {
        case_id.clone()
    };
    let labelled = [Eye::Right, Eye::Left].map(|e| labels.of(&patient.info.id, e));
    if labelled.iter().all(Option::is_none) {
        skipped.push(format!("{shown}: no labels for this patient"));
        return Ok(NewCase::default());
    }
    let patient_id = library
        .meta()
        .keep_identifiers
        .then(|| patient.info.id.clone());
    let result = analyzer.analyze_patient(patient)?;
    let records: Vec<&ImageRecord> = patient.images().collect();
    let mut case = NewCase::default();
    let mut index_of_path = Vec::new();
    for (image, record) in result.images.iter().zip(records) {
        let Some(findings) = labels.of(&patient.info.id, image.eye) else {
            continue;
        };
        let Some(vector) = &image.vector else {
            continue;
        };
        let (thumbnail_jpeg, source_sha256) = match thumbnail_and_source(record, image.frame) {
            Ok(pair) => pair,
            Err(reason) => {
                skipped.push(format!("{shown} {} image: {reason}", image.eye.label()));
                continue;
            }
        };
        index_of_path.push((image.path.clone(), case.images.len()));
        case.images.push(NewImage {
            record: CaseImage {
                case_id: case_id.clone(),
                patient_id: patient_id.clone(),
                modality: image.modality,
                eye: image.eye,
                frame: image.frame,
                findings: findings.to_vec(),
                eye_id: None,
            },
            vector: vector.clone(),
            thumbnail_jpeg,
            source_sha256,
        });
    }
    for eye in &result.eyes {
        let (Some(fused), Some(findings)) = (&eye.fused, labels.of(&patient.info.id, eye.eye))
        else {
            continue;
        };
        let images: Vec<usize> = eye
            .contributing
            .iter()
            .filter_map(|path| {
                index_of_path
                    .iter()
                    .find(|(p, _)| p == path)
                    .map(|(_, i)| *i)
            })
            .collect();
        let mut modalities: Vec<Modality> = images
            .iter()
            .map(|&i| case.images[i].record.modality)
            .collect();
        modalities.sort();
        modalities.dedup();
        case.eyes.push(NewEye {
            record: CaseEye {
                case_id: case_id.clone(),
                patient_id: patient_id.clone(),
                eye: eye.eye,
                findings: findings.to_vec(),
                image_ids: Vec::new(),
                modalities,
            },
            vector: fused.clone(),
            images,
        });
    }
    Ok(case)
}

/// A JPEG thumbnail of the analyzed frame and the fingerprint of the source (bytes + frame).
fn thumbnail_and_source(record: &ImageRecord, frame: u32) -> Result<(Vec<u8>, String), String> {
    let bytes = std::fs::read(record.source.file()).map_err(|e| e.to_string())?;
    let mut hasher = Sha256::new();
    hasher.update(&bytes);
    hasher.update(frame.to_le_bytes());
    if let crate::study::model::ImageSource::HeidelbergVol {
        part: crate::study::model::VolPart::Slo,
        ..
    } = &record.source
    {
        // The SLO and the first B-scan live in one file: tell them apart.
        hasher.update(b"slo");
    }
    let source: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let decoded = decode_image(record).map_err(|e| e.to_string())?;
    let rgb = decoded
        .frame_to_rgb8(frame)
        .ok_or_else(|| format!("frame {frame} cannot be shown"))?;
    let (w, h) = rgb.dimensions();
    let scale = f64::from(THUMBNAIL_PX) / f64::from(w.max(h).max(1));
    let (tw, th) = (
        ((f64::from(w) * scale).round() as u32).max(1),
        ((f64::from(h) * scale).round() as u32).max(1),
    );
    let small = image::imageops::thumbnail(&rgb, tw, th);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(
        &mut Cursor::new(&mut jpeg),
        THUMBNAIL_JPEG_QUALITY,
    )
    .encode_image(&small)
    .map_err(|e| e.to_string())?;
    Ok((jpeg, source))
}
