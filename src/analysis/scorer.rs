//! Scores a pack's finding set at one level: prompt pairs, class groups and the classifier
//! head (see [`crate::encoder::finding_set`] for the format and the formulas).
//!
//! The caller says which vector (or head output) stands for the images a finding may use:
//! findings are limited to modalities, so an eye's DR grade comes from its fundus photographs
//! and its OCT diagnosis from its B-scans. Every finding has a raw logit — the prompt pair's
//! `scale · Δcos`, or `logit(Σ p)` for a sum of classes — and its probability is
//! `sigmoid(logit / T)` with the level's fitted temperature, or the raw value when the pack
//! has none (then it is marked uncalibrated and never flagged).

use std::collections::BTreeMap;

use serde::Serialize;

use super::findings::{FindingProbability, Level, cosine, sigmoid};
use crate::encoder::embed::EmbedError;
use crate::encoder::finding_set::{
    ClassSumFinding, FindingSet, HeadActivation, PerLevel, Scope, ScoreLevel,
};
use crate::encoder::session::{EncoderSession, TextVectors};

/// The share of each class of a class group or a classifier head (uncalibrated: the model's
/// softmax), shown as a small bar chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassDistribution {
    /// Group id (`dr_grade`).
    pub id: String,
    /// Group name.
    pub name: String,
    /// The classes in the set's order.
    pub classes: Vec<ClassShare>,
}

/// One class's share.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassShare {
    /// Class id.
    pub id: String,
    /// Class name.
    pub name: String,
    /// Its probability in the group.
    pub probability: f64,
}

/// What a level's scoring gives.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scored {
    /// Every finding that applies, in the set's order.
    pub findings: Vec<FindingProbability>,
    /// Class groups' and the head's distributions.
    pub distributions: Vec<ClassDistribution>,
}

/// The vector of the images a scope allows, or `None` when there is none.
pub type VectorFor<'a> = dyn Fn(Scope<'_>) -> Result<Option<Vec<f32>>, EmbedError> + 'a;

/// The vectors a level offers: `vector(scope)` is the vector of the images the scope allows
/// (`None` when there is none), `head(scope)` the classifier's class probabilities for them.
pub struct LevelInputs<'a> {
    /// Vector for text-based findings.
    pub vector: &'a VectorFor<'a>,
    /// Class probabilities of the classifier head.
    pub head: &'a dyn Fn(Scope<'_>) -> Option<Vec<f64>>,
}

/// A pack's finding set with its texts embedded once.
pub struct Scorer {
    set: FindingSet,
    texts: BTreeMap<String, TextVectors>,
    default_scale: f64,
    text_problem: Option<String>,
}

/// The prompt-level keys: where a finding may have its own wording.
fn prompt_key(level: Level) -> &'static str {
    match level {
        Level::Image => "image",
        Level::RightEye => "right_eye",
        Level::LeftEye => "left_eye",
        Level::Patient => "patient",
    }
}

/// The calibration level of a level.
pub fn score_level(level: Level) -> ScoreLevel {
    match level {
        Level::Image => ScoreLevel::Image,
        Level::RightEye | Level::LeftEye => ScoreLevel::Eye,
        Level::Patient => ScoreLevel::Patient,
    }
}

/// The logit of a probability, kept finite.
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    (p / (1.0 - p)).ln()
}

fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = logits.iter().map(|z| (z - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

/// A finding's probability from its raw logit and the level's calibration.
pub fn calibrated(
    id: &str,
    name: &str,
    logit: f64,
    temperature: &PerLevel,
    operating_point: &PerLevel,
    level: Level,
) -> FindingProbability {
    let key = level.key();
    let t = temperature.get(key).copied().map(f64::from);
    let probability = sigmoid(logit / t.unwrap_or(1.0).max(1e-6));
    let operating_point = operating_point.get(key).copied().map(f64::from);
    FindingProbability {
        id: id.to_string(),
        name: name.to_string(),
        probability,
        operating_point,
        // Only a validated (temperature-scaled) finding is ever flagged.
        refer: t.is_some() && operating_point.is_some_and(|op| probability >= op),
        calibrated: t.is_some(),
        outside_domain: false,
        logit,
    }
}

impl Scorer {
    /// Embeds every prompt of the pack's set (each distinct text once).
    pub fn new(session: &EncoderSession) -> Result<Self, EmbedError> {
        let set = session.manifest().finding_set();
        let mut wanted: Vec<&str> = Vec::new();
        for f in &set.findings {
            wanted.extend([f.prompt.as_str(), f.negative_prompt.as_str()]);
            for [present, absent] in f.level_prompts.values() {
                wanted.extend([present.as_str(), absent.as_str()]);
            }
        }
        for g in &set.class_groups {
            for c in &g.classes {
                wanted.push(&c.prompt);
                wanted.extend(c.level_prompts.values().map(String::as_str));
            }
        }
        wanted.sort_unstable();
        wanted.dedup();
        // A text tower that cannot embed at all (an image-only pack, a vocabulary the
        // tokenizer does not have) leaves the head's findings and says why; a failure on the
        // device is an error.
        let (vectors, text_problem) = if wanted.is_empty() {
            (Vec::new(), None)
        } else {
            match session.text_vectors(&wanted) {
                Ok(vectors) => (vectors, None),
                Err(e @ (EmbedError::Vocabulary { .. } | EmbedError::NoTextTower(_))) => {
                    (Vec::new(), Some(e.to_string()))
                }
                Err(e) => return Err(e),
            }
        };
        let texts = wanted.iter().map(|t| t.to_string()).zip(vectors).collect();
        let default_scale = session
            .manifest()
            .logit_scales
            .get("logit_scale")
            .map_or(100.0, |s| f64::from(*s).exp());
        Ok(Scorer {
            set,
            texts,
            default_scale,
            text_problem,
        })
    }

    /// Why the set's prompts could not be embedded, if they could not (its text findings are
    /// then not scored).
    pub fn text_problem(&self) -> Option<&str> {
        self.text_problem.as_deref()
    }

    /// The set scored.
    pub fn set(&self) -> &FindingSet {
        &self.set
    }

    /// Every finding's (id, name), in scoring order.
    pub fn finding_names(&self) -> Vec<(String, String)> {
        self.set
            .finding_names()
            .into_iter()
            .map(|(id, name)| (id.to_string(), name.to_string()))
            .collect()
    }

    /// Where a finding applies (`None` for an unknown id).
    pub fn scope_of(&self, finding: &str) -> Option<Scope<'_>> {
        if let Some(f) = self.set.findings.iter().find(|f| f.id == finding) {
            return Some(f.scope());
        }
        if let Some(g) = self
            .set
            .class_groups
            .iter()
            .find(|g| g.findings.iter().any(|f| f.id == finding))
        {
            return Some(g.scope());
        }
        self.set
            .classifier
            .as_ref()
            .filter(|h| h.findings.iter().any(|f| f.id == finding))
            .map(|h| h.scope())
    }

    /// A prompt pair's (present, absent) text vectors at `level`, for heatmaps.
    pub fn pair_texts(&self, finding: &str, level: Level) -> Option<(&TextVectors, &TextVectors)> {
        let spec = self.set.findings.iter().find(|f| f.id == finding)?;
        let (present, absent) = spec.prompts_at(prompt_key(level));
        Some((self.texts.get(present)?, self.texts.get(absent)?))
    }

    /// The text vectors of a class group finding at `level`: (its classes, the other classes),
    /// for heatmaps that contrast them.
    pub fn class_sum_texts(
        &self,
        finding: &str,
        level: Level,
    ) -> Option<(Vec<&TextVectors>, Vec<&TextVectors>)> {
        let key = prompt_key(level);
        self.set.class_groups.iter().find_map(|g| {
            let f = g.findings.iter().find(|f| f.id == finding)?;
            let mut inside = Vec::new();
            let mut outside = Vec::new();
            for c in &g.classes {
                let t = self.texts.get(c.prompt_at(key))?;
                if f.classes.contains(&c.id) {
                    inside.push(t);
                } else {
                    outside.push(t);
                }
            }
            Some((inside, outside))
        })
    }

    /// The logit scale of a prompt pair or a class group.
    fn scale(&self, scale: Option<f32>) -> f64 {
        scale.map_or(self.default_scale, f64::from)
    }

    /// Scores every finding that applies at `level`.
    pub fn score(&self, level: Level, inputs: &LevelInputs<'_>) -> Result<Scored, EmbedError> {
        let mut scored = Scored::default();
        let at = score_level(level);
        let key = prompt_key(level);
        for f in &self.set.findings {
            let scope = f.scope();
            if !scope.allows_level(at) {
                continue;
            }
            let Some(vector) = (inputs.vector)(scope)? else {
                continue;
            };
            let (present, absent) = f.prompts_at(key);
            let (Some(p), Some(a)) = (self.texts.get(present), self.texts.get(absent)) else {
                continue;
            };
            let z = self.scale(f.scale)
                * (cosine(&vector, level.text(p)) - cosine(&vector, level.text(a)));
            scored.findings.push(calibrated(
                &f.id,
                &f.name,
                z,
                &f.temperature,
                &f.operating_point,
                level,
            ));
        }
        for g in &self.set.class_groups {
            let scope = g.scope();
            if !scope.allows_level(at) {
                continue;
            }
            let Some(vector) = (inputs.vector)(scope)? else {
                continue;
            };
            let logits: Option<Vec<f64>> = g
                .classes
                .iter()
                .map(|c| {
                    self.texts
                        .get(c.prompt_at(key))
                        .map(|t| self.scale(g.scale) * cosine(&vector, level.text(t)))
                })
                .collect();
            let Some(logits) = logits else {
                continue;
            };
            let shares = softmax(&logits);
            let classes: Vec<(&str, &str)> = g
                .classes
                .iter()
                .map(|c| (c.id.as_str(), c.name.as_str()))
                .collect();
            push_group(
                &mut scored,
                (&g.id, &g.name),
                &classes,
                &g.findings,
                &shares,
                level,
            );
        }
        if let Some(h) = &self.set.classifier {
            let scope = h.scope();
            if scope.allows_level(at)
                && let Some(shares) = (inputs.head)(scope)
                && shares.len() == h.classes.len()
            {
                let classes: Vec<(&str, &str)> = h
                    .classes
                    .iter()
                    .map(|c| (c.id.as_str(), c.name.as_str()))
                    .collect();
                push_group(
                    &mut scored,
                    (&h.id, &h.name),
                    &classes,
                    &h.findings,
                    &shares,
                    level,
                );
            }
        }
        Ok(scored)
    }

    /// The head outputs a classifier finding sums (their indices), for a class-specific map of
    /// the head; `None` for unknown ids and text findings.
    pub fn head_classes(&self, finding: &str) -> Option<Vec<usize>> {
        let head = self.set.classifier.as_ref()?;
        let sum = head.findings.iter().find(|f| f.id == finding)?;
        sum.classes
            .iter()
            .map(|id| head.classes.iter().position(|c| &c.id == id))
            .collect()
    }

    /// A head's class probabilities from its logits.
    pub fn head_probabilities(&self, logits: &[f32]) -> Option<Vec<f64>> {
        let head = self.set.classifier.as_ref()?;
        let logits: Vec<f64> = logits.iter().map(|z| f64::from(*z)).collect();
        Some(match head.activation {
            HeadActivation::Softmax => softmax(&logits),
            HeadActivation::Sigmoid => logits.iter().map(|z| sigmoid(*z)).collect(),
        })
    }
}

/// A group's (or head's) sums of classes and its distribution; `classes` are (id, name).
fn push_group(
    scored: &mut Scored,
    (id, name): (&str, &str),
    classes: &[(&str, &str)],
    sums: &[ClassSumFinding],
    shares: &[f64],
    level: Level,
) {
    let ids: Vec<&str> = classes.iter().map(|(id, _)| *id).collect();
    push_sums(scored, sums, &ids, shares, level);
    scored.distributions.push(ClassDistribution {
        id: id.to_string(),
        name: name.to_string(),
        classes: classes
            .iter()
            .zip(shares)
            .map(|((id, name), p)| ClassShare {
                id: id.to_string(),
                name: name.to_string(),
                probability: *p,
            })
            .collect(),
    });
}

fn push_sums(
    scored: &mut Scored,
    sums: &[ClassSumFinding],
    ids: &[&str],
    shares: &[f64],
    level: Level,
) {
    for f in sums {
        let p: f64 = ids
            .iter()
            .zip(shares)
            .filter(|(id, _)| f.classes.iter().any(|c| c == *id))
            .map(|(_, p)| p)
            .sum();
        scored.findings.push(calibrated(
            &f.id,
            &f.name,
            logit(p),
            &f.temperature,
            &f.operating_point,
            level,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uncalibrated_sum_keeps_its_probability_and_is_never_flagged() {
        let none = PerLevel::new();
        let op: PerLevel = [("eye".to_string(), 0.1)].into_iter().collect();
        let p = calibrated("x", "x", logit(0.7), &none, &op, Level::RightEye);
        assert!((p.probability - 0.7).abs() < 1e-9);
        assert!(!p.calibrated);
        assert!(
            !p.refer,
            "an operating point without a validation flags nothing"
        );
        let t: PerLevel = [("eye".to_string(), 1.0)].into_iter().collect();
        let p = calibrated("x", "x", logit(0.7), &t, &op, Level::RightEye);
        assert!(p.calibrated && p.refer);
    }

    #[test]
    fn softmax_sums_to_one() {
        let s = softmax(&[1.0, 2.0, 3.0]);
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(s[2] > s[1] && s[1] > s[0]);
    }
}
