//! Small, dependency-free statistics for evaluating classifiers: AUROC, expected calibration
//! error, temperature scaling and operating points. Used by the demo model's calibration and
//! evaluation; no room-specific types.

/// Area under the ROC curve (probability a random positive scores above a random negative,
/// ties counting half). `None` when either class is absent.
pub fn auroc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let mut pairs: Vec<(f64, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = pairs.iter().filter(|p| p.1).count();
    let negatives = pairs.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    // Sum of positive ranks (average ranks for ties), Mann–Whitney U.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < pairs.len() {
        let mut j = i + 1;
        while j < pairs.len() && pairs[j].0.total_cmp(&pairs[i].0).is_eq() {
            j += 1;
        }
        let average_rank = (i + j + 1) as f64 / 2.0; // ranks are 1-based
        rank_sum += average_rank * pairs[i..j].iter().filter(|p| p.1).count() as f64;
        i = j;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// Expected calibration error with `bins` equal-width probability bins: the mean over samples
/// of |accuracy − confidence| per bin, for the positive-class probability.
pub fn expected_calibration_error(probabilities: &[f64], labels: &[bool], bins: usize) -> f64 {
    let bins = bins.max(1);
    let mut count = vec![0.0_f64; bins];
    let mut confidence = vec![0.0_f64; bins];
    let mut positives = vec![0.0_f64; bins];
    for (&p, &y) in probabilities.iter().zip(labels) {
        let b = ((p * bins as f64) as usize).min(bins - 1);
        count[b] += 1.0;
        confidence[b] += p;
        positives[b] += f64::from(u8::from(y));
    }
    let n = probabilities.len().max(1) as f64;
    (0..bins)
        .filter(|&b| count[b] > 0.0)
        .map(|b| (positives[b] - confidence[b]).abs() / n)
        .sum()
}

/// The logistic function (one definition, the one the findings use).
pub use crate::analysis::findings::sigmoid;

/// Mean negative log-likelihood of `labels` under probabilities `sigmoid(logit / t)`.
pub fn nll_at_temperature(logits: &[f64], labels: &[bool], t: f64) -> f64 {
    let n = logits.len().max(1) as f64;
    logits
        .iter()
        .zip(labels)
        .map(|(&z, &y)| {
            let p = sigmoid(z / t).clamp(1e-12, 1.0 - 1e-12);
            if y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum::<f64>()
        / n
}

/// The temperature minimising the NLL on a validation split (golden-section search on log t
/// over [0.05, 20]).
pub fn fit_temperature(logits: &[f64], labels: &[bool]) -> f64 {
    let f = |log_t: f64| nll_at_temperature(logits, labels, log_t.exp());
    let (mut a, mut b) = (0.05_f64.ln(), 20.0_f64.ln());
    let ratio = (5.0_f64.sqrt() - 1.0) / 2.0;
    let mut c = b - ratio * (b - a);
    let mut d = a + ratio * (b - a);
    for _ in 0..80 {
        if f(c) < f(d) {
            b = d;
        } else {
            a = c;
        }
        c = b - ratio * (b - a);
        d = a + ratio * (b - a);
    }
    ((a + b) / 2.0).exp()
}

/// A screening operating point on (`probabilities`, `labels`): of the thresholds whose
/// sensitivity is at least `sensitivity`, those with the highest specificity; of those, the
/// lowest — halfway between the highest negative under them and the next positive — so that
/// a gap between the classes is cut in its middle, not at the edge of the positives (which
/// would miss positives that score a little lower on new data for no gain in specificity).
/// 0.5 when there are no positives.
pub fn threshold_for_sensitivity(probabilities: &[f64], labels: &[bool], sensitivity: f64) -> f64 {
    let mut positives: Vec<f64> = probabilities
        .iter()
        .zip(labels)
        .filter(|(_, y)| **y)
        .map(|(p, _)| *p)
        .collect();
    if positives.is_empty() {
        return 0.5;
    }
    positives.sort_by(|a, b| b.total_cmp(a));
    let needed = ((sensitivity * positives.len() as f64).ceil() as usize).clamp(1, positives.len());
    let highest = positives[needed - 1];
    // Negatives under `highest` are the true negatives; a threshold keeps them all as long as
    // it stays above the highest of them.
    let negative_below = probabilities
        .iter()
        .zip(labels)
        .filter(|(p, y)| !**y && **p < highest)
        .map(|(p, _)| *p)
        .reduce(f64::max);
    let lowest_positive_above = |floor: f64| {
        positives
            .iter()
            .copied()
            .filter(|p| *p > floor)
            .fold(highest, f64::min)
    };
    match negative_below {
        Some(negative) => (negative + lowest_positive_above(negative)) / 2.0,
        None => lowest_positive_above(f64::NEG_INFINITY),
    }
}

/// Sensitivity and specificity of `probability >= threshold`.
pub fn sensitivity_specificity(
    probabilities: &[f64],
    labels: &[bool],
    threshold: f64,
) -> (f64, f64) {
    let (mut tp, mut p, mut tn, mut n) = (0.0, 0.0, 0.0, 0.0);
    for (&prob, &y) in probabilities.iter().zip(labels) {
        if y {
            p += 1.0;
            if prob >= threshold {
                tp += 1.0;
            }
        } else {
            n += 1.0;
            if prob < threshold {
                tn += 1.0;
            }
        }
    }
    (tp / f64::max(p, 1.0), tn / f64::max(n, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_of_perfect_reversed_and_tied_scores() {
        let labels = [false, false, true, true];
        assert_eq!(auroc(&[0.1, 0.2, 0.8, 0.9], &labels), Some(1.0));
        assert_eq!(auroc(&[0.9, 0.8, 0.2, 0.1], &labels), Some(0.0));
        assert_eq!(auroc(&[0.5; 4], &labels), Some(0.5));
        assert_eq!(auroc(&[0.1, 0.2], &[true, true]), None);
        // One positive below one negative of two: 3 of 4 pairs ordered.
        assert_eq!(auroc(&[0.1, 0.6, 0.5, 0.9], &labels), Some(0.75));
    }

    #[test]
    fn calibrated_probabilities_have_small_ece_and_overconfident_ones_do_not() {
        // 1,000 samples whose label frequency equals their probability (10 groups).
        let mut probabilities = Vec::new();
        let mut labels = Vec::new();
        for group in 0..10 {
            let p = (group as f64 + 0.5) / 10.0;
            for k in 0..100 {
                probabilities.push(p);
                labels.push(k < group * 10 + 5);
            }
        }
        assert!(expected_calibration_error(&probabilities, &labels, 10) < 1e-9);
        let overconfident: Vec<f64> = labels
            .iter()
            .map(|&y| if y { 0.99 } else { 0.98 })
            .collect();
        assert!(expected_calibration_error(&overconfident, &labels, 10) > 0.4);
    }

    #[test]
    fn temperature_scaling_recovers_a_known_temperature() {
        // Labels drawn (deterministically) from sigmoid(z / 3): the fit finds ≈ 3.
        let mut logits = Vec::new();
        let mut labels = Vec::new();
        for i in 0..4000 {
            let z = -12.0 + 24.0 * (i as f64 / 4000.0);
            let p = sigmoid(z / 3.0);
            let u = ((i * 7919) % 4000) as f64 / 4000.0;
            logits.push(z);
            labels.push(u < p);
        }
        let t = fit_temperature(&logits, &labels);
        assert!((t - 3.0).abs() < 0.3, "t = {t}");
    }

    #[test]
    fn operating_point_reaches_the_asked_sensitivity() {
        let probabilities = [0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1];
        let labels = [true, true, false, true, true, false, false, false];
        let t = threshold_for_sensitivity(&probabilities, &labels, 0.75);
        let (sensitivity, specificity) = sensitivity_specificity(&probabilities, &labels, t);
        assert!(sensitivity >= 0.75);
        // 0.6 is the highest threshold with sensitivity 0.75; from there down to 0.3 (the
        // highest negative under it) specificity stays 0.75, so the point is lowered to
        // halfway between 0.3 and the positive at 0.4, catching that positive too.
        assert!((t - 0.35).abs() < 1e-12, "t = {t}");
        assert_eq!((sensitivity, specificity), (1.0, 0.75));
    }

    #[test]
    fn operating_point_cuts_a_gap_between_the_classes_in_its_middle() {
        let probabilities = [0.99, 0.98, 0.95, 0.9, 0.6, 0.2, 0.1, 0.05];
        let labels = [true, true, true, true, true, false, false, false];
        let t = threshold_for_sensitivity(&probabilities, &labels, 0.8);
        assert!((t - 0.4).abs() < 1e-12, "t = {t}");
        assert_eq!(
            sensitivity_specificity(&probabilities, &labels, t),
            (1.0, 1.0)
        );
        // No negative under the positives asked for: the lowest positive is the point.
        let t = threshold_for_sensitivity(&[0.9, 0.95, 0.7], &[true, false, true], 0.5);
        assert_eq!(t, 0.7);
    }
}
