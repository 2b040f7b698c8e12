//! The viewer's state, its background jobs and the one place state changes: the frame polls
//! the jobs, draws the panels (which emit [`Command`]s), then [`FoveaApp::apply`] applies the
//! commands. Every slow step (scan, decode, model, heatmaps, retrieval, dialogs) is a job.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::analysis_job::{
    AnalysisEvent, AnalysisJob, AnalysisRequest, HeatKey, HeatSource, ModelDevice, ModelInfo,
};
use super::dialogs::{DialogJob, OpenKind};
use super::display::{HeatUpload, ImageUpload, WindowLevel};
use super::library_job::{LibraryEvent, LibraryInfo, LibraryJob, SimilarAnswer, SimilarCase};
use super::settings::{SETTINGS_KEY, Settings};
use super::view_transform::ViewTransform;
use crate::analysis::engine::PatientResult;
use crate::analysis::heatmap::{Heatmap, HeatmapMethod};
use crate::study::jobs::{DecodeEvent, DecodeRequest, DecodeWorker, ScanEvent, ScanJob};
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

    fn pending(&self) -> bool {
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
    /// Serial, text and row labels of the request in flight.
    pub pending: Option<(u64, String, Vec<String>)>,
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

/// What the panels ask for; applied once per frame by [`FoveaApp::apply`].
pub(super) enum Command {
    Open(Vec<PathBuf>),
    OpenDialog(OpenKind),
    SelectPatient(usize),
    StepPatient(i32),
    ShowImage { eye: Eye, index: usize },
    Activate(Eye),
    SetFrame { path: PathBuf, frame: u32 },
    StepFrame { eye: Eye, delta: i32 },
    ToggleOverlay,
    ZoomActive(f32),
    ResetViews,
    ToggleLinked,
    SetDark(bool),
    CancelAnalysis,
    Compare(Box<SimilarCase>),
    CloseCompare,
    ToggleHelp,
    TogglePatientList,
    ForgetRecent,
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
    pub(super) catalog: Catalog,
    pub(super) search: String,
    pub(super) selected: Option<usize>,
    pub(super) next_request: u64,
    pub(super) requested: HashMap<u64, PathBuf>,
    pub(super) pixels: HashMap<PathBuf, Pixels>,
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
const POLL_INTERVAL: Duration = Duration::from_millis(100);

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
        let analysis = AnalysisJob::spawn(config.pack.clone(), device, move || {
            repaint_ctx.request_repaint()
        })
        .map_err(|e| job_errors.push(format!("cannot start the model: {e}")))
        .ok();
        cc.egui_ctx.set_theme(if settings.dark {
            egui::Theme::Dark
        } else {
            egui::Theme::Light
        });
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
            catalog: Catalog::default(),
            search: String::new(),
            selected: None,
            next_request: 0,
            requested: HashMap::new(),
            pixels: HashMap::new(),
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
            finding: match method {
                HeatmapMethod::GradCam => self.heat_finding.clone(),
                HeatmapMethod::AttentionRollout => None,
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
        let path = self.shown_record(eye)?.source.path();
        Some(if self.settings.linked {
            self.linked_view
        } else {
            self.views.get(path).copied().unwrap_or_default()
        })
    }

    /// Window/level of an eye's main view.
    pub fn window_of(&self, eye: Eye) -> Option<WindowLevel> {
        let path = self.shown_record(eye)?.source.path();
        Some(self.windows.get(path).copied().unwrap_or_default())
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

    // ---- Jobs. ----

    /// Opens `paths` in place of what is open: a new scan; queued analyses of the old
    /// patients are dropped.
    pub(super) fn open(&mut self, paths: Vec<PathBuf>) {
        self.generation += 1;
        if let Some(analysis) = &self.analysis {
            analysis.cancel_before(self.generation);
        }
        for path in &paths {
            self.settings.remember(path);
        }
        self.config.paths = paths.clone();
        self.catalog = Catalog::default();
        self.selected = None;
        self.statuses.clear();
        self.to_analyse.clear();
        self.main_image.clear();
        self.pixels.clear();
        self.requested.clear();
        self.heatmaps.clear();
        self.similar.asked_for = None;
        self.similar.answer = None;
        self.prompt.answer = None;
        self.compare = None;
        self.scan_note = "scanning…".into();
        self.scan_progress = Some(0.0);
        self.scan = ScanJob::spawn(paths)
            .map_err(|e| self.job_errors.push(format!("cannot start the scan: {e}")))
            .ok();
    }

    /// Applies what the jobs reported since the last frame.
    fn poll(&mut self) {
        self.poll_scan();
        self.poll_analysis();
        self.poll_decode();
        self.poll_library();
        if let Some(answer) = self.dialog.as_ref().and_then(DialogJob::try_answer) {
            self.dialog = None;
            if answer.is_empty() {
                self.scan_note = "nothing chosen (if no dialog appeared: drop files on the window or run `fovea <folder>`)".into();
            } else {
                self.open(answer);
            }
        }
        self.request_heatmaps();
        self.send_prompt_when_typing_paused();
        self.ask_similar();
        let busy = self.scan.is_some()
            || self.dialog.is_some()
            || !self.requested.is_empty()
            || self.statuses.values().any(PatientStatus::pending)
            || self.prompt.edited_at.is_some()
            || self.prompt.pending.is_some()
            || matches!(self.library_status, LibraryStatus::Loading)
            || self
                .heatmaps
                .values()
                .any(|h| matches!(h, HeatState::Pending));
        if busy {
            self.ctx.request_repaint_after(POLL_INTERVAL);
        }
    }

    fn poll_scan(&mut self) {
        let mut finished = None;
        if let Some(scan) = &self.scan {
            while let Some(event) = scan.try_next() {
                match event {
                    ScanEvent::Progress(p) => {
                        self.scan_note =
                            format!("scanning… {} of {} files", p.files_done, p.files_total);
                        self.scan_progress =
                            Some(p.files_done as f32 / p.files_total.max(1) as f32);
                    }
                    ScanEvent::Finished(catalog) => finished = Some(catalog),
                }
            }
        }
        let Some(catalog) = finished else { return };
        self.scan = None;
        self.scan_progress = None;
        self.scan_note = format!(
            "{} patients, {} images, {} unreadable files",
            catalog.patients.len(),
            catalog.image_count(),
            catalog.unreadable.len()
        );
        self.catalog = *catalog;
        self.to_analyse = (0..self.catalog.patients.len()).rev().collect();
        for p in &self.catalog.patients {
            self.statuses
                .insert(p.info.id.clone(), PatientStatus::Queued);
        }
        self.selected = (!self.catalog.patients.is_empty()).then_some(0);
    }

    fn poll_analysis(&mut self) {
        let Some(analysis) = &self.analysis else {
            return;
        };
        while let Some(&index) = self.to_analyse.last() {
            let request = AnalysisRequest::Patient {
                generation: self.generation,
                patient: Box::new(self.catalog.patients[index].clone()),
            };
            if analysis.try_send(request).is_err() {
                break;
            }
            self.to_analyse.pop();
        }
        let mut start_library = None;
        while let Some(event) = analysis.try_next() {
            match event {
                AnalysisEvent::Ready(info) => {
                    self.heat_finding = info.findings.first().map(|(id, _)| id.clone());
                    start_library =
                        Some((info.stamp.name.clone(), info.stamp.weights_sha256.clone()));
                    self.model = ModelStatus::Ready(info);
                }
                AnalysisEvent::PackFailed(reason) => {
                    self.model = ModelStatus::Failed(reason.clone());
                    for status in self.statuses.values_mut() {
                        *status = PatientStatus::Failed("no model".into());
                    }
                    self.library_status =
                        LibraryStatus::Unavailable("no model to search with".into());
                }
                AnalysisEvent::Started(id) => {
                    if let Some(status) = self.statuses.get_mut(&id) {
                        *status = PatientStatus::Analysing;
                    }
                }
                AnalysisEvent::Done(result, took) => {
                    let id = result.patient_id.clone();
                    if self.statuses.contains_key(&id) {
                        self.last_analysis = Some((id.clone(), took, Instant::now()));
                        self.statuses.insert(id, PatientStatus::Done(result));
                    }
                }
                AnalysisEvent::Failed { patient_id, reason } => {
                    if self.statuses.contains_key(&patient_id) {
                        self.statuses
                            .insert(patient_id, PatientStatus::Failed(reason));
                    }
                }
                AnalysisEvent::Cancelled(id) => {
                    if let Some(status) = self.statuses.get_mut(&id)
                        && status.pending()
                    {
                        *status = PatientStatus::Cancelled;
                    }
                }
                AnalysisEvent::Heatmap(key, made) => {
                    let state = match made {
                        Ok(h) => HeatState::Ready(
                            HeatUpload::new(h.columns, h.rows, &h.values, h.covers),
                            h,
                        ),
                        Err(reason) => HeatState::Failed(reason),
                    };
                    self.heatmaps.insert(key, state);
                }
                AnalysisEvent::Prompt {
                    serial,
                    text,
                    scores,
                } => {
                    if let Some((pending, _, labels)) = self.prompt.pending.take() {
                        if pending == serial {
                            let rows =
                                scores.map(|s| labels.iter().cloned().zip(s).collect::<Vec<_>>());
                            self.prompt.answer = Some((text, rows));
                        } else {
                            self.prompt.pending = Some((pending, text, labels));
                        }
                    }
                }
            }
        }
        if let Some((name, sha)) = start_library {
            self.start_library(name, sha);
        }
    }

    fn start_library(&mut self, pack_name: String, pack_sha256: String) {
        let Some(dir) = self.config.library.clone() else {
            return;
        };
        let ctx = self.ctx.clone();
        match LibraryJob::spawn(dir, pack_name, pack_sha256, move || ctx.request_repaint()) {
            Ok(job) => self.library = Some(job),
            Err(e) => {
                self.library_status =
                    LibraryStatus::Unavailable(format!("cannot start the library: {e}"));
            }
        }
    }

    fn poll_library(&mut self) {
        let Some(library) = &self.library else {
            return;
        };
        while let Some(event) = library.try_next() {
            match event {
                LibraryEvent::Ready(info) => self.library_status = LibraryStatus::Ready(info),
                LibraryEvent::Unavailable(reason) => {
                    self.library_status = LibraryStatus::Unavailable(reason);
                }
                LibraryEvent::Answer(answer) => {
                    let current = answer
                        .as_ref()
                        .map_or(true, |a| a.serial == self.similar.serial);
                    if current {
                        self.similar.answer = Some(answer);
                    }
                }
            }
        }
    }

    fn poll_decode(&mut self) {
        let Some(decode) = &self.decode else {
            return;
        };
        let mut finished = Vec::new();
        while let Some(event) = decode.try_next() {
            if let DecodeEvent::Finished { id, result } = event
                && let Some(path) = self.requested.remove(&id)
            {
                finished.push((path, result));
            }
        }
        for (path, result) in finished {
            let pixels = match result {
                // A volume opens on its central B-scan (through the fovea).
                Ok(decoded) => {
                    let frame = decoded.frames / 2;
                    self.frame_pixels(&path, decoded, frame)
                }
                Err(reason) => Pixels::Failed(reason),
            };
            self.pixels.insert(path, pixels);
        }
    }

    /// Pixels of `frame` of a decoded image, ready to draw.
    fn frame_pixels(
        &self,
        path: &std::path::Path,
        decoded: Arc<DecodedImage>,
        frame: u32,
    ) -> Pixels {
        let Some(rgb) = decoded.frame_to_rgb8(frame) else {
            return Pixels::Failed(format!("frame {} cannot be shown", frame + 1));
        };
        let upload = ImageUpload::from_rgb(&rgb);
        let texture = (!self.gpu).then(|| {
            let size = [rgb.width() as usize, rgb.height() as usize];
            let image = egui::ColorImage::from_rgb(size, rgb.as_raw());
            self.ctx.load_texture(
                path.display().to_string(),
                image,
                egui::TextureOptions::LINEAR,
            )
        });
        Pixels::Ready(Box::new(ShownFrame {
            decoded,
            frame,
            rgb: Arc::new(rgb),
            upload,
            texture,
        }))
    }

    /// Asks the decoder for an image's pixels once.
    pub(super) fn request_pixels(&mut self, record: &ImageRecord) {
        let path = record.source.path().to_path_buf();
        if self.pixels.contains_key(&path) {
            return;
        }
        let Some(decode) = &self.decode else { return };
        let id = self.next_request;
        let request = DecodeRequest {
            id,
            record: Arc::new(record.clone()),
        };
        if decode.try_request(request).is_ok() {
            self.next_request += 1;
            self.requested.insert(id, path.clone());
            self.pixels.insert(path, Pixels::Loading);
        }
    }

    /// Sends heatmap requests for what is on screen when the overlay is on.
    fn request_heatmaps(&mut self) {
        if !self.settings.overlay_on || !matches!(self.model, ModelStatus::Ready(_)) {
            return;
        }
        let mut wanted: Vec<(HeatKey, Arc<image::RgbImage>)> = Vec::new();
        for eye in [Eye::Right, Eye::Left] {
            if let (Some(key), Some(shown)) = (self.eye_heat_key(eye), self.shown_pixels(eye)) {
                wanted.push((key, shown.rgb.clone()));
            }
        }
        if let Some(case) = &self.compare
            && let Some(thumbnail) = &case.thumbnail
        {
            wanted.push((
                self.heat_key(HeatSource::Case(case.image_id)),
                thumbnail.clone(),
            ));
        }
        if self.heatmaps.len() > 64 {
            self.heatmaps.retain(|_, h| matches!(h, HeatState::Pending));
        }
        let Some(analysis) = &self.analysis else {
            return;
        };
        for (key, image) in wanted {
            if self.heatmaps.contains_key(&key) {
                continue;
            }
            let request = AnalysisRequest::Heatmap {
                key: key.clone(),
                image,
            };
            if analysis.try_send(request).is_ok() {
                self.heatmaps.insert(key, HeatState::Pending);
            }
        }
    }

    /// The heatmap to overlay on a picture, when ready.
    pub(super) fn heat_upload(&self, key: Option<&HeatKey>) -> Option<&Arc<HeatUpload>> {
        if !self.settings.overlay_on {
            return None;
        }
        match self.heatmaps.get(key?)? {
            HeatState::Ready(upload, _) => Some(upload),
            _ => None,
        }
    }

    /// Scores the prompt once typing has paused for [`PROMPT_DEBOUNCE`].
    fn send_prompt_when_typing_paused(&mut self) {
        let Some(edited) = self.prompt.edited_at else {
            return;
        };
        if edited.elapsed() < PROMPT_DEBOUNCE {
            self.ctx.request_repaint_after(PROMPT_DEBOUNCE);
            return;
        }
        let text = self.prompt.text.trim().to_string();
        if text.is_empty() {
            self.prompt.edited_at = None;
            self.prompt.answer = None;
            return;
        }
        let Some(result) = self.selected_result() else {
            return; // Scored once the patient's analysis is done.
        };
        let mut labels = Vec::new();
        let mut targets = Vec::new();
        for eye in &result.eyes {
            if let Some(vector) = &eye.vector {
                let level = if eye.eye == Eye::Right {
                    crate::analysis::findings::Level::RightEye
                } else {
                    crate::analysis::findings::Level::LeftEye
                };
                labels.push(format!("{} eye", eye.eye.label()));
                targets.push(super::analysis_job::PromptTarget {
                    vector: vector.clone(),
                    level,
                });
            }
        }
        for image in &result.images {
            if let Some(vector) = &image.vector {
                let name = image
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                let label = format!("{} {} · {name}", image.eye.label(), image.modality.label());
                labels.push(label);
                targets.push(super::analysis_job::PromptTarget {
                    vector: vector.clone(),
                    level: crate::analysis::findings::Level::Image,
                });
            }
        }
        let Some(analysis) = &self.analysis else {
            return;
        };
        self.prompt.serial += 1;
        let request = AnalysisRequest::Prompt {
            serial: self.prompt.serial,
            text: text.clone(),
            targets,
        };
        if analysis.try_send(request).is_ok() {
            self.prompt.pending = Some((self.prompt.serial, text, labels));
            self.prompt.edited_at = None;
        }
    }

    /// Queries the library when the selection (patient, eye, scope, image) changed.
    fn ask_similar(&mut self) {
        let (Some(library), LibraryStatus::Ready(_)) = (&self.library, &self.library_status) else {
            return;
        };
        let Some(result) = self.selected_result() else {
            return;
        };
        let eye = self.active_eye;
        let scope = self.similar.scope;
        let image_path = self
            .shown_record(eye)
            .map(|r| r.source.path().to_path_buf());
        let wanted = (
            result.patient_id.clone(),
            eye,
            scope,
            match scope {
                SimilarScope::Eye => None,
                SimilarScope::Image => image_path.clone(),
            },
        );
        if self.similar.asked_for.as_ref() == Some(&wanted) {
            return;
        }
        use super::library_job::{SimilarQuery, SimilarRequest};
        let query = match scope {
            SimilarScope::Eye => result
                .eyes
                .iter()
                .find(|e| e.eye == eye)
                .and_then(|e| e.fused.clone())
                .map(|fused| SimilarQuery::Eye { fused }),
            SimilarScope::Image => result
                .images
                .iter()
                .find(|i| Some(&i.path) == image_path.as_ref())
                .and_then(|i| {
                    i.vector.clone().map(|vector| SimilarQuery::Image {
                        modality: i.modality,
                        vector,
                    })
                }),
        };
        let Some(query) = query else {
            self.similar.asked_for = Some(wanted);
            self.similar.answer = Some(Err(match scope {
                SimilarScope::Eye => format!(
                    "the {} eye has no gradable image to search with",
                    eye.label()
                ),
                SimilarScope::Image => {
                    "the shown image was not analysed (ungradable or not yet)".into()
                }
            }));
            return;
        };
        let serial = self.similar.serial + 1;
        if library.try_query(SimilarRequest {
            serial,
            query,
            k: 10,
        }) {
            self.similar.serial = serial;
            self.similar.asked_for = Some(wanted);
            self.similar.answer = None;
        }
    }

    // ---- Commands. ----

    /// Applies the frame's commands: the one place the panels' wishes change the state.
    fn apply(&mut self) {
        for command in std::mem::take(&mut self.commands) {
            match command {
                Command::Open(paths) => self.open(paths),
                Command::OpenDialog(kind) => {
                    if self.dialog.is_none() {
                        match DialogJob::spawn(kind, self.settings.last_folder.clone()) {
                            Ok(job) => self.dialog = Some(job),
                            Err(e) => self.job_errors.push(format!("cannot open a dialog: {e}")),
                        }
                    }
                }
                Command::SelectPatient(index) => {
                    if index < self.catalog.patients.len() {
                        self.selected = Some(index);
                    }
                }
                Command::StepPatient(delta) => {
                    let count = self.catalog.patients.len();
                    if count > 0 {
                        let current = self.selected.unwrap_or(0) as i64;
                        let next = (current + i64::from(delta)).clamp(0, count as i64 - 1);
                        self.selected = Some(next as usize);
                    }
                }
                Command::ShowImage { eye, index } => {
                    if let Some(patient) = self.selected {
                        self.main_image.insert((patient, eye), index);
                        self.active_eye = eye;
                    }
                }
                Command::Activate(eye) => self.active_eye = eye,
                Command::SetFrame { path, frame } => self.set_frame(&path, frame),
                Command::StepFrame { eye, delta } => {
                    if let (Some(record), Some(shown)) =
                        (self.shown_record(eye), self.shown_pixels(eye))
                    {
                        let last = shown.decoded.frames.saturating_sub(1) as i64;
                        let frame =
                            (i64::from(shown.frame) + i64::from(delta)).clamp(0, last) as u32;
                        let path = record.source.path().to_path_buf();
                        self.set_frame(&path, frame);
                    }
                }
                Command::ToggleOverlay => self.settings.overlay_on = !self.settings.overlay_on,
                Command::ZoomActive(factor) => {
                    let eye = self.hovered_eye.unwrap_or(self.active_eye);
                    if let Some(path) = self
                        .shown_record(eye)
                        .map(|r| r.source.path().to_path_buf())
                    {
                        let view = if self.settings.linked {
                            &mut self.linked_view
                        } else {
                            self.views.entry(path).or_default()
                        };
                        view.zoom = (view.zoom * factor).clamp(
                            super::view_transform::ZOOM_RANGE.0,
                            super::view_transform::ZOOM_RANGE.1,
                        );
                    }
                }
                Command::ResetViews => {
                    self.views.clear();
                    self.windows.clear();
                    self.linked_view = ViewTransform::default();
                    self.compare_view = ViewTransform::default();
                    self.compare_window = WindowLevel::default();
                }
                Command::ToggleLinked => {
                    if !self.settings.linked {
                        // Start from what the active eye shows.
                        self.linked_view = self.view_of(self.active_eye).unwrap_or_default();
                    }
                    self.settings.linked = !self.settings.linked;
                }
                Command::SetDark(dark) => {
                    self.settings.dark = dark;
                    self.ctx.set_theme(if dark {
                        egui::Theme::Dark
                    } else {
                        egui::Theme::Light
                    });
                }
                Command::CancelAnalysis => {
                    self.generation += 1;
                    if let Some(analysis) = &self.analysis {
                        analysis.cancel_before(self.generation);
                    }
                    for index in self.to_analyse.drain(..) {
                        if let Some(p) = self.catalog.patients.get(index) {
                            self.statuses
                                .insert(p.info.id.clone(), PatientStatus::Cancelled);
                        }
                    }
                }
                Command::Compare(case) => {
                    self.compare_view = ViewTransform::default();
                    self.compare_upload = case.thumbnail.as_deref().map(ImageUpload::from_rgb);
                    self.compare = Some(case);
                }
                Command::CloseCompare => self.compare = None,
                Command::ToggleHelp => self.show_help = !self.show_help,
                Command::ForgetRecent => {
                    self.settings.recent.clear();
                    self.settings.last_folder = None;
                }
                Command::TogglePatientList => {
                    self.settings.patient_list_open = !self.settings.patient_list_open;
                }
            }
        }
    }

    /// Shows another frame of a decoded image.
    fn set_frame(&mut self, path: &std::path::Path, frame: u32) {
        let Some(Pixels::Ready(shown)) = self.pixels.get(path) else {
            return;
        };
        if shown.frame == frame || frame >= shown.decoded.frames {
            return;
        }
        let pixels = self.frame_pixels(path, shown.decoded.clone(), frame);
        self.pixels.insert(path.to_path_buf(), pixels);
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
