//! An error and the path it happened on, attached in one call: `std::fs::read(p).at_path(p)?`,
//! `serde_json::from_slice(&b).at_path(p)?` (the idea of dicom-rs's and snafu's context
//! selectors). Each room's error type turns a [`PathError<E>`] into its own variant for that
//! source with `From` (`from_path_error!`), so each message keeps its wording and the source
//! stays typed.
//!
//! A shared piece, not a room: any room may use it.

use std::path::{Path, PathBuf};

/// An error on a path, on its way into a room's error type.
#[derive(Debug)]
pub struct PathError<E> {
    /// The file or folder.
    pub path: PathBuf,
    /// What went wrong there.
    pub source: E,
}

/// Attaches the path to a result's error.
pub trait AtPath<T, E> {
    /// The result with its error (if any) carrying `path`.
    fn at_path(self, path: impl AsRef<Path>) -> Result<T, PathError<E>>;
}

impl<T, E> AtPath<T, E> for Result<T, E> {
    fn at_path(self, path: impl AsRef<Path>) -> Result<T, PathError<E>> {
        self.map_err(|source| PathError {
            path: path.as_ref().to_path_buf(),
            source,
        })
    }
}

/// `from_path_error!(RoomError, source type => Variant, …)`: `impl From<PathError<source>>`
/// into `RoomError::Variant { path, source }`.
macro_rules! from_path_error {
    ($error:ty, $($source:ty => $variant:ident),+ $(,)?) => {
        $(
            impl From<$crate::path_error::PathError<$source>> for $error {
                fn from(e: $crate::path_error::PathError<$source>) -> Self {
                    Self::$variant {
                        path: e.path,
                        source: e.source,
                    }
                }
            }
        )+
    };
}
pub(crate) use from_path_error;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_and_the_source_are_kept() {
        let missing = Path::new("/nonexistent/fovea/file");
        let e = std::fs::read(missing)
            .at_path(missing)
            .expect_err("missing");
        assert_eq!(e.path, missing);
        assert_eq!(e.source.kind(), std::io::ErrorKind::NotFound);
        let json = serde_json::from_str::<u32>("x")
            .at_path("a.json")
            .expect_err("not JSON");
        assert_eq!(json.path, Path::new("a.json"));
        assert!(json.source.is_syntax());
    }
}
