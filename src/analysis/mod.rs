//! The analysis room: turns a pack's vectors into what a clinician reads — per-image, per-eye
//! and patient-level finding probabilities with gradeability, zero-shot free text, and heatmaps. Knows
//! study types and the encoder's session API (plain vectors), never burn's types.

pub mod appearance;
pub mod domain;
pub mod engine;
pub mod findings;
pub mod heatmap;
pub mod quality;
pub mod scorer;
pub mod zero_shot;
