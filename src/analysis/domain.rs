//! The domain check: is this image like those the pack was validated on? Scores an image's
//! normalised features against the pack's [`DomainDescription`] (k nearest neighbours by
//! cosine, see [`crate::encoder::domain`]), and fits a description from validation images.
//!
//! It is a safety net, not a guarantee: an image far from every validation image gets its
//! numbers withheld, but an image near them can still be one the model gets wrong.

use std::collections::BTreeMap;

use serde::Serialize;

use super::findings::cosine;
use crate::encoder::domain::{
    DomainDecodeError, DomainDescription, KNN_COSINE, MAX_REFERENCE, ModalityDomain, encode_vectors,
};
use crate::study::Modality;

/// Neighbours averaged.
pub const K_NEIGHBOURS: usize = 5;

/// The held-out percentile that becomes the threshold.
pub const THRESHOLD_PERCENTILE: f64 = 99.0;

/// What the check says of one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainVerdict {
    /// `Some(true)`: like the validation images; `Some(false)`: unlike them (its numbers are
    /// withheld from referral); `None`: not checked (the pack has no description).
    pub in_domain: Option<bool>,
    /// `1 − mean cosine to the k nearest validation images` (0 = identical).
    pub score: Option<f64>,
    /// The score at or below which an image is in domain.
    pub threshold: Option<f64>,
    /// In words, for people.
    pub note: String,
}

impl DomainVerdict {
    /// Whether the image is known to be outside the validation images.
    pub fn is_outside(&self) -> bool {
        self.in_domain == Some(false)
    }
}

/// A pack's description, decoded once.
#[derive(Debug, Clone, Default)]
pub struct DomainCheck {
    by_modality: Option<BTreeMap<Modality, (Vec<Vec<f32>>, f32)>>,
    k: usize,
}

/// `1 − mean cosine to the k nearest of `reference``.
pub fn knn_score(features: &[f32], reference: &[Vec<f32>], k: usize) -> f64 {
    let mut similarities: Vec<f64> = reference.iter().map(|r| cosine(features, r)).collect();
    similarities.sort_by(|a, b| b.total_cmp(a));
    let k = k.clamp(1, similarities.len().max(1));
    let top = &similarities[..k.min(similarities.len())];
    if top.is_empty() {
        return 1.0;
    }
    1.0 - top.iter().sum::<f64>() / top.len() as f64
}

impl DomainCheck {
    /// Decodes a pack's description (`None`: the pack has none).
    pub fn new(description: Option<&DomainDescription>) -> Result<Self, DomainDecodeError> {
        Ok(match description {
            Some(d) => DomainCheck {
                by_modality: Some(d.decoded()?),
                k: d.k,
            },
            None => DomainCheck::default(),
        })
    }

    /// The verdict on an image of `modality` with these (image tower) features.
    pub fn check(&self, features: &[f32], modality: Modality) -> DomainVerdict {
        let Some(by_modality) = &self.by_modality else {
            return DomainVerdict {
                in_domain: None,
                score: None,
                threshold: None,
                note: "not validated here: the pack carries no description of the images it was validated on".to_string(),
            };
        };
        let Some((reference, threshold)) = by_modality.get(&modality) else {
            return DomainVerdict {
                in_domain: Some(false),
                score: None,
                threshold: None,
                note: format!(
                    "outside the images this model was validated on: it was not validated on {} images",
                    modality.label()
                ),
            };
        };
        let score = knn_score(features, reference, self.k);
        let inside = score <= f64::from(*threshold);
        DomainVerdict {
            in_domain: Some(inside),
            score: Some(score),
            threshold: Some(f64::from(*threshold)),
            note: if inside {
                "like the images this model was validated on".to_string()
            } else {
                format!(
                    "outside the images this model was validated on (distance {score:.3} > {threshold:.3})"
                )
            },
        }
    }
}

/// Per modality: the validation images' features split into a reference sample and held-out
/// images.
pub struct DomainSplit {
    /// Kept in the pack.
    pub reference: Vec<Vec<f32>>,
    /// Give the threshold.
    pub held_out: Vec<Vec<f32>>,
}

/// Too few held-out images make a 99th percentile meaningless.
pub const MIN_HELD_OUT: usize = 20;

/// The `p`th percentile (linear interpolation) of `values`.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let last = sorted.len().checked_sub(1)?;
    let at = p / 100.0 * last as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo as f64))
}

/// Evenly spaced picks of at most `max` of `vectors` (deterministic).
fn spread(vectors: Vec<Vec<f32>>, max: usize) -> Vec<Vec<f32>> {
    if vectors.len() <= max {
        return vectors;
    }
    let n = vectors.len();
    (0..max).map(|i| vectors[i * n / max].clone()).collect()
}

/// Fits a description; modalities with fewer than [`MIN_HELD_OUT`] held-out images are left
/// out (their images will read "not validated on … images") and listed in the second value.
pub fn fit_domain(
    splits: BTreeMap<Modality, DomainSplit>,
    source: &str,
) -> (DomainDescription, Vec<(Modality, usize)>) {
    let mut modalities = Vec::new();
    let mut too_few = Vec::new();
    for (modality, split) in splits {
        if split.held_out.len() < MIN_HELD_OUT || split.reference.is_empty() {
            too_few.push((modality, split.held_out.len()));
            continue;
        }
        let reference = spread(split.reference, MAX_REFERENCE);
        let scores: Vec<f64> = split
            .held_out
            .iter()
            .map(|f| knn_score(f, &reference, K_NEIGHBOURS))
            .collect();
        let threshold = percentile(&scores, THRESHOLD_PERCENTILE).unwrap_or(0.0);
        modalities.push(ModalityDomain {
            modality,
            dim: reference[0].len(),
            reference_f16: encode_vectors(&reference),
            threshold: threshold as f32,
            held_out: split.held_out.len(),
        });
    }
    (
        DomainDescription {
            method: KNN_COSINE.to_string(),
            k: K_NEIGHBOURS,
            percentile: THRESHOLD_PERCENTILE as f32,
            source: source.to_string(),
            modalities,
        },
        too_few,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(angle: f64) -> Vec<f32> {
        vec![angle.cos() as f32, angle.sin() as f32, 0.0]
    }

    #[test]
    fn images_near_the_validation_set_are_in_and_far_ones_out() {
        let reference: Vec<Vec<f32>> = (0..40).map(|i| unit(f64::from(i) * 0.01)).collect();
        let held_out: Vec<Vec<f32>> = (0..40).map(|i| unit(f64::from(i) * 0.01 + 0.005)).collect();
        let split = DomainSplit {
            reference,
            held_out,
        };
        let (description, too_few) =
            fit_domain([(Modality::Oct, split)].into_iter().collect(), "test");
        assert!(too_few.is_empty());
        let check = DomainCheck::new(Some(&description)).expect("decodes");
        assert_eq!(check.check(&unit(0.2), Modality::Oct).in_domain, Some(true));
        let far = check.check(&[0.0, 0.0, 1.0], Modality::Oct);
        assert!(far.is_outside(), "{far:?}");
        let other = check.check(&unit(0.2), Modality::ColourFundus);
        assert!(other.is_outside() && other.note.contains("not validated on"));
        assert_eq!(
            DomainCheck::default()
                .check(&unit(0.2), Modality::Oct)
                .in_domain,
            None
        );
    }

    #[test]
    fn percentile_interpolates() {
        let v: Vec<f64> = (0..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&[1.0, 3.0], 50.0), Some(2.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
