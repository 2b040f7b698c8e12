//! `fovea model import|findings|info|embed`: make a model pack from a published checkpoint,
//! change what it scores, check it, and print its embeddings.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::encoder::bundled_sets::check_fits;
use crate::encoder::device::{DeviceChoice, cpu_device, open_device, with_cpu_fallback};
use crate::encoder::embed::{embed_image, text_vectors};
use crate::encoder::finding_set::{FindingSet, PerLevel};
use crate::encoder::pack::{
    IMPORTED_INTENDED_USE, ImportOptions, PackManifest, import_checkpoint, load_pack,
    read_manifest, write_pack_with_weights_of,
};
use crate::encoder::presets::{ARCH_NAMES, preset};
use crate::study::dicom_meta::is_dicom;
use crate::study::pixels::{decode_dicom_file, decode_plain_file};
use crate::validation::pack::ValidateRequest;

/// `fovea model …`.
#[derive(Debug, clap::Subcommand)]
pub enum ModelCommand {
    /// Convert a published checkpoint (PyTorch .pt/.pth or safetensors) into a model pack.
    Import {
        /// Architecture of the checkpoint: eyeclip (OpenAI CLIP ViT-B/32), openai-clip-b16,
        /// openai-clip-l14, retclip (Chinese-CLIP ViT-B/16 + BERT + tripartite heads),
        /// retfound (timm ViT-L/16; pooling and head read from the checkpoint), timm-vit-b16.
        #[arg(long)]
        arch: String,
        /// JSON file with sizes that differ from the preset's (any part of the architecture's
        /// `config`, as a pack's manifest.json holds it), merged over the preset.
        #[arg(long)]
        arch_config: Option<PathBuf>,
        /// The checkpoint.
        checkpoint: PathBuf,
        /// The pack folder to create.
        out: PathBuf,
        /// Name shown with every result.
        #[arg(long)]
        name: Option<String>,
        /// Version shown with every result.
        #[arg(long, default_value = "1")]
        version: String,
        /// The finding set to attach instead of the architecture's bundled one
        /// (models/finding-sets/: eyeclip.json for eyeclip, ret-clip.json for retclip; a
        /// RETFound head needs the set of its head, e.g. retfound-dr5.json).
        #[arg(long)]
        findings: Option<PathBuf>,
    },
    /// Write a copy of a pack that scores another finding set. The weights are copied byte
    /// for byte (same checksum); the set's calibration, if any, comes with it.
    Findings {
        /// The pack folder.
        pack: PathBuf,
        /// The finding-set file.
        #[arg(long)]
        set: PathBuf,
        /// The new pack folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Validate a pack on your own labelled images: fit temperatures and operating points on
    /// half the patients, measure AUROC, ECE, sensitivity and specificity (bootstrap 95 %
    /// intervals) on the other half, describe the images (the domain check), and write a
    /// validated copy with its report (VALIDATION.md, validation.json, roc.png,
    /// reliability.png). The weights are copied byte for byte.
    Validate {
        /// The pack folder.
        pack: PathBuf,
        /// Labelled studies: folders, DICOM files, DICOMDIRs or plain images.
        #[arg(required = true)]
        studies: Vec<PathBuf>,
        /// The labels: ground_truth.json, or a CSV with header patient_id,eye,findings
        /// (findings `;`-separated ids, or `group:class` grades such as dr_grade:moderate).
        /// Default: ground_truth.json or labels.csv in the first folder.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Sensitivity the operating points are chosen for.
        #[arg(long, default_value_t = 0.9)]
        sensitivity: f64,
        /// The validated pack folder to write.
        #[arg(long)]
        out: PathBuf,
        /// Where to run the model.
        #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
        device: DeviceChoice,
    },
    /// Print what a pack is and whether it loads (checksum, keys, shapes).
    Info {
        /// The pack folder.
        pack: PathBuf,
    },
    /// Print image (and text) embeddings, e.g. to export features or compare with a reference.
    Embed {
        /// The pack folder.
        pack: PathBuf,
        /// Images: DICOM (first frame) or PNG/JPEG/TIFF/BMP.
        images: Vec<PathBuf>,
        /// Texts to embed too (repeat the option for several).
        #[arg(long)]
        text: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Where to run: the GPU (wgpu), the CPU, or the GPU if it works.
        #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
        device: DeviceChoice,
    },
}

/// Runs a `model` subcommand.
pub fn run(command: &ModelCommand) -> anyhow::Result<ExitCode> {
    match command {
        ModelCommand::Import {
            arch,
            arch_config,
            checkpoint,
            out,
            name,
            version,
            findings,
        } => {
            let mut architecture = preset(arch).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown --arch {arch}: use one of {}",
                    ARCH_NAMES.join(", ")
                )
            })?;
            if let Some(path) = arch_config {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let overrides: serde_json::Value = serde_json::from_str(&text)
                    .with_context(|| format!("{}: not JSON", path.display()))?;
                let bad = || format!("{}: not a configuration for --arch {arch}", path.display());
                let mut merged = serde_json::to_value(&architecture)?;
                merge_json(&mut merged["config"], overrides);
                architecture = serde_json::from_value(merged).with_context(bad)?;
            }
            let options = ImportOptions {
                name: name.clone().unwrap_or_else(|| arch.clone()),
                version: version.clone(),
                intended_use: IMPORTED_INTENDED_USE.to_string(),
                finding_set: findings.as_deref().map(FindingSet::read).transpose()?,
            };
            let manifest = import_checkpoint(checkpoint, architecture, out, &options)?;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "pack written: {}", out.display())?;
            writeln!(
                stdout,
                "weights SHA-256 {} ({} bytes)",
                manifest.weights.sha256, manifest.weights.bytes
            )?;
            match &manifest.finding_set {
                Some(set) => writeln!(stdout, "finding set: {} ({})", set.name, set.source)?,
                None => writeln!(
                    stdout,
                    "finding set: none (this model has no classifier head and no text encoder; give one with fovea model findings)"
                )?,
            }
            if !manifest.provenance.dropped_keys.is_empty() {
                writeln!(
                    stdout,
                    "dropped training-only keys: {}",
                    summarize_keys(&manifest.provenance.dropped_keys)
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelCommand::Info { pack } => {
            let loaded = load_pack(pack, &cpu_device())?;
            let m = &loaded.manifest;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{} version {}", m.name, m.version)?;
            writeln!(stdout, "architecture: {}", m.architecture.describe())?;
            writeln!(
                stdout,
                "preprocessing: {:?} resize to {} px, centre crop {} px, mean {:?}, std {:?}",
                m.preprocessing.resize,
                m.preprocessing.resize_px,
                m.preprocessing.crop_px,
                m.preprocessing.mean,
                m.preprocessing.std
            )?;
            writeln!(stdout, "intended use: {}", m.intended_use)?;
            if m.provenance.source_sha256.is_empty() {
                writeln!(
                    stdout,
                    "source: {} ({})",
                    m.provenance.source_file, m.provenance.source_format
                )?;
            } else {
                writeln!(
                    stdout,
                    "source: {} ({}, SHA-256 {})",
                    m.provenance.source_file,
                    m.provenance.source_format,
                    m.provenance.source_sha256
                )?;
            }
            if m.synthetic_training_data {
                writeln!(
                    stdout,
                    "TRAINED ON SYNTHETIC DATA ONLY — its numbers say nothing about real eyes"
                )?;
            }
            finding_lines(&mut stdout, m)?;
            match &m.domain {
                Some(d) => writeln!(
                    stdout,
                    "domain check: validated on {} ({} modalities)",
                    d.source,
                    d.modalities.len()
                )?,
                None => writeln!(
                    stdout,
                    "domain check: not validated here (validate it: fovea model validate)"
                )?,
            }
            writeln!(stdout, "weights: checksum OK, every key loaded")?;
            Ok(ExitCode::SUCCESS)
        }
        ModelCommand::Findings { pack, set, out } => {
            let finding_set = FindingSet::read(set)?;
            let manifest = read_manifest(pack)?;
            check_fits(
                &finding_set,
                &manifest.architecture,
                &set.display().to_string(),
            )?;
            let mut changed = manifest;
            changed.set_finding_set(finding_set);
            let written = write_pack_with_weights_of(pack, out, changed)?;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "pack written: {}", out.display())?;
            writeln!(
                stdout,
                "weights copied unchanged: SHA-256 {}",
                written.weights.sha256
            )?;
            writeln!(
                stdout,
                "findings: {}",
                written.finding_set().finding_ids().join(", ")
            )?;
            Ok(ExitCode::SUCCESS)
        }
        ModelCommand::Embed {
            pack,
            images,
            text,
            json,
            device,
        } => embed(pack, images, text, *json, *device),
        ModelCommand::Validate {
            pack,
            studies,
            labels,
            sensitivity,
            out,
            device,
        } => super::validate::run(&ValidateRequest {
            pack: pack.clone(),
            studies: studies.clone(),
            labels: labels.clone(),
            sensitivity: *sensitivity,
            out: out.clone(),
            device: *device,
        }),
    }
}

fn embed(
    pack: &std::path::Path,
    images: &[PathBuf],
    texts: &[String],
    json: bool,
    device: DeviceChoice,
) -> anyhow::Result<ExitCode> {
    let opened = open_device(device)?;
    super::note(&opened.choice);
    if let Some(notice) = &opened.fallback_notice {
        log::warn!("{notice}");
    }
    let mut frames = Vec::new();
    for path in images {
        let decoded = if is_dicom(path)? {
            decode_dicom_file(path)?
        } else {
            decode_plain_file(path)?
        };
        let rgb = decoded
            .frame_to_rgb8(0)
            .with_context(|| format!("{}: no frame to embed", path.display()))?;
        frames.push((path, rgb));
    }
    // Everything that touches the device runs inside the fallback: a GPU failure part-way
    // re-runs it on the CPU.
    let (result, gpu_failure) = with_cpu_fallback(&opened, |device| -> anyhow::Result<_> {
        let loaded = load_pack(pack, device)?;
        let mut image_rows = Vec::new();
        for (path, rgb) in &frames {
            image_rows.push(serde_json::json!({ "path": path, "embedding": embed_image(&loaded, rgb, device)? }));
        }
        let mut text_rows = Vec::new();
        for text in texts {
            let embedded = text_vectors(&loaded, &[text.as_str()], device)?.remove(0);
            let mut row = serde_json::json!({ "text": text, "embedding": embedded.image });
            if let (Some(left), Some(right)) = (embedded.left, embedded.right) {
                row["embedding_left_eye"] = serde_json::json!(left);
                row["embedding_right_eye"] = serde_json::json!(right);
            }
            text_rows.push(row);
        }
        Ok((loaded, image_rows, text_rows))
    });
    let (loaded, image_rows, text_rows) = result?;
    let (kind, notice) = match gpu_failure {
        Some(notice) => {
            log::warn!("{notice}");
            ("cpu", Some(notice))
        }
        None => (opened.kind, opened.fallback_notice.clone()),
    };
    let m = &loaded.manifest;
    let mut stdout = std::io::stdout().lock();
    if json {
        let out = serde_json::json!({
            "pack": { "name": m.name, "version": m.version, "weights_sha256": m.weights.sha256 },
            "device": kind,
            "device_notice": notice,
            "images": image_rows,
            "texts": text_rows,
        });
        serde_json::to_writer_pretty(&mut stdout, &out)?;
        writeln!(stdout)?;
    } else {
        writeln!(stdout, "pack {} version {} on {}", m.name, m.version, kind)?;
        for row in image_rows.iter().chain(&text_rows) {
            let label = row
                .get("path")
                .or_else(|| row.get("text"))
                .map(|v| v.to_string())
                .unwrap_or_default();
            let values: Vec<String> = row["embedding"]
                .as_array()
                .map(|v| v.iter().map(|x| x.to_string()).collect())
                .unwrap_or_default();
            writeln!(stdout, "{label}\t{}", values.join(" "))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What a pack scores, one line per finding.
fn finding_lines(out: &mut impl Write, m: &PackManifest) -> std::io::Result<()> {
    if let Some(set) = &m.finding_set {
        writeln!(out, "finding set: {} — {}", set.name, set.source)?;
    }
    if m.scores_nothing() {
        writeln!(
            out,
            "findings: none (give a finding set: fovea model findings)"
        )?;
    }
    let calibration = |t: &PerLevel, op: &PerLevel| {
        if t.is_empty() {
            "uncalibrated".to_string()
        } else {
            format!("calibrated; operating points {op:?}")
        }
    };
    for f in &m.findings {
        writeln!(
            out,
            "finding {}: {} (prompt \"{}\" vs \"{}\"; {})",
            f.id,
            f.name,
            f.prompt,
            f.negative_prompt,
            calibration(&f.temperature, &f.operating_point)
        )?;
    }
    let groups = m.class_groups.iter().map(|g| {
        let classes: Vec<&str> = g.classes.iter().map(|c| c.name.as_str()).collect();
        (
            format!("class group {}: {}", g.id, g.name),
            classes,
            &g.findings,
        )
    });
    let head = m.classifier.iter().map(|h| {
        let classes: Vec<&str> = h.classes.iter().map(|c| c.name.as_str()).collect();
        (
            format!("classifier head {}: {}", h.id, h.name),
            classes,
            &h.findings,
        )
    });
    for (title, classes, findings) in groups.chain(head) {
        writeln!(out, "{title} [{}]", classes.join(" | "))?;
        for f in findings {
            writeln!(
                out,
                "finding {}: {} (= {}; {})",
                f.id,
                f.name,
                f.classes.join(" + "),
                calibration(&f.temperature, &f.operating_point)
            )?;
        }
    }
    Ok(())
}

/// Writes `overrides` into `base`, object by object; other values replace.
fn merge_json(base: &mut serde_json::Value, overrides: serde_json::Value) {
    match (base, overrides) {
        (serde_json::Value::Object(base), serde_json::Value::Object(overrides)) => {
            for (key, value) in overrides {
                merge_json(base.entry(key).or_insert(serde_json::Value::Null), value);
            }
        }
        (base, overrides) => *base = overrides,
    }
}

/// Keys for people: listed when few; when many, as patterns with the layer numbers folded
/// (`layerN.N.bnN.num_batches_tracked × 48`), the full list being in the pack's manifest.
fn summarize_keys(keys: &[String]) -> String {
    const LISTED: usize = 12;
    if keys.len() <= LISTED {
        return keys.join(", ");
    }
    let mut patterns: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for key in keys {
        let pattern: String = key
            .split('.')
            .map(|part| {
                let mut folded = String::with_capacity(part.len());
                let mut in_digits = false;
                for c in part.chars() {
                    if c.is_ascii_digit() {
                        if !in_digits {
                            folded.push('N');
                        }
                        in_digits = true;
                    } else {
                        folded.push(c);
                        in_digits = false;
                    }
                }
                folded
            })
            .collect::<Vec<_>>()
            .join(".");
        *patterns.entry(pattern).or_default() += 1;
    }
    let parts: Vec<String> = patterns
        .iter()
        .map(|(pattern, n)| {
            if *n == 1 {
                pattern.clone()
            } else {
                format!("{pattern} × {n}")
            }
        })
        .collect();
    format!(
        "{} keys: {} (all named in the pack's manifest.json)",
        keys.len(),
        parts.join(", ")
    )
}
