//! Benchmark: opening a model pack (`load_pack`: manifest, checksum, weights onto the CPU
//! backend), for the bundled demo pack and a full-size EyeCLIP-layout ViT-B/32 pack written for
//! the run, each way:
//! - **hash at every load** (before checksum verdicts were remembered): the verdict cache is
//!   emptied before each load;
//! - **verdict remembered** (now, from the second start on).
//!
//! each with the file in the page cache (**warm**) and, when the bench runs as root, dropped
//! from it first (**cold**: `/proc/sys/vm/drop_caches`). Median of 5 loads each. Usage:
//! `cargo bench --bench pack_load`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fovea::encoder::clip::ClipConfig;
use fovea::encoder::device::cpu_device;
use fovea::encoder::pack::{
    Architecture, FORMAT_VERSION, PackManifest, PackModel, Provenance, WeightsEntry, load_pack,
    write_pack,
};
use fovea::encoder::preprocess::Preprocess;

const LOADS: usize = 5;

fn verdicts() -> Option<PathBuf> {
    Some(
        dirs::cache_dir()?
            .join("fovea")
            .join("verified-weights.json"),
    )
}

fn forget_verdicts() {
    if let Some(file) = verdicts() {
        let _ = std::fs::remove_file(file);
    }
}

/// Drops the page cache (root only); false when it cannot.
fn drop_page_cache() -> bool {
    let _ = std::process::Command::new("sync").status();
    std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

/// A ViT-B/32 CLIP pack (both towers, OpenAI layout, 151 M parameters) at `out`. Its weights
/// are the architecture's placeholders: load time depends on the file's size, not its values.
fn write_b32_pack(out: &Path) -> anyhow::Result<u64> {
    let config = ClipConfig::vit_b32();
    let model = config.init(&cpu_device());
    let manifest = PackManifest {
        format_version: FORMAT_VERSION,
        name: "benchmark ViT-B/32".to_string(),
        version: "0".to_string(),
        architecture: Architecture::OpenaiClip { config },
        preprocessing: Preprocess::clip_224(),
        intended_use: "benchmark only".to_string(),
        provenance: Provenance {
            source_file: "benches/pack_load.rs".to_string(),
            source_sha256: String::new(),
            source_format: "placeholder".to_string(),
            state_dict_key: None,
            dropped_keys: Vec::new(),
        },
        weights: WeightsEntry::default(),
        logit_scales: BTreeMap::new(),
        findings: Vec::new(),
        class_groups: Vec::new(),
        classifier: None,
        finding_set: None,
        domain: None,
        synthetic_training_data: true,
        fundus_centre_view: None,
    };
    Ok(
        write_pack(out, manifest, &PackModel::OpenaiClip(Box::new(model)))?
            .weights
            .bytes,
    )
}

fn median_load(pack: &Path, before_each: impl Fn()) -> anyhow::Result<Duration> {
    let device = cpu_device();
    let mut samples = Vec::new();
    for _ in 0..LOADS {
        before_each();
        let start = Instant::now();
        std::hint::black_box(load_pack(pack, &device)?);
        samples.push(start.elapsed());
    }
    Ok(common::median(samples))
}

fn main() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let b32 = work.path().join("b32");
    let b32_bytes = write_b32_pack(&b32)?;
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/demo");
    let demo_bytes = std::fs::metadata(demo.join("weights.safetensors"))
        .map(|m| m.len())
        .unwrap_or(0);
    let cold = drop_page_cache();
    println!(
        "machine: {} cores; median of {LOADS} loads on the CPU backend{}",
        std::thread::available_parallelism().map_or(0, usize::from),
        if cold {
            ""
        } else {
            " (not root: no cold rows)"
        }
    );
    println!("pack\tweights MB\tpage cache\tchecksum\tload s");
    for (name, pack, bytes) in [("demo", &demo, demo_bytes), ("ViT-B/32", &b32, b32_bytes)] {
        let mb = bytes as f64 / 1e6;
        let mut rows = vec![
            (
                "warm",
                "hashed every load",
                median_load(pack, forget_verdicts)?,
            ),
            ("warm", "verdict remembered", {
                load_pack(pack, &cpu_device())?; // the first load remembers
                median_load(pack, || {})?
            }),
        ];
        if cold {
            rows.push((
                "cold",
                "hashed every load",
                median_load(pack, || {
                    forget_verdicts();
                    drop_page_cache();
                })?,
            ));
            rows.push(("cold", "verdict remembered", {
                load_pack(pack, &cpu_device())?;
                median_load(pack, || {
                    drop_page_cache();
                })?
            }));
        }
        for (cache, checksum, took) in rows {
            println!(
                "{name}\t{mb:.0}\t{cache}\t{checksum}\t{:.3}",
                took.as_secs_f64()
            );
        }
    }
    Ok(())
}
