//! Native open dialogs (`rfd`) on a `fovea-dialog` thread, so the frame loop keeps drawing
//! while the dialog is open; the answer comes back over a channel.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, sync_channel};

/// What to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenKind {
    /// A folder of studies.
    Folder,
    /// One or more image files.
    Files,
    /// A DICOMDIR (media index).
    Dicomdir,
}

/// An open dialog in flight.
pub struct DialogJob {
    answer: Receiver<Vec<PathBuf>>,
}

impl DialogJob {
    /// Shows the dialog, starting in `folder` when given.
    pub fn spawn(kind: OpenKind, folder: Option<PathBuf>) -> std::io::Result<DialogJob> {
        let (tx, answer) = sync_channel(1);
        std::thread::Builder::new()
            .name("fovea-dialog".into())
            .spawn(move || {
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
                };
                // The UI may have gone; nothing to do then.
                let _ = tx.send(picked);
            })?;
        Ok(DialogJob { answer })
    }

    /// The chosen paths once the dialog closed (empty: cancelled, or no dialog available).
    pub fn try_answer(&self) -> Option<Vec<PathBuf>> {
        self.answer.try_recv().ok()
    }
}
