//! The DICOM SOP classes Fovea recognises, by UID.

/// Ophthalmic Photography 8 Bit Image Storage.
pub const OPHTHALMIC_PHOTOGRAPHY_8BIT: &str = "1.2.840.10008.5.1.4.1.1.77.1.5.1";
/// Ophthalmic Photography 16 Bit Image Storage.
pub const OPHTHALMIC_PHOTOGRAPHY_16BIT: &str = "1.2.840.10008.5.1.4.1.1.77.1.5.2";
/// Ophthalmic Tomography Image Storage (OCT B-scan volumes).
pub const OPHTHALMIC_TOMOGRAPHY: &str = "1.2.840.10008.5.1.4.1.1.77.1.5.4";
/// Wide Field Ophthalmic Photography Stereographic Projection Image Storage.
pub const WIDE_FIELD_OP_STEREOGRAPHIC: &str = "1.2.840.10008.5.1.4.1.1.77.1.5.5";
/// Wide Field Ophthalmic Photography 3D Coordinates Image Storage.
pub const WIDE_FIELD_OP_3D: &str = "1.2.840.10008.5.1.4.1.1.77.1.5.6";
/// Ophthalmic Optical Coherence Tomography En Face Image Storage.
pub const OCT_EN_FACE: &str = "1.2.840.10008.5.1.4.1.1.77.1.5.7";
/// Ophthalmic Optical Coherence Tomography B-scan Volume Analysis Storage.
pub const OCT_BSCAN_VOLUME_ANALYSIS: &str = "1.2.840.10008.5.1.4.1.1.77.1.5.8";
/// Secondary Capture Image Storage.
pub const SECONDARY_CAPTURE: &str = "1.2.840.10008.5.1.4.1.1.7";
/// Media Storage Directory Storage (DICOMDIR).
pub const MEDIA_STORAGE_DIRECTORY: &str = "1.2.840.10008.1.3.10";

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
