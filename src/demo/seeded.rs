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
use crate::encoder::clip_tripartite::init_clip_tripartite_for_training;
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

/// Writes the seeded pack at `out` (which must not exist or be empty).
pub fn write_seeded_pack(out: &Path, seed: u64) -> Result<PackManifest, PackError> {
    let config = DemoTrainConfig {
        seed,
        steps: 0,
        image_px: SEEDED_IMAGE_PX,
        ..DemoTrainConfig::default()
    };
    let device = cpu_device();
    let model =
        init_clip_tripartite_for_training(&config.model(), &device).map(&mut SeededValues {
            rng: ChaCha8Rng::seed_from_u64(seed),
            device: device.clone(),
        });
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
        name: format!("Fovea seeded test pack (seed {seed})"),
        version: "0".to_string(),
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
