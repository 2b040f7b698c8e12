//! Ground truth of a synthetic patient: diagnoses per eye and the lesions drawn, in retinal
//! millimetres (origin at the fovea, x to the image right, y down, as seen on a fundus photo).

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::study::Eye;
use crate::study::grading::EyeGrading;
pub use crate::study::grading::{AmdStage, DrGrade};

/// What a lesion is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LesionKind {
    /// Tiny red dot (DR).
    Microaneurysm,
    /// Dot/blot haemorrhage (DR).
    Haemorrhage,
    /// Yellow lipid deposit (DR, macular oedema).
    HardExudate,
    /// Fluffy white nerve-fibre infarct (severe DR).
    CottonWoolSpot,
    /// Tuft of new vessels near the disc (proliferative DR).
    Neovascularisation,
    /// Yellow sub-RPE deposit (AMD).
    Drusen,
    /// Sharply bounded atrophy of RPE (late dry AMD).
    GeographicAtrophy,
    /// Intraretinal fluid cyst (macular oedema; seen on OCT).
    IntraretinalFluid,
    /// Subretinal fluid (seen on OCT).
    SubretinalFluid,
}

/// A lesion as an axis-aligned ellipse on the retina.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Lesion {
    /// What it is.
    pub kind: LesionKind,
    /// Centre, mm right of the fovea.
    pub x_mm: f64,
    /// Centre, mm below the fovea.
    pub y_mm: f64,
    /// Half-width in mm.
    pub rx_mm: f64,
    /// Half-height in mm.
    pub ry_mm: f64,
}

impl Lesion {
    /// Whether a retinal point lies inside the lesion.
    pub fn contains(&self, x_mm: f64, y_mm: f64) -> bool {
        self.coverage(x_mm, y_mm) > 0.0
    }

    /// Normalised elliptic distance: 0 at the centre, 1 on the border.
    pub fn distance(&self, x_mm: f64, y_mm: f64) -> f64 {
        let dx = (x_mm - self.x_mm) / self.rx_mm;
        let dy = (y_mm - self.y_mm) / self.ry_mm;
        (dx * dx + dy * dy).sqrt()
    }

    /// 1 inside, 0 outside, with a soft rim of 15 % of the radius.
    pub fn coverage(&self, x_mm: f64, y_mm: f64) -> f64 {
        let d = self.distance(x_mm, y_mm);
        ((1.0 - d) / 0.15).clamp(0.0, 1.0)
    }
}

/// The ground truth of one eye.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EyeTruth {
    /// Which eye.
    pub eye: Eye,
    /// DR grade.
    pub dr_grade: DrGrade,
    /// Glaucomatous optic neuropathy (enlarged cup).
    pub glaucoma: bool,
    /// Vertical cup-to-disc ratio drawn.
    pub cup_to_disc_ratio: f64,
    /// AMD stage.
    pub amd: AmdStage,
    /// Every lesion drawn, in retinal mm.
    pub lesions: Vec<Lesion>,
}

impl EyeTruth {
    /// The eye's grades (what labels and the demo model's findings are defined on).
    pub fn grading(&self) -> EyeGrading {
        EyeGrading {
            eye: self.eye,
            dr_grade: self.dr_grade,
            glaucoma: self.glaucoma,
            amd: self.amd,
        }
    }

    /// One line a report would hold, e.g. "moderate non-proliferative diabetic retinopathy".
    pub fn report(&self) -> String {
        let mut parts = Vec::new();
        match self.dr_grade {
            DrGrade::None => {}
            DrGrade::Mild => parts.push("mild non-proliferative diabetic retinopathy".to_string()),
            DrGrade::Moderate => parts.push(
                "moderate non-proliferative diabetic retinopathy with hard exudates".to_string(),
            ),
            DrGrade::Severe => {
                parts.push("severe non-proliferative diabetic retinopathy".to_string())
            }
            DrGrade::Proliferative => parts.push("proliferative diabetic retinopathy".to_string()),
        }
        if self.glaucoma {
            parts.push(format!(
                "glaucomatous cupping, cup-to-disc ratio {:.1}",
                self.cup_to_disc_ratio
            ));
        }
        match self.amd {
            AmdStage::None => {}
            AmdStage::Drusen => parts.push("drusen at the macula (early AMD)".to_string()),
            AmdStage::GeographicAtrophy => {
                parts.push("geographic atrophy (late dry AMD)".to_string())
            }
        }
        if parts.is_empty() {
            "normal fundus".to_string()
        } else {
            parts.join("; ")
        }
    }
}

/// The patient-level condition a synthetic patient is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Both eyes normal.
    Normal,
    /// Diabetic retinopathy (both eyes, graded separately).
    DiabeticRetinopathy,
    /// Glaucoma (one or both eyes).
    Glaucoma,
    /// AMD (one or both eyes).
    Amd,
}

/// Draws both eyes' truth for a patient of `condition`.
pub fn draw_eyes(rng: &mut impl Rng, condition: Condition) -> [EyeTruth; 2] {
    let both = rng.random_bool(0.6);
    let first_affected = if rng.random_bool(0.5) {
        Eye::Right
    } else {
        Eye::Left
    };
    [Eye::Right, Eye::Left].map(|eye| {
        let affected = both || eye == first_affected;
        let mut truth = EyeTruth {
            eye,
            dr_grade: DrGrade::None,
            glaucoma: false,
            cup_to_disc_ratio: rng.random_range(0.2..0.4),
            amd: AmdStage::None,
            lesions: Vec::new(),
        };
        match condition {
            Condition::Normal => {}
            Condition::DiabeticRetinopathy => {
                // DR is bilateral; grades differ a little between eyes.
                truth.dr_grade = match rng.random_range(0..10) {
                    0..=2 => DrGrade::Mild,
                    3..=5 => DrGrade::Moderate,
                    6..=7 => DrGrade::Severe,
                    _ => DrGrade::Proliferative,
                };
            }
            Condition::Glaucoma if affected => {
                truth.glaucoma = true;
                truth.cup_to_disc_ratio = rng.random_range(0.7..0.9);
            }
            Condition::Amd if affected => {
                truth.amd = if rng.random_bool(0.4) {
                    AmdStage::GeographicAtrophy
                } else {
                    AmdStage::Drusen
                };
            }
            Condition::Glaucoma | Condition::Amd => {}
        }
        truth.lesions = draw_lesions(rng, &truth);
        truth
    })
}

fn scatter(rng: &mut impl Rng, radius_mm: f64, centre: (f64, f64)) -> (f64, f64) {
    let r = radius_mm * rng.random::<f64>().sqrt();
    let a = rng.random_range(0.0..std::f64::consts::TAU);
    (centre.0 + r * a.cos(), centre.1 + r * a.sin())
}

fn push_round(lesions: &mut Vec<Lesion>, kind: LesionKind, (x_mm, y_mm): (f64, f64), r_mm: f64) {
    lesions.push(Lesion {
        kind,
        x_mm,
        y_mm,
        rx_mm: r_mm,
        ry_mm: r_mm,
    });
}

/// Lesions for an eye's diagnoses, placed where they occur clinically.
fn draw_lesions(rng: &mut impl Rng, truth: &EyeTruth) -> Vec<Lesion> {
    let mut lesions = Vec::new();
    let disc = super::anatomy::disc_centre_mm(truth.eye);
    let dr = truth.dr_grade;
    if dr >= DrGrade::Mild {
        let count = match dr {
            DrGrade::Mild => rng.random_range(3..7),
            DrGrade::Moderate => rng.random_range(8..15),
            _ => rng.random_range(15..25),
        };
        for _ in 0..count {
            let at = scatter(rng, 3.5, (0.0, 0.0));
            push_round(
                &mut lesions,
                LesionKind::Microaneurysm,
                at,
                rng.random_range(0.035..0.06),
            );
        }
    }
    if dr >= DrGrade::Moderate {
        let haemorrhages = if dr == DrGrade::Moderate {
            rng.random_range(3..7)
        } else {
            rng.random_range(10..18)
        };
        for _ in 0..haemorrhages {
            let at = scatter(rng, 4.5, (disc.0 * 0.3, 0.0));
            push_round(
                &mut lesions,
                LesionKind::Haemorrhage,
                at,
                rng.random_range(0.08..0.22),
            );
        }
        let centre = scatter(rng, 1.2, (0.0, 0.0));
        for _ in 0..rng.random_range(6..14) {
            let at = scatter(rng, 0.7, centre);
            push_round(
                &mut lesions,
                LesionKind::HardExudate,
                at,
                rng.random_range(0.04..0.1),
            );
        }
        for _ in 0..rng.random_range(1..4) {
            let at = scatter(rng, 0.5, centre);
            lesions.push(Lesion {
                kind: LesionKind::IntraretinalFluid,
                x_mm: at.0,
                y_mm: at.1,
                rx_mm: rng.random_range(0.15..0.35),
                ry_mm: rng.random_range(0.15..0.35),
            });
        }
    }
    if dr >= DrGrade::Severe {
        for _ in 0..rng.random_range(2..5) {
            let at = scatter(rng, 3.0, (disc.0 * 0.4, 0.0));
            push_round(
                &mut lesions,
                LesionKind::CottonWoolSpot,
                at,
                rng.random_range(0.15..0.3),
            );
        }
    }
    if dr == DrGrade::Proliferative {
        let at = scatter(rng, 0.6, disc);
        push_round(
            &mut lesions,
            LesionKind::Neovascularisation,
            at,
            rng.random_range(0.45..0.7),
        );
    }
    if truth.amd >= AmdStage::Drusen {
        for _ in 0..rng.random_range(12..30) {
            let at = scatter(rng, 1.4, (0.0, 0.0));
            push_round(
                &mut lesions,
                LesionKind::Drusen,
                at,
                rng.random_range(0.05..0.14),
            );
        }
    }
    if truth.amd == AmdStage::GeographicAtrophy {
        let at = scatter(rng, 0.5, (0.0, 0.0));
        lesions.push(Lesion {
            kind: LesionKind::GeographicAtrophy,
            x_mm: at.0,
            y_mm: at.1,
            rx_mm: rng.random_range(0.6..1.1),
            ry_mm: rng.random_range(0.5..0.9),
        });
    }
    if truth.amd == AmdStage::Drusen && rng.random_bool(0.3) {
        let at = scatter(rng, 0.4, (0.0, 0.0));
        push_round(
            &mut lesions,
            LesionKind::SubretinalFluid,
            at,
            rng.random_range(0.3..0.6),
        );
    }
    lesions
}
