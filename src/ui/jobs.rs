//! The viewer's side of its background jobs: opening (a new scan), polling every job's events
//! into the state, and sending the requests the screen needs (pixels, heatmaps, the prompt's
//! scores once typing pauses, similar cases when the selection changes).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::analysis_job::{AnalysisEvent, AnalysisRequest, HeatKey, HeatSource, PatientOutcome};
use super::app::{
    FoveaApp, HeatState, LibraryStatus, ModelStatus, POLL_INTERVAL, PROMPT_DEBOUNCE, PatientStatus,
    Pixels, ScoreRow, ShownFrame, SimilarScope,
};
use super::dialogs::DialogJob;
use super::display::{HeatUpload, ImageUpload};
use super::image_view::rgb_texture;
use super::library_job::{LibraryEvent, LibraryJob};
use crate::analysis::engine::{PatientResult, TextScore};
use crate::study::Eye;
use crate::study::jobs::{DecodeEvent, DecodeRequest, ScanEvent, ScanJob};
use crate::study::model::{Catalog, ImageRecord};
use crate::study::pixels::DecodedImage;

/// Decoded images kept in memory.
const PIXELS_KEPT: usize = 16;

/// Size of the thumbnails on an eye's modality tabs (pixels, longer side).
const TAB_THUMBNAIL_PX: u32 = 64;

impl FoveaApp {
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
        self.pixel_order.clear();
        self.tab_thumbnails.clear();
        self.requested.clear();
        self.heatmaps.clear();
        self.similar.asked_for = None;
        self.similar.answer = None;
        self.prompt.answer = None;
        self.compare = None;
        self.scan_note = "scanning…".into();
        self.scan_progress = Some(0.0);
        self.scan_cancelled = false;
        self.scan = ScanJob::start(paths)
            .map_err(|e| self.job_errors.push(format!("cannot start the scan: {e}")))
            .ok();
    }

    /// Applies what the jobs reported since the last frame.
    pub(super) fn poll(&mut self) {
        self.poll_scan();
        self.poll_analysis();
        self.poll_decode();
        self.poll_library();
        if let Some(answer) = self.dialog.as_ref().and_then(DialogJob::try_next) {
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
            "{}{} patients, {} images, {} unreadable files",
            if self.scan_cancelled {
                "scan stopped early: "
            } else {
                ""
            },
            catalog.patients.len(),
            catalog.image_count(),
            catalog.unreadable.len()
        );
        self.catalog = *catalog;
        self.to_analyse = (0..self.catalog.patients.len()).rev().collect();
        for p in &self.catalog.patients {
            let status = match &self.model {
                // Without a model nothing will be analysed: say so instead of waiting.
                ModelStatus::Failed(_) => PatientStatus::Failed("no model".into()),
                _ => PatientStatus::Queued,
            };
            self.statuses.insert(p.info.id.clone(), status);
        }
        if matches!(self.model, ModelStatus::Failed(_)) {
            self.to_analyse.clear();
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
                    self.to_analyse.clear();
                    for status in self.statuses.values_mut() {
                        *status = PatientStatus::Failed("no model".into());
                    }
                    self.library_status =
                        LibraryStatus::Unavailable("no model to search with".into());
                }
                AnalysisEvent::Patient {
                    generation,
                    patient_id,
                    outcome,
                } => {
                    // News of an earlier opening is stale (the same id may be another study).
                    if generation != self.generation {
                        continue;
                    }
                    let Some(status) = self.statuses.get_mut(&patient_id) else {
                        continue;
                    };
                    *status = match outcome {
                        PatientOutcome::Started => PatientStatus::Analysing,
                        PatientOutcome::Done(result, took) => {
                            self.last_analysis = Some((patient_id, took, Instant::now()));
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
                    self.heatmaps.insert(key, state);
                }
                AnalysisEvent::Prompt {
                    serial,
                    text,
                    scored,
                } => {
                    if self.prompt.pending == Some(serial) {
                        self.prompt.pending = None;
                        let rows = scored.map(|result| prompt_rows(&result, &text));
                        self.prompt.answer = Some((text, rows));
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
            if let Pixels::Ready(shown) = &pixels
                && !self.tab_thumbnails.contains_key(&path)
            {
                let small =
                    image::imageops::thumbnail(&*shown.rgb, TAB_THUMBNAIL_PX, TAB_THUMBNAIL_PX);
                let texture = rgb_texture(&self.ctx, format!("tab {}", path.display()), &small);
                self.tab_thumbnails.insert(path.clone(), texture);
            }
            self.pixels.insert(path, pixels);
        }
    }

    /// Pixels of `frame` of a decoded image, ready to draw.
    pub(super) fn frame_pixels(
        &self,
        path: &std::path::Path,
        decoded: Arc<DecodedImage>,
        frame: u32,
    ) -> Pixels {
        let Some(rgb) = decoded.frame_to_rgb8(frame) else {
            return Pixels::Failed(format!("frame {} cannot be shown", frame + 1));
        };
        // Grey wider than 8 bits goes to the GPU at full precision for window/level.
        let upload = match decoded.frame_to_unit_grey(frame) {
            Some(grey) => ImageUpload::from_unit_grey(decoded.columns, decoded.rows, &grey),
            None => ImageUpload::from_rgb(&rgb),
        };
        let texture = (!self.gpu).then(|| rgb_texture(&self.ctx, path.display().to_string(), &rgb));
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
            self.pixels.insert(path.clone(), Pixels::Loading);
            self.pixel_order.retain(|p| p != &path);
            self.pixel_order.push_back(path);
            self.forget_old_pixels();
        }
    }

    /// Keeps at most [`PIXELS_KEPT`] decoded images (a clinic's OCT volume can be hundreds of
    /// megabytes): the oldest that are neither on screen nor loading are dropped, and decoded
    /// again if they come back.
    fn forget_old_pixels(&mut self) {
        let shown: Vec<PathBuf> = [Eye::Right, Eye::Left]
            .into_iter()
            .filter_map(|eye| {
                self.shown_record(eye)
                    .map(|r| r.source.path().to_path_buf())
            })
            .collect();
        let mut kept = std::collections::VecDeque::new();
        while let Some(path) = self.pixel_order.pop_front() {
            let excess = self.pixels.len() > PIXELS_KEPT;
            // Loading ones are awaited; failed ones are small and would only fail again.
            let pinned = matches!(
                self.pixels.get(&path),
                Some(Pixels::Loading | Pixels::Failed(_))
            );
            if excess && !pinned && !shown.contains(&path) {
                self.pixels.remove(&path);
            } else {
                kept.push_back(path);
            }
        }
        self.pixel_order = kept;
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
        let result = Box::new(result.clone());
        let Some(analysis) = &self.analysis else {
            return;
        };
        self.prompt.serial += 1;
        let request = AnalysisRequest::Prompt {
            serial: self.prompt.serial,
            text,
            result,
        };
        if analysis.try_send(request).is_ok() {
            self.prompt.pending = Some(self.prompt.serial);
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
        if library
            .try_send(SimilarRequest {
                serial,
                query,
                k: 10,
            })
            .is_ok()
        {
            self.similar.serial = serial;
            self.similar.asked_for = Some(wanted);
            self.similar.answer = None;
        }
    }
}

/// The rows of the prompt box: each eye's score ("OD eye"), then each image's.
fn prompt_rows(result: &PatientResult, text: &str) -> Vec<ScoreRow> {
    let score = |scores: &[TextScore]| scores.iter().find(|s| s.text == text).map(|s| s.score);
    let eyes = result
        .eyes
        .iter()
        .filter_map(|eye| score(&eye.zero_shot).map(|s| (format!("{} eye", eye.eye.label()), s)));
    let images = result.images.iter().filter_map(|image| {
        let name = image
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        score(&image.zero_shot).map(|s| {
            (
                format!("{} {} · {name}", image.eye.label(), image.modality.label()),
                s,
            )
        })
    });
    eyes.chain(images).collect()
}
