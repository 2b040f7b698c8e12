//! What an image view shows, as data: the pixels to upload, the heatmap grid, window/level and
//! the overlay's opacity — and [`shade`], the CPU statement of what `shaders/image.wgsl` does
//! with them (the colour bar uses it; a test renders the shader and compares).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh version number for an upload (textures are re-sent when it changes).
fn next_version() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The pixels of one frame as the GPU gets them.
pub enum UploadPixels {
    /// Row-major RGBA, 4 bytes per pixel (colour, palette and 8-bit grey images).
    Rgba8(Vec<u8>),
    /// Row-major grey as 16-bit floats, 0–1 (grey images wider than 8 bits: window/level
    /// works on the stored values, not on an 8-bit rendering of them).
    GreyF16(Vec<u16>),
}

/// One frame, ready for the GPU.
pub struct ImageUpload {
    /// Changes whenever the pixels do.
    pub version: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The pixels.
    pub pixels: UploadPixels,
}

impl ImageUpload {
    /// From an RGB image.
    pub fn from_rgb(rgb: &image::RgbImage) -> Arc<Self> {
        let mut rgba = Vec::with_capacity(rgb.as_raw().len() / 3 * 4);
        for p in rgb.pixels() {
            rgba.extend_from_slice(&[p[0], p[1], p[2], 255]);
        }
        Arc::new(ImageUpload {
            version: next_version(),
            width: rgb.width(),
            height: rgb.height(),
            pixels: UploadPixels::Rgba8(rgba),
        })
    }

    /// From grey values in [0, 1], row-major.
    pub fn from_unit_grey(width: u32, height: u32, values: &[f32]) -> Arc<Self> {
        Arc::new(ImageUpload {
            version: next_version(),
            width,
            height,
            pixels: UploadPixels::GreyF16(
                values
                    .iter()
                    .map(|&v| half::f16::from_f32(v).to_bits())
                    .collect(),
            ),
        })
    }

    /// Whether the frame is one grey channel (the shader shows it in all three).
    pub fn is_grey(&self) -> bool {
        matches!(self.pixels, UploadPixels::GreyF16(_))
    }
}

/// A heatmap's patch grid as 8-bit values (one texel per patch).
pub struct HeatUpload {
    /// Changes whenever the values do.
    pub version: u64,
    /// Patch columns.
    pub columns: u32,
    /// Patch rows.
    pub rows: u32,
    /// Row-major values, 0–255 for 0–1.
    pub values: Vec<u8>,
    /// Part of the image the grid covers: u0, v0, u1, v1 (0..1).
    pub covers: [f32; 4],
}

impl HeatUpload {
    /// From values in [0, 1].
    pub fn new(columns: usize, rows: usize, values: &[f32], covers: [f32; 4]) -> Arc<Self> {
        Arc::new(HeatUpload {
            version: next_version(),
            columns: columns as u32,
            rows: rows as u32,
            values: values
                .iter()
                .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
                .collect(),
            covers,
        })
    }
}

/// Window/level: the display values shown as black (`low`) and white (`high`), 0–1.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WindowLevel {
    /// Shown as black.
    pub low: f32,
    /// Shown as white.
    pub high: f32,
}

impl Default for WindowLevel {
    fn default() -> Self {
        WindowLevel {
            low: 0.0,
            high: 1.0,
        }
    }
}

impl WindowLevel {
    /// Narrowest window allowed.
    const MIN_WIDTH: f32 = 0.02;

    /// The window's width (contrast: smaller is more).
    pub fn width(&self) -> f32 {
        self.high - self.low
    }

    /// The window's centre (brightness: lower is brighter).
    pub fn level(&self) -> f32 {
        (self.high + self.low) / 2.0
    }

    /// A drag as radiology viewers do it: right = wider window (less contrast), down = higher
    /// level (darker); `dx`, `dy` are fractions of the view's size.
    pub fn dragged(&self, dx: f32, dy: f32) -> WindowLevel {
        let width = (self.width() * (1.0 + dx * 2.0)).clamp(Self::MIN_WIDTH, 2.0);
        let level = (self.level() + dy).clamp(-0.5, 1.5);
        WindowLevel {
            low: level - width / 2.0,
            high: level + width / 2.0,
        }
    }

    /// "W 100% L 50%".
    pub fn label(&self) -> String {
        format!(
            "W {:.0}% L {:.0}%",
            self.width() * 100.0,
            self.level() * 100.0
        )
    }
}

/// The overlay's colour map: six stops approximating Turbo (Google, 2019), piecewise linear —
/// the same numbers as `turbo()` in `shaders/image.wgsl`.
pub const TURBO_STOPS: [[f32; 3]; 6] = [
    [0.19, 0.07, 0.23],
    [0.16, 0.46, 0.97],
    [0.10, 0.90, 0.71],
    [0.64, 0.99, 0.24],
    [0.98, 0.62, 0.12],
    [0.48, 0.02, 0.01],
];

/// The colour of heat `t` (0–1).
pub fn turbo(t: f32) -> [f32; 3] {
    let x = t.clamp(0.0, 1.0) * 5.0;
    let i = (x.floor() as usize).min(4);
    let f = x - i as f32;
    let (a, b) = (TURBO_STOPS[i], TURBO_STOPS[i + 1]);
    [
        a[0] + (b[0] - a[0]) * f,
        a[1] + (b[1] - a[1]) * f,
        a[2] + (b[2] - a[2]) * f,
    ]
}

/// How much of the overlay colour covers the image at heat `t`: `opacity · smoothstep(0, 0.25, t)`.
pub fn overlay_alpha(t: f32, opacity: f32) -> f32 {
    let s = (t / 0.25).clamp(0.0, 1.0);
    opacity * s * s * (3.0 - 2.0 * s)
}

/// What the shader draws for one stored pixel (`rgb` 0–1) under `window`, with the heat value
/// at that pixel when the overlay is on (`opacity` > 0): display values 0–1 (before any sRGB
/// encoding of the target).
pub fn shade(rgb: [f32; 3], window: WindowLevel, heat: Option<f32>, opacity: f32) -> [f32; 3] {
    let width = window.width().max(1e-4);
    let mut out = rgb.map(|c| ((c - window.low) / width).clamp(0.0, 1.0));
    if let Some(t) = heat
        && opacity > 0.0
    {
        let colour = turbo(t);
        let a = overlay_alpha(t, opacity);
        for (o, c) in out.iter_mut().zip(colour) {
            *o += (c - *o) * a;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_level_maps_its_ends_to_black_and_white_and_clamps() {
        let w = WindowLevel {
            low: 0.25,
            high: 0.75,
        };
        assert_eq!(shade([0.25, 0.5, 0.75], w, None, 0.0), [0.0, 0.5, 1.0]);
        assert_eq!(shade([0.0, 1.0, 0.1], w, None, 0.0), [0.0, 1.0, 0.0]);
    }

    #[test]
    fn dragging_right_widens_and_down_darkens() {
        let w = WindowLevel::default();
        let wider = w.dragged(0.25, 0.0);
        assert!(wider.width() > w.width());
        assert!((wider.level() - w.level()).abs() < 1e-6);
        let darker = w.dragged(0.0, 0.1);
        assert!(darker.level() > w.level());
        // A dim pixel gets darker when the level rises.
        assert!(shade([0.6; 3], darker, None, 0.0)[0] < shade([0.6; 3], w, None, 0.0)[0]);
        let narrowest = w.dragged(-10.0, 0.0);
        assert!(narrowest.width() >= WindowLevel::MIN_WIDTH - 1e-6);
    }

    #[test]
    fn cold_heat_leaves_the_image_and_hot_heat_colours_it() {
        let w = WindowLevel::default();
        assert_eq!(shade([0.5; 3], w, Some(0.0), 0.6), [0.5; 3]);
        let hot = shade([0.5; 3], w, Some(1.0), 1.0);
        for (got, want) in hot.iter().zip(TURBO_STOPS[5]) {
            assert!((got - want).abs() < 1e-6, "{hot:?}");
        }
        let mid = turbo(0.5);
        for (got, want) in mid.iter().zip([0.37, 0.945, 0.475]) {
            assert!((got - want).abs() < 1e-6, "{mid:?}");
        }
        let off = shade([0.5; 3], w, Some(1.0), 0.0);
        assert_eq!(off, [0.5; 3]);
    }
}
