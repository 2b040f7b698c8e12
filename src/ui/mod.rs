//! The viewer: an eframe/egui window with the opened patients (left), the selected patient's
//! images in two eye columns (OD left, OS right — the screen faces the clinician as the patient
//! does) with zoom/pan, window/level and heatmap overlays drawn by a WGSL shader, and the
//! model's findings, a free-text prompt box and similar cases from the case library (right).
//! The only room that knows egui.
//!
//! Threads: `fovea-scan` (study scan), `fovea-decode` (pixels), `fovea-analyze` (model:
//! findings, heatmaps, prompts), `fovea-library` (similar cases), `fovea-dialog` (open
//! dialogs), each a [`crate::worker::Worker`]; the frame loop only polls their bounded
//! channels. The state is split by lifetime in `state` (Session, Jobs, View).

mod analysis_job;
mod app;
mod chrome;
mod commands;
mod compare;
mod dialogs;
pub mod display;
mod eye_column;
mod gpu_image;
mod image_view;
mod jobs;
mod library_job;
mod localizer;
mod model_tool;
mod model_tool_job;
mod pack_card;
mod packs;
mod queries;
mod requests;
mod settings;
mod side_panel;
mod state;
mod status;
pub mod view_transform;
mod welcome;

use std::sync::Arc;

pub use app::{FoveaApp, ModelPlacement, ViewerConfig};
pub use chrome::SHORTCUTS;
pub use settings::Settings;

/// eframe's options: the window, and (`share`) a wgpu device made with the descriptor burn
/// needs, so the model can run on the window's GPU.
fn native_options(share: bool) -> eframe::NativeOptions {
    let mut options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Fovea")
            .with_inner_size([1400.0, 900.0])
            .with_drag_and_drop(true)
            .with_icon(window_icon()),
        ..Default::default()
    };
    if share {
        let mut wgpu = options.wgpu_options;
        wgpu.wgpu_setup = shared_with_the_model(wgpu.wgpu_setup);
        options.wgpu_options = wgpu;
    }
    options
}

/// Fovea's icon for the window (the desktop entry's icon, `packaging/linux/fovea.png`); none
/// when it cannot be read, and the window gets the platform's default.
fn window_icon() -> egui::IconData {
    eframe::icon_data::from_png_bytes(include_bytes!("../../packaging/linux/fovea.png"))
        .unwrap_or_default()
}

/// `setup` with the device made as burn needs it (all the adapter's features and limits), so
/// the model can run on the window's device ([`ModelPlacement`]).
pub fn shared_with_the_model(
    mut setup: eframe::egui_wgpu::WgpuSetup,
) -> eframe::egui_wgpu::WgpuSetup {
    if let eframe::egui_wgpu::WgpuSetup::CreateNew(create) = &mut setup {
        create.device_descriptor = Arc::new(crate::encoder::device::compute_device_descriptor);
    }
    setup
}

/// Opens the viewer; returns when the window closes. When the window cannot start with a
/// device the model can share, it starts again with eframe's default device and the model on
/// the CPU.
pub fn run(config: ViewerConfig) -> Result<(), eframe::Error> {
    let ViewerConfig {
        paths,
        pack,
        library,
        model_on,
        pixel_stable,
        scan,
        demo_patients,
    } = config;
    let start = |model_on: ModelPlacement| {
        let config = ViewerConfig {
            paths: paths.clone(),
            pack: pack.clone(),
            library: library.clone(),
            model_on,
            pixel_stable,
            scan: scan.clone(),
            demo_patients: demo_patients.clone(),
        };
        eframe::run_native(
            "Fovea",
            native_options(model_on != ModelPlacement::Cpu),
            Box::new(move |cc| Ok(Box::new(FoveaApp::new(cc, config)))),
        )
    };
    if model_on == ModelPlacement::Cpu {
        return start(model_on);
    }
    start(model_on).or_else(|error| {
        log::warn!(
            "the window could not start on a device shared with the model ({error}); starting without sharing"
        );
        start(ModelPlacement::Cpu)
    })
}
