//! The one place the panels' wishes change the viewer's state: [`Command`]s emitted while
//! drawing a frame, applied at its end.

use std::path::PathBuf;

use super::app::FoveaApp;
use super::dialogs::{DialogJob, OpenKind};
use super::display::{ImageUpload, WindowLevel};
use super::library_job::SimilarCase;
use super::model_tool_job::ModelTask;
use super::state::ToolKind;
use super::status::{PatientStatus, Pixels};
use super::view_transform::ViewTransform;
use crate::study::Eye;

/// What the panels ask for; applied once per frame by [`FoveaApp::apply`].
pub(super) enum Command {
    Open(Vec<PathBuf>),
    OpenDialog(OpenKind),
    SelectPatient(usize),
    StepPatient(i32),
    ShowImage {
        eye: Eye,
        index: usize,
    },
    Activate(Eye),
    SetFrame {
        path: PathBuf,
        frame: u32,
    },
    StepFrame {
        eye: Eye,
        delta: i32,
    },
    ToggleOverlay,
    ToggleVendorLayers,
    /// Gives an image without an eye the eye its optic disc suggests (in memory only).
    AcceptSuggestedEye {
        path: PathBuf,
        eye: Eye,
    },
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
    SwitchPack(PathBuf),
    TogglePackCard,
    ShowModelTool(Option<ToolKind>),
    StartModelTask(ModelTask),
}

impl FoveaApp {
    /// Applies the frame's commands: the one place the panels' wishes change the state.
    pub(super) fn apply(&mut self) {
        for command in std::mem::take(&mut self.commands) {
            match command {
                Command::Open(paths) => self.open(paths),
                Command::ShowModelTool(kind) => self.view.model_tool.open = kind,
                Command::StartModelTask(task) => self.start_model_task(task),
                Command::OpenDialog(kind) => {
                    if self.jobs.dialog.is_none() {
                        match DialogJob::start(kind, self.view.settings.last_folder.clone()) {
                            Ok(job) => {
                                self.jobs.dialog = Some(job);
                                self.jobs.dialog_kind = Some(kind);
                            }
                            Err(e) => self
                                .jobs
                                .job_errors
                                .push(format!("cannot open a dialog: {e}")),
                        }
                    }
                }
                Command::SwitchPack(pack) => self.switch_pack(pack),
                Command::TogglePackCard => self.view.show_pack_card = !self.view.show_pack_card,
                Command::SelectPatient(index) => {
                    if index < self.session.catalog.patients.len() {
                        self.select_patient(index);
                    }
                }
                Command::StepPatient(delta) => {
                    let count = self.session.catalog.patients.len();
                    if count > 0 {
                        let current = self.session.selected.unwrap_or(0) as i64;
                        let next = (current + i64::from(delta)).clamp(0, count as i64 - 1);
                        self.select_patient(next as usize);
                    }
                }
                Command::ShowImage { eye, index } => {
                    if let Some(patient) = self.session.selected {
                        self.session.main_image.insert((patient, eye), index);
                        self.view.active_eye = eye;
                    }
                }
                Command::Activate(eye) => self.view.active_eye = eye,
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
                Command::ToggleOverlay => {
                    self.view.settings.overlay_on = !self.view.settings.overlay_on
                }
                Command::AcceptSuggestedEye { path, eye } => self.accept_suggested_eye(&path, eye),
                Command::ToggleVendorLayers => {
                    self.view.settings.vendor_layers_on = !self.view.settings.vendor_layers_on
                }
                Command::ZoomActive(factor) => {
                    let eye = self.view.hovered_eye.unwrap_or(self.view.active_eye);
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
                    self.view.views.clear();
                    self.view.windows.clear();
                    self.view.linked_view = ViewTransform::default();
                    self.view.compare_view = ViewTransform::default();
                    self.view.compare_window = WindowLevel::default();
                }
                Command::ToggleLinked => {
                    if !self.view.settings.linked {
                        // Start from what the active eye shows.
                        self.view.linked_view =
                            self.view_of(self.view.active_eye).unwrap_or_default();
                    }
                    self.view.settings.linked = !self.view.settings.linked;
                }
                Command::SetDark(dark) => {
                    self.view.settings.dark = dark;
                    self.ctx.set_theme(self.view.settings.theme());
                }
                Command::CancelAnalysis => {
                    // Queued patients of this opening come back cancelled; the one being
                    // analyzed finishes. A later opening (generation + 1) is not affected.
                    if let Some(analysis) = &self.jobs.analysis {
                        analysis.cancel_before(self.session.generation + 1);
                    }
                    for index in self.session.to_analyze.drain(..) {
                        if let Some(p) = self.session.catalog.patients.get(index) {
                            self.session
                                .statuses
                                .insert(p.info.id.clone(), PatientStatus::Cancelled);
                        }
                    }
                }
                Command::Compare(case) => {
                    self.view.compare_view = ViewTransform::default();
                    self.session.compare_upload =
                        case.thumbnail.as_deref().map(ImageUpload::from_rgb);
                    self.session.compare = Some(case);
                }
                Command::CloseCompare => self.session.compare = None,
                Command::ToggleHelp => self.view.show_help = !self.view.show_help,
                Command::CancelScan => {
                    if let Some(scan) = &self.jobs.scan {
                        scan.cancel();
                        self.session.scan_cancelled = true;
                    }
                }
                Command::ForgetRecent => {
                    self.view.settings.recent.clear();
                    self.view.settings.last_folder = None;
                }
                Command::TogglePatientList => {
                    self.view.settings.patient_list_open = !self.view.settings.patient_list_open;
                }
            }
        }
    }

    /// Shows another frame of a decoded image.
    fn set_frame(&mut self, path: &std::path::Path, frame: u32) {
        let Some(Pixels::Ready(shown)) = self.session.pixels.get(path) else {
            return;
        };
        if shown.frame == frame || frame >= shown.decoded.frames {
            return;
        }
        let pixels = self.frame_pixels(path, shown.decoded.clone(), frame);
        self.session.pixels.insert(path.to_path_buf(), pixels);
    }
}

impl FoveaApp {
    /// Puts patient `index` on screen, with the active eye one that has images (OD when both
    /// or neither have).
    pub(super) fn select_patient(&mut self, index: usize) {
        self.session.selected = Some(index);
        if let Some(patient) = self.session.catalog.patients.get(index) {
            let has = |eye| patient.images().any(|r| r.eye == eye);
            if !has(self.view.active_eye) {
                self.view.active_eye = [Eye::Right, Eye::Left]
                    .into_iter()
                    .find(|e| has(*e))
                    .unwrap_or(Eye::Right);
            }
        }
    }

    /// Moves the selected patient's image `path` (without an eye) to `eye`, marked as an
    /// accepted suggestion, and analyzes the patient again. Nothing is written to the file.
    pub(super) fn accept_suggested_eye(&mut self, path: &std::path::Path, eye: Eye) {
        let Some(index) = self.session.selected else {
            return;
        };
        let Some(patient) = self.session.catalog.patients.get_mut(index) else {
            return;
        };
        let mut moved = false;
        for study in &mut patient.studies {
            let Some((group, at)) = study.eyes.iter().enumerate().find_map(|(g, e)| {
                e.images
                    .iter()
                    .position(|r| r.source.path() == path && r.eye == Eye::Unknown)
                    .map(|i| (g, i))
            }) else {
                continue;
            };
            let mut record = study.eyes[group].images.remove(at);
            record.eye = eye;
            record.eye_source = crate::study::model::EyeSource::AcceptedSuggestion;
            if study.eyes[group].images.is_empty() {
                study.eyes.remove(group);
            }
            match study.eyes.iter_mut().find(|e| e.eye == eye) {
                Some(target) => target.images.push(record),
                None => {
                    study.eyes.push(crate::study::model::EyeImages {
                        eye,
                        images: vec![record],
                    });
                    study.eyes.sort_by_key(|e| e.eye);
                }
            }
            moved = true;
            break;
        }
        if moved {
            let id = patient.info.id.clone();
            self.session.statuses.insert(id, PatientStatus::Queued);
            self.session.to_analyze.push(index);
            self.select_patient(index);
        }
    }
}
