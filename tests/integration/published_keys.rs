//! Full-size RET-CLIP (ViT-B/16 + RoBERTa-wwm-ext-base-chinese + heads), Image+Fundus (torchvision
//! ResNet-50 with the authors' MLP head) and RETFound (ViT-L/16:
//! fine-tuned classifier, and MAE pretraining with its decoder) load every key and shape the
//! reference implementations' state dicts hold (tests/data/reference/*_state_dict_keys.json,
//! written by tests/reference/), through the same key rules as a real import — so a published
//! checkpoint loads with every key used. The tensors are zeros made on demand: only names and
//! shapes come from the reference.

use std::collections::BTreeMap;
use std::path::Path;

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use fovea::encoder::checkpoint::RawCheckpoint;
use fovea::encoder::resnet::{ResNetConfig, load_resnet_checkpoint};
use fovea::encoder::ret_clip::{RetClipConfig, load_ret_clip_checkpoint};
use fovea::encoder::timm_vit::{TimmVitConfig, VitPool, load_timm_checkpoint};

use crate::support::reference_path;

fn keys(file: &str, pointer: &str) -> BTreeMap<String, Vec<usize>> {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reference_path(file)).expect("read"))
            .expect("json");
    json.pointer(pointer)
        .and_then(|v| v.as_object())
        .expect("key list")
        .iter()
        .map(|(k, v)| {
            let shape = v
                .as_array()
                .expect("shape")
                .iter()
                .map(|d| d.as_u64().expect("dim") as usize)
                .collect();
            (k.clone(), shape)
        })
        .collect()
}

/// A checkpoint with these names and shapes whose tensors are zeros, made when read.
fn zeros_checkpoint(keys: &BTreeMap<String, Vec<usize>>, prefix: &str) -> RawCheckpoint {
    let tensors = keys
        .iter()
        .map(|(name, shape)| {
            let count: usize = shape.iter().product();
            let data_shape = shape.clone();
            burn_pack::Tensor::deferred(
                format!("{prefix}{name}"),
                DType::F32,
                shape.clone(),
                None,
                count * 4,
                move || Ok(TensorData::new(vec![0.0_f32; count], data_shape.clone()).into_bytes()),
            )
        })
        .collect();
    RawCheckpoint {
        format: "pytorch",
        state_dict_key: Some("state_dict".to_string()),
        tensors,
    }
}

#[test]
fn full_size_retclip_loads_every_reference_key() {
    let keys = keys("retclip_state_dict_keys.json", "/keys");
    assert!(keys.len() > 350, "{} keys", keys.len());
    let mut model = RetClipConfig::published().init(&Device::flex());
    let report = load_ret_clip_checkpoint(
        &mut model,
        Path::new("RET-CLIP.pt"),
        zeros_checkpoint(&keys, "module."),
    )
    .expect("every key fits");
    let mut dropped = report.dropped.clone();
    dropped.sort();
    assert_eq!(
        dropped,
        [
            "bert.pooler.dense.bias",
            "bert.pooler.dense.weight",
            "logit_scale",
            "logit_scale_left",
            "logit_scale_right"
        ]
    );
    // 12 BERT layers' separate q, k, v (weight + bias) become one fused tensor pair each.
    assert_eq!(report.loaded, keys.len() - dropped.len() - 12 * 4);
}

#[test]
fn full_size_retfound_classifier_and_mae_load_every_reference_key() {
    let classifier = keys(
        "timm_state_dict_keys.json",
        "/models/retfound_classifier_vit_large_patch16",
    );
    let raw = zeros_checkpoint(&classifier, "");
    let config = TimmVitConfig::vit_large_patch16(VitPool::Token, 0).fitted_to(&raw);
    assert_eq!((config.pool, config.num_classes), (VitPool::Avg, 5));
    let mut model = config.init(&Device::flex());
    let report = load_timm_checkpoint(&mut model, Path::new("RETFound_classifier.pth"), raw)
        .expect("every classifier key fits");
    assert_eq!(report.loaded, classifier.len());
    assert!(report.dropped.is_empty());
    drop(model);

    let mae = keys(
        "timm_state_dict_keys.json",
        "/models/retfound_mae_vit_large_patch16",
    );
    let raw = zeros_checkpoint(&mae, "");
    let config = TimmVitConfig::vit_large_patch16(VitPool::Avg, 0).fitted_to(&raw);
    assert_eq!((config.pool, config.num_classes), (VitPool::Token, 0));
    let mut model = config.init(&Device::flex());
    let report = load_timm_checkpoint(&mut model, Path::new("RETFound_cfp_weights.pth"), raw)
        .expect("every encoder key fits");
    let decoder = mae
        .keys()
        .filter(|k| k.starts_with("decoder_") || *k == "mask_token")
        .count();
    assert!(decoder > 100, "the MAE decoder is in the reference list");
    assert_eq!(report.dropped.len(), decoder);
    assert_eq!(report.loaded, mae.len() - decoder);
}

#[test]
fn full_size_image_fundus_resnet50_loads_every_torchvision_key() {
    let keys = keys(
        "image_fundus_state_dict_keys.json",
        "/image_fundus_resnet50",
    );
    // torchvision's resnet50 has 320 state-dict entries with fc; the MLP head adds 7.
    assert!(keys.len() > 320, "{} keys", keys.len());
    let raw = zeros_checkpoint(&keys, "module.");
    let config = ResNetConfig::image_fundus(2).fitted_to(&raw);
    assert_eq!(config, ResNetConfig::image_fundus(2), "the published sizes");
    assert_eq!(config.feature_width(), 2048);
    let mut model = config.init(&Device::flex());
    let report = load_resnet_checkpoint(
        &mut model,
        Path::new("resnet50_512_ImageNet+Fundus.pth"),
        raw,
    )
    .expect("every key fits");
    let counters = keys
        .keys()
        .filter(|k| k.ends_with("num_batches_tracked"))
        .count();
    assert_eq!(
        counters, 54,
        "53 BatchNorm2d layers and the head's BatchNorm1d"
    );
    assert_eq!(report.dropped.len(), counters);
    assert_eq!(
        report.loaded,
        keys.len() - counters,
        "every other key is used"
    );
}
