//! Shared retinal anatomy of a synthetic eye: optic disc, vessel tree and lesions in retinal
//! millimetres, rasterised into feature maps for any view (fundus, SLO) of that eye.

use std::collections::HashMap;

use rand::Rng;

use super::truth::{EyeTruth, LesionKind};
use crate::study::Eye;

/// Optic disc centre relative to the fovea: nasal (image right for OD, left for OS), a little up.
pub fn disc_centre_mm(eye: Eye) -> (f64, f64) {
    match eye {
        Eye::Left => (-4.6, -0.4),
        _ => (4.6, -0.4),
    }
}

/// Optic disc radius in mm (horizontal; vertically 8 % taller).
pub const DISC_RADIUS_MM: f64 = 0.9;

/// One straight piece of vessel.
#[derive(Debug, Clone, Copy)]
pub struct VesselSegment {
    /// Start, mm.
    pub a: (f64, f64),
    /// End, mm.
    pub b: (f64, f64),
    /// Calibre in mm.
    pub width_mm: f64,
    /// Vein (darker, wider) or artery.
    pub vein: bool,
}

/// Grows the vessel tree from the disc: four arcades (superior/inferior × temporal/nasal),
/// each an artery and a vein, branching as they thin.
pub fn grow_vessels(rng: &mut impl Rng, eye: Eye) -> Vec<VesselSegment> {
    let disc = disc_centre_mm(eye);
    let temporal = if eye == Eye::Left {
        0.0
    } else {
        std::f64::consts::PI
    };
    let nasal = temporal + std::f64::consts::PI;
    let mut segments = Vec::new();
    for vein in [false, true] {
        for (up, target, spread, length) in [
            (-1.0, temporal, 1.25, 11.0),
            (1.0, temporal, 1.25, 11.0),
            (-1.0, nasal, 0.6, 6.0),
            (1.0, nasal, 0.6, 6.0),
        ] {
            let start_heading = target + up * -spread + rng.random_range(-0.15..0.15) * up;
            // Aim past horizontal so temporal arcades bow round the macula.
            let aim = target + up * -0.35;
            let offset = if vein { 0.12 } else { -0.12 };
            let start = (disc.0 + offset, disc.1 + up * 0.15);
            let width = if vein { 0.13 } else { 0.10 };
            grow_branch(
                rng,
                &mut segments,
                start,
                start_heading,
                aim,
                width,
                length,
                vein,
                0,
            );
        }
    }
    segments
}

#[allow(clippy::too_many_arguments)]
fn grow_branch(
    rng: &mut impl Rng,
    segments: &mut Vec<VesselSegment>,
    mut at: (f64, f64),
    mut heading: f64,
    aim: f64,
    mut width: f64,
    length_mm: f64,
    vein: bool,
    depth: u32,
) {
    let step = 0.18;
    let steps = (length_mm / step) as usize;
    for i in 0..steps {
        heading += 0.09 * angle_diff(aim, heading) + rng.random_range(-0.08..0.08);
        let next = (at.0 + step * heading.cos(), at.1 + step * heading.sin());
        segments.push(VesselSegment {
            a: at,
            b: next,
            width_mm: width,
            vein,
        });
        at = next;
        width *= 0.994;
        if at.0.abs() > 9.0 || at.1.abs() > 9.0 || width < 0.025 {
            return;
        }
        if depth < 3 && i > 4 && rng.random_bool(0.07) {
            let side = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            let child_heading = heading + side * rng.random_range(0.5..0.9);
            let child_aim = heading + side * rng.random_range(0.6..1.3);
            let remaining = (steps - i) as f64 * step * 0.6;
            grow_branch(
                rng,
                segments,
                at,
                child_heading,
                child_aim,
                width * 0.68,
                remaining,
                vein,
                depth + 1,
            );
            width *= 0.88;
        }
    }
}

fn angle_diff(a: f64, b: f64) -> f64 {
    let mut d = a - b;
    while d > std::f64::consts::PI {
        d -= std::f64::consts::TAU;
    }
    while d < -std::f64::consts::PI {
        d += std::f64::consts::TAU;
    }
    d
}

/// Maps retinal mm to pixels of one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Retinal point at the image centre, mm.
    pub centre_mm: (f64, f64),
    /// Pixel size in mm.
    pub spacing_mm: f64,
}

impl View {
    /// Pixel (column, row; sub-pixel) of a retinal point.
    pub fn to_px(&self, (x, y): (f64, f64)) -> (f64, f64) {
        (
            (x - self.centre_mm.0) / self.spacing_mm + f64::from(self.width) / 2.0,
            (y - self.centre_mm.1) / self.spacing_mm + f64::from(self.height) / 2.0,
        )
    }

    /// Retinal point at the centre of pixel (column, row).
    pub fn to_mm(&self, column: u32, row: u32) -> (f64, f64) {
        (
            (f64::from(column) + 0.5 - f64::from(self.width) / 2.0) * self.spacing_mm
                + self.centre_mm.0,
            (f64::from(row) + 0.5 - f64::from(self.height) / 2.0) * self.spacing_mm
                + self.centre_mm.1,
        )
    }
}

/// Per-pixel anatomy of one view, each map in [0, 1].
pub struct FeatureMaps {
    /// The view rasterised.
    pub view: View,
    /// Artery opacity.
    pub artery: Vec<f32>,
    /// Vein opacity.
    pub vein: Vec<f32>,
    /// Lesion coverage by kind.
    pub lesions: HashMap<LesionKind, Vec<f32>>,
}

/// Rasterises vessels and lesions for a view.
pub fn rasterise(view: View, vessels: &[VesselSegment], truth: &EyeTruth) -> FeatureMaps {
    let n = (view.width * view.height) as usize;
    let mut artery = vec![0.0_f32; n];
    let mut vein = vec![0.0_f32; n];
    for s in vessels {
        let target = if s.vein { &mut vein } else { &mut artery };
        stamp_segment(target, view, s);
    }
    let mut lesions: HashMap<LesionKind, Vec<f32>> = HashMap::new();
    for lesion in &truth.lesions {
        let map = lesions.entry(lesion.kind).or_insert_with(|| vec![0.0; n]);
        let (cx, cy) = view.to_px((lesion.x_mm, lesion.y_mm));
        let rx = lesion.rx_mm / view.spacing_mm + 1.0;
        let ry = lesion.ry_mm / view.spacing_mm + 1.0;
        for_each_px_in_box(
            view,
            cx - rx,
            cy - ry,
            cx + rx,
            cy + ry,
            |i, column, row| {
                let (x, y) = view.to_mm(column, row);
                let c = lesion.coverage(x, y) as f32;
                if c > map[i] {
                    map[i] = c;
                }
            },
        );
    }
    FeatureMaps {
        view,
        artery,
        vein,
        lesions,
    }
}

fn for_each_px_in_box(
    view: View,
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
    mut f: impl FnMut(usize, u32, u32),
) {
    let c0 = x0.floor().max(0.0) as u32;
    let r0 = y0.floor().max(0.0) as u32;
    let c1 = (x1.ceil().max(0.0) as u32).min(view.width);
    let r1 = (y1.ceil().max(0.0) as u32).min(view.height);
    for row in r0..r1 {
        for column in c0..c1 {
            f((row * view.width + column) as usize, column, row);
        }
    }
}

fn stamp_segment(map: &mut [f32], view: View, s: &VesselSegment) {
    let (ax, ay) = view.to_px(s.a);
    let (bx, by) = view.to_px(s.b);
    let radius = (s.width_mm / view.spacing_mm / 2.0).max(0.6);
    let pad = radius + 1.5;
    let (dx, dy) = (bx - ax, by - ay);
    let len2 = (dx * dx + dy * dy).max(1e-9);
    for_each_px_in_box(
        view,
        ax.min(bx) - pad,
        ay.min(by) - pad,
        ax.max(bx) + pad,
        ay.max(by) + pad,
        |i, column, row| {
            let (px, py) = (f64::from(column) + 0.5, f64::from(row) + 0.5);
            let t = (((px - ax) * dx + (py - ay) * dy) / len2).clamp(0.0, 1.0);
            let (qx, qy) = (ax + t * dx - px, ay + t * dy - py);
            let d = (qx * qx + qy * qy).sqrt();
            // Partial coverage at the edge; thin vessels are fainter.
            let edge = (radius + 0.5 - d).clamp(0.0, 1.0);
            let strength = (radius / 2.5).clamp(0.35, 1.0);
            let v = (edge * strength) as f32;
            if v > map[i] {
                map[i] = v;
            }
        },
    );
}

/// Disc and cup coverage at a retinal point (soft-edged ellipses).
pub fn disc_and_cup(eye: Eye, cup_to_disc_ratio: f64, (x, y): (f64, f64)) -> (f64, f64) {
    let (dx0, dy0) = disc_centre_mm(eye);
    let dx = (x - dx0) / DISC_RADIUS_MM;
    let dy = (y - dy0) / (DISC_RADIUS_MM * 1.08);
    let d = (dx * dx + dy * dy).sqrt();
    let disc = ((1.0 - d) / 0.08).clamp(0.0, 1.0);
    // The cup sits slightly temporal within the disc.
    let shift = if eye == Eye::Left { 0.08 } else { -0.08 };
    let cx = (x - dx0 - shift) / (DISC_RADIUS_MM * cup_to_disc_ratio * 0.95);
    let cy = (y - dy0) / (DISC_RADIUS_MM * 1.08 * cup_to_disc_ratio);
    let cd = (cx * cx + cy * cy).sqrt();
    let cup = ((1.0 - cd) / 0.25).clamp(0.0, 1.0);
    (disc, cup)
}
