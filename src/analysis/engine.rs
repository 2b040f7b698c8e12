//! The findings engine: a patient's images → per-image, per-eye and patient-level results.
//!
//! Rules (documented here and in the README):
//! - **image**: DICOM frame 0, or the central frame of a multi-frame OCT volume (the B-scan
//!   through the fovea on a macular cube); its quality verdict; its finding probabilities at
//!   image level.
//! - **eye**: every gradable image of that eye, all modalities and studies: the mean of their
//!   normalised features, through the pack's eye mapping where it has one; the images used are
//!   listed, the ungradable ones with their reason. An eye with no gradable image has no result.
//! - **patient**: the pack's patient-level mapping on both eyes where it has one and both eyes
//!   have a result; otherwise, per finding, the highest of the eye probabilities ("present in
//!   either eye"), and the result says which rule was used and why.
//! - Images whose eye is unknown or "both" get image results only.

use std::path::PathBuf;

use serde::Serialize;

use super::appearance::appearance;
use super::domain::{DomainCheck, DomainVerdict};
use super::findings::{FindingProbability, Level, ModelStamp};
use super::quality::{QualityVerdict, assess};
use super::scorer::{ClassDistribution, LevelInputs, Scorer};
use crate::encoder::domain::DomainDecodeError;
use crate::encoder::embed::EmbedError;
use crate::encoder::finding_set::Scope;
use crate::encoder::session::{
    EncoderSession, EyeSide, TextVectors, mean_of_normalized, normalized,
};
use crate::study::model::{ImageRecord, Patient};
use crate::study::pixels::decode_image;
use crate::study::{Eye, Modality};

/// One image's result.
#[derive(Debug, Clone, Serialize)]
pub struct ImageResult {
    /// The file.
    pub path: PathBuf,
    /// Modality.
    pub modality: Modality,
    /// Eye.
    pub eye: Eye,
    /// Frame analyzed.
    pub frame: u32,
    /// Gradeability (absent when the image could not be decoded).
    pub quality: Option<QualityVerdict>,
    /// Image-level probabilities (empty when ungradable or unreadable).
    pub findings: Vec<FindingProbability>,
    /// Class groups' and the classifier head's distributions (uncalibrated).
    pub distributions: Vec<ClassDistribution>,
    /// Whether the image is like those the model was validated on (absent when ungradable).
    pub domain: Option<DomainVerdict>,
    /// Why the image could not be used, if it could not be read.
    pub error: Option<String>,
    /// Free-text scores asked for (uncalibrated, see [`super::zero_shot`]).
    pub zero_shot: Vec<TextScore>,
    /// What the optic disc says about the eye (colour fundus and SLO/IR); the tag is never
    /// changed ([`crate::study::laterality`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub laterality: Option<crate::study::laterality::LateralityEvidence>,
    /// "tagged OD, but the optic disc is on the left: check the laterality", when so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub laterality_warning: Option<String>,
    /// The image-level vector (for zero-shot and retrieval), when gradable.
    #[serde(skip)]
    pub vector: Option<Vec<f32>>,
    /// The normalised image-tower features the domain check reads (what `model validate`
    /// describes the validation images by), when gradable.
    #[serde(skip)]
    pub features: Option<Vec<f32>>,
    /// Its appearance vector ([`super::appearance`]), when gradable.
    #[serde(skip)]
    pub appearance: Option<Vec<f32>>,
}

/// An uncalibrated free-text score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextScore {
    /// The text.
    pub text: String,
    /// Score in (0, 1) against the neutral prompt; ranks, not a probability of disease.
    pub score: f64,
}

/// One eye's result.
#[derive(Debug, Clone, Serialize)]
pub struct EyeResult {
    /// OD or OS.
    pub eye: Eye,
    /// Eye-level probabilities (empty when no image was gradable).
    pub findings: Vec<FindingProbability>,
    /// Class groups' and the classifier head's distributions (uncalibrated).
    pub distributions: Vec<ClassDistribution>,
    /// Images that contributed.
    pub contributing: Vec<PathBuf>,
    /// Images left out, with the reason.
    pub excluded: Vec<(PathBuf, String)>,
    /// Contributing images outside the images the model was validated on.
    pub images_outside_domain: usize,
    /// Why the eye has no result, if it has none.
    pub note: Option<String>,
    /// Free-text scores asked for (uncalibrated).
    pub zero_shot: Vec<TextScore>,
    /// The eye-level vector, when the eye has a result.
    #[serde(skip)]
    pub vector: Option<Vec<f32>>,
    /// The eye's fused embedding: the normalised mean of its gradable images' normalised
    /// features, before any eye mapping, so right and left eyes compare (what the case library
    /// indexes for eye-to-eye search).
    #[serde(skip)]
    pub fused: Option<Vec<f32>>,
}

/// How the patient-level result was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PatientRule {
    /// The pack's patient-level mapping on both eyes.
    PatientHead,
    /// Highest eye probability per finding.
    EitherEye,
    /// No eye had a result.
    None,
}

/// A patient's result.
#[derive(Debug, Clone, Serialize)]
pub struct PatientResult {
    /// Patient id.
    pub patient_id: String,
    /// Every image, in order.
    pub images: Vec<ImageResult>,
    /// Right eye, then left eye (those that have images).
    pub eyes: Vec<EyeResult>,
    /// Patient-level probabilities.
    pub findings: Vec<FindingProbability>,
    /// Class groups' and the classifier head's distributions (uncalibrated).
    pub distributions: Vec<ClassDistribution>,
    /// Which rule made them.
    pub patient_rule: PatientRule,
    /// Gradable images outside the images the model was validated on.
    pub images_outside_domain: usize,
    /// Said when the patient result rests on fewer than both eyes.
    pub patient_note: Option<String>,
    /// The model.
    pub model: ModelStamp,
}

impl PatientResult {
    /// The result of one eye, when the patient has it.
    pub fn eye(&self, eye: Eye) -> Option<&EyeResult> {
        self.eyes.iter().find(|e| e.eye == eye)
    }
}

/// Why analysis could not run at all (per-image problems are results, not errors).
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// The pack cannot score findings.
    #[error("the model pack cannot embed its prompts: {0}")]
    Prompts(#[source] EmbedError),
    /// The model failed on the device.
    #[error("the model failed: {0}")]
    Model(#[from] EmbedError),
    /// The pack's domain description cannot be read.
    #[error(transparent)]
    Domain(#[from] DomainDecodeError),
}

/// A session plus the pack's finding set with its prompts embedded.
pub struct Analyzer {
    session: EncoderSession,
    scorer: Scorer,
    domain: DomainCheck,
    stamp: ModelStamp,
}

/// An image decoded and graded, with its features when gradable.
struct Prepared {
    result: ImageResult,
    /// The image tower's features (the eye and patient mappings' input).
    features: Option<Vec<f32>>,
    /// The classifier head's class probabilities (packs with a head).
    head: Option<Vec<f64>>,
}

impl Prepared {
    fn usable_in(&self, scope: Scope<'_>) -> bool {
        self.features.is_some() && scope.allows_modality(self.result.modality)
    }

    fn outside_domain(&self) -> bool {
        self.result
            .domain
            .as_ref()
            .is_some_and(DomainVerdict::is_outside)
    }
}

/// Marks the findings that rest on an image outside the validation images (greyed, never
/// flagged), given the images each may use.
fn withhold_outside<'a>(
    findings: &mut [FindingProbability],
    scorer: &Scorer,
    images: impl Iterator<Item = &'a Prepared> + Clone,
) {
    for f in findings {
        let Some(scope) = scorer.scope_of(&f.id) else {
            continue;
        };
        if images
            .clone()
            .any(|p| p.usable_in(scope) && p.outside_domain())
        {
            f.outside_domain = true;
            f.refer = false;
        }
    }
}

/// The patient level: findings, distributions, the rule used, and its note.
struct PatientLevel(
    Vec<FindingProbability>,
    Vec<ClassDistribution>,
    PatientRule,
    Option<String>,
);

/// The element-wise mean of equal-length rows.
fn mean_rows(rows: &[&Vec<f64>]) -> Option<Vec<f64>> {
    let first = rows.first()?;
    let mut mean = vec![0.0; first.len()];
    for row in rows {
        for (m, v) in mean.iter_mut().zip(row.iter()) {
            *m += v / rows.len() as f64;
        }
    }
    Some(mean)
}

impl Analyzer {
    /// Embeds the pack's prompts once.
    pub fn new(session: EncoderSession) -> Result<Self, AnalysisError> {
        let scorer = Scorer::new(&session).map_err(AnalysisError::Prompts)?;
        let domain = DomainCheck::new(session.manifest().domain.as_ref())?;
        let stamp = ModelStamp::of(session.manifest());
        Ok(Analyzer {
            session,
            scorer,
            domain,
            stamp,
        })
    }

    /// The session (for zero-shot and heatmaps).
    pub fn session(&self) -> &EncoderSession {
        &self.session
    }

    /// The stamp results carry.
    pub fn stamp(&self) -> &ModelStamp {
        &self.stamp
    }

    /// The finding set scored, with its texts.
    pub fn scorer(&self) -> &Scorer {
        &self.scorer
    }

    /// A text finding's (present, absent) image-level text vectors, for heatmaps: a prompt
    /// pair's two prompts, or for a sum of classes the normalised mean of its classes' prompts
    /// against that of the group's other classes. `None` for unknown ids and head findings.
    pub fn heat_target(&self, finding: &str) -> Option<(Vec<f32>, Vec<f32>)> {
        if let Some((present, absent)) = self.scorer.pair_texts(finding, Level::Image) {
            return Some((present.image.clone(), absent.image.clone()));
        }
        let (inside, outside) = self.scorer.class_sum_texts(finding, Level::Image)?;
        let mean = |t: &[&TextVectors]| {
            let rows: Vec<Vec<f32>> = t.iter().map(|v| v.image.clone()).collect();
            normalized(&mean_of_normalized(&rows))
        };
        (!inside.is_empty() && !outside.is_empty()).then(|| (mean(&inside), mean(&outside)))
    }

    /// A head finding's outputs, for classic Grad-CAM of a CNN's head (see
    /// [`crate::encoder::session::EncoderSession::head_grad_cam`]); `None` for other packs.
    pub fn head_target(&self, finding: &str) -> Option<Vec<usize>> {
        if !self.session().is_convolutional() {
            return None;
        }
        self.scorer.head_classes(finding)
    }

    fn prepare(&self, record: &ImageRecord) -> Result<Prepared, AnalysisError> {
        let frame = if record.modality == Modality::Oct && record.frames > 1 {
            record.frames / 2
        } else {
            0
        };
        let mut result = ImageResult {
            path: record.source.path().to_path_buf(),
            modality: record.modality,
            eye: record.eye,
            frame,
            quality: None,
            laterality: None,
            laterality_warning: None,
            findings: Vec::new(),
            distributions: Vec::new(),
            domain: None,
            error: None,
            zero_shot: Vec::new(),
            vector: None,
            features: None,
            appearance: None,
        };
        let unusable = |result| Prepared {
            result,
            features: None,
            head: None,
        };
        let rgb = match decode_image(record) {
            Ok(decoded) => decoded.frame_to_rgb8(frame),
            Err(e) => {
                result.error = Some(crate::study::error::error_chain(&e));
                return Ok(unusable(result));
            }
        };
        let Some(rgb) = rgb else {
            result.error = Some(format!("frame {frame} cannot be shown"));
            return Ok(unusable(result));
        };
        if crate::study::laterality::applies_to(record.modality) {
            let evidence =
                crate::study::laterality::check(&rgb, record.modality == Modality::ColourFundus);
            result.laterality_warning = evidence.contradiction(record.eye);
            result.laterality = Some(evidence);
        }
        let quality = assess(&rgb, record.modality);
        let gradable = quality.gradable;
        result.quality = Some(quality);
        if !gradable {
            return Ok(unusable(result));
        }
        let features = self
            .session
            .photo_features(&rgb, record.modality == Modality::ColourFundus)?;
        let vector = self
            .session
            .image_vectors(std::slice::from_ref(&features))?
            .remove(0);
        let head = self
            .session
            .head_logits(&features)?
            .and_then(|logits| self.scorer.head_probabilities(&logits));
        let modality = record.modality;
        let scored = self.scorer.score(
            Level::Image,
            &LevelInputs {
                vector: &|scope| Ok(scope.allows_modality(modality).then(|| vector.clone())),
                head: &|scope| head.clone().filter(|_| scope.allows_modality(modality)),
            },
        )?;
        let unit_features = normalized(&features);
        let looks = appearance(&rgb);
        let verdict = self.domain.check(&unit_features, &looks, modality);
        result.appearance = Some(looks);
        result.features = Some(unit_features);
        result.findings = scored.findings;
        if verdict.is_outside() {
            for f in &mut result.findings {
                f.outside_domain = true;
                f.refer = false;
            }
        }
        result.domain = Some(verdict);
        result.distributions = scored.distributions;
        result.vector = Some(vector);
        Ok(Prepared {
            result,
            features: Some(features),
            head,
        })
    }

    /// Analyzes every image of `patient`.
    pub fn analyze_patient(&self, patient: &Patient) -> Result<PatientResult, AnalysisError> {
        let records: Vec<&ImageRecord> = patient
            .studies
            .iter()
            .flat_map(|s| s.eyes.iter())
            .flat_map(|e| e.images.iter())
            .collect();
        let mut prepared = Vec::with_capacity(records.len());
        for record in &records {
            prepared.push(self.prepare(record)?);
        }
        let mut eyes = Vec::new();
        for eye in [Eye::Right, Eye::Left] {
            let of_eye: Vec<&Prepared> = prepared.iter().filter(|p| p.result.eye == eye).collect();
            if of_eye.is_empty() {
                continue;
            }
            eyes.push(self.eye_result(eye, &of_eye)?);
        }
        let PatientLevel(mut findings, distributions, patient_rule, patient_note) =
            self.patient_level(&eyes, &prepared)?;
        withhold_outside(&mut findings, &self.scorer, prepared.iter());
        let images_outside_domain = prepared.iter().filter(|p| p.outside_domain()).count();
        Ok(PatientResult {
            patient_id: patient.info.id.clone(),
            images: prepared.into_iter().map(|p| p.result).collect(),
            eyes,
            findings,
            distributions,
            patient_rule,
            images_outside_domain,
            patient_note,
            model: self.stamp.clone(),
        })
    }

    fn eye_result(&self, eye: Eye, of_eye: &[&Prepared]) -> Result<EyeResult, AnalysisError> {
        let mut result = EyeResult {
            eye,
            findings: Vec::new(),
            distributions: Vec::new(),
            contributing: Vec::new(),
            excluded: Vec::new(),
            images_outside_domain: 0,
            note: None,
            zero_shot: Vec::new(),
            vector: None,
            fused: None,
        };
        let mut features = Vec::new();
        for p in of_eye {
            match &p.features {
                Some(f) => {
                    features.push(f.clone());
                    result.contributing.push(p.result.path.clone());
                }
                None => result
                    .excluded
                    .push((p.result.path.clone(), exclusion_reason(&p.result))),
            }
        }
        if features.is_empty() {
            result.note = Some("no gradable image of this eye: no result".to_string());
            return Ok(result);
        }
        let (side, level) = if eye == Eye::Right {
            (EyeSide::Right, Level::RightEye)
        } else {
            (EyeSide::Left, Level::LeftEye)
        };
        let features_in = |scope: Scope<'_>| -> Vec<Vec<f32>> {
            of_eye
                .iter()
                .filter(|p| p.usable_in(scope))
                .filter_map(|p| p.features.clone())
                .collect()
        };
        let scored = self.scorer.score(
            level,
            &LevelInputs {
                vector: &|scope| {
                    let f = features_in(scope);
                    if f.is_empty() {
                        Ok(None)
                    } else {
                        self.session.eye_vector(&f, side).map(Some)
                    }
                },
                head: &|scope| {
                    let rows: Vec<&Vec<f64>> = of_eye
                        .iter()
                        .filter(|p| p.usable_in(scope))
                        .filter_map(|p| p.head.as_ref())
                        .collect();
                    mean_rows(&rows)
                },
            },
        )?;
        if scored.findings.is_empty() {
            result.note = Some(if let Some(problem) = self.scorer.text_problem() {
                format!("this pack's findings cannot be scored: {problem}")
            } else if self.scorer.set().is_empty() {
                "this pack scores no findings: give it a finding set (fovea model findings)"
                    .to_string()
            } else {
                let modalities: Vec<&str> = of_eye
                    .iter()
                    .filter(|p| p.features.is_some())
                    .map(|p| p.result.modality.label())
                    .collect();
                format!(
                    "none of this pack's findings is scored on {}",
                    modalities.join(", ")
                )
            });
        }
        result.findings = scored.findings;
        withhold_outside(&mut result.findings, &self.scorer, of_eye.iter().copied());
        result.images_outside_domain = of_eye.iter().filter(|p| p.outside_domain()).count();
        result.distributions = scored.distributions;
        result.vector = Some(self.session.eye_vector(&features, side)?);
        result.fused = Some(normalized(&mean_of_normalized(&features)));
        Ok(result)
    }

    fn patient_level(
        &self,
        eyes: &[EyeResult],
        prepared: &[Prepared],
    ) -> Result<PatientLevel, AnalysisError> {
        let with_results: Vec<&EyeResult> =
            eyes.iter().filter(|e| !e.findings.is_empty()).collect();
        if with_results.is_empty() {
            return Ok(PatientLevel(
                Vec::new(),
                Vec::new(),
                PatientRule::None,
                Some("no eye has a result: no patient-level result".to_string()),
            ));
        }
        let features_of = |eye: Eye, scope: Scope<'_>| -> Vec<Vec<f32>> {
            prepared
                .iter()
                .filter(|p| p.result.eye == eye && p.usable_in(scope))
                .filter_map(|p| p.features.clone())
                .collect()
        };
        let mut findings = Vec::new();
        let mut distributions = Vec::new();
        let mut rule = PatientRule::EitherEye;
        if with_results.len() == 2 && self.session.has_patient_head() {
            let scored = self.scorer.score(
                Level::Patient,
                &LevelInputs {
                    vector: &|scope| {
                        let (right, left) = (
                            features_of(Eye::Right, scope),
                            features_of(Eye::Left, scope),
                        );
                        if right.is_empty() || left.is_empty() {
                            Ok(None)
                        } else {
                            self.session.patient_vector(&left, &right)
                        }
                    },
                    head: &|_| None,
                },
            )?;
            if !scored.findings.is_empty() {
                rule = PatientRule::PatientHead;
            }
            findings = scored.findings;
            distributions = scored.distributions;
        }
        // Findings the patient head did not score: the highest eye probability.
        let mut filled = 0;
        for (id, _) in self.scorer.finding_names() {
            if findings.iter().any(|f| f.id == id) {
                continue;
            }
            let best = with_results
                .iter()
                .filter_map(|e| e.findings.iter().find(|f| f.id == id))
                .max_by(|a, b| a.probability.total_cmp(&b.probability));
            if let Some(best) = best {
                findings.push(best.clone());
                filled += 1;
            }
        }
        let note = if with_results.len() < 2 {
            Some(format!(
                "only the {} eye has a result; the patient result is that eye's",
                with_results[0].eye.label()
            ))
        } else if rule == PatientRule::PatientHead && filled > 0 {
            Some(format!(
                "{filled} finding(s) not seen in both eyes' images: the higher eye's probability"
            ))
        } else {
            None
        };
        Ok(PatientLevel(findings, distributions, rule, note))
    }
}

fn exclusion_reason(result: &ImageResult) -> String {
    if let Some(error) = &result.error {
        return format!("unreadable: {error}");
    }
    result
        .quality
        .as_ref()
        .map(|q| format!("ungradable: {}", q.reasons.join("; ")))
        .unwrap_or_else(|| "not analyzed".to_string())
}

/// Adds free-text scores for `texts` to every gradable image and every eye with a result.
pub fn add_zero_shot(
    result: &mut PatientResult,
    session: &EncoderSession,
    zero_shot: &mut super::zero_shot::ZeroShot,
    texts: &[String],
) -> Result<(), super::zero_shot::ZeroShotError> {
    for image in &mut result.images {
        if let Some(vector) = &image.vector {
            for text in texts {
                let score = zero_shot.score(session, text, vector, Level::Image)?;
                image.zero_shot.push(TextScore {
                    text: text.clone(),
                    score,
                });
            }
        }
    }
    for eye in &mut result.eyes {
        let level = if eye.eye == Eye::Right {
            Level::RightEye
        } else {
            Level::LeftEye
        };
        if let Some(vector) = &eye.vector {
            for text in texts {
                let score = zero_shot.score(session, text, vector, level)?;
                eye.zero_shot.push(TextScore {
                    text: text.clone(),
                    score,
                });
            }
        }
    }
    Ok(())
}
