//! Side-by-side compare: the selected eye's image next to a similar case's library thumbnail,
//! with one zoom/pan for both and the heatmap overlay on both when it is on.

use super::analysis_job::HeatSource;
use super::app::FoveaApp;
use super::commands::Command;
use super::image_view::{ViewInput, image_view_ui, view_key};

impl FoveaApp {
    pub(super) fn compare_ui(&mut self, ctx: &egui::Context) {
        let Some(case) = self.session.compare.clone() else {
            return;
        };
        let eye = self.view.active_eye;
        let mut open = true;
        egui::Window::new("Compare with a similar case")
            .open(&mut open)
            .default_size(egui::vec2(900.0, 560.0))
            .show(ctx, |ui| {
                let case_findings: Vec<String> =
                    case.findings.iter().map(|f| self.finding_name(f)).collect();
                ui.label(format!(
                    "{} {} · similarity {:.3} · known findings: {} · library thumbnail ({} px)",
                    case.case_id,
                    case.eye.label(),
                    case.similarity,
                    if case_findings.is_empty() {
                        "none".to_string()
                    } else {
                        case_findings.join("; ")
                    },
                    case.thumbnail
                        .as_ref()
                        .map_or(0, |t| t.width().max(t.height()))
                ));
                let size = egui::vec2(
                    (ui.available_width() / 2.0 - 8.0).max(64.0),
                    (ui.available_height() - 24.0).max(64.0),
                );
                ui.horizontal(|ui| {
                    let mut view = self.view.compare_view;
                    let mut window = self.view.compare_window;
                    ui.vertical(|ui| {
                        let record = self.shown_record(eye).cloned();
                        let heat_key = self.eye_heat_key(eye);
                        match (record, self.shown_pixels(eye)) {
                            (Some(record), Some(shown)) => {
                                ui.label(format!(
                                    "This patient: {} {}",
                                    eye.label(),
                                    record.modality.label()
                                ));
                                let input = ViewInput {
                                    key: view_key("compare left", record.source.path()),
                                    image: &shown.upload,
                                    texture: shown.texture.as_ref().map(egui::TextureHandle::id),
                                    heat: self.heat_upload(heat_key.as_ref()),
                                    opacity: self.view.settings.overlay_opacity,
                                    column_spacing_mm: record.pixel_spacing_mm.map(|s| s.column_mm),
                                    label: "this patient's image".into(),
                                    gpu: self.gpu,
                                    interactive: true,
                                };
                                image_view_ui(ui, size, &mut view, &mut window, &input);
                            }
                            _ => {
                                ui.label("The selected eye's image is not shown yet.");
                            }
                        }
                    });
                    ui.vertical(|ui| {
                        ui.label(format!("Similar case {}", case.case_id));
                        let heat_key = self.heat_key(HeatSource::Case(case.image_id));
                        let texture = self.thumbnail_texture(ui.ctx(), &case);
                        match (&self.session.compare_upload, texture) {
                            (Some(upload), texture) => {
                                let input = ViewInput {
                                    key: view_key("compare right", case.image_id),
                                    image: upload,
                                    texture: texture.as_ref().map(egui::TextureHandle::id),
                                    heat: self.heat_upload(Some(&heat_key)),
                                    opacity: self.view.settings.overlay_opacity,
                                    column_spacing_mm: None,
                                    label: "similar case image".into(),
                                    gpu: self.gpu,
                                    interactive: true,
                                };
                                image_view_ui(ui, size, &mut view, &mut window, &input);
                            }
                            _ => {
                                ui.label("The library has no thumbnail for this case.");
                            }
                        }
                    });
                    self.view.compare_view = view;
                    self.view.compare_window = window;
                });
            });
        if !open {
            self.commands.push(Command::CloseCompare);
        }
    }
}
