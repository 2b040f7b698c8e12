//! Metadata-only reading of one DICOM file: stops before Pixel Data, so a folder scan is fast.
//!
//! Produces the patient, study and image facts of an image file, the referenced files of a
//! DICOMDIR, or says the file is DICOM but not an image (SR, presentation state, …).

use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_object::{InMemDicomObject, OpenFileOptions};

use super::attributes::{
    code_meanings, first_item, floats, frame_count, items, tag_label, text, uint,
};
use super::dicomdir;
use super::error::{StudyError, error_chain};
use super::model::{
    BscanLocation, Eye, EyeSource, ImagePoint, ImageRecord, ImageSource, LocalizerReference,
    Modality, PatientInfo, PixelSpacingMm, StudyInfo,
};
use super::sop_class;
use crate::path_error::{AtPath, PathError};

/// An image file's facts, before grouping into patients.
#[derive(Debug, Clone)]
pub struct ScannedImage {
    /// Patient demographics from the file.
    pub patient: PatientInfo,
    /// Study facts from the file.
    pub study: StudyInfo,
    /// The image itself.
    pub record: ImageRecord,
}

/// What a DICOM file turned out to be.
#[derive(Debug)]
pub enum DicomFileKind {
    /// An image.
    Image(Box<ScannedImage>),
    /// A DICOMDIR, with the files its records reference.
    Directory(Vec<PathBuf>),
    /// DICOM, but without pixels to show (e.g. a structured report).
    NotAnImage {
        /// SOP Class UID of the file.
        sop_class_uid: String,
    },
}

/// Whether a file starts with the DICOM Part 10 preamble and `DICM` magic.
pub fn has_dicom_magic(path: &Path) -> Result<bool, StudyError> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).at_path(path)?;
    let mut header = [0_u8; 132];
    match file.read_exact(&mut header) {
        Ok(()) => Ok(&header[128..132] == b"DICM"),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(source) => Err(PathError {
            path: path.to_path_buf(),
            source,
        }
        .into()),
    }
}

/// Reads a DICOM file's metadata (everything before Pixel Data) and classifies it.
pub fn read_dicom_file(path: &Path) -> Result<DicomFileKind, StudyError> {
    let (obj, raw) = open_dicom(path, Some(tags::PIXEL_DATA))?;
    let meta = obj.meta();
    let transfer_syntax_uid = meta.transfer_syntax().trim_end_matches('\0').to_string();
    let sop_class_uid = text(&obj, tags::SOP_CLASS_UID).unwrap_or_else(|| {
        meta.media_storage_sop_class_uid()
            .trim_end_matches('\0')
            .to_string()
    });
    if sop_class_uid == sop_class::MEDIA_STORAGE_DIRECTORY
        || obj.get(tags::DIRECTORY_RECORD_SEQUENCE).is_some()
    {
        return Ok(DicomFileKind::Directory(dicomdir::referenced_files(
            path, &obj,
        )?));
    }
    if obj.get(tags::ROWS).is_none()
        && obj.get(tags::COLUMNS).is_none()
        && !sop_class::is_image_storage(&sop_class_uid)
    {
        return Ok(DicomFileKind::NotAnImage { sop_class_uid });
    }
    let sop_instance_uid = text(&obj, tags::SOP_INSTANCE_UID).unwrap_or_else(|| {
        meta.media_storage_sop_instance_uid()
            .trim_end_matches('\0')
            .to_string()
    });
    let dataset: &InMemDicomObject = &obj;
    let record = image_record(
        path,
        dataset,
        ImageSource::Dicom {
            path: path.to_path_buf(),
            sop_class_uid: sop_class_uid.clone(),
            sop_instance_uid,
            transfer_syntax_uid,
        },
        &sop_class_uid,
    )?;
    let mut record = record;
    if raw {
        const NOTE: &str = "raw data set, no file meta";
        record.description = Some(match record.description.take() {
            Some(d) => format!("{d} ({NOTE})"),
            None => NOTE.to_string(),
        });
    }
    Ok(DicomFileKind::Image(Box::new(ScannedImage {
        patient: patient_info(dataset),
        study: study_info(dataset),
        record,
    })))
}

/// Whether a file is DICOM: a Part 10 file, or a raw data set (no preamble, no file meta;
/// [`super::raw_dicom`]).
pub fn is_dicom(path: &Path) -> Result<bool, StudyError> {
    Ok(has_dicom_magic(path)? || super::raw_dicom::detect_file(path)?.is_some())
}

/// Opens a DICOM file — Part 10, or a raw data set — up to `until` when given; the flag is
/// true for a raw data set.
pub fn open_dicom(
    path: &Path,
    until: Option<dicom_core::Tag>,
) -> Result<(dicom_object::DefaultDicomObject, bool), StudyError> {
    if !has_dicom_magic(path)?
        && let Some(encoding) = super::raw_dicom::detect_file(path)?
    {
        return Ok((super::raw_dicom::open_raw(path, encoding)?, true));
    }
    // dicom-rs allocates a value's declared length before reading it: refuse impossible ones.
    super::dicom_lengths::check_part10(path, until == Some(tags::PIXEL_DATA))?;
    let mut options = OpenFileOptions::new();
    if let Some(tag) = until {
        options = options.read_until(tag);
    }
    let obj = options
        .open_file(path)
        .map_err(|e| StudyError::DicomParse {
            path: path.to_path_buf(),
            message: error_chain(&e),
        })?;
    Ok((obj, false))
}

fn required_uint(
    path: &Path,
    obj: &InMemDicomObject,
    tag: dicom_core::Tag,
    name: &'static str,
) -> Result<u32, StudyError> {
    uint(obj, tag).ok_or_else(|| StudyError::MissingAttribute {
        path: path.to_path_buf(),
        name,
        tag: tag_label(tag),
    })
}

fn patient_info(obj: &InMemDicomObject) -> PatientInfo {
    let name = text(obj, tags::PATIENT_NAME);
    let birth_date = text(obj, tags::PATIENT_BIRTH_DATE);
    let id = text(obj, tags::PATIENT_ID).unwrap_or_else(|| {
        // Patient ID is Type 2 (may be empty): fall back to name + birth date, then the study.
        match (&name, &birth_date) {
            (Some(n), Some(b)) => format!("no-id:{n}:{b}"),
            (Some(n), None) => format!("no-id:{n}"),
            _ => format!(
                "no-id:study:{}",
                text(obj, tags::STUDY_INSTANCE_UID).unwrap_or_else(|| "unknown".into())
            ),
        }
    });
    PatientInfo {
        id,
        name,
        birth_date,
        sex: text(obj, tags::PATIENT_SEX),
    }
}

fn study_info(obj: &InMemDicomObject) -> StudyInfo {
    StudyInfo {
        instance_uid: text(obj, tags::STUDY_INSTANCE_UID).unwrap_or_else(|| "unknown-study".into()),
        date: text(obj, tags::STUDY_DATE),
        description: text(obj, tags::STUDY_DESCRIPTION),
        accession_number: text(obj, tags::ACCESSION_NUMBER),
        institution: text(obj, tags::INSTITUTION_NAME),
    }
}

fn image_record(
    path: &Path,
    obj: &InMemDicomObject,
    source: ImageSource,
    sop_class_uid: &str,
) -> Result<ImageRecord, StudyError> {
    let rows = required_uint(path, obj, tags::ROWS, "Rows")?;
    let columns = required_uint(path, obj, tags::COLUMNS, "Columns")?;
    if rows == 0 || columns == 0 {
        return Err(StudyError::InvalidAttribute {
            path: path.to_path_buf(),
            name: "Rows/Columns",
            detail: format!("image size {columns}x{rows} is empty"),
        });
    }
    let bits_allocated = required_uint(path, obj, tags::BITS_ALLOCATED, "BitsAllocated")?;
    let samples_per_pixel = uint(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    let photometric_interpretation =
        text(obj, tags::PHOTOMETRIC_INTERPRETATION).ok_or_else(|| {
            StudyError::MissingAttribute {
                path: path.to_path_buf(),
                name: "PhotometricInterpretation",
                tag: tag_label(tags::PHOTOMETRIC_INTERPRETATION),
            }
        })?;
    let (eye, eye_source) = laterality(obj);
    let frames = frame_count(obj);
    Ok(ImageRecord {
        modality: classify_modality(obj, sop_class_uid, samples_per_pixel),
        eye,
        eye_source,
        acquisition_datetime: acquisition_datetime(obj),
        columns,
        rows,
        frames,
        samples_per_pixel: u16::try_from(samples_per_pixel).unwrap_or(u16::MAX),
        bits_allocated: u16::try_from(bits_allocated).unwrap_or(u16::MAX),
        photometric_interpretation,
        pixel_spacing_mm: pixel_spacing(obj),
        series_instance_uid: text(obj, tags::SERIES_INSTANCE_UID),
        frame_of_reference_uid: text(obj, tags::FRAME_OF_REFERENCE_UID),
        localizer: localizer_reference(obj),
        description: text(obj, tags::SERIES_DESCRIPTION),
        source,
    })
}

/// Eye from Image Laterality, the enhanced Frame Laterality, then series Laterality.
fn laterality(obj: &InMemDicomObject) -> (Eye, EyeSource) {
    if let Some(eye) = text(obj, tags::IMAGE_LATERALITY).and_then(|c| Eye::from_dicom_code(&c)) {
        return (eye, EyeSource::ImageLaterality);
    }
    let frame_laterality = first_item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE)
        .and_then(|g| first_item(g, tags::FRAME_ANATOMY_SEQUENCE))
        .and_then(|a| text(a, tags::FRAME_LATERALITY))
        .and_then(|c| Eye::from_dicom_code(&c));
    if let Some(eye) = frame_laterality {
        return (eye, EyeSource::ImageLaterality);
    }
    if let Some(eye) = text(obj, tags::LATERALITY).and_then(|c| Eye::from_dicom_code(&c)) {
        return (eye, EyeSource::SeriesLaterality);
    }
    (Eye::Unknown, EyeSource::NotDetermined)
}

fn acquisition_datetime(obj: &InMemDicomObject) -> Option<String> {
    text(obj, tags::ACQUISITION_DATE_TIME).or_else(|| {
        let date = text(obj, tags::ACQUISITION_DATE).or_else(|| text(obj, tags::CONTENT_DATE))?;
        let time = text(obj, tags::ACQUISITION_TIME)
            .or_else(|| text(obj, tags::CONTENT_TIME))
            .unwrap_or_default();
        Some(format!("{date}{time}"))
    })
}

/// Pixel Spacing from the top level, else the shared or first per-frame Pixel Measures.
fn pixel_spacing(obj: &InMemDicomObject) -> Option<PixelSpacingMm> {
    let from = |o: &InMemDicomObject| {
        floats(o, tags::PIXEL_SPACING)
            .filter(|v| v.len() >= 2 && v[0] > 0.0 && v[1] > 0.0)
            .map(|v| PixelSpacingMm {
                row_mm: v[0],
                column_mm: v[1],
            })
    };
    from(obj).or_else(|| {
        [
            tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
            tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
        ]
        .into_iter()
        .filter_map(|fg| first_item(obj, fg))
        .filter_map(|g| first_item(g, tags::PIXEL_MEASURES_SEQUENCE))
        .find_map(from)
    })
}

/// The OCT localizer and each B-scan's line on it (Ophthalmic Frame Location, (0022,0031)).
fn localizer_reference(obj: &InMemDicomObject) -> Option<LocalizerReference> {
    let mut sop_instance_uid = None;
    let mut bscan_locations = Vec::new();
    for (frame_index, group) in items(obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .iter()
        .enumerate()
    {
        let Some(location) = first_item(group, tags::OPHTHALMIC_FRAME_LOCATION_SEQUENCE) else {
            continue;
        };
        if sop_instance_uid.is_none() {
            sop_instance_uid = text(location, tags::REFERENCED_SOP_INSTANCE_UID);
        }
        if let Some(coords) = floats(location, tags::REFERENCE_COORDINATES) {
            // Pairs of (row, column) on the referenced image.
            let points = coords
                .chunks_exact(2)
                .map(|rc| ImagePoint { x: rc[1], y: rc[0] })
                .collect();
            bscan_locations.push(BscanLocation {
                frame_index,
                points,
            });
        }
    }
    if sop_instance_uid.is_none() {
        sop_instance_uid = localizer_from_referenced_images(obj);
    }
    sop_instance_uid.map(|sop_instance_uid| LocalizerReference {
        sop_instance_uid,
        bscan_locations,
    })
}

/// A Referenced Image Sequence item whose purpose is (121311, DCM, "Localizer").
fn localizer_from_referenced_images(obj: &InMemDicomObject) -> Option<String> {
    let shared = first_item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    let places = std::iter::once(obj).chain(shared);
    places
        .flat_map(|o| items(o, tags::REFERENCED_IMAGE_SEQUENCE))
        .find(|item| {
            items(item, tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE)
                .iter()
                .any(|code| text(code, tags::CODE_VALUE).as_deref() == Some("121311"))
        })
        .and_then(|item| text(item, tags::REFERENCED_SOP_INSTANCE_UID))
}

/// Modality from the SOP class, the acquisition device, and the descriptions a device writes.
fn classify_modality(
    obj: &InMemDicomObject,
    sop_class_uid: &str,
    samples_per_pixel: u32,
) -> Modality {
    let dicom_modality = text(obj, tags::MODALITY).unwrap_or_default();
    if sop_class_uid == sop_class::OPHTHALMIC_TOMOGRAPHY
        || sop_class_uid == sop_class::OCT_BSCAN_VOLUME_ANALYSIS
        || dicom_modality == "OPT"
    {
        return Modality::Oct;
    }
    let mut hints = code_meanings(obj, tags::ACQUISITION_DEVICE_TYPE_CODE_SEQUENCE);
    hints.extend(code_meanings(obj, tags::ANATOMIC_REGION_SEQUENCE));
    for tag in [
        tags::SERIES_DESCRIPTION,
        tags::IMAGE_TYPE,
        tags::PROTOCOL_NAME,
        tags::IMAGE_COMMENTS,
    ] {
        if let Some(t) = text(obj, tag) {
            hints.push(t.to_lowercase());
        }
    }
    if !items(obj, tags::CONTRAST_BOLUS_AGENT_SEQUENCE).is_empty() {
        hints.extend(code_meanings(obj, tags::CONTRAST_BOLUS_AGENT_SEQUENCE));
    }
    if let Some(m) = modality_from_hints(&hints) {
        return m;
    }
    let photographic =
        sop_class::is_ophthalmic_photography(sop_class_uid) || dicom_modality == "OP";
    if photographic && samples_per_pixel == 3 {
        Modality::ColourFundus
    } else if sop_class_uid == sop_class::OCT_EN_FACE {
        Modality::Oct
    } else {
        Modality::Other
    }
}

/// Keyword rules over code meanings and descriptions, most specific first.
pub(crate) fn modality_from_hints(hints: &[String]) -> Option<Modality> {
    let has = |needles: &[&str]| hints.iter().any(|h| needles.iter().any(|n| h.contains(n)));
    let has_word = |words: &[&str]| {
        hints.iter().any(|h| {
            h.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| words.contains(&w))
        })
    };
    if has(&["autofluoresc"]) || has_word(&["faf", "af"]) {
        Some(Modality::Faf)
    } else if has(&["indocyanine"]) || has_word(&["icg", "icga"]) {
        Some(Modality::Icga)
    } else if has(&["fluorescein"]) || has_word(&["fa", "ffa", "fag"]) {
        Some(Modality::Ffa)
    } else if has(&["scanning laser", "infrared", "infra-red"]) || has_word(&["slo", "ir", "nir"]) {
        Some(Modality::SloIr)
    } else if has(&["slit lamp", "anterior segment", "cornea", "external eye"]) {
        Some(Modality::AnteriorSegment)
    } else if has(&["fundus camera", "colour fundus", "color fundus"]) {
        Some(Modality::ColourFundus)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modality_keywords_from_device_and_descriptions() {
        let hint = |s: &str| modality_from_hints(&[s.to_lowercase()]);
        assert_eq!(hint("Scanning Laser Ophthalmoscope"), Some(Modality::SloIr));
        assert_eq!(hint("IR 30°"), Some(Modality::SloIr));
        assert_eq!(hint("Fundus autofluorescence"), Some(Modality::Faf));
        assert_eq!(hint("FA early phase"), Some(Modality::Ffa));
        assert_eq!(hint("ICGA late"), Some(Modality::Icga));
        assert_eq!(hint("Slit lamp photo"), Some(Modality::AnteriorSegment));
        assert_eq!(hint("Fundus Camera"), Some(Modality::ColourFundus));
        assert_eq!(hint("firmware"), None, "'ir' inside a word is not infrared");
        assert_eq!(
            hint("fast scan"),
            None,
            "'fa' inside a word is not angiography"
        );
    }

    #[test]
    fn dicom_laterality_codes() {
        assert_eq!(Eye::from_dicom_code("R "), Some(Eye::Right));
        assert_eq!(Eye::from_dicom_code("L"), Some(Eye::Left));
        assert_eq!(Eye::from_dicom_code("B"), Some(Eye::Both));
        assert_eq!(Eye::from_dicom_code("U"), None);
    }
}
