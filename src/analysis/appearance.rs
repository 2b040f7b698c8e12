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
//! Computed on the frame reduced to [`SIDE_PX`]² (area averaging): per channel mean and
//! standard deviation, red/grey and blue/grey ratios, an 8-bin grey histogram, the log mean
//! absolute difference from blurs of σ 1, 2 and 4 px (image's `fast_blur`, box passes
//! approximating a Gaussian: detail at three scales), and the field of view's fraction of the
//! frame. The field of view is the pixels brighter than
//! [`super::heatmap::OUTSIDE_VIEW_LEVEL`].

use image::RgbImage;

use super::heatmap::OUTSIDE_VIEW_LEVEL;

/// The side the frame is resized to before measuring.
pub const SIDE_PX: u32 = 128;

/// Length of the appearance vector.
pub const APPEARANCE_DIM: usize = 6 + 2 + 8 + 3 + 1;

/// The appearance vector of a frame.
pub fn appearance(image: &RgbImage) -> Vec<f32> {
    // Area averaging (fast at any input size; a 3872 × 2592 photograph is mostly averaged).
    let small = image::imageops::thumbnail(image, SIDE_PX, SIDE_PX);
    let pixels: Vec<[f64; 3]> = small
        .pixels()
        .map(|p| p.0.map(|v| f64::from(v) / 255.0))
        .collect();
    let mut inside: Vec<bool> = small
        .pixels()
        .map(|p| p.0.iter().copied().max().unwrap_or(0) > OUTSIDE_VIEW_LEVEL)
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
    let grey_image = image::GrayImage::from_vec(
        SIDE_PX,
        SIDE_PX,
        grey.iter().map(|g| (g * 255.0).round() as u8).collect(),
    );
    for sigma in [1.0_f32, 2.0, 4.0] {
        let detail = grey_image.as_ref().map(|g| {
            let blurred = image::imageops::fast_blur(g, sigma);
            g.pixels()
                .zip(blurred.pixels())
                .zip(&inside)
                .filter(|(_, i)| **i)
                .map(|((a, b), _)| (f64::from(a.0[0]) - f64::from(b.0[0])).abs() / 255.0)
                .sum::<f64>()
                / n
        });
        out.push((detail.unwrap_or(0.0) + 1e-4).ln());
    }
    out.push(n / inside.len() as f64);
    out.into_iter().map(|v| v as f32).collect()
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
