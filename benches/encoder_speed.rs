//! Benchmark: image-tower latency (batch 1) and throughput (batch 16) for the CLIP ViT-B/32,
//! B/16 and L/14, RETFound's timm ViT-L/16 (`l16`) and Image+Fundus's ResNet-50 at 512 px
//! (`r50`) on the CPU backend and on wgpu. Run by `benches/run_encoder_speed.sh`, which
//! times PyTorch (open_clip) on the same machine in the same run. Weights are random: speed
//! does not depend on their values.
//!
//! Usage: `encoder_speed [b32,b16,l14,l16,r50] [cpu,wgpu] [batches, default 1,16]`

mod common;

use std::time::Duration;

use burn::prelude::*;
use common::time_with_setup;
use fovea::encoder::clip_vision::ClipVisionConfig;
use fovea::encoder::device::{DeviceChoice, open_device};
use fovea::encoder::timm_vit::{TimmVitConfig, VitPool};

/// A model under test: either tower kind, one forward pass.
enum Tower {
    Clip(fovea::encoder::clip_vision::ClipVision),
    Timm(fovea::encoder::timm_vit::TimmVit),
    Resnet(Box<fovea::encoder::resnet::ResNet>),
}

impl Tower {
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Tower::Clip(m) => m.forward(x),
            Tower::Timm(m) => m.forward(x).features,
            // Features and the head's logits, as `analyze` computes them.
            Tower::Resnet(m) => {
                let features = m.encode_image(x);
                m.head(features.clone()).unwrap_or(features)
            }
        }
    }

    fn input_px(&self) -> usize {
        match self {
            Tower::Resnet(_) => 512,
            _ => 224,
        }
    }
}

fn time_batch(model: &Tower, device: &Device, batch: usize, repeats: usize) -> Duration {
    let side = model.input_px();
    let input = || {
        Tensor::<4>::random(
            [batch, 3, side, side],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            device,
        )
    };
    // Reading the result back waits for the device: the time covers the whole forward pass.
    time_with_setup(repeats, input, |x| model.forward(x).into_data())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.is_empty() {
        println!("encoder_speed: run benches/run_encoder_speed.sh");
        return Ok(());
    }
    let models = args.first().map(String::as_str).unwrap_or("b32,b16,l14");
    let devices = args.get(1).map(String::as_str).unwrap_or("cpu,wgpu");
    let with_sixteen = args.get(2).is_none_or(|b| b.split(',').any(|b| b == "16"));
    for device_name in devices.split(',') {
        let choice = if device_name == "cpu" {
            DeviceChoice::Cpu
        } else {
            DeviceChoice::Gpu
        };
        let opened = open_device(choice)?;
        for model_name in models.split(',') {
            let device = &opened.device;
            let model = match model_name {
                "b32" => Tower::Clip(ClipVisionConfig::vit_b32().init(device)),
                "b16" => Tower::Clip(ClipVisionConfig::vit_b16().init(device)),
                "l14" => Tower::Clip(ClipVisionConfig::vit_l14().init(device)),
                "l16" => {
                    Tower::Timm(TimmVitConfig::vit_large_patch16(VitPool::Avg, 5).init(device))
                }
                "r50" => Tower::Resnet(Box::new(
                    fovea::encoder::resnet::ResNetConfig::image_fundus(2).init(device),
                )),
                other => anyhow::bail!("unknown model {other}"),
            };
            let repeats = if model_name.starts_with('l') || model_name == "r50" {
                3
            } else {
                5
            };
            let one = time_batch(&model, &opened.device, 1, repeats);
            let sixteen = with_sixteen
                .then(|| time_batch(&model, &opened.device, 16, repeats.min(3)))
                .map_or("-".to_string(), |d| {
                    format!("{:.2}", 16.0 / d.as_secs_f64())
                });
            println!(
                "fovea\t{device_name}\t{model_name}\tbatch1_ms\t{:.1}\tbatch16_images_per_s\t{sixteen}",
                one.as_secs_f64() * 1e3,
            );
        }
    }
    Ok(())
}
