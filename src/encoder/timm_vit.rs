//! timm's VisionTransformer (RETFound's architecture), in burn: patch conv (with bias) → class
//! token + positions → pre-LN blocks (exact GELU, LayerNorm eps 1e-6, fused `qkv` with bias) →
//! either `norm` and the class token (`token` pool) or the mean of the patch tokens and
//! `fc_norm` (`avg` pool, RETFound's classifiers) → optional linear `head`.
//!
//! Checkpoint keys are timm's (`patch_embed.proj`, `cls_token`, `pos_embed`,
//! `blocks.N.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}`, `norm`, `fc_norm`, `head`);
//! [`TIMM_RENAMES`] maps them onto the shared [`super::transformer`] block. An MAE-pretrained
//! file keeps its weights under `model` with `decoder_*` and `mask_token` beside them: those are
//! dropped.

use std::path::Path;

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::checkpoint::{KeyRules, LoadError, LoadReport, RawCheckpoint, apply_checkpoint};
use super::transformer::{
    Activation, BlockSpec, NormPlacement, ResidualAttentionBlock, run_blocks,
};

/// How the tokens become one feature vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VitPool {
    /// `norm` on all tokens, then the class token (timm's default, MAE pretraining).
    Token,
    /// Mean of the patch tokens, then `fc_norm` (RETFound's fine-tuned classifiers).
    Avg,
}

/// Hyper-parameters of a timm ViT.
#[derive(Config, Debug)]
pub struct TimmVitConfig {
    /// Input side in pixels.
    pub image_size: usize,
    /// Patch side in pixels.
    pub patch_size: usize,
    /// Token width (1024 for ViT-L).
    pub width: usize,
    /// Transformer blocks.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Pooling.
    pub pool: VitPool,
    /// Classes of the linear head; 0 for a feature extractor without head.
    #[config(default = 0)]
    pub num_classes: usize,
    /// MLP hidden width as a multiple of `width`.
    #[config(default = 4.0)]
    pub mlp_ratio: f64,
    /// LayerNorm epsilon (timm's ViTs: 1e-6).
    #[config(default = 1e-6)]
    pub layer_norm_eps: f64,
}

impl TimmVitConfig {
    /// ViT-L/16 at 224 px (RETFound): width 1024, 24 blocks × 16 heads.
    pub fn vit_large_patch16(pool: VitPool, num_classes: usize) -> Self {
        Self::new(224, 16, 1024, 24, 16, pool).with_num_classes(num_classes)
    }

    /// ViT-B/16 at 224 px: width 768, 12 blocks × 12 heads.
    pub fn vit_base_patch16(pool: VitPool, num_classes: usize) -> Self {
        Self::new(224, 16, 768, 12, 12, pool).with_num_classes(num_classes)
    }

    /// Takes the pooling and the head from what a checkpoint holds: `fc_norm` means average
    /// pooling (RETFound's classifiers), its absence the class token; `head.weight`'s rows are
    /// the classes.
    pub fn fitted_to(mut self, checkpoint: &RawCheckpoint) -> Self {
        self.pool = if checkpoint.shape_of("fc_norm.weight").is_some() {
            VitPool::Avg
        } else {
            VitPool::Token
        };
        self.num_classes = checkpoint
            .shape_of("head.weight")
            .and_then(|shape| shape.first().copied())
            .unwrap_or(0);
        self
    }

    /// Tokens per image: one per patch plus the class token.
    pub fn tokens(&self) -> usize {
        (self.image_size / self.patch_size).pow(2) + 1
    }

    fn block_spec(&self) -> BlockSpec {
        BlockSpec {
            width: self.width,
            heads: self.heads,
            mlp_width: (self.width as f64 * self.mlp_ratio).round() as usize,
            activation: Activation::Gelu,
            norm: NormPlacement::Pre,
            layer_norm_eps: self.layer_norm_eps,
        }
    }

    /// Builds the model with placeholder weights (to be loaded) on `device`.
    pub fn init(&self, device: &Device) -> TimmVit {
        let w = self.width;
        let ln = || {
            LayerNormConfig::new(w)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        TimmVit {
            patch_embed: PatchEmbed {
                proj: Conv2dConfig::new([3, w], [self.patch_size, self.patch_size])
                    .with_stride([self.patch_size, self.patch_size])
                    .init(device),
            },
            cls_token: Initializer::Zeros.init([1, 1, w], device),
            pos_embed: Initializer::Zeros.init([1, self.tokens(), w], device),
            blocks: self.block_spec().init_stack(self.layers, device),
            norm: (self.pool == VitPool::Token).then(ln),
            fc_norm: (self.pool == VitPool::Avg).then(ln),
            head: (self.num_classes > 0)
                .then(|| LinearConfig::new(w, self.num_classes).init(device)),
            pool: self.pool,
        }
    }
}

/// The patch embedding (timm's `patch_embed`).
#[derive(Module, Debug)]
pub struct PatchEmbed {
    /// `[width, 3, patch, patch]` convolution with bias.
    pub proj: Conv2d,
}

/// The model.
#[derive(Module, Debug)]
pub struct TimmVit {
    /// Patch embedding.
    pub patch_embed: PatchEmbed,
    /// Class token, `[1, 1, width]`.
    pub cls_token: Param<Tensor<3>>,
    /// Learned positions including the class token's, `[1, tokens, width]`.
    pub pos_embed: Param<Tensor<3>>,
    /// The blocks.
    pub blocks: Vec<ResidualAttentionBlock>,
    /// Norm on all tokens (token pooling).
    pub norm: Option<LayerNorm>,
    /// Norm on the pooled feature (average pooling).
    pub fc_norm: Option<LayerNorm>,
    /// Classifier.
    pub head: Option<Linear>,
    /// Pooling (not a weight).
    #[module(skip)]
    pub pool: VitPool,
}

/// What one forward pass gives.
#[derive(Debug, Clone)]
pub struct TimmVitOutput {
    /// Pooled, normed features `[batch, width]` (the head's input).
    pub features: Tensor<2>,
    /// Head logits `[batch, classes]`, when the model has a head.
    pub logits: Option<Tensor<2>>,
    /// The last block's attention maps `[batch, heads, tokens, tokens]`.
    pub attention: Tensor<4>,
}

impl TimmVit {
    /// Images `[batch, 3, size, size]` (normalised) → features, logits and attention.
    pub fn forward(&self, images: Tensor<4>) -> TimmVitOutput {
        let patches = self.patch_embed.proj.forward(images);
        let [batch, width, grid_h, grid_w] = patches.dims();
        let patches = patches
            .reshape([batch, width, grid_h * grid_w])
            .swap_dims(1, 2);
        let class = self.cls_token.val().expand([batch, 1, width]);
        let x = Tensor::cat(vec![class, patches], 1) + self.pos_embed.val();
        let (mut x, attention) = run_blocks(&self.blocks, x, None);
        if let Some(norm) = &self.norm {
            x = norm.forward(x);
        }
        let mut features = match self.pool {
            VitPool::Token => x.narrow(1, 0, 1).reshape([batch, width]),
            VitPool::Avg => x
                .narrow(1, 1, grid_h * grid_w)
                .mean_dim(1)
                .reshape([batch, width]),
        };
        if let Some(fc_norm) = &self.fc_norm {
            features = fc_norm.forward(features);
        }
        let logits = self
            .head
            .as_ref()
            .map(|head| head.forward(features.clone()));
        TimmVitOutput {
            features,
            logits,
            attention,
        }
    }
}

/// timm key names → the shared block's.
pub const TIMM_RENAMES: &[(&str, &str)] = &[
    (r"^blocks\.(\d+)\.norm1\.", "blocks.$1.ln_1."),
    (r"^blocks\.(\d+)\.norm2\.", "blocks.$1.ln_2."),
    (r"^blocks\.(\d+)\.attn\.qkv\.", "blocks.$1.attn.in_proj."),
    (r"^blocks\.(\d+)\.attn\.proj\.", "blocks.$1.attn.out_proj."),
    (r"^blocks\.(\d+)\.mlp\.fc1\.", "blocks.$1.mlp.c_fc."),
    (r"^blocks\.(\d+)\.mlp\.fc2\.", "blocks.$1.mlp.c_proj."),
];

/// MAE pretraining leftovers in RETFound's files: the reconstruction decoder and mask token.
pub const TIMM_TRAINING_ONLY_KEYS: &[&str] = &[r"^decoder_", r"^mask_token$"];

/// Loads a timm / RETFound checkpoint that has been read; every key must be used or
/// training-only.
pub fn load_timm_checkpoint(
    model: &mut TimmVit,
    path: &Path,
    raw: RawCheckpoint,
) -> Result<LoadReport, LoadError> {
    apply_checkpoint(
        model,
        path,
        raw,
        &KeyRules {
            renames: TIMM_RENAMES,
            training_only: TIMM_TRAINING_ONLY_KEYS,
            ignore_unused: false,
        },
    )
}
