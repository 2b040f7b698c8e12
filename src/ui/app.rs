//! The viewer's state, its background jobs and the one place state changes: the frame polls
//! the jobs, draws the panels (which emit [`Command`]s), then [`FoveaApp::apply`] applies the
//! commands. Every slow step (scan, decode, model, heatmaps, retrieval, dialogs) is a job.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::analysis_job::{AnalysisJob, HeatKey, HeatSource, ModelDevice, ModelInfo};
use super::commands::Command;
use super::dialogs::DialogJob;
use super::display::{HeatUpload, ImageUpload, WindowLevel};
use super::library_job::{LibraryInfo, LibraryJob, SimilarAnswer, SimilarCase};
use super::settings::{SETTINGS_KEY, Settings};
use super::view_transform::ViewTransform;
use crate::analysis::engine::PatientResult;
use crate::analysis::heatmap::Heatmap;
use crate::study::jobs::{DecodeWorker, ScanJob};
use crate::study::model::{Catalog, ImageRecord, Patient};
use crate::study::pixels::DecodedImage;
use crate::study::{Eye, Modality};

/// What the viewer opens and with what.
pub struct ViewerConfig {
    /// Folders, files or DICOMDIRs.
    pub paths: Vec<PathBuf>,
    /// The model pack.
    pub pack: PathBuf,
    /// The case library for similar cases (none: the panel says so).
    pub library: Option<PathBuf>,
    /// Whether the model runs on the window's wgpu device.
    pub model_on: ModelPlacement,
}

/// Where the viewer runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelPlacement {
    /// burn's CPU backend.
    Cpu,
    /// The window's GPU when it is a real GPU (a software rasteriser such as lavapipe is
    /// slower than burn's CPU backend), else the CPU. The window's device must have been
    /// made with [`crate::encoder::device::compute_device_descriptor`].
    GpuIfReal,
    /// The window's wgpu device, whatever it is (benchmarks and tests on lavapipe).
    WindowDevice,
}

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
    Analysing,
    Done(Box<PatientResult>),
    Failed(String),
    Cancelled,
}

impl PatientStatus {
    pub fn label(&self) -> &'static str {
        match self {
            PatientStatus::Queued => "queued",
            PatientStatus::Analysing => "analysing",
            PatientStatus::Done(_) => "done",
            PatientStatus::Failed(_) => "error",
            PatientStatus::Cancelled => "cancelled",
        }
    }

    pub(super) fn pending(&self) -> bool {
        matches!(self, PatientStatus::Queued | PatientStatus::Analysing)
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
    /// The latest answer: text, and rows or why none.
    pub answer: Option<(String, Result<Vec<ScoreRow>, String>)>,
}

/// Similar eyes or images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SimilarScope {
    Eye,
    Image,
}

/// What the similar-cases panel is showing.
pub(super) struct SimilarState {
    pub scope: SimilarScope,
    pub serial: u64,
    /// The query the shown (or awaited) answer belongs to.
    pub asked_for: Option<(String, Eye, SimilarScope, Option<PathBuf>)>,
    pub answer: Option<Result<SimilarAnswer, String>>,
}

/// The viewer.
pub struct FoveaApp {
    pub(super) ctx: egui::Context,
    pub(super) config: ViewerConfig,
    pub(super) gpu: bool,
    pub(super) display_adapter: Option<String>,
    // Jobs.
    pub(super) scan: Option<ScanJob>,
    pub(super) decode: Option<DecodeWorker>,
    pub(super) analysis: Option<AnalysisJob>,
    pub(super) library: Option<LibraryJob>,
    pub(super) dialog: Option<DialogJob>,
    pub(super) job_errors: Vec<String>,
    // What is open.
    pub(super) generation: u64,
    pub(super) scan_note: String,
    pub(super) scan_progress: Option<f32>,
    pub(super) scan_cancelled: bool,
    pub(super) catalog: Catalog,
    pub(super) search: String,
    pub(super) selected: Option<usize>,
    pub(super) next_request: u64,
    pub(super) requested: HashMap<u64, PathBuf>,
    pub(super) pixels: HashMap<PathBuf, Pixels>,
    /// Paths in `pixels`, oldest request first.
    pub(super) pixel_order: std::collections::VecDeque<PathBuf>,
    /// Small pictures of every image decoded once, for the modality tabs.
    pub(super) tab_thumbnails: HashMap<PathBuf, egui::TextureHandle>,
    pub(super) main_image: HashMap<(usize, Eye), usize>,
    // The model's results.
    pub(super) model: ModelStatus,
    pub(super) statuses: HashMap<String, PatientStatus>,
    pub(super) to_analyse: Vec<usize>,
    pub(super) last_analysis: Option<(String, Duration, Instant)>,
    pub(super) heatmaps: HashMap<HeatKey, HeatState>,
    pub(super) heat_finding: Option<String>,
    pub(super) prompt: PromptState,
    // Similar cases.
    pub(super) library_status: LibraryStatus,
    pub(super) similar: SimilarState,
    pub(super) compare: Option<Box<SimilarCase>>,
    pub(super) compare_view: ViewTransform,
    pub(super) compare_window: WindowLevel,
    pub(super) compare_upload: Option<Arc<ImageUpload>>,
    pub(super) thumbnails: HashMap<u64, egui::TextureHandle>,
    // How things are shown.
    pub(super) settings: Settings,
    pub(super) views: HashMap<PathBuf, ViewTransform>,
    pub(super) linked_view: ViewTransform,
    pub(super) windows: HashMap<PathBuf, WindowLevel>,
    pub(super) active_eye: Eye,
    pub(super) hovered_eye: Option<Eye>,
    pub(super) show_help: bool,
    pub(super) show_timings: bool,
    pub(super) commands: Vec<Command>,
}

/// How often the UI looks at its jobs while something runs.
pub(super) const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Typing pauses this long before a prompt is scored.
pub(super) const PROMPT_DEBOUNCE: Duration = Duration::from_millis(400);

impl FoveaApp {
    /// Starts scanning, loading the model and opening the library in the background.
    pub fn new(cc: &eframe::CreationContext<'_>, config: ViewerConfig) -> Self {
        let settings: Settings = cc
            .storage
            .and_then(|s| eframe::get_value(s, SETTINGS_KEY))
            .unwrap_or_default();
        let mut job_errors = Vec::new();
        let render_state = cc.wgpu_render_state.as_ref();
        if let Some(render_state) = render_state {
            super::gpu_image::ImagePipeline::install(render_state);
        }
        let display_adapter = render_state.map(|rs| {
            let info = rs.adapter.get_info();
            format!("{} ({:?})", info.name, info.backend)
        });
        let device = match render_state {
            Some(rs)
                if config.model_on == ModelPlacement::WindowDevice
                    || (config.model_on == ModelPlacement::GpuIfReal
                        && rs.adapter.get_info().device_type != eframe::wgpu::DeviceType::Cpu) =>
            {
                let shared = crate::encoder::device::SharedWgpu {
                    instance: rs.instance.clone(),
                    adapter: rs.adapter.clone(),
                    device: rs.device.clone(),
                    queue: rs.queue.clone(),
                };
                match crate::encoder::device::share_wgpu_device(shared) {
                    Ok(opened) => ModelDevice::Opened(opened),
                    Err(e) => {
                        job_errors.push(format!("model on the CPU: the window's GPU: {e}"));
                        ModelDevice::Cpu
                    }
                }
            }
            _ => ModelDevice::Cpu,
        };
        let decode = DecodeWorker::spawn(32)
            .map_err(|e| job_errors.push(format!("cannot start decoding: {e}")))
            .ok();
        let repaint_ctx = cc.egui_ctx.clone();
        let analysis = AnalysisJob::start(config.pack.clone(), device, move || {
            repaint_ctx.request_repaint()
        })
        .map_err(|e| job_errors.push(format!("cannot start the model: {e}")))
        .ok();
        cc.egui_ctx.set_theme(settings.theme());
        let library_status = match &config.library {
            Some(_) => LibraryStatus::Loading,
            None => LibraryStatus::None("no case library configured (--library)".into()),
        };
        let mut app = FoveaApp {
            ctx: cc.egui_ctx.clone(),
            gpu: render_state.is_some(),
            display_adapter,
            scan: None,
            decode,
            analysis,
            library: None,
            dialog: None,
            job_errors,
            generation: 0,
            scan_note: String::new(),
            scan_progress: None,
            scan_cancelled: false,
            catalog: Catalog::default(),
            search: String::new(),
            selected: None,
            next_request: 0,
            requested: HashMap::new(),
            pixels: HashMap::new(),
            pixel_order: std::collections::VecDeque::new(),
            tab_thumbnails: HashMap::new(),
            main_image: HashMap::new(),
            model: ModelStatus::Loading,
            statuses: HashMap::new(),
            to_analyse: Vec::new(),
            last_analysis: None,
            heatmaps: HashMap::new(),
            heat_finding: None,
            prompt: PromptState::default(),
            library_status,
            similar: SimilarState {
                scope: SimilarScope::Eye,
                serial: 0,
                asked_for: None,
                answer: None,
            },
            compare: None,
            compare_view: ViewTransform::default(),
            compare_window: WindowLevel::default(),
            compare_upload: None,
            thumbnails: HashMap::new(),
            settings,
            views: HashMap::new(),
            linked_view: ViewTransform::default(),
            windows: HashMap::new(),
            active_eye: Eye::Right,
            hovered_eye: None,
            show_help: false,
            show_timings: true,
            commands: Vec::new(),
            config,
        };
        let paths = app.config.paths.clone();
        app.open(paths);
        app
    }

    // ---- Read-only views of the state (the tests drive the app through these). ----

    /// The id of the patient on screen.
    pub fn selected_patient(&self) -> Option<&str> {
        self.selected_record().map(|p| p.info.id.as_str())
    }

    pub(super) fn selected_record(&self) -> Option<&Patient> {
        self.selected.and_then(|i| self.catalog.patients.get(i))
    }

    /// Which of an eye's images (index among that eye's images) is shown large.
    pub(super) fn chosen_image(&self, index: usize, eye: Eye) -> usize {
        self.main_image.get(&(index, eye)).copied().unwrap_or(0)
    }

    /// The image shown large in an eye's column of the selected patient.
    pub(super) fn shown_record(&self, eye: Eye) -> Option<&ImageRecord> {
        let index = self.selected?;
        self.catalog
            .patients
            .get(index)?
            .images()
            .filter(|r| r.eye == eye)
            .nth(self.chosen_image(index, eye))
    }

    /// The modality of the image shown large in an eye's column.
    pub fn shown_modality(&self, eye: Eye) -> Option<Modality> {
        self.shown_record(eye).map(|r| r.modality)
    }

    pub(super) fn shown_pixels(&self, eye: Eye) -> Option<&ShownFrame> {
        match self.pixels.get(self.shown_record(eye)?.source.path())? {
            Pixels::Ready(shown) => Some(shown),
            _ => None,
        }
    }

    /// The frame shown large in an eye's column (the B-scan of an OCT volume), once decoded.
    pub fn shown_frame(&self, eye: Eye) -> Option<u32> {
        self.shown_pixels(eye).map(|s| s.frame)
    }

    /// Whether every patient has been analysed (or failed).
    pub fn analysis_finished(&self) -> bool {
        !self.statuses.is_empty() && self.statuses.values().all(|s| !s.pending())
    }

    /// The selected patient's result, when analysed.
    pub(super) fn selected_result(&self) -> Option<&PatientResult> {
        match self.statuses.get(self.selected_patient()?)? {
            PatientStatus::Done(result) => Some(result),
            _ => None,
        }
    }

    /// Whether the heatmap overlay is on.
    pub fn overlay_shown(&self) -> bool {
        self.settings.overlay_on
    }

    /// The heatmap key of the image shown in an eye's column, with the current method.
    pub(super) fn heat_key(&self, source: HeatSource) -> HeatKey {
        let method = self.settings.heatmap_method;
        HeatKey {
            source,
            method,
            finding: if method.needs_finding() {
                self.heat_finding.clone()
            } else {
                None
            },
        }
    }

    pub(super) fn eye_heat_key(&self, eye: Eye) -> Option<HeatKey> {
        let record = self.shown_record(eye)?;
        let frame = self.shown_frame(eye)?;
        Some(self.heat_key(HeatSource::Image {
            path: record.source.path().to_path_buf(),
            frame,
        }))
    }

    /// The heatmap over an eye's image when the overlay is on and it is ready: its peak
    /// patch (column, row) and the finding it was made for.
    pub fn shown_heatmap(&self, eye: Eye) -> Option<((usize, usize), Option<String>)> {
        if !self.settings.overlay_on {
            return None;
        }
        match self.heatmaps.get(&self.eye_heat_key(eye)?)? {
            HeatState::Ready(_, heatmap) => Some((heatmap.peak(), heatmap.finding.clone())),
            _ => None,
        }
    }

    /// The latest free-text scores: the text and (row, score) pairs.
    pub fn prompt_scores(&self) -> Option<(&str, &[(String, f64)])> {
        match &self.prompt.answer {
            Some((text, Ok(rows))) => Some((text.as_str(), rows.as_slice())),
            _ => None,
        }
    }

    /// The similar cases shown: their case ids, most similar first.
    pub fn similar_case_ids(&self) -> Vec<&str> {
        match &self.similar.answer {
            Some(Ok(answer)) => answer.cases.iter().map(|c| c.case_id.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// The case open in the compare view.
    pub fn compared_case(&self) -> Option<&str> {
        self.compare.as_ref().map(|c| c.case_id.as_str())
    }

    /// Zoom and pan of an eye's main view.
    pub fn view_of(&self, eye: Eye) -> Option<ViewTransform> {
        Some(self.view_for(self.shown_record(eye)?.source.path()))
    }

    /// Zoom and pan of the main view of `path` (the shared one when the eyes are linked).
    pub(super) fn view_for(&self, path: &std::path::Path) -> ViewTransform {
        if self.settings.linked {
            self.linked_view
        } else {
            self.views.get(path).copied().unwrap_or_default()
        }
    }

    /// Stores `view` as the main view of `path` (or the shared one); an untouched view of an
    /// image is not stored.
    pub(super) fn store_view(&mut self, path: &std::path::Path, view: ViewTransform) {
        if self.settings.linked {
            self.linked_view = view;
        } else if view != ViewTransform::default() || self.views.contains_key(path) {
            self.views.insert(path.to_path_buf(), view);
        }
    }

    /// Window/level of an eye's main view.
    pub fn window_of(&self, eye: Eye) -> Option<WindowLevel> {
        let path = self.shown_record(eye)?.source.path();
        Some(self.windows.get(path).copied().unwrap_or_default())
    }

    /// Why the case library cannot be used, when it cannot.
    pub fn library_unavailable(&self) -> Option<&str> {
        match &self.library_status {
            LibraryStatus::Unavailable(reason) | LibraryStatus::None(reason) => Some(reason),
            _ => None,
        }
    }

    /// The settings that would be saved now.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Whether the shortcut overlay is shown.
    pub fn help_shown(&self) -> bool {
        self.show_help
    }

    /// Opens `paths` in place of what is open (as File → Open does).
    pub fn open_paths(&mut self, paths: Vec<PathBuf>) {
        self.open(paths);
    }

    /// Whether the selected patient's findings are ready (shown from the next frame on).
    pub fn selected_analysed(&self) -> bool {
        self.selected_result().is_some()
    }

    /// Leaves the durations out of the status bar, so that screenshots of the same state are
    /// the same picture (snapshot tests).
    pub fn hide_timings(&mut self) {
        self.show_timings = false;
    }
}

impl eframe::App for FoveaApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.poll();
        let dropped: Vec<PathBuf> = ui.ctx().input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if !dropped.is_empty() {
            self.commands.push(Command::Open(dropped));
        }
        self.shortcuts(ui.ctx());
        egui::Panel::top("menu").show(ui, |ui| self.menu_bar_ui(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar_ui(ui));
        if self.settings.patient_list_open {
            egui::Panel::left("patients")
                .resizable(true)
                .default_size(240.0)
                .show(ui, |ui| self.patient_list_ui(ui));
        }
        egui::Panel::right("findings")
            .resizable(true)
            .default_size(340.0)
            .show(ui, |ui| self.side_panel_ui(ui));
        egui::Panel::bottom("similar cases")
            .resizable(true)
            .default_size(210.0)
            .show(ui, |ui| self.similar_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            let Some(index) = self.selected else {
                ui.label(&self.scan_note);
                return;
            };
            self.hovered_eye = None;
            self.view_toolbar_ui(ui);
            ui.separator();
            ui.columns(2, |columns| {
                self.eye_column_ui(&mut columns[0], index, Eye::Right);
                self.eye_column_ui(&mut columns[1], index, Eye::Left);
            });
        });
        self.compare_ui(ui.ctx());
        self.help_ui(ui.ctx());
        self.apply();
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, SETTINGS_KEY, &self.settings);
    }
}
