//! The viewer (issue 6, first shell): an eframe/egui window listing the opened patients, the
//! selected patient's images in two eye columns (OD left, OS right — the screen faces the
//! clinician as the patient does) and the findings of the demo model computed in the
//! background. The only room that knows egui.
//!
//! Threads: `fovea-scan` (study scan), `fovea-decode` (pixels), `fovea-analyse` (model); the
//! frame loop only polls their bounded channels.
//!
//! Not yet here (see the issue): zoom/pan and window/level, OCT B-scan navigation and the
//! localizer line, heatmap overlay through WGSL shaders, the prompt box, similar cases, the
//! GPU shared with burn, settings, kittest snapshots.

mod analysis_job;
mod app;

use std::path::PathBuf;

pub use app::FoveaApp;

/// Opens the viewer on `paths` with the model pack `pack`; returns when the window closes.
pub fn run(paths: Vec<PathBuf>, pack: PathBuf) -> Result<(), eframe::Error> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Fovea")
            .with_inner_size([1400.0, 900.0]),
        ..Default::default()
    };
    eframe::run_native(
        "Fovea",
        options,
        Box::new(move |cc| Ok(Box::new(FoveaApp::new(&cc.egui_ctx, paths, pack)))),
    )
}
