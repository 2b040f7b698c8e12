//! Local validation of a pack on labelled studies: from analysis results and labels to fitted
//! temperatures, operating points, held-out metrics and a domain description.
//!
//! **The split.** Labelled patients are ordered by the SHA-256 of their id; the first half
//! (rounded up) calibrates, the second is held out. A patient's images and eyes stay in one
//! half, and the same label set always splits the same way. The domain description takes its
//! reference images from the calibration half and its thresholds from the held-out half.
//!
//! **Labels.** An eye is labelled for a finding when the labels name the finding's id (it is
//! then present or absent), or, for a finding that sums classes of a group, when the eye has a
//! class label of that group (`dr_grade:moderate`). Images take their eye's label; a patient is
//! positive when a labelled eye is.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::fit::{FitRefusal, LevelFit, Sample, fit_level};
use crate::analysis::domain::{DomainSample, DomainSplit, fit_domain};
use crate::analysis::engine::PatientResult;
use crate::analysis::findings::FindingProbability;
use crate::encoder::domain::DomainDescription;
use crate::encoder::finding_set::FindingSet;
use crate::encoder::pack::PackManifest;
use crate::library::labels::Labels;
use crate::study::{Eye, Modality};

/// What `validate` is asked for.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// Sensitivity the operating points are chosen for.
    pub sensitivity: f64,
    /// The studies, in words, for the domain description and the report.
    pub source: String,
}

/// One finding's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FindingValidation {
    /// Finding id.
    pub id: String,
    /// Finding name.
    pub name: String,
    /// Fitted levels (`image`, `eye`, `patient`).
    pub levels: BTreeMap<String, LevelFit>,
    /// Levels not fitted, and why.
    pub refused: BTreeMap<String, String>,
}

/// The whole outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Validation {
    /// Asked sensitivity.
    pub sensitivity: f64,
    /// How the halves were made.
    pub split_rule: String,
    /// Labelled patients in the calibration half.
    pub calibration_patients: usize,
    /// Labelled patients held out.
    pub held_out_patients: usize,
    /// Patients analyzed without any label.
    pub unlabelled_patients: usize,
    /// Per finding.
    pub findings: Vec<FindingValidation>,
    /// The pack's findings no label speaks of.
    pub unlabelled_findings: Vec<String>,
    /// The domain description.
    pub domain: DomainDescription,
    /// Modalities left out of it, with their held-out image counts.
    pub domain_skipped: Vec<(Modality, usize)>,
    /// Where the studies were.
    pub source: String,
}

/// Why nothing could be validated.
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    /// No patient of the studies is labelled.
    #[error(
        "none of the {patients} patient(s) found has a label: check that the labels' patient ids and eyes match the studies' (labels from {labels_file})"
    )]
    NoLabelledPatient {
        /// Patients analyzed.
        patients: usize,
        /// The labels file.
        labels_file: String,
    },
    /// Every finding was refused.
    #[error("no finding could be validated:\n{0}")]
    NothingFitted(String),
}

/// The 64-bit head of a patient id's SHA-256: its place in the split order.
fn split_key(patient_id: &str) -> [u8; 8] {
    let digest = Sha256::digest(patient_id.as_bytes());
    let mut key = [0; 8];
    key.copy_from_slice(&digest[..8]);
    key
}

/// For each finding id of `set` that sums classes: (group id, classes).
fn class_sums(set: &FindingSet) -> BTreeMap<String, (String, Vec<String>)> {
    let groups = set
        .class_groups
        .iter()
        .flat_map(|g| g.findings.iter().map(move |f| (g.id.clone(), f)));
    let head = set
        .classifier
        .iter()
        .flat_map(|h| h.findings.iter().map(move |f| (h.id.clone(), f)));
    groups
        .chain(head)
        .map(|(group, f)| (f.id.clone(), (group, f.classes.clone())))
        .collect()
}

/// The label of one eye for a finding, when the labels speak of it.
fn eye_label(
    labels: &Labels,
    sums: &BTreeMap<String, (String, Vec<String>)>,
    patient: &str,
    eye: Eye,
    finding: &str,
) -> Option<bool> {
    if labels.finding_ids.iter().any(|f| f == finding) {
        return labels
            .of(patient, eye)
            .map(|l| l.iter().any(|f| f == finding));
    }
    let (group, classes) = sums.get(finding)?;
    if !labels.class_groups.contains(group) {
        return None;
    }
    let tokens = labels.classes_of(patient, eye)?;
    let prefix = format!("{group}:");
    let class = tokens.iter().find_map(|t| t.strip_prefix(&prefix))?;
    Some(classes.iter().any(|c| c == class))
}

fn logit_of(findings: &[FindingProbability], id: &str) -> Option<f64> {
    findings.iter().find(|f| f.id == id).map(|f| f.logit)
}

/// Validates `set` on `results` (one per patient, from the pack's analyzer) against `labels`.
pub fn validate(
    results: &[PatientResult],
    labels: &Labels,
    set: &FindingSet,
    options: &ValidateOptions,
) -> Result<Validation, ValidationError> {
    let sums = class_sums(set);
    let ids = set.finding_names();
    let labelled = |r: &PatientResult| {
        [Eye::Right, Eye::Left].iter().any(|e| {
            labels.of(&r.patient_id, *e).is_some() || labels.classes_of(&r.patient_id, *e).is_some()
        })
    };
    let mut order: Vec<usize> = (0..results.len())
        .filter(|&i| labelled(&results[i]))
        .collect();
    if order.is_empty() {
        return Err(ValidationError::NoLabelledPatient {
            patients: results.len(),
            labels_file: labels.source.display().to_string(),
        });
    }
    order.sort_by_key(|&i| split_key(&results[i].patient_id));
    let calibration_count = order.len().div_ceil(2);
    let mut held_out = vec![false; results.len()];
    for &i in &order[calibration_count..] {
        held_out[i] = true;
    }
    // Unlabelled patients still describe the domain: they go by the same hash rule.
    let mut in_held_half = held_out.clone();
    for (i, r) in results.iter().enumerate() {
        if !labelled(r) {
            in_held_half[i] = hashed_to_held_out(&r.patient_id);
        }
    }
    let mut findings = Vec::new();
    let mut unlabelled_findings = Vec::new();
    for (n, (id, name)) in ids.iter().enumerate() {
        let mut per_level: BTreeMap<&str, Vec<Sample>> = BTreeMap::new();
        for &p in &order {
            let r = &results[p];
            let label_of = |eye: Eye| eye_label(labels, &sums, &r.patient_id, eye, id);
            for image in &r.images {
                if let (Some(logit), Some(label)) =
                    (logit_of(&image.findings, id), label_of(image.eye))
                {
                    per_level.entry("image").or_default().push(Sample {
                        logit,
                        label,
                        patient: p,
                    });
                }
            }
            let mut patient_label = None;
            for eye in &r.eyes {
                let label = label_of(eye.eye);
                if let Some(l) = label {
                    patient_label = Some(patient_label.unwrap_or(false) || l);
                }
                if let (Some(logit), Some(label)) = (logit_of(&eye.findings, id), label) {
                    per_level.entry("eye").or_default().push(Sample {
                        logit,
                        label,
                        patient: p,
                    });
                }
            }
            if let (Some(logit), Some(label)) = (logit_of(&r.findings, id), patient_label) {
                per_level.entry("patient").or_default().push(Sample {
                    logit,
                    label,
                    patient: p,
                });
            }
        }
        if per_level.is_empty() {
            unlabelled_findings.push(id.to_string());
            continue;
        }
        let mut outcome = FindingValidation {
            id: id.to_string(),
            name: name.to_string(),
            levels: BTreeMap::new(),
            refused: BTreeMap::new(),
        };
        for (level, samples) in per_level {
            match fit_level(&samples, &held_out, options.sensitivity, 0x5eed + n as u64) {
                Ok(fit) => {
                    outcome.levels.insert(level.to_string(), fit);
                }
                Err(refusal @ FitRefusal::TooFew { .. }) => {
                    outcome
                        .refused
                        .insert(level.to_string(), refusal.to_string());
                }
            }
        }
        findings.push(outcome);
    }
    if findings.iter().all(|f| f.levels.is_empty()) {
        let mut why: Vec<String> = findings
            .iter()
            .flat_map(|f| {
                f.refused
                    .iter()
                    .map(move |(l, r)| format!("- {} ({l}): {r}", f.id))
            })
            .collect();
        if !unlabelled_findings.is_empty() {
            why.push(format!(
                "- no labels speak of: {}",
                unlabelled_findings.join(", ")
            ));
        }
        return Err(ValidationError::NothingFitted(why.join("\n")));
    }
    let (domain, domain_skipped) = describe_domain(results, |i| in_held_half[i], &options.source);
    Ok(Validation {
        sensitivity: options.sensitivity,
        split_rule: "labelled patients ordered by the SHA-256 of their id; first half (rounded up) calibrates, second half held out".to_string(),
        calibration_patients: calibration_count,
        held_out_patients: order.len() - calibration_count,
        unlabelled_patients: results.len() - order.len(),
        findings,
        unlabelled_findings,
        domain,
        domain_skipped,
        source: options.source.clone(),
    })
}

/// The domain description of `results`: the gradable images of patients for whom
/// `held_out(index)` is false are the reference, the others give the thresholds.
pub fn describe_domain(
    results: &[PatientResult],
    held_out: impl Fn(usize) -> bool,
    source: &str,
) -> (DomainDescription, Vec<(Modality, usize)>) {
    let mut splits: BTreeMap<Modality, DomainSplit> = BTreeMap::new();
    for (i, r) in results.iter().enumerate() {
        for image in &r.images {
            let (Some(features), Some(appearance)) = (&image.features, &image.appearance) else {
                continue;
            };
            let split = splits.entry(image.modality).or_default();
            let sample = DomainSample {
                features: features.clone(),
                appearance: appearance.clone(),
            };
            if held_out(i) {
                split.held_out.push(sample);
            } else {
                split.reference.push(sample);
            }
        }
    }
    fit_domain(splits, source)
}

/// Whether a patient falls in the held-out half by the hash rule alone (for patients without
/// labels, and for describing a domain without labels).
pub fn hashed_to_held_out(patient_id: &str) -> bool {
    split_key(patient_id)[0] % 2 == 1
}

/// `manifest` with the validation's temperatures and operating points (every earlier
/// calibration removed, so that none from other images survives) and its domain description.
pub fn calibrated_manifest(manifest: &PackManifest, validation: &Validation) -> PackManifest {
    let mut set = manifest.finding_set();
    let fitted = |id: &str| validation.findings.iter().find(|f| f.id == id);
    let apply = |id: &str,
                 temperature: &mut BTreeMap<String, f32>,
                 operating_point: &mut BTreeMap<String, f32>| {
        temperature.clear();
        operating_point.clear();
        if let Some(f) = fitted(id) {
            for (level, fit) in &f.levels {
                temperature.insert(level.clone(), fit.temperature as f32);
                operating_point.insert(level.clone(), fit.operating_point as f32);
            }
        }
    };
    for f in &mut set.findings {
        apply(&f.id, &mut f.temperature, &mut f.operating_point);
    }
    for g in &mut set.class_groups {
        for f in &mut g.findings {
            apply(&f.id, &mut f.temperature, &mut f.operating_point);
        }
    }
    if let Some(h) = &mut set.classifier {
        for f in &mut h.findings {
            apply(&f.id, &mut f.temperature, &mut f.operating_point);
        }
    }
    let mut out = manifest.clone();
    out.set_finding_set(set);
    out.finding_set = manifest.finding_set.clone();
    out.domain = Some(validation.domain.clone());
    out
}
