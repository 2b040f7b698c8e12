//! Writes Heidelberg `.vol` files (the layout [`crate::study::heidelberg_vol`] describes), so
//! tests can round-trip volumes with many B-scans, which the real one-B-scan samples do not
//! have.

use std::path::Path;

use crate::study::heidelberg_vol::{FILE_HEADER_BYTES, VolBscan, VolFile, VolHeader};

/// Size of each B-scan header written (room for the boundaries after the 256 fixed bytes).
fn bscan_header_bytes(file: &VolFile) -> usize {
    let layers = file
        .bscans
        .iter()
        .map(|b| b.layers.len())
        .max()
        .unwrap_or(0);
    256 + layers * file.header.size_x * 4
}

fn put(buffer: &mut [u8], at: usize, bytes: &[u8]) {
    buffer[at..at + bytes.len()].copy_from_slice(bytes);
}

fn put_text(buffer: &mut [u8], at: usize, len: usize, text: &str) {
    let bytes = text.as_bytes();
    put(buffer, at, &bytes[..bytes.len().min(len - 1)]);
}

/// Days since 1899-12-30 of `YYYYMMDD`.
fn ole_days(date: &str) -> Option<f64> {
    let (y, m, d): (i64, i64, i64) = (
        date.get(0..4)?.parse().ok()?,
        date.get(4..6)?.parse().ok()?,
        date.get(6..8)?.parse().ok()?,
    );
    // Days from civil (H. Hinnant), then from 1970-01-01 to 1899-12-30.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468 + 25_569) as f64)
}

/// The bytes of `file` in `.vol` layout (`header.bscan_header_bytes` is recomputed).
pub fn vol_bytes(file: &VolFile) -> Vec<u8> {
    let h = &file.header;
    let bscan_header = bscan_header_bytes(file);
    let per_bscan = bscan_header + h.size_x * h.size_z * 4;
    let len = FILE_HEADER_BYTES + h.slo_width * h.slo_height + file.bscans.len() * per_bscan;
    let mut out = vec![0_u8; len];
    put_text(&mut out, 0, 12, &h.version);
    let i32_at = |out: &mut Vec<u8>, at, v: usize| put(out, at, &(v as i32).to_le_bytes());
    i32_at(&mut out, 12, h.size_x);
    i32_at(&mut out, 16, file.bscans.len());
    i32_at(&mut out, 20, h.size_z);
    for (at, v) in [
        (24, h.scale_x_mm),
        (32, h.distance_mm),
        (40, h.scale_z_mm),
        (56, h.slo_scale_x_mm),
        (64, h.slo_scale_y_mm),
    ] {
        put(&mut out, at, &v.to_le_bytes());
    }
    i32_at(&mut out, 48, h.slo_width);
    i32_at(&mut out, 52, h.slo_height);
    put(&mut out, 72, &h.slo_field_deg.to_le_bytes());
    put(&mut out, 96, &h.scan_pattern.to_le_bytes());
    put_text(&mut out, 84, 4, &h.scan_position);
    i32_at(&mut out, 100, bscan_header);
    put_text(&mut out, 104, 16, &h.scan_id);
    put_text(&mut out, 140, 21, &h.patient_id);
    if let Some(days) = h.birth_date.as_deref().and_then(ole_days) {
        put(&mut out, 164, &days.to_le_bytes());
    }
    if let Some(days) = h.visit_date.as_deref().and_then(ole_days) {
        put(&mut out, 200, &days.to_le_bytes());
    }
    put(&mut out, FILE_HEADER_BYTES, &file.slo);
    for (i, b) in file.bscans.iter().enumerate() {
        let at = FILE_HEADER_BYTES + h.slo_width * h.slo_height + i * per_bscan;
        put_text(&mut out, at, 12, "HSF-BS-103");
        i32_at(&mut out, at + 12, bscan_header);
        for (o, v) in [
            (16, b.start_mm.0),
            (24, b.start_mm.1),
            (32, b.end_mm.0),
            (40, b.end_mm.1),
        ] {
            put(&mut out, at + o, &v.to_le_bytes());
        }
        i32_at(&mut out, at + 48, b.layers.len());
        i32_at(&mut out, at + 52, 256);
        put(&mut out, at + 56, &b.quality.to_le_bytes());
        for (k, layer) in b.layers.iter().enumerate() {
            for (a, v) in layer.iter().enumerate() {
                let value = v.unwrap_or(f32::from_bits(0x7F7F_FFFF));
                put(
                    &mut out,
                    at + 256 + 4 * (k * h.size_x + a),
                    &value.to_le_bytes(),
                );
            }
        }
        for (j, v) in b.values.iter().enumerate() {
            put(&mut out, at + bscan_header + 4 * j, &v.to_le_bytes());
        }
    }
    out
}

/// Writes `file` to `path`.
pub fn write_vol(path: &Path, file: &VolFile) -> std::io::Result<()> {
    std::fs::write(path, vol_bytes(file))
}

/// The shape of a synthetic raster volume ([`synthetic_volume`]).
#[derive(Debug, Clone)]
pub struct VolumeShape {
    /// A-scans per B-scan.
    pub size_x: usize,
    /// Rows per B-scan.
    pub size_z: usize,
    /// B-scans.
    pub bscans: usize,
    /// Layer boundaries per B-scan; the last has a gap every fifth A-scan when there are two
    /// or more.
    pub layers: usize,
    /// Every this many samples is the invalid value `0x7F7FFFFF` (none when 0).
    pub invalid_every: usize,
    /// A-scan spacing (ScaleX), in mm.
    pub scale_x_mm: f64,
    /// The distance between B-scans, in mm.
    pub distance_mm: f64,
    /// The SLO's side, in pixels.
    pub slo_px: usize,
    /// The SLO's pixel spacing, in mm.
    pub slo_scale_mm: f64,
    /// ScanPosition: "OD" or "OS".
    pub eye: &'static str,
    /// The patient id.
    pub patient_id: &'static str,
}

/// A raster volume of `shape` with made-up but structured values: each B-scan a horizontal
/// line on the SLO 0.5 mm from its edge, one `distance_mm` below the last, layer boundaries
/// a few rows apart inside the B-scan, reflectivities in [0, 1) with invalid samples
/// interspersed. The same shape gives the same file.
pub fn synthetic_volume(shape: &VolumeShape) -> VolFile {
    let (x, z) = (shape.size_x, shape.size_z);
    let width_mm = x as f64 * shape.scale_x_mm;
    let bscans = (0..shape.bscans)
        .map(|i| {
            let y_mm = 0.5 + shape.distance_mm * i as f64;
            let layers = (0..shape.layers)
                .map(|k| {
                    let row = (z * (k + 1) / (shape.layers + 2)) as f32;
                    let gaps = shape.layers >= 2 && k + 1 == shape.layers;
                    (0..x)
                        .map(|a| (!(gaps && a % 5 == 0)).then_some(row + (a % 7) as f32))
                        .collect()
                })
                .collect();
            let values = (0..x * z)
                .map(|j| {
                    if shape.invalid_every > 0 && j % shape.invalid_every == 0 {
                        f32::from_bits(0x7F7F_FFFF)
                    } else {
                        ((j * 7919 + i * 104_729) % 10_007) as f32 / 10_007.0
                    }
                })
                .collect();
            VolBscan {
                start_mm: (0.5, y_mm),
                end_mm: (0.5 + width_mm, y_mm),
                quality: 30.0,
                layers,
                values,
            }
        })
        .collect();
    VolFile {
        header: VolHeader {
            version: "HSF-OCT-103".to_string(),
            size_x: x,
            num_bscans: shape.bscans,
            size_z: z,
            scale_x_mm: shape.scale_x_mm,
            distance_mm: shape.distance_mm,
            scale_z_mm: 0.0039,
            slo_width: shape.slo_px,
            slo_height: shape.slo_px,
            slo_scale_x_mm: shape.slo_scale_mm,
            slo_scale_y_mm: shape.slo_scale_mm,
            slo_field_deg: 30,
            scan_position: shape.eye.to_string(),
            exam_datetime: None,
            patient_id: shape.patient_id.to_string(),
            birth_date: Some("19600203".to_string()),
            visit_date: Some("20260115".to_string()),
            scan_id: format!("SYN{}", shape.patient_id),
            scan_pattern: 3,
            bscan_header_bytes: 0,
        },
        slo: (0..shape.slo_px * shape.slo_px)
            .map(|i| (i % 251) as u8)
            .collect(),
        bscans,
    }
}
