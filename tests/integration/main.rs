//! Fovea's integration tests, in one binary (each extra test binary links everything again).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly; that is their job

mod analysis;
mod cli;
mod clip_keys;
mod clip_preprocess;
mod clip_text;
mod clip_tokenizer;
mod clip_vision;
mod damaged_files;
mod demo_roundtrip;
mod dependencies;
mod eyeclip_checkpoint;
mod finding_sets;
mod fuzz_corpus;
mod gpu_device;
mod heidelberg_vol;
mod installed_package;
mod jobs;
mod laterality;
mod library;
mod model_pack;
mod plain_images;
mod published_keys;
mod pydicom_files;
mod raw_dicom;
mod resnet;
mod retclip;
mod rooms;
mod support;
mod timm_vit;
mod validation;
mod viewer;
