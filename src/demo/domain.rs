//! The demo pack's domain description: the demo model's validation seed's patients, written
//! as DICOM the way the bundled demo patients are (JPEG baseline, the default sizes), analyzed
//! through the app's own path ([`crate::analysis::engine::Analyzer`]) and described by
//! [`crate::validation::run::describe_domain`] — the same code `fovea model validate` runs.
//! Half the patients (by the hash of their id) are the reference, the other half set the
//! thresholds.

use std::path::Path;

use super::train::DemoTrainConfig;
use crate::analysis::engine::{AnalysisError, Analyzer};
use crate::encoder::device::DeviceChoice;
use crate::encoder::domain::DomainDescription;
use crate::encoder::session::{EncoderSession, SessionError};
use crate::study::scan_paths;
use crate::synth::dicom_writer::PixelEncoding;
use crate::synth::{DemoConfig, SynthError, generate_with_progress};
use crate::validation::run::{describe_domain, hashed_to_held_out};

/// Why the description could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DemoDomainError {
    /// The temporary folder could not be made.
    #[error("a temporary folder for the validation patients: {0}")]
    Temp(#[source] std::io::Error),
    /// The patients could not be written.
    #[error(transparent)]
    Synth(#[from] SynthError),
    /// The pack could not be opened.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Analysis failed.
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
}

/// Describes the images of the validation split of `config` as the pack at `pack` sees them.
pub fn describe_demo_domain(
    pack: &Path,
    config: &DemoTrainConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<DomainDescription, DemoDomainError> {
    let dir = tempfile::Builder::new()
        .prefix("fovea-demo-domain-")
        .tempdir()
        .map_err(DemoDomainError::Temp)?;
    let synth = DemoConfig {
        patients: config.validation_patients,
        seed: config.validation_seed,
        encoding: PixelEncoding::JpegBaseline,
        write_png: false,
        ..DemoConfig::default()
    };
    progress(&format!(
        "writing {} validation patients (seed {}) for the domain description…",
        synth.patients, synth.seed
    ));
    generate_with_progress(dir.path(), &synth, &mut |_, _| {})?;
    let analyzer = Analyzer::new(EncoderSession::open(pack, DeviceChoice::Cpu)?)?;
    let catalog = scan_paths(&[dir.path().to_path_buf()]);
    let mut results = Vec::with_capacity(catalog.patients.len());
    for (i, patient) in catalog.patients.iter().enumerate() {
        results.push(analyzer.analyze_patient(patient)?);
        if (i + 1) % 50 == 0 {
            progress(&format!("analyzed {} of {}", i + 1, catalog.patients.len()));
        }
    }
    let source = format!(
        "synthetic validation split: {} patients of seed {} written as JPEG-baseline DICOM (the validation patients the temperatures were fitted on)",
        synth.patients, synth.seed
    );
    let (description, _skipped) = describe_domain(
        &results,
        |i| hashed_to_held_out(&results[i].patient_id),
        &source,
    );
    Ok(description)
}
