//! OpenAI-style CLIP image tower (EyeCLIP's), in burn: patch conv → class token + positions →
//! `ln_pre` → pre-LN transformer blocks (QuickGELU MLP, fused-qkv attention) → `ln_post` on the
//! class token → `proj`. Field names follow the OpenAI/open_clip state dict, so published
//! checkpoints load with two key rules (see [`super::open_clip_keys`]).

use std::path::Path;

use super::open_clip_keys::{LoadError, load_open_clip_state_dict};
use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig};
use burn::prelude::*;

use super::transformer::{BlockSpec, Transformer, run_blocks};

/// Hyper-parameters of a CLIP ViT image tower.
#[derive(Config, Debug)]
pub struct ClipVisionConfig {
    /// Input side in pixels (224 for EyeCLIP).
    pub image_size: usize,
    /// Patch side in pixels (32 for ViT-B/32, 16 for B/16, 14 for L/14).
    pub patch_size: usize,
    /// Token width (768 for B, 1024 for L).
    pub width: usize,
    /// Transformer blocks.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Output embedding size (512 for B/32 and B/16, 768 for L/14).
    pub embed_dim: usize,
}

impl ClipVisionConfig {
    /// OpenAI ViT-B/32 (EyeCLIP's image tower): 224 px, patch 32, width 768, 12 × 12 heads, 512-d.
    pub fn vit_b32() -> Self {
        Self::new(224, 32, 768, 12, 12, 512)
    }

    /// OpenAI ViT-B/16: 224 px, patch 16, width 768, 12 × 12 heads, 512-d.
    pub fn vit_b16() -> Self {
        Self::new(224, 16, 768, 12, 12, 512)
    }

    /// OpenAI ViT-L/14: 224 px, patch 14, width 1024, 24 × 16 heads, 768-d.
    pub fn vit_l14() -> Self {
        Self::new(224, 14, 1024, 24, 16, 768)
    }

    /// Tokens per image: one per patch plus the class token.
    pub fn tokens(&self) -> usize {
        (self.image_size / self.patch_size).pow(2) + 1
    }

    /// Builds the tower with placeholder weights (to be loaded) on `device`.
    pub fn init(&self, device: &Device) -> ClipVision {
        let w = self.width;
        ClipVision {
            conv1: Conv2dConfig::new([3, w], [self.patch_size, self.patch_size])
                .with_stride([self.patch_size, self.patch_size])
                .with_bias(false)
                .init(device),
            class_embedding: Initializer::Zeros.init([w], device),
            positional_embedding: Initializer::Zeros.init([self.tokens(), w], device),
            ln_pre: LayerNormConfig::new(w).init(device),
            transformer: Transformer {
                resblocks: BlockSpec::clip(w, self.heads).init_stack(self.layers, device),
            },
            ln_post: LayerNormConfig::new(w).init(device),
            proj: Initializer::Zeros.init([w, self.embed_dim], device),
        }
    }
}

/// The image tower.
#[derive(Module, Debug)]
pub struct ClipVision {
    /// Patch embedding, no bias: `[width, 3, patch, patch]`.
    pub conv1: Conv2d,
    /// Class token, `[width]`.
    pub class_embedding: Param<Tensor<1>>,
    /// Learned positions, `[tokens, width]`.
    pub positional_embedding: Param<Tensor<2>>,
    /// LayerNorm before the blocks.
    pub ln_pre: LayerNorm,
    /// The blocks.
    pub transformer: Transformer,
    /// LayerNorm on the class token.
    pub ln_post: LayerNorm,
    /// Projection to the joint embedding space, used as `x @ proj`: `[width, embed_dim]`.
    pub proj: Param<Tensor<2>>,
}

impl ClipVision {
    /// Images `[batch, 3, size, size]` (normalised) → embeddings `[batch, embed_dim]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward_with_attention(images).0
    }

    /// The tokens entering the first block: patches + class token + positions, after `ln_pre`
    /// (`[batch, tokens, width]`), and the patch grid `(rows, columns)`.
    pub fn input_tokens(&self, images: Tensor<4>) -> (Tensor<3>, (usize, usize)) {
        let patches = self.conv1.forward(images);
        let [batch, width, grid_h, grid_w] = patches.dims();
        let patches = patches
            .reshape([batch, width, grid_h * grid_w])
            .swap_dims(1, 2);
        let class = self
            .class_embedding
            .val()
            .reshape([1, 1, width])
            .expand([batch, 1, width]);
        let tokens = Tensor::cat(vec![class, patches], 1);
        let positions = self.positional_embedding.val().unsqueeze_dim::<3>(0);
        (self.ln_pre.forward(tokens + positions), (grid_h, grid_w))
    }

    /// The embedding from the last block's output tokens: `ln_post` on the class token, `proj`.
    pub fn embed_tokens(&self, x: Tensor<3>) -> Tensor<2> {
        let [batch, _, width] = x.dims();
        let class_token = x.narrow(1, 0, 1).reshape([batch, width]);
        self.ln_post.forward(class_token).matmul(self.proj.val())
    }

    /// Every block's attention maps (for attention rollout) and the patch grid
    /// `(rows, columns)`.
    pub fn all_attention_maps(&self, images: Tensor<4>) -> (Vec<Tensor<4>>, (usize, usize)) {
        let (mut x, grid) = self.input_tokens(images);
        let mut maps = Vec::with_capacity(self.transformer.resblocks.len());
        for block in &self.transformer.resblocks {
            let (next, m) = block.forward(x, None);
            x = next;
            maps.push(m);
        }
        (maps, grid)
    }

    /// Embeddings and the last block's attention maps `[batch, heads, tokens, tokens]`.
    pub fn forward_with_attention(&self, images: Tensor<4>) -> (Tensor<2>, Tensor<4>) {
        let (x, _) = self.input_tokens(images);
        let (x, maps) = run_blocks(&self.transformer.resblocks, x, None);
        let embedding = self.embed_tokens(x);
        (embedding, maps)
    }
}

/// Loads an open_clip/OpenAI state dict (safetensors) into the tower; see
/// [`super::open_clip_keys`] for the key rules. Keys of the text tower are ignored.
pub fn load_open_clip_visual(model: &mut ClipVision, path: &Path) -> Result<(), LoadError> {
    load_open_clip_state_dict(model, path, Some("visual"))
}
