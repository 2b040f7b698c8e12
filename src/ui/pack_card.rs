//! The pack card (Model → Pack card…): what the loaded pack is, where its weights came from,
//! what it scores and whether each finding is validated, its domain description, its
//! validation report and its model card.

use super::app::FoveaApp;
use super::commands::Command;
use super::status::ModelStatus;

impl FoveaApp {
    /// The card's window, while it is open.
    pub(super) fn pack_card_ui(&mut self, ctx: &egui::Context) {
        let mut open = self.view.show_pack_card;
        egui::Window::new("Pack card")
            .open(&mut open)
            .default_width(560.0)
            .default_height(520.0)
            .show(ctx, |ui| {
                let ModelStatus::Ready(info) = &self.jobs.model else {
                    ui.label(match &self.jobs.model {
                        ModelStatus::Failed(reason) => reason.clone(),
                        _ => "Loading the model…".to_string(),
                    });
                    return;
                };
                let card = &info.card;
                egui::ScrollArea::vertical().show(ui, |ui| {
                    ui.heading(info.stamp.label());
                    egui::Grid::new("pack card facts")
                        .num_columns(2)
                        .show(ui, |ui| {
                            for (key, value) in [
                            ("folder", card.pack.display().to_string()),
                            ("architecture", card.architecture.clone()),
                            ("weights from", card.provenance.clone()),
                            ("runs on", info.device.clone()),
                            (
                                "finding set",
                                info.finding_set.clone().unwrap_or_else(|| "—".to_string()),
                            ),
                            (
                                "domain check",
                                card.domain.clone().unwrap_or_else(|| {
                                    "not validated here (no description of its validation images)"
                                        .to_string()
                                }),
                            ),
                        ] {
                            ui.strong(key);
                            ui.add(egui::Label::new(value).wrap());
                            ui.end_row();
                        }
                        });
                    ui.label(egui::RichText::new(&info.intended_use).small());
                    ui.separator();
                    ui.strong("Findings");
                    if card.findings.is_empty() {
                        ui.label("none: give the pack a finding set (fovea model findings)");
                    }
                    for line in &card.findings {
                        ui.label(line);
                    }
                    for (title, text) in [
                        ("Validation report (VALIDATION.md)", &card.report),
                        ("Model card (MODEL_CARD.md)", &card.model_card),
                    ] {
                        ui.separator();
                        match text {
                            Some(text) => {
                                egui::CollapsingHeader::new(title)
                                    .default_open(title.starts_with("Validation"))
                                    .show(ui, |ui| {
                                        ui.add(
                                            egui::Label::new(egui::RichText::new(text).monospace())
                                                .wrap(),
                                        );
                                    });
                            }
                            None => {
                                ui.label(format!("{title}: none"));
                            }
                        }
                    }
                });
            });
        if !open {
            self.commands.push(Command::TogglePackCard);
        }
    }
}
