//! Synthetic patients in memory, for training and evaluating the demo model: the same patients,
//! truth and pixels [`super::generate`] writes for the same configuration, without files.

use super::truth::{Condition, EyeTruth};
use super::{DemoConfig, RenderedEye, condition_of, draw_patient, render_eye};

/// One eye: its truth and its images.
pub struct EyeSample {
    /// Diagnoses and lesions.
    pub truth: EyeTruth,
    /// Fundus, SLO and OCT volume.
    pub images: RenderedEye,
}

/// One patient: both eyes (right first, as the writer orders them).
pub struct PatientSample {
    /// The patient id the writer would give.
    pub patient_id: String,
    /// The condition drawn.
    pub condition: Condition,
    /// Right eye, then left eye.
    pub eyes: Vec<EyeSample>,
}

/// Renders patient `index` of `config` in memory.
pub fn render_patient(config: &DemoConfig, index: usize) -> PatientSample {
    let condition = condition_of(config.seed, index);
    let (study, truths, mut rng) = draw_patient(config, index, condition);
    let eyes = truths
        .into_iter()
        .map(|truth| {
            let images = render_eye(config, &truth, &mut rng);
            EyeSample { truth, images }
        })
        .collect();
    PatientSample {
        patient_id: study.patient_id,
        condition,
        eyes,
    }
}
