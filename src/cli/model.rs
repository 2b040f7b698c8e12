//! `fovea model import|info`: make a model pack from a published checkpoint, and check a pack.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use burn::prelude::Device;

use crate::encoder::clip::ClipConfig;
use crate::encoder::clip_tokenizer::ClipTokenizer;
use crate::encoder::device::{DeviceChoice, open_device};
use crate::encoder::embed::{embed_image, embed_text};
use crate::encoder::pack::{Architecture, ImportOptions, import_openai_clip, load_pack};
use crate::study::dicom_meta::has_dicom_magic;
use crate::study::pixels::{decode_dicom_file, decode_plain_file};

/// `fovea model …`.
#[derive(Debug, clap::Subcommand)]
pub enum ModelCommand {
    /// Convert a published checkpoint (PyTorch .pt/.pth or safetensors) into a model pack.
    Import {
        /// Architecture of the checkpoint: eyeclip (OpenAI CLIP ViT-B/32), openai-clip-b16,
        /// openai-clip-l14. RET-CLIP and RETFound are not supported yet.
        #[arg(long)]
        arch: String,
        /// JSON file with the tower sizes (a `ClipConfig`), overriding the preset's.
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
        } => {
            let mut config = match arch.as_str() {
                "eyeclip" | "openai-clip-b32" => ClipConfig::vit_b32(),
                "openai-clip-b16" => ClipConfig::new(
                    crate::encoder::clip_vision::ClipVisionConfig::vit_b16(),
                    crate::encoder::clip_text::ClipTextConfig::vit_b(),
                ),
                "openai-clip-l14" => ClipConfig::new(
                    crate::encoder::clip_vision::ClipVisionConfig::vit_l14(),
                    crate::encoder::clip_text::ClipTextConfig::vit_l14(),
                ),
                "retclip" | "retfound" => bail!(
                    "--arch {arch} is not supported yet (planned: RET-CLIP and RETFound packs)"
                ),
                other => {
                    bail!("unknown --arch {other}: use eyeclip, openai-clip-b16 or openai-clip-l14")
                }
            };
            if let Some(path) = arch_config {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                config = serde_json::from_str(&text)
                    .with_context(|| format!("{}: not a CLIP config", path.display()))?;
            }
            let options = ImportOptions {
                name: name.clone().unwrap_or_else(|| arch.clone()),
                version: version.clone(),
                intended_use: "Research use only. Not a medical device; not for diagnosis. Imported from a published checkpoint; validate on your own data before drawing conclusions.".to_string(),
            };
            let manifest = import_openai_clip(checkpoint, config, out, &options)?;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "pack written: {}", out.display())?;
            writeln!(
                stdout,
                "weights SHA-256 {} ({} bytes)",
                manifest.weights.sha256, manifest.weights.bytes
            )?;
            if !manifest.provenance.dropped_keys.is_empty() {
                writeln!(
                    stdout,
                    "dropped training-only keys: {}",
                    manifest.provenance.dropped_keys.join(", ")
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelCommand::Info { pack } => {
            let loaded = load_pack(pack, &Device::flex())?;
            let m = &loaded.manifest;
            let Architecture::OpenaiClip { config } = &m.architecture;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{} version {}", m.name, m.version)?;
            writeln!(
                stdout,
                "architecture: OpenAI-style CLIP, image {} px / patch {} / width {} × {} layers, text width {} × {} layers, embedding {}",
                config.vision.image_size,
                config.vision.patch_size,
                config.vision.width,
                config.vision.layers,
                config.text.width,
                config.text.layers,
                config.vision.embed_dim
            )?;
            writeln!(stdout, "intended use: {}", m.intended_use)?;
            writeln!(
                stdout,
                "source: {} ({}, SHA-256 {})",
                m.provenance.source_file, m.provenance.source_format, m.provenance.source_sha256
            )?;
            writeln!(stdout, "weights: checksum OK, every key loaded")?;
            Ok(ExitCode::SUCCESS)
        }
        ModelCommand::Embed {
            pack,
            images,
            text,
            json,
            device,
        } => embed(pack, images, text, *json, *device),
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
    if let Some(notice) = &opened.fallback_notice {
        log::warn!("{notice}");
    }
    let loaded = load_pack(pack, &opened.device)?;
    let mut image_rows = Vec::new();
    for path in images {
        let decoded = if has_dicom_magic(path)? {
            decode_dicom_file(path)?
        } else {
            decode_plain_file(path)?
        };
        let rgb = decoded
            .frame_to_rgb8(0)
            .with_context(|| format!("{}: no frame to embed", path.display()))?;
        image_rows.push(serde_json::json!({ "path": path, "embedding": embed_image(&loaded, &rgb, &opened.device)? }));
    }
    let tokenizer = ClipTokenizer::new();
    let mut text_rows = Vec::new();
    for text in texts {
        text_rows.push(serde_json::json!({ "text": text, "embedding": embed_text(&loaded, &tokenizer, text, &opened.device)? }));
    }
    let m = &loaded.manifest;
    let mut stdout = std::io::stdout().lock();
    if json {
        let out = serde_json::json!({
            "pack": { "name": m.name, "version": m.version, "weights_sha256": m.weights.sha256 },
            "device": opened.kind,
            "device_notice": opened.fallback_notice,
            "images": image_rows,
            "texts": text_rows,
        });
        serde_json::to_writer_pretty(&mut stdout, &out)?;
        writeln!(stdout)?;
    } else {
        writeln!(
            stdout,
            "pack {} version {} on {}",
            m.name, m.version, opened.kind
        )?;
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
