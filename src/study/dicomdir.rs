//! DICOMDIR media (e.g. a fundus camera's USB export): the files its records reference.

use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::attributes::{items, text};
use super::error::StudyError;

/// The files referenced by a DICOMDIR's directory records, resolved against its folder.
///
/// Referenced File ID (0004,1500) holds path components separated by `\`; records without
/// one (patient, study, series records) are skipped. A referenced file that does not exist
/// is still returned, so the scan reports it as unreadable with its path.
pub fn referenced_files(
    dicomdir_path: &Path,
    obj: &InMemDicomObject,
) -> Result<Vec<PathBuf>, StudyError> {
    let base = dicomdir_path.parent().unwrap_or_else(|| Path::new("."));
    let records = items(obj, tags::DIRECTORY_RECORD_SEQUENCE);
    if records.is_empty() && obj.get(tags::DIRECTORY_RECORD_SEQUENCE).is_none() {
        return Err(StudyError::MissingAttribute {
            path: dicomdir_path.to_path_buf(),
            name: "DirectoryRecordSequence",
            tag: "(0004,1220)".into(),
        });
    }
    let mut files = Vec::new();
    for record in records {
        let Some(file_id) = text(record, tags::REFERENCED_FILE_ID) else {
            continue;
        };
        let mut path = base.to_path_buf();
        for component in file_id.split('\\').map(str::trim).filter(|c| !c.is_empty()) {
            if component == ".." || component.contains('/') {
                return Err(StudyError::InvalidAttribute {
                    path: dicomdir_path.to_path_buf(),
                    name: "ReferencedFileID",
                    detail: format!("'{file_id}' leaves the media folder"),
                });
            }
            path.push(resolve_component(&path, component));
        }
        files.push(path);
    }
    Ok(files)
}

/// Media file IDs are upper-case ISO 9660 names; the copy on disk may be lower-case.
fn resolve_component(dir: &Path, component: &str) -> String {
    if dir.join(component).exists() {
        return component.to_string();
    }
    let lower = component.to_lowercase();
    if dir.join(&lower).exists() {
        lower
    } else {
        component.to_string()
    }
}
