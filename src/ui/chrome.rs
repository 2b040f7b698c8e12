//! The window's frame around the images: menu bar, patient list, status bar, keyboard
//! shortcuts and their help overlay.

use super::app::FoveaApp;
use super::commands::Command;
use super::dialogs::OpenKind;
use super::packs::{available_packs, installed_dir};
use super::state::ToolKind;
use super::status::{LibraryStatus, ModelStatus, PatientStatus};
use crate::study::Eye;
use crate::study::model::Patient;

/// The keyboard and mouse, as the help overlay lists them.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("PageDown / PageUp", "next / previous patient"),
    (
        "Up / Down arrow (pointer over a column)",
        "previous / next B-scan",
    ),
    ("H", "heatmap overlay on / off"),
    ("+ / -", "zoom in / out"),
    ("mouse wheel", "zoom about the pointer"),
    ("drag", "pan"),
    (
        "right-drag",
        "window / level (horizontal: contrast, vertical: brightness)",
    ),
    ("0 or double-click", "reset zoom, pan and window / level"),
    ("L", "link both eyes' zoom and pan"),
    ("click on the localizer", "jump to the nearest B-scan"),
    ("F1 or ?", "this help"),
    ("Esc", "close help or the compare view"),
];

impl FoveaApp {
    /// Turns key presses into commands (not while a text field has the keyboard).
    pub(super) fn shortcuts(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        // A focused widget (a slider) owns the arrow keys.
        let over = self
            .view
            .hovered_eye
            .filter(|_| ctx.memory(|m| m.focused().is_none()));
        let commands = ctx.input(|i| {
            let mut c = Vec::new();
            let pressed = |key| i.key_pressed(key);
            if pressed(egui::Key::PageDown) {
                c.push(Command::StepPatient(1));
            }
            if pressed(egui::Key::PageUp) {
                c.push(Command::StepPatient(-1));
            }
            if let Some(eye) = over {
                if pressed(egui::Key::ArrowUp) {
                    c.push(Command::StepFrame { eye, delta: -1 });
                }
                if pressed(egui::Key::ArrowDown) {
                    c.push(Command::StepFrame { eye, delta: 1 });
                }
            }
            if pressed(egui::Key::H) {
                c.push(Command::ToggleOverlay);
            }
            if pressed(egui::Key::Plus) || pressed(egui::Key::Equals) {
                c.push(Command::ZoomActive(1.25));
            }
            if pressed(egui::Key::Minus) {
                c.push(Command::ZoomActive(0.8));
            }
            if pressed(egui::Key::Num0) {
                c.push(Command::ResetViews);
            }
            if pressed(egui::Key::L) {
                c.push(Command::ToggleLinked);
            }
            if pressed(egui::Key::F1) || pressed(egui::Key::Questionmark) {
                c.push(Command::ToggleHelp);
            }
            if pressed(egui::Key::Escape) {
                c.push(Command::CloseCompare);
                if self.view.show_help {
                    c.push(Command::ToggleHelp);
                }
            }
            c
        });
        self.commands.extend(commands);
    }

    pub(super) fn menu_bar_ui(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open folder…").clicked() {
                    self.commands.push(Command::OpenDialog(OpenKind::Folder));
                }
                if ui.button("Open files…").clicked() {
                    self.commands.push(Command::OpenDialog(OpenKind::Files));
                }
                if ui.button("Open DICOMDIR…").clicked() {
                    self.commands.push(Command::OpenDialog(OpenKind::Dicomdir));
                }
                ui.menu_button("Recent", |ui| {
                    if self.view.settings.recent.is_empty() {
                        ui.label("nothing yet");
                    }
                    for path in self.view.settings.recent.clone() {
                        if ui.button(path.display().to_string()).clicked() {
                            self.commands.push(Command::Open(vec![path]));
                        }
                    }
                    if !self.view.settings.recent.is_empty() {
                        ui.separator();
                        if ui
                            .button("Clear the list")
                            .on_hover_text("folder names can name patients: forget them")
                            .clicked()
                        {
                            self.commands.push(Command::ForgetRecent);
                        }
                    }
                });
                ui.separator();
                if ui.button("Quit").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("Model", |ui| {
                ui.menu_button("Switch pack", |ui| {
                    for pack in available_packs(&self.jobs.first_pack) {
                        let current = pack.path == self.config.pack;
                        if ui.selectable_label(current, &pack.label).clicked() && !current {
                            self.commands.push(Command::SwitchPack(pack.path));
                            ui.close();
                        }
                    }
                    ui.separator();
                    ui.label(
                        egui::RichText::new(match installed_dir() {
                            Some(dir) => format!(
                                "Packs are installed as folders in {} (fovea model import / validate --out there).",
                                dir.display()
                            ),
                            None => "This system has no user data folder for installed packs.".to_string(),
                        })
                        .small(),
                    );
                });
                if ui.button("Pack card…").clicked() {
                    self.commands.push(Command::TogglePackCard);
                    ui.close();
                }
                ui.separator();
                if ui.button("Import checkpoint…").clicked() {
                    self.commands.push(Command::ShowModelTool(Some(ToolKind::Import)));
                    ui.close();
                }
                if ui.button("Validate on labelled images…").clicked() {
                    self.commands.push(Command::ShowModelTool(Some(ToolKind::Validate)));
                    ui.close();
                }
            });
            ui.menu_button("View", |ui| {
                let mut dark = self.view.settings.dark;
                if ui.checkbox(&mut dark, "Dark theme").changed() {
                    self.commands.push(Command::SetDark(dark));
                }
                let mut list = self.view.settings.patient_list_open;
                if ui.checkbox(&mut list, "Patient list").changed() {
                    self.commands.push(Command::TogglePatientList);
                }
                let mut linked = self.view.settings.linked;
                if ui.checkbox(&mut linked, "Link both eyes (L)").changed() {
                    self.commands.push(Command::ToggleLinked);
                }
                let mut overlay = self.view.settings.overlay_on;
                if ui.checkbox(&mut overlay, "Heatmap overlay (H)").changed() {
                    self.commands.push(Command::ToggleOverlay);
                }
                if ui.button("Reset zoom and window (0)").clicked() {
                    self.commands.push(Command::ResetViews);
                }
            });
            ui.menu_button("Help", |ui| {
                if ui.button("Keyboard shortcuts (F1)").clicked() {
                    self.commands.push(Command::ToggleHelp);
                }
            });
            if !self.view.settings.patient_list_open && ui.button("Show patients").clicked() {
                self.commands.push(Command::TogglePatientList);
            }
        });
    }

    pub(super) fn patient_list_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("Patients");
            if ui
                .small_button("hide")
                .on_hover_text("hide the list")
                .clicked()
            {
                self.commands.push(Command::TogglePatientList);
            }
        });
        ui.add(
            egui::TextEdit::singleline(&mut self.view.search)
                .hint_text("search name or id")
                .desired_width(f32::INFINITY),
        );
        ui.separator();
        let needle = self.view.search.to_lowercase();
        egui::ScrollArea::vertical().show(ui, |ui| {
            for (index, patient) in self.session.catalog.patients.iter().enumerate() {
                let name = patient.info.name.clone().unwrap_or_default();
                let matches = needle.is_empty()
                    || patient.info.id.to_lowercase().contains(&needle)
                    || name.to_lowercase().contains(&needle);
                if !matches {
                    continue;
                }
                let status = self
                    .session
                    .statuses
                    .get(&patient.info.id)
                    .map_or("queued", PatientStatus::label);
                let text = format!(
                    "{}\n{}{}\n{} · {}",
                    patient.info.id_label(),
                    name.replace('^', " "),
                    study_dates(patient),
                    modality_summary(patient),
                    status
                );
                let response = ui.selectable_label(self.session.selected == Some(index), text);
                let response = match self.session.statuses.get(&patient.info.id) {
                    Some(PatientStatus::Failed(reason)) => response.on_hover_text(reason),
                    _ => match patient.info.keyed_by_file() {
                        Some(path) => response.on_hover_text(path.display().to_string()),
                        None => response,
                    },
                };
                if response.clicked() {
                    self.commands.push(Command::SelectPatient(index));
                }
            }
            if !self.session.catalog.unreadable.is_empty() {
                ui.separator();
                ui.collapsing(
                    format!("{} unreadable files", self.session.catalog.unreadable.len()),
                    |ui| {
                        for file in &self.session.catalog.unreadable {
                            ui.label(format!("{}: {}", file.path.display(), file.reason));
                        }
                    },
                );
            }
            // Files that are not images (other formats, DICOM without pixels, sidecars are not
            // counted): listed, so a folder that opens empty says why.
            let skipped: Vec<_> = self
                .session
                .catalog
                .skipped
                .iter()
                .filter(|f| f.reason != "sidecar of an image")
                .collect();
            if !skipped.is_empty() {
                ui.separator();
                ui.collapsing(format!("{} skipped files", skipped.len()), |ui| {
                    for file in skipped {
                        ui.label(format!("{}: {}", file.path.display(), file.reason));
                    }
                });
            }
        });
    }

    pub(super) fn status_bar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            match &self.jobs.model {
                ModelStatus::Ready(info) => ui.label(format!("model on {}", info.device)),
                ModelStatus::Loading => ui.label("model loading…"),
                ModelStatus::Failed(_) => ui.label("no model"),
            };
            if let Some(adapter) = &self.display_adapter {
                ui.label(format!("· display on {adapter}"));
            }
            ui.separator();
            if let Some(progress) = self.session.scan_progress {
                ui.add(egui::ProgressBar::new(progress).desired_width(120.0));
            }
            ui.label(&self.session.scan_note);
            if self.jobs.scan.is_some()
                && !self.session.scan_cancelled
                && ui
                    .button("Stop scan")
                    .on_hover_text("keep the patients found so far")
                    .clicked()
            {
                self.commands.push(Command::CancelScan);
            }
            ui.separator();
            let total = self.session.statuses.len();
            let settled = self
                .session
                .statuses
                .values()
                .filter(|s| !s.pending())
                .count();
            let done = self
                .session
                .statuses
                .values()
                .filter(|s| matches!(s, PatientStatus::Done(_)))
                .count();
            ui.label(format!("analyzed {done}/{total}"));
            if settled < total {
                ui.add(
                    egui::ProgressBar::new(settled as f32 / total.max(1) as f32)
                        .desired_width(120.0)
                        .animate(true),
                );
                if ui
                    .button("Cancel")
                    .on_hover_text("drop the queued patients")
                    .clicked()
                {
                    self.commands.push(Command::CancelAnalysis);
                }
            }
            if let Some((id, took, at)) = self
                .jobs
                .last_analysis
                .as_ref()
                .filter(|_| self.view.show_timings)
            {
                ui.label(format!(
                    "· last analysis: {} in {:.1} s, {} s ago",
                    crate::study::model::id_label(id),
                    took.as_secs_f64(),
                    at.elapsed().as_secs()
                ));
            }
            let heatmaps = self
                .session
                .heatmaps
                .values()
                .filter(|h| matches!(h, super::status::HeatState::Pending))
                .count();
            if heatmaps > 0 {
                ui.separator();
                ui.spinner();
                ui.label(format!("{heatmaps} heatmaps"));
            }
            ui.separator();
            match &self.jobs.library_status {
                LibraryStatus::Ready(info) => ui.label(format!(
                    "library: {} images, {} eyes",
                    info.counts.0, info.counts.1
                )),
                LibraryStatus::Loading => ui.label("library loading…"),
                LibraryStatus::None(_) => ui.label("no library"),
                LibraryStatus::Unavailable(_) => ui.label("library unavailable"),
            };
            for error in &self.jobs.job_errors {
                ui.colored_label(ui.visuals().error_fg_color, error);
            }
        });
    }

    pub(super) fn help_ui(&mut self, ctx: &egui::Context) {
        if !self.view.show_help {
            return;
        }
        let mut open = true;
        egui::Window::new("Keyboard and mouse")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| {
                egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
                    for (keys, what) in SHORTCUTS {
                        ui.strong(*keys);
                        ui.label(*what);
                        ui.end_row();
                    }
                });
            });
        if !open {
            self.commands.push(Command::ToggleHelp);
        }
    }

    /// Remembers which eye column the pointer is over (arrow keys act there).
    pub(super) fn note_hover(&mut self, ui: &egui::Ui, eye: Eye) {
        if ui.rect_contains_pointer(ui.max_rect()) {
            self.view.hovered_eye = Some(eye);
        }
    }
}

/// "OD, OS · colour fundus, OCT, SLO/IR".
pub(super) fn modality_summary(patient: &Patient) -> String {
    let mut eyes: Vec<&str> = patient.images().map(|r| r.eye.label()).collect();
    eyes.sort_unstable();
    eyes.dedup();
    let mut modalities: Vec<crate::study::Modality> =
        patient.images().map(|r| r.modality).collect();
    modalities.sort();
    modalities.dedup();
    let names: Vec<&str> = modalities.iter().map(|m| m.label()).collect();
    format!("{} · {}", eyes.join(", "), names.join(", "))
}

/// " · 2024-03-05" for the studies' dates (DICOM YYYYMMDD shown as ISO).
fn study_dates(patient: &Patient) -> String {
    let mut dates: Vec<String> = patient
        .studies
        .iter()
        .filter_map(|s| s.info.date.as_deref())
        .map(|d| {
            if d.len() == 8 && d.chars().all(|c| c.is_ascii_digit()) {
                format!("{}-{}-{}", &d[0..4], &d[4..6], &d[6..8])
            } else {
                d.to_string()
            }
        })
        .collect();
    dates.sort();
    dates.dedup();
    if dates.is_empty() {
        String::new()
    } else {
        format!(" · {}", dates.join(", "))
    }
}
