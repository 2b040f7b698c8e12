//! Benchmark: Heidelberg `.vol` — the metadata scan (header and B-scan lines only) and the
//! full decode of the B-scans (raw f32 → fourth-root display, with the vendor layers) — and
//! the optic-disc laterality check per image. Run by `benches/run_vol_decode.sh`, which times
//! eyepy's Heyex `.vol` reader on the same files in the same run.
//!
//! Usage: `vol_decode <synthetic.vol to write> [real .vol files…] [--photo fundus.jpg]`

mod common;

use std::path::{Path, PathBuf};

use common::time;
use fovea::study::heidelberg_vol::VolFile;
use fovea::study::model::VolPart;
use fovea::study::pixels::decode_vol_file;
use fovea::synth::vol_writer::VolumeShape;

/// A 49-B-scan 512 × 496 volume (a common Spectralis macular cube) with 3 boundaries.
fn synthetic_cube() -> VolFile {
    fovea::synth::vol_writer::synthetic_volume(&VolumeShape {
        size_x: 512,
        size_z: 496,
        bscans: 49,
        layers: 3,
        invalid_every: 0,
        scale_x_mm: 0.0117,
        distance_mm: 0.12,
        slo_px: 768,
        slo_scale_mm: 0.0117,
        eye: "OD",
        patient_id: "BENCH",
    })
}

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.is_empty() {
        println!("vol_decode: run benches/run_vol_decode.sh");
        return Ok(());
    }
    let photo = args.iter().position(|a| a == "--photo").and_then(|i| {
        let p = args.get(i + 1).cloned();
        args.drain(i..(i + 2).min(args.len()));
        p
    });
    let synthetic = PathBuf::from(&args[0]);
    fovea::synth::vol_writer::write_vol(&synthetic, &synthetic_cube())?;
    let files: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
    for file in &files {
        let scan = time(9, || {
            fovea::study::vol_records::scanned_images(file).map(|v| v.len())
        });
        let decode = time(9, || {
            decode_vol_file(file, VolPart::Bscans).map(|d| d.frames)
        });
        let frames = decode_vol_file(file, VolPart::Bscans)?.frames;
        println!(
            "fovea\t{}\tbscans\t{frames}\tscan_ms\t{:.2}\tdecode_ms\t{:.2}",
            name(file),
            scan.as_secs_f64() * 1e3,
            decode.as_secs_f64() * 1e3
        );
    }
    if let Some(photo) = photo {
        let image = image::open(&photo)?.to_rgb8();
        let check = time(9, || fovea::study::laterality::check(&image, true));
        println!(
            "fovea\tlaterality_check\t{}x{}\tms\t{:.2}",
            image.width(),
            image.height(),
            check.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

fn name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}
