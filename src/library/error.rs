//! What can go wrong with a case library.

use std::path::PathBuf;

/// A case library error: each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// The folder has no library.
    #[error("{0} is not a case library (no library.redb): build one with `fovea library build`")]
    NotALibrary(PathBuf),
    /// `build` was pointed at an occupied folder.
    #[error("{0} already exists and is not empty: choose a new folder, or use `fovea library add`")]
    Occupied(PathBuf),
    /// Another process has the library open for writing.
    #[error(
        "{0} is being written by another Fovea process (a `library build` or `add`?): try again when it has finished"
    )]
    Busy(PathBuf),
    /// A library opened for searching was asked to change.
    #[error("{0} was opened read-only: open it with Library::open to add to it")]
    ReadOnly(PathBuf),
    /// The library was built with another model pack.
    #[error(
        "this library was built with {library} (weights {library_sha}), not {pack} (weights {pack_sha}): embeddings of different packs cannot be mixed — use the library's pack or build a new library"
    )]
    OtherPack {
        /// The library's pack name.
        library: String,
        /// Its weights checksum.
        library_sha: String,
        /// The pack offered.
        pack: String,
        /// Its weights checksum.
        pack_sha: String,
    },
    /// A vector of the wrong length.
    #[error("vector of {got} values, the library holds {expected}-value vectors")]
    Dimension {
        /// The library's dimension.
        expected: usize,
        /// The vector's.
        got: usize,
    },
    /// The store failed (disk full, permissions, a damaged file).
    #[error("case library store {path}: {source}")]
    Store {
        /// The library folder.
        path: PathBuf,
        /// redb's error.
        #[source]
        source: Box<redb::Error>,
    },
    /// The vector index failed (USearch's C++ exception, a thread that could not start, a
    /// stamp that could not be written).
    #[error("vector index{}: {source}", at.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Index {
        /// The index file, when one was being read or written.
        at: Option<PathBuf>,
        /// What failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A labels file says something that cannot be used.
    #[error("labels {path}: {message}")]
    Labels {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line where it helps.
        message: String,
    },
    /// A labels CSV could not be parsed (csv's error names the record and line).
    #[error("labels {path}: {source}")]
    LabelsCsv {
        /// The file.
        path: PathBuf,
        /// csv's error.
        #[source]
        source: csv::Error,
    },
    /// A `ground_truth.json` could not be parsed.
    #[error("labels {path}: {source}")]
    LabelsJson {
        /// The file.
        path: PathBuf,
        /// serde's error.
        #[source]
        source: serde_json::Error,
    },
    /// File system.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A record in the store is not what this version of Fovea wrote (or could not be
    /// encoded).
    #[error("case library record {key} cannot be read: {source}")]
    Record {
        /// The record's key.
        key: String,
        /// serde's error.
        #[source]
        source: serde_json::Error,
    },
    /// The library was written in a format this version does not read.
    #[error(
        "case library record {key} cannot be read: format version {found} (this Fovea reads {reads})"
    )]
    RecordVersion {
        /// The record's key.
        key: String,
        /// The version found.
        found: u32,
        /// The version this build reads.
        reads: u32,
    },
    /// The model failed while embedding.
    #[error(transparent)]
    Analysis(#[from] crate::analysis::engine::AnalysisError),
}

crate::path_error::from_path_error!(
    LibraryError,
    std::io::Error => Io,
    csv::Error => LabelsCsv,
    serde_json::Error => LabelsJson,
);
