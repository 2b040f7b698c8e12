//! `fovea model validate`: validation on the user's labelled images, with progress on the
//! terminal and a summary of what was fitted, what was refused and why.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use crate::validation::pack::{ValidateRequest, validate_pack};
use crate::validation::report::REPORT_FILE;

/// Runs the command.
pub fn run(request: &ValidateRequest) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&request.sensitivity) || request.sensitivity == 0.0 {
        anyhow::bail!(
            "--sensitivity {} is not a fraction in (0, 1]",
            request.sensitivity
        );
    }
    let mut last_shown = 0;
    let (manifest, validation) = validate_pack(request, &mut |done, total| {
        if done == total || done >= last_shown + 25 {
            super::note(&format!("analyzed {done} of {total} patient(s)"));
            last_shown = done;
        }
    })
    .with_context(|| format!("validating {}", request.pack.display()))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "validated pack written: {} (weights unchanged, SHA-256 {})",
        request.out.display(),
        manifest.weights.sha256
    )?;
    writeln!(
        out,
        "patients: {} calibrate, {} held out, {} unlabelled",
        validation.calibration_patients,
        validation.held_out_patients,
        validation.unlabelled_patients
    )?;
    for f in &validation.findings {
        for (level, fit) in &f.levels {
            writeln!(
                out,
                "{} ({level}): AUROC {}, ECE {}, refer ≥ {:.3}: sensitivity {}, specificity {}",
                f.id,
                fit.auroc.text(),
                fit.ece.text(),
                fit.operating_point,
                fit.sensitivity.text(),
                fit.specificity.text()
            )?;
        }
        for (level, why) in &f.refused {
            writeln!(out, "{} ({level}): not validated: {why}", f.id)?;
        }
    }
    if !validation.unlabelled_findings.is_empty() {
        writeln!(
            out,
            "no labels for: {} (uncalibrated, never flagged)",
            validation.unlabelled_findings.join(", ")
        )?;
    }
    for m in &validation.domain.modalities {
        writeln!(
            out,
            "domain: {} described by {} held-out images",
            m.modality.label(),
            m.held_out
        )?;
    }
    for (modality, count) in &validation.domain_skipped {
        writeln!(
            out,
            "domain: {} not described ({count} held-out images): its images will read as outside",
            modality.label()
        )?;
    }
    writeln!(out, "report: {}", request.out.join(REPORT_FILE).display())?;
    Ok(ExitCode::SUCCESS)
}
