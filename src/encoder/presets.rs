//! The architectures `fovea model import --arch` and the viewer's Import dialog name, with
//! the published sizes (a timm ViT's pooling and head are then read from the checkpoint).

use super::clip::ClipConfig;
use super::clip_text::ClipTextConfig;
use super::clip_vision::ClipVisionConfig;
use super::pack::Architecture;
use super::ret_clip::RetClipConfig;
use super::timm_vit::{TimmVitConfig, VitPool};

/// The names, with what each is, for lists.
pub const ARCH_NAMES: [&str; 6] = [
    "eyeclip",
    "openai-clip-b16",
    "openai-clip-l14",
    "retclip",
    "retfound",
    "timm-vit-b16",
];

/// What each name is, in words (same order as [`ARCH_NAMES`]).
pub const ARCH_DESCRIPTIONS: [&str; 6] = [
    "EyeCLIP (OpenAI CLIP ViT-B/32)",
    "OpenAI CLIP ViT-B/16",
    "OpenAI CLIP ViT-L/14",
    "RET-CLIP (Chinese-CLIP ViT-B/16 + BERT, tripartite heads)",
    "RETFound (timm ViT-L/16)",
    "timm ViT-B/16",
];

/// The architecture of a name (also `openai-clip-b32` = `eyeclip`, `timm-vit-l16` =
/// `retfound`), `None` for an unknown one.
pub fn preset(arch: &str) -> Option<Architecture> {
    Some(match arch {
        "eyeclip" | "openai-clip-b32" => Architecture::OpenaiClip {
            config: ClipConfig::vit_b32(),
        },
        "openai-clip-b16" => Architecture::OpenaiClip {
            config: ClipConfig::new(ClipVisionConfig::vit_b16(), ClipTextConfig::vit_b()),
        },
        "openai-clip-l14" => Architecture::OpenaiClip {
            config: ClipConfig::new(ClipVisionConfig::vit_l14(), ClipTextConfig::vit_l14()),
        },
        "retclip" => Architecture::RetClip {
            config: RetClipConfig::published(),
        },
        "retfound" | "timm-vit-l16" => Architecture::TimmVit {
            config: TimmVitConfig::vit_large_patch16(VitPool::Avg, 0),
        },
        "timm-vit-b16" => Architecture::TimmVit {
            config: TimmVitConfig::vit_base_patch16(VitPool::Avg, 0),
        },
        _ => return None,
    })
}
