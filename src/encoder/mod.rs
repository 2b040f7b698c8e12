//! The encoder room: the CLIP-family models, their weights and preprocessing (issue 3).
//!
//! So far it holds the text tokenizer of OpenAI-style CLIP models (EyeCLIP); the image and
//! text towers in burn come next. Nothing outside this room will know burn's types.

pub mod clip_tokenizer;
