//! Seeded, deterministic synthetic patients for demos and tests: both eyes of each patient
//! with a colour fundus photo, an SLO/IR localizer and an OCT volume scanned on it, findings
//! drawn at known places (DR, glaucoma, AMD, or normal), written as real DICOM (OP, OPT) and
//! as PNG with JSON sidecars holding the ground truth and lesion geometry.
//!
//! Layout of an output folder:
//! - `dicom/<patient>/<patient>_<OD|OS>_{fundus,slo,oct}.dcm`
//! - `png/<patient>/<patient>_<OD|OS>_{fundus,slo,oct}.png` + `.json` sidecars (the OCT PNG
//!   is the central B-scan)
//! - `ground_truth.json`: every patient's condition, per-eye diagnoses and lesions.

pub mod anatomy;
pub mod dicom_writer;
pub mod fundus;
pub mod noise;
pub mod oct;
pub mod samples;
pub mod truth;
pub mod vol_writer;

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::path_error::AtPath;
use crate::study::{Eye, Modality};
use anatomy::{View, disc_centre_mm, grow_vessels, rasterise};
use dicom_writer::{ImageAttributes, LocalizerLink, PixelEncoding, StudyAttributes};
use oct::OctGeometry;
use truth::{Condition, EyeTruth};

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A file or folder could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A PNG could not be encoded.
    #[error("cannot write PNG {path}: {source}")]
    Png {
        /// The path.
        path: PathBuf,
        /// The encoder's error.
        source: image::ImageError,
    },
    /// DICOM encoding failed.
    #[error("DICOM: {0}")]
    Dicom(String),
    /// Something that must not be empty was.
    #[error("invalid synthetic data: {0}")]
    Empty(&'static str),
}

crate::path_error::from_path_error!(SynthError, std::io::Error => Io, image::ImageError => Png);

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Number of patients.
    pub patients: usize,
    /// Seed: the same seed gives the same files.
    pub seed: u64,
    /// DICOM pixel encoding.
    pub encoding: PixelEncoding,
    /// Whether to write the PNG copies and sidecars too.
    pub write_png: bool,
    /// Colour fundus width and height, px.
    pub fundus_px: u32,
    /// SLO width and height, px.
    pub slo_px: u32,
    /// OCT volume size.
    pub oct: OctGeometry,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            patients: 4,
            seed: 1,
            encoding: PixelEncoding::ExplicitLe,
            write_png: true,
            fundus_px: 768,
            slo_px: 512,
            oct: OctGeometry {
                ascans: 384,
                depth_px: 256,
                bscans: 25,
                scan_mm: 6.0,
                depth_mm: 1.2,
            },
        }
    }
}

/// Colour fundus field: 45° ≈ 13 mm across the circular field of view.
const FUNDUS_FIELD_MM: f64 = 13.0;
/// SLO field: 30° ≈ 8.8 mm square.
const SLO_FIELD_MM: f64 = 8.8;

/// One written image, as recorded in the ground truth.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenImage {
    /// Modality.
    pub modality: Modality,
    /// DICOM file, relative to the output folder.
    pub dicom: PathBuf,
    /// PNG file relative to the output folder, if written.
    pub png: Option<PathBuf>,
    /// SOP Instance UID.
    pub sop_instance_uid: String,
    /// Pixel size (row, column), mm.
    pub pixel_spacing_mm: (f64, f64),
}

/// One eye's truth and images.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenEye {
    /// Diagnoses and lesions.
    pub truth: EyeTruth,
    /// Report line.
    pub report: String,
    /// Images of the eye.
    pub images: Vec<WrittenImage>,
}

/// One patient.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenPatient {
    /// Patient ID.
    pub patient_id: String,
    /// Condition drawn.
    pub condition: Condition,
    /// OD then OS.
    pub eyes: Vec<WrittenEye>,
}

/// The ground truth of a generated set (`ground_truth.json`).
#[derive(Debug, Clone, Serialize)]
pub struct GroundTruth {
    /// Always true: nothing here is a real patient.
    pub synthetic: bool,
    /// Seed used.
    pub seed: u64,
    /// DICOM encoding used.
    pub encoding: PixelEncoding,
    /// Patients.
    pub patients: Vec<WrittenPatient>,
}

/// A deterministic DICOM UID under the 2.25 (UUID-derived) root.
pub fn synthetic_uid(seed: u64, parts: &[&str]) -> String {
    let mut a = seed ^ 0x6A09_E667_F3BC_C908;
    let mut b = seed.rotate_left(17) ^ 0xBB67_AE85_84CA_A73B;
    for part in parts {
        for byte in part.bytes().chain([0xFF]) {
            a = (a ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3);
            b = (b ^ u64::from(byte))
                .wrapping_mul(0x0000_0100_0000_01B3)
                .rotate_left(5);
        }
    }
    let value = (u128::from(a) << 64 | u128::from(b)) >> 1; // < 2^127: at most 39 digits
    format!("2.25.{}", value.max(1))
}

fn create_dir(path: &Path) -> Result<(), SynthError> {
    Ok(std::fs::create_dir_all(path).at_path(path)?)
}

/// Generates `config.patients` patients under `out`.
pub fn generate(out: &Path, config: &DemoConfig) -> Result<GroundTruth, SynthError> {
    generate_with_progress(out, config, &mut |_, _| {})
}

/// Like [`generate`], calling `progress(done, total)` after each patient.
pub fn generate_with_progress(
    out: &Path,
    config: &DemoConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<GroundTruth, SynthError> {
    let mut patients = Vec::with_capacity(config.patients);
    for index in 0..config.patients {
        let condition = condition_of(config.seed, index);
        patients.push(generate_patient(out, config, index, condition)?);
        progress(index + 1, config.patients);
    }
    let truth = GroundTruth {
        synthetic: true,
        seed: config.seed,
        encoding: config.encoding,
        patients,
    };
    let path = out.join("ground_truth.json");
    let json = serde_json::to_vec_pretty(&truth).map_err(|e| SynthError::Dicom(e.to_string()))?;
    std::fs::write(&path, json).at_path(&path)?;
    Ok(truth)
}

/// The condition of patient `index` in a set generated with `seed`: the four conditions in turn.
pub fn condition_of(seed: u64, index: usize) -> Condition {
    let conditions = [
        Condition::Normal,
        Condition::DiabeticRetinopathy,
        Condition::Glaucoma,
        Condition::Amd,
    ];
    conditions[(index + (seed % 4) as usize) % conditions.len()]
}

/// Patient `index`'s study attributes and both eyes' truth, and the random stream the eyes'
/// images are then drawn from — shared by the writer and by in-memory samples.
pub fn draw_patient(
    config: &DemoConfig,
    index: usize,
    condition: Condition,
) -> (StudyAttributes, [EyeTruth; 2], ChaCha8Rng) {
    let patient_seed = config
        .seed
        .wrapping_mul(1_000_003)
        .wrapping_add(index as u64);
    let mut rng = ChaCha8Rng::seed_from_u64(patient_seed);
    let patient_id = format!("SYN{:02}{:04}", config.seed % 100, index + 1);
    let study = StudyAttributes {
        patient_id: patient_id.clone(),
        patient_name: format!("SYNTHETIC^Patient {:04}", index + 1),
        birth_date: format!(
            "{}{:02}{:02}",
            rng.random_range(1940..1990),
            rng.random_range(1..13),
            rng.random_range(1..29)
        ),
        sex: if rng.random_bool(0.5) { "F" } else { "M" }.to_string(),
        study_uid: synthetic_uid(config.seed, &[&patient_id, "study"]),
        study_date: format!(
            "2026{:02}{:02}",
            rng.random_range(1..13),
            rng.random_range(1..29)
        ),
        study_time: format!(
            "{:02}{:02}00",
            rng.random_range(8..17),
            rng.random_range(0..60)
        ),
        accession: format!("ACC{:06}", index + 1),
    };
    let eyes_truth = truth::draw_eyes(&mut rng, condition);
    (study, eyes_truth, rng)
}

fn generate_patient(
    out: &Path,
    config: &DemoConfig,
    index: usize,
    condition: Condition,
) -> Result<WrittenPatient, SynthError> {
    let (study, eyes_truth, mut rng) = draw_patient(config, index, condition);
    let patient_id = study.patient_id.clone();
    let dicom_dir = out.join("dicom").join(&patient_id);
    let png_dir = out.join("png").join(&patient_id);
    create_dir(&dicom_dir)?;
    if config.write_png {
        create_dir(&png_dir)?;
    }
    let mut eyes = Vec::new();
    for (eye_index, truth) in eyes_truth.into_iter().enumerate() {
        let ctx = EyeContext {
            root: out,
            config,
            study: &study,
            dicom_dir: &dicom_dir,
            png_dir: &png_dir,
            eye_index,
        };
        eyes.push(generate_eye(&ctx, truth, &mut rng)?);
    }
    Ok(WrittenPatient {
        patient_id,
        condition,
        eyes,
    })
}

struct EyeContext<'a> {
    root: &'a Path,
    config: &'a DemoConfig,
    study: &'a StudyAttributes,
    dicom_dir: &'a Path,
    png_dir: &'a Path,
    eye_index: usize,
}

fn generate_eye(
    ctx: &EyeContext<'_>,
    truth: EyeTruth,
    rng: &mut ChaCha8Rng,
) -> Result<WrittenEye, SynthError> {
    let config = ctx.config;
    let eye_label = truth.eye.label();
    let laterality = if truth.eye == Eye::Left { "L" } else { "R" };
    let stem = format!("{}_{eye_label}", ctx.study.patient_id);
    let uid = |what: &str| synthetic_uid(config.seed, &[&ctx.study.patient_id, eye_label, what]);
    let frame_of_reference_uid = uid("frame-of-reference");
    let series_base = 10 * (ctx.eye_index as u32 + 1);
    let minute = 10 + 5 * ctx.eye_index;
    let attributes =
        |what: &str, n: u32, description: &str, spacing: f64, fov: f32| ImageAttributes {
            sop_uid: uid(&format!("{what}-instance")),
            series_uid: uid(&format!("{what}-series")),
            series_number: series_base + n,
            frame_of_reference_uid: if what == "fundus" {
                uid("fundus-frame-of-reference")
            } else {
                frame_of_reference_uid.clone()
            },
            laterality,
            description: description.to_string(),
            pixel_spacing_mm: (spacing, spacing),
            field_of_view_deg: fov,
            acquisition_time: format!("{}{minute:02}{:02}", &ctx.study.study_time[..2], 10 * n),
        };
    let mut images = Vec::new();

    let RenderedEye {
        fundus,
        fundus_view,
        slo,
        slo_view,
        bscans,
    } = render_eye(config, &truth, rng);
    let fundus_spacing = fundus_view.spacing_mm;
    let slo_spacing = slo_view.spacing_mm;
    let geometry = config.oct;
    let fundus_attrs = attributes("fundus", 1, "Colour fundus 45 deg", fundus_spacing, 45.0);
    let fundus_image = image::DynamicImage::ImageRgb8(fundus);
    images.push(write_image(
        ctx,
        &stem,
        "fundus",
        Modality::ColourFundus,
        &fundus_attrs,
        &fundus_image,
        &truth,
        Some(fundus_view),
    )?);

    let slo_attrs = attributes("slo", 2, "IR 30 deg (OCT localizer)", slo_spacing, 30.0);
    let slo_image = image::DynamicImage::ImageLuma8(slo);
    images.push(write_image(
        ctx,
        &stem,
        "slo",
        Modality::SloIr,
        &slo_attrs,
        &slo_image,
        &truth,
        Some(slo_view),
    )?);

    // OCT volume over the macula, each B-scan located on the SLO.
    let lines_row_col = (0..geometry.bscans)
        .map(|k| {
            let y = geometry.bscan_y_mm(k);
            let (c0, r0) = slo_view.to_px((-geometry.scan_mm / 2.0, y));
            let (c1, r1) = slo_view.to_px((geometry.scan_mm / 2.0, y));
            [(r0, c0), (r1, c1)]
        })
        .collect();
    let localizer = LocalizerLink {
        sop_uid: slo_attrs.sop_uid.clone(),
        lines_row_col,
    };
    let mut oct_attrs = attributes("oct", 3, "OCT macular cube 6x6 mm", 0.0, 20.0);
    oct_attrs.pixel_spacing_mm = (geometry.axial_spacing_mm(), geometry.lateral_spacing_mm());
    let dicom_path = ctx.dicom_dir.join(format!("{stem}_oct.dcm"));
    dicom_writer::write_oct_volume(
        &dicom_path,
        ctx.study,
        &oct_attrs,
        &bscans,
        geometry.bscan_spacing_mm(),
        &localizer,
        config.encoding,
    )?;
    let centre = &bscans[bscans.len() / 2];
    let png = if config.write_png {
        let path = ctx.png_dir.join(format!("{stem}_oct.png"));
        save_png(&path, &image::DynamicImage::ImageLuma8(centre.clone()))?;
        write_sidecar(
            ctx,
            &path,
            Modality::Oct,
            &truth,
            &oct_attrs,
            None,
            Some(bscans.len() / 2),
        )?;
        Some(path)
    } else {
        None
    };
    images.push(WrittenImage {
        modality: Modality::Oct,
        dicom: relative(ctx.root, &dicom_path),
        png: png.map(|p| relative(ctx.root, &p)),
        sop_instance_uid: oct_attrs.sop_uid.clone(),
        pixel_spacing_mm: oct_attrs.pixel_spacing_mm,
    });
    Ok(WrittenEye {
        report: truth.report(),
        truth,
        images,
    })
}

/// One eye's images, rendered (not written).
pub struct RenderedEye {
    /// Colour fundus photograph.
    pub fundus: image::RgbImage,
    /// Where the fundus photograph lies on the retina.
    pub fundus_view: View,
    /// SLO/IR localizer.
    pub slo: image::GrayImage,
    /// Where the SLO lies on the retina.
    pub slo_view: View,
    /// OCT B-scans, superior to inferior.
    pub bscans: Vec<image::GrayImage>,
}

/// Renders one eye's fundus photograph, SLO and OCT volume at `config`'s sizes. Draws from
/// `rng` in a fixed order, so a seed gives the same images whether they are written or used in
/// memory (the demo model's training does that, see [`samples`]).
pub fn render_eye(config: &DemoConfig, truth: &EyeTruth, rng: &mut ChaCha8Rng) -> RenderedEye {
    let texture_seed: u64 = rng.random();
    let vessels = grow_vessels(rng, truth.eye);
    // Colour fundus, centred between fovea and disc.
    let disc = disc_centre_mm(truth.eye);
    let fundus_view = View {
        width: config.fundus_px,
        height: config.fundus_px,
        centre_mm: (disc.0 * 0.35, 0.0),
        spacing_mm: FUNDUS_FIELD_MM / (f64::from(config.fundus_px) * 0.96),
    };
    let fundus_maps = rasterise(fundus_view, &vessels, truth);
    let fundus = fundus::render_fundus(&fundus_maps, truth, texture_seed, rng);
    drop(fundus_maps);
    // SLO/IR localizer centred on the fovea, sharing the OCT's frame of reference.
    let slo_view = View {
        width: config.slo_px,
        height: config.slo_px,
        centre_mm: (0.0, 0.0),
        spacing_mm: SLO_FIELD_MM / f64::from(config.slo_px),
    };
    let slo_maps = rasterise(slo_view, &vessels, truth);
    let slo = fundus::render_slo(&slo_maps, truth, texture_seed, rng);
    let bscans = oct::render_volume(config.oct, truth, &slo_maps, texture_seed, rng);
    RenderedEye {
        fundus,
        fundus_view,
        slo,
        slo_view,
        bscans,
    }
}

#[allow(clippy::too_many_arguments)]
fn write_image(
    ctx: &EyeContext<'_>,
    stem: &str,
    what: &str,
    modality: Modality,
    attrs: &ImageAttributes,
    pixels: &image::DynamicImage,
    truth: &EyeTruth,
    view: Option<View>,
) -> Result<WrittenImage, SynthError> {
    let dicom = ctx.dicom_dir.join(format!("{stem}_{what}.dcm"));
    dicom_writer::write_ophthalmic_photograph(
        &dicom,
        ctx.study,
        attrs,
        pixels,
        modality == Modality::SloIr,
        ctx.config.encoding,
    )?;
    let png = if ctx.config.write_png {
        let path = ctx.png_dir.join(format!("{stem}_{what}.png"));
        save_png(&path, pixels)?;
        write_sidecar(ctx, &path, modality, truth, attrs, view, None)?;
        Some(path)
    } else {
        None
    };
    Ok(WrittenImage {
        modality,
        dicom: relative(ctx.root, &dicom),
        png: png.map(|p| relative(ctx.root, &p)),
        sop_instance_uid: attrs.sop_uid.clone(),
        pixel_spacing_mm: attrs.pixel_spacing_mm,
    })
}

fn relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root)
        .map_or_else(|_| path.to_path_buf(), Path::to_path_buf)
}

fn save_png(path: &Path, pixels: &image::DynamicImage) -> Result<(), SynthError> {
    Ok(pixels
        .save_with_format(path, image::ImageFormat::Png)
        .at_path(path)?)
}

/// A lesion's outline on an image, in pixels (axis-aligned ellipse).
#[derive(Debug, Clone, Serialize)]
pub struct LesionMask {
    /// Lesion kind.
    pub kind: truth::LesionKind,
    /// Centre column.
    pub cx: f64,
    /// Centre row.
    pub cy: f64,
    /// Half-width, px.
    pub rx: f64,
    /// Half-height, px.
    pub ry: f64,
}

impl LesionMask {
    /// `lesion`'s outline on an image that shows the retina as `view` does.
    pub fn on(view: &View, lesion: &truth::Lesion) -> Self {
        let (cx, cy) = view.to_px((lesion.x_mm, lesion.y_mm));
        LesionMask {
            kind: lesion.kind,
            cx,
            cy,
            rx: lesion.rx_mm / view.spacing_mm,
            ry: lesion.ry_mm / view.spacing_mm,
        }
    }
}

fn write_sidecar(
    ctx: &EyeContext<'_>,
    png: &Path,
    modality: Modality,
    truth: &EyeTruth,
    attrs: &ImageAttributes,
    view: Option<View>,
    oct_frame: Option<usize>,
) -> Result<(), SynthError> {
    let masks: Vec<LesionMask> = view
        .map(|v| {
            truth
                .lesions
                .iter()
                .map(|l| LesionMask::on(&v, l))
                .collect()
        })
        .unwrap_or_default();
    let sidecar = serde_json::json!({
        "synthetic": true,
        "patient_id": ctx.study.patient_id,
        "patient_name": ctx.study.patient_name,
        "birth_date": ctx.study.birth_date,
        "sex": ctx.study.sex,
        "study_date": ctx.study.study_date,
        "study_description": "Synthetic ophthalmology study (not a real patient)",
        "eye": truth.eye,
        "modality": modality,
        "acquisition_datetime": format!("{}{}", ctx.study.study_date, attrs.acquisition_time),
        "pixel_spacing_mm": if modality == Modality::Oct { None } else { Some(attrs.pixel_spacing_mm.1) },
        "oct_frame_index": oct_frame,
        "labels": {
            "dr_grade": truth.dr_grade,
            "referable_dr": truth.grading().has("referable_dr"),
            "glaucoma": truth.glaucoma,
            "cup_to_disc_ratio": truth.cup_to_disc_ratio,
            "amd": truth.amd,
            "normal": truth.grading().is_normal(),
            "report": truth.report(),
        },
        "lesion_masks_px": masks,
        "lesions_mm": truth.lesions,
    });
    let path = png.with_extension("json");
    let json = serde_json::to_vec_pretty(&sidecar).map_err(|e| SynthError::Dicom(e.to_string()))?;
    Ok(std::fs::write(&path, json).at_path(&path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_uids_are_valid_and_distinct() {
        let a = synthetic_uid(1, &["P1", "OD", "fundus"]);
        let b = synthetic_uid(1, &["P1", "OS", "fundus"]);
        let c = synthetic_uid(2, &["P1", "OD", "fundus"]);
        for uid in [&a, &b, &c] {
            assert!(uid.len() <= 64, "{uid}");
            assert!(uid.starts_with("2.25."));
            let digits = &uid[5..];
            assert!(
                digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0'),
                "{uid}"
            );
        }
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, synthetic_uid(1, &["P1", "OD", "fundus"]));
    }
}
