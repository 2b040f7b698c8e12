//! The demo model's vocabulary: the findings it scores (ids, names, prompt pairs, the
//! modalities and lesions that show them) and the modalities and views it sees per eye. Which
//! eye has a finding is decided once, by [`crate::study::grading`].

use crate::synth::truth::{EyeTruth, LesionKind};

/// The modalities the demo model sees, in the order image results are stacked per eye.
pub const MODALITIES: [&str; 3] = ["fundus", "slo", "oct"];

/// Views rendered per eye: the whole fundus, its centre crop, the SLO and the central B-scan.
/// The two fundus views become one image result (see
/// `demo::train::image_features_of_views`).
pub const VIEWS_PER_EYE: usize = 4;

/// The fraction of each side kept by the fundus centre view (the pack's `fundus_centre_view`).
pub const FUNDUS_CENTRE_FRACTION: f32 = 0.5;

/// A finding the demo model scores.
#[derive(Debug, Clone, Copy)]
pub struct DemoFinding {
    /// Stable id; whether an eye has it is [`crate::study::grading::EyeGrading::has`] of it.
    pub id: &'static str,
    /// Name shown to people.
    pub name: &'static str,
    /// Prompt for "present".
    pub prompt: &'static str,
    /// Prompt for "absent".
    pub negative_prompt: &'static str,
    /// Modalities (indices into [`MODALITIES`]) whose images show it.
    pub visible_in: &'static [usize],
    /// The lesions that show it on a photograph (where its heatmap should point).
    pub lesions: &'static [LesionKind],
}

/// The demo model's findings.
pub const DEMO_FINDINGS: [DemoFinding; 3] = [
    DemoFinding {
        id: "referable_dr",
        name: "Referable diabetic retinopathy (moderate NPDR or worse)",
        prompt: "referable diabetic retinopathy",
        negative_prompt: "no referable diabetic retinopathy",
        visible_in: &[0, 1],
        lesions: &[
            LesionKind::Microaneurysm,
            LesionKind::Haemorrhage,
            LesionKind::HardExudate,
            LesionKind::CottonWoolSpot,
            LesionKind::Neovascularisation,
        ],
    },
    DemoFinding {
        id: "glaucoma",
        name: "Glaucomatous optic disc cupping",
        prompt: "glaucomatous optic disc cupping",
        negative_prompt: "healthy optic disc",
        visible_in: &[0],
        lesions: &[],
    },
    DemoFinding {
        id: "amd",
        name: "Age-related macular degeneration",
        prompt: "age-related macular degeneration",
        negative_prompt: "no macular degeneration",
        visible_in: &[0, 1, 2],
        lesions: &[LesionKind::Drusen, LesionKind::GeographicAtrophy],
    },
];

impl DemoFinding {
    /// Whether an eye with this truth has the finding.
    pub fn present_in(&self, truth: &EyeTruth) -> bool {
        truth.grading().has(self.id)
    }
}
