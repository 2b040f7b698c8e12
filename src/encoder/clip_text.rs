//! OpenAI-style CLIP text tower (EyeCLIP's), in burn: token + position embeddings → pre-LN
//! transformer blocks with a causal mask → `ln_final` → the token at `<end_of_text>` (the
//! highest id in each row, as OpenAI pools) → `text_projection`. Field names follow the
//! OpenAI/open_clip state dict.

use std::path::Path;

use burn::module::Param;
use burn::nn::{Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig};
use burn::prelude::*;

use super::open_clip_keys::{LoadError, load_open_clip_state_dict};
use super::transformer::{BlockSpec, Transformer, run_blocks};

/// Hyper-parameters of a CLIP text tower.
#[derive(Config, Debug)]
pub struct ClipTextConfig {
    /// Token positions (77 for OpenAI CLIP).
    pub context_length: usize,
    /// Vocabulary size (49,408 for OpenAI CLIP).
    pub vocab_size: usize,
    /// Token width (512 for ViT-B models).
    pub width: usize,
    /// Transformer blocks.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Output embedding size.
    pub embed_dim: usize,
}

impl ClipTextConfig {
    /// The text tower of OpenAI ViT-B models (EyeCLIP): width 512, 12 × 8 heads, 512-d.
    pub fn vit_b() -> Self {
        Self::new(77, 49_408, 512, 12, 8, 512)
    }

    /// The text tower of OpenAI ViT-L/14: width 768, 12 × 12 heads, 768-d.
    pub fn vit_l14() -> Self {
        Self::new(77, 49_408, 768, 12, 12, 768)
    }

    /// Builds the tower with placeholder weights (to be loaded) on `device`.
    pub fn init(&self, device: &Device) -> ClipText {
        ClipText {
            token_embedding: EmbeddingConfig::new(self.vocab_size, self.width).init(device),
            positional_embedding: Initializer::Zeros
                .init([self.context_length, self.width], device),
            transformer: Transformer {
                resblocks: BlockSpec::clip(self.width, self.heads).init_stack(self.layers, device),
            },
            ln_final: LayerNormConfig::new(self.width).init(device),
            text_projection: Initializer::Zeros.init([self.width, self.embed_dim], device),
        }
    }
}

/// The text tower.
#[derive(Module, Debug)]
pub struct ClipText {
    /// Token embeddings, `[vocab, width]`.
    pub token_embedding: Embedding,
    /// Learned positions, `[context, width]`.
    pub positional_embedding: Param<Tensor<2>>,
    /// The blocks (causal).
    pub transformer: Transformer,
    /// Final norm.
    pub ln_final: LayerNorm,
    /// Projection to the joint space, used as `x @ text_projection`: `[width, embed_dim]`.
    pub text_projection: Param<Tensor<2>>,
}

impl ClipText {
    /// Token ids `[batch, context]` (from [`super::clip_tokenizer::ClipTokenizer`]) →
    /// embeddings `[batch, embed_dim]`.
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<2> {
        self.pooled(ids).matmul(self.text_projection.val())
    }

    /// The final-norm state at each row's `<end_of_text>`, before `text_projection`:
    /// `[batch, width]` (the input of tripartite text heads).
    pub fn pooled(&self, ids: Tensor<2, Int>) -> Tensor<2> {
        let [batch, context] = ids.dims();
        let device = ids.device();
        let x = self.token_embedding.forward(ids.clone())
            + self.positional_embedding.val().unsqueeze_dim::<3>(0);
        // Token i may attend to tokens 0..=i only.
        let blocked = Tensor::<2, Bool>::tril_mask([context, context], 0, &device).unsqueeze::<3>();
        let (x, _) = run_blocks(&self.transformer.resblocks, x, Some(&blocked));
        let x = self.ln_final.forward(x);
        let [_, _, width] = x.dims();
        let end_of_text = ids
            .argmax(1)
            .reshape([batch, 1, 1])
            .expand([batch, 1, width]);
        x.gather(1, end_of_text).reshape([batch, width])
    }
}

/// Loads an open_clip/OpenAI state dict (safetensors) into the text tower; image-tower keys
/// are ignored (see [`super::open_clip_keys`]).
pub fn load_open_clip_text(model: &mut ClipText, path: &Path) -> Result<(), LoadError> {
    load_open_clip_state_dict(model, path, None)
}
