//! The encoder room: inference and import only — the models, their checkpoints, packs,
//! preprocessing, devices, and the burn-free [`session::EncoderSession`] the rooms above use.
//!
//! Architectures: OpenAI-style CLIP (EyeCLIP) — [`clip`], [`clip_vision`], [`clip_text`];
//! RET-CLIP — [`ret_clip`] (Chinese-CLIP image tower, [`bert`] text tower, tripartite heads);
//! timm ViT (RETFound) — [`timm_vit`]. All are built from one block ([`transformer`]) whose
//! attention returns its maps. Checkpoints load through [`checkpoint`] with per-architecture
//! key rules, and become model [`pack`]s. Nothing outside this room knows burn's types, except
//! the demo room, which trains the demo model ([`crate::demo`]).

pub mod bert;
pub mod bundled_sets;
pub mod checkpoint;
pub mod clip;
pub mod clip_text;
pub mod clip_tokenizer;
pub mod clip_tripartite;
pub mod clip_vision;
pub mod device;
pub mod domain;
pub mod embed;
pub mod finding_set;
pub mod open_clip_keys;
pub mod pack;
pub mod pickle_audit;
pub mod preprocess;
pub mod presets;
pub mod resnet;
pub mod ret_clip;
pub mod session;
pub mod timm_vit;
pub mod transformer;
pub mod verified;
pub mod wordpiece;
