//! Heatmaps over images, as data the viewer overlays: attention rollout (no gradients) and
//! Grad-CAM on the last block for a finding's prompt pair (burn's autodiff, inside the
//! encoder), at patch resolution, with bilinear upsampling to the image. For a CNN
//! (Image+Fundus's ResNet), Grad-CAM is the classic one on the last convolutional stage for a
//! head finding; the ViT-only methods are not offered there ([`methods_for`]). The pointing game that checks
//! them on synthetic lesions is in [`crate::demo::pointing_game`].

use serde::{Deserialize, Serialize};

use super::engine::Analyzer;
use super::findings::ModelStamp;
use crate::encoder::embed::EmbedError;
use crate::encoder::session::PatchGrid;

/// How a heatmap is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum HeatmapMethod {
    /// Attention rollout: where the class token looks, finding-agnostic.
    AttentionRollout,
    /// Grad-CAM for one finding's prompt pair.
    GradCam,
    /// Class-specific relevance through every block (Chefer et al.) for one finding.
    Relevance,
}

/// The methods a pack's model supports, first the default: a CNN has classic Grad-CAM only;
/// a ViT with a text tower all three; a ViT with only a classifier head rollout only.
pub fn methods_for(analyzer: &Analyzer) -> Vec<HeatmapMethod> {
    let session = analyzer.session();
    if session.is_convolutional() {
        vec![HeatmapMethod::GradCam]
    } else if session.has_text() {
        vec![
            HeatmapMethod::GradCam,
            HeatmapMethod::Relevance,
            HeatmapMethod::AttentionRollout,
        ]
    } else {
        vec![HeatmapMethod::AttentionRollout]
    }
}

/// Whether a class-specific map can aim at `finding` with this pack.
pub fn can_aim_at(analyzer: &Analyzer, finding: &str) -> bool {
    analyzer.heat_target(finding).is_some() || analyzer.head_target(finding).is_some()
}

/// A heatmap and what made it.
#[derive(Debug, Clone, Serialize)]
pub struct Heatmap {
    /// Method.
    pub method: HeatmapMethod,
    /// The finding (Grad-CAM).
    pub finding: Option<String>,
    /// Patch grid, values in [0, 1].
    pub columns: usize,
    /// Patch rows.
    pub rows: usize,
    /// Row-major values.
    pub values: Vec<f32>,
    /// The part of the image the grid covers (the model's centre crop): u0, v0, u1, v1.
    pub covers: [f32; 4],
    /// The model.
    pub model: ModelStamp,
}

impl HeatmapMethod {
    /// As the viewer names it.
    pub fn label(self) -> &'static str {
        match self {
            HeatmapMethod::AttentionRollout => "attention rollout",
            HeatmapMethod::GradCam => "class-specific (Grad-CAM)",
            HeatmapMethod::Relevance => "class-specific (relevance, all blocks)",
        }
    }

    /// Whether the method is for one finding.
    pub fn needs_finding(self) -> bool {
        self != HeatmapMethod::AttentionRollout
    }
}

impl Heatmap {
    /// The (column, row) of the largest value.
    pub fn peak(&self) -> (usize, usize) {
        let index = self
            .values
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        (index % self.columns.max(1), index / self.columns.max(1))
    }

    /// Bilinear upsampling to `width × height` pixels (patch centres at their pixel centres).
    pub fn upsample(&self, width: u32, height: u32) -> Vec<f32> {
        let (cols, rows) = (self.columns.max(1), self.rows.max(1));
        let at = |c: usize, r: usize| self.values.get(r * cols + c).copied().unwrap_or(0.0);
        let mut out = Vec::with_capacity((width * height) as usize);
        for y in 0..height {
            let fy = ((f64::from(y) + 0.5) / f64::from(height) * rows as f64 - 0.5)
                .clamp(0.0, (rows - 1) as f64);
            let (r0, ty) = (fy.floor() as usize, (fy - fy.floor()) as f32);
            let r1 = (r0 + 1).min(rows - 1);
            for x in 0..width {
                let fx = ((f64::from(x) + 0.5) / f64::from(width) * cols as f64 - 0.5)
                    .clamp(0.0, (cols - 1) as f64);
                let (c0, tx) = (fx.floor() as usize, (fx - fx.floor()) as f32);
                let c1 = (c0 + 1).min(cols - 1);
                let top = at(c0, r0) * (1.0 - tx) + at(c1, r0) * tx;
                let bottom = at(c0, r1) * (1.0 - tx) + at(c1, r1) * tx;
                out.push(top * (1.0 - ty) + bottom * ty);
            }
        }
        out
    }
}

/// Why a heatmap could not be made.
#[derive(Debug, thiserror::Error)]
pub enum HeatmapError {
    /// The pack has no such finding to aim at (a ViT's classifier-head findings have no text
    /// target; a CNN's text findings have no head).
    #[error("no finding {0} in this pack that this map can aim at")]
    UnknownFinding(String),
    /// Grad-CAM needs a finding.
    #[error("Grad-CAM needs a finding")]
    NoFinding,
    /// The model failed.
    #[error(transparent)]
    Model(#[from] EmbedError),
}

/// A heatmap of `image` by `method` (Grad-CAM for `finding`).
pub fn heatmap(
    analyzer: &Analyzer,
    image: &image::RgbImage,
    method: HeatmapMethod,
    finding: Option<&str>,
) -> Result<Heatmap, HeatmapError> {
    let grid: PatchGrid = match method {
        HeatmapMethod::AttentionRollout => analyzer.session().attention_rollout(image)?,
        HeatmapMethod::GradCam if analyzer.session().is_convolutional() => {
            let id = finding.ok_or(HeatmapError::NoFinding)?;
            let classes = analyzer
                .head_target(id)
                .ok_or_else(|| HeatmapError::UnknownFinding(id.to_string()))?;
            analyzer.session().head_grad_cam(image, &classes)?
        }
        HeatmapMethod::GradCam | HeatmapMethod::Relevance => {
            let id = finding.ok_or(HeatmapError::NoFinding)?;
            let (positive, negative) = analyzer
                .heat_target(id)
                .ok_or_else(|| HeatmapError::UnknownFinding(id.to_string()))?;
            let session = analyzer.session();
            if method == HeatmapMethod::GradCam {
                session.grad_cam(image, &positive, &negative)?
            } else {
                session.class_relevance(image, &positive, &negative)?
            }
        }
    };
    let values = within_field_of_view(image, grid.width, grid.height, grid.values);
    Ok(Heatmap {
        method,
        finding: finding.map(str::to_string),
        columns: grid.width,
        rows: grid.height,
        values,
        covers: analyzer
            .session()
            .manifest()
            .preprocessing
            .covered_region(image.width(), image.height()),
        model: analyzer.stamp().clone(),
    })
}

/// A pixel darker than this (max channel, 0–255) is outside the field of view: the black
/// surround of a fundus photograph, the vitreous above an OCT B-scan.
pub const OUTSIDE_VIEW_LEVEL: u8 = 16;

/// A patch counts as inside the field of view when at least this fraction of its pixels is.
pub const INSIDE_VIEW_FRACTION: f64 = 0.9;

/// Zeroes the patches outside the field of view and rescales to a maximum of 1.
///
/// ViTs park attention on uninformative tokens (the black corners of a fundus photograph act
/// as "registers", Darcet et al. 2024), and both rollout and gradient-weighted attention then
/// peak there — on the demo model every Grad-CAM peak fell in a corner. A heatmap is about
/// the retina, so patches that are not (mostly) retina are left out, and on a photograph with a
/// round field its rim too (`without_rim`). When no patch is inside (a dark image), the map
/// is returned as it was.
pub fn within_field_of_view(
    image: &image::RgbImage,
    columns: usize,
    rows: usize,
    values: Vec<f32>,
) -> Vec<f32> {
    let (width, height) = image.dimensions();
    if columns == 0 || rows == 0 || width == 0 || height == 0 {
        return values;
    }
    let inside: Vec<bool> = (0..rows * columns)
        .map(|i| {
            let (c, r) = ((i % columns) as u32, (i / columns) as u32);
            let (x0, x1) = (c * width / columns as u32, (c + 1) * width / columns as u32);
            let (y0, y1) = (r * height / rows as u32, (r + 1) * height / rows as u32);
            let mut lit = 0_u64;
            let mut all = 0_u64;
            for y in y0..y1.max(y0 + 1).min(height) {
                for x in x0..x1.max(x0 + 1).min(width) {
                    let p = image.get_pixel(x, y).0;
                    all += 1;
                    lit += u64::from(p.iter().copied().max().unwrap_or(0) > OUTSIDE_VIEW_LEVEL);
                }
            }
            lit as f64 >= INSIDE_VIEW_FRACTION * all.max(1) as f64
        })
        .collect();
    if !inside.iter().any(|&v| v) {
        return values;
    }
    let inside = without_rim(&inside, columns, rows);
    let masked: Vec<f32> = values
        .iter()
        .zip(&inside)
        .map(|(&v, &keep)| if keep { v } else { 0.0 })
        .collect();
    let max = masked.iter().copied().fold(0.0_f32, f32::max);
    if max > 0.0 {
        masked.iter().map(|v| v / max).collect()
    } else {
        masked
    }
}

/// On a photograph with a round field of view (all four corner patches outside it), also
/// leaves out the rim: the patches next to the outside. They hold the sharp edge of the field,
/// where the demo model's gradient-weighted attention peaks as it does on the black corners;
/// a lesion at the very edge of the field gets no heat. B-scans and SLO images (corners not
/// all dark) are left as they are.
fn without_rim(inside: &[bool], columns: usize, rows: usize) -> Vec<bool> {
    let at = |c: usize, r: usize| inside[r * columns + c];
    let round_field =
        !at(0, 0) && !at(columns - 1, 0) && !at(0, rows - 1) && !at(columns - 1, rows - 1);
    if !round_field {
        return inside.to_vec();
    }
    let eroded: Vec<bool> = (0..rows * columns)
        .map(|i| {
            let (c, r) = (i % columns, i / columns);
            at(c, r)
                && (c == 0 || at(c - 1, r))
                && (c + 1 == columns || at(c + 1, r))
                && (r == 0 || at(c, r - 1))
                && (r + 1 == rows || at(c, r + 1))
        })
        .collect();
    if eroded.iter().any(|&v| v) {
        eroded
    } else {
        inside.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64 × 64 photograph with a round field of view (radius 30) and an 8 × 8 patch grid.
    fn round_field() -> image::RgbImage {
        image::RgbImage::from_fn(64, 64, |x, y| {
            let (dx, dy) = (x as f32 - 31.5, y as f32 - 31.5);
            if dx * dx + dy * dy <= 30.0 * 30.0 {
                image::Rgb([180, 90, 40])
            } else {
                image::Rgb([0, 0, 0])
            }
        })
    }

    #[test]
    fn a_round_field_loses_its_outside_and_its_rim_a_full_field_nothing() {
        let values: Vec<f32> = (0..64).map(|i| 0.5 + (i % 3) as f32 * 0.1).collect();
        let kept = within_field_of_view(&round_field(), 8, 8, values.clone());
        let at = |c: usize, r: usize| kept[r * 8 + c];
        assert_eq!(at(0, 0), 0.0, "corner: outside");
        assert_eq!(at(0, 3), 0.0, "edge of the field: rim");
        assert!(at(3, 3) > 0.0 && at(4, 4) > 0.0, "centre kept");
        assert!((kept.iter().copied().fold(0.0, f32::max) - 1.0).abs() < 1e-6);
        let full = image::RgbImage::from_pixel(64, 64, image::Rgb([120, 120, 120]));
        let kept = within_field_of_view(&full, 8, 8, values.clone());
        let max = values.iter().copied().fold(0.0, f32::max);
        for (k, v) in kept.iter().zip(&values) {
            assert!((k - v / max).abs() < 1e-6);
        }
    }
}
