//! What a finding's probability is, the levels it is computed at, and the stamp every result
//! carries. How each kind of finding is scored is in [`super::scorer`]; the referral flag is
//! `probability ≥ operating point` of the level, for validated findings only.

use serde::Serialize;

use crate::encoder::pack::PackManifest;
use crate::encoder::session::TextVectors;

/// The logistic function.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Which model produced a result: shown beside every probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelStamp {
    /// Pack name.
    pub name: String,
    /// Pack version.
    pub version: String,
    /// SHA-256 of the pack's weights.
    pub weights_sha256: String,
    /// True for the demo model: its numbers come from synthetic training data.
    pub synthetic_training_data: bool,
}

impl ModelStamp {
    /// The stamp of a pack.
    pub fn of(manifest: &PackManifest) -> Self {
        ModelStamp {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            weights_sha256: manifest.weights.sha256.clone(),
            synthetic_training_data: manifest.synthetic_training_data,
        }
    }

    /// One line for people, e.g. "Fovea demo (synthetic) v1 — trained on synthetic data only".
    pub fn label(&self) -> String {
        let short: String = self.weights_sha256.chars().take(12).collect();
        let mut label = format!("{} v{} (weights {short})", self.name, self.version);
        if self.synthetic_training_data {
            label.push_str(" — trained on synthetic data only, not for clinical use");
        }
        label
    }
}

/// The level a vector was compared at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// One image.
    Image,
    /// One eye, right (OD).
    RightEye,
    /// One eye, left (OS).
    LeftEye,
    /// Both eyes.
    Patient,
}

impl Level {
    /// The manifest's key for temperatures and operating points.
    pub fn key(self) -> &'static str {
        match self {
            Level::Image => "image",
            Level::RightEye | Level::LeftEye => "eye",
            Level::Patient => "patient",
        }
    }

    /// The text vector to compare with at this level (falls back to the image space when the
    /// pack has no tripartite heads).
    pub fn text(self, t: &TextVectors) -> &[f32] {
        let chosen = match self {
            Level::Image => None,
            Level::RightEye => t.right.as_deref(),
            Level::LeftEye => t.left.as_deref(),
            Level::Patient => t.patient.as_deref(),
        };
        chosen.unwrap_or(&t.image)
    }
}

/// One finding's probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingProbability {
    /// Finding id.
    pub id: String,
    /// Finding name.
    pub name: String,
    /// Probability.
    pub probability: f64,
    /// Referral threshold at this level; `None` when the pack has none (findings given with
    /// `--findings`): such a finding is never flagged.
    pub operating_point: Option<f64>,
    /// `probability ≥ operating_point`.
    pub refer: bool,
    /// Whether the probability is temperature-scaled on validation data at this level; an
    /// uncalibrated one ranks images, it is not a probability of disease.
    pub calibrated: bool,
    /// True when an image it rests on is outside the images the model was validated on
    /// ([`super::domain`]): shown greyed, never flagged.
    pub outside_domain: bool,
    /// The raw logit before temperature (what validation fits temperatures on).
    #[serde(skip)]
    pub logit: f64,
}

/// Cosine similarity.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
