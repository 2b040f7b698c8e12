//! An I/O error and the path it happened on, attached in one call: `std::fs::read(p).at_path(p)?`
//! (the idea of dicom-rs's and snafu's context selectors). Every room's error type turns a
//! [`PathIo`] into its own `Io { path, source }` variant with `From`, so each message keeps
//! its wording and the `std::io::Error` stays its typed source.
//!
//! A shared piece, not a room: any room may use it.

use std::path::{Path, PathBuf};

/// An I/O error on a path, on its way into a room's error type.
#[derive(Debug)]
pub struct PathIo {
    /// The file or folder.
    pub path: PathBuf,
    /// The OS error.
    pub source: std::io::Error,
}

/// Attaches the path to an I/O result's error.
pub trait AtPath<T> {
    /// The result with its error (if any) carrying `path`.
    fn at_path(self, path: impl AsRef<Path>) -> Result<T, PathIo>;
}

impl<T> AtPath<T> for std::io::Result<T> {
    fn at_path(self, path: impl AsRef<Path>) -> Result<T, PathIo> {
        self.map_err(|source| PathIo {
            path: path.as_ref().to_path_buf(),
            source,
        })
    }
}

/// `impl From<PathIo> for $error` into its `Io { path, source }` variant.
macro_rules! from_path_io {
    ($error:ty) => {
        impl From<$crate::path_io::PathIo> for $error {
            fn from(e: $crate::path_io::PathIo) -> Self {
                Self::Io {
                    path: e.path,
                    source: e.source,
                }
            }
        }
    };
}
pub(crate) use from_path_io;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_and_the_os_error_are_kept() {
        let missing = Path::new("/nonexistent/fovea/file");
        let e = std::fs::read(missing)
            .at_path(missing)
            .expect_err("missing");
        assert_eq!(e.path, missing);
        assert_eq!(e.source.kind(), std::io::ErrorKind::NotFound);
    }
}
