//! The architectures `fovea model import --arch` and the viewer's Import dialog name, with
//! the published sizes (a timm ViT's pooling and head, and a ResNet's stem width and head, are
//! then read from the checkpoint).

use super::clip::ClipConfig;
use super::clip_text::ClipTextConfig;
use super::clip_vision::ClipVisionConfig;
use super::pack::Architecture;
use super::resnet::{DEPTHS, ResNetConfig};
use super::ret_clip::RetClipConfig;
use super::timm_vit::{TimmVitConfig, VitPool};

/// The names, with what each is, for lists.
pub const ARCH_NAMES: [&str; 12] = [
    "eyeclip",
    "openai-clip-b16",
    "openai-clip-l14",
    "retclip",
    "retfound",
    "timm-vit-b16",
    "image-fundus",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
];

/// What each name is, in words (same order as [`ARCH_NAMES`]).
pub const ARCH_DESCRIPTIONS: [&str; 12] = [
    "EyeCLIP (OpenAI CLIP ViT-B/32)",
    "OpenAI CLIP ViT-B/16",
    "OpenAI CLIP ViT-L/14",
    "RET-CLIP (Chinese-CLIP ViT-B/16 + BERT, tripartite heads)",
    "RETFound (timm ViT-L/16)",
    "timm ViT-B/16",
    "Image+Fundus (torchvision ResNet-50 at 512 px, MLP head)",
    "torchvision ResNet-18 (224 px)",
    "torchvision ResNet-34 (224 px)",
    "torchvision ResNet-50 (224 px)",
    "torchvision ResNet-101 (224 px)",
    "torchvision ResNet-152 (224 px)",
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
        "image-fundus" => Architecture::Resnet {
            config: ResNetConfig::image_fundus(2),
        },
        other => {
            let (_, block, layers) = DEPTHS.iter().find(|(name, _, _)| *name == other)?;
            Architecture::Resnet {
                config: ResNetConfig::new(224, *block, *layers),
            }
        }
    })
}
