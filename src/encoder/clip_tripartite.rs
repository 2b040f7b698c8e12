//! An OpenAI-style CLIP with RET-CLIP's tripartite heads: the architecture of Fovea's demo model.
//! Image-level scores use CLIP's own joint space (`visual` → `proj`, `text` → `text_projection`);
//! eye-level scores map an eye's image feature with the left or right mapping and texts with the
//! left or right text head; patient-level scores map both eyes' features with the patient
//! mapping and texts with the patient head — exactly as RET-CLIP, on a smaller CLIP.

use burn::nn::{EmbeddingConfig, Initializer};
use burn::prelude::*;

use super::clip::{Clip, ClipConfig};
use super::ret_clip::{TripartiteHeads, TripartiteText};

/// A CLIP plus tripartite heads.
#[derive(Module, Debug)]
pub struct ClipTripartite {
    /// Both towers.
    pub clip: Clip,
    /// Eye and patient mappings, three text heads (on the text tower's pooled state).
    pub heads: TripartiteHeads,
}

/// Builds the model with placeholder weights (to be loaded) on `device`.
pub fn init_clip_tripartite(config: &ClipConfig, device: &Device) -> ClipTripartite {
    ClipTripartite {
        clip: config.init(device),
        heads: TripartiteHeads::new(config.vision.embed_dim, config.text.width, device),
    }
}

/// Builds the model with random weights for training from scratch, initialised as OpenAI CLIP
/// is: projections and the class token N(0, width^-1/2), positions N(0, 0.01), token
/// embeddings N(0, 0.02); Linear layers keep burn's Kaiming-uniform default.
pub fn init_clip_tripartite_for_training(config: &ClipConfig, device: &Device) -> ClipTripartite {
    let mut model = init_clip_tripartite(config, device);
    let normal = |shape: Vec<usize>, std: f64| {
        Initializer::Normal { mean: 0.0, std }.init::<2, _>(shape, device)
    };
    let (v, t) = (&config.vision, &config.text);
    let visual = &mut model.clip.visual;
    visual.proj = normal(vec![v.width, v.embed_dim], (v.width as f64).powf(-0.5));
    visual.positional_embedding = normal(vec![v.tokens(), v.width], 0.01);
    visual.class_embedding = Initializer::Normal {
        mean: 0.0,
        std: (v.width as f64).powf(-0.5),
    }
    .init([v.width], device);
    let text = &mut model.clip.text;
    text.text_projection = normal(vec![t.width, t.embed_dim], (t.width as f64).powf(-0.5));
    text.positional_embedding = normal(vec![t.context_length, t.width], 0.01);
    text.token_embedding = EmbeddingConfig::new(t.vocab_size, t.width)
        .with_initializer(Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        })
        .init(device);
    model
}

impl ClipTripartite {
    /// Images → image-level embeddings `[batch, embed_dim]` (CLIP space; also the input of the
    /// eye and patient mappings).
    pub fn encode_image(&self, images: Tensor<4>) -> Tensor<2> {
        self.clip.encode_image(images)
    }

    /// Token ids → image-level text embeddings (CLIP space).
    pub fn encode_text(&self, ids: Tensor<2, Int>) -> Tensor<2> {
        self.clip.encode_text(ids)
    }

    /// Token ids → text embeddings in the patient, left-eye and right-eye spaces.
    pub fn encode_text_tripartite(&self, ids: Tensor<2, Int>) -> TripartiteText {
        self.heads.text(self.clip.text.pooled(ids))
    }
}
