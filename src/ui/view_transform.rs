//! Zoom and pan of an image in its view, in image-relative units so that two images of
//! different sizes (the two eyes, an image and a library thumbnail) can share one transform.
//!
//! `zoom` 1 = the whole image fitted to the view; `centre` = the image point (0..1) at the
//! view's centre.

use egui::{Pos2, Rect, Vec2, pos2, vec2};

/// Zoom and pan of one view (or of linked views).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ViewTransform {
    /// 1 = fitted; 2 = twice as large.
    pub zoom: f32,
    /// Image point (0..1, 0..1) at the centre of the view.
    pub centre: [f32; 2],
}

impl Default for ViewTransform {
    fn default() -> Self {
        ViewTransform {
            zoom: 1.0,
            centre: [0.5, 0.5],
        }
    }
}

/// Limits of the zoom.
pub const ZOOM_RANGE: (f32, f32) = (0.25, 32.0);

impl ViewTransform {
    /// Screen points per image pixel for an image of `image_px` in a view of `view` points.
    pub fn points_per_pixel(&self, view: Vec2, image_px: Vec2) -> f32 {
        let fit = (view.x / image_px.x.max(1.0)).min(view.y / image_px.y.max(1.0));
        fit * self.zoom
    }

    /// The part of the image (0..1 coordinates, may reach outside) shown across the view.
    pub fn uv_rect(&self, view: Vec2, image_px: Vec2) -> Rect {
        let scale = self.points_per_pixel(view, image_px).max(1e-6);
        let extent = vec2(view.x / (scale * image_px.x), view.y / (scale * image_px.y));
        let centre = pos2(self.centre[0], self.centre[1]);
        Rect::from_center_size(centre, extent)
    }

    /// Where an image point (0..1) lands on the screen, for a view occupying `view`.
    pub fn image_to_screen(&self, view: Rect, image_px: Vec2, uv: Pos2) -> Pos2 {
        let shown = self.uv_rect(view.size(), image_px);
        let t = (uv - shown.min) / shown.size();
        view.min + t * view.size()
    }

    /// The image point (0..1) under a screen position.
    pub fn screen_to_image(&self, view: Rect, image_px: Vec2, screen: Pos2) -> Pos2 {
        let shown = self.uv_rect(view.size(), image_px);
        let t = (screen - view.min) / view.size();
        shown.min + t * shown.size()
    }

    /// Zooms by `factor` about the view's centre, within [`ZOOM_RANGE`].
    pub fn zoom_by(&mut self, factor: f32) {
        self.zoom = (self.zoom * factor).clamp(ZOOM_RANGE.0, ZOOM_RANGE.1);
    }

    /// Zooms by `factor`, keeping the image point under `anchor` (screen) where it is.
    pub fn zoom_about(&mut self, factor: f32, anchor: Pos2, view: Rect, image_px: Vec2) {
        let under = self.screen_to_image(view, image_px, anchor);
        self.zoom_by(factor);
        let shown = self.uv_rect(view.size(), image_px);
        let t = (anchor - view.min) / view.size();
        let centre = under - (t - vec2(0.5, 0.5)) * shown.size();
        self.centre = [centre.x, centre.y];
    }

    /// Moves the image by `delta` screen points (a drag).
    pub fn pan_by(&mut self, delta: Vec2, view: Vec2, image_px: Vec2) {
        let scale = self.points_per_pixel(view, image_px).max(1e-6);
        self.centre[0] -= delta.x / (scale * image_px.x);
        self.centre[1] -= delta.y / (scale * image_px.y);
        self.centre = self.centre.map(|c| c.clamp(-0.5, 1.5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Pos2, b: Pos2) -> bool {
        (a - b).length() < 1e-3
    }

    #[test]
    fn fitted_image_fills_the_short_side_and_is_centred() {
        let t = ViewTransform::default();
        // A square image in a wide view: full height, centred horizontally.
        let shown = t.uv_rect(vec2(400.0, 200.0), vec2(100.0, 100.0));
        assert!((shown.height() - 1.0).abs() < 1e-6);
        assert!((shown.width() - 2.0).abs() < 1e-6);
        assert!(close(shown.center(), pos2(0.5, 0.5)));
        assert!((t.points_per_pixel(vec2(400.0, 200.0), vec2(100.0, 100.0)) - 2.0).abs() < 1e-6);
    }

    #[test]
    fn zoom_keeps_the_point_under_the_pointer_and_screen_maps_round_trip() {
        let view = Rect::from_min_size(pos2(10.0, 20.0), vec2(300.0, 200.0));
        let image = vec2(640.0, 480.0);
        let mut t = ViewTransform::default();
        let anchor = pos2(100.0, 60.0);
        let before = t.screen_to_image(view, image, anchor);
        t.zoom_about(2.5, anchor, view, image);
        assert!((t.zoom - 2.5).abs() < 1e-6);
        assert!(close(t.screen_to_image(view, image, anchor), before));
        let p = pos2(0.3, 0.7);
        assert!(close(
            t.screen_to_image(view, image, t.image_to_screen(view, image, p)),
            p
        ));
        t.zoom_about(1e6, anchor, view, image);
        assert!((t.zoom - ZOOM_RANGE.1).abs() < 1e-6);
    }

    #[test]
    fn panning_moves_the_image_with_the_pointer() {
        let view = Rect::from_min_size(Pos2::ZERO, vec2(200.0, 200.0));
        let image = vec2(100.0, 100.0);
        let mut t = ViewTransform::default();
        let p = pos2(0.5, 0.5);
        let before = t.image_to_screen(view, image, p);
        t.pan_by(vec2(30.0, -10.0), view.size(), image);
        let after = t.image_to_screen(view, image, p);
        assert!(close(after, before + vec2(30.0, -10.0)));
    }
}
