//! A pack's domain description: what the images it was validated on look like to the model,
//! per modality, so that an image unlike all of them gets its numbers withheld
//! (`crate::analysis::domain` scores it).
//!
//! **Method — k nearest neighbours, twice.** Per modality the pack keeps a sample of the
//! validation images (at most [`MAX_REFERENCE`], stored as little-endian f16 in base64 inside
//! the manifest), described two ways: by the model's normalised image features (distance
//! `1 − cosine`) and by their appearance (`crate::analysis::appearance`, standardised with the
//! sample's mean and deviation, Euclidean distance over √dim). For each, an image's distance is
//! the mean distance to its k nearest reference vectors, and the threshold is a high percentile
//! of the distances of held-out validation images (images not in the sample). An image is *in
//! domain* when both distances are at or below their thresholds.
//!
//! Chosen over a Gaussian with Mahalanobis distance because validation sets are clusters
//! (normal eyes, each disease, each camera) that one Gaussian blurs together, and because it
//! needs no matrix inversion of a 512 × 512 covariance from a few hundred images. The cost is
//! `2 × MAX_REFERENCE` short dot products per image (see BENCHMARKS.md).

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::study::Modality;

/// Reference vectors kept per modality.
pub const MAX_REFERENCE: usize = 256;

/// The method's name in the manifest.
pub const KNN: &str = "knn_features_cosine_and_appearance_euclidean";

/// A sample of vectors and a threshold on the mean distance to the k nearest of them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KnnReference {
    /// Vector length.
    pub dim: usize,
    /// The reference vectors, row after row, as little-endian f16, base64.
    pub reference_f16: String,
    /// Distance at or below which an image is in domain.
    pub threshold: f32,
    /// Per-component mean the vectors were standardised with (Euclidean references); empty
    /// for cosine references.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mean: Vec<f32>,
    /// Per-component standard deviation, likewise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub std: Vec<f32>,
}

/// One modality's references: the model's features (cosine) and the images' appearance
/// (standardised Euclidean, `crate::analysis::appearance`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModalityDomain {
    /// Which modality.
    pub modality: Modality,
    /// Held-out images the thresholds were taken from.
    pub held_out: usize,
    /// The normalised image-tower features.
    pub features: KnnReference,
    /// The appearance vectors.
    pub appearance: KnnReference,
}

/// What a pack was validated on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DomainDescription {
    /// [`KNN`].
    pub method: String,
    /// Neighbours averaged.
    pub k: usize,
    /// Percentile of held-out scores the thresholds are.
    pub percentile: f32,
    /// Which images, in words ("synthetic validation split, seed …", "clinic's labelled set").
    pub source: String,
    /// Per modality.
    pub modalities: Vec<ModalityDomain>,
}

/// Why a stored description cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("the pack's domain description is damaged: {problem}")]
pub struct DomainDecodeError {
    /// What is wrong.
    pub problem: String,
}

/// Encodes vectors as base64 little-endian f16.
pub fn encode_vectors(vectors: &[Vec<f32>]) -> String {
    let bytes: Vec<u8> = vectors
        .iter()
        .flatten()
        .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl KnnReference {
    /// The reference vectors.
    pub fn reference(&self) -> Result<Vec<Vec<f32>>, DomainDecodeError> {
        let problem = |problem: String| DomainDecodeError { problem };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.reference_f16)
            .map_err(|e| problem(e.to_string()))?;
        if self.dim == 0 || bytes.len() % (2 * self.dim) != 0 {
            return Err(problem(format!(
                "{} bytes are not rows of {} f16 values",
                bytes.len(),
                self.dim
            )));
        }
        if !self.mean.is_empty() && (self.mean.len() != self.dim || self.std.len() != self.dim) {
            return Err(problem(format!(
                "standardisation has {} means and {} deviations for {} values",
                self.mean.len(),
                self.std.len(),
                self.dim
            )));
        }
        let values: Vec<f32> = bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect();
        Ok(values.chunks_exact(self.dim).map(<[f32]>::to_vec).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_through_f16_base64() {
        let vectors = vec![vec![0.5, -0.25, 0.125], vec![1.0, 0.0, -1.0]];
        let domain = KnnReference {
            dim: 3,
            reference_f16: encode_vectors(&vectors),
            threshold: 0.1,
            mean: Vec::new(),
            std: Vec::new(),
        };
        assert_eq!(domain.reference().expect("decodes"), vectors);
        let broken = KnnReference { dim: 4, ..domain };
        assert!(broken.reference().is_err());
    }
}
