//! The viewer's state, split by lifetime (as rerun splits its store, its app state and its
//! blueprint):
//! - [`Session`]: what one opening holds — the catalog, the selection, statuses and results,
//!   decoded pixels, heatmaps, similar cases. Opening something new replaces it whole.
//! - [`Jobs`]: the background workers and what they have said about themselves (the model, the
//!   library, errors); they live as long as the window.
//! - [`View`]: how things are shown — persisted settings, per-image zoom/pan and window/level,
//!   the active eye, panels and text boxes. Kept across openings.
//!
//! Who writes what: the panels may change [`View`] while they draw (a drag, a slider, a text
//! box). Everything that changes [`Session`] or asks [`Jobs`] for work is a
//! [`super::commands::Command`], applied once per frame by `FoveaApp::apply`; job events are
//! applied by `FoveaApp::poll` at the start of the frame.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::analysis_job::{AnalysisJob, HeatKey, ModelDevice};
use super::dialogs::DialogJob;
use super::dialogs::OpenKind;
use super::display::{ImageUpload, WindowLevel};
use super::library_job::{LibraryJob, SimilarAnswer, SimilarCase};
use super::model_tool_job::ModelToolJob;
use super::settings::Settings;
use super::status::{
    HeatState, LibraryStatus, ModelStatus, PatientStatus, Pixels, PromptState, ScoreRow,
    SimilarScope,
};
use super::view_transform::ViewTransform;
use crate::study::Eye;
use crate::study::jobs::{DecodeWorker, ScanJob};
use crate::study::model::Catalog;

/// One opening: everything that belongs to the studies on screen.
pub(super) struct Session {
    /// Increases with every opening; job news of an older one is ignored.
    pub generation: u64,
    pub scan_note: String,
    pub scan_progress: Option<f32>,
    pub scan_cancelled: bool,
    pub catalog: Catalog,
    pub selected: Option<usize>,
    /// Decode requests in flight: id → image.
    pub requested: HashMap<u64, PathBuf>,
    pub pixels: HashMap<PathBuf, Pixels>,
    /// Paths in `pixels`, oldest request first.
    pub pixel_order: VecDeque<PathBuf>,
    /// Small pictures of every image decoded once, for the modality tabs.
    pub tab_thumbnails: HashMap<PathBuf, egui::TextureHandle>,
    /// Which image of (patient, eye) is shown large.
    pub main_image: HashMap<(usize, Eye), usize>,
    pub statuses: HashMap<String, PatientStatus>,
    /// Patients still to send to the model, last first.
    pub to_analyze: Vec<usize>,
    pub heatmaps: HashMap<HeatKey, HeatState>,
    /// The latest free-text answer: text, and rows or why none.
    pub prompt_answer: Option<(String, Result<Vec<ScoreRow>, String>)>,
    /// The query the shown (or awaited) similar cases belong to.
    pub similar_asked_for: Option<(String, Eye, SimilarScope, Option<PathBuf>)>,
    pub similar_answer: Option<Result<SimilarAnswer, String>>,
    /// The case open in the compare window, and its picture.
    pub compare: Option<Box<SimilarCase>>,
    pub compare_upload: Option<Arc<ImageUpload>>,
}

impl Session {
    /// A new opening of `generation`, scanning.
    pub fn opening(generation: u64) -> Self {
        Session {
            generation,
            scan_note: "scanning…".into(),
            scan_progress: Some(0.0),
            scan_cancelled: false,
            catalog: Catalog::default(),
            selected: None,
            requested: HashMap::new(),
            pixels: HashMap::new(),
            pixel_order: VecDeque::new(),
            tab_thumbnails: HashMap::new(),
            main_image: HashMap::new(),
            statuses: HashMap::new(),
            to_analyze: Vec::new(),
            heatmaps: HashMap::new(),
            prompt_answer: None,
            similar_asked_for: None,
            similar_answer: None,
            compare: None,
            compare_upload: None,
        }
    }
}

/// The background workers and what they reported about themselves.
pub(super) struct Jobs {
    pub scan: Option<ScanJob>,
    pub decode: Option<DecodeWorker>,
    pub analysis: Option<AnalysisJob>,
    pub library: Option<LibraryJob>,
    pub dialog: Option<DialogJob>,
    /// Jobs that could not start, shown in the status bar.
    pub job_errors: Vec<String>,
    /// Id of the next decode request (unique across openings).
    pub next_request: u64,
    /// Serial of the newest similar-cases query.
    pub similar_serial: u64,
    pub model: ModelStatus,
    pub library_status: LibraryStatus,
    /// The last patient analyzed: id, how long it took, when.
    pub last_analysis: Option<(String, Duration, Instant)>,
    /// What the open dialog is for.
    pub dialog_kind: Option<OpenKind>,
    /// The Model menu's import or validation, while it runs.
    pub model_tool: Option<ModelToolJob>,
    /// What it last said.
    pub model_tool_status: ToolStatus,
    /// Where the model runs: kept to start the analysis worker again on another pack.
    pub model_device: ModelDevice,
    /// The pack the viewer started with (first in the Model menu).
    pub first_pack: PathBuf,
}

/// Which Model-menu window is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ToolKind {
    Import,
    Validate,
}

/// The fields of the Model menu's window.
#[derive(Debug, Clone)]
pub(super) struct ToolForm {
    pub open: Option<ToolKind>,
    pub checkpoint: Option<PathBuf>,
    /// Index into `encoder::presets::ARCH_NAMES`.
    pub arch: usize,
    pub folder: Option<PathBuf>,
    pub sensitivity: f64,
}

impl Default for ToolForm {
    fn default() -> Self {
        ToolForm {
            open: None,
            checkpoint: None,
            arch: 0,
            folder: None,
            sensitivity: 0.9,
        }
    }
}

/// What the Model menu's job last said.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ToolStatus {
    /// Nothing asked yet.
    #[default]
    Idle,
    /// Running: its progress.
    Running(String),
    /// Done: the pack written.
    Written(PathBuf),
    /// Failed: why.
    Failed(String),
}

/// How things are shown; survives openings.
pub(super) struct View {
    /// Persisted between runs.
    pub settings: Settings,
    /// Zoom/pan per image, and the shared one when the eyes are linked.
    pub views: HashMap<PathBuf, ViewTransform>,
    pub linked_view: ViewTransform,
    /// Window/level per image.
    pub windows: HashMap<PathBuf, WindowLevel>,
    pub active_eye: Eye,
    pub hovered_eye: Option<Eye>,
    pub show_help: bool,
    /// The pack card window.
    pub show_pack_card: bool,
    /// The Model menu's import / validation window and its fields.
    pub model_tool: ToolForm,
    /// Durations in the status bar (off for pixel-stable screenshots).
    pub show_timings: bool,
    /// The patient list's filter.
    pub search: String,
    /// The finding class-specific heatmaps are made for.
    pub heat_finding: Option<String>,
    pub prompt: PromptState,
    pub similar_scope: SimilarScope,
    pub compare_view: ViewTransform,
    pub compare_window: WindowLevel,
    /// Library thumbnails made into textures while drawing, by reference image id.
    pub thumbnails: HashMap<u64, egui::TextureHandle>,
    /// The first image on screen has been logged (`-v`; the start-time benchmark).
    pub first_image_logged: bool,
}

impl View {
    /// The view on start-up, from the saved settings.
    pub fn new(settings: Settings, show_timings: bool) -> Self {
        View {
            settings,
            views: HashMap::new(),
            linked_view: ViewTransform::default(),
            windows: HashMap::new(),
            active_eye: Eye::Right,
            hovered_eye: None,
            show_help: false,
            show_pack_card: false,
            model_tool: ToolForm::default(),
            show_timings,
            search: String::new(),
            heat_finding: None,
            prompt: PromptState::default(),
            similar_scope: SimilarScope::Eye,
            compare_view: ViewTransform::default(),
            compare_window: WindowLevel::default(),
            thumbnails: HashMap::new(),
            first_image_logged: false,
        }
    }
}
