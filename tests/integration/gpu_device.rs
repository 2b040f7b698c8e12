//! The encoder on a wgpu device it did not create (as the viewer hands it egui's), and the CPU
//! fallback when work fails on the GPU part-way — a real failure: lavapipe refuses a buffer larger
//! than wgpu's limit, as a small GPU runs out of memory.

use burn::backend::wgpu::wgpu;
use burn::prelude::*;
use fovea::encoder::device::{
    OpenedDevice, SharedWgpu, compute_device_descriptor, share_wgpu_device, with_cpu_fallback,
};
use fovea::encoder::pack::{PackModel, load_pack};

use crate::support::{assert_close, import_pack, reference_on, reference_path};

/// What eframe does at start-up — an instance, an adapter and a device of its own — with the
/// descriptor the viewer gives it.
fn renderer_device() -> SharedWgpu {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .expect("an adapter (lavapipe on machines without a GPU)");
    let (device, queue) =
        pollster::block_on(adapter.request_device(&compute_device_descriptor(&adapter)))
            .expect("a device");
    SharedWgpu {
        instance,
        adapter,
        device,
        queue,
    }
}

#[test]
fn a_pack_runs_on_a_shared_renderer_device_with_reference_results() {
    let dir = tempfile::tempdir().expect("tmp");
    let pack = dir.path().join("pack");
    let tiny = r#"{"image_size": 32, "patch_size": 8, "width": 64, "layers": 2, "heads": 4}"#;
    let output = import_pack(
        dir.path(),
        "retfound",
        Some(tiny),
        &reference_path("tiny_retfound_classifier.pth"),
        &pack,
    );
    crate::support::assert_succeeded(&output);
    let shared = renderer_device();
    let renderer = shared.device.clone();
    let opened = share_wgpu_device(shared).expect("registered with burn");
    assert_eq!(opened.kind, "wgpu");
    assert!(
        opened
            .adapter_name
            .as_deref()
            .is_some_and(|n| !n.is_empty())
    );
    let loaded = load_pack(&pack, &opened.device).expect("loads on the shared device");
    let PackModel::TimmVit(model) = &loaded.model else {
        panic!("timm pack")
    };
    let out = model.forward(reference_on::<4>(
        "tiny_timm_outputs.safetensors",
        "image",
        &opened.device,
    ));
    assert_close(
        out.logits.expect("head"),
        "tiny_timm_outputs.safetensors",
        "classifier_logits",
        1e-4,
        "shared device",
    );
    // The renderer's device is still usable after the encoder worked on it.
    let buffer = renderer.create_buffer(&wgpu::BufferDescriptor {
        label: Some("after"),
        size: 256,
        usage: wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    assert_eq!(buffer.size(), 256);
}

#[test]
fn work_that_fails_on_the_gpu_runs_again_on_the_cpu_with_a_notice() {
    let gpu = OpenedDevice {
        device: Device::wgpu(DeviceKind::DefaultDevice),
        kind: "wgpu",
        fallback_notice: None,
        adapter_name: None,
        choice: "device: wgpu (test)".to_string(),
    };
    // 640 MB in one buffer: more than wgpu's default buffer limit, fine for the CPU backend.
    let work = |device: &Device| -> f32 {
        let big = Tensor::<2>::ones([40_000, 4_000], device);
        (big * 2.0).max().into_scalar::<f32>()
    };
    let (value, notice) = with_cpu_fallback(&gpu, work);
    assert_eq!(value, 2.0, "the CPU finished the work");
    let notice = notice.expect("the fallback is reported");
    assert!(
        notice.contains("CPU") && notice.contains("allocate"),
        "{notice}"
    );
    // Small work stays on the GPU, and the GPU still works after the failure.
    let (small, notice) = with_cpu_fallback(&gpu, |device| {
        Tensor::<1>::from_floats([1.0, 2.0, 3.0], device)
            .sum()
            .into_scalar::<f32>()
    });
    assert_eq!((small, notice), (6.0, None));
}

/// `auto`'s rule: a discrete GPU first, then an integrated one; a software adapter never.
#[test]
fn auto_picks_a_real_gpu_and_never_a_software_adapter() {
    use fovea::encoder::device::pick_real_gpu;
    use wgpu::DeviceType::{Cpu, DiscreteGpu, IntegratedGpu, Other, VirtualGpu};
    assert_eq!(pick_real_gpu(&[Cpu, IntegratedGpu, DiscreteGpu]), Some(2));
    assert_eq!(pick_real_gpu(&[IntegratedGpu, Cpu]), Some(0));
    assert_eq!(
        pick_real_gpu(&[Cpu]),
        None,
        "lavapipe alone: the CPU backend"
    );
    assert_eq!(pick_real_gpu(&[Other, VirtualGpu]), None);
    assert_eq!(pick_real_gpu(&[]), None);
}

/// On this machine (lavapipe is its only adapter, or a real GPU is there), `auto` opens
/// the CPU unless a discrete or integrated GPU is present, and says which and why.
#[test]
fn auto_says_which_device_it_chose() {
    use fovea::encoder::device::{DeviceChoice, open_device, pick_real_gpu};
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::PRIMARY,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let types: Vec<_> = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY))
        .iter()
        .map(|a| a.get_info().device_type)
        .collect();
    let opened = open_device(DeviceChoice::Auto).expect("auto never fails");
    if pick_real_gpu(&types).is_some() {
        assert_eq!(opened.kind, "wgpu", "{}", opened.choice);
    } else {
        assert_eq!(opened.kind, "cpu", "adapters {types:?}: {}", opened.choice);
        assert!(
            opened.choice.contains("no discrete or integrated GPU")
                || opened.choice.contains("no GPU device in /dev"),
            "{}",
            opened.choice
        );
    }
}
