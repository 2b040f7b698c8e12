//! The finding sets Fovea ships (`models/finding-sets/`, compiled into the binary so an
//! installed copy has them), which one `fovea model import` attaches to which architecture,
//! and whether a set fits a pack at all.

use super::finding_set::{
    ClassSumFinding, ClassifierHead, FINDING_SET_FORMAT_VERSION, FindingSet, FindingSetError,
    HeadActivation, HeadClass,
};
use super::pack::Architecture;
use super::resnet::ResNetHead;

/// Every bundled set: (file name, JSON).
pub const BUNDLED: &[(&str, &str)] = &[
    (
        "eyeclip.json",
        include_str!("../../models/finding-sets/eyeclip.json"),
    ),
    (
        "image-fundus.json",
        include_str!("../../models/finding-sets/image-fundus.json"),
    ),
    (
        "image-fundus-amd.json",
        include_str!("../../models/finding-sets/image-fundus-amd.json"),
    ),
    (
        "image-fundus-dmr.json",
        include_str!("../../models/finding-sets/image-fundus-dmr.json"),
    ),
    (
        "image-fundus-erm.json",
        include_str!("../../models/finding-sets/image-fundus-erm.json"),
    ),
    (
        "image-fundus-glaucoma.json",
        include_str!("../../models/finding-sets/image-fundus-glaucoma.json"),
    ),
    (
        "image-fundus-glaucoma-suspect.json",
        include_str!("../../models/finding-sets/image-fundus-glaucoma-suspect.json"),
    ),
    (
        "image-fundus-pathologic-myopia.json",
        include_str!("../../models/finding-sets/image-fundus-pathologic-myopia.json"),
    ),
    (
        "image-fundus-rvo.json",
        include_str!("../../models/finding-sets/image-fundus-rvo.json"),
    ),
    (
        "ret-clip.json",
        include_str!("../../models/finding-sets/ret-clip.json"),
    ),
    (
        "retfound-dr5.json",
        include_str!("../../models/finding-sets/retfound-dr5.json"),
    ),
    (
        "retfound-glaucoma2.json",
        include_str!("../../models/finding-sets/retfound-glaucoma2.json"),
    ),
    (
        "retfound-glaucoma3.json",
        include_str!("../../models/finding-sets/retfound-glaucoma3.json"),
    ),
    (
        "retfound-oct5.json",
        include_str!("../../models/finding-sets/retfound-oct5.json"),
    ),
];

/// A bundled set by file name.
pub fn bundled(file: &str) -> Result<FindingSet, FindingSetError> {
    let (_, json) = BUNDLED
        .iter()
        .find(|(name, _)| *name == file)
        .ok_or_else(|| FindingSetError::Invalid {
            origin: file.to_string(),
            problem: "no bundled finding set of this name".to_string(),
        })?;
    FindingSet::parse(json.as_bytes(), &format!("models/finding-sets/{file}"))
}

/// The serde tag of an architecture (`openai_clip`, `ret_clip`, `timm_vit`, `clip_tripartite`,
/// `resnet`).
pub fn architecture_kind(architecture: &Architecture) -> &'static str {
    match architecture {
        Architecture::OpenaiClip { .. } => "openai_clip",
        Architecture::RetClip { .. } => "ret_clip",
        Architecture::TimmVit { .. } => "timm_vit",
        Architecture::ClipTripartite { .. } => "clip_tripartite",
        Architecture::Resnet { .. } => "resnet",
    }
}

/// The set `fovea model import` attaches: EyeCLIP's classes to an OpenAI-style CLIP,
/// RET-CLIP's diagnoses to RET-CLIP, and to a ViT with a head its outputs named by index
/// (`output 0`, …) — which head a checkpoint has, only its user knows (`--findings`). A ResNet
/// with Image+Fundus's two-output MLP head gets the released pretraining head's normal vs
/// abnormal; another head, numbered outputs. A model without a head scores nothing: `None`.
pub fn default_for(architecture: &Architecture) -> Result<Option<FindingSet>, FindingSetError> {
    Ok(match architecture {
        Architecture::OpenaiClip { .. } => Some(bundled("eyeclip.json")?),
        Architecture::RetClip { .. } => Some(bundled("ret-clip.json")?),
        Architecture::ClipTripartite { .. } => None,
        Architecture::TimmVit { config } if config.num_classes > 0 => {
            Some(numbered_head(config.num_classes))
        }
        Architecture::TimmVit { .. } => None,
        Architecture::Resnet { config } => match (config.head, config.num_classes) {
            (_, 0) | (ResNetHead::None, _) => None,
            (ResNetHead::Mlp { .. }, 2) => Some(bundled("image-fundus.json")?),
            (_, classes) => Some(numbered_head(classes)),
        },
    })
}

/// A head whose outputs are only numbered: each output is a finding of its own.
fn numbered_head(classes: usize) -> FindingSet {
    let head_classes: Vec<HeadClass> = (0..classes)
        .map(|i| HeadClass {
            id: format!("output_{i}"),
            name: format!("head output {i}"),
        })
        .collect();
    let findings = head_classes
        .iter()
        .map(|c| ClassSumFinding {
            id: c.id.clone(),
            name: c.name.clone(),
            classes: vec![c.id.clone()],
            temperature: Default::default(),
            operating_point: Default::default(),
        })
        .collect();
    FindingSet {
        format_version: FINDING_SET_FORMAT_VERSION,
        name: format!("{classes}-output classifier head (outputs not named)"),
        source: "the checkpoint's head; no finding set was given".to_string(),
        note: Some(
            "Name the outputs with a finding set: fovea model findings <pack> --set FILE --out <new pack> (bundled: models/finding-sets/retfound-*.json)."
                .to_string(),
        ),
        architectures: Vec::new(),
        findings: Vec::new(),
        class_groups: Vec::new(),
        classifier: Some(ClassifierHead {
            id: "head".to_string(),
            name: "classifier head".to_string(),
            classes: head_classes,
            activation: HeadActivation::Softmax,
            modalities: Vec::new(),
            levels: Vec::new(),
            findings,
        }),
    }
}

/// Refuses a set that a pack of `architecture` cannot score: one written for other
/// architectures, prompts for a pack without a text tower, a classifier for a pack without a
/// head or with another number of outputs.
pub fn check_fits(
    set: &FindingSet,
    architecture: &Architecture,
    origin: &str,
) -> Result<(), FindingSetError> {
    let invalid = |problem: String| FindingSetError::Invalid {
        origin: origin.to_string(),
        problem,
    };
    let kind = architecture_kind(architecture);
    if !set.architectures.is_empty() && !set.architectures.iter().any(|a| a == kind) {
        return Err(invalid(format!(
            "written for {}, and this pack is {kind}",
            set.architectures.join(", ")
        )));
    }
    if set.needs_text() && !architecture.has_text_tower() {
        return Err(invalid(
            "it scores prompts, and this model has no text encoder (use a classifier head set)"
                .to_string(),
        ));
    }
    if let Some(head) = &set.classifier {
        let outputs = architecture.head_classes();
        if outputs == 0 {
            return Err(invalid(
                "it names a classifier head's outputs, and this model has no classifier head"
                    .to_string(),
            ));
        }
        if outputs != head.classes.len() {
            return Err(invalid(format!(
                "it names {} head outputs, and this model's head has {outputs}",
                head.classes.len()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::clip::ClipConfig;
    use crate::encoder::timm_vit::{TimmVitConfig, VitPool};

    #[test]
    fn every_bundled_set_parses_and_checks() {
        for (file, _) in BUNDLED {
            let set = bundled(file).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(!set.is_empty(), "{file} scores nothing");
            assert!(!set.source.is_empty(), "{file} cites no source");
        }
    }

    #[test]
    fn import_attaches_the_set_of_the_architecture() {
        let clip = Architecture::OpenaiClip {
            config: ClipConfig::vit_b32(),
        };
        let set = default_for(&clip).expect("bundled").expect("a set");
        assert_eq!(set.class_groups[0].id, "dr_grade");
        let headless = Architecture::TimmVit {
            config: TimmVitConfig::vit_base_patch16(VitPool::Avg, 0),
        };
        assert!(default_for(&headless).expect("no error").is_none());
        let five = Architecture::TimmVit {
            config: TimmVitConfig::vit_base_patch16(VitPool::Avg, 5),
        };
        let numbered = default_for(&five).expect("no error").expect("a set");
        assert_eq!(numbered.classifier.map(|h| h.classes.len()), Some(5));
    }

    #[test]
    fn a_set_that_does_not_fit_is_refused_with_the_reason() {
        let three = Architecture::TimmVit {
            config: TimmVitConfig::vit_base_patch16(VitPool::Avg, 3),
        };
        let dr5 = bundled("retfound-dr5.json").expect("bundled");
        let error = check_fits(&dr5, &three, "dr5").expect_err("5 ≠ 3");
        assert!(error.to_string().contains("head has 3"), "{error}");
        let eyeclip = bundled("eyeclip.json").expect("bundled");
        assert!(check_fits(&eyeclip, &three, "eyeclip").is_err());
        let glaucoma3 = bundled("retfound-glaucoma3.json").expect("bundled");
        check_fits(&glaucoma3, &three, "g3").expect("fits");
    }
}
