//! Writes synthetic images as real DICOM: Ophthalmic Photography 8 Bit (colour fundus, SLO
//! localizer) and Ophthalmic Tomography (OCT volume) with the modules those IODs require,
//! laterality, pixel spacing, and each B-scan's Ophthalmic Frame Location on its localizer.
//! Output is checked with dciodvfy (dicom3tools) in the tests.

use std::path::Path;

use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::adapters::EncodeOptions;
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_pixeldata::Transcode;
use dicom_transfer_syntax_registry::entries;

use crate::study::sop_class;

use super::SynthError;

/// How pixel data is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
pub enum PixelEncoding {
    /// Explicit VR Little Endian, uncompressed (lossless; PNG-identical pixels).
    ExplicitLe,
    /// JPEG Baseline (process 1), quality 92: what fundus cameras commonly export.
    JpegBaseline,
}

/// Patient and study attributes shared by an eye's images.
#[derive(Debug, Clone)]
pub struct StudyAttributes {
    /// Patient ID.
    pub patient_id: String,
    /// Patient's Name (PN).
    pub patient_name: String,
    /// `YYYYMMDD`.
    pub birth_date: String,
    /// `M` / `F`.
    pub sex: String,
    /// Study Instance UID.
    pub study_uid: String,
    /// `YYYYMMDD`.
    pub study_date: String,
    /// `HHMMSS`.
    pub study_time: String,
    /// Accession number.
    pub accession: String,
}

/// One image's own attributes.
#[derive(Debug, Clone)]
pub struct ImageAttributes {
    /// SOP Instance UID.
    pub sop_uid: String,
    /// Series Instance UID.
    pub series_uid: String,
    /// Series number.
    pub series_number: u32,
    /// Frame of Reference UID (shared by an OCT and its localizer).
    pub frame_of_reference_uid: String,
    /// `R` or `L`.
    pub laterality: &'static str,
    /// Series description.
    pub description: String,
    /// Pixel size in mm (row, column).
    pub pixel_spacing_mm: (f64, f64),
    /// Horizontal field of view, degrees.
    pub field_of_view_deg: f32,
    /// `HHMMSS`.
    pub acquisition_time: String,
}

/// Where an OCT B-scan lies on its localizer.
#[derive(Debug, Clone)]
pub struct LocalizerLink {
    /// SOP Instance UID of the localizer (an OP image).
    pub sop_uid: String,
    /// Per B-scan: start and end as (row, column) on the localizer.
    pub lines_row_col: Vec<[(f64, f64); 2]>,
}

struct Ds(InMemDicomObject);

impl Ds {
    fn new() -> Ds {
        Ds(InMemDicomObject::new_empty())
    }
    fn text(&mut self, tag: Tag, vr: VR, value: &str) -> &mut Ds {
        self.0
            .put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
        self
    }
    fn texts(&mut self, tag: Tag, vr: VR, values: &[&str]) -> &mut Ds {
        let values: Vec<String> = values.iter().map(|s| (*s).to_string()).collect();
        self.0.put(DataElement::new(
            tag,
            vr,
            PrimitiveValue::Strs(values.into()),
        ));
        self
    }
    fn empty(&mut self, tag: Tag, vr: VR) -> &mut Ds {
        self.0.put(DataElement::new(tag, vr, PrimitiveValue::Empty));
        self
    }
    fn us(&mut self, tag: Tag, value: u16) -> &mut Ds {
        self.0
            .put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
        self
    }
    fn fl(&mut self, tag: Tag, values: &[f32]) -> &mut Ds {
        self.0.put(DataElement::new(
            tag,
            VR::FL,
            PrimitiveValue::F32(values.iter().copied().collect()),
        ));
        self
    }
    fn fd(&mut self, tag: Tag, values: &[f64]) -> &mut Ds {
        self.0.put(DataElement::new(
            tag,
            VR::FD,
            PrimitiveValue::F64(values.iter().copied().collect()),
        ));
        self
    }
    fn ul(&mut self, tag: Tag, value: u32) -> &mut Ds {
        self.0
            .put(DataElement::new(tag, VR::UL, PrimitiveValue::from(value)));
        self
    }
    fn at(&mut self, tag: Tag, values: &[Tag]) -> &mut Ds {
        self.0.put(DataElement::new(
            tag,
            VR::AT,
            PrimitiveValue::Tags(values.iter().copied().collect()),
        ));
        self
    }
    fn seq(&mut self, tag: Tag, items: Vec<InMemDicomObject>) -> &mut Ds {
        self.0.put(DataElement::new(
            tag,
            VR::SQ,
            DataSetSequence::new(items, Length::UNDEFINED),
        ));
        self
    }
    fn done(&mut self) -> InMemDicomObject {
        std::mem::replace(&mut self.0, InMemDicomObject::new_empty())
    }
}

fn code(value: &str, scheme: &str, meaning: &str) -> InMemDicomObject {
    Ds::new()
        .text(tags::CODE_VALUE, VR::SH, value)
        .text(tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme)
        .text(tags::CODE_MEANING, VR::LO, meaning)
        .done()
}

/// Modules every image shares: SOP Common, Patient, General Study, General Series, General
/// Equipment, Ocular Region Imaged, Acquisition Context.
fn common(
    ds: &mut Ds,
    study: &StudyAttributes,
    image: &ImageAttributes,
    sop_class_uid: &str,
    modality: &str,
) {
    ds.text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100")
        .texts(tags::IMAGE_TYPE, VR::CS, &["ORIGINAL", "PRIMARY"])
        .text(tags::SOP_CLASS_UID, VR::UI, sop_class_uid)
        .text(tags::SOP_INSTANCE_UID, VR::UI, &image.sop_uid)
        .text(tags::STUDY_DATE, VR::DA, &study.study_date)
        .text(tags::SERIES_DATE, VR::DA, &study.study_date)
        .text(tags::ACQUISITION_DATE, VR::DA, &study.study_date)
        .text(tags::CONTENT_DATE, VR::DA, &study.study_date)
        .text(tags::STUDY_TIME, VR::TM, &study.study_time)
        .text(tags::SERIES_TIME, VR::TM, &image.acquisition_time)
        .text(tags::ACQUISITION_TIME, VR::TM, &image.acquisition_time)
        .text(tags::CONTENT_TIME, VR::TM, &image.acquisition_time)
        .text(
            tags::ACQUISITION_DATE_TIME,
            VR::DT,
            &format!("{}{}", study.study_date, image.acquisition_time),
        )
        .text(tags::ACCESSION_NUMBER, VR::SH, &study.accession)
        .text(tags::MODALITY, VR::CS, modality)
        .text(tags::MANUFACTURER, VR::LO, "Fovea synthetic data generator")
        .text(
            tags::INSTITUTION_NAME,
            VR::LO,
            "Fovea demo clinic (synthetic)",
        )
        .empty(tags::REFERRING_PHYSICIAN_NAME, VR::PN)
        .text(
            tags::STUDY_DESCRIPTION,
            VR::LO,
            "Synthetic ophthalmology study (not a real patient)",
        )
        .text(tags::SERIES_DESCRIPTION, VR::LO, &image.description)
        .text(tags::MANUFACTURER_MODEL_NAME, VR::LO, "fovea-synth")
        .text(tags::DEVICE_SERIAL_NUMBER, VR::LO, "0000")
        .text(tags::SOFTWARE_VERSIONS, VR::LO, env!("CARGO_PKG_VERSION"))
        .text(tags::PATIENT_NAME, VR::PN, &study.patient_name)
        .text(tags::PATIENT_ID, VR::LO, &study.patient_id)
        .text(tags::PATIENT_BIRTH_DATE, VR::DA, &study.birth_date)
        .text(tags::PATIENT_SEX, VR::CS, &study.sex)
        .text(tags::STUDY_INSTANCE_UID, VR::UI, &study.study_uid)
        .text(tags::SERIES_INSTANCE_UID, VR::UI, &image.series_uid)
        .text(tags::STUDY_ID, VR::SH, "1")
        .text(
            tags::SERIES_NUMBER,
            VR::IS,
            &image.series_number.to_string(),
        )
        .text(tags::ACQUISITION_NUMBER, VR::IS, "1")
        .text(tags::INSTANCE_NUMBER, VR::IS, "1")
        .text(
            tags::FRAME_OF_REFERENCE_UID,
            VR::UI,
            &image.frame_of_reference_uid,
        )
        .empty(tags::POSITION_REFERENCE_INDICATOR, VR::LO)
        .text(tags::IMAGE_LATERALITY, VR::CS, image.laterality)
        .empty(tags::PATIENT_ORIENTATION, VR::CS)
        .text(
            tags::SYNCHRONIZATION_FRAME_OF_REFERENCE_UID,
            VR::UI,
            &image.frame_of_reference_uid,
        )
        .text(tags::SYNCHRONIZATION_TRIGGER, VR::CS, "NO TRIGGER")
        .text(tags::ACQUISITION_TIME_SYNCHRONIZED, VR::CS, "N")
        .seq(
            tags::ANATOMIC_REGION_SEQUENCE,
            vec![code("81745001", "SCT", "Eye")],
        )
        .seq(tags::ACQUISITION_CONTEXT_SEQUENCE, vec![])
        .text(tags::BURNED_IN_ANNOTATION, VR::CS, "NO")
        .text(tags::RECOGNIZABLE_VISUAL_FEATURES, VR::CS, "NO")
        .text(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00")
        .text(tags::PATIENT_EYE_MOVEMENT_COMMANDED, VR::CS, "NO")
        .fl(tags::HORIZONTAL_FIELD_OF_VIEW, &[image.field_of_view_deg])
        .seq(tags::REFRACTIVE_STATE_SEQUENCE, vec![])
        .empty(tags::EMMETROPIC_MAGNIFICATION, VR::FL)
        .empty(tags::INTRA_OCULAR_PRESSURE, VR::FL)
        .text(tags::PUPIL_DILATED, VR::CS, "NO");
}

fn pixel_module(
    ds: &mut Ds,
    rows: u32,
    columns: u32,
    samples: u16,
    photometric: &str,
    frames: usize,
    pixels: Vec<u8>,
) {
    ds.us(tags::SAMPLES_PER_PIXEL, samples)
        .text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, photometric)
        .us(tags::ROWS, rows as u16)
        .us(tags::COLUMNS, columns as u16)
        .us(tags::BITS_ALLOCATED, 8)
        .us(tags::BITS_STORED, 8)
        .us(tags::HIGH_BIT, 7)
        .us(tags::PIXEL_REPRESENTATION, 0)
        .text(tags::NUMBER_OF_FRAMES, VR::IS, &frames.to_string());
    if samples == 3 {
        ds.us(tags::PLANAR_CONFIGURATION, 0);
    } else {
        ds.text(tags::PRESENTATION_LUT_SHAPE, VR::CS, "IDENTITY");
    }
    ds.0.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::from(pixels),
    ));
}

/// Writes an Ophthalmic Photography 8 Bit image: colour fundus (RGB) or SLO (grey).
pub fn write_ophthalmic_photograph(
    path: &Path,
    study: &StudyAttributes,
    image: &ImageAttributes,
    pixels: &image::DynamicImage,
    slo: bool,
    encoding: PixelEncoding,
) -> Result<(), SynthError> {
    let mut ds = Ds::new();
    common(
        &mut ds,
        study,
        image,
        sop_class::OPHTHALMIC_PHOTOGRAPHY_8BIT,
        "OP",
    );
    let (device, illumination) = if slo {
        (
            code("392012008", "SCT", "Scanning Laser Ophthalmoscope"),
            code("A-00F8A", "SRT", "Infrared"),
        )
    } else {
        (
            code("409898007", "SCT", "Fundus Camera"),
            code("A-00E2F", "SRT", "Full Spectrum"),
        )
    };
    ds.seq(tags::ACQUISITION_DEVICE_TYPE_CODE_SEQUENCE, vec![device])
        .seq(tags::ILLUMINATION_TYPE_CODE_SEQUENCE, vec![illumination])
        .seq(tags::LIGHT_PATH_FILTER_TYPE_STACK_CODE_SEQUENCE, vec![])
        .seq(tags::IMAGE_PATH_FILTER_TYPE_STACK_CODE_SEQUENCE, vec![])
        .seq(tags::LENSES_CODE_SEQUENCE, vec![])
        .text(tags::DETECTOR_TYPE, VR::CS, if slo { "APD" } else { "CCD" })
        .at(tags::FRAME_INCREMENT_POINTER, &[tags::FRAME_TIME])
        .text(tags::FRAME_TIME, VR::DS, "0")
        .texts(
            tags::PIXEL_SPACING,
            VR::DS,
            &[
                &format_ds(image.pixel_spacing_mm.0),
                &format_ds(image.pixel_spacing_mm.1),
            ],
        );
    let (columns, rows) = (pixels.width(), pixels.height());
    let (samples, photometric, bytes) = if slo {
        (1, "MONOCHROME2", pixels.to_luma8().into_raw())
    } else {
        (3, "RGB", pixels.to_rgb8().into_raw())
    };
    pixel_module(&mut ds, rows, columns, samples, photometric, 1, bytes);
    write(path, ds.done(), encoding)
}

/// Writes an Ophthalmic Tomography image: the B-scans as frames, each located on `localizer`.
pub fn write_oct_volume(
    path: &Path,
    study: &StudyAttributes,
    image: &ImageAttributes,
    bscans: &[image::GrayImage],
    slice_spacing_mm: f64,
    localizer: &LocalizerLink,
    encoding: PixelEncoding,
) -> Result<(), SynthError> {
    let first = bscans
        .first()
        .ok_or(SynthError::Empty("OCT volume without B-scans"))?;
    let (columns, rows) = first.dimensions();
    let mut ds = Ds::new();
    common(
        &mut ds,
        study,
        image,
        sop_class::OPHTHALMIC_TOMOGRAPHY,
        "OPT",
    );
    // Not part of the OPT IOD (its acquisition time is Acquisition DateTime).
    for tag in [
        tags::ACQUISITION_DATE,
        tags::ACQUISITION_TIME,
        tags::PATIENT_ORIENTATION,
        tags::PATIENT_EYE_MOVEMENT_COMMANDED,
    ] {
        ds.0.remove_element(tag);
    }
    let dimension_uid = format!("{}.1", image.series_uid);
    let frame_datetime = format!("{}{}", study.study_date, image.acquisition_time);
    ds.seq(
        tags::ACQUISITION_DEVICE_TYPE_CODE_SEQUENCE,
        vec![code(
            "392011002",
            "SCT",
            "Optical Coherence Tomography Scanner",
        )],
    )
    .text(tags::DETECTOR_TYPE, VR::CS, "CCD")
    .fl(tags::ILLUMINATION_WAVE_LENGTH, &[870.0])
    .fl(tags::ILLUMINATION_POWER, &[1.2])
    .fl(tags::ILLUMINATION_BANDWIDTH, &[50.0])
    .fl(tags::AXIAL_LENGTH_OF_THE_EYE, &[23.5])
    .fl(
        tags::DEPTH_SPATIAL_RESOLUTION,
        &[(image.pixel_spacing_mm.0 * 1000.0) as f32],
    )
    .fl(tags::MAXIMUM_DEPTH_DISTORTION, &[0.0])
    .fl(
        tags::ALONG_SCAN_SPATIAL_RESOLUTION,
        &[(image.pixel_spacing_mm.1 * 1000.0) as f32],
    )
    .fl(tags::MAXIMUM_ALONG_SCAN_DISTORTION, &[0.0])
    .fl(
        tags::ACROSS_SCAN_SPATIAL_RESOLUTION,
        &[(slice_spacing_mm * 1000.0) as f32],
    )
    .fl(tags::MAXIMUM_ACROSS_SCAN_DISTORTION, &[0.0])
    .fd(tags::ACQUISITION_DURATION, &[1.5])
    .seq(tags::LIGHT_PATH_FILTER_TYPE_STACK_CODE_SEQUENCE, vec![])
    // The OPT image module (as dciodvfy checks it) lists the in-concatenation numbers as
    // Type 1; without a Concatenation UID they say "the whole volume, frame offset 0".
    .ul(tags::CONCATENATION_FRAME_OFFSET_NUMBER, 0)
    .us(tags::IN_CONCATENATION_NUMBER, 1)
    .us(tags::IN_CONCATENATION_TOTAL_NUMBER, 1)
    .text(tags::OPHTHALMIC_VOLUMETRIC_PROPERTIES_FLAG, VR::CS, "NO")
    .seq(
        tags::DIMENSION_ORGANIZATION_SEQUENCE,
        vec![
            Ds::new()
                .text(tags::DIMENSION_ORGANIZATION_UID, VR::UI, &dimension_uid)
                .done(),
        ],
    )
    .seq(
        tags::DIMENSION_INDEX_SEQUENCE,
        vec![
            Ds::new()
                .at(tags::DIMENSION_INDEX_POINTER, &[tags::STACK_ID])
                .at(
                    tags::FUNCTIONAL_GROUP_POINTER,
                    &[tags::FRAME_CONTENT_SEQUENCE],
                )
                .text(tags::DIMENSION_ORGANIZATION_UID, VR::UI, &dimension_uid)
                .done(),
            Ds::new()
                .at(
                    tags::DIMENSION_INDEX_POINTER,
                    &[tags::IN_STACK_POSITION_NUMBER],
                )
                .at(
                    tags::FUNCTIONAL_GROUP_POINTER,
                    &[tags::FRAME_CONTENT_SEQUENCE],
                )
                .text(tags::DIMENSION_ORGANIZATION_UID, VR::UI, &dimension_uid)
                .done(),
        ],
    );
    let localizer_reference = || {
        Ds::new()
            .text(
                tags::REFERENCED_SOP_CLASS_UID,
                VR::UI,
                sop_class::OPHTHALMIC_PHOTOGRAPHY_8BIT,
            )
            .text(
                tags::REFERENCED_SOP_INSTANCE_UID,
                VR::UI,
                &localizer.sop_uid,
            )
            .seq(
                tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE,
                vec![code("121311", "DCM", "Localizer")],
            )
            .done()
    };
    let shared = Ds::new()
        .seq(
            tags::PIXEL_MEASURES_SEQUENCE,
            vec![
                Ds::new()
                    .texts(
                        tags::PIXEL_SPACING,
                        VR::DS,
                        &[
                            &format_ds(image.pixel_spacing_mm.0),
                            &format_ds(image.pixel_spacing_mm.1),
                        ],
                    )
                    .text(tags::SLICE_THICKNESS, VR::DS, &format_ds(slice_spacing_mm))
                    .done(),
            ],
        )
        .seq(
            tags::FRAME_ANATOMY_SEQUENCE,
            vec![
                Ds::new()
                    .seq(
                        tags::ANATOMIC_REGION_SEQUENCE,
                        vec![code("5665001", "SCT", "Retina")],
                    )
                    .text(tags::FRAME_LATERALITY, VR::CS, image.laterality)
                    .done(),
            ],
        )
        .seq(tags::REFERENCED_IMAGE_SEQUENCE, vec![localizer_reference()])
        .seq(
            tags::PLANE_ORIENTATION_SEQUENCE,
            // B-scan rows run along x (temporal→nasal on the image), columns into depth.
            vec![
                Ds::new()
                    .texts(
                        tags::IMAGE_ORIENTATION_PATIENT,
                        VR::DS,
                        &["1", "0", "0", "0", "0", "-1"],
                    )
                    .done(),
            ],
        )
        .done();
    let lines_count = localizer.lines_row_col.len() as f64;
    let per_frame: Vec<InMemDicomObject> = localizer
        .lines_row_col
        .iter()
        .enumerate()
        .map(|(k, [start, end])| {
            let index = k as u32 + 1;
            let mut content = Ds::new();
            content
                .text(tags::FRAME_ACQUISITION_DATE_TIME, VR::DT, &frame_datetime)
                .text(tags::FRAME_REFERENCE_DATE_TIME, VR::DT, &frame_datetime)
                .fd(tags::FRAME_ACQUISITION_DURATION, &[40.0])
                .text(tags::STACK_ID, VR::SH, "1")
                .ul(tags::IN_STACK_POSITION_NUMBER, index)
                .0
                .put(DataElement::new(
                    tags::DIMENSION_INDEX_VALUES,
                    VR::UL,
                    PrimitiveValue::U32([1, index].into_iter().collect()),
                ));
            let mut location = Ds(localizer_reference());
            location
                .fl(
                    tags::REFERENCE_COORDINATES,
                    &[start.0 as f32, start.1 as f32, end.0 as f32, end.1 as f32],
                )
                .text(tags::OPHTHALMIC_IMAGE_ORIENTATION, VR::CS, "LINEAR");
            let y_mm = format_ds(
                -(lines_count - 1.0) * slice_spacing_mm / 2.0 + k as f64 * slice_spacing_mm,
            );
            let position = Ds::new()
                .texts(tags::IMAGE_POSITION_PATIENT, VR::DS, &["0", &y_mm, "0"])
                .done();
            Ds::new()
                .seq(tags::FRAME_CONTENT_SEQUENCE, vec![content.done()])
                .seq(tags::PLANE_POSITION_SEQUENCE, vec![position])
                .seq(
                    tags::OPHTHALMIC_FRAME_LOCATION_SEQUENCE,
                    vec![location.done()],
                )
                .done()
        })
        .collect();
    ds.seq(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, vec![shared])
        .seq(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, per_frame);
    let mut bytes = Vec::with_capacity((columns * rows) as usize * bscans.len());
    for bscan in bscans {
        if bscan.dimensions() != (columns, rows) {
            return Err(SynthError::Empty("B-scans of different sizes"));
        }
        bytes.extend_from_slice(bscan.as_raw());
    }
    pixel_module(
        &mut ds,
        rows,
        columns,
        1,
        "MONOCHROME2",
        bscans.len(),
        bytes,
    );
    write(path, ds.done(), encoding)
}

fn format_ds(value: f64) -> String {
    let s = format!("{value:.8}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.chars().take(16).collect()
}

fn write(
    path: &Path,
    dataset: InMemDicomObject,
    encoding: PixelEncoding,
) -> Result<(), SynthError> {
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(entries::EXPLICIT_VR_LITTLE_ENDIAN.uid())
        .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
        .implementation_version_name("FOVEA_0_1");
    let mut file = dataset
        .with_meta(meta)
        .map_err(|e| SynthError::Dicom(format!("file meta: {e}")))?;
    if encoding == PixelEncoding::JpegBaseline {
        let mut options = EncodeOptions::new();
        options.quality = Some(92);
        file.transcode_with_options(&entries::JPEG_BASELINE.erased(), options)
            .map_err(|e| SynthError::Dicom(format!("JPEG encoding: {e}")))?;
        file.put(DataElement::new(
            tags::LOSSY_IMAGE_COMPRESSION_METHOD,
            VR::CS,
            PrimitiveValue::from("ISO_10918_1"),
        ));
    }
    file.write_to_file(path)
        .map_err(|e| SynthError::Dicom(format!("{}: {e}", path.display())))
}

/// Implementation Class UID of files Fovea writes.
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.137038125948464847900039011591283709926";
