//! Studies: files on disk → patients → studies → eyes → images.
//!
//! - [`scan`] finds DICOM files, DICOMDIR media and plain images under paths and reads their
//!   metadata only ([`dicom_meta`], [`dicomdir`], [`plain`]), then [`group`] builds the
//!   patient tree of [`model`] types;
//! - [`pixels`] decodes an image's frames on demand; [`jobs`] runs scans and decodes on named
//!   background threads.
//!
//! Source files are only ever opened for reading.

pub mod attributes;
pub mod content_modality;
pub mod dicom_lengths;
pub mod dicom_meta;
pub mod dicomdir;
pub mod error;
pub mod file_names;
pub mod frame_size;
pub mod grading;
pub mod group;
pub mod heidelberg_vol;
pub mod jobs;
pub mod jpeg;
pub mod laterality;
pub mod model;
pub mod pixels;
pub mod plain;
pub mod raw_dicom;
pub mod scan;
pub mod sop_class;
pub mod vol_records;

pub use error::StudyError;
pub use model::{Catalog, Eye, ImageRecord, Modality, Patient};
pub use pixels::{DecodedImage, decode_image};
pub use scan::{ScanOptions, scan_paths, scan_paths_with};
