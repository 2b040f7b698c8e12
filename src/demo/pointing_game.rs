//! The pointing game: does a heatmap for a finding peak inside one of the lesions the
//! synthetic generator planted for it? Run on freshly drawn synthetic patients, for the demo
//! model (its finding ids and lesion kinds).

use serde::Serialize;

use super::findings::DEMO_FINDINGS;
use crate::analysis::engine::Analyzer;
use crate::analysis::heatmap::{HeatmapError, HeatmapMethod, heatmap};
use crate::synth::samples::render_patient;
use crate::synth::truth::LesionKind;
use crate::synth::{DemoConfig, LesionMask, oct::OctGeometry};

/// The lesions a finding's heatmap should point at on a fundus photograph.
fn lesion_kinds(finding: &str) -> &'static [LesionKind] {
    DEMO_FINDINGS
        .iter()
        .find(|f| f.id == finding)
        .map_or(&[], |f| f.lesions)
}

/// The pointing game's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct PointingReport {
    /// Method.
    pub method: HeatmapMethod,
    /// Lesion-positive fundus photographs tried.
    pub images: usize,
    /// Of which the heatmap's peak fell inside a lesion (dilated by one patch).
    pub hits: usize,
}

impl PointingReport {
    /// `hits / images`.
    pub fn rate(&self) -> f64 {
        self.hits as f64 / self.images.max(1) as f64
    }
}

/// The pointing game on the fundus photographs of `patients` synthetic patients drawn with
/// `seed`: for every eye with referable DR or AMD, the heatmap for that finding (Grad-CAM) or
/// the rollout must peak inside one of its lesions, each lesion's ellipse grown by one patch.
/// Fundus photographs are rendered at `fundus_px`.
pub fn pointing_game(
    analyzer: &Analyzer,
    method: HeatmapMethod,
    seed: u64,
    patients: usize,
    fundus_px: u32,
) -> Result<PointingReport, HeatmapError> {
    let config = DemoConfig {
        patients,
        seed,
        write_png: false,
        fundus_px,
        slo_px: 64,
        oct: OctGeometry::minimal(),
        ..DemoConfig::default()
    };
    let mut report = PointingReport {
        method,
        images: 0,
        hits: 0,
    };
    for index in 0..patients {
        let sample = render_patient(&config, index);
        for eye in &sample.eyes {
            let grading = eye.truth.grading();
            let Some(finding) = ["referable_dr", "amd"]
                .into_iter()
                .find(|id| grading.has(id))
            else {
                continue;
            };
            let image = &eye.images.fundus;
            let map = heatmap(analyzer, image, method, Some(finding))?;
            let (col, row) = map.peak();
            let patch_w = f64::from(image.width()) / map.columns as f64;
            let patch_h = f64::from(image.height()) / map.rows as f64;
            let (x, y) = ((col as f64 + 0.5) * patch_w, (row as f64 + 0.5) * patch_h);
            let view = eye.images.fundus_view;
            let hit = eye
                .truth
                .lesions
                .iter()
                .filter(|l| lesion_kinds(finding).contains(&l.kind))
                .any(|l| {
                    let mask = LesionMask::on(&view, l);
                    let (rx, ry) = (mask.rx + patch_w, mask.ry + patch_h);
                    ((x - mask.cx) / rx).powi(2) + ((y - mask.cy) / ry).powi(2) <= 1.0
                });
            report.images += 1;
            report.hits += usize::from(hit);
        }
    }
    Ok(report)
}
