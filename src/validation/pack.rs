//! Validating a pack folder end to end: open it, analyze the labelled studies, fit
//! ([`super::run`]), and write the validated copy — weights copied byte for byte, the manifest
//! with the fitted values and the domain description, and the report ([`super::report`]).
//! The CLI and the viewer's Model menu call [`validate_pack`].

use std::path::{Path, PathBuf};

use super::report::{ReportError, write_report};
use super::run::{ValidateOptions, Validation, ValidationError, calibrated_manifest, validate};
use crate::analysis::engine::{AnalysisError, Analyzer};
use crate::encoder::device::DeviceChoice;
use crate::encoder::pack::{PackError, PackManifest, refuse_existing, write_pack_with_weights_of};
use crate::encoder::session::{EncoderSession, SessionError};
use crate::library::error::LibraryError;
use crate::library::labels::Labels;
use crate::study::scan_paths;

/// Why a pack could not be validated.
#[derive(Debug, thiserror::Error)]
pub enum ValidatePackError {
    /// The output exists, or the pack cannot be read or written.
    #[error(transparent)]
    Pack(#[from] PackError),
    /// The pack cannot be opened on the device.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Analysis could not start or failed.
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    /// The labels cannot be read.
    #[error(transparent)]
    Labels(#[from] LibraryError),
    /// Too few labels, or none that match.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// The report could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// What to validate.
#[derive(Debug, Clone)]
pub struct ValidateRequest {
    /// The pack folder.
    pub pack: PathBuf,
    /// Labelled studies.
    pub studies: Vec<PathBuf>,
    /// The labels; `None`: `ground_truth.json` or `labels.csv` in the first folder.
    pub labels: Option<PathBuf>,
    /// Sensitivity for the operating points.
    pub sensitivity: f64,
    /// The validated pack to write.
    pub out: PathBuf,
    /// Where to run the model.
    pub device: DeviceChoice,
}

/// How far it is: (patients analyzed, patients found).
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize);

/// Runs the whole validation; returns the new manifest and the outcome. Nothing is left
/// unless every step succeeds (the pack is staged and renamed into place; when its report then
/// cannot be written, the new folder is removed again).
pub fn validate_pack(
    request: &ValidateRequest,
    progress: Progress<'_>,
) -> Result<(PackManifest, Validation), ValidatePackError> {
    refuse_existing(&request.out)?;
    let labels = match &request.labels {
        Some(file) => Labels::read(file)?,
        None => Labels::find(
            request
                .studies
                .first()
                .map_or(Path::new("."), PathBuf::as_path),
        )?,
    };
    let session = EncoderSession::open(&request.pack, request.device)?;
    let manifest = session.manifest().clone();
    let set = manifest.finding_set();
    let analyzer = Analyzer::new(session)?;
    let catalog = scan_paths(&request.studies);
    let total = catalog.patients.len();
    let mut results = Vec::with_capacity(total);
    for (i, patient) in catalog.patients.iter().enumerate() {
        results.push(analyzer.analyze_patient(patient)?);
        progress(i + 1, total);
    }
    let studies: Vec<String> = request
        .studies
        .iter()
        .map(|p| {
            p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().to_string(),
            )
        })
        .collect();
    let options = ValidateOptions {
        sensitivity: request.sensitivity,
        source: format!(
            "{total} patient(s) from {} with labels {}",
            studies.join(", "),
            labels
                .source
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().to_string())
        ),
    };
    let validation = validate(&results, &labels, &set, &options)?;
    let validated = calibrated_manifest(&manifest, &validation);
    let written = write_pack_with_weights_of(&request.pack, &request.out, validated)?;
    if let Err(e) = write_report(&request.out, &written, &validation) {
        // A validated pack without its report is not one: the folder this call made goes.
        if let Err(removal) = std::fs::remove_dir_all(&request.out) {
            log::warn!(
                "could not remove the unfinished {}: {removal}",
                request.out.display()
            );
        }
        return Err(e.into());
    }
    Ok((written, validation))
}
