//! An OpenAI-style CLIP model (EyeCLIP's architecture): both towers, loaded together from a
//! published checkpoint so that every key is accounted for.

use std::path::Path;

use burn::prelude::*;

use super::clip_text::{ClipText, ClipTextConfig};
use super::clip_vision::{ClipVision, ClipVisionConfig};
use super::open_clip_keys::{LoadError, LoadReport, load_clip_checkpoint};

/// Hyper-parameters of both towers.
#[derive(Config, Debug)]
pub struct ClipConfig {
    /// The image tower.
    pub vision: ClipVisionConfig,
    /// The text tower.
    pub text: ClipTextConfig,
}

impl ClipConfig {
    /// OpenAI ViT-B/32: EyeCLIP's architecture.
    pub fn vit_b32() -> Self {
        Self::new(ClipVisionConfig::vit_b32(), ClipTextConfig::vit_b())
    }

    /// Builds the model with placeholder weights (to be loaded) on `device`.
    pub fn init(&self, device: &Device) -> Clip {
        Clip {
            visual: self.vision.init(device),
            text: self.text.init(device),
        }
    }
}

/// Both towers. In checkpoints the image tower's keys start with `visual.` and the text
/// tower's are at the top level; loading puts the latter under `text.`.
#[derive(Module, Debug)]
pub struct Clip {
    /// Image tower.
    pub visual: ClipVision,
    /// Text tower.
    pub text: ClipText,
}

impl Clip {
    /// Loads a checkpoint (safetensors, or a PyTorch `.pt`/`.pth` with the weights at the top
    /// level or under `model_state_dict` / `state_dict` / `model`), refusing missing keys and
    /// keys left unused other than training-only ones.
    pub fn load(&mut self, path: &Path) -> Result<LoadReport, LoadError> {
        load_clip_checkpoint(self, path)
    }

    /// Images `[batch, 3, size, size]` (preprocessed) → `[batch, embed_dim]`.
    pub fn encode_image(&self, images: Tensor<4>) -> Tensor<2> {
        self.visual.forward(images)
    }

    /// Token ids `[batch, context]` → `[batch, embed_dim]`.
    pub fn encode_text(&self, ids: Tensor<2, Int>) -> Tensor<2> {
        self.text.forward(ids)
    }
}
