//! What the viewer's state is made of, besides the three groups of [`super::state`]: where an
//! image's pixels, a patient's analysis, the model, the library and a heatmap stand, and the
//! prompt box.

use std::sync::Arc;
use std::time::Instant;

use super::analysis_job::ModelInfo;
use super::display::{HeatUpload, ImageUpload};
use super::library_job::LibraryInfo;
use crate::analysis::engine::PatientResult;
use crate::analysis::heatmap::Heatmap;
use crate::study::pixels::DecodedImage;

/// An image's pixels (all frames) and the shown frame, or why not.
pub(super) enum Pixels {
    Loading,
    Ready(Box<ShownFrame>),
    Failed(String),
}

/// A decoded image and the frame on screen.
pub(super) struct ShownFrame {
    pub decoded: Arc<DecodedImage>,
    pub frame: u32,
    pub rgb: Arc<image::RgbImage>,
    pub upload: Arc<ImageUpload>,
    /// Only without a wgpu renderer.
    pub texture: Option<egui::TextureHandle>,
}

/// Where a patient's analysis stands.
pub(super) enum PatientStatus {
    Queued,
    Analyzing,
    Done(Box<PatientResult>),
    Failed(String),
    Cancelled,
}

impl PatientStatus {
    pub fn label(&self) -> &'static str {
        match self {
            PatientStatus::Queued => "queued",
            PatientStatus::Analyzing => "analyzing",
            PatientStatus::Done(_) => "done",
            PatientStatus::Failed(_) => "error",
            PatientStatus::Cancelled => "cancelled",
        }
    }

    pub(super) fn pending(&self) -> bool {
        matches!(self, PatientStatus::Queued | PatientStatus::Analyzing)
    }
}

/// Where the model stands.
pub(super) enum ModelStatus {
    Loading,
    Ready(Box<ModelInfo>),
    Failed(String),
}

/// Where the case library stands.
pub(super) enum LibraryStatus {
    None(String),
    Loading,
    Ready(LibraryInfo),
    Unavailable(String),
}

/// A heatmap on its way or ready.
pub(super) enum HeatState {
    Pending,
    Ready(Arc<HeatUpload>, Arc<Heatmap>),
    Failed(String),
}

/// One row of free-text scores: what was scored ("OD eye") and its score.
pub(super) type ScoreRow = (String, f64);

/// The free-text prompt box.
#[derive(Default)]
pub(super) struct PromptState {
    pub text: String,
    pub edited_at: Option<Instant>,
    pub serial: u64,
    /// Serial of the request in flight.
    pub pending: Option<u64>,
}

/// Similar eyes or images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SimilarScope {
    Eye,
    Image,
}
