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

use super::findings::{FindingProbability, Level, ModelStamp, score_findings};
use super::quality::{QualityVerdict, assess};
use crate::encoder::embed::EmbedError;
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
    /// Why the image could not be used, if it could not be read.
    pub error: Option<String>,
    /// Free-text scores asked for (uncalibrated, see [`super::zero_shot`]).
    pub zero_shot: Vec<TextScore>,
    /// The image-level vector (for zero-shot and retrieval), when gradable.
    #[serde(skip)]
    pub vector: Option<Vec<f32>>,
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
    /// Images that contributed.
    pub contributing: Vec<PathBuf>,
    /// Images left out, with the reason.
    pub excluded: Vec<(PathBuf, String)>,
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
    /// Which rule made them.
    pub patient_rule: PatientRule,
    /// Said when the patient result rests on fewer than both eyes.
    pub patient_note: Option<String>,
    /// The model.
    pub model: ModelStamp,
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
}

/// A session plus the pack's prompt vectors.
pub struct Analyzer {
    session: EncoderSession,
    prompts: Vec<(TextVectors, TextVectors)>,
    stamp: ModelStamp,
}

/// An image decoded and graded, with its features when gradable.
struct Prepared {
    result: ImageResult,
    features: Option<Vec<f32>>,
}

impl Analyzer {
    /// Embeds the pack's prompts once.
    pub fn new(session: EncoderSession) -> Result<Self, AnalysisError> {
        let findings = &session.manifest().findings;
        let texts: Vec<&str> = findings
            .iter()
            .flat_map(|f| [f.prompt.as_str(), f.negative_prompt.as_str()])
            .collect();
        let vectors = session
            .text_vectors(&texts)
            .map_err(AnalysisError::Prompts)?;
        let prompts = vectors
            .chunks_exact(2)
            .map(|pair| (pair[0].clone(), pair[1].clone()))
            .collect();
        let stamp = ModelStamp::of(session.manifest());
        Ok(Analyzer {
            session,
            prompts,
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

    /// A finding's (prompt, negative prompt) vectors.
    pub fn prompt_vectors(&self, finding: &str) -> Option<&(TextVectors, TextVectors)> {
        self.session
            .manifest()
            .findings
            .iter()
            .position(|f| f.id == finding)
            .and_then(|i| self.prompts.get(i))
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
            findings: Vec::new(),
            error: None,
            zero_shot: Vec::new(),
            vector: None,
        };
        let rgb = match decode_image(record) {
            Ok(decoded) => decoded.frame_to_rgb8(frame),
            Err(e) => {
                result.error = Some(crate::study::error::error_chain(&e));
                return Ok(Prepared {
                    result,
                    features: None,
                });
            }
        };
        let Some(rgb) = rgb else {
            result.error = Some(format!("frame {frame} cannot be shown"));
            return Ok(Prepared {
                result,
                features: None,
            });
        };
        let quality = assess(&rgb, record.modality);
        let gradable = quality.gradable;
        result.quality = Some(quality);
        if !gradable {
            return Ok(Prepared {
                result,
                features: None,
            });
        }
        let features = self
            .session
            .photo_features(&rgb, record.modality == Modality::ColourFundus)?;
        let vector = self
            .session
            .image_vectors(std::slice::from_ref(&features))?
            .remove(0);
        let findings = &self.session.manifest().findings;
        result.findings = score_findings(&vector, findings, &self.prompts, Level::Image);
        result.vector = Some(vector);
        Ok(Prepared {
            result,
            features: Some(features),
        })
    }

    /// Analyzes every image of `patient`.
    pub fn analyze_patient(&self, patient: &Patient) -> Result<PatientResult, AnalysisError> {
        let findings = &self.session.manifest().findings;
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
        let mut eye_features: Vec<(Eye, Vec<Vec<f32>>)> = Vec::new();
        for eye in [Eye::Right, Eye::Left] {
            let of_eye: Vec<&Prepared> = prepared.iter().filter(|p| p.result.eye == eye).collect();
            if of_eye.is_empty() {
                continue;
            }
            let mut result = EyeResult {
                eye,
                findings: Vec::new(),
                contributing: Vec::new(),
                excluded: Vec::new(),
                note: None,
                zero_shot: Vec::new(),
                vector: None,
                fused: None,
            };
            let mut features = Vec::new();
            for p in &of_eye {
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
            } else {
                let side = if eye == Eye::Right {
                    EyeSide::Right
                } else {
                    EyeSide::Left
                };
                let level = if eye == Eye::Right {
                    Level::RightEye
                } else {
                    Level::LeftEye
                };
                let vector = self.session.eye_vector(&features, side)?;
                result.findings = score_findings(&vector, findings, &self.prompts, level);
                result.vector = Some(vector);
                result.fused = Some(normalized(&mean_of_normalized(&features)));
                eye_features.push((eye, features));
            }
            eyes.push(result);
        }
        let (patient_findings, patient_rule, patient_note) =
            self.patient_level(&eyes, &eye_features)?;
        Ok(PatientResult {
            patient_id: patient.info.id.clone(),
            images: prepared.into_iter().map(|p| p.result).collect(),
            eyes,
            findings: patient_findings,
            patient_rule,
            patient_note,
            model: self.stamp.clone(),
        })
    }

    fn patient_level(
        &self,
        eyes: &[EyeResult],
        eye_features: &[(Eye, Vec<Vec<f32>>)],
    ) -> Result<(Vec<FindingProbability>, PatientRule, Option<String>), AnalysisError> {
        let findings = &self.session.manifest().findings;
        let of = |eye: Eye| eye_features.iter().find(|(e, _)| *e == eye).map(|(_, f)| f);
        if let (Some(right), Some(left)) = (of(Eye::Right), of(Eye::Left))
            && let Some(vector) = self.session.patient_vector(left, right)?
        {
            let scored = score_findings(&vector, findings, &self.prompts, Level::Patient);
            return Ok((scored, PatientRule::PatientHead, None));
        }
        let with_results: Vec<&EyeResult> =
            eyes.iter().filter(|e| !e.findings.is_empty()).collect();
        if with_results.is_empty() {
            return Ok((
                Vec::new(),
                PatientRule::None,
                Some("no eye has a result: no patient-level result".to_string()),
            ));
        }
        let note = if with_results.len() < 2 {
            Some(format!(
                "only the {} eye has a result; the patient result is that eye's",
                with_results[0].eye.label()
            ))
        } else {
            None
        };
        let combined = with_results[0]
            .findings
            .iter()
            .map(|first| {
                let best = with_results
                    .iter()
                    .filter_map(|e| e.findings.iter().find(|f| f.id == first.id))
                    .max_by(|a, b| a.probability.total_cmp(&b.probability))
                    .unwrap_or(first);
                best.clone()
            })
            .collect();
        Ok((combined, PatientRule::EitherEye, note))
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
