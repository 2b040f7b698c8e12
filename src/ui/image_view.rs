//! One image view: draws a frame (GPU shader, or a plain egui image when the window has no
//! wgpu renderer) with zoom/pan, window/level and the heatmap overlay, handles the mouse
//! (wheel = zoom about the pointer, drag = pan, right-drag = window/level, double-click =
//! reset), and draws the pixel-spacing scale bar and the zoom / window readout.

use std::sync::Arc;

use egui::{Color32, Pos2, Rect, Sense, Stroke, Vec2, pos2, vec2};

use super::display::{HeatUpload, ImageUpload, WindowLevel};
use super::gpu_image::ImagePaint;
use super::view_transform::ViewTransform;

/// What a view shows.
pub struct ViewInput<'a> {
    /// Keeps the view's GPU textures between frames.
    pub key: u64,
    /// The frame.
    pub image: &'a Arc<ImageUpload>,
    /// The frame as an egui texture (used when there is no wgpu renderer).
    pub texture: Option<egui::TextureId>,
    /// The heatmap when the overlay is on and ready.
    pub heat: Option<&'a Arc<HeatUpload>>,
    /// Overlay opacity.
    pub opacity: f32,
    /// Horizontal pixel spacing in mm, when the file says it.
    pub column_spacing_mm: Option<f64>,
    /// Accessible name ("OD image", "similar case image").
    pub label: String,
    /// Draw with the GPU shader.
    pub gpu: bool,
    /// Mouse interaction on (off for small insets).
    pub interactive: bool,
}

/// What happened in a view.
pub struct ViewOutput {
    /// The view's response (clicks, hover).
    pub response: egui::Response,
    /// Where the image area is on screen.
    pub rect: Rect,
}

impl ViewInput<'_> {
    fn image_px(&self) -> Vec2 {
        vec2(self.image.width as f32, self.image.height as f32)
    }
}

/// An egui texture of an RGB image (tab and case thumbnails; frames without a wgpu renderer).
pub fn rgb_texture(
    ctx: &egui::Context,
    name: impl Into<String>,
    rgb: &image::RgbImage,
) -> egui::TextureHandle {
    let size = [rgb.width() as usize, rgb.height() as usize];
    let image = egui::ColorImage::from_rgb(size, rgb.as_raw());
    ctx.load_texture(name, image, egui::TextureOptions::LINEAR)
}

/// The GPU key of a view: `tag` (which view) and what it shows.
pub fn view_key(tag: &str, part: impl std::hash::Hash) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    tag.hash(&mut hasher);
    part.hash(&mut hasher);
    hasher.finish()
}

/// Lengths the scale bar may show, in mm.
const BAR_LENGTHS_MM: [f64; 9] = [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0];

/// The longest bar of [`BAR_LENGTHS_MM`] at most `max_points` long: (mm, points); none when
/// even the longest is under a fifth of that (too short to read).
pub fn scale_bar(mm_per_point: f64, max_points: f64) -> Option<(f64, f64)> {
    if !(mm_per_point.is_finite() && mm_per_point > 0.0) {
        return None;
    }
    BAR_LENGTHS_MM
        .iter()
        .map(|&mm| (mm, mm / mm_per_point))
        .rfind(|&(_, points)| points <= max_points)
        .filter(|&(_, points)| points >= max_points / 5.0)
}

/// Draws the view in `size` and applies the mouse to `view` and `window`.
pub fn image_view_ui(
    ui: &mut egui::Ui,
    size: Vec2,
    view: &mut ViewTransform,
    window: &mut WindowLevel,
    input: &ViewInput<'_>,
) -> ViewOutput {
    let sense = if input.interactive {
        Sense::click_and_drag()
    } else {
        Sense::click()
    };
    let (rect, response) = ui.allocate_exact_size(size, sense);
    let label = input.label.clone();
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, &label));
    let image_px = input.image_px();
    if input.interactive {
        if response.hovered() {
            let (scroll, pinch, pointer) = ui.input(|i| {
                (
                    i.smooth_scroll_delta.y,
                    i.zoom_delta(),
                    i.pointer.hover_pos(),
                )
            });
            let factor = (scroll / 200.0).exp() * pinch;
            if (factor - 1.0).abs() > 1e-4 {
                let anchor = pointer.unwrap_or(rect.center());
                view.zoom_about(factor, anchor, rect, image_px);
            }
        }
        if response.dragged_by(egui::PointerButton::Primary) {
            view.pan_by(response.drag_delta(), rect.size(), image_px);
        }
        if response.dragged_by(egui::PointerButton::Secondary) {
            let d = response.drag_delta();
            *window = window.dragged(d.x / rect.width(), d.y / rect.height());
        }
        if response.double_clicked() {
            *view = ViewTransform::default();
            *window = WindowLevel::default();
        }
    }
    let uv_rect = view.uv_rect(rect.size(), image_px);
    let painter = ui.painter_at(rect);
    let background = ui.visuals().extreme_bg_color;
    if input.gpu {
        let paint = ImagePaint {
            key: input.key,
            rect,
            image: input.image.clone(),
            heat: input.heat.cloned(),
            uv_rect,
            window: *window,
            opacity: input.opacity,
            background,
        };
        painter.add(eframe::egui_wgpu::Callback::new_paint_callback(rect, paint));
    } else {
        painter.rect_filled(rect, 0.0, background);
        if let Some(texture) = input.texture {
            let unit = Rect::from_min_max(Pos2::ZERO, pos2(1.0, 1.0));
            let shown = uv_rect.intersect(unit);
            if shown.is_positive() {
                let to_screen =
                    |uv: Pos2| rect.min + (uv - uv_rect.min) / uv_rect.size() * rect.size();
                let screen = Rect::from_min_max(to_screen(shown.min), to_screen(shown.max));
                painter.image(texture, screen, shown, Color32::WHITE);
            }
        }
    }
    readout_ui(&painter, rect, view, window, input, image_px);
    ViewOutput { response, rect }
}

/// Scale bar (bottom left) and zoom / window (top left).
fn readout_ui(
    painter: &egui::Painter,
    rect: Rect,
    view: &ViewTransform,
    window: &WindowLevel,
    input: &ViewInput<'_>,
    image_px: Vec2,
) {
    let text = Color32::from_gray(230);
    let shadow = Color32::from_black_alpha(160);
    let font = egui::FontId::proportional(11.0);
    let note = format!("×{:.1}  {}", view.zoom, window.label());
    let at = rect.min + vec2(6.0, 4.0);
    painter.text(
        at + vec2(1.0, 1.0),
        egui::Align2::LEFT_TOP,
        &note,
        font.clone(),
        shadow,
    );
    painter.text(at, egui::Align2::LEFT_TOP, &note, font.clone(), text);
    let Some(spacing) = input.column_spacing_mm else {
        return;
    };
    let points_per_pixel = f64::from(view.points_per_pixel(rect.size(), image_px));
    let Some((mm, points)) = scale_bar(spacing / points_per_pixel, f64::from(rect.width()) / 4.0)
    else {
        return;
    };
    let y = rect.max.y - 10.0;
    let x0 = rect.min.x + 10.0;
    let x1 = x0 + points as f32;
    for (stroke, offset) in [
        (Stroke::new(4.0, shadow), 1.0),
        (Stroke::new(2.0, text), 0.0),
    ] {
        painter.line_segment([pos2(x0, y + offset), pos2(x1, y + offset)], stroke);
    }
    let label = if mm < 1.0 {
        format!("{:.0} µm", mm * 1000.0)
    } else {
        format!("{mm:.0} mm")
    };
    painter.text(
        pos2(x0, y - 4.0),
        egui::Align2::LEFT_BOTTOM,
        label,
        font,
        text,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_bar_is_the_longest_round_length_that_fits() {
        // 0.0176 mm per pixel at 0.5 points per pixel → 0.0353 mm per point; 100 points max.
        let (mm, points) = scale_bar(0.01763 / 0.5, 100.0).expect("a bar");
        assert_eq!(mm, 2.0);
        assert!(points <= 100.0 && points > 50.0);
        assert!(scale_bar(0.0, 100.0).is_none());
        assert!(scale_bar(f64::NAN, 100.0).is_none());
        assert!(scale_bar(10.0, 100.0).is_none());
    }
}
