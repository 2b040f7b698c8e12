//! A pack's domain description: what the images it was validated on look like to the model,
//! per modality, so that an image unlike all of them gets its numbers withheld
//! (`crate::analysis::domain` scores it).
//!
//! **Method — k nearest neighbours by cosine.** Per modality the pack keeps a sample of the
//! validation images' normalised image features (at most [`MAX_REFERENCE`], stored as
//! little-endian f16 in base64 inside the manifest) and a threshold. An image's score is
//! `1 − mean cosine to its k nearest reference vectors`; it is *in domain* when the score is at
//! or below the threshold, the chosen percentile (99th) of the scores of held-out validation
//! images (images not in the sample). Chosen over a Gaussian with Mahalanobis distance because
//! validation sets are clusters (normal eyes, each disease, each camera) that one Gaussian
//! blurs together, and because it needs no matrix inversion on a few hundred vectors of 512
//! dimensions; the cost is `MAX_REFERENCE` dot products per image (see BENCHMARKS.md).

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::study::Modality;

/// Reference vectors kept per modality.
pub const MAX_REFERENCE: usize = 256;

/// The method's name in the manifest.
pub const KNN_COSINE: &str = "knn_cosine";

/// One modality's sample and threshold.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModalityDomain {
    /// Which modality.
    pub modality: Modality,
    /// Vector length.
    pub dim: usize,
    /// The reference vectors, row after row, as little-endian f16, base64.
    pub reference_f16: String,
    /// Score at or below which an image is in domain.
    pub threshold: f32,
    /// Held-out images the threshold was taken from.
    pub held_out: usize,
}

/// What a pack was validated on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DomainDescription {
    /// [`KNN_COSINE`].
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
#[error("the pack's domain description for {modality:?} is damaged: {problem}")]
pub struct DomainDecodeError {
    /// Which modality.
    pub modality: Modality,
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

impl ModalityDomain {
    /// The reference vectors.
    pub fn reference(&self) -> Result<Vec<Vec<f32>>, DomainDecodeError> {
        let problem = |problem: String| DomainDecodeError {
            modality: self.modality,
            problem,
        };
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
        let values: Vec<f32> = bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect();
        Ok(values.chunks_exact(self.dim).map(<[f32]>::to_vec).collect())
    }
}

impl DomainDescription {
    /// The decoded references and thresholds per modality.
    pub fn decoded(&self) -> Result<BTreeMap<Modality, (Vec<Vec<f32>>, f32)>, DomainDecodeError> {
        self.modalities
            .iter()
            .map(|m| Ok((m.modality, (m.reference()?, m.threshold))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_through_f16_base64() {
        let vectors = vec![vec![0.5, -0.25, 0.125], vec![1.0, 0.0, -1.0]];
        let domain = ModalityDomain {
            modality: Modality::Oct,
            dim: 3,
            reference_f16: encode_vectors(&vectors),
            threshold: 0.1,
            held_out: 2,
        };
        assert_eq!(domain.reference().expect("decodes"), vectors);
        let broken = ModalityDomain { dim: 4, ..domain };
        assert!(broken.reference().is_err());
    }
}
