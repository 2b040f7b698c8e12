//! Fovea: an offline desktop viewer for ophthalmology.
//!
//! The crate is organised in rooms whose dependencies point one way (see `ARCHITECTURE.md`):
//! - [`study`]: files → patients → studies → eyes → images (DICOM, DICOMDIR, plain images),
//!   metadata scan and lazy pixel decoding;
//! - [`synth`]: seeded procedural synthetic patients (fundus, SLO, OCT) written as real DICOM
//!   and PNG with ground-truth labels — the demo data and test material;
//! - [`encoder`]: the CLIP-family models (so far: the CLIP tokenizer);
//! - [`cli`]: the headless commands of the `fovea` binary.

pub mod analysis;
pub mod cli;
pub mod encoder;
pub mod library;
pub mod stats;
pub mod study;
pub mod synth;
pub mod ui;
