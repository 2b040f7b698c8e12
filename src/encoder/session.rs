//! The encoder's window for the rooms above it: a loaded pack on a device, behind an API of
//! plain vectors and grids, so that analysis, the library and the viewer never see burn's types.
//!
//! Vectors come in the spaces where they are compared:
//! - **image level**: CLIP's joint space (OpenAI CLIP, the demo model); for RET-CLIP, the
//!   authors' single-image rule: the patient mapping on `concat(f, f)` against the patient
//!   text head;
//! - **eye level**: the mean of the eye's normalised image features, through the eye's mapping
//!   where the pack has tripartite heads (RET-CLIP, the demo model), else as it is;
//! - **patient level**: the patient mapping on both eyes' mean features (tripartite packs only).

use std::path::Path;

use burn::prelude::*;

use super::device::{DeviceChoice, OpenedDevice, open_device};
pub use super::embed::TextVectors;
use super::embed::{EmbedError, text_vectors, to_rows};
use super::pack::{LoadedPack, PackError, PackManifest, PackModel, load_pack};
use super::ret_clip::Side;

/// Which eye, for the eye mappings.
pub use super::ret_clip::Side as EyeSide;

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The GPU was required and is unusable.
    #[error(transparent)]
    Device(#[from] super::device::GpuUnavailable),
    /// The pack is damaged or does not fit.
    #[error(transparent)]
    Pack(#[from] PackError),
}

/// Which blocks' attention a class-specific map reads gradients of.
#[derive(Debug, Clone, Copy)]
enum TrackedBlocks {
    /// The last block (Grad-CAM).
    Last,
    /// Every block (relevance).
    All,
}

/// Per tracked block, the head mean of `relu(∇A ⊙ A)`
/// (see `EncoderSession::gradient_weighted_attention`).
struct GradientWeighted {
    /// Each tracked block's whole map, `tokens × tokens`, row-major, first block first.
    full_maps: Vec<Vec<f64>>,
    /// Tokens (class token first).
    tokens: usize,
    /// Patch grid.
    grid: (usize, usize),
}

/// A patch-resolution map over an image, row-major, values in [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct PatchGrid {
    /// Patches across.
    pub width: usize,
    /// Patches down.
    pub height: usize,
    /// `width × height` values.
    pub values: Vec<f32>,
}

/// A pack loaded on a device.
pub struct EncoderSession {
    pack: LoadedPack,
    opened: OpenedDevice,
    pack_dir: std::path::PathBuf,
    /// A second copy on the autodiff device, loaded on first Grad-CAM.
    with_gradients: std::sync::OnceLock<Result<LoadedPack, String>>,
}

fn row_tensor(values: &[f32], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values.to_vec(), [1, values.len()]), device)
}

/// `v / ‖v‖` (zero stays zero).
pub fn normalized(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter().map(|x| x / norm).collect()
    } else {
        v.to_vec()
    }
}

impl EncoderSession {
    /// Opens `pack` on the device `choice` gives.
    pub fn open(pack: &Path, choice: DeviceChoice) -> Result<Self, SessionError> {
        let opened = open_device(choice)?;
        Self::on(pack, opened)
    }

    /// Opens `pack` on an opened device (e.g. the viewer's shared one).
    pub fn on(pack: &Path, opened: OpenedDevice) -> Result<Self, SessionError> {
        let pack_dir = pack.to_path_buf();
        let pack = load_pack(pack, &opened.device)?;
        Ok(EncoderSession {
            pack,
            opened,
            pack_dir,
            with_gradients: std::sync::OnceLock::new(),
        })
    }

    /// The pack's manifest.
    pub fn manifest(&self) -> &PackManifest {
        &self.pack.manifest
    }

    /// `wgpu` or `cpu`, and the adapter when known.
    pub fn device_description(&self) -> String {
        match &self.opened.adapter_name {
            Some(name) => format!("{} ({name})", self.opened.kind),
            None => self.opened.kind.to_string(),
        }
    }

    /// Which device runs the model and why, in one line.
    pub fn device_choice(&self) -> &str {
        &self.opened.choice
    }

    /// Set when the GPU was asked for but the CPU is used.
    pub fn device_notice(&self) -> Option<&str> {
        self.opened.fallback_notice.as_deref()
    }

    /// Whether the pack maps both eyes to a patient-level vector (tripartite packs).
    pub fn has_patient_head(&self) -> bool {
        self.pack.model.tripartite_heads().is_some()
    }

    /// Whether the pack can embed text.
    pub fn has_text(&self) -> bool {
        self.pack.manifest.architecture.has_text_tower()
    }

    /// Whether the image model is a CNN (ResNet): classic Grad-CAM on its last stage, no
    /// attention maps.
    pub fn is_convolutional(&self) -> bool {
        matches!(self.pack.model, PackModel::Resnet(_))
    }

    fn not_for_cnn(&self, method: &'static str) -> EmbedError {
        EmbedError::NotForArchitecture {
            method,
            model: self.pack.manifest.architecture.describe(),
            reason: "it reads a vision transformer's attention maps, and this model is a CNN; use classic Grad-CAM",
        }
    }

    fn input(&self, images: &[&image::RgbImage]) -> Tensor<4> {
        self.input_on(images, &self.opened.device)
    }

    fn input_on(&self, images: &[&image::RgbImage], device: &Device) -> Tensor<4> {
        let preprocess = &self.pack.manifest.preprocessing;
        let side = preprocess.size() as usize;
        let mut values = Vec::with_capacity(images.len() * 3 * side * side);
        for image in images {
            values.extend(preprocess.apply(image));
        }
        Tensor::from_data(
            TensorData::new(values, [images.len(), 3, side, side]),
            device,
        )
    }

    /// The second copy of the model on the autodiff device (loaded on first use), and that
    /// device.
    fn gradient_copy(&self) -> Result<(&LoadedPack, Device), EmbedError> {
        let device = self.opened.device.clone().autodiff();
        let loaded = self
            .with_gradients
            .get_or_init(|| load_pack(&self.pack_dir, &device).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| EmbedError::Readback(e.clone()))?;
        Ok((loaded, device))
    }

    /// Attention rollout (Abnar & Zuidema): the head-averaged attention of every block, with
    /// the residual as `0.5·A + 0.5·I`, multiplied through; the class token's row over the
    /// patches, scaled to [0, 1]. Needs no gradients.
    pub fn attention_rollout(&self, image: &image::RgbImage) -> Result<PatchGrid, EmbedError> {
        let input = self.input(&[image]);
        let (maps, grid) = match &self.pack.model {
            PackModel::OpenaiClip(m) => m.visual.all_attention_maps(input),
            PackModel::ClipTripartite(m) => m.clip.visual.all_attention_maps(input),
            PackModel::RetClip(m) => m.visual.all_attention_maps(input),
            PackModel::TimmVit(m) => {
                let side = self.pack.manifest.preprocessing.size() as usize;
                let grid = side / m.patch_embed.proj.kernel_size[0].max(1);
                (vec![m.forward(input).attention], (grid, grid))
            }
            PackModel::Resnet(_) => return Err(self.not_for_cnn("attention rollout")),
        };
        let mut rollout: Option<Vec<f64>> = None;
        let mut tokens = 0;
        for map in maps {
            let [_, heads, t, _] = map.dims();
            tokens = t;
            let values = map
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| EmbedError::Readback(format!("{e:?}")))?;
            // Head mean + identity, rows renormalised.
            let mut a = head_mean(|i| values[i], heads, t);
            for i in 0..t {
                for j in 0..t {
                    a[i * t + j] = 0.5 * a[i * t + j] + if i == j { 0.5 } else { 0.0 };
                }
            }
            rollout = Some(match rollout {
                None => a,
                Some(r) => square_product(&a, &r, t),
            });
        }
        let rollout = rollout.unwrap_or_default();
        let values: Vec<f32> = (1..tokens).map(|j| rollout[j] as f32).collect();
        Ok(grid_of(values, grid))
    }

    /// Grad-CAM on the last block for an image-level prompt pair, in its form for ViTs (Chefer
    /// et al. 2021): the gradient of `cos(v, positive) − cos(v, negative)` with respect to the
    /// last block's attention maps weights those maps; the class token's row of the head mean
    /// of the positive part, over the patches, scaled to [0, 1] (all zeros when nothing
    /// supports the finding). Channel-weighted Grad-CAM on the token activations was tried
    /// first and gave maps of one sign everywhere on these models. Runs on a
    /// second copy of the model on the autodiff device, loaded on first use.
    pub fn grad_cam(
        &self,
        image: &image::RgbImage,
        positive: &[f32],
        negative: &[f32],
    ) -> Result<PatchGrid, EmbedError> {
        let weighted =
            self.gradient_weighted_attention(image, positive, negative, TrackedBlocks::Last)?;
        let Some(last) = weighted.full_maps.last() else {
            return Ok(grid_of(
                vec![0.0; weighted.grid.0 * weighted.grid.1],
                weighted.grid,
            ));
        };
        let t = weighted.tokens;
        let values = last[1..t].iter().map(|v| *v as f32).collect();
        Ok(grid_of(values, weighted.grid))
    }

    /// Class-specific relevance through every block (Chefer, Gur & Wolf 2021, "Generic
    /// attention-model explainability"): `R = I`, then for each block `R ← R + Ā·R` with `Ā`
    /// the head mean of `relu(∇A ⊙ A)` for the same prompt-pair score as [`Self::grad_cam`];
    /// the class token's row of `R` over the patches.
    pub fn class_relevance(
        &self,
        image: &image::RgbImage,
        positive: &[f32],
        negative: &[f32],
    ) -> Result<PatchGrid, EmbedError> {
        let weighted =
            self.gradient_weighted_attention(image, positive, negative, TrackedBlocks::All)?;
        let t = weighted.tokens;
        let mut relevance: Vec<f64> = (0..t * t)
            .map(|i| if i / t == i % t { 1.0 } else { 0.0 })
            .collect();
        for a in &weighted.full_maps {
            let mut next = square_product(a, &relevance, t);
            for (n, r) in next.iter_mut().zip(&relevance) {
                *n += r;
            }
            relevance = next;
        }
        let values = (1..t).map(|j| relevance[j] as f32).collect();
        Ok(grid_of(values, weighted.grid))
    }

    /// The tracked blocks' `mean_h relu(∇A ⊙ A)` for the score
    /// `cos(v, positive) − cos(v, negative)`, from one backward pass: each tracked block's
    /// attention maps are passed on as `leaf + (A − detach(A))` — the value of `A`, a gradient
    /// leaf to read, and the path to the earlier blocks kept. Blocks before the first tracked
    /// one run without gradients (the residual entering it is detached), so Grad-CAM
    /// back-propagates through its one block only.
    fn gradient_weighted_attention(
        &self,
        image: &image::RgbImage,
        positive: &[f32],
        negative: &[f32],
        tracked: TrackedBlocks,
    ) -> Result<GradientWeighted, EmbedError> {
        let (loaded, device) = self.gradient_copy()?;
        let input = self.input_on(&[image], &device);
        let (visual, patient_heads) = match &loaded.model {
            PackModel::OpenaiClip(m) => (&m.visual, None),
            PackModel::ClipTripartite(m) => (&m.clip.visual, None),
            PackModel::RetClip(m) => (&m.visual, Some(&m.heads)),
            PackModel::TimmVit(_) => {
                return Err(EmbedError::NoTextTower(self.pack.manifest.name.clone()));
            }
            PackModel::Resnet(_) => {
                return Err(self.not_for_cnn("gradient-weighted attention"));
            }
        };
        let (mut x, grid) = visual.input_tokens(input);
        let blocks = &visual.transformer.resblocks;
        let first_tracked = match tracked {
            TrackedBlocks::All => 0,
            TrackedBlocks::Last => blocks.len().saturating_sub(1),
        };
        for block in &blocks[..first_tracked] {
            x = block.forward(x, None).0;
        }
        x = x.detach();
        let mut leaves = Vec::with_capacity(blocks.len() - first_tracked);
        for block in &blocks[first_tracked..] {
            let mut leaf = None;
            let (attended, _) =
                block
                    .attn
                    .forward_mapped(block.ln_1.forward(x.clone()), None, |maps| {
                        let read = maps.clone().detach().require_grad();
                        leaf = Some(read.clone());
                        read + (maps.clone() - maps.detach())
                    });
            leaves.extend(leaf);
            let y = x + attended;
            x = y.clone() + block.mlp.forward(block.ln_2.forward(y));
        }
        let mut embedding = visual.embed_tokens(x);
        if let Some(heads) = patient_heads {
            embedding = heads.patient(embedding.clone(), embedding);
        }
        let norm = ((embedding.clone() * embedding.clone()).sum_dim(1) + 1e-12).sqrt();
        let v = embedding / norm;
        let direction: Vec<f32> = normalized(positive)
            .iter()
            .zip(normalized(negative))
            .map(|(p, n)| p - n)
            .collect();
        let rows = direction.len();
        let direction = Tensor::<2>::from_data(TensorData::new(direction, [rows, 1]), &device);
        let score = v.matmul(direction).sum();
        let grads = score.backward();
        let read = |t: Tensor<4>| {
            t.into_data()
                .try_to_vec::<f32>()
                .map_err(|e| EmbedError::Readback(format!("{e:?}")))
        };
        let mut weighted = GradientWeighted {
            full_maps: Vec::new(),
            tokens: grid.0 * grid.1 + 1,
            grid,
        };
        for leaf in leaves {
            let gradient = leaf.grad(&grads).ok_or_else(|| {
                EmbedError::Readback("no gradient reached an attention map".to_string())
            })?;
            let [_, heads, tokens, _] = gradient.dims();
            weighted.tokens = tokens;
            let g = read(gradient)?;
            let a = read(leaf.detach())?;
            weighted
                .full_maps
                .push(head_mean(|i| (g[i] * a[i]).max(0.0), heads, tokens));
        }
        Ok(weighted)
    }

    /// The image tower's features of each image (one batch).
    pub fn image_features(&self, images: &[&image::RgbImage]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        to_rows(self.pack.model.encode_image(self.input(images)))
    }

    /// The features of one image of the given kind: one view, or — for a colour fundus
    /// photograph when the pack has `fundus_centre_view` — the normalised mean of the whole
    /// view's and the centre crop's normalised features (one batch of two).
    pub fn photo_features(
        &self,
        image: &image::RgbImage,
        colour_fundus: bool,
    ) -> Result<Vec<f32>, EmbedError> {
        match self.pack.manifest.fundus_centre_view {
            Some(fraction) if colour_fundus => {
                let centre = super::preprocess::centre_crop(image, fraction);
                let views = self.image_features(&[image, &centre])?;
                Ok(normalized(&mean_of_normalized(&views)))
            }
            _ => Ok(self.image_features(&[image])?.remove(0)),
        }
    }

    /// Image-level vectors from image features (see the module docs).
    pub fn image_vectors(&self, features: &[Vec<f32>]) -> Result<Vec<Vec<f32>>, EmbedError> {
        match &self.pack.model {
            PackModel::RetClip(m) => features
                .iter()
                .map(|f| {
                    let f = row_tensor(f, &self.opened.device);
                    to_rows(m.heads.patient(f.clone(), f)).map(|mut r| r.remove(0))
                })
                .collect(),
            _ => Ok(features.to_vec()),
        }
    }

    /// The eye-level vector of one eye's image features.
    pub fn eye_vector(&self, features: &[Vec<f32>], side: Side) -> Result<Vec<f32>, EmbedError> {
        let mean = mean_of_normalized(features);
        match self.pack.model.tripartite_heads() {
            Some(heads) => to_rows(heads.eye(row_tensor(&mean, &self.opened.device), side))
                .map(|mut r| r.remove(0)),
            None => Ok(mean),
        }
    }

    /// The patient-level vector from both eyes' image features (tripartite packs only).
    pub fn patient_vector(
        &self,
        left: &[Vec<f32>],
        right: &[Vec<f32>],
    ) -> Result<Option<Vec<f32>>, EmbedError> {
        let Some(heads) = self.pack.model.tripartite_heads() else {
            return Ok(None);
        };
        let (l, r) = (
            row_tensor(&mean_of_normalized(left), &self.opened.device),
            row_tensor(&mean_of_normalized(right), &self.opened.device),
        );
        to_rows(heads.patient(l, r)).map(|mut rows| Some(rows.remove(0)))
    }

    /// The classifier head's logits for one image's features (packs with a head, e.g. a
    /// fine-tuned RETFound), else `None`.
    pub fn head_logits(&self, features: &[f32]) -> Result<Option<Vec<f32>>, EmbedError> {
        match self
            .pack
            .model
            .head_logits(row_tensor(features, &self.opened.device))
        {
            Some(logits) => to_rows(logits).map(|mut r| Some(r.remove(0))),
            None => Ok(None),
        }
    }

    /// Classic Grad-CAM (Selvaraju et al. 2017) of a CNN's classifier head, on the last stage
    /// (`layer4`): `A` its activation, `y` the score; channel weights `α_c = mean_ij ∂y/∂A_cij`
    /// (burn's autodiff), map `relu(Σ_c α_c A_c)` at the stage's resolution, scaled to [0, 1]
    /// (all zeros when nothing supports the class). The score is the logit of the one class
    /// in `classes`, or for several, the finding's logit `log Σ_F p − log Σ_¬F p` over the
    /// head's softmax. Runs on a second copy of the model on the autodiff device.
    pub fn head_grad_cam(
        &self,
        image: &image::RgbImage,
        classes: &[usize],
    ) -> Result<PatchGrid, EmbedError> {
        let PackModel::Resnet(_) = &self.pack.model else {
            return Err(EmbedError::NotForArchitecture {
                method: "classic Grad-CAM on a classifier head",
                model: self.pack.manifest.architecture.describe(),
                reason: "it is built for CNNs; for a vision transformer use the prompt-based maps",
            });
        };
        let (loaded, device) = self.gradient_copy()?;
        let PackModel::Resnet(model) = &loaded.model else {
            return Err(EmbedError::Readback(
                "the autodiff copy is another model".to_string(),
            ));
        };
        let input = self.input_on(&[image], &device);
        // The stages run without a graph; the activation is the leaf whose gradient is read.
        let activation = model.feature_map(input).detach().require_grad();
        let logits = model
            .head(super::resnet::ResNet::pool(activation.clone()))
            .ok_or_else(|| EmbedError::Readback("this model has no classifier head".to_string()))?;
        let [_, outputs] = logits.dims();
        if classes.is_empty() || classes.iter().any(|&c| c >= outputs) {
            return Err(EmbedError::Readback(format!(
                "classes {classes:?} are not outputs of this {outputs}-output head"
            )));
        }
        let score = if let [class] = classes {
            logits.narrow(1, *class, 1).sum()
        } else {
            let mask: Vec<f32> = (0..outputs)
                .map(|c| if classes.contains(&c) { 1.0 } else { 0.0 })
                .collect();
            let mask = Tensor::<2>::from_data(TensorData::new(mask, [1, outputs]), &device);
            let max = logits.clone().max_dim(1).detach();
            let e = (logits - max).exp();
            let inside = (e.clone() * mask.clone()).sum();
            let outside = (e * (mask.neg() + 1.0)).sum();
            inside.log() - outside.log()
        };
        let grads = score.backward();
        let gradient = activation.grad(&grads).ok_or_else(|| {
            EmbedError::Readback("no gradient reached the last stage".to_string())
        })?;
        let [_, channels, rows, columns] = gradient.dims();
        let weights = gradient
            .reshape([1, channels, rows * columns])
            .mean_dim(2)
            .reshape([1, channels, 1, 1]);
        let activation = activation.detach();
        let weights = Tensor::<4>::from_data(weights.into_data(), &activation.device());
        let cam = burn::tensor::activation::relu((activation * weights).sum_dim(1))
            .reshape([rows * columns]);
        let values = cam
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| EmbedError::Readback(format!("{e:?}")))?;
        Ok(grid_of(values, (rows, columns)))
    }

    /// Scores this finding set instead of the manifest's (the pack on disk is not changed).
    pub fn set_finding_set(&mut self, set: super::finding_set::FindingSet) {
        self.pack.manifest.set_finding_set(set);
    }

    /// The vectors of each text in every space the pack has.
    pub fn text_vectors(&self, texts: &[&str]) -> Result<Vec<TextVectors>, EmbedError> {
        text_vectors(&self.pack, texts, &self.opened.device)
    }
}

/// The mean of the normalised vectors (the eye rule).
pub fn mean_of_normalized(vectors: &[Vec<f32>]) -> Vec<f32> {
    let Some(first) = vectors.first() else {
        return Vec::new();
    };
    let mut sum = vec![0.0_f32; first.len()];
    for v in vectors {
        for (s, x) in sum.iter_mut().zip(normalized(v)) {
            *s += x;
        }
    }
    sum.iter().map(|s| s / vectors.len() as f32).collect()
}

/// A grid of `(rows, columns)` from patch values, scaled so the largest is 1.
/// The mean over `heads` of `value(h · t² + i)` for each of the `t × t` entries `i`.
fn head_mean(value: impl Fn(usize) -> f32, heads: usize, t: usize) -> Vec<f64> {
    (0..t * t)
        .map(|i| {
            (0..heads)
                .map(|h| f64::from(value(h * t * t + i)))
                .sum::<f64>()
                / heads as f64
        })
        .collect()
}

/// `a · r` for row-major `t × t` matrices.
fn square_product(a: &[f64], r: &[f64], t: usize) -> Vec<f64> {
    let mut out = vec![0.0; t * t];
    for i in 0..t {
        for k in 0..t {
            let aik = a[i * t + k];
            for j in 0..t {
                out[i * t + j] += aik * r[k * t + j];
            }
        }
    }
    out
}

fn grid_of(values: Vec<f32>, (rows, columns): (usize, usize)) -> PatchGrid {
    let max = values.iter().copied().fold(0.0_f32, f32::max);
    let values = if max > 0.0 {
        values.iter().map(|v| v / max).collect()
    } else {
        values
    };
    PatchGrid {
        width: columns,
        height: rows,
        values,
    }
}
