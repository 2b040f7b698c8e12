//! Plain images (PNG, JPEG, TIFF, BMP): size from the header, patient and eye from a sidecar,
//! the folder's `patient.json`, or the file name.
//!
//! Conventions (also in the README):
//! - `<name>.json` beside `<name>.png` (an image sidecar) may give `patient_id`, `patient_name`,
//!   `birth_date`, `sex`, `study_date`, `study_description`, `eye` (`OD`/`OS`/`OU`),
//!   `modality` (e.g. `colour_fundus`, `slo_ir`, `oct`), `acquisition_datetime` and
//!   `pixel_spacing_mm`; other fields are ignored.
//! - `patient.json` in the folder gives the patient fields for every image in that folder.
//! - Otherwise each file is its own unknown patient.
//! - Eye from the file name: a word `OD`, `R`, `RE`, `right` → right eye; `OS`, `L`, `LE`,
//!   `left` → left eye (words are split at any non-letter/digit). Both or neither → unknown.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::dicom_meta::ScannedImage;
use super::error::StudyError;
use super::model::{
    Eye, EyeSource, ImageRecord, ImageSource, Modality, PatientInfo, PixelSpacingMm, StudyInfo,
};
use crate::path_error::{AtPath, PathError};

/// File extensions read as plain images.
pub const PLAIN_IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "tif", "tiff", "bmp"];

/// The largest plain image decoded, in megapixels. Fundus cameras export up to ≈ 24 MP and
/// ultra-widefield devices ≈ 16 MP: a header claiming more is damaged or not an eye image,
/// and decoding it would take gigabytes (found by fuzzing: a 463-byte JPEG claiming
/// 30,255 × 12,545 pixels).
pub const MAX_PLAIN_MEGAPIXELS: u64 = 64;

/// Refuses sizes over [`MAX_PLAIN_MEGAPIXELS`].
pub fn check_plain_size(path: &Path, columns: u32, rows: u32) -> Result<(), StudyError> {
    if u64::from(columns) * u64::from(rows) > MAX_PLAIN_MEGAPIXELS * 1_000_000 {
        return Err(StudyError::ImageTooLarge {
            path: path.to_path_buf(),
            columns,
            rows,
            limit_megapixels: MAX_PLAIN_MEGAPIXELS,
        });
    }
    Ok(())
}

/// Whether a path has a plain-image extension.
pub fn is_plain_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| PLAIN_IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Optional facts about a plain image or a folder of them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Sidecar {
    /// Patient ID.
    pub patient_id: Option<String>,
    /// Patient name, DICOM PN form.
    pub patient_name: Option<String>,
    /// Birth date, `YYYYMMDD`.
    pub birth_date: Option<String>,
    /// `M`, `F` or `O`.
    pub sex: Option<String>,
    /// Study date, `YYYYMMDD`.
    pub study_date: Option<String>,
    /// Study description.
    pub study_description: Option<String>,
    /// `OD`, `OS` or `OU`.
    pub eye: Option<Eye>,
    /// Modality name as in [`Modality`]'s serde form.
    pub modality: Option<Modality>,
    /// Acquisition date-time.
    pub acquisition_datetime: Option<String>,
    /// Isotropic pixel size in mm.
    pub pixel_spacing_mm: Option<f64>,
}

fn read_sidecar(path: &Path) -> Result<Option<Sidecar>, StudyError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).at_path(path)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PathError {
            path: path.to_path_buf(),
            source,
        }
        .into()),
    }
}

/// The image sidecar path for an image: `<stem>.json` beside it.
pub fn sidecar_path(image: &Path) -> PathBuf {
    image.with_extension("json")
}

/// Reads a plain image's header and its sidecars into a [`ScannedImage`], its name read by the
/// built-in patterns ([`super::file_names`]).
pub fn read_plain_image(path: &Path) -> Result<ScannedImage, StudyError> {
    read_plain_image_named(path, &super::file_names::NamePatterns::default())
}

/// Reads a plain image's header and its sidecars into a [`ScannedImage`], its name read by
/// `names`.
pub fn read_plain_image_named(
    path: &Path,
    names: &super::file_names::NamePatterns,
) -> Result<ScannedImage, StudyError> {
    let reader = image::ImageReader::open(path)
        .at_path(path)?
        .with_guessed_format()
        .at_path(path)?;
    if reader.format().is_none() {
        return Err(StudyError::UnknownFormat {
            path: path.to_path_buf(),
        });
    }
    let mut decoder = reader.into_decoder().at_path(path)?;
    let (columns, rows) = image::ImageDecoder::dimensions(&decoder);
    check_plain_size(path, columns, rows)?;
    let color = image::ImageDecoder::color_type(&decoder);
    // The ICC profile is irrelevant here; asking for it only finishes header parsing.
    let _ = image::ImageDecoder::icc_profile(&mut decoder);
    let sidecar = read_sidecar(&sidecar_path(path))?;
    let folder = path.parent().map(|p| p.join("patient.json"));
    let folder_sidecar = match folder {
        Some(f) => read_sidecar(&f)?,
        None => None,
    };
    let merged = merge(sidecar.clone(), folder_sidecar.clone());
    let patient_known = sidecar.as_ref().is_some_and(|s| s.patient_id.is_some())
        || folder_sidecar
            .as_ref()
            .is_some_and(|s| s.patient_id.is_some());
    let from_name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|stem| names.parse_stem(stem));
    let (eye, eye_source) = match merged.eye {
        Some(eye) => (eye, EyeSource::Sidecar),
        None => match from_name
            .as_ref()
            .map(|m| m.eye)
            .or_else(|| eye_from_file_name(path))
        {
            Some(eye) => (eye, EyeSource::FileName),
            None => (Eye::Unknown, EyeSource::NotDetermined),
        },
    };
    let colour = color.channel_count() >= 3;
    // A sidecar's patient wins; then the file name's (camera exports); else the file itself.
    let named = (!patient_known).then_some(from_name.as_ref()).flatten();
    let patient_id = if patient_known {
        merged.patient_id.clone().unwrap_or_default()
    } else if let Some(m) = named {
        m.patient.clone()
    } else {
        super::model::PatientInfo::file_key(path)
    };
    let study_date = merged
        .study_date
        .clone()
        .or_else(|| named.and_then(|m| m.date.clone()));
    let bits = if color.bytes_per_pixel() / color.channel_count().max(1) >= 2 {
        16
    } else {
        8
    };
    let record = ImageRecord {
        source: ImageSource::Plain {
            path: path.to_path_buf(),
        },
        // No sidecar modality: measured from the pixels (colour fundus, OCT B-scan, SLO/IR).
        modality: match merged.modality {
            Some(modality) => modality,
            None => modality_from_content(path)?,
        },
        eye,
        eye_source,
        acquisition_datetime: merged.acquisition_datetime.clone(),
        columns,
        rows,
        frames: 1,
        samples_per_pixel: if colour { 3 } else { 1 },
        bits_allocated: bits,
        photometric_interpretation: if colour { "RGB" } else { "MONOCHROME2" }.to_string(),
        pixel_spacing_mm: merged
            .pixel_spacing_mm
            .filter(|s| *s > 0.0)
            .map(|s| PixelSpacingMm {
                row_mm: s,
                column_mm: s,
            }),
        series_instance_uid: None,
        frame_of_reference_uid: None,
        localizer: None,
        description: merged.study_description.clone(),
    };
    let study_uid = match (&study_date, patient_known || named.is_some()) {
        (Some(date), true) => format!("plain:{patient_id}:{date}"),
        _ => format!("plain:{patient_id}"),
    };
    Ok(ScannedImage {
        patient: PatientInfo {
            id: patient_id,
            name: merged.patient_name,
            birth_date: merged.birth_date,
            sex: merged.sex,
        },
        study: StudyInfo {
            instance_uid: study_uid,
            date: study_date,
            description: merged.study_description,
            accession_number: None,
            institution: None,
        },
        record,
    })
}

/// The modality of a plain image by its pixels ([`super::content_modality`]).
fn modality_from_content(path: &Path) -> Result<Modality, StudyError> {
    let image = super::pixels::decode_plain_pixels(path)?;
    Ok(super::content_modality::modality_of(&image.to_rgb8()))
}

/// Image sidecar fields win over the folder's `patient.json`.
fn merge(image: Option<Sidecar>, folder: Option<Sidecar>) -> Sidecar {
    let image = image.unwrap_or_default();
    let folder = folder.unwrap_or_default();
    Sidecar {
        patient_id: image.patient_id.or(folder.patient_id),
        patient_name: image.patient_name.or(folder.patient_name),
        birth_date: image.birth_date.or(folder.birth_date),
        sex: image.sex.or(folder.sex),
        study_date: image.study_date.or(folder.study_date),
        study_description: image.study_description.or(folder.study_description),
        eye: image.eye.or(folder.eye),
        modality: image.modality.or(folder.modality),
        acquisition_datetime: image.acquisition_datetime.or(folder.acquisition_datetime),
        pixel_spacing_mm: image.pixel_spacing_mm.or(folder.pixel_spacing_mm),
    }
}

/// The eye named by a file name's words (`OD`, `R`, `RE`, `right` / `OS`, `L`, `LE`, `left`).
pub fn eye_from_file_name(path: &Path) -> Option<Eye> {
    let stem = path.file_stem()?.to_str()?.to_ascii_lowercase();
    let mut right = false;
    let mut left = false;
    for word in stem.split(|c: char| !c.is_ascii_alphanumeric()) {
        match word {
            "od" | "r" | "re" | "right" => right = true,
            "os" | "l" | "le" | "left" => left = true,
            _ => {}
        }
    }
    match (right, left) {
        (true, false) => Some(Eye::Right),
        (false, true) => Some(Eye::Left),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eye_from_common_file_name_conventions() {
        let cases = [
            ("P01_OD.png", Some(Eye::Right)),
            ("p01-os-fundus.jpg", Some(Eye::Left)),
            ("fundus_right.tif", Some(Eye::Right)),
            ("Left eye.bmp", Some(Eye::Left)),
            ("IMG_0042_R.jpg", Some(Eye::Right)),
            ("IMG_0042_L.jpg", Some(Eye::Left)),
            ("scan_RE.png", Some(Eye::Right)),
            ("both_OD_OS.png", None),
            ("cornea.png", None),
            ("ROSE.png", None),
            ("odds.png", None),
        ];
        for (name, want) in cases {
            assert_eq!(eye_from_file_name(Path::new(name)), want, "{name}");
        }
    }
}
