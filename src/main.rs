//! The `fovea` binary: [`fovea::cli`] parses the command line and runs the headless commands;
//! without a command it hands the request to [`fovea::ui`], the viewer. This file is the one
//! place the two top rooms meet (neither imports the other).

use fovea::cli::ViewerRequest;
use fovea::ui::{ModelPlacement, ViewerConfig};

fn main() -> std::process::ExitCode {
    fovea::cli::main(|request: ViewerRequest| {
        fovea::ui::run(ViewerConfig {
            paths: request.paths,
            pack: request.pack,
            library: request.library,
            model_on: if request.cpu_model {
                ModelPlacement::Cpu
            } else {
                ModelPlacement::GpuIfReal
            },
            pixel_stable: false,
            scan: request.scan,
            demo_patients: Some(request.demo_patients),
        })
    })
}
