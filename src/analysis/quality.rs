//! Image quality / gradeability: is there a retina in view, is it exposed, is it sharp? An
//! ungradable image is kept out of its eye's result and the reason is shown. Rules on a
//! 256-px grey copy (thresholds chosen on Fovea's synthetic images and their degraded copies,
//! see the tests; real cameras will need their own):
//! - **no retina in view**: under 25 % of the frame is brighter than 2 % grey (the black mask
//!   around a fundus field is darker);
//! - **under-exposed**: the mean inside the field of view is below 14 % grey;
//! - **blurred** (photographs only): the variance of the Laplacian inside the field of view,
//!   relative to its mean brightness, is below 0.3. Sharp synthetic fundus photographs measure
//!   2.1–2.7 and SLOs 0.8–1.2; a Gaussian blur of σ = 3 px on a 768-px photograph gives 0.26.

use serde::Serialize;

use crate::study::Modality;

/// The measurements behind a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct QualityMetrics {
    /// Fraction of the frame brighter than 2 % grey.
    pub retina_fraction: f64,
    /// Mean grey (0–1) inside the field of view.
    pub mean_brightness: f64,
    /// Variance of the Laplacian inside the field of view divided by mean brightness (0–255
    /// scale); high when edges are crisp.
    pub sharpness: f64,
}

/// Whether an image can be graded, and why not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityVerdict {
    /// True when the image may contribute to its eye's result.
    pub gradable: bool,
    /// Why it may not (empty when gradable).
    pub reasons: Vec<String>,
    /// The measurements.
    pub metrics: QualityMetrics,
}

/// Minimum fraction of the frame that must show retina.
pub const MIN_RETINA_FRACTION: f64 = 0.25;
/// Minimum mean brightness inside the field of view.
pub const MIN_BRIGHTNESS: f64 = 0.14;
/// Minimum relative Laplacian variance of a photograph.
pub const MIN_SHARPNESS: f64 = 0.3;

/// Grades `image` of `modality`.
pub fn assess(image: &image::RgbImage, modality: Modality) -> QualityVerdict {
    let grey = image::DynamicImage::ImageRgb8(image.clone()).to_luma8();
    let (w, h) = grey.dimensions();
    let scale = 256.0 / f64::from(w.max(h).max(1));
    let grey = if scale < 1.0 {
        image::imageops::resize(
            &grey,
            ((f64::from(w) * scale).round() as u32).max(1),
            ((f64::from(h) * scale).round() as u32).max(1),
            image::imageops::FilterType::Triangle,
        )
    } else {
        grey
    };
    let (w, h) = grey.dimensions();
    let threshold = (0.02 * 255.0) as u8;
    let inside = |x: u32, y: u32| grey.get_pixel(x, y)[0] > threshold;
    let total = f64::from(w * h).max(1.0);
    let mut count = 0.0;
    let mut sum = 0.0;
    for p in grey.pixels() {
        if p[0] > threshold {
            count += 1.0;
            sum += f64::from(p[0]);
        }
    }
    let retina_fraction = count / total;
    let mean_brightness = if count > 0.0 {
        sum / count / 255.0
    } else {
        0.0
    };
    // Laplacian at pixels whose 4-neighbourhood is inside the field of view.
    let mut values = Vec::new();
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            if !(inside(x, y)
                && inside(x - 1, y)
                && inside(x + 1, y)
                && inside(x, y - 1)
                && inside(x, y + 1))
            {
                continue;
            }
            let v = |x: u32, y: u32| f64::from(grey.get_pixel(x, y)[0]);
            values.push(v(x - 1, y) + v(x + 1, y) + v(x, y - 1) + v(x, y + 1) - 4.0 * v(x, y));
        }
    }
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let sharpness = variance / (mean_brightness * 255.0).max(1.0);
    let metrics = QualityMetrics {
        retina_fraction,
        mean_brightness,
        sharpness,
    };
    let mut reasons = Vec::new();
    if retina_fraction < MIN_RETINA_FRACTION {
        reasons.push(format!(
            "no retina in view (only {:.0} % of the frame is not black)",
            retina_fraction * 100.0
        ));
    } else if mean_brightness < MIN_BRIGHTNESS {
        reasons.push(format!(
            "under-exposed (mean brightness {:.0} %)",
            mean_brightness * 100.0
        ));
    }
    let photograph = !matches!(modality, Modality::Oct);
    if reasons.is_empty() && photograph && sharpness < MIN_SHARPNESS {
        reasons.push(format!(
            "blurred (sharpness {sharpness:.3}, needs {MIN_SHARPNESS})"
        ));
    }
    QualityVerdict {
        gradable: reasons.is_empty(),
        reasons,
        metrics,
    }
}
