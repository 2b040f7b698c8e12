//! The viewer's side of its background jobs: opening (a new [`Session`] and scan) and polling
//! every job's events into the state. What the screen asks of the jobs is in
//! [`super::requests`].

use std::path::PathBuf;
use std::time::Instant;

use super::analysis_job::{AnalysisEvent, AnalysisJob, AnalysisRequest, PatientOutcome};
use super::app::{FoveaApp, POLL_INTERVAL};
use super::dialogs::{DialogJob, OpenKind};
use super::display::HeatUpload;
use super::image_view::rgb_texture;
use super::library_job::{LibraryEvent, LibraryJob};
use super::model_tool_job::{ModelTask, ModelToolEvent, start_model_task};
use super::requests::prompt_rows;
use super::state::Session;
use super::state::ToolStatus;
use super::status::{HeatState, LibraryStatus, ModelStatus, PatientStatus, Pixels};
use crate::study::jobs::{DecodeEvent, ScanEvent, ScanJob};

/// Size of the thumbnails on an eye's modality tabs (pixels, longer side).
const TAB_THUMBNAIL_PX: u32 = 64;

impl FoveaApp {
    /// Opens `paths` in place of what is open: a new scan; queued analyses of the old
    /// patients are dropped.
    pub(super) fn open(&mut self, paths: Vec<PathBuf>) {
        self.session = Session::opening(self.session.generation + 1);
        if let Some(analysis) = &self.jobs.analysis {
            analysis.cancel_before(self.session.generation);
        }
        for path in &paths {
            self.view.settings.remember(path);
        }
        self.config.paths = paths.clone();
        self.jobs.scan = ScanJob::start(paths, self.config.scan.clone())
            .map_err(|e| {
                self.jobs
                    .job_errors
                    .push(format!("cannot start the scan: {e}"))
            })
            .ok();
    }

    /// Runs the model from another pack: a new analysis worker on the same device, and the
    /// open studies analyzed again (a new opening, so nothing of the old pack's results is
    /// shown). The old worker is dropped on a thread of its own: dropping waits for the
    /// patient it is analyzing, and the frame must not.
    pub(super) fn switch_pack(&mut self, pack: PathBuf) {
        let ctx = self.ctx.clone();
        match AnalysisJob::start(pack.clone(), self.jobs.model_device.clone(), move || {
            ctx.request_repaint()
        }) {
            Ok(job) => {
                if let Some(old) = self.jobs.analysis.replace(job) {
                    let spawned = std::thread::Builder::new()
                        .name("fovea-analyze-stop".into())
                        .spawn(move || drop(old));
                    if let Err(e) = spawned {
                        log::warn!("the old analysis worker is stopped on the main thread: {e}");
                    }
                }
                self.jobs.model = ModelStatus::Loading;
                self.config.pack = pack;
                self.jobs.library = None;
                let paths = self.config.paths.clone();
                self.open(paths);
            }
            Err(e) => self
                .jobs
                .job_errors
                .push(format!("cannot start the model on {}: {e}", pack.display())),
        }
    }

    /// Starts an import or a validation (one at a time).
    pub(super) fn start_model_task(&mut self, task: ModelTask) {
        if self.jobs.model_tool.is_some() {
            return;
        }
        let ctx = self.ctx.clone();
        match start_model_task(task, move || ctx.request_repaint()) {
            Ok(job) => {
                self.jobs.model_tool = Some(job);
                self.jobs.model_tool_status = ToolStatus::Running("starting…".to_string());
            }
            Err(e) => {
                self.jobs.model_tool_status = ToolStatus::Failed(format!("cannot start: {e}"));
            }
        }
    }

    fn poll_model_tool(&mut self) {
        let Some(job) = &self.jobs.model_tool else {
            return;
        };
        let mut finished = false;
        while let Some(event) = job.try_next() {
            self.jobs.model_tool_status = match event {
                ModelToolEvent::Progress(text) => ToolStatus::Running(text),
                ModelToolEvent::Written(pack) => {
                    finished = true;
                    ToolStatus::Written(pack)
                }
                ModelToolEvent::Failed(reason) => {
                    finished = true;
                    ToolStatus::Failed(reason)
                }
            };
        }
        if finished {
            self.jobs.model_tool = None;
        }
    }

    /// Applies what the jobs reported since the last frame.
    pub(super) fn poll(&mut self) {
        self.poll_scan();
        self.poll_analysis();
        self.poll_decode();
        self.poll_library();
        self.poll_model_tool();
        if let Some(answer) = self.jobs.dialog.as_ref().and_then(DialogJob::try_next) {
            self.jobs.dialog = None;
            let kind = self.jobs.dialog_kind.take();
            if let (Some(OpenKind::Checkpoint), Some(path)) = (kind, answer.first()) {
                self.view.model_tool.checkpoint = Some(path.clone());
            } else if let (Some(OpenKind::LabelledFolder), Some(path)) = (kind, answer.first()) {
                self.view.model_tool.folder = Some(path.clone());
            } else if matches!(kind, Some(OpenKind::Checkpoint | OpenKind::LabelledFolder)) {
                // Cancelled: the form keeps what it had.
            } else if answer.is_empty() {
                self.session.scan_note = "nothing chosen (if no dialog appeared: drop files on the window or run `fovea <folder>`)".into();
            } else {
                self.open(answer);
            }
        }
        self.request_heatmaps();
        self.send_prompt_when_typing_paused();
        self.ask_similar();
        let busy = self.jobs.scan.is_some()
            || self.jobs.dialog.is_some()
            || !self.session.requested.is_empty()
            || self.session.statuses.values().any(PatientStatus::pending)
            || self.view.prompt.edited_at.is_some()
            || self.view.prompt.pending.is_some()
            || matches!(self.jobs.library_status, LibraryStatus::Loading)
            || self
                .session
                .heatmaps
                .values()
                .any(|h| matches!(h, HeatState::Pending));
        if busy {
            self.ctx.request_repaint_after(POLL_INTERVAL);
        }
    }

    fn poll_scan(&mut self) {
        let mut finished = None;
        if let Some(scan) = &self.jobs.scan {
            while let Some(event) = scan.try_next() {
                match event {
                    ScanEvent::Progress(p) => {
                        self.session.scan_note =
                            format!("scanning… {} of {} files", p.files_done, p.files_total);
                        self.session.scan_progress =
                            Some(p.files_done as f32 / p.files_total.max(1) as f32);
                    }
                    ScanEvent::Finished(catalog) => finished = Some(catalog),
                }
            }
        }
        let Some(catalog) = finished else { return };
        self.jobs.scan = None;
        self.session.scan_progress = None;
        self.session.scan_note = format!(
            "{}{} patients, {} images, {} unreadable files",
            if self.session.scan_cancelled {
                "scan stopped early: "
            } else {
                ""
            },
            catalog.patients.len(),
            catalog.image_count(),
            catalog.unreadable.len()
        );
        self.session.catalog = *catalog;
        self.session.to_analyze = (0..self.session.catalog.patients.len()).rev().collect();
        for p in &self.session.catalog.patients {
            let status = match &self.jobs.model {
                // Without a model nothing will be analyzed: say so instead of waiting.
                ModelStatus::Failed(_) => PatientStatus::Failed("no model".into()),
                _ => PatientStatus::Queued,
            };
            self.session.statuses.insert(p.info.id.clone(), status);
        }
        if matches!(self.jobs.model, ModelStatus::Failed(_)) {
            self.session.to_analyze.clear();
        }
        self.session.selected = None;
        if !self.session.catalog.patients.is_empty() {
            self.select_patient(0);
        }
    }

    fn poll_analysis(&mut self) {
        let Some(analysis) = &self.jobs.analysis else {
            return;
        };
        while let Some(&index) = self.session.to_analyze.last() {
            let request = AnalysisRequest::Patient {
                generation: self.session.generation,
                patient: Box::new(self.session.catalog.patients[index].clone()),
            };
            if analysis.try_send(request).is_err() {
                break;
            }
            self.session.to_analyze.pop();
        }
        let mut start_library = None;
        while let Some(event) = analysis.try_next() {
            match event {
                AnalysisEvent::Ready(info) => {
                    self.view.heat_finding = info.heat_findings.first().map(|(id, _)| id.clone());
                    if let Some(&default) = info.heat_methods.first()
                        && !info
                            .heat_methods
                            .contains(&self.view.settings.heatmap_method)
                    {
                        self.view.settings.heatmap_method = default;
                    }
                    start_library =
                        Some((info.stamp.name.clone(), info.stamp.weights_sha256.clone()));
                    self.jobs.model = ModelStatus::Ready(info);
                }
                AnalysisEvent::PackFailed(reason) => {
                    self.jobs.model = ModelStatus::Failed(reason.clone());
                    self.session.to_analyze.clear();
                    for status in self.session.statuses.values_mut() {
                        *status = PatientStatus::Failed("no model".into());
                    }
                    self.jobs.library_status =
                        LibraryStatus::Unavailable("no model to search with".into());
                }
                AnalysisEvent::Patient {
                    generation,
                    patient_id,
                    outcome,
                } => {
                    // News of an earlier opening is stale (the same id may be another study).
                    if generation != self.session.generation {
                        continue;
                    }
                    let Some(status) = self.session.statuses.get_mut(&patient_id) else {
                        continue;
                    };
                    *status = match outcome {
                        PatientOutcome::Started => PatientStatus::Analyzing,
                        PatientOutcome::Done(result, took) => {
                            self.jobs.last_analysis = Some((patient_id, took, Instant::now()));
                            PatientStatus::Done(result)
                        }
                        PatientOutcome::Failed(reason) => PatientStatus::Failed(reason),
                        PatientOutcome::Cancelled => PatientStatus::Cancelled,
                    };
                }
                AnalysisEvent::Heatmap(key, made) => {
                    let state = match made {
                        Ok(h) => HeatState::Ready(
                            HeatUpload::new(h.columns, h.rows, &h.values, h.covers),
                            h,
                        ),
                        Err(reason) => HeatState::Failed(reason),
                    };
                    self.session.heatmaps.insert(key, state);
                }
                AnalysisEvent::Prompt {
                    serial,
                    text,
                    scored,
                } => {
                    if self.view.prompt.pending == Some(serial) {
                        self.view.prompt.pending = None;
                        let rows = scored.map(|result| prompt_rows(&result, &text));
                        self.session.prompt_answer = Some((text, rows));
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
        match LibraryJob::start(dir, pack_name, pack_sha256, move || ctx.request_repaint()) {
            Ok(job) => self.jobs.library = Some(job),
            Err(e) => {
                self.jobs.library_status =
                    LibraryStatus::Unavailable(format!("cannot start the library: {e}"));
            }
        }
    }

    fn poll_library(&mut self) {
        let Some(library) = &self.jobs.library else {
            return;
        };
        while let Some(event) = library.try_next() {
            match event {
                LibraryEvent::Ready(info) => self.jobs.library_status = LibraryStatus::Ready(info),
                LibraryEvent::Unavailable(reason) => {
                    self.jobs.library_status = LibraryStatus::Unavailable(reason);
                }
                LibraryEvent::Answer(answer) => {
                    let current = answer
                        .as_ref()
                        .map_or(true, |a| a.serial == self.jobs.similar_serial);
                    if current {
                        self.session.similar_answer = Some(answer);
                    }
                }
            }
        }
    }

    fn poll_decode(&mut self) {
        let Some(decode) = &self.jobs.decode else {
            return;
        };
        let mut finished = Vec::new();
        while let Some(event) = decode.try_next() {
            if let DecodeEvent::Finished { id, result } = event
                && let Some(path) = self.session.requested.remove(&id)
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
            if let Pixels::Ready(shown) = &pixels
                && !self.session.tab_thumbnails.contains_key(&path)
            {
                let small =
                    image::imageops::thumbnail(&*shown.rgb, TAB_THUMBNAIL_PX, TAB_THUMBNAIL_PX);
                let texture = rgb_texture(&self.ctx, format!("tab {}", path.display()), &small);
                self.session.tab_thumbnails.insert(path.clone(), texture);
            }
            if !self.view.first_image_logged && matches!(pixels, Pixels::Ready(_)) {
                self.view.first_image_logged = true;
                log::info!("first image on screen: {}", path.display());
            }
            self.session.pixels.insert(path, pixels);
        }
    }
}
