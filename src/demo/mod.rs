//! The demo room: everything that makes and checks Fovea's demo model, and nothing the app
//! needs at run time. It sits above `analysis` and `library` and is, with `cli`, the only room
//! that uses `synth`. It is also the one room besides `encoder` that uses burn: training needs
//! autodiff and an optimiser, which inference never does.
//!
//! - [`findings`]: the demo model's vocabulary (finding ids, prompt pairs, modalities, views);
//! - [`train`]: rendering synthetic splits in memory and training with burn's autodiff, with
//!   [`guidance`] (lesion guidance of the last block's attention);
//! - [`eval`]: scoring splits, calibration (temperatures, operating points; also of an
//!   existing pack, `train-demo --recalibrate`), held-out evaluation, the pack and model card;
//! - [`pointing_game`]: do heatmaps peak on the generator's lesions?
//! - [`seeded`]: a small untrained pack with seeded weights for pictures of the viewer.

pub mod domain;
pub mod eval;
pub mod findings;
pub mod guidance;
pub mod pointing_game;
pub mod seeded;
pub mod train;
