//! `fovea demo-data`: writes a set of synthetic demo patients.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::synth::dicom_writer::PixelEncoding;
use crate::synth::{DemoConfig, generate_with_progress};

/// Arguments of `fovea demo-data`.
#[derive(Debug, clap::Args)]
pub struct DemoDataArgs {
    /// Output folder (created if missing).
    pub dir: PathBuf,
    /// Number of patients.
    #[arg(long, default_value_t = 4)]
    pub patients: usize,
    /// Seed; the same seed writes the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// DICOM pixel encoding.
    #[arg(long, value_enum, default_value_t = PixelEncoding::ExplicitLe)]
    pub encoding: PixelEncoding,
    /// Skip the PNG copies.
    #[arg(long)]
    pub no_png: bool,
}

/// Generates the set, printing one line per patient.
pub fn run(args: &DemoDataArgs) -> anyhow::Result<ExitCode> {
    let config = DemoConfig {
        patients: args.patients,
        seed: args.seed,
        encoding: args.encoding,
        write_png: !args.no_png,
        ..DemoConfig::default()
    };
    let stdout = std::io::stdout();
    let truth = generate_with_progress(&args.dir, &config, &mut |done, total| {
        let _ = writeln!(stdout.lock(), "patient {done}/{total} written");
    })
    .with_context(|| format!("writing demo patients to {}", args.dir.display()))?;
    let mut out = stdout.lock();
    for p in &truth.patients {
        let reports: Vec<String> = p
            .eyes
            .iter()
            .map(|e| format!("{}: {}", e.truth.eye.label(), e.report))
            .collect();
        writeln!(
            out,
            "{}  {:?}  {}",
            p.patient_id,
            p.condition,
            reports.join(" | ")
        )?;
    }
    writeln!(
        out,
        "synthetic data (not real patients) written to {}",
        args.dir.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
