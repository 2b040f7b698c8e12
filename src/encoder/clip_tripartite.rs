//! An OpenAI-style CLIP with RET-CLIP's tripartite heads: the architecture of Fovea's demo model.
//! Image-level scores use CLIP's own joint space (`visual` → `proj`, `text` → `text_projection`);
//! eye-level scores map an eye's image feature with the left or right mapping and texts with the
//! left or right text head; patient-level scores map both eyes' features with the patient
//! mapping and texts with the patient head — exactly as RET-CLIP, on a smaller CLIP.

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

/// Builds the model with random weights (for training) on `device`.
pub fn init_clip_tripartite(config: &ClipConfig, device: &Device) -> ClipTripartite {
    ClipTripartite {
        clip: config.init(device),
        heads: TripartiteHeads::new(config.vision.embed_dim, config.text.width, device),
    }
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
