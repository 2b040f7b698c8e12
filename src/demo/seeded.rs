//! A small pack of the demo model's architecture with seeded, untrained weights and the demo
//! findings at fixed temperatures and operating points: the same bytes on every run and
//! machine of the same kind. The viewer's screenshot tests draw with it, so their pictures do
//! not move when the demo model is retrained (and a moved picture means the UI changed).

use std::collections::BTreeMap;
use std::path::Path;

use super::findings::{DEMO_FINDINGS, FUNDUS_CENTRE_FRACTION};
use super::train::{DemoSplit, DemoTrainConfig, train};
use crate::encoder::pack::{
    Architecture, FORMAT_VERSION, FindingSpec, PackError, PackManifest, PackModel, Provenance,
    WeightsEntry, write_pack,
};

/// The seeded pack's input side, px (small: it is drawn with, not read).
const SEEDED_IMAGE_PX: usize = 64;

/// Temperature of every finding at every level (1: the raw prompt-pair logit).
const SEEDED_TEMPERATURE: f32 = 1.0;

/// Operating point of every finding at every level.
const SEEDED_OPERATING_POINT: f32 = 0.5;

/// What the seeded pack's manifest says it is for.
pub const SEEDED_INTENDED_USE: &str = "TEST PACK — seeded random weights, never trained; temperatures (1) and operating points (0.5) are fixed, not fitted. Its numbers mean nothing; it exists so that pictures of the viewer stay the same.";

/// Writes the seeded pack at `out` (which must not exist or be empty).
pub fn write_seeded_pack(out: &Path, seed: u64) -> Result<PackManifest, PackError> {
    let config = DemoTrainConfig {
        seed,
        steps: 0,
        image_px: SEEDED_IMAGE_PX,
        ..DemoTrainConfig::default()
    };
    let nothing = DemoSplit {
        pixels: Vec::new(),
        lesion_patches: Vec::new(),
        grid: config.grid(),
        eyes: Vec::new(),
        reports: Vec::new(),
        patients: 0,
        px: SEEDED_IMAGE_PX,
    };
    let model = train(&config, &nothing, &mut |_| {});
    let levels = |value: f32| {
        ["image", "eye", "patient"]
            .map(|level| (level.to_string(), value))
            .into_iter()
            .collect::<BTreeMap<_, _>>()
    };
    let findings = DEMO_FINDINGS
        .iter()
        .map(|f| FindingSpec {
            id: f.id.to_string(),
            name: f.name.to_string(),
            prompt: f.prompt.to_string(),
            negative_prompt: f.negative_prompt.to_string(),
            scale: config.prompt_scale,
            temperature: levels(SEEDED_TEMPERATURE),
            operating_point: levels(SEEDED_OPERATING_POINT),
        })
        .collect();
    let manifest = PackManifest {
        format_version: FORMAT_VERSION,
        name: "Fovea seeded test pack".to_string(),
        version: format!("seed {seed}"),
        architecture: Architecture::ClipTripartite {
            config: config.model(),
        },
        preprocessing: config.preprocess(),
        intended_use: SEEDED_INTENDED_USE.to_string(),
        provenance: Provenance {
            source_file: "fovea::demo::seeded::write_seeded_pack".to_string(),
            source_sha256: String::new(),
            source_format: "seeded".to_string(),
            state_dict_key: None,
            dropped_keys: Vec::new(),
        },
        weights: WeightsEntry::default(),
        logit_scales: BTreeMap::new(),
        findings,
        synthetic_training_data: true,
        fundus_centre_view: Some(FUNDUS_CENTRE_FRACTION),
    };
    write_pack(out, manifest, &PackModel::ClipTripartite(Box::new(model)))
}
