//! `fovea studies`: what a folder holds, as a tree or JSON.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::study::model::{Catalog, ImageRecord};
use crate::study::{ScanOptions, scan_paths_with};

/// Scans and prints; exit status 2 when some files could not be read, or when a file named
/// on the command line was skipped (it is printed with the reason: the user asked for it).
pub fn run(paths: &[PathBuf], json: bool, options: &ScanOptions) -> anyhow::Result<ExitCode> {
    let catalog = scan_paths_with(
        paths,
        options,
        &|_| {},
        &std::sync::atomic::AtomicBool::new(false),
    );
    let named_but_skipped = named_files_skipped(paths, &catalog);
    let laterality = laterality_checks(&catalog);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        let mut value = serde_json::to_value(&catalog)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("laterality".to_string(), serde_json::to_value(&laterality)?);
        }
        serde_json::to_writer_pretty(&mut out, &value)?;
        writeln!(out)?;
    } else {
        write_tree(&mut out, &catalog, options)?;
        for check in &laterality {
            if let Some(warning) = &check.warning {
                writeln!(out, "laterality: {}: {warning}", check.path.display())?;
            }
            if let Some(eye) = check.suggested_eye {
                writeln!(
                    out,
                    "suggested eye (not applied): {}: {} — {}",
                    check.path.display(),
                    eye.label(),
                    check.evidence.reason
                )?;
            }
        }
        if !named_but_skipped.is_empty() {
            writeln!(out, "skipped (named on the command line):")?;
            for file in &named_but_skipped {
                writeln!(out, "  {}: {}", file.path.display(), file.reason)?;
            }
        }
    }
    Ok(
        if catalog.unreadable.is_empty() && named_but_skipped.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        },
    )
}

/// What the optic disc says about one image's eye, for `studies`.
#[derive(Debug, serde::Serialize)]
struct LateralityCheck {
    path: PathBuf,
    tagged_eye: crate::study::Eye,
    /// For an image without an eye: the one the anatomy implies (a suggestion, not applied).
    suggested_eye: Option<crate::study::Eye>,
    /// When the tag contradicts the anatomy.
    warning: Option<String>,
    evidence: crate::study::laterality::LateralityEvidence,
}

/// The laterality check of every colour fundus photograph and SLO/IR image (decoded for it;
/// an image that cannot be decoded is left out: the viewer and `analyze` report it).
fn laterality_checks(catalog: &Catalog) -> Vec<LateralityCheck> {
    use crate::study::laterality::{applies_to, check};
    catalog
        .patients
        .iter()
        .flat_map(|p| p.images())
        .filter(|r| applies_to(r.modality))
        .filter_map(|record| {
            let decoded = crate::study::pixels::decode_image(record).ok()?;
            let rgb = decoded.frame_to_rgb8(0)?;
            let evidence = check(
                &rgb,
                record.modality == crate::study::model::Modality::ColourFundus,
            );
            Some(LateralityCheck {
                path: record.source.path().to_path_buf(),
                tagged_eye: record.eye,
                suggested_eye: (record.eye == crate::study::Eye::Unknown)
                    .then_some(evidence.implied)
                    .flatten(),
                warning: evidence.contradiction(record.eye),
                evidence,
            })
        })
        .collect()
}

/// The skipped files that were named themselves (not found inside a named folder).
fn named_files_skipped<'a>(
    paths: &[PathBuf],
    catalog: &'a Catalog,
) -> Vec<&'a crate::study::model::UnreadableFile> {
    let named: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.is_file())
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    catalog
        .skipped
        .iter()
        .filter(|f| f.path.canonicalize().is_ok_and(|c| named.contains(&c)))
        .collect()
}

/// Writes the catalog as an indented tree a person can read.
pub fn write_tree(
    out: &mut impl Write,
    catalog: &Catalog,
    options: &ScanOptions,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{} patient(s), {} image(s), {} unreadable file(s)",
        catalog.patients.len(),
        catalog.image_count(),
        catalog.unreadable.len()
    )?;
    for patient in &catalog.patients {
        let p = &patient.info;
        writeln!(
            out,
            "patient {}  {}  born {}  sex {}",
            p.id,
            p.name.as_deref().unwrap_or("(no name)"),
            p.birth_date.as_deref().unwrap_or("?"),
            p.sex.as_deref().unwrap_or("?")
        )?;
        for study in &patient.studies {
            let s = &study.info;
            writeln!(
                out,
                "  study {}  {}{}",
                s.date.as_deref().unwrap_or("(no date)"),
                s.description.as_deref().unwrap_or(""),
                s.accession_number
                    .as_deref()
                    .map(|a| format!("  accession {a}"))
                    .unwrap_or_default()
            )?;
            for eye in &study.eyes {
                writeln!(out, "    {}", eye.eye.label())?;
                for image in &eye.images {
                    writeln!(out, "      {}", image_line(image))?;
                }
            }
        }
    }
    let by_name = catalog.patients.iter().flat_map(|p| p.images()).any(|i| {
        i.eye_source == crate::study::model::EyeSource::FileName
            && matches!(i.source, crate::study::model::ImageSource::Plain { .. })
    });
    if by_name {
        writeln!(
            out,
            "plain images: patient and eye from file names ({})",
            options.names.describe()
        )?;
    }
    if !catalog.unreadable.is_empty() {
        writeln!(out, "unreadable:")?;
        for file in &catalog.unreadable {
            writeln!(out, "  {}: {}", file.path.display(), file.reason)?;
        }
    }
    Ok(())
}

fn image_line(image: &ImageRecord) -> String {
    let mut line = format!(
        "{:<16} {}x{}",
        image.modality.label(),
        image.columns,
        image.rows
    );
    if image.frames > 1 {
        line.push_str(&format!(" x{} frames", image.frames));
    }
    if let Some(spacing) = image.pixel_spacing_mm {
        line.push_str(&format!(
            "  {:.4}x{:.4} mm/px",
            spacing.column_mm, spacing.row_mm
        ));
    }
    if let Some(localizer) = &image.localizer {
        line.push_str(&format!(
            "  on localizer ({} B-scan lines)",
            localizer.bscan_locations.len()
        ));
    }
    line.push_str(&format!(
        "  [{:?}]  {}",
        image.eye_source,
        image.source.path().display()
    ));
    line
}
