//! Choosing where models run: the GPU through wgpu (Vulkan / Metal / DX12; Mesa's lavapipe on
//! machines without a GPU), or the pure-Rust CPU backend. `auto` tries the GPU and falls back to
//! the CPU with a notice the caller shows — never a crash.

use burn::prelude::*;

/// What the user asked for (`--device`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DeviceChoice {
    /// The CPU backend.
    Cpu,
    /// wgpu; an error if it cannot be opened.
    Gpu,
    /// wgpu if it works, else the CPU with a notice.
    Auto,
}

/// The device in use and what to tell the user about it.
pub struct OpenedDevice {
    /// The device.
    pub device: Device,
    /// `wgpu` or `cpu`.
    pub kind: &'static str,
    /// Set when the GPU was asked for (`auto`) but could not be used.
    pub fallback_notice: Option<String>,
}

/// Why the GPU could not be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "the GPU (wgpu) could not be used: {0}. Use --device cpu, or check the graphics driver (Vulkan, Metal or DX12)"
)]
pub struct GpuUnavailable(pub String);

/// Opens the device for `choice`, checking the GPU with one small computation.
pub fn open_device(choice: DeviceChoice) -> Result<OpenedDevice, GpuUnavailable> {
    let cpu = || OpenedDevice {
        device: Device::flex(),
        kind: "cpu",
        fallback_notice: None,
    };
    match choice {
        DeviceChoice::Cpu => Ok(cpu()),
        DeviceChoice::Gpu => probe_gpu().map(|device| OpenedDevice {
            device,
            kind: "wgpu",
            fallback_notice: None,
        }),
        DeviceChoice::Auto => Ok(match probe_gpu() {
            Ok(device) => OpenedDevice {
                device,
                kind: "wgpu",
                fallback_notice: None,
            },
            Err(e) => OpenedDevice {
                fallback_notice: Some(format!("{e}; running on the CPU instead")),
                ..cpu()
            },
        }),
    }
}

/// burn reports a missing adapter by panicking on first use: catch it and say so.
fn probe_gpu() -> Result<Device, GpuUnavailable> {
    std::panic::catch_unwind(|| {
        let device = Device::wgpu(DeviceKind::DefaultDevice);
        let probe = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device);
        let sum: f32 = probe.sum().into_scalar::<f32>();
        (sum == 6.0).then_some(device)
    })
    .map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_else(|| "no usable adapter".to_string());
        GpuUnavailable(message)
    })?
    .ok_or_else(|| GpuUnavailable("a test computation gave a wrong result".to_string()))
}
