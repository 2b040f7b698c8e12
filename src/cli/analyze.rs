//! `fovea analyze`: headless screening of a folder of studies — per-patient and per-eye
//! findings with referral flags, gradeability and the images used — as JSON, CSV or a table,
//! with progress on the terminal and a summary.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::analysis::engine::{Analyzer, PatientResult, add_zero_shot};
use crate::analysis::findings::FindingProbability;
use crate::analysis::zero_shot::ZeroShot;
use crate::encoder::bundled_sets::check_fits;
use crate::encoder::device::DeviceChoice;
use crate::encoder::finding_set::{FINDING_SET_FORMAT_VERSION, FindingSet, FindingSpec};
use crate::encoder::session::EncoderSession;
use crate::study::scan_paths_with;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable lines.
    Text,
    /// One JSON document (schema in the README).
    Json,
    /// One row per patient/eye/image and finding, for spreadsheets.
    Csv,
}

/// Options of `fovea analyze`.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// Folders, DICOM files, DICOMDIRs or plain images.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The model pack (default: the bundled demo model, `models/demo`).
    #[arg(long)]
    pub pack: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the output to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where to run the model.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// Free-text findings to score per image and per eye against a neutral prompt
    /// (uncalibrated; repeat for several).
    #[arg(long)]
    pub prompt: Vec<String>,
    /// Findings to score instead of the pack's: a finding-set file (`models/finding-sets/`),
    /// or a JSON array `[{"id", "name", "prompt", "negative_prompt", "scale"?}]`.
    /// Uncalibrated unless the set carries calibration: then never flagged for referral.
    #[arg(long)]
    pub findings: Option<PathBuf>,
    /// `--name-pattern`.
    #[command(flatten)]
    pub names: super::NamePatternArg,
}

/// A finding given with `--findings` in the first format (a JSON array of prompt pairs).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FindingInput {
    id: String,
    name: String,
    prompt: String,
    negative_prompt: String,
    /// Logit scale; default: the pack's `exp(logit_scale)`, else 100 (CLIP's).
    scale: Option<f32>,
}

/// Reads `--findings`: a finding-set file, or a JSON array of prompt pairs (the first
/// format, still read). Either way uncalibrated unless the set carries calibration.
fn read_findings(path: &Path, session: &EncoderSession) -> anyhow::Result<FindingSet> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let set = if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        let inputs: Vec<FindingInput> = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{}: expected a finding set or [{{\"id\", \"name\", \"prompt\", \"negative_prompt\", \"scale\"?}}]",
                path.display()
            )
        })?;
        FindingSet {
            format_version: FINDING_SET_FORMAT_VERSION,
            name: path.display().to_string(),
            source: "prompt pairs given with --findings".to_string(),
            note: None,
            architectures: Vec::new(),
            findings: inputs
                .into_iter()
                .map(|f| FindingSpec {
                    id: f.id,
                    name: f.name,
                    prompt: f.prompt,
                    negative_prompt: f.negative_prompt,
                    scale: f.scale,
                    level_prompts: Default::default(),
                    modalities: Vec::new(),
                    levels: Vec::new(),
                    temperature: Default::default(),
                    operating_point: Default::default(),
                })
                .collect(),
            class_groups: Vec::new(),
            classifier: None,
        }
    } else {
        FindingSet::read(path)?
    };
    set.check(&path.display().to_string())?;
    check_fits(
        &set,
        &session.manifest().architecture,
        &path.display().to_string(),
    )?;
    Ok(set)
}

/// The bundled demo pack ([`super::DataRoot`]).
pub fn default_pack() -> PathBuf {
    super::DataRoot::locate().demo_pack()
}

/// Runs the command.
pub fn run(args: &AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let pack = args.pack.clone().unwrap_or_else(default_pack);
    let started = std::time::Instant::now();
    let mut session = EncoderSession::open(&pack, args.device)
        .with_context(|| format!("opening the model pack {}", pack.display()))?;
    super::note(session.device_choice());
    if let Some(notice) = session.device_notice() {
        log::warn!("{notice}");
    }
    let device = session.device_description();
    if let Some(path) = &args.findings {
        let findings = read_findings(path, &session)?;
        session.set_finding_set(findings);
    }
    let analyzer = Analyzer::new(session)?;
    let mut zero_shot = if args.prompt.is_empty() {
        None
    } else {
        Some(ZeroShot::new(analyzer.session())?)
    };
    let load_seconds = started.elapsed().as_secs_f64();
    log::info!(
        "model pack {} ready in {load_seconds:.2} s on {device}",
        pack.display()
    );
    let analysis_started = std::time::Instant::now();
    let catalog = scan_paths_with(
        &args.paths,
        &args.names.scan_options(),
        &|_| {},
        &std::sync::atomic::AtomicBool::new(false),
    );
    let total = catalog.patients.len();
    let terminal = std::io::stderr().is_terminal();
    let mut results = Vec::with_capacity(total);
    let mut failures = Vec::new();
    for (i, patient) in catalog.patients.iter().enumerate() {
        match analyzer.analyze_patient(patient) {
            Ok(mut result) => {
                if let Some(zero_shot) = zero_shot.as_mut() {
                    add_zero_shot(&mut result, analyzer.session(), zero_shot, &args.prompt)?;
                }
                results.push(result);
            }
            Err(e) => failures.push((patient.info.id.clone(), e.to_string())),
        }
        progress(terminal, i + 1, total, &patient.info.id);
    }
    let analysis_seconds = analysis_started.elapsed().as_secs_f64();
    if terminal && total > 0 {
        super::note("");
    }
    let unreadable: Vec<(String, String)> = catalog
        .unreadable
        .iter()
        .map(|u| (u.path.display().to_string(), u.reason.clone()))
        .collect();
    let text = match args.format {
        Format::Json => json(&results, &unreadable, &failures, analyzer.stamp(), &device)?,
        Format::Csv => super::analyze_csv::csv(&results)?,
        Format::Text => table(&results, &unreadable, &failures),
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    let images_failed = results
        .iter()
        .flat_map(|r| &r.images)
        .filter(|i| i.error.is_some())
        .count();
    let summary = summary(
        &results,
        unreadable.len(),
        images_failed,
        failures.len(),
        analyzer.stamp().label(),
    );
    super::note(&summary);
    super::note(&format!(
        "time: model loaded in {load_seconds:.2} s on {device}; {total} patients scanned and analyzed in {analysis_seconds:.2} s ({:.1} patients/min)",
        total as f64 * 60.0 / analysis_seconds.max(1e-9)
    ));
    Ok(
        if unreadable.is_empty() && failures.is_empty() && images_failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        },
    )
}

#[allow(clippy::print_stderr)]
fn progress(terminal: bool, done: usize, total: usize, id: &str) {
    if terminal {
        let width = 30;
        let filled = width * done / total.max(1);
        eprint!(
            "\r[{}{}] {done}/{total} patients ({id})   ",
            "#".repeat(filled),
            " ".repeat(width - filled)
        );
    } else {
        eprintln!("analyzed {done}/{total} patients ({id})");
    }
}

fn summary(
    results: &[PatientResult],
    unreadable: usize,
    images_failed: usize,
    patients_failed: usize,
    model: String,
) -> String {
    let eyes = results
        .iter()
        .flat_map(|r| &r.eyes)
        .filter(|e| !e.findings.is_empty())
        .count();
    let ungradable = results
        .iter()
        .flat_map(|r| &r.images)
        .filter(|i| i.quality.as_ref().is_some_and(|q| !q.gradable))
        .count();
    let referred = results
        .iter()
        .filter(|r| r.findings.iter().any(|f| f.refer))
        .count();
    format!(
        "summary: {} patients analyzed ({patients_failed} failed), {eyes} eyes with results, {referred} patients flagged for referral, {ungradable} images ungradable, {images_failed} images unreadable, {unreadable} files unreadable — model: {model}",
        results.len()
    )
}

fn json(
    results: &[PatientResult],
    unreadable: &[(String, String)],
    failures: &[(String, String)],
    stamp: &crate::analysis::findings::ModelStamp,
    device: &str,
) -> anyhow::Result<String> {
    let value = serde_json::json!({
        "model": stamp,
        "device": device,
        "patients": results,
        "unreadable_files": unreadable.iter().map(|(p, r)| serde_json::json!({"path": p, "reason": r})).collect::<Vec<_>>(),
        "failed_patients": failures.iter().map(|(p, r)| serde_json::json!({"patient_id": p, "reason": r})).collect::<Vec<_>>(),
    });
    Ok(serde_json::to_string_pretty(&value)? + "\n")
}

fn table(
    results: &[PatientResult],
    unreadable: &[(String, String)],
    failures: &[(String, String)],
) -> String {
    let mut out = String::new();
    for r in results {
        out.push_str(&format!("patient {} — {}\n", r.patient_id, r.model.label()));
        let line = |f: &FindingProbability| {
            format!(
                "{:<55} {:>5.1} %{}",
                f.name,
                f.probability * 100.0,
                if f.refer { "  REFER" } else { "" }
            )
        };
        let note = |n: &Option<String>| n.as_ref().map(|n| format!(" — {n}")).unwrap_or_default();
        out.push_str(&format!(
            "  patient level ({:?}){}\n",
            r.patient_rule,
            note(&r.patient_note)
        ));
        for f in &r.findings {
            out.push_str(&format!("    {}\n", line(f)));
        }
        for e in &r.eyes {
            out.push_str(&format!(
                "  {} ({} images used){}\n",
                e.eye.label(),
                e.contributing.len(),
                note(&e.note)
            ));
            for f in &e.findings {
                out.push_str(&format!("    {}\n", line(f)));
            }
            for t in &e.zero_shot {
                out.push_str(&format!(
                    "    free text \"{}\": score {:.2} (uncalibrated, not a probability)\n",
                    t.text, t.score
                ));
            }
            for (path, why) in &e.excluded {
                out.push_str(&format!("    left out {}: {why}\n", path.display()));
            }
        }
    }
    for (path, reason) in unreadable {
        out.push_str(&format!("unreadable {path}: {reason}\n"));
    }
    for (id, reason) in failures {
        out.push_str(&format!("patient {id} failed: {reason}\n"));
    }
    out
}
