//! Clinical grades of an eye and the finding ids they define: the international DR scale, AMD
//! stages, glaucomatous cupping. One statement of the rules ([`GRADED_FINDINGS`]) serves the
//! synthetic generator's truth, the demo model's labels, the case library's labels and the
//! pointing game.

use serde::{Deserialize, Serialize};

use super::Eye;

/// Diabetic retinopathy grade (international clinical scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrGrade {
    /// No apparent retinopathy.
    None,
    /// Microaneurysms only.
    Mild,
    /// More than microaneurysms, less than severe.
    Moderate,
    /// Many haemorrhages in all quadrants, venous beading, cotton-wool spots.
    Severe,
    /// Neovascularisation.
    Proliferative,
}

impl DrGrade {
    /// Referable DR: moderate or worse.
    pub fn is_referable(self) -> bool {
        self >= DrGrade::Moderate
    }
}

/// Age-related macular degeneration stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmdStage {
    /// No AMD.
    None,
    /// Drusen near the macula.
    Drusen,
    /// Geographic atrophy (late dry AMD), with drusen.
    GeographicAtrophy,
}

/// The grades of one eye, as `ground_truth.json` stores them (other keys there are ignored).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EyeGrading {
    /// Which eye.
    pub eye: Eye,
    /// DR grade.
    pub dr_grade: DrGrade,
    /// Glaucomatous optic neuropathy (enlarged cup).
    pub glaucoma: bool,
    /// AMD stage.
    pub amd: AmdStage,
}

/// A finding id and the rule that says whether graded eye has it.
pub struct GradedFinding {
    /// Stable id (the demo model's and the case library's vocabulary).
    pub id: &'static str,
    /// Whether an eye with these grades has the finding.
    pub present: fn(&EyeGrading) -> bool,
}

/// The findings grades define, in the demo model's order: `referable_dr` (moderate
/// non-proliferative DR or worse), `glaucoma`, `amd` (any stage).
pub const GRADED_FINDINGS: [GradedFinding; 3] = [
    GradedFinding {
        id: "referable_dr",
        present: |g| g.dr_grade.is_referable(),
    },
    GradedFinding {
        id: "glaucoma",
        present: |g| g.glaucoma,
    },
    GradedFinding {
        id: "amd",
        present: |g| g.amd != AmdStage::None,
    },
];

impl EyeGrading {
    /// Whether the eye has no finding at all (not even mild DR).
    pub fn is_normal(&self) -> bool {
        self.dr_grade == DrGrade::None && !self.glaucoma && self.amd == AmdStage::None
    }

    /// Whether the eye has the finding `id` (false for ids grades do not define).
    pub fn has(&self, id: &str) -> bool {
        GRADED_FINDINGS
            .iter()
            .any(|f| f.id == id && (f.present)(self))
    }

    /// The finding ids this eye has, in [`GRADED_FINDINGS`] order.
    pub fn finding_ids(&self) -> Vec<&'static str> {
        GRADED_FINDINGS
            .iter()
            .filter(|f| (f.present)(self))
            .map(|f| f.id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moderate_dr_is_referable_mild_is_not() {
        let mut g = EyeGrading {
            eye: Eye::Right,
            dr_grade: DrGrade::Mild,
            glaucoma: false,
            amd: AmdStage::None,
        };
        assert!(g.finding_ids().is_empty());
        assert!(!g.is_normal());
        g.dr_grade = DrGrade::Moderate;
        g.amd = AmdStage::Drusen;
        assert_eq!(g.finding_ids(), ["referable_dr", "amd"]);
        assert!(g.has("amd") && !g.has("glaucoma") && !g.has("cataract"));
    }
}
