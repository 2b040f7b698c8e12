//! The start screen, shown when the viewer is started without anything to open: the three
//! ways in (the demo patients, a folder of the user's own studies, a published model), in
//! plain words, and the locations opened before.

use std::path::PathBuf;

use super::app::FoveaApp;
use super::commands::Command;
use super::dialogs::OpenKind;
use super::state::ToolKind;

/// The width of the start screen's column, in points.
const COLUMN_WIDTH_PT: f32 = 560.0;

impl FoveaApp {
    /// Draws the start screen in the central panel.
    pub(super) fn welcome_ui(&mut self, ui: &mut egui::Ui) {
        let margin = ((ui.available_width() - COLUMN_WIDTH_PT) / 2.0).max(0.0);
        ui.add_space(24.0);
        ui.horizontal(|ui| {
            ui.add_space(margin);
            ui.vertical(|ui| {
                ui.set_max_width(COLUMN_WIDTH_PT);
                self.welcome_column_ui(ui);
            });
        });
    }

    fn welcome_column_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Welcome to Fovea");
        ui.label(
            "Fovea shows a patient's eye images side by side, with a model's findings. \
             It works offline and never changes the files it opens.",
        );
        ui.add_space(16.0);
        if let Some(demo) = self.config.demo_patients.clone()
            && way_in_ui(
                ui,
                "Open the demo patients",
                "Four made-up patients (synthetic images, not real people), with the demo \
                 model. The demo model was trained on synthetic images only: its numbers \
                 say nothing about real eyes.",
            )
        {
            self.commands.push(Command::Open(vec![demo]));
        }
        if way_in_ui(
            ui,
            "Open a folder of studies…",
            "DICOM files or a DICOMDIR, Heidelberg .vol exports, or fundus photographs \
             (JPEG, PNG). Fovea groups them by patient and eye. You can also drop files \
             on this window.",
        ) {
            self.commands.push(Command::OpenDialog(OpenKind::Folder));
        }
        if way_in_ui(
            ui,
            "Import a model…",
            "A published checkpoint (EyeCLIP, RET-CLIP, RETFound, Image+Fundus) turned into \
             a model pack, to use instead of the demo model.",
        ) {
            self.commands
                .push(Command::ShowModelTool(Some(ToolKind::Import)));
        }
        let recent: Vec<PathBuf> = self.view.settings.recent.clone();
        if !recent.is_empty() {
            ui.add_space(8.0);
            ui.strong("Opened before");
            for location in recent {
                if ui.link(location.display().to_string()).clicked() {
                    self.commands.push(Command::Open(vec![location]));
                }
            }
        }
    }
}

/// One way in: a wide button and what it does, in plain words, below it; whether it was
/// clicked.
fn way_in_ui(ui: &mut egui::Ui, label: &str, description: &str) -> bool {
    let clicked = ui
        .add_sized([COLUMN_WIDTH_PT, 32.0], egui::Button::new(label))
        .clicked();
    ui.label(description);
    ui.add_space(12.0);
    clicked
}
