//! The image area: the view toolbar (heatmap overlay, linked views, reset) and the two eye
//! columns — modality tabs, the main view, and for an OCT volume the B-scan slider and the
//! localizer with the current B-scan's line (click to jump).

use super::app::FoveaApp;
use super::commands::Command;
use super::display::{WindowLevel, turbo};
use super::image_view::{ViewInput, image_view_ui, view_key};
use super::localizer::{localizer_of, nearest_bscan};
use super::status::{HeatState, ModelStatus, Pixels};
use super::view_transform::ViewTransform;
use crate::analysis::heatmap::HeatmapMethod;
use crate::study::Eye;
use crate::study::model::{ImagePoint, ImageRecord};

/// Height of the localizer above a B-scan, as a share of the column.
const LOCALIZER_SHARE: f32 = 0.32;

impl FoveaApp {
    /// Heatmap, linking and reset controls above the two columns.
    pub(super) fn view_toolbar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            let mut overlay = self.view.settings.overlay_on;
            if ui.checkbox(&mut overlay, "Heatmap (H)").changed() {
                self.commands.push(Command::ToggleOverlay);
            }
            ui.add(
                egui::Slider::new(&mut self.view.settings.overlay_opacity, 0.0..=1.0)
                    .text("opacity")
                    .fixed_decimals(2),
            );
            let methods = match &self.jobs.model {
                ModelStatus::Ready(info) => info.heat_methods.clone(),
                _ => vec![
                    HeatmapMethod::GradCam,
                    HeatmapMethod::Relevance,
                    HeatmapMethod::AttentionRollout,
                ],
            };
            let method = &mut self.view.settings.heatmap_method;
            egui::ComboBox::new("heatmap method", "method")
                .selected_text(method.label())
                .show_ui(ui, |ui| {
                    for m in methods {
                        ui.selectable_value(method, m, m.label());
                    }
                });
            if let ModelStatus::Ready(info) = &self.jobs.model
                && self.view.settings.heatmap_method.needs_finding()
            {
                let current = self
                    .view
                    .heat_finding
                    .as_ref()
                    .and_then(|id| info.heat_findings.iter().find(|(f, _)| f == id))
                    .map_or("choose a finding", |(_, name)| name.as_str());
                egui::ComboBox::new("heatmap finding", "finding")
                    .selected_text(current)
                    .width(200.0)
                    .show_ui(ui, |ui| {
                        for (id, name) in &info.heat_findings {
                            ui.selectable_value(
                                &mut self.view.heat_finding,
                                Some(id.clone()),
                                name,
                            );
                        }
                    });
            }
            colour_bar_ui(ui);
            ui.separator();
            let mut linked = self.view.settings.linked;
            if ui
                .checkbox(&mut linked, "Link eyes (L)")
                .on_hover_text("zoom and pan both eyes together")
                .changed()
            {
                self.commands.push(Command::ToggleLinked);
            }
            if ui.button("Reset view (0)").clicked() {
                self.commands.push(Command::ResetViews);
            }
            let mut layers = self.view.settings.vendor_layers_on;
            if ui
                .checkbox(&mut layers, "Vendor layers")
                .on_hover_text(
                    "the OCT device's own layer boundaries (ILM, BM, RNFL…), where the file carries them (Heidelberg .vol)",
                )
                .changed()
            {
                self.commands.push(Command::ToggleVendorLayers);
            }
        });
        if self.view.settings.overlay_on {
            let note = self.heat_note();
            ui.label(egui::RichText::new(note).small());
        }
    }

    /// What the overlay shows, and by which model.
    fn heat_note(&self) -> String {
        let model = match &self.jobs.model {
            ModelStatus::Ready(info) => info.stamp.label(),
            _ => "the model (loading)".to_string(),
        };
        let mut states = Vec::new();
        for eye in [Eye::Right, Eye::Left] {
            let state = self
                .eye_heat_key(eye)
                .and_then(|k| self.session.heatmaps.get(&k));
            match state {
                Some(HeatState::Pending) => states.push(format!("{}: computing…", eye.label())),
                Some(HeatState::Failed(reason)) => {
                    states.push(format!("{}: no heatmap ({reason})", eye.label()));
                }
                _ => {}
            }
            if let Some(domain) = self.shown_image_result(eye).and_then(|r| r.domain.as_ref())
                && domain.is_outside()
            {
                states.push(format!("{}: {}", eye.label(), domain.note));
            }
        }
        format!(
            "Heatmap by {model}: relative relevance within each image (its maximum = 1), inside the field of view (its rim left out). {}",
            states.join(" · ")
        )
    }

    /// One eye's column.
    pub(super) fn eye_column_ui(&mut self, ui: &mut egui::Ui, index: usize, eye: Eye) {
        self.note_hover(ui, eye);
        let active = self.view.active_eye == eye;
        let title = match eye {
            Eye::Right => "OD (right eye)",
            _ => "OS (left eye)",
        };
        ui.horizontal(|ui| {
            ui.heading(title);
            if active {
                ui.label(egui::RichText::new("(selected)").small())
                    .on_hover_text("similar cases and the +/- keys follow the selected eye");
            }
        });
        let records: Vec<ImageRecord> = self.session.catalog.patients[index]
            .images()
            .filter(|r| r.eye == eye)
            .cloned()
            .collect();
        if records.is_empty() {
            ui.label("No images of this eye.");
            return;
        }
        let chosen = self.chosen_image(index, eye).min(records.len() - 1);
        ui.horizontal_wrapped(|ui| {
            for (i, record) in records.iter().enumerate() {
                let path = record.source.path();
                let tab = match self.session.tab_thumbnails.get(path) {
                    Some(thumbnail) => egui::Button::image_and_text(
                        egui::Image::new(thumbnail).max_size(egui::vec2(40.0, 40.0)),
                        record.modality.label(),
                    ),
                    None => egui::Button::new(record.modality.label()),
                };
                if ui.add(tab.selected(i == chosen)).clicked() {
                    self.commands.push(Command::ShowImage { eye, index: i });
                }
            }
        });
        // Their pixels (and each tab's thumbnail) are asked for by `request_shown_pixels`.
        let record = &records[chosen];
        let path = record.source.path().to_path_buf();
        if let Some(warning) = self.gradeability_warning(&path) {
            ui.colored_label(ui.visuals().warn_fg_color, warning);
        }
        if record.eye_source == crate::study::model::EyeSource::AcceptedSuggestion {
            ui.label(
                egui::RichText::new(format!(
                    "Eye {}: the optic disc's suggestion, accepted in this session (the file does not say)",
                    record.eye.label()
                ))
                .italics(),
            );
        }
        let (frames, frame) = match self.session.pixels.get(&path) {
            Some(Pixels::Ready(shown)) => (shown.decoded.frames, shown.frame),
            Some(Pixels::Failed(reason)) => {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    format!("Cannot show {}: {reason}", record.modality.label()),
                );
                return;
            }
            _ => {
                ui.spinner();
                return;
            }
        };
        if frames > 1 {
            let mut shown = frame + 1;
            let slider = ui
                .add(egui::Slider::new(&mut shown, 1..=frames).text(format!("B-scan of {frames}")));
            if slider.changed() {
                self.commands.push(Command::SetFrame {
                    path: path.clone(),
                    frame: shown - 1,
                });
            }
        }
        // An OCT scan on its localizer — a volume, or a single B-scan (a `.vol` line scan).
        let localizer =
            localizer_of(record, self.session.catalog.patients[index].images()).cloned();
        if let Some(localizer) = localizer {
            self.localizer_ui(ui, record, &localizer, frame);
        }
        self.main_view_ui(ui, record, eye);
    }

    /// "Ungradable: blurred — not used for the OD result", for an analyzed image the model
    /// could not use.
    fn gradeability_warning(&self, path: &std::path::Path) -> Option<String> {
        let image = self
            .selected_result()?
            .images
            .iter()
            .find(|i| i.path == path)?;
        if let Some(error) = &image.error {
            return Some(format!("Not analyzed: {error}"));
        }
        let quality = image.quality.as_ref()?;
        let ungradable = (!quality.gradable).then(|| {
            format!(
                "Ungradable: {} — not used for the {} result",
                quality.reasons.join("; "),
                image.eye.label()
            )
        });
        // The anatomy contradicting the tag is said on the image; the tag is never changed.
        match (ungradable, image.laterality_warning.clone()) {
            (Some(a), Some(b)) => Some(format!("{a} · {b}")),
            (a, b) => a.or(b),
        }
    }

    /// The large view of an eye's image.
    fn main_view_ui(&mut self, ui: &mut egui::Ui, record: &ImageRecord, eye: Eye) {
        let path = record.source.path().to_path_buf();
        let Some(Pixels::Ready(shown)) = self.session.pixels.get(&path) else {
            return;
        };
        let heat_key = self.eye_heat_key(eye);
        let input = ViewInput {
            key: view_key("main view", &path),
            image: &shown.upload,
            texture: shown.texture.as_ref().map(egui::TextureHandle::id),
            heat: self.heat_upload(heat_key.as_ref()),
            opacity: self.view.settings.overlay_opacity,
            column_spacing_mm: record.pixel_spacing_mm.map(|s| s.column_mm),
            label: format!("{} {} view", eye.label(), record.modality.label()),
            gpu: self.gpu,
            interactive: true,
        };
        let mut view = self.view_for(&path);
        let mut window = self.view.windows.get(&path).copied().unwrap_or_default();
        let size = ui.available_size() - egui::vec2(0.0, 4.0);
        let out = image_view_ui(
            ui,
            size.max(egui::vec2(64.0, 64.0)),
            &mut view,
            &mut window,
            &input,
        );
        if self.view.settings.vendor_layers_on
            && let Some(layers) = shown.decoded.vendor_layers.get(shown.frame as usize)
        {
            let image_px = egui::vec2(record.columns as f32, record.rows as f32);
            vendor_layers_ui(ui, out.rect, &view, image_px, layers);
        }
        if out.response.clicked() || out.response.drag_started() {
            self.commands.push(Command::Activate(eye));
        }
        self.store_view(&path, view);
        if window != WindowLevel::default() || self.view.windows.contains_key(&path) {
            self.view.windows.insert(path, window);
        }
    }

    /// The localizer of an OCT volume with every B-scan's line, the current one bright.
    fn localizer_ui(
        &mut self,
        ui: &mut egui::Ui,
        oct: &ImageRecord,
        localizer: &ImageRecord,
        frame: u32,
    ) {
        let Some(Pixels::Ready(shown)) = self.session.pixels.get(localizer.source.path()) else {
            ui.spinner();
            return;
        };
        let height = (ui.available_height() * LOCALIZER_SHARE).clamp(80.0, 240.0);
        let size = egui::vec2(ui.available_width(), height);
        let mut view = ViewTransform::default();
        let mut window = WindowLevel::default();
        let input = ViewInput {
            key: view_key("localizer", localizer.source.path()),
            image: &shown.upload,
            texture: shown.texture.as_ref().map(egui::TextureHandle::id),
            heat: None,
            opacity: 0.0,
            column_spacing_mm: localizer.pixel_spacing_mm.map(|s| s.column_mm),
            label: format!("{} localizer", localizer.modality.label()),
            gpu: self.gpu,
            interactive: false,
        };
        let out = image_view_ui(ui, size, &mut view, &mut window, &input);
        let Some(locations) = oct.localizer.as_ref().map(|l| &l.bscan_locations) else {
            return;
        };
        let image_px = egui::vec2(localizer.columns as f32, localizer.rows as f32);
        let to_screen = |p: &ImagePoint| {
            let uv = egui::pos2(p.x as f32 / image_px.x, p.y as f32 / image_px.y);
            view.image_to_screen(out.rect, image_px, uv)
        };
        let painter = ui.painter_at(out.rect);
        for location in locations {
            let current = location.frame_index == frame as usize;
            let stroke = if current {
                egui::Stroke::new(2.0, egui::Color32::from_rgb(255, 220, 0))
            } else {
                egui::Stroke::new(1.0, egui::Color32::from_rgba_unmultiplied(0, 255, 120, 60))
            };
            let points: Vec<egui::Pos2> = location.points.iter().map(to_screen).collect();
            painter.add(egui::Shape::line(points, stroke));
        }
        if out.response.clicked()
            && let Some(pos) = out.response.interact_pointer_pos()
        {
            let uv = view.screen_to_image(out.rect, image_px, pos);
            let point = ImagePoint {
                x: f64::from(uv.x * image_px.x),
                y: f64::from(uv.y * image_px.y),
            };
            if let Some(frame) = nearest_bscan(locations, &point) {
                self.commands.push(Command::SetFrame {
                    path: oct.source.path().to_path_buf(),
                    frame: frame as u32,
                });
            }
        }
    }
}

/// The overlay's colour map, low to high.
fn colour_bar_ui(ui: &mut egui::Ui) {
    ui.label("low");
    let (rect, _) = ui.allocate_exact_size(egui::vec2(120.0, 12.0), egui::Sense::hover());
    let mut mesh = egui::Mesh::default();
    let steps = 24;
    for i in 0..=steps {
        let t = i as f32 / steps as f32;
        let c = turbo(t).map(|v| (v * 255.0).round() as u8);
        let colour = egui::Color32::from_rgb(c[0], c[1], c[2]);
        let x = egui::lerp(rect.x_range(), t);
        mesh.colored_vertex(egui::pos2(x, rect.min.y), colour);
        mesh.colored_vertex(egui::pos2(x, rect.max.y), colour);
        if i > 0 {
            let base = (i as u32 - 1) * 2;
            mesh.add_triangle(base, base + 1, base + 2);
            mesh.add_triangle(base + 1, base + 3, base + 2);
        }
    }
    ui.painter().add(egui::Shape::mesh(mesh));
    ui.label("high relevance");
}

/// Colours of the vendor's boundaries, in file order (ILM, BM, RNFL, then the rest).
const LAYER_COLOURS: [egui::Color32; 6] = [
    egui::Color32::from_rgb(255, 80, 80),
    egui::Color32::from_rgb(80, 160, 255),
    egui::Color32::from_rgb(80, 230, 120),
    egui::Color32::from_rgb(255, 200, 0),
    egui::Color32::from_rgb(220, 120, 255),
    egui::Color32::from_rgb(0, 220, 220),
];

/// The device's layer boundaries over a B-scan: one line per boundary, broken where the
/// device found none, and the boundaries' names (bottom right).
fn vendor_layers_ui(
    ui: &egui::Ui,
    rect: egui::Rect,
    view: &ViewTransform,
    image_px: egui::Vec2,
    layers: &[crate::study::pixels::LayerBoundary],
) {
    if layers.is_empty() {
        return;
    }
    let painter = ui.painter_at(rect);
    let to_screen = |column: usize, row: f32| {
        let uv = egui::pos2((column as f32 + 0.5) / image_px.x, (row + 0.5) / image_px.y);
        view.image_to_screen(rect, image_px, uv)
    };
    let mut legend = Vec::new();
    for (k, layer) in layers.iter().enumerate() {
        let colour = LAYER_COLOURS[k % LAYER_COLOURS.len()];
        let stroke = egui::Stroke::new(1.5, colour);
        let mut run: Vec<egui::Pos2> = Vec::new();
        for (column, row) in layer.rows.iter().enumerate() {
            match row {
                Some(row) => run.push(to_screen(column, *row)),
                None => {
                    if run.len() > 1 {
                        painter.add(egui::Shape::line(std::mem::take(&mut run), stroke));
                    }
                    run.clear();
                }
            }
        }
        if run.len() > 1 {
            painter.add(egui::Shape::line(run, stroke));
        }
        let found = layer.rows.iter().filter(|r| r.is_some()).count();
        legend.push((
            if found == 0 {
                format!("{} (not found)", layer.name)
            } else {
                layer.name.clone()
            },
            colour,
        ));
    }
    let font = egui::FontId::proportional(11.0);
    let mut at = rect.right_bottom() + egui::vec2(-8.0, -8.0);
    for (name, colour) in legend.iter().rev() {
        painter.text(at, egui::Align2::RIGHT_BOTTOM, name, font.clone(), *colour);
        at.y -= 14.0;
    }
}
