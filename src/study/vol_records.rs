//! A Heidelberg `.vol` file in the studies tree: its OCT volume (with each B-scan's line on
//! the SLO as localizer lines) and its SLO, as two images of one eye, with the patient and
//! visit from the file header (see [`super::heidelberg_vol`] for the format).

use std::path::{Path, PathBuf};

use super::dicom_meta::ScannedImage;
use super::heidelberg_vol::{VolError, read_header, read_lines};

/// ScanPattern of a circle scan (one B-scan around the optic disc).
const CIRCLE_SCAN: i32 = 2;

/// A circle scan's path on the SLO in mm: from its start point around its centre, closed.
fn circle(start: (f64, f64), centre: (f64, f64)) -> Vec<(f64, f64)> {
    const STEPS: usize = 72;
    let (dx, dy) = (start.0 - centre.0, start.1 - centre.1);
    let radius = dx.hypot(dy);
    let first = dy.atan2(dx);
    (0..=STEPS)
        .map(|i| {
            let angle = first + std::f64::consts::TAU * i as f64 / STEPS as f64;
            (
                centre.0 + radius * angle.cos(),
                centre.1 + radius * angle.sin(),
            )
        })
        .collect()
}

/// The two images of a `.vol` file for the studies tree: its OCT volume (with its B-scans'
/// lines on the SLO) and its SLO.
pub fn scanned_images(path: &Path) -> Result<Vec<ScannedImage>, VolError> {
    use super::model::{
        BscanLocation, EyeSource, ImagePoint, ImageRecord, ImageSource, LocalizerReference,
        Modality, PatientInfo, PixelSpacingMm, StudyInfo, VolPart,
    };
    let (header, _) = read_header(path)?;
    let lines = read_lines(path, &header)?;
    let key = if header.scan_id.is_empty() {
        path.display().to_string()
    } else {
        header.scan_id.clone()
    };
    let slo_uid = format!("vol:{key}:slo");
    let patient_id = if header.patient_id.is_empty() {
        super::model::PatientInfo::file_key(path)
    } else {
        header.patient_id.clone()
    };
    let (eye, eye_source) = match header.eye() {
        Some(eye) => (eye, EyeSource::ScanPosition),
        None => (super::model::Eye::Unknown, EyeSource::NotDetermined),
    };
    let to_px = |(x, y): (f64, f64)| ImagePoint {
        x: if header.slo_scale_x_mm > 0.0 {
            x / header.slo_scale_x_mm
        } else {
            x
        },
        y: if header.slo_scale_y_mm > 0.0 {
            y / header.slo_scale_y_mm
        } else {
            y
        },
    };
    let description = Some(format!(
        "Heidelberg Spectralis raw export ({})",
        header.version
    ));
    let record = |part: VolPart| {
        let (modality, columns, rows, frames, bits, spacing, localizer) = match part {
            VolPart::Bscans => (
                Modality::Oct,
                header.size_x,
                header.size_z,
                header.num_bscans,
                16,
                (header.scale_z_mm, header.scale_x_mm),
                Some(LocalizerReference {
                    sop_instance_uid: slo_uid.clone(),
                    bscan_locations: lines
                        .iter()
                        .enumerate()
                        .map(|(frame_index, [a, b])| BscanLocation {
                            frame_index,
                            points: if header.scan_pattern == CIRCLE_SCAN {
                                circle(*a, *b).into_iter().map(to_px).collect()
                            } else {
                                vec![to_px(*a), to_px(*b)]
                            },
                        })
                        .collect(),
                }),
            ),
            VolPart::Slo => (
                Modality::SloIr,
                header.slo_width,
                header.slo_height,
                1,
                8,
                (header.slo_scale_y_mm, header.slo_scale_x_mm),
                None,
            ),
        };
        ImageRecord {
            source: ImageSource::HeidelbergVol {
                path: match part {
                    VolPart::Bscans => path.to_path_buf(),
                    VolPart::Slo => PathBuf::from(format!("{}#slo", path.display())),
                },
                file: path.to_path_buf(),
                part,
                instance_uid: match part {
                    VolPart::Bscans => format!("vol:{key}:oct"),
                    VolPart::Slo => slo_uid.clone(),
                },
            },
            modality,
            eye,
            eye_source,
            acquisition_datetime: header.exam_datetime.clone(),
            columns: columns as u32,
            rows: rows as u32,
            frames: frames as u32,
            samples_per_pixel: 1,
            bits_allocated: bits,
            photometric_interpretation: "MONOCHROME2".to_string(),
            pixel_spacing_mm: (spacing.0 > 0.0 && spacing.1 > 0.0).then_some(PixelSpacingMm {
                row_mm: spacing.0,
                column_mm: spacing.1,
            }),
            series_instance_uid: Some(format!("vol:{key}")),
            frame_of_reference_uid: Some(format!("vol:{key}")),
            localizer,
            description: description.clone(),
        }
    };
    let study_date = header.visit_date.clone().or_else(|| {
        header
            .exam_datetime
            .as_ref()
            .map(|t| t[..10].replace('-', ""))
    });
    let study = StudyInfo {
        instance_uid: format!(
            "vol:{patient_id}:{}",
            study_date.clone().unwrap_or_else(|| key.clone())
        ),
        date: study_date,
        description: Some("Heidelberg Spectralis (.vol)".to_string()),
        accession_number: None,
        institution: None,
    };
    let patient = PatientInfo {
        id: patient_id,
        name: None,
        birth_date: header.birth_date.clone(),
        sex: None,
    };
    let mut images = Vec::with_capacity(2);
    if header.num_bscans > 0 {
        images.push(ScannedImage {
            patient: patient.clone(),
            study: study.clone(),
            record: record(VolPart::Bscans),
        });
    }
    images.push(ScannedImage {
        patient,
        study,
        record: record(VolPart::Slo),
    });
    Ok(images)
}
