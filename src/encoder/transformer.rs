//! The transformer block every tower in Fovea is made of — OpenAI CLIP's and Chinese-CLIP's
//! image and text towers, timm's ViT (RETFound) and BERT (RET-CLIP's text tower) — with its one
//! attention module (fused q, k, v) that also returns its softmax maps, so heatmaps need no
//! second implementation.
//!
//! The towers differ only in three constants, kept in [`BlockSpec`]: the MLP activation
//! (QuickGELU for OpenAI CLIP, exact GELU for timm and BERT), where the LayerNorms sit (before
//! each sub-layer in ViTs, after the residual sum in BERT) and the LayerNorm epsilon.
//! Field names (`ln_1`, `attn.in_proj`, `attn.out_proj`, `ln_2`, `mlp.c_fc`, `mlp.c_proj`)
//! follow OpenAI's checkpoints; other checkpoints are renamed on import.

use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{gelu, sigmoid, softmax};
use serde::{Deserialize, Serialize};

/// The MLP's non-linearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `x·σ(1.702x)`, as OpenAI CLIP (and Chinese-CLIP's image tower) trained with.
    #[default]
    QuickGelu,
    /// `x·Φ(x)` with the exact (erf) Gaussian CDF, as timm's ViT and BERT use.
    Gelu,
}

/// Where a block's LayerNorms sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NormPlacement {
    /// `x + f(ln(x))` (ViTs, CLIP's text tower).
    #[default]
    Pre,
    /// `ln(x + f(x))` (BERT).
    Post,
}

/// The constants of one kind of block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockSpec {
    /// Token width.
    pub width: usize,
    /// Attention heads (`width` must be a multiple).
    pub heads: usize,
    /// Hidden width of the MLP (4 × width in every tower here).
    pub mlp_width: usize,
    /// MLP non-linearity.
    pub activation: Activation,
    /// LayerNorm placement.
    pub norm: NormPlacement,
    /// LayerNorm epsilon (1e-5 CLIP, 1e-6 timm, 1e-12 BERT).
    pub layer_norm_eps: f64,
}

impl BlockSpec {
    /// OpenAI CLIP's block: 4× QuickGELU MLP, pre-LN, eps 1e-5.
    pub fn clip(width: usize, heads: usize) -> Self {
        BlockSpec {
            width,
            heads,
            mlp_width: 4 * width,
            activation: Activation::QuickGelu,
            norm: NormPlacement::Pre,
            layer_norm_eps: 1e-5,
        }
    }

    /// A block with placeholder weights (to be loaded) on `device`.
    pub fn init(&self, device: &Device) -> ResidualAttentionBlock {
        let w = self.width;
        let ln = || {
            LayerNormConfig::new(w)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        ResidualAttentionBlock {
            ln_1: ln(),
            attn: FusedAttention {
                in_proj: LinearConfig::new(w, 3 * w).init(device),
                out_proj: LinearConfig::new(w, w).init(device),
                heads: self.heads,
            },
            ln_2: ln(),
            mlp: Mlp {
                c_fc: LinearConfig::new(w, self.mlp_width).init(device),
                c_proj: LinearConfig::new(self.mlp_width, w).init(device),
                activation: self.activation,
            },
            norm: self.norm,
        }
    }

    /// `layers` blocks.
    pub fn init_stack(&self, layers: usize, device: &Device) -> Vec<ResidualAttentionBlock> {
        (0..layers).map(|_| self.init(device)).collect()
    }
}

/// A stack of blocks (named as in OpenAI checkpoints: `transformer.resblocks.N`).
#[derive(Module, Debug)]
pub struct Transformer {
    /// Blocks in order.
    pub resblocks: Vec<ResidualAttentionBlock>,
}

/// Runs `blocks` in order; returns the output and the last block's attention maps
/// (`[batch, heads, tokens, tokens]`), or uniform maps when there are no blocks.
pub fn run_blocks(
    blocks: &[ResidualAttentionBlock],
    x: Tensor<3>,
    blocked: Option<&Tensor<3, Bool>>,
) -> (Tensor<3>, Tensor<4>) {
    let [batch, tokens, _] = x.dims();
    let device = x.device();
    let mut x = x;
    let mut last_maps = None;
    for block in blocks {
        let (next, maps) = block.forward(x, blocked);
        x = next;
        last_maps = Some(maps);
    }
    // A tower without blocks has no attention: uniform maps say "no preference".
    let maps = last_maps
        .unwrap_or_else(|| Tensor::ones([batch, 1, tokens, tokens], &device) / tokens as f64);
    (x, maps)
}

/// One transformer block.
#[derive(Module, Debug)]
pub struct ResidualAttentionBlock {
    /// Norm of the attention sub-layer.
    pub ln_1: LayerNorm,
    /// Multi-head self-attention.
    pub attn: FusedAttention,
    /// Norm of the MLP sub-layer.
    pub ln_2: LayerNorm,
    /// Feed-forward.
    pub mlp: Mlp,
    /// Pre- or post-LN (not a weight).
    #[module(skip)]
    pub norm: NormPlacement,
}

impl ResidualAttentionBlock {
    /// `[batch, tokens, width]` → same shape, and the attention maps `[batch, heads, tokens, tokens]`.
    /// `blocked` (`[batch or 1, tokens, tokens]`, true = query may not attend to key) masks
    /// attention: causal for CLIP's text tower, padding for BERT.
    pub fn forward(
        &self,
        x: Tensor<3>,
        blocked: Option<&Tensor<3, Bool>>,
    ) -> (Tensor<3>, Tensor<4>) {
        match self.norm {
            NormPlacement::Pre => {
                let (attended, maps) = self.attn.forward(self.ln_1.forward(x.clone()), blocked);
                let x = x + attended;
                let x = x.clone() + self.mlp.forward(self.ln_2.forward(x));
                (x, maps)
            }
            NormPlacement::Post => {
                let (attended, maps) = self.attn.forward(x.clone(), blocked);
                let x = self.ln_1.forward(x + attended);
                let x = self.ln_2.forward(x.clone() + self.mlp.forward(x));
                (x, maps)
            }
        }
    }
}

/// Self-attention with fused q, k, v (`in_proj`, as PyTorch's `MultiheadAttention` and timm's
/// `qkv`) that also returns its softmax maps.
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
    /// where `blocked` (`[batch or 1, tokens, tokens]`) is true the query gives the key no attention.
    pub fn forward(
        &self,
        x: Tensor<3>,
        blocked: Option<&Tensor<3, Bool>>,
    ) -> (Tensor<3>, Tensor<4>) {
        self.forward_mapped(x, blocked, |maps| maps)
    }

    /// Like [`Self::forward`], passing the softmax maps through `through` before they weight
    /// the values — e.g. to make them a gradient leaf for class-specific heatmaps.
    pub fn forward_mapped(
        &self,
        x: Tensor<3>,
        blocked: Option<&Tensor<3, Bool>>,
        through: impl FnOnce(Tensor<4>) -> Tensor<4>,
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
                .unsqueeze_dim::<4>(1)
                .expand([batch, self.heads, tokens, tokens]);
            scores = scores.mask_fill(blocked, f32::NEG_INFINITY);
        }
        let maps = through(softmax(scores, 3));
        let out = maps
            .clone()
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([batch, tokens, width]);
        (self.out_proj.forward(out), maps)
    }
}

/// `c_proj(act(c_fc(x)))`.
#[derive(Module, Debug)]
pub struct Mlp {
    /// Expansion `width → mlp_width`.
    pub c_fc: Linear,
    /// Contraction `mlp_width → width`.
    pub c_proj: Linear,
    /// Non-linearity (not a weight).
    #[module(skip)]
    pub activation: Activation,
}

impl Mlp {
    /// `[batch, tokens, width]` → same shape.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = self.c_fc.forward(x);
        let h = match self.activation {
            Activation::QuickGelu => h.clone() * sigmoid(h * 1.702),
            Activation::Gelu => gelu(h),
        };
        self.c_proj.forward(h)
    }
}
