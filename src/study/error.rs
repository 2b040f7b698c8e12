//! Typed errors of the study layer, each naming the file and what to do about it.

use std::path::PathBuf;

/// Why a file could not be read as an image.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// The file could not be opened or read at all.
    #[error("{path}: cannot read the file: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The file is not DICOM Part 10 and not a supported plain image.
    #[error("{path}: not a DICOM file (no 'DICM' preamble) and not a PNG, JPEG, TIFF or BMP image")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// dicom-rs could not parse the file.
    #[error("{path}: broken DICOM file: {message}")]
    DicomParse {
        /// The file.
        path: PathBuf,
        /// dicom-rs's description, with its cause chain.
        message: String,
    },
    /// A required attribute is absent or empty.
    #[error("{path}: missing required DICOM attribute {name} {tag}")]
    MissingAttribute {
        /// The file.
        path: PathBuf,
        /// Attribute keyword, e.g. `Rows`.
        name: &'static str,
        /// The tag as `(gggg,eeee)`.
        tag: String,
    },
    /// An attribute has a value the file format does not allow.
    #[error("{path}: invalid DICOM attribute {name}: {detail}")]
    InvalidAttribute {
        /// The file.
        path: PathBuf,
        /// Attribute keyword.
        name: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The pixel data could not be decoded.
    #[error("{path}: pixel data cannot be decoded: {message}")]
    PixelDecode {
        /// The file.
        path: PathBuf,
        /// The decoder's description.
        message: String,
    },
    /// A plain image could not be decoded.
    #[error("{path}: image cannot be decoded: {source}")]
    PlainImage {
        /// The file.
        path: PathBuf,
        /// The image crate's error.
        source: image::ImageError,
    },
    /// A plain image's header claims more pixels than Fovea decodes.
    #[error(
        "{path}: the image claims {columns} × {rows} pixels, more than the {limit_megapixels} megapixels Fovea decodes (larger than any fundus camera's or OCT device's export): the file is damaged, or not an eye image"
    )]
    ImageTooLarge {
        /// The file.
        path: PathBuf,
        /// Width in pixels.
        columns: u32,
        /// Height in pixels.
        rows: u32,
        /// [`crate::study::plain::MAX_PLAIN_MEGAPIXELS`].
        limit_megapixels: u64,
    },
    /// A sidecar JSON file exists but cannot be parsed.
    #[error("{path}: sidecar JSON is invalid: {source}")]
    Sidecar {
        /// The sidecar file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// A frame index past the end of a multi-frame image was asked for.
    #[error("{path}: frame {frame} requested but the image has {frames} frame(s)")]
    FrameOutOfRange {
        /// The file.
        path: PathBuf,
        /// Requested zero-based frame.
        frame: u32,
        /// Frames in the image.
        frames: u32,
    },
    /// A Heidelberg `.vol` file that cannot be read (the error names the file).
    #[error(transparent)]
    Vol(#[from] super::heidelberg_vol::VolError),
}

crate::path_error::from_path_error!(
    StudyError,
    std::io::Error => Io,
    serde_json::Error => Sidecar,
    image::ImageError => PlainImage,
);

/// Formats an error with its whole `source()` chain, for messages shown to users.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
