//! The Model menu's window for importing a checkpoint and validating the loaded pack: the
//! fields, a button that starts the background job, its progress, and what it said — a
//! failure in plain words, in place; a written pack with a button to switch to it.

use super::app::FoveaApp;
use super::commands::Command;
use super::dialogs::OpenKind;
use super::model_tool_job::{ModelTask, VALIDATION_DEVICE, fresh_pack_folder};
use super::packs::installed_dir;
use super::state::{ToolKind, ToolStatus};
use crate::encoder::presets::{ARCH_DESCRIPTIONS, ARCH_NAMES};
use crate::validation::pack::ValidateRequest;

impl FoveaApp {
    /// The window, while open.
    pub(super) fn model_tool_ui(&mut self, ctx: &egui::Context) {
        let Some(kind) = self.view.model_tool.open else {
            return;
        };
        let title = match kind {
            ToolKind::Import => "Import a checkpoint",
            ToolKind::Validate => "Validate this pack on labelled images",
        };
        let mut open = true;
        egui::Window::new(title)
            .open(&mut open)
            .default_width(520.0)
            .show(ctx, |ui| {
                let running = self.jobs.model_tool.is_some();
                match kind {
                    ToolKind::Import => self.import_fields_ui(ui, running),
                    ToolKind::Validate => self.validate_fields_ui(ui, running),
                }
                ui.separator();
                match &self.jobs.model_tool_status {
                    ToolStatus::Idle => {}
                    ToolStatus::Running(text) => {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label(text);
                        });
                    }
                    ToolStatus::Failed(reason) => {
                        ui.colored_label(ui.visuals().error_fg_color, format!("Failed: {reason}"));
                    }
                    ToolStatus::Written(pack) => {
                        ui.label(format!("Pack written: {}", pack.display()));
                        if ui.button("Switch to it").clicked() {
                            self.commands.push(Command::SwitchPack(pack.clone()));
                            self.commands.push(Command::ShowModelTool(None));
                            if kind == ToolKind::Validate && !self.view.show_pack_card {
                                self.commands.push(Command::TogglePackCard);
                            }
                        }
                    }
                }
            });
        if !open {
            self.commands.push(Command::ShowModelTool(None));
        }
    }

    fn import_fields_ui(&mut self, ui: &mut egui::Ui, running: bool) {
        ui.label("Bring the checkpoint file you have (nothing is downloaded). The pack is written into your installed packs and appears in the Model menu under Switch pack.");
        ui.horizontal(|ui| {
            ui.label("Checkpoint:");
            let shown = self
                .view
                .model_tool
                .checkpoint
                .as_ref()
                .map_or_else(|| "none chosen".to_string(), |p| p.display().to_string());
            ui.label(shown);
            if ui.button("Choose…").clicked() {
                self.commands
                    .push(Command::OpenDialog(OpenKind::Checkpoint));
            }
        });
        let form = &mut self.view.model_tool;
        egui::ComboBox::new("import architecture", "architecture")
            .selected_text(ARCH_DESCRIPTIONS[form.arch.min(ARCH_NAMES.len() - 1)])
            .show_ui(ui, |ui| {
                for (i, description) in ARCH_DESCRIPTIONS.iter().enumerate() {
                    ui.selectable_value(&mut form.arch, i, *description);
                }
            });
        let ready = form.checkpoint.is_some() && !running;
        if ui.add_enabled(ready, egui::Button::new("Import")).clicked()
            && let Some(checkpoint) = form.checkpoint.clone()
        {
            match installed_dir() {
                Some(dir) => {
                    let stem = checkpoint
                        .file_stem()
                        .map_or_else(|| "pack".to_string(), |s| s.to_string_lossy().to_string());
                    self.commands
                        .push(Command::StartModelTask(ModelTask::Import {
                            checkpoint,
                            arch: ARCH_NAMES[form.arch.min(ARCH_NAMES.len() - 1)].to_string(),
                            out: fresh_pack_folder(&dir, &stem),
                        }));
                }
                None => self
                    .jobs
                    .job_errors
                    .push("this system has no user data folder for installed packs".to_string()),
            }
        }
    }

    fn validate_fields_ui(&mut self, ui: &mut egui::Ui, running: bool) {
        ui.label("Choose a folder of studies whose findings are known (ground_truth.json or labels.csv with patient_id,eye,findings in it). Half the patients calibrate, half are held out; a validated copy of the pack is written into your installed packs, with its report.");
        ui.horizontal(|ui| {
            ui.label("Folder:");
            let shown = self
                .view
                .model_tool
                .folder
                .as_ref()
                .map_or_else(|| "none chosen".to_string(), |p| p.display().to_string());
            ui.label(shown);
            if ui.button("Choose…").clicked() {
                self.commands
                    .push(Command::OpenDialog(OpenKind::LabelledFolder));
            }
        });
        ui.add(
            egui::Slider::new(&mut self.view.model_tool.sensitivity, 0.5..=0.99)
                .text("sensitivity of the operating points"),
        );
        let ready = self.view.model_tool.folder.is_some() && !running;
        if ui
            .add_enabled(ready, egui::Button::new("Validate"))
            .clicked()
            && let Some(folder) = self.view.model_tool.folder.clone()
        {
            let pack = self.config.pack.clone();
            let name = pack
                .file_name()
                .map_or_else(|| "pack".to_string(), |n| n.to_string_lossy().to_string());
            match installed_dir() {
                Some(dir) => self
                    .commands
                    .push(Command::StartModelTask(ModelTask::Validate {
                        request: ValidateRequest {
                            pack,
                            studies: vec![folder],
                            labels: None,
                            sensitivity: self.view.model_tool.sensitivity,
                            out: fresh_pack_folder(&dir, &format!("{name}-validated")),
                            device: VALIDATION_DEVICE,
                        },
                    })),
                None => self
                    .jobs
                    .job_errors
                    .push("this system has no user data folder for installed packs".to_string()),
            }
        }
    }
}
