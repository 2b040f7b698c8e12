//! The Model menu's slow work on a `fovea-model-tool` thread (a [`Worker`]): importing a
//! checkpoint into an installed pack, and validating the loaded pack on a labelled folder.
//! Progress and the outcome come back as events; failures as plain words.

use std::path::PathBuf;

use crate::encoder::device::DeviceChoice;
use crate::encoder::pack::{IMPORTED_INTENDED_USE, ImportOptions, import_checkpoint};
use crate::encoder::presets::preset;
use crate::validation::pack::{ValidateRequest, validate_pack};
use crate::worker::{Worker, WorkerSpec};

/// What to do.
#[derive(Debug, Clone)]
pub enum ModelTask {
    /// `fovea model import --arch <arch> <checkpoint> <out>`.
    Import {
        /// The checkpoint file.
        checkpoint: PathBuf,
        /// An architecture name of [`crate::encoder::presets::ARCH_NAMES`].
        arch: String,
        /// The pack folder to write.
        out: PathBuf,
    },
    /// `fovea model validate <pack> <folder> --out <out>`.
    Validate {
        /// The pack, the folder, the output.
        request: ValidateRequest,
    },
}

/// What the thread says.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelToolEvent {
    /// How far it is, in words.
    Progress(String),
    /// A pack was written here.
    Written(PathBuf),
    /// Why it could not be done.
    Failed(String),
}

/// The thread.
pub type ModelToolJob = Worker<ModelTask, ModelToolEvent>;

/// Starts one task (the worker ends after it).
pub fn start_model_task(
    task: ModelTask,
    repaint: impl Fn() + Send + 'static,
) -> std::io::Result<ModelToolJob> {
    let spec = WorkerSpec::new("fovea-model-tool", 1, 16).waking(repaint);
    Worker::spawn(spec, move |link| {
        let outcome = match task {
            ModelTask::Import {
                checkpoint,
                arch,
                out,
            } => {
                link.send(ModelToolEvent::Progress(format!(
                    "importing {} as {arch}…",
                    checkpoint.display()
                )));
                match preset(&arch) {
                    None => ModelToolEvent::Failed(format!("unknown architecture {arch}")),
                    Some(architecture) => {
                        let options = ImportOptions {
                            name: checkpoint
                                .file_stem()
                                .map_or_else(|| arch.clone(), |s| s.to_string_lossy().to_string()),
                            version: "1".to_string(),
                            intended_use: IMPORTED_INTENDED_USE.to_string(),
                            finding_set: None,
                        };
                        match import_checkpoint(&checkpoint, architecture, &out, &options) {
                            Ok(_) => ModelToolEvent::Written(out),
                            Err(e) => ModelToolEvent::Failed(crate::study::error::error_chain(&e)),
                        }
                    }
                }
            }
            ModelTask::Validate { request } => {
                let mut report = |done: usize, total: usize| {
                    link.send_progress(ModelToolEvent::Progress(format!(
                        "validating: analyzed {done} of {total} patient(s)…"
                    )));
                };
                match validate_pack(&request, &mut report) {
                    Ok(_) => ModelToolEvent::Written(request.out.clone()),
                    Err(e) => ModelToolEvent::Failed(crate::study::error::error_chain(&e)),
                }
            }
        };
        link.send(outcome);
    })
}

/// A fresh folder name under `dir` for a pack called `name`.
pub fn fresh_pack_folder(dir: &std::path::Path, name: &str) -> PathBuf {
    let base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    (0..)
        .map(|i| {
            if i == 0 {
                dir.join(&base)
            } else {
                dir.join(format!("{base}-{i}"))
            }
        })
        .find(|p| !p.exists())
        .unwrap_or_else(|| dir.join(base))
}

/// The device a validation runs on: the CPU (the viewer's GPU stays with the viewer).
pub const VALIDATION_DEVICE: DeviceChoice = DeviceChoice::Cpu;
