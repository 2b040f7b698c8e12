//! The validation room: a pack validated on a clinic's own labelled images — temperatures and
//! operating points fitted on one half of the patients, AUROC, ECE, sensitivity and
//! specificity with bootstrap intervals on the other half, the domain description, and the
//! report a validated pack carries. `fovea model validate`, the viewer's Model menu and
//! `fovea train-demo --recalibrate` all run it.
//!
//! - [`stats`]: AUROC, ECE, temperature scaling, operating points (pure functions);
//! - [`fit`]: one finding at one level: split, fit, held-out metrics with intervals;
//! - [`run`]: analysis results + labels → every finding, the domain, the new manifest;
//! - [`pack`]: a pack folder + labelled studies → the validated pack folder;
//! - [`report`] + [`plots`]: `VALIDATION.md`, `validation.json`, `roc.png`, `reliability.png`.
//!
//! Below `ui` and `cli`, above `analysis` and `library`; never names burn or egui.

pub mod fit;
pub mod pack;
pub mod plots;
pub mod report;
pub mod run;
pub mod stats;
