//! Image preprocessing as the reference implementations do it, so embeddings match theirs.
//!
//! OpenAI-style CLIP (EyeCLIP), as open_clip's inference transform: resize the shorter side to
//! 224 with **PIL's bicubic** (torchvision's `Resize` on a PIL image calls it), centre-crop,
//! scale to [0, 1], normalise with the CLIP mean/std. PIL's resampler is reproduced exactly:
//! separable, horizontal pass first, a = −0.5 cubic whose support widens when downsampling
//! (antialiasing), weights in 22-bit fixed point, 8-bit rounding after each pass.
//! RET-CLIP squashes to 224 × 224 instead; timm / RETFound resize the shorter side to 256 and
//! crop 224 with ImageNet's mean/std. All three are [`Preprocess`] values kept in a pack's
//! manifest.

/// CLIP's normalisation mean (RGB).
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// CLIP's normalisation standard deviation (RGB).
#[allow(clippy::excessive_precision)] // written digit for digit as OpenAI publishes them
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_1];

/// ImageNet's normalisation mean (RGB), used by timm / RETFound.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's normalisation standard deviation (RGB).
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// How the image is resized before the centre crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeMode {
    /// The shorter side becomes `resize_px`, aspect kept (CLIP, timm).
    ShorterSide,
    /// Both sides become `resize_px`, aspect not kept (RET-CLIP).
    Squash,
}

/// Resize (PIL bicubic) + centre-crop + normalise: every pack's preprocessing.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Preprocess {
    /// How the image is resized.
    pub resize: ResizeMode,
    /// Target of the resize in pixels.
    pub resize_px: u32,
    /// Side of the centre crop in pixels: the model's input size.
    pub crop_px: u32,
    /// Per-channel mean, subtracted after scaling to [0, 1].
    pub mean: [f32; 3],
    /// Per-channel standard deviation.
    pub std: [f32; 3],
}

impl Preprocess {
    /// OpenAI CLIP / EyeCLIP: shorter side to `size`, crop `size`, CLIP mean/std.
    pub fn clip(size: u32) -> Self {
        Preprocess {
            resize: ResizeMode::ShorterSide,
            resize_px: size,
            crop_px: size,
            mean: CLIP_MEAN,
            std: CLIP_STD,
        }
    }

    /// OpenAI CLIP / EyeCLIP at 224 px.
    pub fn clip_224() -> Self {
        Self::clip(224)
    }

    /// RET-CLIP: squash to `size` × `size`, CLIP mean/std.
    pub fn squash_clip(size: u32) -> Self {
        Preprocess {
            resize: ResizeMode::Squash,
            ..Self::clip(size)
        }
    }

    /// timm / RETFound evaluation: shorter side to `size / 0.875` (256 for 224), crop `size`,
    /// ImageNet mean/std.
    pub fn timm_eval(size: u32) -> Self {
        Preprocess {
            resize: ResizeMode::ShorterSide,
            resize_px: (f64::from(size) / 0.875) as u32,
            crop_px: size,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
        }
    }

    /// Image+Fundus (a ResNet-50 at 512 px): squash to `size` × `size`, ImageNet mean/std.
    /// The authors' released code names `image_size = 512` and imports albumentations, whose
    /// `Resize` squashes and whose `Normalize` defaults to ImageNet's mean/std; their transform
    /// itself is not published. Fovea resamples with PIL's bicubic (its one resampler) where
    /// albumentations would use OpenCV's bilinear.
    pub fn squash_imagenet(size: u32) -> Self {
        Preprocess {
            resize: ResizeMode::Squash,
            resize_px: size,
            crop_px: size,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
        }
    }

    /// The model's input side in pixels.
    pub fn size(&self) -> u32 {
        self.crop_px
    }

    /// The part of a `width` × `height` image the model sees (after resize and centre crop),
    /// as fractions of the image: u0, v0, u1, v1. A heatmap's patch grid covers this part.
    pub fn covered_region(&self, width: u32, height: u32) -> [f32; 4] {
        let (new_width, new_height) = match self.resize {
            ResizeMode::ShorterSide => shortest_side_size(width, height, self.resize_px),
            ResizeMode::Squash => (self.resize_px, self.resize_px),
        };
        let span = |new: u32| {
            let seen = (self.crop_px.min(new.max(1)) as f32) / new.max(1) as f32;
            ((1.0 - seen) / 2.0, (1.0 + seen) / 2.0)
        };
        let (u0, u1) = span(new_width);
        let (v0, v1) = span(new_height);
        [u0, v0, u1, v1]
    }

    /// The model's input for `image`: `[3, crop, crop]` values, channel-major (CHW).
    pub fn apply(&self, image: &image::RgbImage) -> Vec<f32> {
        let (width, height) = image.dimensions();
        let (new_width, new_height) = match self.resize {
            ResizeMode::ShorterSide => shortest_side_size(width, height, self.resize_px),
            ResizeMode::Squash => (self.resize_px, self.resize_px),
        };
        let resized = resize_bicubic_pil(image, new_width, new_height);
        let top = centre_offset(new_height, self.crop_px);
        let left = centre_offset(new_width, self.crop_px);
        let side = self.crop_px as usize;
        let mut out = vec![0.0_f32; 3 * side * side];
        for y in 0..self.crop_px.min(new_height) {
            for x in 0..self.crop_px.min(new_width) {
                let pixel = resized.get_pixel(left + x, top + y);
                for c in 0..3 {
                    let value = f32::from(pixel[c]) / 255.0;
                    out[c * side * side + y as usize * side + x as usize] =
                        (value - self.mean[c]) / self.std[c];
                }
            }
        }
        out
    }
}

/// The centre `fraction` of `image` (both sides), e.g. 0.5 keeps the middle half: a colour
/// fundus photograph's posterior pole, to be seen at twice the pixels per millimetre.
pub fn centre_crop(image: &image::RgbImage, fraction: f32) -> image::RgbImage {
    let (x, y, crop_width, crop_height) = centre_crop_rect(image.width(), image.height(), fraction);
    image::imageops::crop_imm(image, x, y, crop_width, crop_height).to_image()
}

/// Where [`centre_crop`] cuts a `width × height` image: left, top, width, height in pixels.
pub fn centre_crop_rect(width: u32, height: u32, fraction: f32) -> (u32, u32, u32, u32) {
    let fraction = fraction.clamp(0.05, 1.0);
    let crop_width = ((width as f32 * fraction).round() as u32).clamp(1, width.max(1));
    let crop_height = ((height as f32 * fraction).round() as u32).clamp(1, height.max(1));
    (
        centre_offset(width, crop_width),
        centre_offset(height, crop_height),
        crop_width,
        crop_height,
    )
}

/// torchvision's rule: the shorter side becomes `size`, the longer `int(size · long / short)`.
pub fn shortest_side_size(width: u32, height: u32, size: u32) -> (u32, u32) {
    let (short, long) = if width <= height {
        (width, height)
    } else {
        (height, width)
    };
    let new_long = (u64::from(size) * u64::from(long) / u64::from(short.max(1))) as u32;
    if width <= height {
        (size, new_long)
    } else {
        (new_long, size)
    }
}

/// torchvision's centre crop offset: `int(round((length − crop) / 2))`, ties to even as Python.
fn centre_offset(length: u32, crop: u32) -> u32 {
    (f64::from(length.saturating_sub(crop)) / 2.0).round_ties_even() as u32
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// One output sample's window on the input and its fixed-point weights.
struct Taps {
    first: usize,
    weights: Vec<i64>,
}

/// PIL's `precompute_coeffs` + `normalize_coeffs_8bpc` for resizing `in_size` → `out_size`.
fn taps(in_size: u32, out_size: u32) -> Vec<Taps> {
    let scale = f64::from(in_size) / f64::from(out_size);
    let filter_scale = scale.max(1.0);
    let support = 2.0 * filter_scale;
    (0..out_size)
        .map(|xx| {
            let centre = (f64::from(xx) + 0.5) * scale;
            let first = ((centre - support + 0.5) as i64).max(0) as usize;
            let last = ((centre + support + 0.5) as i64).min(i64::from(in_size)) as usize;
            let raw: Vec<f64> = (first..last)
                .map(|x| bicubic((x as f64 - centre + 0.5) / filter_scale))
                .collect();
            let total: f64 = raw.iter().sum();
            let weights = raw
                .iter()
                .map(|&w| {
                    let w = if total == 0.0 { w } else { w / total };
                    let fixed = w * f64::from(1_u32 << PRECISION_BITS);
                    (if w < 0.0 { fixed - 0.5 } else { fixed + 0.5 }) as i32 as i64
                })
                .collect();
            Taps { first, weights }
        })
        .collect()
}

fn clip8(accumulator: i64) -> u8 {
    (accumulator >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes like PIL's `Image.resize(size, Image.BICUBIC)` on an RGB image, bit for bit.
pub fn resize_bicubic_pil(image: &image::RgbImage, width: u32, height: u32) -> image::RgbImage {
    let (in_width, in_height) = image.dimensions();
    let mut current = image.clone();
    if width != in_width {
        let taps = taps(in_width, width);
        let mut out = image::RgbImage::new(width, in_height);
        for y in 0..in_height {
            for (xx, tap) in taps.iter().enumerate() {
                let mut sums = [1_i64 << (PRECISION_BITS - 1); 3];
                for (i, w) in tap.weights.iter().enumerate() {
                    let pixel = current.get_pixel((tap.first + i) as u32, y);
                    for c in 0..3 {
                        sums[c] += i64::from(pixel[c]) * w;
                    }
                }
                out.put_pixel(xx as u32, y, image::Rgb(sums.map(clip8)));
            }
        }
        current = out;
    }
    if height != in_height {
        let taps = taps(in_height, height);
        let mut out = image::RgbImage::new(width, height);
        for (yy, tap) in taps.iter().enumerate() {
            for x in 0..width {
                let mut sums = [1_i64 << (PRECISION_BITS - 1); 3];
                for (i, w) in tap.weights.iter().enumerate() {
                    let pixel = current.get_pixel(x, (tap.first + i) as u32);
                    for c in 0..3 {
                        sums[c] += i64::from(pixel[c]) * w;
                    }
                }
                out.put_pixel(x, yy as u32, image::Rgb(sums.map(clip8)));
            }
        }
        current = out;
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covered_region_is_the_centre_crop_or_everything_when_squashed() {
        assert_eq!(
            Preprocess::squash_clip(224).covered_region(640, 480),
            [0.0, 0.0, 1.0, 1.0]
        );
        // 640 × 480 → 298 × 224 (shorter side), crop 224: the middle 224/298 of the width.
        let r = Preprocess::clip_224().covered_region(640, 480);
        assert_eq!((r[1], r[3]), (0.0, 1.0));
        assert!((r[2] - r[0] - 224.0 / 298.0).abs() < 1e-3, "{r:?}");
        assert!((r[0] + r[2] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn torchvision_sizes() {
        assert_eq!(shortest_side_size(320, 240, 224), (298, 224));
        assert_eq!(shortest_side_size(100, 150, 224), (224, 336));
        assert_eq!(shortest_side_size(224, 224, 224), (224, 224));
        assert_eq!(centre_offset(225, 224), 0, "round(0.5) is 0 in Python");
        assert_eq!(centre_offset(227, 224), 2, "round(1.5) is 2 in Python");
    }

    #[test]
    fn a_flat_image_stays_flat() {
        let flat = image::RgbImage::from_pixel(37, 23, image::Rgb([10, 128, 250]));
        let resized = resize_bicubic_pil(&flat, 80, 11);
        assert!(resized.pixels().all(|p| p.0 == [10, 128, 250]));
    }
}
