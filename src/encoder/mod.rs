//! The encoder room: the CLIP-family models, their weights and preprocessing (issue 3).
//!
//! So far: OpenAI-style CLIP (EyeCLIP): tokenizer, image tower, text tower, and loading of
//! open_clip/OpenAI state dicts. Model packs, RET-CLIP and RETFound come next. Nothing outside this room will know burn's types.

pub mod clip;
pub mod clip_text;
pub mod clip_tokenizer;
pub mod clip_vision;
pub mod device;
pub mod embed;
pub mod open_clip_keys;
pub mod pack;
pub mod preprocess;
