//! OpenAI-style CLIP image tower (EyeCLIP's), in burn: patch conv → class token + positions →
//! `ln_pre` → pre-LN transformer blocks (QuickGELU MLP, fused-qkv attention) → `ln_post` on the
//! class token → `proj`. Field names follow the OpenAI/open_clip state dict, so published
//! checkpoints load with two key rules (see [`super::open_clip_keys`]).

use std::path::Path;

use super::open_clip_keys::{LoadError, load_open_clip_state_dict};
use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};

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
                resblocks: (0..self.layers)
                    .map(|_| ResidualAttentionBlock::new(w, self.heads, device))
                    .collect(),
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

/// The stack of blocks (named as in the checkpoint: `transformer.resblocks.N`).
#[derive(Module, Debug)]
pub struct Transformer {
    /// Blocks in order.
    pub resblocks: Vec<ResidualAttentionBlock>,
}

/// Pre-LN block: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
#[derive(Module, Debug)]
pub struct ResidualAttentionBlock {
    /// Norm before attention.
    pub ln_1: LayerNorm,
    /// Multi-head self-attention.
    pub attn: FusedAttention,
    /// Norm before the MLP.
    pub ln_2: LayerNorm,
    /// Feed-forward.
    pub mlp: QuickGeluMlp,
}

impl ResidualAttentionBlock {
    /// A block of `width` with `heads` heads and a 4× MLP, weights to be loaded.
    pub fn new(width: usize, heads: usize, device: &Device) -> Self {
        ResidualAttentionBlock {
            ln_1: LayerNormConfig::new(width).init(device),
            attn: FusedAttention {
                in_proj: LinearConfig::new(width, 3 * width).init(device),
                out_proj: LinearConfig::new(width, width).init(device),
                heads,
            },
            ln_2: LayerNormConfig::new(width).init(device),
            mlp: QuickGeluMlp {
                c_fc: LinearConfig::new(width, 4 * width).init(device),
                c_proj: LinearConfig::new(4 * width, width).init(device),
            },
        }
    }

    /// `[batch, tokens, width]` → same shape, and the attention maps `[batch, heads, tokens, tokens]`.
    /// `blocked` (`[tokens, tokens]`, true = may not attend) makes the attention causal.
    pub fn forward(
        &self,
        x: Tensor<3>,
        blocked: Option<&Tensor<2, Bool>>,
    ) -> (Tensor<3>, Tensor<4>) {
        let (attended, maps) = self.attn.forward(self.ln_1.forward(x.clone()), blocked);
        let x = x + attended;
        let x = x.clone() + self.mlp.forward(self.ln_2.forward(x));
        (x, maps)
    }
}

/// Self-attention with fused q, k, v (`in_proj`, as PyTorch's `MultiheadAttention`) that also
/// returns its softmax maps, so heatmaps need no second implementation.
#[derive(Module, Debug)]
pub struct FusedAttention {
    /// q, k, v in one: `width → 3·width`.
    pub in_proj: Linear,
    /// Output projection.
    pub out_proj: Linear,
    /// Number of heads (not a weight).
    #[module(skip)]
    pub heads: usize,
}

impl FusedAttention {
    /// `[batch, tokens, width]` → (`[batch, tokens, width]`, maps `[batch, heads, tokens, tokens]`);
    /// positions where `blocked` (`[tokens, tokens]`) is true get no attention.
    pub fn forward(
        &self,
        x: Tensor<3>,
        blocked: Option<&Tensor<2, Bool>>,
    ) -> (Tensor<3>, Tensor<4>) {
        let [batch, tokens, width] = x.dims();
        let head_dim = width / self.heads;
        let qkv = self.in_proj.forward(x);
        let split = |i: usize| {
            qkv.clone()
                .narrow(2, i * width, width)
                .reshape([batch, tokens, self.heads, head_dim])
                .swap_dims(1, 2)
        };
        let (q, k, v) = (split(0), split(1), split(2));
        let mut scores = q.matmul(k.swap_dims(2, 3)) / (head_dim as f64).sqrt();
        if let Some(blocked) = blocked {
            let blocked = blocked
                .clone()
                .unsqueeze::<4>()
                .expand([batch, self.heads, tokens, tokens]);
            scores = scores.mask_fill(blocked, f32::NEG_INFINITY);
        }
        let maps = softmax(scores, 3);
        let out = maps
            .clone()
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([batch, tokens, width]);
        (self.out_proj.forward(out), maps)
    }
}

/// `c_proj(quick_gelu(c_fc(x)))`, QuickGELU(x) = x·σ(1.702x) as OpenAI CLIP trained with.
#[derive(Module, Debug)]
pub struct QuickGeluMlp {
    /// Expansion `width → 4·width`.
    pub c_fc: Linear,
    /// Contraction `4·width → width`.
    pub c_proj: Linear,
}

impl QuickGeluMlp {
    /// `[batch, tokens, width]` → same shape.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = self.c_fc.forward(x);
        let h = h.clone() * sigmoid(h * 1.702);
        self.c_proj.forward(h)
    }
}

impl ClipVision {
    /// Images `[batch, 3, size, size]` (normalised) → embeddings `[batch, embed_dim]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward_with_attention(images).0
    }

    /// Embeddings and the last block's attention maps `[batch, heads, tokens, tokens]`.
    pub fn forward_with_attention(&self, images: Tensor<4>) -> (Tensor<2>, Tensor<4>) {
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
        let mut x = self.ln_pre.forward(tokens + positions);
        let mut last_maps = None;
        for block in &self.transformer.resblocks {
            let (next, maps) = block.forward(x, None);
            x = next;
            last_maps = Some(maps);
        }
        let class_token = x.narrow(1, 0, 1).reshape([batch, width]);
        let embedding = self.ln_post.forward(class_token).matmul(self.proj.val());
        let tokens_n = grid_h * grid_w + 1;
        // A tower without blocks has no attention: uniform maps say "no preference".
        let maps = last_maps.unwrap_or_else(|| {
            Tensor::ones([batch, 1, tokens_n, tokens_n], &embedding.device()) / tokens_n as f64
        });
        (embedding, maps)
    }
}

/// Loads an open_clip/OpenAI state dict (safetensors) into the tower; see
/// [`super::open_clip_keys`] for the key rules. Keys of the text tower are ignored.
pub fn load_open_clip_visual(model: &mut ClipVision, path: &Path) -> Result<(), LoadError> {
    load_open_clip_state_dict(model, path, Some("visual"))
}
