//! `fovea train-demo`: trains the demo model on synthetic patients, calibrates it, evaluates it
//! on held-out synthetic patients and writes the pack with its model card. With
//! `--recalibrate <pack>` it skips training: the pack's weights are kept and only the
//! temperatures and operating points are refitted (on a validation split of the given size)
//! and the test split re-scored.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

use crate::demo::domain::describe_demo_domain;
use crate::demo::eval::{
    DemoEvaluation, calibrate_and_evaluate, read_evaluation, write_card_and_evaluation,
    write_demo_pack, write_recalibrated_demo_pack,
};
use crate::demo::train::{DemoTrainConfig, TrainStep, render_split, train};
use crate::encoder::device::cpu_device;
use crate::encoder::pack::{PackModel, load_pack, read_manifest, refuse_existing, update_manifest};

/// Options of `fovea train-demo`.
#[derive(Debug, clap::Args)]
pub struct TrainDemoArgs {
    /// The pack folder to create (the bundled one is `models/demo`).
    #[arg(long)]
    pub out: PathBuf,
    /// Optimiser steps.
    #[arg(long, conflicts_with = "recalibrate")]
    pub steps: Option<usize>,
    /// Training patients.
    #[arg(long, conflicts_with = "recalibrate")]
    pub train_patients: Option<usize>,
    /// Validation patients (temperatures and operating points).
    #[arg(long)]
    pub validation_patients: Option<usize>,
    /// Held-out test patients.
    #[arg(long)]
    pub test_patients: Option<usize>,
    /// Seed of the training patients (validation and test use the next two).
    #[arg(long, conflicts_with = "recalibrate")]
    pub seed: Option<u64>,
    /// Do not train: copy this demo pack's weights and refit its temperatures and operating
    /// points (a few minutes instead of half an hour).
    #[arg(long, value_name = "PACK")]
    pub recalibrate: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: &TrainDemoArgs) -> anyhow::Result<ExitCode> {
    // Before half an hour of training, not after it.
    refuse_existing(&args.out)?;
    let evaluation = match &args.recalibrate {
        Some(source) => recalibrate(args, source)?,
        None => train_and_write(args)?,
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "pack written: {}", args.out.display())?;
    for (id, levels) in &evaluation.findings {
        for (level, m) in levels {
            writeln!(
                stdout,
                "{id}\t{level}\tAUROC {}\tECE {:.3} (raw {:.3})",
                m.auroc
                    .map_or_else(|| "—".to_string(), |a| format!("{a:.3}")),
                m.ece_calibrated,
                m.ece_raw
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Trains, calibrates, evaluates and writes a new pack.
fn train_and_write(args: &TrainDemoArgs) -> anyhow::Result<DemoEvaluation> {
    let defaults = DemoTrainConfig::default();
    let seed = args.seed.unwrap_or(defaults.seed);
    let config = DemoTrainConfig {
        seed,
        validation_seed: seed + 1,
        test_seed: seed + 2,
        steps: args.steps.unwrap_or(defaults.steps),
        train_patients: args.train_patients.unwrap_or(defaults.train_patients),
        validation_patients: args
            .validation_patients
            .unwrap_or(defaults.validation_patients),
        test_patients: args.test_patients.unwrap_or(defaults.test_patients),
        ..defaults
    };
    let mut stderr = std::io::stderr().lock();
    let started = Instant::now();
    writeln!(
        stderr,
        "rendering {} training patients (seed {})…",
        config.train_patients, config.seed
    )?;
    let train_split = render_split(&config, config.seed, config.train_patients)?;
    writeln!(
        stderr,
        "rendered in {:.0} s; training…",
        started.elapsed().as_secs_f64()
    )?;
    let training_started = Instant::now();
    let mut last_report = Instant::now();
    let model = train(
        &config,
        &train_split,
        &mut |TrainStep {
                  step,
                  of,
                  loss,
                  guidance,
              }| {
            if step == 1 || step == of || last_report.elapsed().as_secs() >= 10 {
                last_report = Instant::now();
                // Progress only: a closed stderr must not stop half an hour of training.
                let _ = writeln!(
                    stderr,
                    "step {step}/{of} loss {loss:.4} (lesion guidance {guidance:.3}) ({:.0} s)",
                    training_started.elapsed().as_secs_f64()
                );
            }
        },
    );
    let training_seconds = training_started.elapsed().as_secs_f64();
    drop(train_split);
    writeln!(
        stderr,
        "trained in {training_seconds:.0} s; rendering {} validation and {} test patients, calibrating, evaluating…",
        config.validation_patients, config.test_patients
    )?;
    let evaluation = calibrate_and_evaluate(&config, &model, training_seconds)?;
    write_demo_pack(&args.out, model, &config, &evaluation)?;
    add_domain(&args.out, &config, &evaluation)?;
    Ok(evaluation)
}

/// Refits the temperatures and operating points of the demo pack `source` and writes the
/// result, with `source`'s weights unchanged, at `args.out`.
fn recalibrate(args: &TrainDemoArgs, source: &Path) -> anyhow::Result<DemoEvaluation> {
    let trained = read_evaluation(source).with_context(|| {
        format!(
            "{} has no readable evaluation.json: only a pack written by `fovea train-demo` can be recalibrated",
            source.display()
        )
    })?;
    let config = DemoTrainConfig {
        validation_patients: args
            .validation_patients
            .unwrap_or(trained.config.validation_patients),
        test_patients: args.test_patients.unwrap_or(trained.config.test_patients),
        ..trained.config
    };
    let pack = load_pack(source, &cpu_device())?;
    let PackModel::ClipTripartite(model) = pack.model else {
        anyhow::bail!(
            "{}: not a demo pack (architecture {}); only packs written by `fovea train-demo` can be recalibrated",
            source.display(),
            pack.manifest.architecture.describe()
        );
    };
    let mut stderr = std::io::stderr().lock();
    writeln!(
        stderr,
        "rendering {} validation (seed {}) and {} test patients (seed {}), calibrating, evaluating…",
        config.validation_patients, config.validation_seed, config.test_patients, config.test_seed
    )?;
    let evaluation = DemoEvaluation {
        recalibrated: true,
        ..calibrate_and_evaluate(&config, &model, trained.training_seconds)?
    };
    write_recalibrated_demo_pack(source, &args.out, &evaluation)?;
    add_domain(&args.out, &config, &evaluation)?;
    Ok(evaluation)
}

/// Describes the validation split's images for the domain check (through `model validate`'s
/// code) and writes the description into the new pack's manifest and card.
fn add_domain(
    out: &Path,
    config: &DemoTrainConfig,
    evaluation: &DemoEvaluation,
) -> anyhow::Result<()> {
    let domain = describe_demo_domain(out, config, &mut |line| super::note(line))?;
    let mut manifest = read_manifest(out)?;
    manifest.domain = Some(domain);
    let manifest = update_manifest(out, &manifest)?;
    write_card_and_evaluation(out, &manifest, evaluation)?;
    Ok(())
}
