//! torchvision's ResNet (ResNet-18/34/50/101/152), in burn, for inference: the family of the
//! supervised fundus model Image+Fundus (Jang et al. 2024, a ResNet-50 at 512 px).
//!
//! Layout, as torchvision's `resnet.py` (v1.5: a bottleneck's stride is on its 3 × 3 conv):
//! `conv1` 7 × 7/2 (no bias) → `bn1` → ReLU → 3 × 3/2 max pool (padding 1) → `layer1..4`
//! (basic blocks for 18/34, bottlenecks with expansion 4 for 50/101/152; stage widths
//! `base_width × [1, 2, 4, 8]`; the first block of a stage downsamples through
//! `downsample.0` (1 × 1 conv) and `downsample.1` (BatchNorm) when its shape changes) →
//! global average pool (the **feature**, 2048-d for a ResNet-50) → the head:
//! - none (a feature extractor);
//! - `fc`, one Linear (torchvision's);
//! - Image+Fundus's MLP, `fc = Sequential(Linear(2048 → hidden), BatchNorm1d(hidden), ReLU,
//!   Linear(hidden → classes))` (keys `fc.0`, `fc.1`, `fc.3`).
//!
//! BatchNorm runs in inference mode with the running statistics (eps 1e-5), as
//! [`FrozenBatchNorm`]: `(x − mean) / √(var + eps) · weight + bias` — also on the autodiff
//! device, where burn's own BatchNorm would switch to batch statistics. Its keys are
//! PyTorch's (`weight`, `bias`, `running_mean`, `running_var`); `num_batches_tracked` is a
//! training counter, dropped on import and reported.
//!
//! The last stage's output (`layer4`, `[batch, channels, h, w]`) is kept reachable
//! ([`ResNet::feature_map`]) for classic Grad-CAM.

use std::path::Path;

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use super::checkpoint::{KeyRules, LoadError, LoadReport, RawCheckpoint, apply_checkpoint};

/// The residual block kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResNetBlock {
    /// Two 3 × 3 convs (ResNet-18/34).
    Basic,
    /// 1 × 1, 3 × 3, 1 × 1 with expansion 4 (ResNet-50/101/152).
    Bottleneck,
}

impl ResNetBlock {
    /// Output channels per stage width.
    pub fn expansion(self) -> usize {
        match self {
            ResNetBlock::Basic => 1,
            ResNetBlock::Bottleneck => 4,
        }
    }
}

/// What follows the pooled feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ResNetHead {
    /// No head: the pooled feature is the output.
    None,
    /// torchvision's `fc`: one Linear.
    Linear,
    /// Image+Fundus: Linear → BatchNorm1d → ReLU → Linear.
    Mlp {
        /// Width of the hidden layer (512 in Image+Fundus).
        hidden: usize,
    },
}

/// Hyper-parameters of a ResNet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResNetConfig {
    /// Input side in pixels (the preprocessing's crop).
    pub image_size: usize,
    /// Block kind.
    pub block: ResNetBlock,
    /// Blocks per stage (`[3, 4, 6, 3]` for ResNet-50).
    pub layers: [usize; 4],
    /// Width of the stem and of the first stage (64 in torchvision).
    pub base_width: usize,
    /// The head.
    pub head: ResNetHead,
    /// Head outputs; 0 without a head.
    pub num_classes: usize,
    /// BatchNorm epsilon (PyTorch's default 1e-5).
    pub batch_norm_eps: f64,
}

/// The names `fovea model import --arch` knows for this family, with their depths.
pub const DEPTHS: [(&str, ResNetBlock, [usize; 4]); 5] = [
    ("resnet18", ResNetBlock::Basic, [2, 2, 2, 2]),
    ("resnet34", ResNetBlock::Basic, [3, 4, 6, 3]),
    ("resnet50", ResNetBlock::Bottleneck, [3, 4, 6, 3]),
    ("resnet101", ResNetBlock::Bottleneck, [3, 4, 23, 3]),
    ("resnet152", ResNetBlock::Bottleneck, [3, 8, 36, 3]),
];

impl ResNetConfig {
    /// A torchvision ResNet of the given block kind and depth at `image_size`, without head.
    pub fn new(image_size: usize, block: ResNetBlock, layers: [usize; 4]) -> Self {
        ResNetConfig {
            image_size,
            block,
            layers,
            base_width: 64,
            head: ResNetHead::None,
            num_classes: 0,
            batch_norm_eps: 1e-5,
        }
    }

    /// ResNet-50 at `image_size`, without head.
    pub fn resnet50(image_size: usize) -> Self {
        Self::new(image_size, ResNetBlock::Bottleneck, [3, 4, 6, 3])
    }

    /// Image+Fundus (Jang et al.): ResNet-50 at 512 px with the MLP head (hidden 512) and
    /// `classes` outputs (2 for the released normal-vs-abnormal pretraining).
    pub fn image_fundus(classes: usize) -> Self {
        Self::resnet50(512).with_head(ResNetHead::Mlp { hidden: 512 }, classes)
    }

    /// The same with this head.
    pub fn with_head(mut self, head: ResNetHead, classes: usize) -> Self {
        self.head = head;
        self.num_classes = if head == ResNetHead::None { 0 } else { classes };
        self
    }

    /// Channels of the pooled feature (2048 for a ResNet-50).
    pub fn feature_width(&self) -> usize {
        self.base_width * 8 * self.block.expansion()
    }

    /// Takes the stem width and the head from what a checkpoint holds (the depth stays the
    /// named one, so a checkpoint of another depth is refused by its keys): `conv1.weight`'s
    /// rows are the stem width; `fc.0` + `fc.3` mean the Image+Fundus MLP, `fc` alone a
    /// Linear, neither no head.
    pub fn fitted_to(mut self, checkpoint: &RawCheckpoint) -> Self {
        if let Some(width) = checkpoint
            .shape_of("conv1.weight")
            .and_then(|s| s.first().copied())
        {
            self.base_width = width;
        }
        let rows = |key: &str| checkpoint.shape_of(key).and_then(|s| s.first().copied());
        (self.head, self.num_classes) = match (rows("fc.0.weight"), rows("fc.3.weight")) {
            (Some(hidden), Some(classes)) => (ResNetHead::Mlp { hidden }, classes),
            _ => match rows("fc.weight") {
                Some(classes) => (ResNetHead::Linear, classes),
                None => (ResNetHead::None, 0),
            },
        };
        self
    }

    /// Names the depth, e.g. `ResNet-50`, or the stage counts when it is not a standard one.
    pub fn depth_name(&self) -> String {
        DEPTHS
            .iter()
            .find(|(_, block, layers)| *block == self.block && *layers == self.layers)
            .map(|(name, _, _)| name.replace("resnet", "ResNet-"))
            .unwrap_or_else(|| format!("ResNet {:?} {:?}", self.block, self.layers))
    }

    fn conv(&self, channels: [usize; 2], kernel: usize, stride: usize, device: &Device) -> Conv2d {
        let pad = kernel / 2;
        Conv2dConfig::new(channels, [kernel, kernel])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .with_bias(false)
            .with_initializer(Initializer::Zeros)
            .init(device)
    }

    fn norm(&self, channels: usize, device: &Device) -> FrozenBatchNorm {
        FrozenBatchNorm {
            weight: Initializer::Ones.init([channels], device),
            bias: Initializer::Zeros.init([channels], device),
            running_mean: Initializer::Zeros.init([channels], device),
            running_var: Initializer::Ones.init([channels], device),
            eps: self.batch_norm_eps,
        }
    }

    fn block(&self, in_ch: usize, planes: usize, stride: usize, device: &Device) -> ResidualBlock {
        let out = planes * self.block.expansion();
        let downsample = (stride != 1 || in_ch != out).then(|| Downsample {
            conv: self.conv([in_ch, out], 1, stride, device),
            bn: self.norm(out, device),
        });
        match self.block {
            ResNetBlock::Basic => ResidualBlock {
                conv1: self.conv([in_ch, planes], 3, stride, device),
                bn1: self.norm(planes, device),
                conv2: self.conv([planes, planes], 3, 1, device),
                bn2: self.norm(planes, device),
                conv3: None,
                bn3: None,
                downsample,
            },
            ResNetBlock::Bottleneck => ResidualBlock {
                conv1: self.conv([in_ch, planes], 1, 1, device),
                bn1: self.norm(planes, device),
                conv2: self.conv([planes, planes], 3, stride, device),
                bn2: self.norm(planes, device),
                conv3: Some(self.conv([planes, out], 1, 1, device)),
                bn3: Some(self.norm(out, device)),
                downsample,
            },
        }
    }

    /// Builds the model with placeholder weights (to be loaded) on `device`.
    pub fn init(&self, device: &Device) -> ResNet {
        let mut in_ch = self.base_width;
        let mut stages: Vec<Vec<ResidualBlock>> = Vec::with_capacity(4);
        for (stage, &blocks) in self.layers.iter().enumerate() {
            let planes = self.base_width << stage;
            let mut layer = Vec::with_capacity(blocks);
            for i in 0..blocks {
                let stride = if stage > 0 && i == 0 { 2 } else { 1 };
                layer.push(self.block(in_ch, planes, stride, device));
                in_ch = planes * self.block.expansion();
            }
            stages.push(layer);
        }
        let [layer1, layer2, layer3, layer4]: [Vec<ResidualBlock>; 4] = match stages.try_into() {
            Ok(stages) => stages,
            Err(_) => unreachable!("four stages are built"),
        };
        let features = self.feature_width();
        let linear = |i, o| {
            LinearConfig::new(i, o)
                .with_initializer(Initializer::Zeros)
                .init(device)
        };
        let (fc, fc_mlp) = match self.head {
            ResNetHead::None => (None, None),
            ResNetHead::Linear => (Some(linear(features, self.num_classes)), None),
            ResNetHead::Mlp { hidden } => (
                None,
                Some(MlpHead {
                    hidden: linear(features, hidden),
                    norm: self.norm(hidden, device),
                    out: linear(hidden, self.num_classes),
                }),
            ),
        };
        ResNet {
            conv1: self.conv([3, self.base_width], 7, 2, device),
            bn1: self.norm(self.base_width, device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1,
            layer2,
            layer3,
            layer4,
            fc,
            fc_mlp,
        }
    }
}

/// BatchNorm with fixed statistics (inference mode), PyTorch's key names.
#[derive(Module, Debug)]
pub struct FrozenBatchNorm {
    /// γ.
    pub weight: Param<Tensor<1>>,
    /// β.
    pub bias: Param<Tensor<1>>,
    /// Running mean.
    pub running_mean: Param<Tensor<1>>,
    /// Running variance.
    pub running_var: Param<Tensor<1>>,
    /// ε (not a weight).
    #[module(skip)]
    pub eps: f64,
}

impl FrozenBatchNorm {
    /// Per-channel `(scale, shift)` with `y = x · scale + shift`.
    fn affine(&self) -> (Tensor<1>, Tensor<1>) {
        let scale = self.weight.val() / (self.running_var.val() + self.eps).sqrt();
        let shift = self.bias.val() - self.running_mean.val() * scale.clone();
        (scale, shift)
    }

    /// On `[batch, channels, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let (scale, shift) = self.affine();
        let c = scale.dims()[0];
        x * scale.reshape([1, c, 1, 1]) + shift.reshape([1, c, 1, 1])
    }

    /// On `[batch, channels]` (BatchNorm1d).
    pub fn forward_2d(&self, x: Tensor<2>) -> Tensor<2> {
        let (scale, shift) = self.affine();
        let c = scale.dims()[0];
        x * scale.reshape([1, c]) + shift.reshape([1, c])
    }
}

/// A stage's first-block shortcut: 1 × 1 conv with stride, then BatchNorm (torchvision's
/// `downsample.0` / `downsample.1`).
#[derive(Module, Debug)]
pub struct Downsample {
    /// The 1 × 1 conv.
    pub conv: Conv2d,
    /// Its BatchNorm.
    pub bn: FrozenBatchNorm,
}

/// A basic block (no `conv3`) or a bottleneck.
#[derive(Module, Debug)]
pub struct ResidualBlock {
    /// First conv (3 × 3 with the stride in a basic block, 1 × 1 in a bottleneck).
    pub conv1: Conv2d,
    /// Its norm.
    pub bn1: FrozenBatchNorm,
    /// Second conv (3 × 3; the stride in a bottleneck).
    pub conv2: Conv2d,
    /// Its norm.
    pub bn2: FrozenBatchNorm,
    /// Bottleneck's 1 × 1 expansion.
    pub conv3: Option<Conv2d>,
    /// Its norm.
    pub bn3: Option<FrozenBatchNorm>,
    /// Shortcut projection, when the shape changes.
    pub downsample: Option<Downsample>,
}

impl ResidualBlock {
    /// `relu(F(x) + shortcut(x))`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let shortcut = match &self.downsample {
            Some(d) => d.bn.forward(d.conv.forward(x.clone())),
            None => x.clone(),
        };
        let mut y = relu(self.bn1.forward(self.conv1.forward(x)));
        y = self.bn2.forward(self.conv2.forward(y));
        if let (Some(conv3), Some(bn3)) = (&self.conv3, &self.bn3) {
            y = bn3.forward(conv3.forward(relu(y)));
        }
        relu(y + shortcut)
    }
}

/// Image+Fundus's head.
#[derive(Module, Debug)]
pub struct MlpHead {
    /// Feature → hidden.
    pub hidden: Linear,
    /// BatchNorm1d on the hidden layer.
    pub norm: FrozenBatchNorm,
    /// Hidden → classes.
    pub out: Linear,
}

/// The model.
#[derive(Module, Debug)]
pub struct ResNet {
    /// 7 × 7/2 stem conv.
    pub conv1: Conv2d,
    /// Its norm.
    pub bn1: FrozenBatchNorm,
    /// 3 × 3/2 max pool (no weights).
    pub maxpool: MaxPool2d,
    /// Stage 1.
    pub layer1: Vec<ResidualBlock>,
    /// Stage 2.
    pub layer2: Vec<ResidualBlock>,
    /// Stage 3.
    pub layer3: Vec<ResidualBlock>,
    /// Stage 4: its output is Grad-CAM's activation.
    pub layer4: Vec<ResidualBlock>,
    /// torchvision's Linear head.
    pub fc: Option<Linear>,
    /// Image+Fundus's MLP head.
    pub fc_mlp: Option<MlpHead>,
}

impl ResNet {
    /// Images `[batch, 3, size, size]` (normalised) → the last stage's output
    /// `[batch, channels, size/32, size/32]`.
    pub fn feature_map(&self, images: Tensor<4>) -> Tensor<4> {
        let mut x = self
            .maxpool
            .forward(relu(self.bn1.forward(self.conv1.forward(images))));
        for block in self
            .layer1
            .iter()
            .chain(&self.layer2)
            .chain(&self.layer3)
            .chain(&self.layer4)
        {
            x = block.forward(x);
        }
        x
    }

    /// The global average pool of a feature map: `[batch, channels]`.
    pub fn pool(map: Tensor<4>) -> Tensor<2> {
        let [batch, channels, h, w] = map.dims();
        map.reshape([batch, channels, h * w])
            .mean_dim(2)
            .reshape([batch, channels])
    }

    /// The head's logits for pooled features, when the model has a head.
    pub fn head(&self, features: Tensor<2>) -> Option<Tensor<2>> {
        if let Some(fc) = &self.fc {
            return Some(fc.forward(features));
        }
        self.fc_mlp.as_ref().map(|mlp| {
            let hidden = relu(mlp.norm.forward_2d(mlp.hidden.forward(features)));
            mlp.out.forward(hidden)
        })
    }

    /// Images → pooled features (the image embedding).
    pub fn encode_image(&self, images: Tensor<4>) -> Tensor<2> {
        Self::pool(self.feature_map(images))
    }
}

/// torchvision key names → this module's.
pub const RESNET_RENAMES: &[(&str, &str)] = &[
    (r"\.downsample\.0\.", ".downsample.conv."),
    (r"\.downsample\.1\.", ".downsample.bn."),
    (r"^fc\.0\.", "fc_mlp.hidden."),
    (r"^fc\.1\.", "fc_mlp.norm."),
    (r"^fc\.3\.", "fc_mlp.out."),
];

/// BatchNorm's training counters: not weights.
pub const RESNET_TRAINING_ONLY_KEYS: &[&str] = &[r"\.num_batches_tracked$"];

/// Loads a torchvision-layout checkpoint that has been read; every key must be used or a
/// training counter.
pub fn load_resnet_checkpoint(
    model: &mut ResNet,
    path: &Path,
    raw: RawCheckpoint,
) -> Result<LoadReport, LoadError> {
    apply_checkpoint(
        model,
        path,
        raw,
        &KeyRules {
            renames: RESNET_RENAMES,
            training_only: RESNET_TRAINING_ONLY_KEYS,
            ignore_unused: false,
        },
    )
}
