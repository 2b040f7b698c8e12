//! `fovea train-demo`: trains the demo model on synthetic patients, calibrates it, evaluates it
//! on held-out synthetic patients and writes the pack with its model card.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crate::encoder::demo_eval::{evaluate, score_split, write_demo_pack};
use crate::encoder::demo_train::{DemoTrainConfig, TrainStep, render_split, train};

/// Options of `fovea train-demo`.
#[derive(Debug, clap::Args)]
pub struct TrainDemoArgs {
    /// The pack folder to create (the bundled one is `models/demo`).
    #[arg(long)]
    pub out: PathBuf,
    /// Optimiser steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Training patients.
    #[arg(long)]
    pub train_patients: Option<usize>,
    /// Validation patients.
    #[arg(long)]
    pub validation_patients: Option<usize>,
    /// Held-out test patients.
    #[arg(long)]
    pub test_patients: Option<usize>,
    /// Seed of the training patients (validation and test use the next two).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Runs the command.
pub fn run(args: &TrainDemoArgs) -> anyhow::Result<ExitCode> {
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
    // Before half an hour of training, not after it.
    crate::encoder::pack::refuse_existing(&args.out)?;
    let mut stderr = std::io::stderr().lock();
    let started = Instant::now();
    writeln!(
        stderr,
        "rendering {} training patients (seed {})…",
        config.train_patients, config.seed
    )?;
    let train_split = render_split(&config, config.seed, config.train_patients);
    writeln!(stderr, "rendering validation and test patients…")?;
    let validation = render_split(&config, config.validation_seed, config.validation_patients);
    let test = render_split(&config, config.test_seed, config.test_patients);
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
    let device = burn::prelude::Device::flex();
    let validation_scores = score_split(&model, &config, &validation, &device);
    let test_scores = score_split(&model, &config, &test, &device);
    let evaluation = evaluate(
        &config,
        (&validation, &validation_scores),
        (&test, &test_scores),
        training_seconds,
    );
    let manifest = write_demo_pack(&args.out, model, &config, &evaluation)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "pack written: {} ({} bytes of weights)",
        args.out.display(),
        manifest.weights.bytes
    )?;
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
