//! An image's appearance, independent of any model: a short vector of colour, grey-level and
//! detail statistics inside the field of view. The domain check compares it with the
//! validation images' (see [`super::domain`]).
//!
//! Why it exists beside the model's features: a small model trained on one kind of image can
//! map a different kind onto the same features — the demo model, trained on synthetic
//! photographs, puts a real 600-px photograph closer to its synthetic images than most of
//! them are to each other. The way a camera renders a retina (colour balance, noise, blur,
//! compression, illumination) is not something such a model was made to see, and these
//! statistics see it.
//!
//! Computed on the frame reduced to [`SIDE_PX`]² (each cell the mean of 2 × 2 evenly spaced
//! pixels of its area, so the cost does not grow with the frame): per channel mean and
//! standard deviation, red/grey and blue/grey ratios, an 8-bin grey histogram, the log mean
//! absolute difference from the 2 × 2, 4 × 4 and 8 × 8 block means (detail at three scales, as
//! in a Laplacian pyramid), and the field of view's fraction of the frame. The field of view is the pixels brighter than
//! [`super::heatmap::OUTSIDE_VIEW_LEVEL`].

use image::RgbImage;

use super::heatmap::OUTSIDE_VIEW_LEVEL;

/// The side the frame is resized to before measuring.
pub const SIDE_PX: u32 = 128;

/// Length of the appearance vector.
pub const APPEARANCE_DIM: usize = 6 + 2 + 8 + 3 + 1;

/// The appearance vector of a frame.
pub fn appearance(image: &RgbImage) -> Vec<f32> {
    let pixels = reduced(image);
    let level = f64::from(OUTSIDE_VIEW_LEVEL) / 255.0;
    let mut inside: Vec<bool> = pixels
        .iter()
        .map(|p| p.iter().copied().fold(0.0, f64::max) > level)
        .collect();
    if inside.iter().filter(|&&v| v).count() < 16 {
        inside.iter_mut().for_each(|v| *v = true);
    }
    let n = inside.iter().filter(|&&v| v).count() as f64;
    let grey: Vec<f64> = pixels.iter().map(|p| (p[0] + p[1] + p[2]) / 3.0).collect();
    let mut out = Vec::with_capacity(APPEARANCE_DIM);
    let mut channel_means = [0.0; 3];
    for (c, mean_of) in channel_means.iter_mut().enumerate() {
        let values = pixels
            .iter()
            .zip(&inside)
            .filter(|(_, i)| **i)
            .map(|(p, _)| p[c]);
        let mean = values.clone().sum::<f64>() / n;
        let var = values.map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        *mean_of = mean;
        out.extend([mean, var.sqrt()]);
    }
    let grey_mean = channel_means.iter().sum::<f64>() / 3.0 + 1e-6;
    out.extend([channel_means[0] / grey_mean, channel_means[2] / grey_mean]);
    let mut histogram = [0.0; 8];
    for (g, _) in grey.iter().zip(&inside).filter(|(_, i)| **i) {
        histogram[((g * 8.0) as usize).min(7)] += 1.0 / n;
    }
    out.extend(histogram);
    for block in [2_usize, 4, 8] {
        out.push((detail_at(&grey, &inside, block, n) + 1e-4).ln());
    }
    out.push(n / inside.len() as f64);
    out.into_iter().map(|v| v as f32).collect()
}

/// Samples per cell side when reducing: the cost is fixed whatever the frame's size.
const SAMPLES: u32 = 2;

/// The frame reduced to [`SIDE_PX`]²: each cell the mean of [`SAMPLES`]² evenly spaced
/// pixels of its area (every pixel when the cell is smaller), RGB in 0–1.
fn reduced(image: &RgbImage) -> Vec<[f64; 3]> {
    let (width, height) = image.dimensions();
    let side = SIDE_PX;
    let raw = image.as_raw();
    let stride = width as usize * 3;
    let mut out = Vec::with_capacity((side * side) as usize);
    if width == 0 || height == 0 {
        return vec![[0.0; 3]; (side * side) as usize];
    }
    // Row by row (the same samples and sums as cell by cell, read in memory order).
    let columns: Vec<(u32, u32)> = (0..side)
        .map(|cx| {
            let x0 = cx * width / side;
            (x0, ((cx + 1) * width / side).max(x0 + 1))
        })
        .collect();
    let mut sums = vec![[0_u32; 3]; side as usize];
    for cy in 0..side {
        let y0 = cy * height / side;
        let y1 = ((cy + 1) * height / side).max(y0 + 1);
        let ny = (y1 - y0).min(SAMPLES);
        sums.iter_mut().for_each(|s| *s = [0; 3]);
        for j in 0..ny {
            let y = (y0 + (2 * j + 1) * (y1 - y0) / (2 * ny)).min(height - 1) as usize;
            let row = &raw[y * stride..(y + 1) * stride];
            for (sum, &(x0, x1)) in sums.iter_mut().zip(&columns) {
                let nx = (x1 - x0).min(SAMPLES);
                for i in 0..nx {
                    let x = (x0 + (2 * i + 1) * (x1 - x0) / (2 * nx)).min(width - 1) as usize;
                    let p = &row[3 * x..3 * x + 3];
                    sum[0] += u32::from(p[0]);
                    sum[1] += u32::from(p[1]);
                    sum[2] += u32::from(p[2]);
                }
            }
        }
        for (sum, &(x0, x1)) in sums.iter().zip(&columns) {
            let count = f64::from((x1 - x0).min(SAMPLES) * ny) * 255.0;
            out.push(sum.map(|v| f64::from(v) / count));
        }
    }
    out
}

/// The mean absolute difference, inside the field of view, between the grey image and its
/// `block` × `block` box averages: the detail finer than `block` pixels.
fn detail_at(grey: &[f64], inside: &[bool], block: usize, n: f64) -> f64 {
    let side = SIDE_PX as usize;
    let blocks = side / block;
    let mut means = vec![0.0; blocks * blocks];
    for y in 0..side {
        for x in 0..side {
            means[(y / block) * blocks + x / block] += grey[y * side + x];
        }
    }
    let area = (block * block) as f64;
    let mut sum = 0.0;
    for y in 0..side {
        for x in 0..side {
            if inside[y * side + x] {
                sum += (grey[y * side + x] - means[(y / block) * blocks + x / block] / area).abs();
            }
        }
    }
    sum / n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_and_a_noisy_image_differ_in_detail_not_in_length() {
        let flat = RgbImage::from_pixel(300, 200, image::Rgb([120, 60, 30]));
        let noisy = RgbImage::from_fn(300, 200, |x, y| {
            let v = ((x * 7919 + y * 104_729) % 97) as u8;
            image::Rgb([100 + v, 50 + v / 2, 20 + v / 4])
        });
        let (a, b) = (appearance(&flat), appearance(&noisy));
        assert_eq!(a.len(), APPEARANCE_DIM);
        assert_eq!(b.len(), APPEARANCE_DIM);
        assert!(b[16] > a[16] + 1.0, "fine detail: {} vs {}", b[16], a[16]);
    }
}
