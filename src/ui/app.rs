//! The viewer's state and frame: polls the background jobs, then draws the patient list, the
//! two eye columns and the findings panel. Every slow step (scan, decode, model) is a job.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::analysis_job::{AnalysisEvent, AnalysisJob};
use crate::analysis::engine::PatientResult;
use crate::analysis::findings::{FindingProbability, ModelStamp};
use crate::study::jobs::{DecodeEvent, DecodeRequest, DecodeWorker, ScanEvent, ScanJob};
use crate::study::model::{Catalog, ImageRecord, Patient};
use crate::study::pixels::DecodedImage;
use crate::study::{Eye, Modality};

/// An image's pixels (all frames) and the shown frame on the GPU, or why not.
enum Pixels {
    Loading,
    Ready {
        decoded: Arc<DecodedImage>,
        frame: u32,
        texture: egui::TextureHandle,
    },
    Failed(String),
}

/// The texture of one frame, or why it cannot be shown.
fn frame_texture(
    ctx: &egui::Context,
    name: &str,
    decoded: &DecodedImage,
    frame: u32,
) -> Result<egui::TextureHandle, String> {
    let rgb = decoded
        .frame_to_rgb8(frame)
        .ok_or_else(|| format!("frame {frame} cannot be shown"))?;
    let size = [rgb.width() as usize, rgb.height() as usize];
    let image = egui::ColorImage::from_rgb(size, rgb.as_raw());
    Ok(ctx.load_texture(name, image, egui::TextureOptions::LINEAR))
}

/// Where a patient's analysis stands.
enum PatientStatus {
    Queued,
    Done(Box<PatientResult>),
    Failed(String),
}

/// Where the model stands.
enum ModelStatus {
    Loading,
    Ready { stamp: ModelStamp, device: String },
    Failed(String),
}

/// The viewer.
pub struct FoveaApp {
    scan: Option<ScanJob>,
    scan_note: String,
    catalog: Catalog,
    search: String,
    selected: Option<usize>,
    decode: Option<DecodeWorker>,
    next_request: u64,
    requested: HashMap<u64, PathBuf>,
    pixels: HashMap<PathBuf, Pixels>,
    main_image: HashMap<(usize, Eye), usize>,
    analysis: Option<AnalysisJob>,
    model: ModelStatus,
    statuses: HashMap<String, PatientStatus>,
    to_analyse: Vec<usize>,
    job_errors: Vec<String>,
}

impl FoveaApp {
    /// Starts scanning `paths` and loading `pack` in the background.
    pub fn new(ctx: &egui::Context, paths: Vec<PathBuf>, pack: PathBuf) -> Self {
        let mut job_errors = Vec::new();
        let scan = ScanJob::spawn(paths)
            .map_err(|e| job_errors.push(format!("cannot start the scan: {e}")))
            .ok();
        let decode = DecodeWorker::spawn(32)
            .map_err(|e| job_errors.push(format!("cannot start decoding: {e}")))
            .ok();
        let repaint_ctx = ctx.clone();
        let analysis = AnalysisJob::spawn(pack, move || repaint_ctx.request_repaint())
            .map_err(|e| job_errors.push(format!("cannot start the model: {e}")))
            .ok();
        FoveaApp {
            scan,
            scan_note: "scanning…".into(),
            catalog: Catalog::default(),
            search: String::new(),
            selected: None,
            decode,
            next_request: 0,
            requested: HashMap::new(),
            pixels: HashMap::new(),
            main_image: HashMap::new(),
            analysis,
            model: ModelStatus::Loading,
            statuses: HashMap::new(),
            to_analyse: Vec::new(),
            job_errors,
        }
    }

    /// The id of the patient on screen.
    pub fn selected_patient(&self) -> Option<&str> {
        self.selected
            .and_then(|i| self.catalog.patients.get(i))
            .map(|p| p.info.id.as_str())
    }

    /// Which of an eye's images (index among that eye's images) is shown large.
    fn chosen_image(&self, index: usize, eye: Eye) -> usize {
        self.main_image.get(&(index, eye)).copied().unwrap_or(0)
    }

    /// The image shown large in an eye's column of the selected patient.
    fn shown_record(&self, eye: Eye) -> Option<&ImageRecord> {
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

    /// The frame shown large in an eye's column (the B-scan of an OCT volume), once decoded.
    pub fn shown_frame(&self, eye: Eye) -> Option<u32> {
        let record = self.shown_record(eye)?;
        match self.pixels.get(record.source.path())? {
            Pixels::Ready { frame, .. } => Some(*frame),
            _ => None,
        }
    }

    /// Whether every patient has been analysed (or failed).
    pub fn analysis_finished(&self) -> bool {
        !self.statuses.is_empty()
            && self
                .statuses
                .values()
                .all(|s| !matches!(s, PatientStatus::Queued))
    }

    /// Applies what the jobs reported since the last frame.
    fn poll(&mut self, ctx: &egui::Context) {
        let mut finished = None;
        if let Some(scan) = &self.scan {
            while let Some(event) = scan.try_next() {
                match event {
                    ScanEvent::Progress(p) => {
                        self.scan_note =
                            format!("scanning… {} of {} files", p.files_done, p.files_total);
                    }
                    ScanEvent::Finished(catalog) => finished = Some(catalog),
                }
            }
        }
        if let Some(catalog) = finished {
            self.scan = None;
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
        if let Some(analysis) = &self.analysis {
            while let Some(&index) = self.to_analyse.last() {
                let patient = self.catalog.patients[index].clone();
                if analysis.try_analyse(patient).is_err() {
                    break;
                }
                self.to_analyse.pop();
            }
            while let Some(event) = analysis.try_next() {
                match event {
                    AnalysisEvent::Ready { stamp, device } => {
                        self.model = ModelStatus::Ready { stamp, device };
                    }
                    AnalysisEvent::PackFailed(reason) => self.model = ModelStatus::Failed(reason),
                    AnalysisEvent::Done(result) => {
                        let id = result.patient_id.clone();
                        self.statuses.insert(id, PatientStatus::Done(result));
                    }
                    AnalysisEvent::Failed { patient_id, reason } => {
                        self.statuses
                            .insert(patient_id, PatientStatus::Failed(reason));
                    }
                }
            }
        }
        if let Some(decode) = &self.decode {
            while let Some(event) = decode.try_next() {
                if let DecodeEvent::Finished { id, result } = event
                    && let Some(path) = self.requested.remove(&id)
                {
                    let pixels = match result {
                        Ok(decoded) => {
                            // A volume opens on its central B-scan (through the fovea).
                            let frame = decoded.frames / 2;
                            let name = path.display().to_string();
                            match frame_texture(ctx, &name, &decoded, frame) {
                                Ok(texture) => Pixels::Ready {
                                    decoded,
                                    frame,
                                    texture,
                                },
                                Err(reason) => Pixels::Failed(reason),
                            }
                        }
                        Err(reason) => Pixels::Failed(reason),
                    };
                    self.pixels.insert(path, pixels);
                }
            }
        }
        let busy = self.scan.is_some()
            || !self.requested.is_empty()
            || self
                .statuses
                .values()
                .any(|s| matches!(s, PatientStatus::Queued));
        if busy {
            ctx.request_repaint_after(Duration::from_millis(100));
        }
    }

    /// Asks the decoder for an image's pixels once.
    fn request_pixels(&mut self, record: &ImageRecord) {
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

    fn patient_list_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Patients");
        ui.add(
            egui::TextEdit::singleline(&mut self.search)
                .hint_text("search name or id")
                .desired_width(f32::INFINITY),
        );
        ui.separator();
        let needle = self.search.to_lowercase();
        egui::ScrollArea::vertical().show(ui, |ui| {
            for (index, patient) in self.catalog.patients.iter().enumerate() {
                let name = patient.info.name.clone().unwrap_or_default();
                let matches = needle.is_empty()
                    || patient.info.id.to_lowercase().contains(&needle)
                    || name.to_lowercase().contains(&needle);
                if !matches {
                    continue;
                }
                let status = match self.statuses.get(&patient.info.id) {
                    Some(PatientStatus::Done(_)) => "done",
                    Some(PatientStatus::Failed(_)) => "error",
                    _ => "analysing",
                };
                let text = format!(
                    "{}\n{}\n{} · {}",
                    patient.info.id,
                    name.replace('^', " "),
                    modality_summary(patient),
                    status
                );
                if ui
                    .selectable_label(self.selected == Some(index), text)
                    .clicked()
                {
                    self.selected = Some(index);
                }
            }
        });
    }

    fn eye_column_ui(&mut self, ui: &mut egui::Ui, index: usize, eye: Eye) {
        ui.heading(match eye {
            Eye::Right => "OD (right eye)",
            _ => "OS (left eye)",
        });
        let records: Vec<ImageRecord> = self.catalog.patients[index]
            .images()
            .filter(|r| r.eye == eye)
            .cloned()
            .collect();
        if records.is_empty() {
            ui.label("No images of this eye.");
            return;
        }
        let chosen = self.chosen_image(index, eye);
        ui.horizontal_wrapped(|ui| {
            for (i, record) in records.iter().enumerate() {
                if ui
                    .selectable_label(i == chosen, record.modality.label())
                    .clicked()
                {
                    self.main_image.insert((index, eye), i);
                }
            }
        });
        let record = &records[chosen.min(records.len() - 1)];
        self.request_pixels(record);
        let ctx = ui.ctx().clone();
        match self.pixels.get_mut(record.source.path()) {
            Some(Pixels::Ready {
                decoded,
                frame,
                texture,
            }) => {
                let mut wanted = *frame;
                if decoded.frames > 1 {
                    // B-scans: slider, or arrow keys while the pointer is over this column.
                    let last = decoded.frames - 1;
                    let mut shown = wanted + 1;
                    ui.add(
                        egui::Slider::new(&mut shown, 1..=last + 1)
                            .text(format!("B-scan of {}", last + 1)),
                    );
                    wanted = shown - 1;
                    if ui.ui_contains_pointer() {
                        ui.input(|i| {
                            if i.key_pressed(egui::Key::ArrowUp) {
                                wanted = wanted.saturating_sub(1);
                            }
                            if i.key_pressed(egui::Key::ArrowDown) {
                                wanted = (wanted + 1).min(last);
                            }
                        });
                    }
                }
                if wanted != *frame {
                    let name = record.source.path().display().to_string();
                    match frame_texture(&ctx, &name, decoded, wanted) {
                        Ok(new_texture) => {
                            *texture = new_texture;
                            *frame = wanted;
                        }
                        Err(reason) => {
                            ui.colored_label(ui.visuals().error_fg_color, reason);
                        }
                    }
                }
                let size = ui.available_size();
                ui.add(
                    egui::Image::new(&*texture)
                        .max_size(size)
                        .maintain_aspect_ratio(true),
                );
            }
            Some(Pixels::Failed(reason)) => {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    format!("Cannot show: {reason}"),
                );
            }
            _ => {
                ui.spinner();
            }
        }
    }

    fn findings_ui(&self, ui: &mut egui::Ui) {
        ui.heading("Findings");
        match &self.model {
            ModelStatus::Loading => {
                ui.label("Loading the model…");
            }
            ModelStatus::Failed(reason) => {
                ui.colored_label(ui.visuals().error_fg_color, reason);
                return;
            }
            ModelStatus::Ready { stamp, .. } => {
                ui.label(egui::RichText::new(stamp.label()).small());
                if stamp.synthetic_training_data {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        "Demo model trained on synthetic images only — not for clinical use.",
                    );
                }
            }
        }
        ui.separator();
        let Some(index) = self.selected else { return };
        let id = &self.catalog.patients[index].info.id;
        match self.statuses.get(id) {
            Some(PatientStatus::Done(result)) => {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    ui.strong("Patient");
                    if let Some(note) = &result.patient_note {
                        ui.label(note);
                    }
                    findings_bars_ui(ui, &result.findings);
                    for eye in &result.eyes {
                        ui.separator();
                        ui.strong(eye.eye.label());
                        if let Some(note) = &eye.note {
                            ui.label(note);
                        }
                        findings_bars_ui(ui, &eye.findings);
                        ui.label(format!("{} images used", eye.contributing.len()));
                        for (path, reason) in &eye.excluded {
                            let name = path.file_name().map(|n| n.to_string_lossy());
                            ui.label(format!("left out {}: {reason}", name.unwrap_or_default()));
                        }
                    }
                });
            }
            Some(PatientStatus::Failed(reason)) => {
                ui.colored_label(ui.visuals().error_fg_color, reason);
            }
            _ => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("analysing…");
                });
            }
        }
    }

    fn status_bar_ui(&self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            match &self.model {
                ModelStatus::Ready { device, .. } => ui.label(format!("model on {device}")),
                ModelStatus::Loading => ui.label("model loading"),
                ModelStatus::Failed(_) => ui.label("no model"),
            };
            ui.separator();
            ui.label(&self.scan_note);
            let done = self
                .statuses
                .values()
                .filter(|s| !matches!(s, PatientStatus::Queued))
                .count();
            ui.separator();
            ui.label(format!("analysed {done}/{}", self.statuses.len()));
            for error in &self.job_errors {
                ui.colored_label(ui.visuals().error_fg_color, error);
            }
        });
    }
}

/// "OD, OS · colour fundus, OCT, SLO/IR".
fn modality_summary(patient: &Patient) -> String {
    let mut eyes: Vec<&str> = patient.images().map(|r| r.eye.label()).collect();
    eyes.sort_unstable();
    eyes.dedup();
    let mut modalities: Vec<Modality> = patient.images().map(|r| r.modality).collect();
    modalities.sort();
    modalities.dedup();
    let names: Vec<&str> = modalities.iter().map(|m| m.label()).collect();
    format!("{} · {}", eyes.join(", "), names.join(", "))
}

/// One bar per finding, with the probability, the operating point and the referral flag.
fn findings_bars_ui(ui: &mut egui::Ui, findings: &[FindingProbability]) {
    for f in findings {
        let refer = if f.refer { "  REFER" } else { "" };
        let threshold = f
            .operating_point
            .map(|t| format!(" (refer ≥ {t:.2})"))
            .unwrap_or_default();
        ui.label(format!("{}{refer}", f.name));
        ui.add(
            egui::ProgressBar::new(f.probability as f32)
                .text(format!("{:.2}{threshold}", f.probability)),
        );
    }
}

impl eframe::App for FoveaApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.poll(&ctx);
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar_ui(ui));
        egui::Panel::left("patients")
            .resizable(true)
            .default_size(240.0)
            .show(ui, |ui| self.patient_list_ui(ui));
        egui::Panel::right("findings")
            .resizable(true)
            .default_size(320.0)
            .show(ui, |ui| self.findings_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            let Some(index) = self.selected else {
                ui.label(&self.scan_note);
                return;
            };
            ui.columns(2, |columns| {
                self.eye_column_ui(&mut columns[0], index, Eye::Right);
                self.eye_column_ui(&mut columns[1], index, Eye::Left);
            });
        });
    }
}
