//! Benchmark: the time from opening the demo patients to the first patient's findings on
//! screen — cold (a new viewer: model load, scan, decode, analysis) and warm (the same folder
//! opened again in the running viewer: scan, decode, analysis) — with the model on burn's CPU
//! backend and on wgpu (the window's own device, made as `fovea` makes it); and the time the
//! UI takes to build a frame while the other patients are analyzed in the background.
//!
//! The viewer runs headless (egui_kittest): frames are built (layout, our UI code, job
//! polling) but not rasterised, so frame times are the UI thread's work, not the GPU's.
//!
//! Usage: `viewer_open [runs]` (default 3).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use fovea::ui::{FoveaApp, ModelPlacement, ViewerConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Steps frames until `done`; returns the elapsed time and every frame's build time.
fn until(
    harness: &mut Harness<'_, FoveaApp>,
    done: impl Fn(&FoveaApp) -> bool,
) -> (Duration, Vec<Duration>) {
    let start = Instant::now();
    let mut frames = Vec::new();
    while !done(harness.state()) {
        let t = Instant::now();
        harness.step();
        frames.push(t.elapsed());
        assert!(start.elapsed() < Duration::from_secs(600), "gave up");
        std::thread::sleep(Duration::from_millis(1));
    }
    (start.elapsed(), frames)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let folder = root().join("assets/demo/dicom");
    println!(
        "| model on | run | cold: open → findings | warm: reopen → findings | frame p50 | frame p95 | frame max | frames |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, placement) in [
        ("CPU (burn flex)", ModelPlacement::Cpu),
        ("wgpu (window's device)", ModelPlacement::WindowDevice),
    ] {
        for run in 1..=runs {
            let setup = fovea::ui::shared_with_the_model(egui_kittest::wgpu::default_wgpu_setup());
            let opened = Instant::now();
            let mut harness = Harness::builder()
                .with_size(egui::vec2(1400.0, 900.0))
                .wgpu_setup(setup)
                .build_eframe(|cc| {
                    FoveaApp::new(
                        cc,
                        ViewerConfig {
                            paths: vec![folder.clone()],
                            pack: root().join("models/demo"),
                            library: Some(root().join("assets/library")),
                            model_on: placement,
                            pixel_stable: false,
                            scan: Default::default(),
                            demo_patients: None,
                        },
                    )
                });
            until(&mut harness, FoveaApp::selected_analyzed);
            harness.step(); // the frame that shows them
            let cold = opened.elapsed();
            // Frames while the other three patients are analyzed.
            let (_, mut frames) = until(&mut harness, FoveaApp::analysis_finished);
            let reopened = Instant::now();
            harness.state_mut().open_paths(vec![folder.clone()]);
            until(&mut harness, FoveaApp::selected_analyzed);
            harness.step();
            let warm = reopened.elapsed();
            frames.sort_unstable();
            println!(
                "| {name} | {run} | {:.2} s | {:.2} s | {:.2} ms | {:.2} ms | {:.2} ms | {} |",
                cold.as_secs_f64(),
                warm.as_secs_f64(),
                percentile(&frames, 0.5).as_secs_f64() * 1e3,
                percentile(&frames, 0.95).as_secs_f64() * 1e3,
                frames.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
                frames.len()
            );
        }
    }
}
