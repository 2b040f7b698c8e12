//! What a library stores per image, per eye and for itself.

use serde::{Deserialize, Serialize};

use crate::study::{Eye, Modality};

/// Version of the library's layout.
pub const FORMAT_VERSION: u32 = 1;

/// A library's own record: the pack its vectors came from, and counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LibraryMeta {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Pack name.
    pub pack_name: String,
    /// Pack version.
    pub pack_version: String,
    /// SHA-256 of the pack's weights: vectors from another pack are refused.
    pub pack_sha256: String,
    /// Whether the pack was trained on synthetic data only (the demo model).
    pub synthetic_pack: bool,
    /// Length of image vectors.
    pub image_dim: usize,
    /// Length of eye vectors.
    pub eye_dim: usize,
    /// Secret salt of case ids (see [`super::deid`]); never shown or exported.
    pub salt: String,
    /// Whether patient identifiers are kept (the user asked for it at build time).
    pub keep_identifiers: bool,
    /// Incremented by every committed change; indexes on disk carry the generation they match.
    pub generation: u64,
    /// Next image id.
    pub next_image_id: u64,
    /// Next eye id.
    pub next_eye_id: u64,
    /// Finding ids in the order they are shown (the labels' vocabulary).
    pub finding_ids: Vec<String>,
}

/// One reference image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseImage {
    /// De-identified case id (one per patient).
    pub case_id: String,
    /// The patient id, only when the library keeps identifiers.
    pub patient_id: Option<String>,
    /// Modality.
    pub modality: Modality,
    /// OD or OS.
    pub eye: Eye,
    /// Frame used (the central B-scan of an OCT volume).
    pub frame: u32,
    /// Known findings of the eye (ids); empty = none of the library's findings.
    pub findings: Vec<String>,
    /// The eye record this image belongs to.
    pub eye_id: Option<u64>,
}

/// One reference eye: the fused embedding of its images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseEye {
    /// De-identified case id.
    pub case_id: String,
    /// The patient id, only when the library keeps identifiers.
    pub patient_id: Option<String>,
    /// OD or OS.
    pub eye: Eye,
    /// Known findings (ids).
    pub findings: Vec<String>,
    /// Image ids that were fused.
    pub image_ids: Vec<u64>,
    /// Modalities of those images.
    pub modalities: Vec<Modality>,
}
