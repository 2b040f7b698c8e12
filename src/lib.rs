//! Fovea: an offline desktop viewer for ophthalmology.
//!
//! The crate is organised in rooms whose dependencies point one way (see `ARCHITECTURE.md`;
//! `tests/integration/rooms.rs` enforces it), from the top:
//! - [`ui`]: the egui/eframe viewer (the only room that knows egui);
//! - [`cli`]: the headless commands of the `fovea` binary;
//! - [`demo`]: training, calibration and evaluation of the demo model, the pointing game;
//! - [`analysis`]: gradeability, findings per image/eye/patient, zero-shot text, heatmaps;
//! - [`library`]: the case library of reference cases and similar-case retrieval;
//! - [`encoder`]: the models (EyeCLIP, RET-CLIP, RETFound's timm ViT), checkpoints, packs,
//!   devices and the burn-free `EncoderSession` (inference and import only);
//! - [`study`]: files → patients → studies → eyes → images (DICOM, DICOMDIR, plain images),
//!   metadata scan, pixel decoding and clinical grades;
//! - [`reliability`]: the parser entry points shared by the fuzz targets and the corpus
//!   replay test;
//! - [`synth`]: seeded synthetic patients written as real DICOM and PNG with ground truth —
//!   the demo data and test material.
//!
//! Shared pieces any room may use: [`worker`] (the one background worker type) and
//! [`path_error`] (an I/O error with its path).

pub mod analysis;
pub mod cli;
pub mod demo;
pub mod encoder;
pub mod library;
pub mod path_error;
pub mod reliability;
pub mod study;
pub mod synth;
pub mod ui;
pub mod validation;
pub mod worker;
