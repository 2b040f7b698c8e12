//! A small pack of the demo model's architecture with seeded, untrained weights and the demo
//! findings at fixed temperatures and operating points: the same bytes on every run. The
//! viewer's screenshot tests draw with it, so their pictures do not move when the demo model is
//! retrained (and a moved picture means the UI changed).
//!
//! The weights come from a ChaCha stream of the seed, parameter by parameter in the module's
//! order, not from burn's initialisers: those draw from one process-wide generator, so another
//! thread using it (tests run in parallel) would change them. Constant parameters (LayerNorm's
//! ones and zeros) stay as they are; every other one gets `N(0, 1/fan_in)` (1-D ones `N(0, 0.02²)`).

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::findings::{DEMO_FINDINGS, FUNDUS_CENTRE_FRACTION};
use super::train::DemoTrainConfig;
use crate::encoder::clip_tripartite::{ClipTripartite, init_clip_tripartite_for_training};
use crate::encoder::device::cpu_device;
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

/// The seeded model's sizes (the demo model's, at [`SEEDED_IMAGE_PX`]).
fn seeded_config(seed: u64) -> DemoTrainConfig {
    DemoTrainConfig {
        seed,
        steps: 0,
        image_px: SEEDED_IMAGE_PX,
        ..DemoTrainConfig::default()
    }
}

/// The demo model's architecture with seeded weights.
fn seeded_model(seed: u64) -> ClipTripartite {
    let device = cpu_device();
    init_clip_tripartite_for_training(&seeded_config(seed).model(), &device).map(
        &mut SeededValues {
            rng: ChaCha8Rng::seed_from_u64(seed),
            device: device.clone(),
        },
    )
}

/// A seeded pack's manifest, without findings.
fn seeded_manifest(
    name: String,
    source_file: &str,
    architecture: Architecture,
    config: &DemoTrainConfig,
) -> PackManifest {
    PackManifest {
        format_version: FORMAT_VERSION,
        name,
        version: "0".to_string(),
        architecture,
        preprocessing: config.preprocess(),
        intended_use: SEEDED_INTENDED_USE.to_string(),
        provenance: Provenance {
            source_file: source_file.to_string(),
            source_sha256: String::new(),
            source_format: "seeded".to_string(),
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
    }
}

/// Writes the seeded pack at `out` (which must not exist or be empty).
pub fn write_seeded_pack(out: &Path, seed: u64) -> Result<PackManifest, PackError> {
    let config = seeded_config(seed);
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
            scale: Some(config.prompt_scale),
            level_prompts: Default::default(),
            modalities: Vec::new(),
            levels: Vec::new(),
            temperature: levels(SEEDED_TEMPERATURE),
            operating_point: levels(SEEDED_OPERATING_POINT),
        })
        .collect();
    let manifest = PackManifest {
        findings,
        fundus_centre_view: Some(FUNDUS_CENTRE_FRACTION),
        ..seeded_manifest(
            format!("Fovea seeded test pack (seed {seed})"),
            "fovea::demo::seeded::write_seeded_pack",
            Architecture::ClipTripartite {
                config: config.model(),
            },
            &config,
        )
    };
    write_pack(
        out,
        manifest,
        &PackModel::ClipTripartite(Box::new(seeded_model(seed))),
    )
}

/// Writes a seeded pack in EyeCLIP's layout (an OpenAI-style CLIP, no tripartite heads: the
/// demo model's towers with seeded weights) at `out`, scoring the bundled EyeCLIP finding set,
/// uncalibrated — what an imported published EyeCLIP looks like to the app, at test size.
pub fn write_seeded_eyeclip_pack(out: &Path, seed: u64) -> Result<PackManifest, PackError> {
    let config = seeded_config(seed);
    let mut manifest = seeded_manifest(
        format!("Fovea seeded EyeCLIP-layout test pack (seed {seed})"),
        "fovea::demo::seeded::write_seeded_eyeclip_pack",
        Architecture::OpenaiClip {
            config: config.model(),
        },
        &config,
    );
    manifest.synthetic_training_data = false;
    manifest.set_finding_set(crate::encoder::bundled_sets::bundled("eyeclip.json")?);
    write_pack(
        out,
        manifest,
        &PackModel::OpenaiClip(Box::new(seeded_model(seed).clip)),
    )
}

/// Standard deviation of seeded 1-D parameters (biases, the class token), CLIP's 0.02.
const VECTOR_STD: f64 = 0.02;

/// Gives every non-constant float parameter seeded normal values (Box–Muller: `rand_distr`
/// for this `rand` is not in the tree).
struct SeededValues {
    rng: ChaCha8Rng,
    device: Device,
}

impl ModuleMapper for SeededValues {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        use rand::Rng;
        param.map(|tensor| {
            let dims = tensor.dims();
            let values = tensor
                .clone()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap_or_default();
            let constant = values.windows(2).all(|w| w[0] == w[1]);
            if constant {
                return tensor;
            }
            let std = if D > 1 {
                (1.0 / dims[0] as f64).sqrt()
            } else {
                VECTOR_STD
            };
            let seeded: Vec<f32> = (0..values.len())
                .map(|_| {
                    // Box–Muller from two uniforms of the stream.
                    let (u, v): (f64, f64) = (self.rng.random(), self.rng.random());
                    let z = (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos();
                    (z * std) as f32
                })
                .collect();
            Tensor::from_data(TensorData::new(seeded, dims), &self.device)
        })
    }
}
