//! The encoder room: the CLIP-family models, their weights and preprocessing (issue 3).
//!
//! So far: the text tokenizer and the image tower of OpenAI-style CLIP models (EyeCLIP); the
//! text tower, RET-CLIP and RETFound come next. Nothing outside this room will know burn's types.

pub mod clip_tokenizer;
pub mod clip_vision;
