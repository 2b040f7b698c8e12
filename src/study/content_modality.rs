//! The modality of a plain image without a sidecar, from measured image statistics: colour
//! fundus photograph, grey OCT B-scan, or grey en-face image (SLO/IR).
//!
//! On a copy reduced to at most 256 pixels a side:
//! - **colour**: the mean chroma `max(R,G,B) − min(R,G,B)` over pixels brighter than the
//!   black surround is at least [`COLOUR_CHROMA`] (8-bit units). A retina photographed in
//!   colour is orange-red; a grey image saved as RGB has chroma ≈ 0. Colour → colour fundus.
//! - **layered**: an OCT B-scan's retina is horizontal layers between a dark vitreous and a
//!   dark choroid/sclera, so the mean brightness of each row varies far more over the rows
//!   than the mean of each column over the columns: `layering` = std(row means) / std(column
//!   means) is at least [`LAYERED_RATIO`]. Means over whole rows average the speckle out (a
//!   pixel-gradient measure was tried first and failed on speckled B-scans). An en-face
//!   SLO/IR (vessels in every direction, vignetting in both) is near 1. Grey and layered → OCT;
//!   grey and not → SLO/IR. Measured: synthetic B-scans 8.0–13.4, real ones 3.3 (Spectralis
//!   through the optic-nerve head) to 15.2 (Cirrus); synthetic and real SLOs 0.7–1.9.
//!
//! FAF and angiograms are grey en-face images too: without a sidecar they are called SLO/IR
//! (say otherwise with `"modality"` in a sidecar).

use super::model::Modality;

/// Mean chroma (8-bit) from which an image counts as colour.
pub const COLOUR_CHROMA: f64 = 12.0;
/// std(row means) / std(column means) from which a grey image counts as a B-scan.
pub const LAYERED_RATIO: f64 = 2.5;
/// A pixel darker than this (max channel) is background, left out of the chroma.
const BACKGROUND: u8 = 16;

/// The measured statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContentStats {
    /// Mean chroma of the lit pixels (8-bit units).
    pub chroma: f64,
    /// std(row means) / std(column means) of the grey values.
    pub layering: f64,
}

/// Measures an RGB image (see the module docs).
pub fn measure(image: &image::RgbImage) -> ContentStats {
    let small = reduce(image);
    let (w, h) = small.dimensions();
    let (mut chroma, mut lit) = (0.0_f64, 0_u64);
    for p in small.pixels() {
        let (hi, lo) = (
            p.0.iter().max().copied().unwrap_or(0),
            p.0.iter().min().copied().unwrap_or(0),
        );
        if hi > BACKGROUND {
            chroma += f64::from(hi - lo);
            lit += 1;
        }
    }
    let grey = |x: u32, y: u32| {
        let p = small.get_pixel(x, y).0;
        (f64::from(p[0]) + f64::from(p[1]) + f64::from(p[2])) / 3.0
    };
    let rows: Vec<f64> = (0..h)
        .map(|y| (0..w).map(|x| grey(x, y)).sum::<f64>() / f64::from(w.max(1)))
        .collect();
    let columns: Vec<f64> = (0..w)
        .map(|x| (0..h).map(|y| grey(x, y)).sum::<f64>() / f64::from(h.max(1)))
        .collect();
    let (row_spread, column_spread) = (std_dev(&rows), std_dev(&columns));
    ContentStats {
        chroma: if lit > 0 { chroma / lit as f64 } else { 0.0 },
        layering: if column_spread > 1e-6 {
            row_spread / column_spread
        } else if row_spread > 1e-6 {
            f64::INFINITY
        } else {
            1.0
        },
    }
}

fn std_dev(values: &[f64]) -> f64 {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// The modality the statistics imply.
pub fn classify(stats: ContentStats) -> Modality {
    if stats.chroma >= COLOUR_CHROMA {
        Modality::ColourFundus
    } else if stats.layering >= LAYERED_RATIO {
        Modality::Oct
    } else {
        Modality::SloIr
    }
}

/// The modality of an image by its content.
pub fn modality_of(image: &image::RgbImage) -> Modality {
    classify(measure(image))
}

/// At most 256 pixels a side (area average), aspect kept.
fn reduce(image: &image::RgbImage) -> image::RgbImage {
    let (w, h) = image.dimensions();
    let scale = (256.0 / f64::from(w.max(h).max(1))).min(1.0);
    if scale >= 1.0 {
        return image.clone();
    }
    let (nw, nh) = (
        ((f64::from(w) * scale).round() as u32).max(1),
        ((f64::from(h) * scale).round() as u32).max(1),
    );
    image::imageops::resize(image, nw, nh, image::imageops::FilterType::Triangle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_colour_and_texture_are_told_apart() {
        let bscan = image::RgbImage::from_fn(200, 120, |x, y| {
            let band = if (50..60).contains(&y) || (80..84).contains(&y) {
                200
            } else {
                30
            };
            let v = (band + (x % 3) as i32) as u8;
            image::Rgb([v, v, v])
        });
        assert_eq!(modality_of(&bscan), Modality::Oct);
        let enface = image::RgbImage::from_fn(120, 120, |x, y| {
            let v = if (x + y) % 17 < 3 || (x + 120 - y) % 23 < 3 {
                60
            } else {
                150
            };
            image::Rgb([v, v, v])
        });
        assert_eq!(modality_of(&enface), Modality::SloIr);
        let fundus = image::RgbImage::from_pixel(50, 50, image::Rgb([190, 90, 40]));
        assert_eq!(modality_of(&fundus), Modality::ColourFundus);
    }
}
