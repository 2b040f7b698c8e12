//! The DICOM SOP classes Fovea recognises, by UID. The UIDs are dicom-rs's
//! (`dicom_dictionary_std::uids`), under shorter names.

use dicom_dictionary_std::uids;

/// Ophthalmic Photography 8 Bit Image Storage.
pub const OPHTHALMIC_PHOTOGRAPHY_8BIT: &str = uids::OPHTHALMIC_PHOTOGRAPHY8_BIT_IMAGE_STORAGE;
/// Ophthalmic Photography 16 Bit Image Storage.
pub const OPHTHALMIC_PHOTOGRAPHY_16BIT: &str = uids::OPHTHALMIC_PHOTOGRAPHY16_BIT_IMAGE_STORAGE;
/// Ophthalmic Tomography Image Storage (OCT B-scan volumes).
pub const OPHTHALMIC_TOMOGRAPHY: &str = uids::OPHTHALMIC_TOMOGRAPHY_IMAGE_STORAGE;
/// Wide Field Ophthalmic Photography Stereographic Projection Image Storage.
pub const WIDE_FIELD_OP_STEREOGRAPHIC: &str =
    uids::WIDE_FIELD_OPHTHALMIC_PHOTOGRAPHY_STEREOGRAPHIC_PROJECTION_IMAGE_STORAGE;
/// Wide Field Ophthalmic Photography 3D Coordinates Image Storage.
pub const WIDE_FIELD_OP_3D: &str =
    uids::WIDE_FIELD_OPHTHALMIC_PHOTOGRAPHY3_D_COORDINATES_IMAGE_STORAGE;
/// Ophthalmic Optical Coherence Tomography En Face Image Storage.
pub const OCT_EN_FACE: &str = uids::OPHTHALMIC_OPTICAL_COHERENCE_TOMOGRAPHY_EN_FACE_IMAGE_STORAGE;
/// Ophthalmic Optical Coherence Tomography B-scan Volume Analysis Storage.
pub const OCT_BSCAN_VOLUME_ANALYSIS: &str =
    uids::OPHTHALMIC_OPTICAL_COHERENCE_TOMOGRAPHY_BSCAN_VOLUME_ANALYSIS_STORAGE;
/// Secondary Capture Image Storage.
pub const SECONDARY_CAPTURE: &str = uids::SECONDARY_CAPTURE_IMAGE_STORAGE;
/// Media Storage Directory Storage (DICOMDIR).
pub const MEDIA_STORAGE_DIRECTORY: &str = uids::MEDIA_STORAGE_DIRECTORY_STORAGE;

/// Whether the SOP class is one of the ophthalmic photography classes (OP 8/16, wide-field).
pub fn is_ophthalmic_photography(uid: &str) -> bool {
    matches!(
        uid,
        OPHTHALMIC_PHOTOGRAPHY_8BIT
            | OPHTHALMIC_PHOTOGRAPHY_16BIT
            | WIDE_FIELD_OP_STEREOGRAPHIC
            | WIDE_FIELD_OP_3D
    )
}

/// Whether the SOP class stores an image: ours above, or any standard SOP class whose name
/// says "Image Storage" (dicom-rs's SOP class dictionary).
pub fn is_image_storage(uid: &str) -> bool {
    use dicom_core::dictionary::UidDictionary;
    is_ophthalmic_photography(uid)
        || matches!(uid, OPHTHALMIC_TOMOGRAPHY | OCT_EN_FACE | SECONDARY_CAPTURE)
        || dicom_dictionary_std::sop_class::StandardSopClassDictionary
            .by_uid(uid)
            .is_some_and(|entry| entry.name.contains("Image Storage"))
}
