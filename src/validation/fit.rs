//! Fitting one finding at one level on labelled samples: a patient-level split into a
//! calibration half and a held-out half, the temperature and the operating point fitted on
//! the calibration half, and AUROC, ECE, sensitivity and specificity measured on the held-out
//! half with bootstrap 95 % confidence intervals (patients resampled, so the images and eyes
//! of one patient stay together).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::stats::{
    auroc, expected_calibration_error, fit_temperature, sensitivity_specificity, sigmoid,
    threshold_for_sensitivity,
};

/// One labelled score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The finding's raw logit (before temperature).
    pub logit: f64,
    /// Whether the finding is present.
    pub label: bool,
    /// The patient, as an index (for the split and the bootstrap).
    pub patient: usize,
}

/// A value with its bootstrap 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// On the held-out half.
    pub value: f64,
    /// 2.5th percentile of the bootstrap.
    pub low: f64,
    /// 97.5th percentile.
    pub high: f64,
}

impl Estimate {
    /// "0.91 (0.85–0.95)".
    pub fn text(&self) -> String {
        format!("{:.2} ({:.2}–{:.2})", self.value, self.low, self.high)
    }

    /// Whether `x` lies in the interval.
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// What was fitted and measured for one finding at one level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelFit {
    /// Fitted on the calibration half.
    pub temperature: f64,
    /// Probability at or above which the finding is flagged, for the asked sensitivity.
    pub operating_point: f64,
    /// Samples (positives) in the calibration half.
    pub calibration: (usize, usize),
    /// Samples (positives) in the held-out half.
    pub held_out: (usize, usize),
    /// Held-out AUROC.
    pub auroc: Estimate,
    /// Held-out expected calibration error (10 bins).
    pub ece: Estimate,
    /// Held-out sensitivity at the operating point.
    pub sensitivity: Estimate,
    /// Held-out specificity at the operating point.
    pub specificity: Estimate,
    /// Held-out ROC curve: (1 − specificity, sensitivity) at every threshold.
    pub roc: Vec<(f64, f64)>,
    /// Held-out reliability: (mean probability, fraction positive, count) per non-empty bin.
    pub reliability: Vec<(f64, f64, usize)>,
}

/// Why a finding could not be fitted at a level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitRefusal {
    /// Too few labelled positives or negatives in a half.
    #[error(
        "too few labels: each half needs positives and negatives from at least {needed} patients each, and the calibration half has {cal_pos} patients with positives / {cal_neg} with negatives, the held-out half {held_pos} / {held_neg}"
    )]
    TooFew {
        /// The minimum per class and half.
        needed: usize,
        /// Calibration positives.
        cal_pos: usize,
        /// Calibration negatives.
        cal_neg: usize,
        /// Held-out positives.
        held_pos: usize,
        /// Held-out negatives.
        held_neg: usize,
    },
}

/// Bootstrap resamples.
pub const BOOTSTRAP_RESAMPLES: usize = 1000;

/// The fewest patients with positives, and with negatives, per half: below this a 95 %
/// interval on sensitivity is wider than ±0.25 and an operating point means nothing.
pub const MIN_PER_CLASS: usize = 10;

/// The bins of the ECE and the reliability diagram.
pub const BINS: usize = 10;

/// Positives and negatives, each counted once per patient: ten images of one patient are one
/// piece of evidence, not ten (the bootstrap resamples patients).
fn counts(samples: &[Sample]) -> (usize, usize) {
    let patients = |label: bool| {
        let mut p: Vec<usize> = samples
            .iter()
            .filter(|s| s.label == label)
            .map(|s| s.patient)
            .collect();
        p.sort_unstable();
        p.dedup();
        p.len()
    };
    (patients(true), patients(false))
}

/// A finding's calibration at one level: what validation writes into a pack.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// Temperature minimising the NLL of `sigmoid(logit / T)`.
    pub temperature: f64,
    /// The operating point at the asked sensitivity on the calibrated probabilities.
    pub operating_point: f64,
}

/// Calibrates raw logits against labels: the one implementation `fovea model validate` and
/// the demo model's training and recalibration share.
pub fn calibrate(logits: &[f64], labels: &[bool], sensitivity: f64) -> Calibration {
    let temperature = fit_temperature(logits, labels);
    let probabilities: Vec<f64> = logits.iter().map(|z| sigmoid(z / temperature)).collect();
    Calibration {
        temperature,
        operating_point: threshold_for_sensitivity(&probabilities, labels, sensitivity),
    }
}

/// Fits and measures; `held_out[p]` says whether patient `p` is in the held-out half.
pub fn fit_level(
    samples: &[Sample],
    held_out: &[bool],
    sensitivity: f64,
    seed: u64,
) -> Result<LevelFit, FitRefusal> {
    let is_held = |s: &Sample| held_out.get(s.patient).copied().unwrap_or(false);
    let calibration: Vec<Sample> = samples.iter().copied().filter(|s| !is_held(s)).collect();
    let test: Vec<Sample> = samples.iter().copied().filter(is_held).collect();
    let (cal_pos, cal_neg) = counts(&calibration);
    let (held_pos, held_neg) = counts(&test);
    let positives = |set: &[Sample]| set.iter().filter(|s| s.label).count();
    if [cal_pos, cal_neg, held_pos, held_neg]
        .iter()
        .any(|&n| n < MIN_PER_CLASS)
    {
        return Err(FitRefusal::TooFew {
            needed: MIN_PER_CLASS,
            cal_pos,
            cal_neg,
            held_pos,
            held_neg,
        });
    }
    let logits: Vec<f64> = calibration.iter().map(|s| s.logit).collect();
    let labels: Vec<bool> = calibration.iter().map(|s| s.label).collect();
    let Calibration {
        temperature,
        operating_point,
    } = calibrate(&logits, &labels, sensitivity);
    let metrics = |set: &[Sample]| {
        let p: Vec<f64> = set.iter().map(|s| sigmoid(s.logit / temperature)).collect();
        let y: Vec<bool> = set.iter().map(|s| s.label).collect();
        let (sens, spec) = sensitivity_specificity(&p, &y, operating_point);
        [
            auroc(&p, &y),
            Some(expected_calibration_error(&p, &y, BINS)),
            Some(sens),
            Some(spec),
        ]
    };
    let point = metrics(&test);
    let bootstrap = bootstrap(&test, seed, metrics);
    let estimate = |i: usize| {
        let (low, high) = interval(&bootstrap[i]);
        Estimate {
            value: point[i].unwrap_or(f64::NAN),
            low,
            high,
        }
    };
    let held_probabilities: Vec<f64> = test
        .iter()
        .map(|s| sigmoid(s.logit / temperature))
        .collect();
    let held_labels: Vec<bool> = test.iter().map(|s| s.label).collect();
    Ok(LevelFit {
        temperature,
        operating_point,
        calibration: (calibration.len(), positives(&calibration)),
        held_out: (test.len(), positives(&test)),
        auroc: estimate(0),
        ece: estimate(1),
        sensitivity: estimate(2),
        specificity: estimate(3),
        roc: roc_curve(&held_probabilities, &held_labels),
        reliability: reliability(&held_probabilities, &held_labels),
    })
}

/// Metric values over patient-resampled copies of `samples`.
fn bootstrap(
    samples: &[Sample],
    seed: u64,
    metrics: impl Fn(&[Sample]) -> [Option<f64>; 4],
) -> [Vec<f64>; 4] {
    let mut patients: Vec<usize> = samples.iter().map(|s| s.patient).collect();
    patients.sort_unstable();
    patients.dedup();
    let mut by_patient: Vec<Vec<Sample>> = vec![Vec::new(); patients.len()];
    for s in samples {
        if let Ok(i) = patients.binary_search(&s.patient) {
            by_patient[i].push(*s);
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out: [Vec<f64>; 4] = Default::default();
    let mut resample = Vec::with_capacity(samples.len());
    for _ in 0..BOOTSTRAP_RESAMPLES {
        resample.clear();
        for _ in 0..by_patient.len() {
            resample.extend_from_slice(&by_patient[rng.random_range(0..by_patient.len())]);
        }
        for (i, value) in metrics(&resample).into_iter().enumerate() {
            if let Some(v) = value {
                out[i].push(v);
            }
        }
    }
    out
}

/// The 2.5th and 97.5th percentiles.
fn interval(values: &[f64]) -> (f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let at =
        |q: f64| sorted[((q * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)];
    (at(0.025), at(0.975))
}

/// (1 − specificity, sensitivity) at every distinct threshold, from (0, 0) to (1, 1).
pub fn roc_curve(probabilities: &[f64], labels: &[bool]) -> Vec<(f64, f64)> {
    let mut pairs: Vec<(f64, bool)> = probabilities
        .iter()
        .copied()
        .zip(labels.iter().copied())
        .collect();
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let positives = pairs.iter().filter(|p| p.1).count().max(1) as f64;
    let negatives = pairs.iter().filter(|p| !p.1).count().max(1) as f64;
    let mut curve = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut i = 0;
    while i < pairs.len() {
        let mut j = i;
        while j < pairs.len() && pairs[j].0.total_cmp(&pairs[i].0).is_eq() {
            if pairs[j].1 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            j += 1;
        }
        curve.push((fp / negatives, tp / positives));
        i = j;
    }
    curve
}

/// Per non-empty bin: mean probability, fraction positive, count.
pub fn reliability(probabilities: &[f64], labels: &[bool]) -> Vec<(f64, f64, usize)> {
    let mut sums = vec![(0.0, 0.0, 0_usize); BINS];
    for (&p, &y) in probabilities.iter().zip(labels) {
        let b = ((p * BINS as f64) as usize).min(BINS - 1);
        sums[b].0 += p;
        sums[b].1 += f64::from(u8::from(y));
        sums[b].2 += 1;
    }
    sums.into_iter()
        .filter(|s| s.2 > 0)
        .map(|(p, y, n)| (p / n as f64, y / n as f64, n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic labelled samples whose positives score higher on average.
    fn samples(patients: usize) -> Vec<Sample> {
        (0..patients)
            .flat_map(|p| {
                let label = p % 3 == 0;
                let noise = ((p * 7919) % 101) as f64 / 101.0 * 4.0 - 2.0;
                let logit = if label { 1.5 } else { -1.5 } + noise;
                [Sample {
                    logit,
                    label,
                    patient: p,
                }]
            })
            .collect()
    }

    #[test]
    fn the_held_out_sensitivity_interval_holds_the_asked_one() {
        let s = samples(400);
        let held: Vec<bool> = (0..400).map(|p| p % 2 == 1).collect();
        let fit = fit_level(&s, &held, 0.9, 1).expect("enough labels");
        assert!(fit.auroc.value > 0.8, "{:?}", fit.auroc);
        assert!(fit.auroc.low <= fit.auroc.value && fit.auroc.value <= fit.auroc.high);
        assert!(fit.sensitivity.contains(0.9), "{:?}", fit.sensitivity);
        assert_eq!(fit.roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(fit.roc.last(), Some(&(1.0, 1.0)));
    }

    #[test]
    fn too_few_positives_are_refused_with_the_counts() {
        let s = samples(30);
        let held: Vec<bool> = (0..30).map(|p| p % 2 == 1).collect();
        let refusal = fit_level(&s, &held, 0.9, 1).expect_err("10 positives in all");
        assert!(
            refusal.to_string().contains("at least 10 patients"),
            "{refusal}"
        );
    }
}
