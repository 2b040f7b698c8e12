//! Read-only views of the viewer's state: what the panels draw from, and what the tests drive
//! the app through (`harness.state()`).

use std::path::PathBuf;

use super::analysis_job::{HeatKey, HeatSource};
use super::app::FoveaApp;
use super::display::WindowLevel;
use super::settings::Settings;
use super::status::{HeatState, LibraryStatus, ModelStatus, PatientStatus, Pixels, ShownFrame};
use super::view_transform::ViewTransform;
use crate::analysis::engine::{ImageResult, PatientResult};
use crate::study::model::{ImageRecord, Patient};
use crate::study::{Eye, Modality};

impl FoveaApp {
    /// The id of the patient on screen.
    pub fn selected_patient(&self) -> Option<&str> {
        self.selected_record().map(|p| p.info.id.as_str())
    }

    pub(super) fn selected_record(&self) -> Option<&Patient> {
        self.session
            .selected
            .and_then(|i| self.session.catalog.patients.get(i))
    }

    /// Which of an eye's images (index among that eye's images) is shown large.
    pub(super) fn chosen_image(&self, index: usize, eye: Eye) -> usize {
        self.session
            .main_image
            .get(&(index, eye))
            .copied()
            .unwrap_or(0)
    }

    /// The image shown large in an eye's column of the selected patient.
    pub(super) fn shown_record(&self, eye: Eye) -> Option<&ImageRecord> {
        let index = self.session.selected?;
        self.session
            .catalog
            .patients
            .get(index)?
            .images()
            .filter(|r| r.eye == eye)
            .nth(self.chosen_image(index, eye))
    }

    /// The analysis result of the image shown large in an eye's column, once analyzed.
    pub(super) fn shown_image_result(&self, eye: Eye) -> Option<&ImageResult> {
        let path = self.shown_record(eye)?.source.path();
        self.selected_result()?
            .images
            .iter()
            .find(|i| i.path == path)
    }

    /// Whether the image shown in an eye's column is outside the images the model was
    /// validated on (`None` before analysis or when not checked).
    pub fn shown_outside_domain(&self, eye: Eye) -> Option<bool> {
        self.shown_image_result(eye)?
            .domain
            .as_ref()
            .and_then(|d| d.in_domain.map(|inside| !inside))
    }

    /// The modality of the image shown large in an eye's column.
    pub fn shown_modality(&self, eye: Eye) -> Option<Modality> {
        self.shown_record(eye).map(|r| r.modality)
    }

    pub(super) fn shown_pixels(&self, eye: Eye) -> Option<&ShownFrame> {
        match self
            .session
            .pixels
            .get(self.shown_record(eye)?.source.path())?
        {
            Pixels::Ready(shown) => Some(shown),
            _ => None,
        }
    }

    /// The frame shown large in an eye's column (the B-scan of an OCT volume), once decoded.
    pub fn shown_frame(&self, eye: Eye) -> Option<u32> {
        self.shown_pixels(eye).map(|s| s.frame)
    }

    /// Whether pixels asked of the decoder have not come back yet.
    pub fn decoding(&self) -> bool {
        !self.session.requested.is_empty()
    }

    /// Whether every patient has been analyzed (or failed).
    pub fn analysis_finished(&self) -> bool {
        !self.session.statuses.is_empty() && self.session.statuses.values().all(|s| !s.pending())
    }

    /// The selected patient's result, when analyzed.
    pub(super) fn selected_result(&self) -> Option<&PatientResult> {
        match self.session.statuses.get(self.selected_patient()?)? {
            PatientStatus::Done(result) => Some(result),
            _ => None,
        }
    }

    /// Whether the heatmap overlay is on.
    pub fn overlay_shown(&self) -> bool {
        self.view.settings.overlay_on
    }

    /// The heatmap key of the image shown in an eye's column, with the current method.
    pub(super) fn heat_key(&self, source: HeatSource) -> HeatKey {
        let method = self.view.settings.heatmap_method;
        HeatKey {
            source,
            method,
            finding: if method.needs_finding() {
                self.view.heat_finding.clone()
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
        if !self.view.settings.overlay_on {
            return None;
        }
        match self.session.heatmaps.get(&self.eye_heat_key(eye)?)? {
            HeatState::Ready(_, heatmap) => Some((heatmap.peak(), heatmap.finding.clone())),
            _ => None,
        }
    }

    /// The eye whose column is active (similar cases, keyboard zoom).
    pub fn active_eye(&self) -> Eye {
        self.view.active_eye
    }

    /// The heatmap methods the loaded model offers (empty before it is loaded).
    pub fn heatmap_methods(&self) -> Vec<crate::analysis::heatmap::HeatmapMethod> {
        match &self.jobs.model {
            ModelStatus::Ready(info) => info.heat_methods.clone(),
            _ => Vec::new(),
        }
    }

    /// The latest free-text scores: the text and (row, score) pairs.
    pub fn prompt_scores(&self) -> Option<(&str, &[(String, f64)])> {
        match &self.session.prompt_answer {
            Some((text, Ok(rows))) => Some((text.as_str(), rows.as_slice())),
            _ => None,
        }
    }

    /// The similar cases shown: their case ids, most similar first.
    pub fn similar_case_ids(&self) -> Vec<&str> {
        match &self.session.similar_answer {
            Some(Ok(answer)) => answer.cases.iter().map(|c| c.case_id.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// The case open in the compare view.
    pub fn compared_case(&self) -> Option<&str> {
        self.session.compare.as_ref().map(|c| c.case_id.as_str())
    }

    /// Zoom and pan of an eye's main view.
    pub fn view_of(&self, eye: Eye) -> Option<ViewTransform> {
        Some(self.view_for(self.shown_record(eye)?.source.path()))
    }

    /// Zoom and pan of the main view of `path` (the shared one when the eyes are linked).
    pub(super) fn view_for(&self, path: &std::path::Path) -> ViewTransform {
        if self.view.settings.linked {
            self.view.linked_view
        } else {
            self.view.views.get(path).copied().unwrap_or_default()
        }
    }

    /// Stores `view` as the main view of `path` (or the shared one); an untouched view of an
    /// image is not stored.
    pub(super) fn store_view(&mut self, path: &std::path::Path, view: ViewTransform) {
        if self.view.settings.linked {
            self.view.linked_view = view;
        } else if view != ViewTransform::default() || self.view.views.contains_key(path) {
            self.view.views.insert(path.to_path_buf(), view);
        }
    }

    /// Window/level of an eye's main view.
    pub fn window_of(&self, eye: Eye) -> Option<WindowLevel> {
        let path = self.shown_record(eye)?.source.path();
        Some(self.view.windows.get(path).copied().unwrap_or_default())
    }

    /// Why the case library cannot be used, when it cannot.
    pub fn library_unavailable(&self) -> Option<&str> {
        match &self.jobs.library_status {
            LibraryStatus::Unavailable(reason) | LibraryStatus::None(reason) => Some(reason),
            _ => None,
        }
    }

    /// The settings that would be saved now.
    pub fn settings(&self) -> &Settings {
        &self.view.settings
    }

    /// Whether the start screen is shown (nothing opened yet).
    pub fn start_screen_shown(&self) -> bool {
        self.config.paths.is_empty() && self.session.selected.is_none()
    }

    /// Whether the Model menu's import window is open.
    pub fn import_window_open(&self) -> bool {
        self.view.model_tool.open == Some(super::state::ToolKind::Import)
    }

    /// Whether the shortcut overlay is shown.
    pub fn help_shown(&self) -> bool {
        self.view.show_help
    }

    /// Opens `paths` in place of what is open (as File → Open does).
    pub fn open_paths(&mut self, paths: Vec<PathBuf>) {
        self.open(paths);
    }

    /// Whether the selected patient's findings are ready (shown from the next frame on).
    pub fn selected_analyzed(&self) -> bool {
        self.selected_result().is_some()
    }

    /// Runs the model from another pack and analyzes the open studies again (as Model →
    /// Switch pack does).
    pub fn switch_to_pack(&mut self, pack: PathBuf) {
        self.switch_pack(pack);
    }

    /// The loaded pack's name, once it is ready.
    pub fn pack_name(&self) -> Option<&str> {
        match &self.jobs.model {
            super::status::ModelStatus::Ready(info) => Some(info.stamp.name.as_str()),
            _ => None,
        }
    }

    /// The selected patient's eye-level finding ids, in order.
    pub fn eye_finding_ids(&self, eye: Eye) -> Vec<&str> {
        self.selected_result()
            .and_then(|r| r.eye(eye))
            .map(|e| e.findings.iter().map(|f| f.id.as_str()).collect())
            .unwrap_or_default()
    }

    /// Imports a checkpoint into the installed packs, as Model → Import checkpoint does
    /// (the window opens and shows how it went).
    pub fn import_checkpoint(&mut self, checkpoint: PathBuf, arch: &str, out: PathBuf) {
        self.view.model_tool.open = Some(super::state::ToolKind::Import);
        self.view.model_tool.checkpoint = Some(checkpoint.clone());
        self.start_model_task(super::model_tool_job::ModelTask::Import {
            checkpoint,
            arch: arch.to_string(),
            out,
        });
    }

    /// Whether the Model menu's import or validation is still running.
    pub fn model_tool_running(&self) -> bool {
        self.jobs.model_tool.is_some()
    }

    /// Opens the pack card (Model → Pack card).
    pub fn open_pack_card(&mut self) {
        self.view.show_pack_card = true;
    }
}
