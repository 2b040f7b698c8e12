//! The one place the panels' wishes change the viewer's state: [`Command`]s emitted while
//! drawing a frame, applied at its end.

use std::path::PathBuf;

use super::app::{FoveaApp, PatientStatus, Pixels};
use super::dialogs::{DialogJob, OpenKind};
use super::display::{ImageUpload, WindowLevel};
use super::library_job::SimilarCase;
use super::view_transform::ViewTransform;
use crate::study::Eye;

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
    CancelScan,
}

impl FoveaApp {
    /// Applies the frame's commands: the one place the panels' wishes change the state.
    pub(super) fn apply(&mut self) {
        for command in std::mem::take(&mut self.commands) {
            match command {
                Command::Open(paths) => self.open(paths),
                Command::OpenDialog(kind) => {
                    if self.dialog.is_none() {
                        match DialogJob::start(kind, self.settings.last_folder.clone()) {
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
                        let mut view = self.view_for(&path);
                        view.zoom_by(factor);
                        self.store_view(&path, view);
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
                    self.ctx.set_theme(self.settings.theme());
                }
                Command::CancelAnalysis => {
                    // Queued patients of this opening come back cancelled; the one being
                    // analysed finishes. A later opening (generation + 1) is not affected.
                    if let Some(analysis) = &self.analysis {
                        analysis.cancel_before(self.generation + 1);
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
                Command::CancelScan => {
                    if let Some(scan) = &self.scan {
                        scan.cancel();
                        self.scan_cancelled = true;
                    }
                }
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
