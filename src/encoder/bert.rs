//! BERT text encoder (RET-CLIP's RoBERTa-wwm-ext-base-chinese tower), in burn: word + position +
//! token-type embeddings → LayerNorm → post-LN blocks (exact GELU, eps 1e-12) with padding
//! masked out of attention. Returns every token's hidden state; RET-CLIP pools the first
//! (`[CLS]`).
//!
//! Checkpoint keys are Hugging Face's (`bert.embeddings.*`, `bert.encoder.layer.N.*` with
//! separate `query`/`key`/`value`); [`BERT_RENAMES`] maps them onto the shared
//! [`super::transformer`] block, and the loader fuses q, k, v.

use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig};
use burn::prelude::*;

use super::transformer::{
    Activation, BlockSpec, NormPlacement, ResidualAttentionBlock, run_blocks,
};

/// Hyper-parameters of a BERT encoder.
#[derive(Config, Debug)]
pub struct BertConfig {
    /// Vocabulary size (21,128 for the Chinese BERT vocabulary).
    pub vocab_size: usize,
    /// Token width.
    pub hidden_size: usize,
    /// Blocks.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// MLP hidden width.
    pub intermediate_size: usize,
    /// Positions the model has embeddings for (the longest possible input).
    pub max_position_embeddings: usize,
    /// Token types (segments).
    #[config(default = 2)]
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    #[config(default = 1e-12)]
    pub layer_norm_eps: f64,
}

impl BertConfig {
    /// RoBERTa-wwm-ext-base-chinese (RET-CLIP's text tower): 768 wide, 12 × 12 heads, FFN 3072.
    pub fn roberta_wwm_ext_base_chinese() -> Self {
        Self::new(21_128, 768, 12, 12, 3072, 512)
    }

    /// Builds the encoder with placeholder weights (to be loaded) on `device`.
    pub fn init(&self, device: &Device) -> Bert {
        let spec = BlockSpec {
            width: self.hidden_size,
            heads: self.heads,
            mlp_width: self.intermediate_size,
            activation: Activation::Gelu,
            norm: NormPlacement::Post,
            layer_norm_eps: self.layer_norm_eps,
        };
        let w = self.hidden_size;
        Bert {
            embeddings: BertEmbeddings {
                word_embeddings: EmbeddingConfig::new(self.vocab_size, w).init(device),
                position_embeddings: EmbeddingConfig::new(self.max_position_embeddings, w)
                    .init(device),
                token_type_embeddings: EmbeddingConfig::new(self.type_vocab_size, w).init(device),
                layer_norm: LayerNormConfig::new(w)
                    .with_epsilon(self.layer_norm_eps)
                    .init(device),
            },
            layers: spec.init_stack(self.layers, device),
        }
    }
}

/// The embedding layer.
#[derive(Module, Debug)]
pub struct BertEmbeddings {
    /// Token embeddings.
    pub word_embeddings: Embedding,
    /// Position embeddings.
    pub position_embeddings: Embedding,
    /// Segment embeddings (all inputs here are segment 0).
    pub token_type_embeddings: Embedding,
    /// Norm of the sum.
    pub layer_norm: LayerNorm,
}

/// The encoder.
#[derive(Module, Debug)]
pub struct Bert {
    /// Embeddings.
    pub embeddings: BertEmbeddings,
    /// Blocks (post-LN).
    pub layers: Vec<ResidualAttentionBlock>,
}

impl Bert {
    /// Token ids `[batch, tokens]` (padded with `pad_id`) → hidden states
    /// `[batch, tokens, width]` and the last block's attention maps. Padding gets no attention.
    pub fn forward(&self, ids: Tensor<2, Int>, pad_id: i64) -> (Tensor<3>, Tensor<4>) {
        let [batch, tokens] = ids.dims();
        let device = ids.device();
        let positions = Tensor::<1, Int>::arange(0..tokens as i64, &device)
            .reshape([1, tokens])
            .expand([batch, tokens]);
        let segments = Tensor::<2, Int>::zeros([batch, tokens], &device);
        let e = &self.embeddings;
        let x = e.word_embeddings.forward(ids.clone())
            + e.position_embeddings.forward(positions)
            + e.token_type_embeddings.forward(segments);
        let x = e.layer_norm.forward(x);
        let padding = ids
            .equal_elem(pad_id)
            .reshape([batch, 1, tokens])
            .expand([batch, tokens, tokens]);
        run_blocks(&self.layers, x, Some(&padding))
    }
}

/// Hugging Face BERT key names (under `bert.`) → this module's. The original Chinese-CLIP
/// flash-attention export (`attention.self.Wqkv`, `attention.self.out_proj`) is read too.
pub const BERT_RENAMES: &[(&str, &str)] = &[
    (
        r"^bert\.embeddings\.LayerNorm\.",
        "bert.embeddings.layer_norm.",
    ),
    (
        r"^bert\.encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.",
        "bert.layers.$1.attn.$2.",
    ),
    (
        r"^bert\.encoder\.layer\.(\d+)\.attention\.self\.Wqkv\.",
        "bert.layers.$1.attn.in_proj.",
    ),
    (
        r"^bert\.encoder\.layer\.(\d+)\.attention\.(output\.dense|self\.out_proj)\.",
        "bert.layers.$1.attn.out_proj.",
    ),
    (
        r"^bert\.encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.",
        "bert.layers.$1.ln_1.",
    ),
    (
        r"^bert\.encoder\.layer\.(\d+)\.intermediate\.dense\.",
        "bert.layers.$1.mlp.c_fc.",
    ),
    (
        r"^bert\.encoder\.layer\.(\d+)\.output\.dense\.",
        "bert.layers.$1.mlp.c_proj.",
    ),
    (
        r"^bert\.encoder\.layer\.(\d+)\.output\.LayerNorm\.",
        "bert.layers.$1.ln_2.",
    ),
];

/// BERT keys not used for CLS-pooled embeddings: the pooler (RET-CLIP never calls it) and
/// the `position_ids` buffer some versions save.
pub const BERT_TRAINING_ONLY_KEYS: &[&str] =
    &[r"^bert\.pooler\.", r"^bert\.embeddings\.position_ids$"];
