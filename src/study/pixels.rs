//! Pixel decoding: a DICOM file (any transfer syntax dicom-pixeldata decodes) or a plain image
//! → [`DecodedImage`], faithful stored sample values plus the colour model to display them.
//!
//! YBR colour is converted to RGB (as every viewer and pydicom do); MONOCHROME1 and palette
//! colour are kept as stored and applied by [`DecodedImage::frame_to_rgb8`] for display.

use std::path::Path;

use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use dicom_pixeldata::{PixelDecoder, PixelRepresentation, PlanarConfiguration};

use super::attributes::{floats, text};
use super::error::{StudyError, error_chain};
use super::jpeg;
use super::model::{ImageRecord, ImageSource};
use crate::path_error::AtPath;

/// Stored sample values, frame-major, pixels interleaved (`RGBRGB…` for colour).
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    /// 8-bit unsigned samples.
    U8(Vec<u8>),
    /// 16-bit unsigned samples.
    U16(Vec<u16>),
    /// 16-bit (or sign-extended narrower) signed samples.
    I16(Vec<i16>),
}

impl Samples {
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Samples::U8(v) => v.len(),
            Samples::U16(v) => v.len(),
            Samples::I16(v) => v.len(),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `i` as `f64`.
    pub fn get_f64(&self, i: usize) -> Option<f64> {
        match self {
            Samples::U8(v) => v.get(i).map(|&x| f64::from(x)),
            Samples::U16(v) => v.get(i).map(|&x| f64::from(x)),
            Samples::I16(v) => v.get(i).map(|&x| f64::from(x)),
        }
    }
}

/// A palette colour lookup table (PALETTE COLOR images).
#[derive(Debug, Clone, PartialEq)]
pub struct PaletteLut {
    /// First stored value mapped by the table.
    pub first_mapped: i64,
    /// Red entries, scaled to 16 bits.
    pub red: Vec<u16>,
    /// Green entries, scaled to 16 bits.
    pub green: Vec<u16>,
    /// Blue entries, scaled to 16 bits.
    pub blue: Vec<u16>,
}

/// How samples map to colour on screen.
#[derive(Debug, Clone, PartialEq)]
pub enum ColourModel {
    /// Grey, low values dark.
    Monochrome2,
    /// Grey, low values bright (shown inverted).
    Monochrome1,
    /// Red, green, blue.
    Rgb,
    /// One index per pixel into a colour table.
    Palette(Box<PaletteLut>),
}

/// A decoded image: every frame's samples in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedImage {
    /// Width in pixels.
    pub columns: u32,
    /// Height in pixels.
    pub rows: u32,
    /// Number of frames.
    pub frames: u32,
    /// Samples per pixel after decoding: 1 or 3.
    pub channels: u8,
    /// Significant bits per sample.
    pub bits_stored: u16,
    /// How to show the samples.
    pub colour: ColourModel,
    /// The samples.
    pub samples: Samples,
    /// Per frame, the device's layer boundaries where the file carries them (Heidelberg
    /// `.vol`); empty otherwise.
    pub vendor_layers: Vec<Vec<LayerBoundary>>,
}

/// One vendor layer boundary across a B-scan: a row position per column (A-scan), `None`
/// where the device found none.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerBoundary {
    /// The vendor's name (ILM, BM, RNFL, …).
    pub name: String,
    /// Row (from the top, sub-pixel) per column.
    pub rows: Vec<Option<f32>>,
}

impl DecodedImage {
    /// Samples in one frame.
    pub fn samples_per_frame(&self) -> usize {
        self.columns as usize * self.rows as usize * usize::from(self.channels)
    }

    /// Renders one frame as 8-bit RGB for display: grey scaled min–max over the frame (8-bit
    /// grey shown as stored), MONOCHROME1 inverted, palette looked up.
    pub fn frame_to_rgb8(&self, frame: u32) -> Option<image::RgbImage> {
        let values = self.frame_values(frame)?;
        let pixels = self.columns as usize * self.rows as usize;
        let mut out = Vec::with_capacity(pixels * 3);
        match &self.colour {
            ColourModel::Palette(lut) => {
                for &v in &values {
                    let idx =
                        (v as i64 - lut.first_mapped).clamp(0, lut.red.len() as i64 - 1) as usize;
                    for table in [&lut.red, &lut.green, &lut.blue] {
                        out.push((table.get(idx).copied().unwrap_or(0) >> 8) as u8);
                    }
                }
            }
            ColourModel::Rgb => {
                let shift = self.bits_stored.saturating_sub(8);
                let max = f64::from((1_u32 << self.bits_stored.min(16)) - 1);
                for &v in &values {
                    out.push(if matches!(self.samples, Samples::U8(_)) {
                        v as u8
                    } else {
                        ((v.clamp(0.0, max)) as u32 >> shift) as u8
                    });
                }
            }
            ColourModel::Monochrome1 | ColourModel::Monochrome2 => {
                let invert = self.colour == ColourModel::Monochrome1;
                for g in self.unit_grey(&values) {
                    let mut g = (g * 255.0).round().clamp(0.0, 255.0) as u8;
                    if invert {
                        g = 255 - g;
                    }
                    out.extend_from_slice(&[g, g, g]);
                }
            }
        }
        image::RgbImage::from_raw(self.columns, self.rows, out)
    }

    /// Stored grey values scaled to [0, 1] at full precision (before any MONOCHROME1
    /// inversion): 8-bit grey as stored, wider grey min–max over the frame.
    fn unit_grey(&self, values: &[f64]) -> Vec<f64> {
        let (lo, hi) = if matches!(self.samples, Samples::U8(_)) {
            (0.0, f64::from((1_u16 << self.bits_stored.clamp(1, 8)) - 1))
        } else {
            values
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)))
        };
        let range = (hi - lo).max(1.0);
        values
            .iter()
            .map(|&v| ((v - lo) / range).clamp(0.0, 1.0))
            .collect()
    }

    /// One frame of a grey image wider than 8 bits as values in [0, 1] at full precision, for
    /// a display that windows the stored values rather than their 8-bit rendering; `None` for
    /// colour, palette and 8-bit images (their 8-bit rendering is exact).
    pub fn frame_to_unit_grey(&self, frame: u32) -> Option<Vec<f32>> {
        let grey = matches!(
            self.colour,
            ColourModel::Monochrome1 | ColourModel::Monochrome2
        );
        if !grey || matches!(self.samples, Samples::U8(_)) {
            return None;
        }
        let values = self.frame_values(frame)?;
        let invert = self.colour == ColourModel::Monochrome1;
        Some(
            self.unit_grey(&values)
                .into_iter()
                .map(|g| if invert { 1.0 - g as f32 } else { g as f32 })
                .collect(),
        )
    }

    /// The samples of one frame; `None` past the last frame or when samples are missing.
    fn frame_values(&self, frame: u32) -> Option<Vec<f64>> {
        if frame >= self.frames {
            return None;
        }
        let n = self.samples_per_frame();
        let start = frame as usize * n;
        let values: Vec<f64> = (start..start + n)
            .filter_map(|i| self.samples.get_f64(i))
            .collect();
        (values.len() == n).then_some(values)
    }
}

/// Decodes every frame of an image found by the scan.
pub fn decode_image(record: &ImageRecord) -> Result<DecodedImage, StudyError> {
    match &record.source {
        ImageSource::Dicom { path, .. } => decode_dicom_file(path),
        ImageSource::Plain { path } => decode_plain_file(path),
        ImageSource::HeidelbergVol { file, part, .. } => decode_vol_file(file, *part),
    }
}

/// Decodes one part of a Heidelberg `.vol` file: the SLO as stored (8-bit grey), or the
/// B-scans through the vendor's display transform (the fourth root, 16 bits; see
/// [`super::heidelberg_vol`]) with their layer boundaries.
pub fn decode_vol_file(
    path: &Path,
    part: super::model::VolPart,
) -> Result<DecodedImage, StudyError> {
    use super::heidelberg_vol::{LAYER_NAMES, display_u16, read};
    let vol = read(path)?;
    let h = &vol.header;
    Ok(match part {
        super::model::VolPart::Slo => DecodedImage {
            columns: h.slo_width as u32,
            rows: h.slo_height as u32,
            frames: 1,
            channels: 1,
            bits_stored: 8,
            colour: ColourModel::Monochrome2,
            samples: Samples::U8(vol.slo),
            vendor_layers: Vec::new(),
        },
        super::model::VolPart::Bscans => DecodedImage {
            columns: h.size_x as u32,
            rows: h.size_z as u32,
            frames: vol.bscans.len() as u32,
            channels: 1,
            bits_stored: 16,
            colour: ColourModel::Monochrome2,
            samples: Samples::U16(
                vol.bscans
                    .iter()
                    .flat_map(|b| b.values.iter().map(|v| display_u16(*v)))
                    .collect(),
            ),
            vendor_layers: vol
                .bscans
                .into_iter()
                .map(|b| {
                    b.layers
                        .into_iter()
                        .enumerate()
                        .map(|(k, rows)| LayerBoundary {
                            name: LAYER_NAMES
                                .get(k)
                                .map_or_else(|| format!("layer {k}"), |n| (*n).to_string()),
                            rows,
                        })
                        .collect()
                })
                .collect(),
        },
    })
}

/// Decodes every frame of a DICOM file.
pub fn decode_dicom_file(path: &Path) -> Result<DecodedImage, StudyError> {
    let (obj, _) = super::dicom_meta::open_dicom(path, None)?;
    let fail = |message: String| StudyError::PixelDecode {
        path: path.to_path_buf(),
        message,
    };
    if obj.get(tags::PIXEL_DATA).is_none() {
        return Err(StudyError::MissingAttribute {
            path: path.to_path_buf(),
            name: "PixelData",
            tag: "(7FE0,0010)".into(),
        });
    }
    let transfer_syntax = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    let stored_photometric = text(&obj, tags::PHOTOMETRIC_INTERPRETATION).unwrap_or_default();
    if jpeg::is_jpeg_family(&transfer_syntax) {
        jpeg::check_frames_complete(&obj, super::attributes::frame_count(&obj)).map_err(fail)?;
    }
    // The decoders allocate what each frame's stream declares: refuse more than the data set's.
    super::frame_size::check_declared_sizes(&obj).map_err(fail)?;
    // A decoder of dicom-rs's may panic on damaged data (its RLE decoder indexes out of bounds
    // on some: found by fuzzing); that is a damaged file, not a crash of the viewer.
    let decoded =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| obj.decode_pixel_data()))
            .map_err(|_| fail("the pixel decoder failed on damaged data".to_string()))?
            .map_err(|e| fail(error_chain(&e)))?;
    let columns = decoded.columns();
    let rows = decoded.rows();
    let frames = decoded.number_of_frames().max(1);
    let spp = decoded.samples_per_pixel();
    if spp != 1 && spp != 3 {
        return Err(fail(format!(
            "{spp} samples per pixel is not supported (1 or 3 are)"
        )));
    }
    let bits_allocated = decoded.bits_allocated();
    let bits_stored = decoded.bits_stored();
    let signed = decoded.pixel_representation() == PixelRepresentation::Signed;
    let pixels = columns as usize * rows as usize;
    // Encapsulated codecs (JPEG, JPEG-LS, J2K) convert YBR to RGB; RLE and native data do not.
    let decoded_pi = decoded.photometric_interpretation().as_str().to_string();
    let codec_converted_colour = spp == 3
        && decoded_pi == "RGB"
        && is_encapsulated(&transfer_syntax)
        && !is_rle(&transfer_syntax);
    let photometric = if codec_converted_colour {
        "RGB".to_string()
    } else {
        stored_photometric.clone()
    };
    let ybr_422_packed = photometric == "YBR_FULL_422" && !is_encapsulated(&transfer_syntax);
    let frame_bytes = if ybr_422_packed {
        pixels * 2
    } else {
        pixels * usize::from(spp) * usize::from(bits_allocated.div_ceil(8).max(1))
    };
    // JPEG whose DICOM Photometric Interpretation says RGB was stored without a colour
    // transform (PS3.5 8.2.1); the JPEG decoder alone would assume YCbCr.
    let untransformed_jpeg =
        if spp == 3 && stored_photometric == "RGB" && jpeg::is_dct_jpeg(&transfer_syntax) {
            jpeg::decode_without_colour_transform(&obj, frames).map_err(fail)?
        } else {
            None
        };
    let data = untransformed_jpeg
        .as_deref()
        .unwrap_or_else(|| decoded.data());
    let needed = frame_bytes * frames as usize;
    if data.len() < needed {
        return Err(fail(format!(
            "pixel data holds {} bytes, {needed} expected for {frames} frame(s) of {columns}x{rows}x{spp} at {bits_allocated} bits",
            data.len()
        )));
    }
    let data = &data[..needed];
    let mut samples = match (bits_allocated, signed) {
        // dicom-pixeldata expands 1-bit pixels to 0/255; keep the stored 0/1 values.
        (1, false) => Samples::U8(data.iter().map(|&b| u8::from(b != 0)).collect()),
        (8, false) => Samples::U8(data.to_vec()),
        (8, true) => Samples::I16(data.iter().map(|&b| i16::from(b as i8)).collect()),
        (16, false) => Samples::U16(
            data.chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect(),
        ),
        (16, true) => {
            let extend = 16 - bits_stored.min(16);
            Samples::I16(
                data.chunks_exact(2)
                    .map(|c| (i16::from_le_bytes([c[0], c[1]]) << extend) >> extend)
                    .collect(),
            )
        }
        (other, _) => {
            return Err(fail(format!(
                "BitsAllocated {other} is not supported (1, 8 or 16 are)"
            )));
        }
    };
    if spp == 3
        && decoded.planar_configuration() == PlanarConfiguration::PixelFirst
        && !codec_converted_colour
    {
        samples = interleave_planes(samples, pixels, frames as usize);
    }
    let colour = match photometric.as_str() {
        "MONOCHROME1" => ColourModel::Monochrome1,
        "PALETTE COLOR" => ColourModel::Palette(Box::new(palette(&obj).map_err(fail)?)),
        "YBR_FULL" | "YBR_FULL_422" if spp == 3 => {
            samples = if ybr_422_packed {
                unpack_ybr_422(&samples, pixels, frames as usize)
            } else {
                samples
            };
            ybr_full_to_rgb(&mut samples);
            ColourModel::Rgb
        }
        _ if spp == 3 => ColourModel::Rgb,
        _ => ColourModel::Monochrome2,
    };
    Ok(DecodedImage {
        columns,
        rows,
        frames,
        channels: spp as u8,
        bits_stored: if bits_allocated == 1 { 1 } else { bits_stored },
        colour,
        samples,
        vendor_layers: Vec::new(),
    })
}

fn is_rle(ts: &str) -> bool {
    ts == uids::RLE_LOSSLESS
}

/// Whether pixel data of `ts` is encapsulated (fragments) rather than native.
#[allow(deprecated)] // Explicit VR Big Endian is retired, but old files still carry it
fn is_encapsulated(ts: &str) -> bool {
    !matches!(
        ts,
        uids::IMPLICIT_VR_LITTLE_ENDIAN
            | uids::EXPLICIT_VR_LITTLE_ENDIAN
            | uids::EXPLICIT_VR_BIG_ENDIAN
            | uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
    )
}

fn interleave_planes(samples: Samples, pixels: usize, frames: usize) -> Samples {
    fn go<T: Copy>(v: &[T], pixels: usize, frames: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(v.len());
        for f in 0..frames {
            let frame = &v[f * pixels * 3..(f + 1) * pixels * 3];
            for p in 0..pixels {
                out.extend_from_slice(&[frame[p], frame[pixels + p], frame[2 * pixels + p]]);
            }
        }
        out
    }
    match samples {
        Samples::U8(v) => Samples::U8(go(&v, pixels, frames)),
        Samples::U16(v) => Samples::U16(go(&v, pixels, frames)),
        Samples::I16(v) => Samples::I16(go(&v, pixels, frames)),
    }
}

/// Native YBR_FULL_422 stores `Y1 Y2 Cb Cr` for each pair of pixels.
fn unpack_ybr_422(samples: &Samples, pixels: usize, frames: usize) -> Samples {
    let Samples::U8(v) = samples else {
        return samples.clone();
    };
    let mut out = Vec::with_capacity(pixels * frames * 3);
    for quad in v.chunks_exact(4) {
        out.extend_from_slice(&[quad[0], quad[2], quad[3], quad[1], quad[2], quad[3]]);
    }
    Samples::U8(out)
}

/// ITU-R BT.601 full-range YCbCr → RGB (PS3.3 C.7.6.3.1.2), 8-bit.
fn ybr_full_to_rgb(samples: &mut Samples) {
    let Samples::U8(v) = samples else { return };
    for px in v.chunks_exact_mut(3) {
        let y = f64::from(px[0]);
        let cb = f64::from(px[1]) - 128.0;
        let cr = f64::from(px[2]) - 128.0;
        let r = y + 1.402 * cr;
        let g = y - 0.344_136 * cb - 0.714_136 * cr;
        let b = y + 1.772 * cb;
        px[0] = r.round().clamp(0.0, 255.0) as u8;
        px[1] = g.round().clamp(0.0, 255.0) as u8;
        px[2] = b.round().clamp(0.0, 255.0) as u8;
    }
}

fn palette(obj: &InMemDicomObject) -> Result<PaletteLut, String> {
    let descriptor = floats(obj, tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR).ok_or(
        "PALETTE COLOR image without Red Palette Color Lookup Table Descriptor (0028,1101)",
    )?;
    let entries = match descriptor.first().copied().unwrap_or(0.0) as usize {
        0 => 65536,
        n => n,
    };
    let first_mapped = descriptor.get(1).copied().unwrap_or(0.0) as i64;
    let bits = descriptor.get(2).copied().unwrap_or(16.0) as u32;
    let table = |tag| -> Result<Vec<u16>, String> {
        let element = obj
            .get(tag)
            .ok_or("palette colour image without its lookup table data")?;
        let bytes = element.to_bytes().map_err(|e| e.to_string())?;
        let raw: Vec<u16> = if bits == 8 && bytes.len() < entries * 2 {
            bytes.iter().map(|&b| u16::from(b) << 8).collect()
        } else {
            bytes
                .chunks_exact(2)
                .map(|c| {
                    let v = u16::from_le_bytes([c[0], c[1]]);
                    if bits == 8 { v << 8 } else { v }
                })
                .collect()
        };
        Ok(raw.into_iter().take(entries).collect())
    };
    let lut = PaletteLut {
        first_mapped,
        red: table(tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA)?,
        green: table(tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA)?,
        blue: table(tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA)?,
    };
    if lut.red.is_empty() || lut.green.is_empty() || lut.blue.is_empty() {
        return Err("palette colour lookup table data is empty".into());
    }
    Ok(lut)
}

/// A plain image's pixels as the image crate decodes them, once its size is within
/// [`super::plain::MAX_PLAIN_MEGAPIXELS`]. A decoder of the image crate may panic on damaged
/// data (zune-jpeg on a JPEG-compressed TIFF strip: found by fuzzing); that is a damaged file,
/// not a crash of the viewer.
pub fn decode_plain_pixels(path: &Path) -> Result<image::DynamicImage, StudyError> {
    let decoder = image::ImageReader::open(path)
        .at_path(path)?
        .with_guessed_format()
        .at_path(path)?
        .into_decoder()
        .at_path(path)?;
    let (columns, rows) = image::ImageDecoder::dimensions(&decoder);
    super::plain::check_plain_size(path, columns, rows)?;
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        image::DynamicImage::from_decoder(decoder)
    }))
    .map_err(|_| StudyError::PixelDecode {
        path: path.to_path_buf(),
        message: "the image decoder failed on damaged data".to_string(),
    })?;
    Ok(decoded.at_path(path)?)
}

/// Decodes a plain image: grey stays grey (8 or 16 bit), everything else becomes RGB.
pub fn decode_plain_file(path: &Path) -> Result<DecodedImage, StudyError> {
    let img = decode_plain_pixels(path)?;
    let (columns, rows) = (img.width(), img.height());
    let (channels, bits_stored, colour, samples) = match img {
        image::DynamicImage::ImageLuma8(g) => {
            (1, 8, ColourModel::Monochrome2, Samples::U8(g.into_raw()))
        }
        image::DynamicImage::ImageLuma16(g) => {
            (1, 16, ColourModel::Monochrome2, Samples::U16(g.into_raw()))
        }
        image::DynamicImage::ImageLumaA8(_) => (
            1,
            8,
            ColourModel::Monochrome2,
            Samples::U8(img.to_luma8().into_raw()),
        ),
        other if other.color().bytes_per_pixel() / other.color().channel_count() >= 2 => (
            3,
            16,
            ColourModel::Rgb,
            Samples::U16(other.to_rgb16().into_raw()),
        ),
        other => (
            3,
            8,
            ColourModel::Rgb,
            Samples::U8(other.to_rgb8().into_raw()),
        ),
    };
    Ok(DecodedImage {
        columns,
        rows,
        frames: 1,
        channels,
        bits_stored,
        colour,
        samples,
        vendor_layers: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(samples: Samples, bits_stored: u16, colour: ColourModel) -> DecodedImage {
        DecodedImage {
            columns: 3,
            rows: 1,
            frames: 1,
            channels: 1,
            bits_stored,
            colour,
            samples,
            vendor_layers: Vec::new(),
        }
    }

    #[test]
    fn wide_grey_keeps_its_precision_for_windowing_and_8_bit_grey_needs_none() {
        // Three 12-bit values one step apart: one 8-bit level, three distinct unit values.
        let wide = grey(
            Samples::U16(vec![2048, 2049, 4095]),
            12,
            ColourModel::Monochrome2,
        );
        let unit = wide.frame_to_unit_grey(0).expect("wide grey");
        assert!(unit[1] > unit[0] && unit[2] == 1.0, "{unit:?}");
        let rgb = reds(&wide);
        assert_eq!(rgb[0], rgb[1], "the 8-bit rendering merges them");
        let inverted = grey(Samples::U16(vec![0, 1, 4095]), 12, ColourModel::Monochrome1);
        assert_eq!(inverted.frame_to_unit_grey(0).expect("wide grey")[2], 0.0);
        let narrow = grey(Samples::U8(vec![0, 1, 255]), 8, ColourModel::Monochrome2);
        assert!(narrow.frame_to_unit_grey(0).is_none());
    }

    fn reds(image: &DecodedImage) -> Vec<u8> {
        image
            .frame_to_rgb8(0)
            .expect("frame 0")
            .pixels()
            .map(|p| p[0])
            .collect()
    }

    #[test]
    fn eight_bit_grey_is_shown_as_stored_and_monochrome1_inverted() {
        assert_eq!(
            reds(&grey(
                Samples::U8(vec![0, 100, 255]),
                8,
                ColourModel::Monochrome2
            )),
            vec![0, 100, 255]
        );
        assert_eq!(
            reds(&grey(
                Samples::U8(vec![0, 100, 255]),
                8,
                ColourModel::Monochrome1
            )),
            vec![255, 155, 0]
        );
    }

    #[test]
    fn sixteen_bit_and_signed_grey_are_stretched_over_the_frame() {
        assert_eq!(
            reds(&grey(
                Samples::U16(vec![1000, 1500, 2000]),
                12,
                ColourModel::Monochrome2
            )),
            vec![0, 128, 255]
        );
        assert_eq!(
            reds(&grey(
                Samples::I16(vec![-1024, 0, 1024]),
                16,
                ColourModel::Monochrome2
            )),
            vec![0, 128, 255]
        );
    }

    #[test]
    fn one_bit_pixels_are_black_and_white() {
        assert_eq!(
            reds(&grey(
                Samples::U8(vec![0, 1, 0]),
                1,
                ColourModel::Monochrome2
            )),
            vec![0, 255, 0]
        );
    }

    #[test]
    fn palette_indices_are_looked_up_from_the_first_mapped_value() {
        let lut = PaletteLut {
            first_mapped: 10,
            red: vec![0xFF00, 0x0000, 0x8000],
            green: vec![0x0000, 0xFF00, 0x8000],
            blue: vec![0x0000, 0x0000, 0x8000],
        };
        let image = grey(
            Samples::U8(vec![10, 11, 12]),
            8,
            ColourModel::Palette(Box::new(lut)),
        );
        let rgb: Vec<[u8; 3]> = image
            .frame_to_rgb8(0)
            .expect("frame")
            .pixels()
            .map(|p| p.0)
            .collect();
        assert_eq!(rgb, vec![[255, 0, 0], [0, 255, 0], [128, 128, 128]]);
    }

    #[test]
    fn a_frame_past_the_end_is_none() {
        assert!(
            grey(Samples::U8(vec![1, 2, 3]), 8, ColourModel::Monochrome2)
                .frame_to_rgb8(1)
                .is_none()
        );
    }

    #[test]
    fn full_range_ycbcr_converts_to_rgb() {
        let mut samples = Samples::U8(vec![128, 128, 128, 76, 85, 255, 255, 128, 128]);
        ybr_full_to_rgb(&mut samples);
        let Samples::U8(v) = samples else {
            unreachable!()
        };
        assert_eq!(&v[0..3], &[128, 128, 128], "grey stays grey");
        assert!(
            v[3] > 250 && v[4] < 5 && v[5] < 5,
            "pure red: {:?}",
            &v[3..6]
        );
        assert_eq!(&v[6..9], &[255, 255, 255]);
    }
}
