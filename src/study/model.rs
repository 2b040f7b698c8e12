//! The study data model: patients → studies → eyes → images, as found on disk.
//!
//! Everything here is metadata; pixels are decoded on demand by [`super::pixels`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which eye an image shows. OD is the right eye, OS the left (oculus dexter / sinister).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Eye {
    /// Right eye (oculus dexter).
    #[serde(rename = "OD")]
    Right,
    /// Left eye (oculus sinister).
    #[serde(rename = "OS")]
    Left,
    /// Both eyes in one image (DICOM laterality `B`).
    #[serde(rename = "OU")]
    Both,
    /// Not known: the user has to set it.
    #[serde(rename = "unknown")]
    Unknown,
}

impl Eye {
    /// The clinical abbreviation: OD, OS, OU or "unknown".
    pub fn label(self) -> &'static str {
        match self {
            Eye::Right => "OD",
            Eye::Left => "OS",
            Eye::Both => "OU",
            Eye::Unknown => "unknown",
        }
    }

    /// Parses a DICOM laterality code string (`R`, `L`, `B`); anything else is `None`.
    pub fn from_dicom_code(code: &str) -> Option<Eye> {
        match code.trim() {
            "R" => Some(Eye::Right),
            "L" => Some(Eye::Left),
            "B" => Some(Eye::Both),
            _ => None,
        }
    }
}

/// How an image's eye was determined, so the UI can show how sure it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EyeSource {
    /// DICOM Image Laterality (0020,0062).
    ImageLaterality,
    /// DICOM (series) Laterality (0020,0060).
    SeriesLaterality,
    /// Shares a Frame of Reference UID with an image whose eye is known.
    SharedFrameOfReference,
    /// Shares a Series Instance UID with an image whose eye is known.
    SharedSeries,
    /// A sidecar JSON file named the eye.
    Sidecar,
    /// The file name follows a convention (`_OD`, `_OS`, `right`, `left`, `_R`, `_L`).
    FileName,
    /// A vendor header's scan position (Heidelberg `.vol` ScanPosition).
    ScanPosition,
    /// The user accepted the optic disc's suggestion in the viewer (this session only; the
    /// file is not changed).
    AcceptedSuggestion,
    /// Nothing said which eye: the user has to set it.
    NotDetermined,
}

/// Imaging modality, as an ophthalmologist names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// Colour fundus photograph (DICOM OP, colour).
    ColourFundus,
    /// OCT volume or B-scan (DICOM OPT).
    Oct,
    /// Scanning laser ophthalmoscopy / infrared reflectance.
    SloIr,
    /// Fundus autofluorescence.
    Faf,
    /// Fluorescein angiography.
    Ffa,
    /// Indocyanine green angiography.
    Icga,
    /// Anterior segment / slit lamp / external eye.
    AnteriorSegment,
    /// Any other image.
    Other,
}

impl Modality {
    /// Short name shown in lists.
    pub fn label(self) -> &'static str {
        match self {
            Modality::ColourFundus => "colour fundus",
            Modality::Oct => "OCT",
            Modality::SloIr => "SLO/IR",
            Modality::Faf => "FAF",
            Modality::Ffa => "FFA",
            Modality::Icga => "ICGA",
            Modality::AnteriorSegment => "anterior segment",
            Modality::Other => "other",
        }
    }
}

/// Where an image's pixels come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ImageSource {
    /// A DICOM Part 10 file.
    Dicom {
        /// The file.
        path: PathBuf,
        /// SOP Class UID (0008,0016).
        sop_class_uid: String,
        /// SOP Instance UID (0008,0018).
        sop_instance_uid: String,
        /// Transfer Syntax UID of the file.
        transfer_syntax_uid: String,
    },
    /// A plain image file (PNG, JPEG, TIFF, BMP).
    Plain {
        /// The file.
        path: PathBuf,
    },
    /// One part of a Heidelberg Spectralis `.vol` export.
    HeidelbergVol {
        /// The image's identity in the viewer and in results: the file for the B-scans, the
        /// file with `#slo` appended for the SLO (two images live in one file).
        path: PathBuf,
        /// The file.
        file: PathBuf,
        /// The B-scans or the SLO.
        part: VolPart,
        /// A key made from the scan's ID, standing in for a SOP Instance UID (the OCT's
        /// localizer reference names the SLO by it).
        instance_uid: String,
    },
}

/// Which image of a `.vol` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolPart {
    /// The OCT B-scans (a volume).
    Bscans,
    /// The IR SLO.
    Slo,
}

impl ImageSource {
    /// The file the pixels live in.
    pub fn path(&self) -> &std::path::Path {
        match self {
            ImageSource::Dicom { path, .. }
            | ImageSource::Plain { path }
            | ImageSource::HeidelbergVol { path, .. } => path,
        }
    }

    /// The file to read: [`Self::path`] except for a `.vol` SLO, whose path names its part.
    pub fn file(&self) -> &std::path::Path {
        match self {
            ImageSource::HeidelbergVol { file, .. } => file,
            other => other.path(),
        }
    }

    /// The SOP Instance UID (DICOM) or the key standing in for one (`.vol`).
    pub fn instance_uid(&self) -> Option<&str> {
        match self {
            ImageSource::Dicom {
                sop_instance_uid, ..
            } => Some(sop_instance_uid),
            ImageSource::HeidelbergVol { instance_uid, .. } => Some(instance_uid),
            ImageSource::Plain { .. } => None,
        }
    }
}

/// A point on an image, in pixel coordinates (sub-pixel allowed): x = column, y = row.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ImagePoint {
    /// Column, from the left edge of the image.
    pub x: f64,
    /// Row, from the top edge of the image.
    pub y: f64,
}

/// Where one OCT B-scan lies on its localizer image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BscanLocation {
    /// Zero-based frame index in the OCT volume.
    pub frame_index: usize,
    /// Points of the scan line on the localizer (two for a line scan, more for a curve).
    pub points: Vec<ImagePoint>,
}

/// An OCT volume's reference to the en-face image (SLO or fundus) it was scanned on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalizerReference {
    /// SOP Instance UID of the localizer image.
    pub sop_instance_uid: String,
    /// Each B-scan's position on the localizer, where the file carries it.
    pub bscan_locations: Vec<BscanLocation>,
}

/// Physical size of a pixel, where the file says it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PixelSpacingMm {
    /// Distance between the centres of adjacent rows, in mm.
    pub row_mm: f64,
    /// Distance between the centres of adjacent columns, in mm.
    pub column_mm: f64,
}

/// One image (possibly multi-frame) as found by the metadata scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Where the pixels are.
    pub source: ImageSource,
    /// Modality as an ophthalmologist names it.
    pub modality: Modality,
    /// Which eye, and how that was decided.
    pub eye: Eye,
    /// How [`Self::eye`] was decided.
    pub eye_source: EyeSource,
    /// Acquisition date and time as written in the file (DICOM DT/DA+TM, ISO 8601 for sidecars).
    pub acquisition_datetime: Option<String>,
    /// Width in pixels.
    pub columns: u32,
    /// Height in pixels.
    pub rows: u32,
    /// Number of frames (B-scans for OCT), 1 for still images.
    pub frames: u32,
    /// Samples per pixel: 1 for grey, 3 for colour.
    pub samples_per_pixel: u16,
    /// Bits allocated per sample (8 or 16).
    pub bits_allocated: u16,
    /// Photometric interpretation (DICOM term, e.g. `MONOCHROME2`, `RGB`, `YBR_FULL_422`).
    pub photometric_interpretation: String,
    /// Physical pixel size, where known.
    pub pixel_spacing_mm: Option<PixelSpacingMm>,
    /// Series Instance UID, where the file has one.
    pub series_instance_uid: Option<String>,
    /// Frame of Reference UID, where the file has one.
    pub frame_of_reference_uid: Option<String>,
    /// For OCT volumes: the localizer image and B-scan positions on it.
    pub localizer: Option<LocalizerReference>,
    /// Free-text description (Series Description or sidecar text).
    pub description: Option<String>,
}

/// Patient demographics as found in the files; `id` is the grouping key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PatientInfo {
    /// Patient ID (0010,0020), or a derived key for files without one.
    pub id: String,
    /// Patient's Name (0010,0010), DICOM PN form (`Family^Given`).
    pub name: Option<String>,
    /// Patient's Birth Date (0010,0030), `YYYYMMDD`.
    pub birth_date: Option<String>,
    /// Patient's Sex (0010,0040): `M`, `F` or `O`.
    pub sex: Option<String>,
}

/// The start of the key a patient gets from a file that names no patient: `file:<path>`, so
/// that such a file is its own patient.
pub const FILE_KEY_PREFIX: &str = "file:";

impl PatientInfo {
    /// The key of the patient of a file at `path` that names none.
    pub fn file_key(path: &std::path::Path) -> String {
        format!("{FILE_KEY_PREFIX}{}", path.display())
    }

    /// The file whose own patient this is, when the file named none.
    pub fn keyed_by_file(&self) -> Option<&std::path::Path> {
        file_of_key(&self.id)
    }

    /// The id as a person reads it ([`id_label`]).
    pub fn id_label(&self) -> String {
        id_label(&self.id)
    }
}

/// A patient key as a person reads it: the Patient ID, or for a file that names no patient,
/// the file's name and that it has no ID (the key, with the whole path, stays the key).
pub fn id_label(id: &str) -> String {
    match file_of_key(id) {
        Some(path) => format!(
            "{} (no patient ID in the file)",
            path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into()
            )
        ),
        None => id.to_string(),
    }
}

/// The file a patient key names, when it is a [`PatientInfo::file_key`].
fn file_of_key(id: &str) -> Option<&std::path::Path> {
    id.strip_prefix(FILE_KEY_PREFIX).map(std::path::Path::new)
}

#[cfg(test)]
mod patient_info_tests {
    use super::*;

    #[test]
    fn a_file_without_a_patient_is_labelled_by_its_name_not_its_path() {
        let from_file = PatientInfo {
            id: PatientInfo::file_key(std::path::Path::new("/exports/scan 7/valid.vol")),
            ..Default::default()
        };
        assert_eq!(from_file.id, "file:/exports/scan 7/valid.vol");
        assert_eq!(
            from_file.id_label(),
            "valid.vol (no patient ID in the file)"
        );
        assert_eq!(
            from_file.keyed_by_file(),
            Some(std::path::Path::new("/exports/scan 7/valid.vol"))
        );
        let tagged = PatientInfo {
            id: "01234".into(),
            ..Default::default()
        };
        assert_eq!(
            (tagged.id_label().as_str(), tagged.keyed_by_file()),
            ("01234", None)
        );
    }
}

/// Study-level facts; `instance_uid` is the grouping key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StudyInfo {
    /// Study Instance UID (0020,000D), or a derived key for files without one.
    pub instance_uid: String,
    /// Study Date (0008,0020), `YYYYMMDD`.
    pub date: Option<String>,
    /// Study Description (0008,1030).
    pub description: Option<String>,
    /// Accession Number (0008,0050).
    pub accession_number: Option<String>,
    /// Institution Name (0008,0080).
    pub institution: Option<String>,
}

/// The images of one eye within a study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EyeImages {
    /// Which eye.
    pub eye: Eye,
    /// Its images, ordered by modality then acquisition time.
    pub images: Vec<ImageRecord>,
}

/// One study of a patient, split by eye.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Study {
    /// Study-level facts.
    pub info: StudyInfo,
    /// OD first, then OS, then both-eye and unknown-eye images.
    pub eyes: Vec<EyeImages>,
}

/// A patient and their studies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Patient {
    /// Demographics.
    pub info: PatientInfo,
    /// Studies, oldest first.
    pub studies: Vec<Study>,
}

impl Patient {
    /// Every image of the patient, in study/eye order.
    pub fn images(&self) -> impl Iterator<Item = &ImageRecord> {
        self.studies
            .iter()
            .flat_map(|s| s.eyes.iter())
            .flat_map(|e| e.images.iter())
    }
}

/// A file the scan could not use, with the reason in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadableFile {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub reason: String,
}

/// Everything a scan found: patients, and the files it could not read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Catalog {
    /// Patients, ordered by id.
    pub patients: Vec<Patient>,
    /// Files that could not be read, each with its reason.
    pub unreadable: Vec<UnreadableFile>,
    /// Files seen but not images (non-image DICOM such as SR, unknown extensions).
    pub skipped: Vec<UnreadableFile>,
    /// DICOMDIR files whose referenced files were opened.
    pub media_directories: Vec<PathBuf>,
}

impl Catalog {
    /// Number of images over all patients.
    pub fn image_count(&self) -> usize {
        self.patients.iter().map(|p| p.images().count()).sum()
    }
}
