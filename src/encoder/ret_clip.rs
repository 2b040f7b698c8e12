//! RET-CLIP (MICCAI 2024): a Chinese-CLIP ViT image tower shared by both eyes, a BERT text
//! tower, and the *tripartite* heads that give left-eye, right-eye and patient-level spaces:
//! - images: `left_feature_mapping` / `right_feature_mapping` (Linear 512→512, no bias) on one
//!   eye's feature; `global_feature_mapping` (Linear 1024→512, no bias) on
//!   `concat(left, right)` for the patient;
//! - texts: three heads on BERT's `[CLS]` state, each Linear(768→768) → ReLU → Linear(768→512):
//!   `text_projection` (patient), `text_projection_left`, `text_projection_right`;
//! - three logit scales, kept in the pack's manifest.
//!
//! Chinese-CLIP's image tower is OpenAI's (QuickGELU, pre-LN, `ln_post` + `proj`), so it is
//! [`ClipVision`]. Fovea's demo model uses the same heads on an OpenAI-style text tower, so the
//! heads are their own module ([`TripartiteHeads`]).

use std::path::Path;

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::bert::{BERT_RENAMES, BERT_TRAINING_ONLY_KEYS, Bert, BertConfig};
use super::checkpoint::{KeyRules, LoadError, LoadReport, RawCheckpoint, apply_checkpoint};
use super::clip_vision::{ClipVision, ClipVisionConfig};

/// Which eye a feature belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// OS.
    Left,
    /// OD.
    Right,
}

/// Hyper-parameters of RET-CLIP.
#[derive(Config, Debug)]
pub struct RetClipConfig {
    /// The image tower.
    pub vision: ClipVisionConfig,
    /// The text tower.
    pub text: BertConfig,
    /// Token positions the tokenizer fills (RET-CLIP's scripts: 150; at most the BERT's
    /// position embeddings).
    #[config(default = 150)]
    pub context_length: usize,
}

impl RetClipConfig {
    /// RET-CLIP as published: ViT-B/16 + RoBERTa-wwm-ext-base-chinese, 512-d spaces.
    pub fn published() -> Self {
        Self::new(
            ClipVisionConfig::vit_b16(),
            BertConfig::roberta_wwm_ext_base_chinese(),
        )
    }

    /// Builds the model with placeholder weights (to be loaded) on `device`.
    pub fn init(&self, device: &Device) -> RetClip {
        RetClip {
            visual: self.vision.init(device),
            bert: self.text.init(device),
            heads: TripartiteHeads::new(self.vision.embed_dim, self.text.hidden_size, device),
        }
    }
}

/// The text heads' MLP: `outer(relu(inner(x)))` (`.0` and `.2` of a PyTorch `Sequential`).
#[derive(Module, Debug)]
pub struct TextHead {
    /// `text_width → text_width`.
    pub inner: Linear,
    /// `text_width → embed_dim`.
    pub outer: Linear,
}

impl TextHead {
    /// `[batch, text_width]` → `[batch, embed_dim]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.outer.forward(relu(self.inner.forward(x)))
    }
}

/// RET-CLIP's image mappings and text heads.
#[derive(Module, Debug)]
pub struct TripartiteHeads {
    /// Patient-level text head.
    pub text_projection: TextHead,
    /// Left-eye text head.
    pub text_projection_left: TextHead,
    /// Right-eye text head.
    pub text_projection_right: TextHead,
    /// Patient-level image mapping on `concat(left, right)`, no bias.
    pub global_feature_mapping: Linear,
    /// Left-eye image mapping, no bias.
    pub left_feature_mapping: Linear,
    /// Right-eye image mapping, no bias.
    pub right_feature_mapping: Linear,
}

/// Text embeddings in the three spaces, each `[batch, embed_dim]`.
#[derive(Debug, Clone)]
pub struct TripartiteText {
    /// Patient-level.
    pub patient: Tensor<2>,
    /// Left eye.
    pub left: Tensor<2>,
    /// Right eye.
    pub right: Tensor<2>,
}

impl TripartiteHeads {
    /// Heads for `embed_dim`-d image features and `text_width`-d pooled text states.
    pub fn new(embed_dim: usize, text_width: usize, device: &Device) -> Self {
        let head = || TextHead {
            inner: LinearConfig::new(text_width, text_width).init(device),
            outer: LinearConfig::new(text_width, embed_dim).init(device),
        };
        let mapping = |inputs: usize| {
            LinearConfig::new(inputs, embed_dim)
                .with_bias(false)
                .init(device)
        };
        TripartiteHeads {
            text_projection: head(),
            text_projection_left: head(),
            text_projection_right: head(),
            global_feature_mapping: mapping(2 * embed_dim),
            left_feature_mapping: mapping(embed_dim),
            right_feature_mapping: mapping(embed_dim),
        }
    }

    /// One eye's image feature `[batch, embed_dim]` in that eye's space.
    pub fn eye(&self, features: Tensor<2>, side: Side) -> Tensor<2> {
        match side {
            Side::Left => self.left_feature_mapping.forward(features),
            Side::Right => self.right_feature_mapping.forward(features),
        }
    }

    /// The patient-level feature from both eyes' image features.
    pub fn patient(&self, left: Tensor<2>, right: Tensor<2>) -> Tensor<2> {
        self.global_feature_mapping
            .forward(Tensor::cat(vec![left, right], 1))
    }

    /// Pooled text states `[batch, text_width]` in the three spaces.
    pub fn text(&self, pooled: Tensor<2>) -> TripartiteText {
        TripartiteText {
            patient: self.text_projection.forward(pooled.clone()),
            left: self.text_projection_left.forward(pooled.clone()),
            right: self.text_projection_right.forward(pooled),
        }
    }
}

/// The model. Checkpoint keys: `visual.*`, `bert.*` and the heads' at the top level.
#[derive(Module, Debug)]
pub struct RetClip {
    /// Image tower (shared by both eyes).
    pub visual: ClipVision,
    /// Text tower.
    pub bert: Bert,
    /// Tripartite heads (their keys sit at the checkpoint's top level).
    pub heads: TripartiteHeads,
}

/// BERT's padding id.
pub const PAD_ID: i64 = 0;

impl RetClip {
    /// Images `[batch, 3, size, size]` → shared image features `[batch, embed_dim]` (before any
    /// eye or patient mapping).
    pub fn encode_image(&self, images: Tensor<4>) -> Tensor<2> {
        self.visual.forward(images)
    }

    /// Token ids `[batch, context]` (from [`super::wordpiece::WordPieceTokenizer`]) → text
    /// embeddings in the three spaces.
    pub fn encode_text(&self, ids: Tensor<2, Int>) -> TripartiteText {
        let (hidden, _) = self.bert.forward(ids, PAD_ID);
        let [batch, _, width] = hidden.dims();
        let cls = hidden.narrow(1, 0, 1).reshape([batch, width]);
        self.heads.text(cls)
    }
}

/// RET-CLIP's checkpoint keys → this module's.
pub const RET_CLIP_RENAMES: &[(&str, &str)] = &[
    (
        r"^visual\.(.*)\.attn\.(in_proj_|Wqkv\.)(weight|bias)$",
        "visual.$1.attn.in_proj.$3",
    ),
    (r"^(text_projection(_left|_right)?)\.0\.", "heads.$1.inner."),
    (r"^(text_projection(_left|_right)?)\.2\.", "heads.$1.outer."),
    (r"^((global|left|right)_feature_mapping)\.", "heads.$1."),
];

/// Loads a RET-CLIP checkpoint that has been read; every key must be used or training-only
/// (`bert.pooler.*`, the logit scales).
pub fn load_ret_clip_checkpoint(
    model: &mut RetClip,
    path: &Path,
    raw: RawCheckpoint,
) -> Result<LoadReport, LoadError> {
    let renames: Vec<(&str, &str)> = RET_CLIP_RENAMES
        .iter()
        .chain(BERT_RENAMES)
        .copied()
        .collect();
    let training_only: Vec<&str> = BERT_TRAINING_ONLY_KEYS
        .iter()
        .copied()
        .chain([r"^logit_scale(_left|_right)?$"])
        .collect();
    apply_checkpoint(
        model,
        path,
        raw,
        &KeyRules {
            renames: &renames,
            training_only: &training_only,
            ignore_unused: false,
        },
    )
}
