//! The optic disc as a laterality check for colour fundus photographs and SLO/IR images.
//!
//! In a macula-centred image shown as captured, the disc lies on the image's **right** for a
//! right eye (OD) and on its **left** for a left eye (OS). The disc is found as the brightest
//! disc-sized spot *relative to its surround*, so that the illumination fall-off and the bright
//! reflex many cameras leave in the centre of the field do not count:
//! 1. the image is reduced to at most 256 px a side; colour photographs use the green channel
//!    (where the disc stands out most against the red fundus), grey images their grey;
//! 2. the field of view is the pixels brighter than the black surround; its bounding box gives
//!    the centre and radius;
//! 3. for every window of the disc's expected size (`DISC_FRACTION` of the field's width, the
//!    disc's ≈ 1.8 mm in a 45° field), the score is its mean minus the mean of the window 3×
//!    larger around it (both within the field of view);
//! 4. the best window is the disc when its score stands out: at least `MIN_Z` standard
//!    deviations above the mean score;
//! 5. the implied eye follows from the disc's horizontal offset from the field's centre; within
//!    `CENTRAL_BAND` of the radius the image is disc-centred and the check is undecided;
//! 6. with a disc found, the fovea is looked for where anatomy puts it: 2 to 3.2 disc
//!    diameters from the disc on the side away from it (towards the field's centre, or either
//!    side in a disc-centred image), within a disc diameter of its height; it is the window
//!    darkest against its surround there, kept when it stands out by `FOVEA_MIN_Z` among all
//!    windows' scores. The fovea is reported as data (it does not change the implied eye):
//!    a low-contrast macula is common, and two photographs are too few to test a rule on.
//!
//! Undecided is an answer: no disc found, a disc-centred image, an image without a field of
//! view. The check never changes an image's eye; it warns when the tag contradicts it and
//! suggests an eye when there is none.

use serde::{Deserialize, Serialize};

use super::model::{Eye, Modality};

/// The disc's expected diameter as a share of the field of view's width.
pub const DISC_FRACTION: f64 = 0.14;
/// How far (standard deviations of all window scores) the disc's score must stand out.
pub const MIN_Z: f64 = 4.0;
/// How far (standard deviations of all window scores) the fovea must stand out as dark. The
/// macula is a faint darkening: on the synthetic photographs its window scores 0.6–1.7, on the
/// synthetic SLOs 1.5–4.4, on the two real photographs 2.1 and 2.9.
pub const FOVEA_MIN_Z: f64 = 1.0;
/// The fovea's distance from the disc's centre, in disc diameters (anatomy: ≈ 2.5).
const FOVEA_DISTANCE_DD: (f64, f64) = (2.0, 3.2);
/// Within this share of the field's radius from its centre, the image is disc-centred.
pub const CENTRAL_BAND: f64 = 0.2;
const BACKGROUND: u8 = 16;
const MAX_SIDE: u32 = 256;

/// What the anatomy says about an image's eye.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LateralityEvidence {
    /// The disc's centre as fractions of the image's width and height, when found.
    pub disc: Option<[f64; 2]>,
    /// How far the disc's score stands out (standard deviations).
    pub disc_z: f64,
    /// The disc's horizontal offset from the field's centre, in field radii (+ = right).
    pub offset: Option<f64>,
    /// The fovea's centre as fractions of the image's width and height, when a disc was found
    /// and a dark macula stands out where anatomy puts it.
    #[serde(default)]
    pub fovea: Option<[f64; 2]>,
    /// The eye the disc position implies; `None` = undecided.
    pub implied: Option<Eye>,
    /// Why undecided, or how it was decided, in words.
    pub reason: String,
}

impl LateralityEvidence {
    /// The warning for an image tagged `tagged`, when the anatomy contradicts the tag.
    pub fn contradiction(&self, tagged: Eye) -> Option<String> {
        let implied = self.implied?;
        let side = |eye: Eye| if eye == Eye::Right { "right" } else { "left" };
        (matches!(tagged, Eye::Right | Eye::Left) && implied != tagged).then(|| {
            format!(
                "tagged {}, but the optic disc is on the {}: check the laterality",
                tagged.label(),
                side(implied)
            )
        })
    }
}

/// Whether the check applies to images of this modality.
pub fn applies_to(modality: Modality) -> bool {
    matches!(modality, Modality::ColourFundus | Modality::SloIr)
}

/// Finds the disc and the eye it implies (see the module docs).
pub fn check(image: &image::RgbImage, colour: bool) -> LateralityEvidence {
    let (w0, h0) = image.dimensions();
    let scale = (f64::from(MAX_SIDE) / f64::from(w0.max(h0).max(1))).min(1.0);
    let (w, h) = (
        ((f64::from(w0) * scale).round() as u32).max(1),
        ((f64::from(h0) * scale).round() as u32).max(1),
    );
    let small = image::imageops::resize(image, w, h, image::imageops::FilterType::Triangle);
    let (wu, hu) = (w as usize, h as usize);
    let mut value = vec![0.0_f64; wu * hu];
    let mut inside = vec![0.0_f64; wu * hu];
    let (mut x_min, mut x_max) = (usize::MAX, 0);
    for (x, y, p) in small.enumerate_pixels() {
        let i = y as usize * wu + x as usize;
        let lit = p.0.iter().copied().max().unwrap_or(0) > BACKGROUND;
        if lit {
            inside[i] = 1.0;
            value[i] = if colour {
                f64::from(p[1])
            } else {
                (f64::from(p[0]) + f64::from(p[1]) + f64::from(p[2])) / 3.0
            };
            x_min = x_min.min(x as usize);
            x_max = x_max.max(x as usize);
        }
    }
    let undecided =
        |reason: &str, disc_z: f64, disc: Option<[f64; 2]>, offset| LateralityEvidence {
            disc,
            disc_z,
            offset,
            fovea: None,
            implied: None,
            reason: reason.to_string(),
        };
    if x_min >= x_max {
        return undecided("no field of view", 0.0, None, None);
    }
    let field_width = (x_max - x_min + 1) as f64;
    let (centre_x, radius) = ((x_min + x_max) as f64 / 2.0, field_width / 2.0);
    let side = ((field_width * DISC_FRACTION).round() as usize).max(3);
    let sums = Integral::new(&value, wu, hu);
    let counts = Integral::new(&inside, wu, hu);
    let mean = |x: usize, y: usize, half: usize| -> Option<(f64, f64)> {
        let (x0, y0) = (x.saturating_sub(half), y.saturating_sub(half));
        let (x1, y1) = ((x + half + 1).min(wu), (y + half + 1).min(hu));
        let n = counts.sum(x0, y0, x1, y1);
        let area = ((x1 - x0) * (y1 - y0)) as f64;
        (n > 0.0).then(|| (sums.sum(x0, y0, x1, y1) / n, n / area))
    };
    let half = side / 2;
    // Every window inside the field: (score, centre x, centre y).
    let mut windows: Vec<(f64, usize, usize)> = Vec::new();
    for y in (half..hu.saturating_sub(half)).step_by(2) {
        for x in (half..wu.saturating_sub(half)).step_by(2) {
            let Some((disc_mean, filled)) = mean(x, y, half) else {
                continue;
            };
            if filled < 0.9 {
                continue;
            }
            let Some((surround, _)) = mean(x, y, 3 * half + 1) else {
                continue;
            };
            windows.push((disc_mean - surround, x, y));
        }
    }
    // The first of the highest-scoring windows.
    let best = windows
        .iter()
        .copied()
        .reduce(|best, w| if w.0 > best.0 { w } else { best });
    let Some((peak, bx, by)) = best else {
        return undecided("the field of view is too small", 0.0, None, None);
    };
    let n = windows.len() as f64;
    let average = windows.iter().map(|w| w.0).sum::<f64>() / n;
    let spread = (windows.iter().map(|w| (w.0 - average).powi(2)).sum::<f64>() / n).sqrt();
    let z = if spread > 0.0 {
        (peak - average) / spread
    } else {
        0.0
    };
    let disc = [(bx as f64 + 0.5) / w as f64, (by as f64 + 0.5) / h as f64];
    let offset = (bx as f64 - centre_x) / radius;
    if z < MIN_Z {
        return undecided(
            &format!("no optic disc stands out (z {z:.1} < {MIN_Z})"),
            z,
            None,
            None,
        );
    }
    let central = offset.abs() < CENTRAL_BAND;
    // The fovea lies away from the disc, towards the centre (either side when disc-centred).
    let towards = if central { 0.0 } else { -offset.signum() };
    let fovea = find_fovea(&windows, (bx, by), side, towards, average, spread)
        .map(|(fx, fy)| [(fx as f64 + 0.5) / w as f64, (fy as f64 + 0.5) / h as f64]);
    let fovea_words = if fovea.is_some() {
        ", the fovea where anatomy puts it"
    } else {
        ""
    };
    if central {
        let mut evidence = undecided(
            "the optic disc is central: a disc-centred image says nothing about the eye",
            z,
            Some(disc),
            Some(offset),
        );
        evidence.fovea = fovea;
        return evidence;
    }
    let implied = if offset > 0.0 { Eye::Right } else { Eye::Left };
    LateralityEvidence {
        disc: Some(disc),
        disc_z: z,
        offset: Some(offset),
        fovea,
        implied: Some(implied),
        reason: format!(
            "optic disc on the image's {} ({:.0} % of the radius from the centre, z {z:.1}){fovea_words}",
            if offset > 0.0 { "right" } else { "left" },
            offset.abs() * 100.0
        ),
    }
}

/// The fovea among the scored `windows` (score = mean − surround, centre x, y): the darkest
/// against its surround within `FOVEA_DISTANCE_DD` disc diameters of the disc at `disc`
/// horizontally on the side `towards` (−1 left, +1 right, 0 either) and within a diameter
/// vertically; kept when it stands `FOVEA_MIN_Z` below the mean of all scores.
fn find_fovea(
    windows: &[(f64, usize, usize)],
    disc: (usize, usize),
    disc_px: usize,
    towards: f64,
    average: f64,
    spread: f64,
) -> Option<(usize, usize)> {
    let dd = disc_px as f64;
    let (near, far) = (FOVEA_DISTANCE_DD.0 * dd, FOVEA_DISTANCE_DD.1 * dd);
    let darkest = windows
        .iter()
        .filter(|(_, x, y)| {
            let dx = *x as f64 - disc.0 as f64;
            let dy = *y as f64 - disc.1 as f64;
            let side_ok = towards == 0.0 || dx * towards > 0.0;
            side_ok && (near..=far).contains(&dx.abs()) && dy.abs() <= dd
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))?;
    let z = if spread > 0.0 {
        (average - darkest.0) / spread
    } else {
        0.0
    };
    (z >= FOVEA_MIN_Z).then_some((darkest.1, darkest.2))
}

/// Summed-area table.
struct Integral {
    width: usize,
    table: Vec<f64>,
}

impl Integral {
    fn new(values: &[f64], width: usize, height: usize) -> Self {
        let w1 = width + 1;
        let mut table = vec![0.0; w1 * (height + 1)];
        for y in 0..height {
            let mut row = 0.0;
            for x in 0..width {
                row += values[y * width + x];
                table[(y + 1) * w1 + x + 1] = table[y * w1 + x + 1] + row;
            }
        }
        Integral { width: w1, table }
    }

    /// Sum over `[x0, x1) × [y0, y1)`.
    fn sum(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> f64 {
        let t = |x: usize, y: usize| self.table[y * self.width + x];
        t(x1, y1) - t(x0, y1) - t(x1, y0) + t(x0, y0)
    }
}
