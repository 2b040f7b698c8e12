//! Benchmark: Heidelberg `.vol` — the metadata scan (header and B-scan lines only) and the
//! full decode of the B-scans (raw f32 → fourth-root display, with the vendor layers) — and
//! the optic-disc laterality check per image. Run by `benches/run_vol_decode.sh`, which times
//! eyepy's Heyex `.vol` reader on the same files in the same run.
//!
//! Usage: `vol_decode <synthetic.vol to write> [real .vol files…] [--photo fundus.jpg]`

mod common;

use std::path::{Path, PathBuf};

use common::time;
use fovea::study::heidelberg_vol::{VolBscan, VolFile, VolHeader};
use fovea::study::model::VolPart;
use fovea::study::pixels::decode_vol_file;

/// A 49-B-scan 512 × 496 volume (a common Spectralis macular cube) with 3 boundaries.
fn synthetic_cube() -> VolFile {
    let (x, z, n) = (512, 496, 49);
    let bscans = (0..n)
        .map(|i| VolBscan {
            start_mm: (0.5, 0.5 + 0.12 * i as f64),
            end_mm: (6.5, 0.5 + 0.12 * i as f64),
            quality: 30.0,
            layers: (0..3)
                .map(|k| {
                    (0..x)
                        .map(|a| Some(100.0 + 40.0 * k as f32 + (a % 9) as f32))
                        .collect()
                })
                .collect(),
            values: (0..x * z)
                .map(|j| ((j * 7919 + i * 104_729) % 10_007) as f32 / 10_007.0)
                .collect(),
        })
        .collect();
    VolFile {
        header: VolHeader {
            version: "HSF-OCT-103".to_string(),
            size_x: x,
            num_bscans: n,
            size_z: z,
            scale_x_mm: 0.0117,
            distance_mm: 0.12,
            scale_z_mm: 0.0039,
            slo_width: 768,
            slo_height: 768,
            slo_scale_x_mm: 0.0117,
            slo_scale_y_mm: 0.0117,
            slo_field_deg: 30,
            scan_position: "OD".to_string(),
            exam_datetime: None,
            patient_id: "BENCH".to_string(),
            birth_date: None,
            visit_date: None,
            scan_id: "BENCHCUBE".to_string(),
            scan_pattern: 3,
            bscan_header_bytes: 0,
        },
        slo: (0..768 * 768).map(|i| (i % 251) as u8).collect(),
        bscans,
    }
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
