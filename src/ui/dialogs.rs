//! Native open dialogs (`rfd`) on a `fovea-dialog` thread (a [`Worker`] with one answer), so
//! the frame loop keeps drawing while the dialog is open.

use std::path::PathBuf;

use crate::worker::{Worker, WorkerSpec};

/// What to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenKind {
    /// A folder of studies.
    Folder,
    /// One or more image files.
    Files,
    /// A DICOMDIR (media index).
    Dicomdir,
    /// A model checkpoint to import (Model → Import checkpoint).
    Checkpoint,
    /// A folder of labelled studies to validate the pack on (Model → Validate).
    LabelledFolder,
}

/// An open dialog in flight: its one event is the chosen paths (empty: cancelled, or no
/// dialog available).
pub type DialogJob = Worker<(), Vec<PathBuf>>;

impl DialogJob {
    /// Shows the dialog, starting in `folder` when given.
    pub fn start(kind: OpenKind, folder: Option<PathBuf>) -> std::io::Result<DialogJob> {
        Worker::spawn(WorkerSpec::new("fovea-dialog", 1, 1), move |link| {
            let mut dialog = rfd::FileDialog::new();
            if let Some(folder) = folder {
                dialog = dialog.set_directory(folder);
            }
            let picked = match kind {
                OpenKind::Folder => dialog
                    .set_title("Open a folder of studies")
                    .pick_folder()
                    .into_iter()
                    .collect(),
                OpenKind::Files => dialog
                    .set_title("Open image files")
                    .add_filter(
                        "DICOM and images",
                        &["dcm", "dicom", "png", "jpg", "jpeg", "tif", "tiff", "bmp"],
                    )
                    .add_filter("All files", &["*"])
                    .pick_files()
                    .unwrap_or_default(),
                OpenKind::Dicomdir => dialog
                    .set_title("Open a DICOMDIR")
                    .pick_file()
                    .into_iter()
                    .collect(),
                OpenKind::Checkpoint => dialog
                    .set_title("Choose a checkpoint to import")
                    .add_filter(
                        "PyTorch or safetensors",
                        &["pt", "pth", "bin", "safetensors"],
                    )
                    .add_filter("All files", &["*"])
                    .pick_file()
                    .into_iter()
                    .collect(),
                OpenKind::LabelledFolder => dialog
                    .set_title(
                        "Choose a folder of labelled studies (ground_truth.json or labels.csv)",
                    )
                    .pick_folder()
                    .into_iter()
                    .collect(),
            };
            // The UI may have gone; nothing to do then.
            link.send(picked);
        })
    }
}
