//! Training Fovea's demo model: a small OpenAI-style CLIP with RET-CLIP's tripartite heads,
//! trained with burn's autodiff on synthetic patients rendered in memory (fundus, SLO and the
//! central OCT B-scan of both eyes), so every analysis path — zero-shot prompts, eye and patient
//! spaces, heatmaps — is exercised by a model that learned something.
//!
//! Losses, per batch of patients:
//! - **image level** (CLIP space): each image against each finding's prompt pair,
//!   `s = scale · (cos(x, prompt) − cos(x, negative prompt))`, binary cross-entropy with the
//!   eye's label, counted only for modalities that show the finding;
//! - **eye level**: the mean of the eye's normalised image features through the left or right
//!   mapping, against the left or right text head's prompts;
//! - **patient level**: both eyes' mean features through the patient mapping, against the
//!   patient text head's prompts; label = present in either eye;
//! - **reports**: fundus images against their eye's synthetic report (contrastive, identical
//!   reports count as positives), so free-text prompts mean something;
//! - **lesion guidance**: in views of an eye with referable DR or AMD, the class token's
//!   last-block attention should fall on the generator's lesions of that finding
//!   ([`super::guidance`]), so the model scores lesions rather than landmarks and its
//!   heatmaps can show them.
//!
//! After training, temperatures are fitted per finding and level on a validation split, the
//! referral operating points are set there (sensitivity ≥ 0.9), and the held-out test split
//! (patients drawn with another seed) is scored: those numbers go in the model card.

use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, log_softmax};

use super::findings::{DEMO_FINDINGS, FUNDUS_CENTRE_FRACTION, MODALITIES, VIEWS_PER_EYE};
use super::guidance::{attention_guidance_loss, eye_lesion_patches};
use crate::encoder::clip::ClipConfig;
use crate::encoder::clip_text::ClipTextConfig;
use crate::encoder::clip_tokenizer::ClipTokenizer;
use crate::encoder::clip_tripartite::{ClipTripartite, init_clip_tripartite_for_training};
use crate::encoder::clip_vision::ClipVisionConfig;
use crate::encoder::preprocess::{Preprocess, centre_crop};
use crate::encoder::ret_clip::Side;
use crate::synth::samples::{PatientSample, render_patient};
use crate::synth::truth::EyeTruth;
use crate::synth::{DemoConfig, oct::OctGeometry};

/// The image tower's patch side, px.
const PATCH_PX: usize = 16;

/// Why a split could not be rendered: the split would miss patients, so nothing is trained or
/// scored on it.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A render thread could not start.
    #[error("cannot start a render thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// A render thread panicked.
    #[error("a render thread panicked: {0}")]
    Panicked(String),
}

/// Everything that decides the trained weights.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DemoTrainConfig {
    /// Seed of the training patients (and of initialisation and batching).
    pub seed: u64,
    /// Training patients.
    pub train_patients: usize,
    /// Seed of the validation patients (temperatures, operating points).
    pub validation_seed: u64,
    /// Validation patients.
    pub validation_patients: usize,
    /// Seed of the held-out test patients (the model card's numbers).
    pub test_seed: u64,
    /// Test patients.
    pub test_patients: usize,
    /// Optimiser steps.
    pub steps: usize,
    /// Patients per step (each gives 2 eyes × 3 images).
    pub batch_patients: usize,
    /// Peak learning rate (AdamW, linear warm-up, cosine decay).
    pub learning_rate: f64,
    /// Scale of prompt-pair logits.
    pub prompt_scale: f32,
    /// Model input side, px.
    pub image_px: usize,
    /// Weight of the lesion-guidance loss (0 turns it off).
    pub guidance_weight: f32,
}

impl Default for DemoTrainConfig {
    fn default() -> Self {
        DemoTrainConfig {
            seed: 11,
            train_patients: 800,
            validation_seed: 12,
            validation_patients: 400,
            test_seed: 13,
            test_patients: 400,
            steps: 1900,
            batch_patients: 8,
            learning_rate: 1e-3,
            prompt_scale: 10.0,
            image_px: 192,
            guidance_weight: 0.5,
        }
    }
}

impl DemoTrainConfig {
    /// The model's sizes: ViT 192 px / patch 16 / width 128 × 4, text width 64 × 3 (context 32),
    /// 64-d spaces.
    pub fn model(&self) -> ClipConfig {
        ClipConfig::new(
            ClipVisionConfig::new(self.image_px, PATCH_PX, 128, 4, 4, 64),
            ClipTextConfig::new(32, 49_408, 64, 3, 4, 64),
        )
    }

    /// How images are rendered for training, validation and test: exactly the geometry of the
    /// demo patients `fovea demo-data` writes (fundus 768 px, SLO 512 px, 384 × 256 B-scans), so
    /// the model learns — and the model card measures — the images the app is given; only the
    /// volume is cut to three B-scans (the middle one through the fovea, as in the demo volumes).
    pub fn render_config(&self, seed: u64, patients: usize) -> DemoConfig {
        let demo = DemoConfig::default();
        DemoConfig {
            patients,
            seed,
            write_png: false,
            oct: OctGeometry {
                bscans: 3,
                ..demo.oct
            },
            ..demo
        }
    }

    /// Patches per side of the model's input.
    pub fn grid(&self) -> usize {
        self.image_px / PATCH_PX
    }

    /// The pack's preprocessing (squash: fundus and SLO are square; an OCT B-scan keeps its
    /// full width).
    pub fn preprocess(&self) -> Preprocess {
        Preprocess::squash_clip(self.image_px as u32)
    }
}

/// Synthetic patients as model inputs.
pub struct DemoSplit {
    /// `[patients × 2 eyes × VIEWS_PER_EYE]` images of `3 × px × px` values, flattened.
    pub pixels: Vec<f32>,
    /// `[patients × 2 eyes × VIEWS_PER_EYE]` lesion masks of `grid × grid` patches (1.0 where a
    /// guided lesion lies; see [`super::guidance`]), flattened.
    pub lesion_patches: Vec<f32>,
    /// Patches per side of the masks.
    pub grid: usize,
    /// Per eye (patient-major, right then left): its truth.
    pub eyes: Vec<EyeTruth>,
    /// Per eye: its report line.
    pub reports: Vec<String>,
    /// Patients.
    pub patients: usize,
    /// Image side.
    pub px: usize,
}

impl DemoSplit {
    /// Values per image.
    pub fn image_len(&self) -> usize {
        3 * self.px * self.px
    }

    /// Finding labels of eye `e`.
    pub fn eye_labels(&self, e: usize) -> [bool; 3] {
        DEMO_FINDINGS.map(|f| f.present_in(&self.eyes[e]))
    }
}

/// What the model inputs of one eye are: fundus, fundus centre, SLO, central B-scan,
/// preprocessed.
pub fn eye_inputs(
    sample: &crate::synth::samples::EyeSample,
    preprocess: &Preprocess,
) -> [Vec<f32>; VIEWS_PER_EYE] {
    let images = &sample.images;
    let slo = image::DynamicImage::ImageLuma8(images.slo.clone()).to_rgb8();
    let centre = &images.bscans[images.bscans.len() / 2];
    let oct = image::DynamicImage::ImageLuma8(centre.clone()).to_rgb8();
    [
        preprocess.apply(&images.fundus),
        preprocess.apply(&centre_crop(&images.fundus, FUNDUS_CENTRE_FRACTION)),
        preprocess.apply(&slo),
        preprocess.apply(&oct),
    ]
}

/// Per eye of a patient: its views' preprocessed inputs and lesion masks.
type EyeViews = ([Vec<f32>; VIEWS_PER_EYE], [Vec<f32>; VIEWS_PER_EYE]);

/// A patient's index, sample and per-eye views.
type RenderedPatient = (usize, PatientSample, Vec<EyeViews>);

/// Renders `patients` patients of `seed` on two named threads and preprocesses them.
pub fn render_split(
    config: &DemoTrainConfig,
    seed: u64,
    patients: usize,
) -> Result<DemoSplit, RenderError> {
    let render = config.render_config(seed, patients);
    let preprocess = config.preprocess();
    let grid = config.grid();
    let workers = 2;
    let mut parts: Vec<Vec<RenderedPatient>> = Vec::new();
    std::thread::scope(|scope| -> Result<(), RenderError> {
        let mut handles = Vec::new();
        for w in 0..workers {
            let render = &render;
            let preprocess = &preprocess;
            let handle = std::thread::Builder::new()
                .name(format!("fovea-render-{w}"))
                .spawn_scoped(scope, move || {
                    (w..patients)
                        .step_by(workers)
                        .map(|i| {
                            let sample = render_patient(render, i);
                            let inputs = sample
                                .eyes
                                .iter()
                                .map(|e| (eye_inputs(e, preprocess), eye_lesion_patches(e, grid)))
                                .collect();
                            (i, sample, inputs)
                        })
                        .collect::<Vec<_>>()
                })
                .map_err(RenderError::Spawn)?;
            handles.push(handle);
        }
        for handle in handles {
            parts.push(handle.join().map_err(|panic| {
                RenderError::Panicked(crate::worker::panic_message(panic.as_ref()))
            })?);
        }
        Ok(())
    })?;
    let mut all: Vec<_> = parts.into_iter().flatten().collect();
    all.sort_by_key(|(i, _, _)| *i);
    let mut split = DemoSplit {
        pixels: Vec::new(),
        lesion_patches: Vec::new(),
        grid,
        eyes: Vec::new(),
        reports: Vec::new(),
        patients: all.len(),
        px: config.image_px,
    };
    for (_, sample, inputs) in all {
        for (eye, (images, masks)) in sample.eyes.into_iter().zip(inputs) {
            for image in images {
                split.pixels.extend(image);
            }
            for mask in masks {
                split.lesion_patches.extend(mask);
            }
            split.reports.push(eye.truth.report());
            split.eyes.push(eye.truth);
        }
    }
    Ok(split)
}

/// `x / ‖x‖` along dimension 1.
pub(crate) fn normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = ((x.clone() * x.clone()).sum_dim(1) + 1e-8).sqrt();
    x / norm
}

/// Image-level features from view features: `[eyes · VIEWS_PER_EYE, dim]` (raw) →
/// `[eyes · 3, dim]` normalised, in [`MODALITIES`] order; the fundus is the normalised mean of
/// its two views (the rule `fundus_centre_view` documents in the manifest).
pub(crate) fn image_features_of_views(views: Tensor<2>) -> Tensor<2> {
    let [rows, dim] = views.dims();
    let eyes = rows / VIEWS_PER_EYE;
    let views = normalize(views).reshape([eyes, VIEWS_PER_EYE, dim]);
    let fundus = normalize(
        views
            .clone()
            .narrow(1, 0, 2)
            .mean_dim(1)
            .reshape([eyes, dim]),
    )
    .reshape([eyes, 1, dim]);
    let others = views.narrow(1, 2, VIEWS_PER_EYE - 2);
    Tensor::cat(vec![fundus, others], 1).reshape([eyes * MODALITIES.len(), dim])
}

/// Mean binary cross-entropy of logits `s` against `labels` (1/0), weighted by `mask`.
fn bce(s: Tensor<2>, labels: Tensor<2>, mask: Tensor<2>) -> Tensor<1> {
    let losses =
        -(labels.clone() * log_sigmoid(s.clone()) + (labels.neg() + 1.0) * log_sigmoid(s.neg()));
    let count = mask.clone().sum() + 1e-6;
    (losses * mask).sum() / count
}

/// Prompt-pair logits: columns `2f` and `2f + 1` of `cos` are finding f's prompt and negative.
pub(crate) fn pair_logits(cos: Tensor<2>, scale: f32) -> Tensor<2> {
    let [rows, cols] = cos.dims();
    let pairs = cos.reshape([rows, cols / 2, 2]);
    let positive = pairs.clone().narrow(2, 0, 1).reshape([rows, cols / 2]);
    let negative = pairs.narrow(2, 1, 1).reshape([rows, cols / 2]);
    (positive - negative) * f64::from(scale)
}

/// Token ids of `texts`, `[n, context]`.
pub(crate) fn tokens(
    tokenizer: &ClipTokenizer,
    texts: &[&str],
    context: usize,
    device: &Device,
) -> Tensor<2, Int> {
    let ids: Vec<i64> = texts
        .iter()
        .flat_map(|t| tokenizer.tokenize(t, context).into_iter().map(i64::from))
        .collect();
    Tensor::from_data(TensorData::new(ids, [texts.len(), context]), device)
}

/// The prompts, interleaved: finding 0's prompt, its negative, finding 1's prompt, ….
pub fn prompt_texts() -> Vec<&'static str> {
    DEMO_FINDINGS
        .iter()
        .flat_map(|f| [f.prompt, f.negative_prompt])
        .collect()
}

/// A finished training step.
#[derive(Debug, Clone, Copy)]
pub struct TrainStep {
    /// Step number (1-based).
    pub step: usize,
    /// Of how many.
    pub of: usize,
    /// Batch loss.
    pub loss: f32,
    /// Of which the lesion-guidance term, before its weight.
    pub guidance: f32,
}

/// Trains the demo model on `train`; returns the model for inference (no autodiff).
pub fn train(
    config: &DemoTrainConfig,
    train: &DemoSplit,
    progress: &mut dyn FnMut(TrainStep),
) -> ClipTripartite {
    use rand::{Rng, SeedableRng};
    let device = Device::flex().autodiff();
    device.seed(config.seed);
    let model_config = config.model();
    let mut model = init_clip_tripartite_for_training(&model_config, &device);
    let mut optimizer = AdamWConfig::new().with_weight_decay(0.01).init();
    let tokenizer = ClipTokenizer::new();
    let context = model_config.text.context_length;
    let prompts = prompt_texts();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(config.seed);
    let image_len = train.image_len();
    let px = train.px;
    let findings = DEMO_FINDINGS.len();
    let warmup = (config.steps / 10).max(1);
    // The prompts' ids do not change; their embeddings do, so they are encoded every step.
    let prompt_ids = tokens(&tokenizer, &prompts, context, &device);
    for step in 0..config.steps {
        let batch: Vec<usize> = (0..config.batch_patients)
            .map(|_| rng.random_range(0..train.patients))
            .collect();
        let eyes: Vec<usize> = batch.iter().flat_map(|p| [2 * p, 2 * p + 1]).collect();
        let per_eye = VIEWS_PER_EYE * image_len;
        let patches = train.grid * train.grid;
        let per_eye_masks = VIEWS_PER_EYE * patches;
        let mut pixels = Vec::with_capacity(eyes.len() * per_eye);
        let mut masks = Vec::with_capacity(eyes.len() * per_eye_masks);
        for &e in &eyes {
            pixels.extend_from_slice(&train.pixels[e * per_eye..(e + 1) * per_eye]);
            masks.extend_from_slice(
                &train.lesion_patches[e * per_eye_masks..(e + 1) * per_eye_masks],
            );
        }
        let n_views = eyes.len() * VIEWS_PER_EYE;
        let n_images = eyes.len() * MODALITIES.len();
        let images = Tensor::<4>::from_data(TensorData::new(pixels, [n_views, 3, px, px]), &device);
        let (view_features, last_maps) = model.clip.visual.forward_with_attention(images);
        let features = image_features_of_views(view_features);
        let masks = Tensor::<2>::from_data(TensorData::new(masks, [n_views, patches]), &device);
        let guidance_loss = attention_guidance_loss(last_maps, masks);
        let guidance_value = guidance_loss.clone().into_scalar::<f32>();

        // Image level.
        let prompt_clip = normalize(model.encode_text(prompt_ids.clone()));
        let image_logits = pair_logits(
            features.clone().matmul(prompt_clip.transpose()),
            config.prompt_scale,
        );
        let mut image_labels = Vec::with_capacity(n_images * findings);
        let mut image_mask = Vec::with_capacity(n_images * findings);
        for &e in &eyes {
            let labels = train.eye_labels(e);
            for modality in 0..3 {
                for (f, finding) in DEMO_FINDINGS.iter().enumerate() {
                    image_labels.push(f32::from(u8::from(labels[f])));
                    image_mask.push(f32::from(u8::from(finding.visible_in.contains(&modality))));
                }
            }
        }
        let as_tensor = |values: Vec<f32>, rows: usize| {
            Tensor::<2>::from_data(TensorData::new(values, [rows, findings]), &device)
        };
        let image_loss = bce(
            image_logits,
            as_tensor(image_labels, n_images),
            as_tensor(image_mask, n_images),
        );

        // Eye level: mean of the eye's normalised image features.
        let dim = features.dims()[1];
        let eye_features = features
            .clone()
            .reshape([eyes.len(), 3, dim])
            .mean_dim(1)
            .reshape([eyes.len(), dim]);
        let per_side = eye_features.reshape([config.batch_patients, 2, dim]);
        let right = per_side
            .clone()
            .narrow(1, 0, 1)
            .reshape([config.batch_patients, dim]);
        let left = per_side
            .narrow(1, 1, 1)
            .reshape([config.batch_patients, dim]);
        let text = model.encode_text_tripartite(prompt_ids.clone());
        let right_logits = pair_logits(
            normalize(model.heads.eye(right.clone(), Side::Right))
                .matmul(normalize(text.right).transpose()),
            config.prompt_scale,
        );
        let left_logits = pair_logits(
            normalize(model.heads.eye(left.clone(), Side::Left))
                .matmul(normalize(text.left).transpose()),
            config.prompt_scale,
        );
        let patient_logits = pair_logits(
            normalize(model.heads.patient(left, right)).matmul(normalize(text.patient).transpose()),
            config.prompt_scale,
        );
        let side_labels = |side: usize| -> Vec<f32> {
            batch
                .iter()
                .flat_map(|p| {
                    train
                        .eye_labels(2 * p + side)
                        .map(|y| f32::from(u8::from(y)))
                })
                .collect()
        };
        let patient_labels: Vec<f32> = batch
            .iter()
            .flat_map(|p| {
                let (r, l) = (train.eye_labels(2 * p), train.eye_labels(2 * p + 1));
                (0..findings).map(move |f| f32::from(u8::from(r[f] || l[f])))
            })
            .collect();
        let ones = || {
            as_tensor(
                vec![1.0; config.batch_patients * findings],
                config.batch_patients,
            )
        };
        let eye_loss = bce(
            right_logits,
            as_tensor(side_labels(0), config.batch_patients),
            ones(),
        ) + bce(
            left_logits,
            as_tensor(side_labels(1), config.batch_patients),
            ones(),
        );
        let patient_loss = bce(
            patient_logits,
            as_tensor(patient_labels, config.batch_patients),
            ones(),
        );

        // Reports: fundus images against their eye's report, identical reports are positives.
        let fundus = features
            .reshape([eyes.len(), 3, dim])
            .narrow(1, 0, 1)
            .reshape([eyes.len(), dim]);
        let reports: Vec<&str> = eyes.iter().map(|&e| train.reports[e].as_str()).collect();
        let report_embeddings =
            normalize(model.encode_text(tokens(&tokenizer, &reports, context, &device)));
        let logits = fundus.matmul(report_embeddings.transpose()) * 14.0;
        let mut targets = Vec::with_capacity(eyes.len() * eyes.len());
        for a in &reports {
            let same = reports.iter().filter(|b| *b == a).count() as f32;
            targets.extend(
                reports
                    .iter()
                    .map(|b| if b == a { 1.0 / same } else { 0.0 }),
            );
        }
        let targets =
            Tensor::<2>::from_data(TensorData::new(targets, [eyes.len(), eyes.len()]), &device);
        let report_loss = -(targets.clone() * log_softmax(logits.clone(), 1)).sum()
            / eyes.len() as f64
            - (targets * log_softmax(logits, 0)).sum() / eyes.len() as f64;

        let loss = image_loss
            + eye_loss
            + patient_loss
            + report_loss * 0.25
            + guidance_loss * f64::from(config.guidance_weight);
        let loss_value = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = if step < warmup {
            config.learning_rate * (step + 1) as f64 / warmup as f64
        } else {
            let t = (step - warmup) as f64 / (config.steps - warmup).max(1) as f64;
            config.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
        };
        model = optimizer.step(lr, model, grads);
        progress(TrainStep {
            step: step + 1,
            of: config.steps,
            loss: loss_value,
            guidance: guidance_value,
        });
    }
    model.valid()
}
