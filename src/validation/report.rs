//! The validation report a validated pack carries: `VALIDATION.md` (for people),
//! `validation.json` (every number, the ROC points and reliability bins), `roc.png` and
//! `reliability.png`.

use std::fmt::Write as _;
use std::path::Path;

use super::plots::{PlotError, reliability_png, roc_png};
use super::run::Validation;
use crate::encoder::pack::PackManifest;
use crate::path_error::AtPath;

/// The report's Markdown file.
pub const REPORT_FILE: &str = "VALIDATION.md";
/// The report's JSON file.
pub const REPORT_JSON: &str = "validation.json";
/// The ROC picture.
pub const ROC_PNG: &str = "roc.png";
/// The reliability picture.
pub const RELIABILITY_PNG: &str = "reliability.png";

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// JSON could not be made.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: std::path::PathBuf,
        /// serde's error.
        source: serde_json::Error,
    },
    /// A picture failed.
    #[error(transparent)]
    Plot(#[from] PlotError),
}

crate::path_error::from_path_error!(ReportError, std::io::Error => Io, serde_json::Error => Json);

/// The Markdown text.
pub fn markdown(manifest: &PackManifest, validation: &Validation) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Validation report: {} v{}\n",
        manifest.name, manifest.version
    );
    let _ = writeln!(
        md,
        "Weights SHA-256 `{}`. Validated on {}.\n",
        manifest.weights.sha256, validation.source
    );
    if manifest.synthetic_training_data {
        let _ = writeln!(
            md,
            "**This model was trained on synthetic images only.** These numbers describe synthetic patients; they say nothing about real eyes.\n"
        );
    }
    let _ = writeln!(
        md,
        "- **Split:** {}: {} patients calibrate (temperatures, operating points), {} are held out (every number below). {} patient(s) had no label.",
        validation.split_rule,
        validation.calibration_patients,
        validation.held_out_patients,
        validation.unlabelled_patients
    );
    let _ = writeln!(
        md,
        "- **Operating points** are chosen on the calibration half for a sensitivity of {:.2}; the held-out sensitivity shows how well that holds on new patients.",
        validation.sensitivity
    );
    let _ = writeln!(
        md,
        "- **Intervals** are bootstrap 95 % intervals over held-out patients ({} resamples).\n",
        super::fit::BOOTSTRAP_RESAMPLES
    );
    let _ = writeln!(
        md,
        "| finding | level | held out (positives) | AUROC | ECE | operating point | sensitivity | specificity | temperature |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for f in &validation.findings {
        for (level, fit) in &f.levels {
            let _ = writeln!(
                md,
                "| {} | {level} | {} ({}) | {} | {} | {:.3} | {} | {} | {:.3} |",
                f.name,
                fit.held_out.0,
                fit.held_out.1,
                fit.auroc.text(),
                fit.ece.text(),
                fit.operating_point,
                fit.sensitivity.text(),
                fit.specificity.text(),
                fit.temperature
            );
        }
    }
    let refused: Vec<String> = validation
        .findings
        .iter()
        .flat_map(|f| {
            f.refused
                .iter()
                .map(move |(level, why)| format!("- {} ({level}): {why}", f.name))
        })
        .collect();
    if !refused.is_empty() {
        let _ = writeln!(
            md,
            "\n## Not validated (stays uncalibrated, never flagged)\n\n{}",
            refused.join("\n")
        );
    }
    if !validation.unlabelled_findings.is_empty() {
        let _ = writeln!(
            md,
            "\nNo label speaks of: {} (uncalibrated, never flagged).",
            validation.unlabelled_findings.join(", ")
        );
    }
    let _ = writeln!(md, "\n## Domain: the images this validation vouches for\n");
    let _ = writeln!(
        md,
        "An image is *in domain* when both its model features and its appearance lie within the {}th percentile of held-out distances to the nearest {} of the reference images below. Out of domain, its numbers are shown greyed and never flagged. This is a safety net, not a guarantee.\n",
        validation.domain.percentile, validation.domain.k
    );
    for m in &validation.domain.modalities {
        let _ = writeln!(
            md,
            "- {}: {} held-out images, feature threshold {:.4}, appearance threshold {:.3}",
            m.modality.label(),
            m.held_out,
            m.features.threshold,
            m.appearance.threshold
        );
    }
    for (modality, count) in &validation.domain_skipped {
        let _ = writeln!(
            md,
            "- {}: only {count} held-out image(s), fewer than {}: not described, so its images count as outside",
            modality.label(),
            crate::analysis::domain::MIN_HELD_OUT
        );
    }
    let _ = writeln!(
        md,
        "\n![ROC]({ROC_PNG})\n\n![Reliability]({RELIABILITY_PNG})"
    );
    md
}

/// Writes the four report files into the pack folder `out`.
pub fn write_report(
    out: &Path,
    manifest: &PackManifest,
    validation: &Validation,
) -> Result<(), ReportError> {
    let md_path = out.join(REPORT_FILE);
    std::fs::write(&md_path, markdown(manifest, validation)).at_path(&md_path)?;
    let json_path = out.join(REPORT_JSON);
    let json = serde_json::to_vec_pretty(validation).at_path(&json_path)?;
    std::fs::write(&json_path, json).at_path(&json_path)?;
    roc_png(validation, &out.join(ROC_PNG))?;
    reliability_png(validation, &out.join(RELIABILITY_PNG))?;
    Ok(())
}
