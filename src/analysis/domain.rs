//! The domain check: is this image like those the pack was validated on? Compares an image's
//! normalised model features and its appearance ([`super::appearance`]) with the pack's
//! [`DomainDescription`] (k nearest neighbours, see [`crate::encoder::domain`]), and fits a
//! description from validation images.
//!
//! It is a safety net, not a guarantee: an image far from every validation image gets its
//! numbers withheld from referral, but an image near them can still be one the model gets
//! wrong, and a validation set that lacks a kind of eye cannot vouch for it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::findings::cosine;
use crate::encoder::domain::{
    DomainDecodeError, DomainDescription, KNN, KnnReference, MAX_REFERENCE, ModalityDomain,
    encode_vectors,
};
use crate::study::Modality;

/// Neighbours averaged.
pub const K_NEIGHBOURS: usize = 5;

/// The held-out percentile that becomes each threshold.
pub const THRESHOLD_PERCENTILE: f64 = 99.5;

/// Too few held-out images make a high percentile meaningless.
pub const MIN_HELD_OUT: usize = 20;

/// What the check says of one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainVerdict {
    /// `Some(true)`: like the validation images; `Some(false)`: unlike them (its numbers are
    /// withheld from referral); `None`: not checked (the pack has no description).
    pub in_domain: Option<bool>,
    /// The larger of the two distances, each divided by its threshold: ≤ 1 is in domain.
    pub distance: Option<f64>,
    /// `1 − cosine` to the nearest validation images' model features, over its threshold.
    pub feature_distance: Option<f64>,
    /// Standardised appearance distance to the nearest validation images, over its threshold.
    pub appearance_distance: Option<f64>,
    /// In words, for people.
    pub note: String,
}

impl DomainVerdict {
    /// Whether the image is known to be outside the validation images.
    pub fn is_outside(&self) -> bool {
        self.in_domain == Some(false)
    }
}

/// One reference, decoded: vectors (standardised for appearance), threshold, standardisation.
#[derive(Debug, Clone)]
struct Decoded {
    vectors: Vec<Vec<f32>>,
    threshold: f64,
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Decoded {
    fn of(reference: &KnnReference) -> Result<Self, DomainDecodeError> {
        Ok(Decoded {
            vectors: reference.reference()?,
            threshold: f64::from(reference.threshold),
            mean: reference.mean.clone(),
            std: reference.std.clone(),
        })
    }

    fn distance(&self, v: &[f32], k: usize) -> f64 {
        if self.mean.is_empty() {
            cosine_distance(v, &self.vectors, k)
        } else {
            euclidean_distance(&standardised(v, &self.mean, &self.std), &self.vectors, k)
        }
    }
}

/// A pack's description, decoded once.
#[derive(Debug, Clone, Default)]
pub struct DomainCheck {
    by_modality: Option<BTreeMap<Modality, (Decoded, Decoded)>>,
    k: usize,
}

fn mean_of_smallest(mut distances: Vec<f64>, k: usize) -> f64 {
    distances.sort_by(f64::total_cmp);
    let k = k.clamp(1, distances.len().max(1)).min(distances.len());
    if k == 0 {
        return f64::INFINITY;
    }
    distances[..k].iter().sum::<f64>() / k as f64
}

/// Mean `1 − cosine` to the k nearest of `reference`.
pub fn cosine_distance(v: &[f32], reference: &[Vec<f32>], k: usize) -> f64 {
    mean_of_smallest(reference.iter().map(|r| 1.0 - cosine(v, r)).collect(), k)
}

/// Mean Euclidean distance over √dim to the k nearest of `reference`.
pub fn euclidean_distance(v: &[f32], reference: &[Vec<f32>], k: usize) -> f64 {
    let scale = (v.len().max(1) as f64).sqrt();
    mean_of_smallest(
        reference
            .iter()
            .map(|r| {
                r.iter()
                    .zip(v)
                    .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                    .sum::<f64>()
                    .sqrt()
                    / scale
            })
            .collect(),
        k,
    )
}

fn standardised(v: &[f32], mean: &[f32], std: &[f32]) -> Vec<f32> {
    v.iter()
        .zip(mean.iter().zip(std))
        .map(|(x, (m, s))| (x - m) / s.max(1e-3))
        .collect()
}

impl DomainCheck {
    /// Decodes a pack's description (`None`: the pack has none).
    pub fn new(description: Option<&DomainDescription>) -> Result<Self, DomainDecodeError> {
        let Some(d) = description else {
            return Ok(DomainCheck::default());
        };
        let by_modality = d
            .modalities
            .iter()
            .map(|m| {
                Ok((
                    m.modality,
                    (Decoded::of(&m.features)?, Decoded::of(&m.appearance)?),
                ))
            })
            .collect::<Result<_, DomainDecodeError>>()?;
        Ok(DomainCheck {
            by_modality: Some(by_modality),
            k: d.k,
        })
    }

    /// Whether the pack carries a description.
    pub fn is_described(&self) -> bool {
        self.by_modality.is_some()
    }

    /// The verdict on an image of `modality` with these normalised features and appearance.
    pub fn check(&self, features: &[f32], appearance: &[f32], modality: Modality) -> DomainVerdict {
        let Some(by_modality) = &self.by_modality else {
            return DomainVerdict {
                in_domain: None,
                distance: None,
                feature_distance: None,
                appearance_distance: None,
                note: "not validated here: the pack carries no description of the images it was validated on".to_string(),
            };
        };
        let Some((model, looks)) = by_modality.get(&modality) else {
            return DomainVerdict {
                in_domain: Some(false),
                distance: None,
                feature_distance: None,
                appearance_distance: None,
                note: format!(
                    "outside the images this model was validated on: it was not validated on {} images",
                    modality.label()
                ),
            };
        };
        let over = |d: &Decoded, v: &[f32]| d.distance(v, self.k) / d.threshold.max(1e-9);
        let (f, a) = (over(model, features), over(looks, appearance));
        let distance = f.max(a);
        let inside = distance <= 1.0;
        let note = if inside {
            "like the images this model was validated on".to_string()
        } else {
            let why = if a > 1.0 && f > 1.0 {
                "neither its look nor the model's view of it"
            } else if a > 1.0 {
                "its look (colour, detail, camera) is"
            } else {
                "the model's view of it is"
            };
            format!(
                "outside the images this model was validated on: {why} unlike theirs ({distance:.1}× the threshold)"
            )
        };
        DomainVerdict {
            in_domain: Some(inside),
            distance: Some(distance),
            feature_distance: Some(f),
            appearance_distance: Some(a),
            note,
        }
    }
}

/// One validation image: its normalised model features and its appearance.
#[derive(Debug, Clone)]
pub struct DomainSample {
    /// Normalised image-tower features.
    pub features: Vec<f32>,
    /// [`super::appearance::appearance`].
    pub appearance: Vec<f32>,
}

/// Per modality: validation images split into a reference sample and held-out images.
#[derive(Debug, Clone, Default)]
pub struct DomainSplit {
    /// Kept in the pack.
    pub reference: Vec<DomainSample>,
    /// Give the thresholds.
    pub held_out: Vec<DomainSample>,
}

/// The `p`th percentile (linear interpolation) of `values`.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let last = sorted.len().checked_sub(1)?;
    let at = p / 100.0 * last as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo as f64))
}

/// Evenly spaced picks of at most `max` items (deterministic).
fn spread<T: Clone>(items: &[T], max: usize) -> Vec<T> {
    if items.len() <= max {
        return items.to_vec();
    }
    (0..max)
        .map(|i| items[i * items.len() / max].clone())
        .collect()
}

fn fit_reference(
    reference: Vec<Vec<f32>>,
    held_out: &[Vec<f32>],
    standardise: bool,
) -> KnnReference {
    let dim = reference.first().map_or(0, Vec::len);
    let (mean, std) = if standardise {
        let n = reference.len().max(1) as f32;
        let mean: Vec<f32> = (0..dim)
            .map(|i| reference.iter().map(|r| r[i]).sum::<f32>() / n)
            .collect();
        let std: Vec<f32> = (0..dim)
            .map(|i| {
                let var = reference
                    .iter()
                    .map(|r| (r[i] - mean[i]).powi(2))
                    .sum::<f32>()
                    / n;
                var.sqrt().max(1e-3)
            })
            .collect();
        (mean, std)
    } else {
        (Vec::new(), Vec::new())
    };
    let stored: Vec<Vec<f32>> = if standardise {
        reference
            .iter()
            .map(|r| standardised(r, &mean, &std))
            .collect()
    } else {
        reference
    };
    let decoded = Decoded {
        vectors: stored.clone(),
        threshold: 1.0,
        mean: mean.clone(),
        std: std.clone(),
    };
    let distances: Vec<f64> = held_out
        .iter()
        .map(|v| decoded.distance(v, K_NEIGHBOURS))
        .collect();
    KnnReference {
        dim,
        reference_f16: encode_vectors(&stored),
        threshold: percentile(&distances, THRESHOLD_PERCENTILE).unwrap_or(0.0) as f32,
        mean,
        std,
    }
}

/// Fits a description; modalities with fewer than [`MIN_HELD_OUT`] held-out images are left
/// out (their images will read "not validated on … images") and returned with their count.
pub fn fit_domain(
    splits: BTreeMap<Modality, DomainSplit>,
    source: &str,
) -> (DomainDescription, Vec<(Modality, usize)>) {
    let mut modalities = Vec::new();
    let mut too_few = Vec::new();
    for (modality, split) in splits {
        if split.held_out.len() < MIN_HELD_OUT || split.reference.len() < K_NEIGHBOURS {
            too_few.push((modality, split.held_out.len()));
            continue;
        }
        let reference = spread(&split.reference, MAX_REFERENCE);
        let features: Vec<Vec<f32>> = reference.iter().map(|s| s.features.clone()).collect();
        let looks: Vec<Vec<f32>> = reference.iter().map(|s| s.appearance.clone()).collect();
        let held_features: Vec<Vec<f32>> =
            split.held_out.iter().map(|s| s.features.clone()).collect();
        let held_looks: Vec<Vec<f32>> = split
            .held_out
            .iter()
            .map(|s| s.appearance.clone())
            .collect();
        modalities.push(ModalityDomain {
            modality,
            held_out: split.held_out.len(),
            features: fit_reference(features, &held_features, false),
            appearance: fit_reference(looks, &held_looks, true),
        });
    }
    (
        DomainDescription {
            method: KNN.to_string(),
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

    fn sample(angle: f64) -> DomainSample {
        DomainSample {
            features: vec![angle.cos() as f32, angle.sin() as f32, 0.0],
            appearance: vec![angle as f32, 1.0 - angle as f32],
        }
    }

    #[test]
    fn images_near_the_validation_set_are_in_and_far_ones_out() {
        let split = DomainSplit {
            reference: (0..40).map(|i| sample(f64::from(i) * 0.01)).collect(),
            held_out: (0..40)
                .map(|i| sample(f64::from(i) * 0.01 + 0.005))
                .collect(),
        };
        let (description, too_few) =
            fit_domain([(Modality::Oct, split)].into_iter().collect(), "test");
        assert!(too_few.is_empty());
        let check = DomainCheck::new(Some(&description)).expect("decodes");
        let near = sample(0.2);
        let verdict = check.check(&near.features, &near.appearance, Modality::Oct);
        assert_eq!(verdict.in_domain, Some(true), "{verdict:?}");
        let far_model = check.check(&[0.0, 0.0, 1.0], &near.appearance, Modality::Oct);
        assert!(far_model.is_outside(), "{far_model:?}");
        let far_look = check.check(&near.features, &[5.0, -4.0], Modality::Oct);
        assert!(
            far_look.is_outside() && far_look.note.contains("look"),
            "{far_look:?}"
        );
        let other = check.check(&near.features, &near.appearance, Modality::ColourFundus);
        assert!(other.is_outside() && other.note.contains("not validated on"));
        assert_eq!(
            DomainCheck::default()
                .check(&near.features, &near.appearance, Modality::Oct)
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
