//! The right-hand panel — the model's findings (patient and per eye, with operating points and
//! referral flags), the images without an eye with their optic-disc suggestions, and the
//! free-text prompt box — and the strip of similar cases from the
//! library under the images.

use std::time::Instant;

use super::app::FoveaApp;
use super::commands::Command;
use super::image_view::rgb_texture;
use super::library_job::SimilarCase;
use super::status::{LibraryStatus, ModelStatus, PatientStatus, SimilarScope};
use crate::analysis::findings::FindingProbability;
use crate::analysis::scorer::ClassDistribution;
use crate::study::Eye;

impl FoveaApp {
    pub(super) fn side_panel_ui(&mut self, ui: &mut egui::Ui) {
        egui::ScrollArea::vertical().show(ui, |ui| {
            self.findings_ui(ui);
            self.eyeless_images_ui(ui);
            ui.separator();
            self.prompt_ui(ui);
        });
    }

    /// The selected patient's images without an eye, each with its thumbnail, what its optic
    /// disc suggests and a button to accept it (a suggestion, shown as such; the file is not
    /// changed).
    fn eyeless_images_ui(&mut self, ui: &mut egui::Ui) {
        let Some(result) = self.selected_result() else {
            return;
        };
        let eyeless: Vec<_> = result
            .images
            .iter()
            .filter(|i| i.eye == Eye::Unknown)
            .map(|i| (i.path.clone(), i.laterality.clone()))
            .collect();
        if eyeless.is_empty() {
            return;
        }
        ui.separator();
        ui.strong(format!("Images without an eye ({})", eyeless.len()));
        for (path, evidence) in eyeless {
            if let Some(thumbnail) = self.session.tab_thumbnails.get(&path) {
                ui.add(egui::Image::new(thumbnail).max_size(egui::vec2(96.0, 96.0)));
            }
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().to_string(),
            );
            match evidence
                .as_ref()
                .and_then(|e| e.implied.map(|eye| (eye, e)))
            {
                Some((eye, evidence)) => {
                    ui.label(format!(
                        "{name}: suggested {} — {}",
                        eye.label(),
                        evidence.reason
                    ));
                    if ui.button(format!("Accept {}", eye.label())).clicked() {
                        self.commands
                            .push(Command::AcceptSuggestedEye { path, eye });
                    }
                }
                None => {
                    let why = evidence.map_or_else(
                        || "no optic-disc check for this modality".to_string(),
                        |e| e.reason,
                    );
                    ui.label(format!("{name}: no suggestion ({why})"));
                }
            }
        }
    }

    /// The finding name of an id, from the pack.
    pub(super) fn finding_name(&self, id: &str) -> String {
        match &self.jobs.model {
            ModelStatus::Ready(info) => info
                .findings
                .iter()
                .find(|(f, _)| f == id)
                .map_or_else(|| id.to_string(), |(_, name)| name.clone()),
            _ => id.to_string(),
        }
    }

    fn findings_ui(&self, ui: &mut egui::Ui) {
        ui.heading("Findings");
        match &self.jobs.model {
            ModelStatus::Loading => {
                ui.label("Loading the model…");
            }
            ModelStatus::Failed(reason) => {
                ui.colored_label(ui.visuals().error_fg_color, reason);
                ui.label(
                    "Choose another pack with `fovea --pack <folder>`; images can still be viewed.",
                );
                return;
            }
            ModelStatus::Ready(info) => {
                ui.label(egui::RichText::new(info.stamp.label()).small());
                if info.stamp.synthetic_training_data {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        "Demo model trained on synthetic images only — not for clinical use.",
                    );
                }
                if !info.domain_described {
                    ui.label(
                        egui::RichText::new(
                            "Domain check: not validated here — the pack does not describe the images it was validated on.",
                        )
                        .small(),
                    );
                }
                ui.collapsing("Intended use", |ui| {
                    ui.label(&info.intended_use);
                    if let Some(set) = &info.finding_set {
                        ui.label(format!("Finding set: {set}"));
                    }
                });
            }
        }
        let Some(id) = self.selected_patient() else {
            return;
        };
        match self.session.statuses.get(id) {
            Some(PatientStatus::Done(result)) => {
                ui.strong("Patient");
                if let Some(note) = &result.patient_note {
                    ui.label(note);
                }
                outside_note_ui(ui, result.images_outside_domain, result.images.len());
                findings_bars_ui(ui, &result.findings);
                distributions_ui(ui, &result.distributions);
                for eye in &result.eyes {
                    ui.separator();
                    ui.strong(eye.eye.label());
                    if let Some(note) = &eye.note {
                        ui.label(note);
                    }
                    outside_note_ui(ui, eye.images_outside_domain, eye.contributing.len());
                    findings_bars_ui(ui, &eye.findings);
                    distributions_ui(ui, &eye.distributions);
                    let names: Vec<String> = eye
                        .contributing
                        .iter()
                        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
                        .collect();
                    ui.label(format!("{} images used", eye.contributing.len()))
                        .on_hover_text(names.join("\n"));
                    for (path, reason) in &eye.excluded {
                        let name = path.file_name().map(|n| n.to_string_lossy());
                        ui.colored_label(
                            ui.visuals().warn_fg_color,
                            format!("left out {}: {reason}", name.unwrap_or_default()),
                        );
                    }
                }
            }
            Some(PatientStatus::Failed(reason)) => {
                ui.colored_label(ui.visuals().error_fg_color, reason);
            }
            Some(PatientStatus::Cancelled) => {
                ui.label("Analysis cancelled. Open the folder again to analyze it.");
            }
            _ => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("analyzing…");
                });
            }
        }
    }

    fn prompt_ui(&mut self, ui: &mut egui::Ui) {
        ui.strong("Free text (zero-shot)");
        let disabled = match &self.jobs.model {
            ModelStatus::Ready(info) => info.zero_shot_disabled.clone(),
            _ => Some("the model is not loaded".to_string()),
        };
        if let Some(reason) = disabled {
            ui.label(format!("Free text is off for this model: {reason}."));
            return;
        }
        let edit = ui.add(
            egui::TextEdit::singleline(&mut self.view.prompt.text)
                .hint_text("type a finding, e.g. macular hole")
                .desired_width(f32::INFINITY),
        );
        if edit.changed() {
            self.view.prompt.edited_at = Some(Instant::now());
        }
        if self.view.prompt.pending.is_some() || self.view.prompt.edited_at.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("scoring…");
            });
        }
        match &self.session.prompt_answer {
            Some((text, Ok(rows))) => {
                let model = match &self.jobs.model {
                    ModelStatus::Ready(info) => info.stamp.label(),
                    _ => String::new(),
                };
                ui.label(
                    egui::RichText::new(format!(
                        "“{text}” vs “normal fundus” — uncalibrated scores by {model}: they rank images, they are not probabilities"
                    ))
                    .small(),
                );
                for (label, score) in rows {
                    ui.add(
                        egui::ProgressBar::new(*score as f32).text(format!("{label}: {score:.2}")),
                    );
                }
            }
            Some((_, Err(reason))) => {
                ui.colored_label(ui.visuals().error_fg_color, reason);
            }
            None => {}
        }
    }

    /// Similar cases of the selected eye (or its shown image): aggregates, then one card per
    /// case (thumbnail, similarity, case id, known findings); a click opens the compare view.
    pub(super) fn similar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.strong("Similar cases");
            match &self.jobs.library_status {
                LibraryStatus::None(reason) | LibraryStatus::Unavailable(reason) => {
                    ui.label(reason.clone());
                }
                LibraryStatus::Loading => {
                    ui.spinner();
                    ui.label("opening the case library…");
                }
                LibraryStatus::Ready(info) => {
                    ui.label(format!("for the {} eye:", self.view.active_eye.label()));
                    ui.selectable_value(
                        &mut self.view.similar_scope,
                        SimilarScope::Eye,
                        "whole eye",
                    );
                    ui.selectable_value(
                        &mut self.view.similar_scope,
                        SimilarScope::Image,
                        "shown image",
                    );
                    let name = info.dir.file_name().map_or_else(
                        || info.dir.display().to_string(),
                        |n| n.to_string_lossy().to_string(),
                    );
                    let synthetic = if info.synthetic {
                        " — synthetic demo cases"
                    } else {
                        ""
                    };
                    ui.label(
                        egui::RichText::new(format!(
                            "library “{name}” ({} eyes){synthetic}",
                            info.counts.1
                        ))
                        .small(),
                    )
                    .on_hover_text(info.dir.display().to_string());
                }
            }
        });
        if !matches!(self.jobs.library_status, LibraryStatus::Ready(_)) {
            return;
        }
        let answer = match &self.session.similar_answer {
            None => {
                if self.selected_result().is_some() {
                    ui.spinner();
                } else {
                    ui.label("after the analysis…");
                }
                return;
            }
            Some(Err(reason)) => {
                ui.label(reason.clone());
                return;
            }
            Some(Ok(answer)) => answer,
        };
        // The library is searched in the model's feature space: for an image unlike those the
        // model was validated on, near there need not mean clinically alike.
        if let Some(eye) = self
            .selected_result()
            .and_then(|r| r.eye(self.view.active_eye))
            .filter(|e| e.images_outside_domain > 0)
        {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!(
                    "{} of {} image(s) of this eye are outside the images this model was validated on: these cases are near in the model's features, which need not mean clinically alike",
                    eye.images_outside_domain,
                    eye.contributing.len()
                ),
            );
        }
        let sentences: Vec<String> = answer
            .aggregates
            .iter()
            .filter(|(_, with, _)| *with > 0)
            .map(|(id, with, of)| {
                format!(
                    "{with} of the {of} most similar {} have {}",
                    answer.unit,
                    self.finding_name(id)
                )
            })
            .collect();
        if sentences.is_empty() {
            ui.label(format!(
                "None of the {} most similar {} has a finding of the library.",
                answer.cases.len(),
                answer.unit
            ));
        }
        for sentence in sentences {
            ui.label(sentence);
        }
        let cases = answer.cases.clone();
        let mut clicked = None;
        egui::ScrollArea::horizontal().show(ui, |ui| {
            ui.horizontal(|ui| {
                for case in &cases {
                    ui.vertical(|ui| {
                        ui.set_width(150.0);
                        let texture = self.thumbnail_texture(ui.ctx(), case);
                        if let Some(t) = texture {
                            let thumb = ui.add(
                                egui::Image::new(&t)
                                    .max_size(egui::vec2(96.0, 96.0))
                                    .sense(egui::Sense::click()),
                            );
                            if thumb.clicked() {
                                clicked = Some(case.clone());
                            }
                        } else if let Some(problem) = &case.thumbnail_problem {
                            ui.small(format!("no picture: {problem}"));
                        }
                        let findings: Vec<String> = if case.findings.is_empty() {
                            vec!["no finding".to_string()]
                        } else {
                            case.findings.iter().map(|f| self.finding_name(f)).collect()
                        };
                        let modalities: Vec<&str> =
                            case.modalities.iter().map(|m| m.label()).collect();
                        let text = format!(
                            "{:.3}  {} {}\n{}\n{}",
                            case.similarity,
                            case.case_id,
                            case.eye.label(),
                            modalities.join(", "),
                            findings.join("; ")
                        );
                        let row = ui.add(egui::Button::selectable(false, text).wrap());
                        if row.clicked() {
                            clicked = Some(case.clone());
                        }
                    });
                }
            });
        });
        if let Some(case) = clicked {
            self.commands.push(Command::Compare(Box::new(case)));
        }
    }

    /// The egui texture of a case's thumbnail (made once).
    pub(super) fn thumbnail_texture(
        &mut self,
        ctx: &egui::Context,
        case: &SimilarCase,
    ) -> Option<egui::TextureHandle> {
        if let Some(t) = self.view.thumbnails.get(&case.image_id) {
            return Some(t.clone());
        }
        let rgb = case.thumbnail.as_ref()?;
        let texture = rgb_texture(ctx, format!("case thumbnail {}", case.image_id), rgb);
        self.view.thumbnails.insert(case.image_id, texture.clone());
        Some(texture)
    }
}

/// One bar per finding, with the probability, the operating point and the referral flag.
fn findings_bars_ui(ui: &mut egui::Ui, findings: &[FindingProbability]) {
    for f in findings {
        if f.outside_domain {
            // Greyed: a number about an image unlike the validation images, never a flag.
            let grey = ui.visuals().weak_text_color();
            ui.colored_label(
                grey,
                format!(
                    "{} — outside the images this model was validated on",
                    f.name
                ),
            );
            ui.add(
                egui::ProgressBar::new(f.probability as f32)
                    .fill(grey.gamma_multiply(0.5))
                    .text(
                        egui::RichText::new(format!("{:.2} · not flagged", f.probability))
                            .color(grey),
                    ),
            );
            continue;
        }
        let refer = if f.refer { "  REFER" } else { "" };
        let threshold = f
            .operating_point
            .map(|t| format!(" (refer ≥ {t:.2})"))
            .unwrap_or_default();
        let calibrated = if f.calibrated { "" } else { " · uncalibrated" };
        ui.label(format!("{}{refer}", f.name));
        let bar = ui.add(
            egui::ProgressBar::new(f.probability as f32)
                .text(format!("{:.2}{threshold}{calibrated}", f.probability)),
        );
        if let Some(t) = f.operating_point {
            // The operating point as a tick on the bar.
            let x = egui::lerp(bar.rect.x_range(), t as f32);
            ui.painter().line_segment(
                [
                    egui::pos2(x, bar.rect.top()),
                    egui::pos2(x, bar.rect.bottom()),
                ],
                egui::Stroke::new(2.0, ui.visuals().strong_text_color()),
            );
        }
    }
}

/// "2 of 3 images outside the images this model was validated on", when any is.
fn outside_note_ui(ui: &mut egui::Ui, outside: usize, of: usize) {
    if outside > 0 {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "{outside} of {of} image(s) outside the images this model was validated on: their numbers are greyed and raise no referral flag"
            ),
        );
    }
}

/// Each class group's distribution as a small bar chart: one thin bar per class (the model's
/// softmax, uncalibrated).
fn distributions_ui(ui: &mut egui::Ui, distributions: &[ClassDistribution]) {
    for d in distributions {
        ui.label(egui::RichText::new(format!("{} (model's shares, uncalibrated)", d.name)).small());
        egui::Grid::new(("distribution", &d.id, ui.next_auto_id()))
            .num_columns(2)
            .spacing([6.0, 1.0])
            .show(ui, |ui| {
                for c in &d.classes {
                    ui.label(egui::RichText::new(&c.name).small());
                    ui.add(
                        egui::ProgressBar::new(c.probability as f32)
                            .desired_height(10.0)
                            .desired_width(110.0)
                            .text(egui::RichText::new(format!("{:.2}", c.probability)).small()),
                    );
                    ui.end_row();
                }
            });
    }
}
