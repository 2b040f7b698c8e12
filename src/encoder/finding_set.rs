//! Finding sets: what a pack scores, in a documented, versioned JSON format
//! (`models/finding-sets/*.json`, schema `models/finding-sets/finding-set.schema.json`).
//!
//! A set holds three kinds of finding, each with an id and a name for display:
//! - **prompt pairs** ([`FindingSpec`]): `sigmoid(scale · (cos(v, prompt) − cos(v, negative)))`;
//! - **class groups** ([`ClassGroup`]): a softmax over class prompts, `softmax(scale · cos)`, as
//!   EyeCLIP scores DR grades zero-shot. A finding of the group is a *sum* of classes
//!   (referable DR = moderate + severe + proliferative) and the grade distribution is kept;
//! - **classifier heads** ([`ClassifierHead`]): for fine-tuned ViTs (RETFound), head index →
//!   class, and findings as sums of classes.
//!
//! Every finding may be limited to some modalities (no glaucoma from a macular B-scan) and some
//! levels (image, eye, patient), and may use other prompts at some levels — RET-CLIP's text
//! heads are per eye and for both eyes, and the authors phrase prompts in Chinese accordingly.
//!
//! Calibration lives beside each finding: `temperature` and `operating_point` per level key
//! (`image`, `eye`, `patient`), fitted on labelled images (`fovea model validate`). Every
//! finding has one raw logit per level (the prompt pair's, or `logit(Σ p)` for sums of classes);
//! its probability is `sigmoid(logit / T)`, or the raw probability when it has no temperature.
//!
//! Unknown keys are refused, with the key and the file named.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::path_error::AtPath;
use crate::study::Modality;

/// The finding-set format this build reads and writes.
pub const FINDING_SET_FORMAT_VERSION: u32 = 1;

/// Per-level values (`image`, `eye`, `patient`).
pub type PerLevel = BTreeMap<String, f32>;

/// The level keys calibration and prompts are stored under.
pub const LEVEL_KEYS: [&str; 3] = ["image", "eye", "patient"];

/// Where a finding is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreLevel {
    /// One image.
    Image,
    /// One eye (all its gradable images).
    Eye,
    /// The patient (both eyes).
    Patient,
}

impl ScoreLevel {
    /// The key of per-level maps.
    pub fn key(self) -> &'static str {
        match self {
            ScoreLevel::Image => "image",
            ScoreLevel::Eye => "eye",
            ScoreLevel::Patient => "patient",
        }
    }
}

/// Where a finding applies: modalities and levels; empty lists mean all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope<'a> {
    /// Modalities the finding may be scored on; empty: every modality.
    pub modalities: &'a [Modality],
    /// Levels it is scored at; empty: image, eye and patient.
    pub levels: &'a [ScoreLevel],
}

impl Scope<'_> {
    /// Whether images of `modality` may be scored.
    pub fn allows_modality(&self, modality: Modality) -> bool {
        self.modalities.is_empty() || self.modalities.contains(&modality)
    }

    /// Whether the finding is scored at `level`.
    pub fn allows_level(&self, level: ScoreLevel) -> bool {
        self.levels.is_empty() || self.levels.contains(&level)
    }
}

/// Kinds of finding that carry a [`Scope`].
macro_rules! scoped {
    ($($t:ty),*) => {$(
        impl $t {
            /// Where it applies.
            pub fn scope(&self) -> Scope<'_> {
                Scope { modalities: &self.modalities, levels: &self.levels }
            }
        }
    )*};
}
scoped!(FindingSpec, ClassGroup, ClassifierHead);

/// One finding scored zero-shot from a pair of prompts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FindingSpec {
    /// Stable id (`referable_dr`).
    pub id: String,
    /// Name shown to people.
    pub name: String,
    /// Text describing the finding present.
    pub prompt: String,
    /// Text describing it absent.
    pub negative_prompt: String,
    /// Prompts used instead at some levels, by level key (`image`, `right_eye`, `left_eye`,
    /// `patient`): `[present, absent]`. RET-CLIP's eye heads read per-eye phrasing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub level_prompts: BTreeMap<String, [String; 2]>,
    /// Logit scale; absent: the pack's `exp(logit_scale)`, else 100 (CLIP's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<f32>,
    /// Modalities it may be scored on; empty: every modality.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modalities: Vec<Modality>,
    /// Levels it is scored at; empty: image, eye and patient.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<ScoreLevel>,
    /// Temperatures `T` fitted on labelled images, per level.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub temperature: PerLevel,
    /// Probability at or above which the finding is flagged for referral, per level.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub operating_point: PerLevel,
}

impl FindingSpec {
    /// The (present, absent) prompts at a level key (`image`, `right_eye`, `left_eye`,
    /// `patient`).
    pub fn prompts_at(&self, level_key: &str) -> (&str, &str) {
        match self.level_prompts.get(level_key) {
            Some([present, absent]) => (present, absent),
            None => (&self.prompt, &self.negative_prompt),
        }
    }
}

/// One class of a class group: a prompt, with others at some levels.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClassPrompt {
    /// Stable id within the group (`moderate`).
    pub id: String,
    /// Name shown to people.
    pub name: String,
    /// The class prompt (EyeCLIP: the raw class name).
    pub prompt: String,
    /// Prompts used instead at some levels, by level key (`image`, `right_eye`, `left_eye`,
    /// `patient`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub level_prompts: BTreeMap<String, String>,
}

impl ClassPrompt {
    /// The prompt at a level key.
    pub fn prompt_at(&self, level_key: &str) -> &str {
        self.level_prompts
            .get(level_key)
            .map_or(self.prompt.as_str(), String::as_str)
    }
}

/// A finding made of classes: its probability is the sum of theirs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClassSumFinding {
    /// Stable id (`referable_dr`).
    pub id: String,
    /// Name shown to people.
    pub name: String,
    /// The class ids summed.
    pub classes: Vec<String>,
    /// Temperatures per level, applied to `logit(Σ p)`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub temperature: PerLevel,
    /// Referral thresholds per level.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub operating_point: PerLevel,
}

/// A softmax over class prompts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClassGroup {
    /// Stable id (`dr_grade`).
    pub id: String,
    /// Name shown to people ("Diabetic retinopathy grade").
    pub name: String,
    /// The classes, in display order.
    pub classes: Vec<ClassPrompt>,
    /// Logit scale of the softmax; absent: the pack's `exp(logit_scale)`, else 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<f32>,
    /// Modalities it may be scored on; empty: every modality.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modalities: Vec<Modality>,
    /// Levels it is scored at; empty: image, eye and patient.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<ScoreLevel>,
    /// Findings made of its classes.
    #[serde(default)]
    pub findings: Vec<ClassSumFinding>,
}

/// How a classifier's logits become class probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HeadActivation {
    /// One class per image (grades).
    #[default]
    Softmax,
    /// Independent labels (multi-label heads).
    Sigmoid,
}

/// A class of a classifier head.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HeadClass {
    /// Stable id (`grade_2`).
    pub id: String,
    /// Name shown to people.
    pub name: String,
}

/// A fine-tuned model's classifier head: index → class.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClassifierHead {
    /// Stable id (`dr_grade`).
    pub id: String,
    /// Name shown to people.
    pub name: String,
    /// Classes in head order: `classes[i]` is output `i`.
    pub classes: Vec<HeadClass>,
    /// Softmax (one class) or sigmoid (independent labels).
    #[serde(default)]
    pub activation: HeadActivation,
    /// Modalities it may be scored on; empty: every modality.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modalities: Vec<Modality>,
    /// Levels it is scored at; empty: image, eye and patient.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<ScoreLevel>,
    /// Findings made of its classes.
    #[serde(default)]
    pub findings: Vec<ClassSumFinding>,
}

/// What a set is and where its wording comes from (kept in the pack's manifest).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct FindingSetInfo {
    /// Name shown in the pack card.
    pub name: String,
    /// Where the classes and prompts come from (paper, repository, file).
    pub source: String,
    /// Anything a user should know (for example which head a checkpoint must have).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A finding-set file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FindingSet {
    /// [`FINDING_SET_FORMAT_VERSION`].
    pub format_version: u32,
    /// Name shown in the pack card.
    pub name: String,
    /// Where the classes and prompts come from (paper, repository, file).
    pub source: String,
    /// Anything a user should know (for example which head a checkpoint must have).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Architectures the set is written for (`openai_clip`, `ret_clip`, `timm_vit`,
    /// `clip_tripartite`, `resnet`); empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    /// Prompt-pair findings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<FindingSpec>,
    /// Class groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_groups: Vec<ClassGroup>,
    /// The classifier head, for packs that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<ClassifierHead>,
}

/// Why a finding set cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FindingSetError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not JSON, an unknown key, or a value of the wrong type (serde names the key).
    #[error("{path}: not a finding set: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error (it names an unknown key and where it is).
        source: serde_json::Error,
    },
    /// Parsed, but inconsistent.
    #[error("{origin}: {problem}")]
    Invalid {
        /// The file, or "the pack's manifest".
        origin: String,
        /// What is wrong, in words.
        problem: String,
    },
}

crate::path_error::from_path_error!(FindingSetError, std::io::Error => Io, serde_json::Error => Json);

impl FindingSet {
    /// Reads and checks a finding-set file.
    pub fn read(path: &Path) -> Result<Self, FindingSetError> {
        let bytes = std::fs::read(path).at_path(path)?;
        Self::parse(&bytes, &path.display().to_string())
    }

    /// Parses and checks finding-set JSON; `origin` names it in messages.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Self, FindingSetError> {
        let set: FindingSet =
            serde_json::from_slice(bytes).map_err(|source| FindingSetError::Json {
                path: PathBuf::from(origin),
                source,
            })?;
        set.check(origin)?;
        Ok(set)
    }

    /// What the set is, for the pack's manifest.
    pub fn info(&self) -> FindingSetInfo {
        FindingSetInfo {
            name: self.name.clone(),
            source: self.source.clone(),
            note: self.note.clone(),
        }
    }

    /// Every finding's (id, name), in scoring order: prompt pairs, class groups' sums, the
    /// head's sums.
    pub fn finding_names(&self) -> Vec<(&str, &str)> {
        let pairs = self
            .findings
            .iter()
            .map(|f| (f.id.as_str(), f.name.as_str()));
        let groups = self
            .class_groups
            .iter()
            .flat_map(|g| g.findings.iter().map(|f| (f.id.as_str(), f.name.as_str())));
        let head = self
            .classifier
            .iter()
            .flat_map(|h| h.findings.iter().map(|f| (f.id.as_str(), f.name.as_str())));
        pairs.chain(groups).chain(head).collect()
    }

    /// Every finding id of the set, in scoring order.
    pub fn finding_ids(&self) -> Vec<&str> {
        self.finding_names().into_iter().map(|(id, _)| id).collect()
    }

    /// Whether the set scores anything.
    pub fn is_empty(&self) -> bool {
        self.findings.is_empty() && self.class_groups.is_empty() && self.classifier.is_none()
    }

    /// Whether scoring needs a text tower (prompt pairs or class groups).
    pub fn needs_text(&self) -> bool {
        !self.findings.is_empty() || !self.class_groups.is_empty()
    }

    /// Checks what serde cannot: the version, unique ids, sums naming existing classes,
    /// level keys.
    pub fn check(&self, origin: &str) -> Result<(), FindingSetError> {
        let invalid = |problem: String| FindingSetError::Invalid {
            origin: origin.to_string(),
            problem,
        };
        if self.format_version != FINDING_SET_FORMAT_VERSION {
            return Err(invalid(format!(
                "format_version {} is not supported (this build reads {FINDING_SET_FORMAT_VERSION})",
                self.format_version
            )));
        }
        let mut seen = BTreeSet::new();
        for id in self.finding_ids() {
            if id.trim().is_empty() {
                return Err(invalid("a finding has an empty id".to_string()));
            }
            if !seen.insert(id) {
                return Err(invalid(format!("finding id \"{id}\" is used twice")));
            }
        }
        for f in &self.findings {
            check_level_keys(f.level_prompts.keys(), &f.id).map_err(invalid)?;
            check_calibration_keys(&f.temperature, &f.operating_point, &f.id).map_err(invalid)?;
        }
        for g in &self.class_groups {
            if g.classes.len() < 2 {
                return Err(invalid(format!(
                    "class group \"{}\" needs at least two classes",
                    g.id
                )));
            }
            for c in &g.classes {
                check_level_keys(c.level_prompts.keys(), &format!("{}.{}", g.id, c.id))
                    .map_err(invalid)?;
            }
            let ids: Vec<&str> = g.classes.iter().map(|c| c.id.as_str()).collect();
            check_sums(&g.id, &ids, &g.findings).map_err(invalid)?;
        }
        if let Some(h) = &self.classifier {
            if h.classes.is_empty() {
                return Err(invalid(format!("classifier \"{}\" has no classes", h.id)));
            }
            let ids: Vec<&str> = h.classes.iter().map(|c| c.id.as_str()).collect();
            check_sums(&h.id, &ids, &h.findings).map_err(invalid)?;
        }
        Ok(())
    }
}

/// The level keys prompts may be given for.
const PROMPT_LEVEL_KEYS: [&str; 4] = ["image", "right_eye", "left_eye", "patient"];

fn check_level_keys<'a>(keys: impl Iterator<Item = &'a String>, owner: &str) -> Result<(), String> {
    for key in keys {
        if !PROMPT_LEVEL_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "\"{owner}\": level_prompts key \"{key}\" is not one of {}",
                PROMPT_LEVEL_KEYS.join(", ")
            ));
        }
    }
    Ok(())
}

fn check_calibration_keys(
    temperature: &PerLevel,
    operating_point: &PerLevel,
    owner: &str,
) -> Result<(), String> {
    for (what, map) in [
        ("temperature", temperature),
        ("operating_point", operating_point),
    ] {
        for (key, value) in map {
            if !LEVEL_KEYS.contains(&key.as_str()) {
                return Err(format!(
                    "\"{owner}\": {what} key \"{key}\" is not one of image, eye, patient"
                ));
            }
            if !value.is_finite() || (what == "temperature" && *value <= 0.0) {
                return Err(format!("\"{owner}\": {what} {key} = {value} is not usable"));
            }
        }
    }
    Ok(())
}

fn check_sums(group: &str, classes: &[&str], sums: &[ClassSumFinding]) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for c in classes {
        if !seen.insert(*c) {
            return Err(format!("\"{group}\": class id \"{c}\" is used twice"));
        }
    }
    for f in sums {
        if f.classes.is_empty() {
            return Err(format!("\"{}\" sums no class", f.id));
        }
        for c in &f.classes {
            if !classes.contains(&c.as_str()) {
                return Err(format!(
                    "\"{}\" sums class \"{c}\", which \"{group}\" does not have ({})",
                    f.id,
                    classes.join(", ")
                ));
            }
        }
        check_calibration_keys(&f.temperature, &f.operating_point, &f.id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{
        "format_version": 1, "name": "t", "source": "test",
        "class_groups": [{
            "id": "dr", "name": "DR grade", "modalities": ["colour_fundus"],
            "classes": [
                {"id": "none", "name": "No DR", "prompt": "normal"},
                {"id": "severe", "name": "Severe", "prompt": "severe diabetic retinopathy"}
            ],
            "findings": [{"id": "referable_dr", "name": "Referable DR", "classes": ["severe"]}]
        }]
    }"#;

    #[test]
    fn a_class_group_parses_with_its_scope() {
        let set = FindingSet::parse(MINIMAL.as_bytes(), "t.json").expect("valid");
        let group = &set.class_groups[0];
        assert!(group.scope().allows_modality(Modality::ColourFundus));
        assert!(!group.scope().allows_modality(Modality::Oct));
        assert_eq!(set.finding_ids(), ["referable_dr"]);
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let bad = MINIMAL.replace(
            "\"prompt\": \"normal\"",
            "\"prompt\": \"normal\", \"promt\": 1",
        );
        let error = FindingSet::parse(bad.as_bytes(), "bad.json").expect_err("refused");
        let text = error.to_string();
        assert!(
            text.contains("bad.json") && text.contains("promt"),
            "{text}"
        );
    }

    #[test]
    fn a_sum_of_a_missing_class_is_refused() {
        let bad = MINIMAL.replace("\"classes\": [\"severe\"]", "\"classes\": [\"moderate\"]");
        let error = FindingSet::parse(bad.as_bytes(), "bad.json").expect_err("refused");
        assert!(error.to_string().contains("\"moderate\""), "{error}");
    }
}
