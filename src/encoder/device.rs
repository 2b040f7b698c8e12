//! Choosing where models run: the GPU through wgpu (Vulkan / Metal / DX12), or the pure-Rust
//! CPU backend. `auto` takes a real GPU (discrete, then integrated) and otherwise the CPU —
//! never a software rasteriser such as lavapipe, which is slower than the CPU backend (it stays
//! reachable with `--device gpu`, for tests); a GPU that fails to open falls back to the CPU
//! with a notice the caller shows — never a crash.
//!
//! When the viewer runs, the encoder uses the wgpu device egui renders with
//! ([`share_wgpu_device`]): one device, one memory budget, no second driver context. Work that
//! fails on the GPU part-way (out of memory, device lost — burn reports these by panicking or by
//! a failed read-back) is run again on the CPU by [`with_cpu_fallback`], with a notice.

use burn::backend::wgpu::wgpu;
use burn::prelude::*;

use crate::worker::panic_message;

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
#[derive(Debug, Clone)]
pub struct OpenedDevice {
    /// The device.
    pub device: Device,
    /// `wgpu` or `cpu`.
    pub kind: &'static str,
    /// Set when the GPU was asked for (`auto`) but could not be used.
    pub fallback_notice: Option<String>,
    /// The GPU adapter's name, when known (shown in the viewer's status bar).
    pub adapter_name: Option<String>,
    /// Which device was chosen and why, in one line for the user ("device: cpu — …").
    pub choice: String,
}

/// The wgpu objects of a renderer the encoder can share (egui-wgpu's `RenderState` holds them).
pub struct SharedWgpu {
    /// The wgpu instance.
    pub instance: wgpu::Instance,
    /// The adapter (physical device).
    pub adapter: wgpu::Adapter,
    /// The logical device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
}

/// How a renderer must create its wgpu device for models to run on it too: every feature the
/// adapter has (burn's kernels use 64-bit integers, subgroups, f16 where present) and its full
/// limits, as burn would request them itself. The viewer gives this to eframe.
pub fn compute_device_descriptor(adapter: &wgpu::Adapter) -> wgpu::DeviceDescriptor<'static> {
    wgpu::DeviceDescriptor {
        label: Some("fovea (viewer and encoder)"),
        required_features: adapter
            .features()
            .difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
        required_limits: adapter.limits(),
        memory_hints: wgpu::MemoryHints::MemoryUsage,
        ..Default::default()
    }
}

/// Registers a renderer's wgpu device with burn, so that models run on the same device the UI
/// draws with. Register a device once and clone the result.
pub fn share_wgpu_device(shared: SharedWgpu) -> Result<OpenedDevice, GpuUnavailable> {
    use burn::backend::wgpu::{RuntimeOptions, WgpuSetup, try_init_device};
    let info = shared.adapter.get_info();
    let setup = WgpuSetup {
        instance: shared.instance,
        adapter: shared.adapter,
        device: shared.device,
        queue: shared.queue,
        backend: info.backend,
    };
    let device = try_init_device(setup, RuntimeOptions::default())
        .map_err(|e| GpuUnavailable(format!("the renderer's device cannot run models: {e}")))?;
    Ok(OpenedDevice {
        device: Device::from(device),
        kind: "wgpu",
        fallback_notice: None,
        choice: format!(
            "device: wgpu on {} ({:?}, {:?})",
            info.name, info.device_type, info.backend
        ),
        adapter_name: Some(info.name),
    })
}

/// Runs `work` on `opened`'s device. If that is the GPU and the work fails there (a panic from
/// the backend, e.g. an allocation it cannot make), it runs again on the CPU and the second
/// value says so. `work` must do everything on the device it is given (load the model too), and
/// must read its results back with `try_*` calls so that failures surface here. Panics on the
/// CPU are not caught: they are bugs.
pub fn with_cpu_fallback<T>(
    opened: &OpenedDevice,
    work: impl Fn(&Device) -> T,
) -> (T, Option<String>) {
    if opened.kind != "wgpu" {
        return (work(&opened.device), None);
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&opened.device))) {
        Ok(value) => (value, None),
        Err(panic) => {
            let reason = panic_message(panic.as_ref());
            let notice = format!(
                "the GPU failed during inference ({}); this run used the CPU instead — slower, same results",
                first_line(&reason)
            );
            (work(&Device::flex()), Some(notice))
        }
    }
}

/// The line of a backend's error chain that names the cause (allocation, memory, lost device).
fn first_line(text: &str) -> &str {
    ["allocate", "out of memory", "lost"]
        .iter()
        .find_map(|needle| {
            text.lines()
                .map(str::trim)
                .find(|line| line.to_lowercase().contains(needle))
        })
        .or_else(|| text.lines().next())
        .unwrap_or(text)
}

/// Why the GPU could not be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "the GPU (wgpu) could not be used: {0}. Use --device cpu, or check the graphics driver (Vulkan, Metal or DX12)"
)]
pub struct GpuUnavailable(pub String);

/// burn's CPU backend (`flex`, with rayon and SIMD): where commands that never use the GPU
/// (checksums, training, recalibration) load their packs.
pub fn cpu_device() -> Device {
    Device::flex()
}

/// The adapter `auto` picks among those present, by their device types: the first discrete
/// GPU, else the first integrated one. A software adapter (`DeviceType::Cpu`: lavapipe /
/// llvmpipe, WARP, SwiftShader) is never picked — burn's CPU backend is several times faster
/// than a rasteriser emulating a GPU on the same cores — and neither are virtual or unknown ones.
pub fn pick_real_gpu(types: &[wgpu::DeviceType]) -> Option<usize> {
    [
        wgpu::DeviceType::DiscreteGpu,
        wgpu::DeviceType::IntegratedGpu,
    ]
    .iter()
    .find_map(|wanted| types.iter().position(|t| t == wanted))
}

/// Opens the device for `choice`: `cpu` is burn's CPU backend (no GPU is probed); `gpu` is
/// wgpu's default adapter, whatever it is (lavapipe included: tests use it), checked with one
/// small computation; `auto` is a real GPU by [`pick_real_gpu`], else the CPU.
pub fn open_device(choice: DeviceChoice) -> Result<OpenedDevice, GpuUnavailable> {
    let cpu = |why: &str| OpenedDevice {
        device: cpu_device(),
        kind: "cpu",
        fallback_notice: None,
        adapter_name: None,
        choice: format!("device: cpu ({why})"),
    };
    match choice {
        DeviceChoice::Cpu => Ok(cpu("asked for with --device cpu")),
        DeviceChoice::Gpu => probe_gpu().map(|device| OpenedDevice {
            device,
            kind: "wgpu",
            fallback_notice: None,
            adapter_name: None,
            choice: "device: wgpu, default adapter (asked for with --device gpu)".to_string(),
        }),
        DeviceChoice::Auto if !gpu_device_nodes_present() => Ok(cpu(
            "no GPU device in /dev (dri/renderD*, nvidia*): none was probed",
        )),
        DeviceChoice::Auto => Ok(match open_real_gpu() {
            Ok(Some(opened)) => opened,
            Ok(None) => cpu(
                "no discrete or integrated GPU found; --device gpu would use a software adapter if there is one",
            ),
            Err(e) => OpenedDevice {
                fallback_notice: Some(format!("{e}; running on the CPU instead")),
                ..cpu("the GPU could not be used")
            },
        }),
    }
}

/// Whether the system shows a GPU the driver stack could drive: on Linux a DRM render node
/// (`/dev/dri/renderD*`: Mesa, AMD, Intel, NVIDIA's open driver) or NVIDIA's proprietary
/// device (`/dev/nvidia0`); elsewhere always (the probe decides). Without one, `auto` does not
/// create a Vulkan instance at all: on a headless machine Mesa's device-select layer would
/// look for a Wayland display and print `error: XDG_RUNTIME_DIR is invalid…` for nothing.
fn gpu_device_nodes_present() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let render_node = std::fs::read_dir("/dev/dri").is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    });
    render_node || std::path::Path::new("/dev/nvidia0").exists()
}

/// A real GPU (see [`pick_real_gpu`]) opened for models, through Vulkan, Metal or DX12 only
/// (the GL backend is not probed: on Linux it tries a Wayland or X display and prints errors
/// on a machine without one); `None` when there is none.
fn open_real_gpu() -> Result<Option<OpenedDevice>, GpuUnavailable> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::PRIMARY,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY));
    let types: Vec<wgpu::DeviceType> = adapters.iter().map(|a| a.get_info().device_type).collect();
    let Some(index) = pick_real_gpu(&types) else {
        return Ok(None);
    };
    let adapter = adapters[index].clone();
    let (device, queue) =
        pollster::block_on(adapter.request_device(&compute_device_descriptor(&adapter)))
            .map_err(|e| GpuUnavailable(format!("{}: {e}", adapter.get_info().name)))?;
    let mut opened = share_wgpu_device(SharedWgpu {
        instance,
        adapter,
        device,
        queue,
    })?;
    opened.choice = format!(
        "{} — auto picks a discrete GPU first, then an integrated one",
        opened.choice
    );
    Ok(Some(opened))
}

/// burn reports a missing adapter by panicking on first use: catch it and say so.
fn probe_gpu() -> Result<Device, GpuUnavailable> {
    std::panic::catch_unwind(|| {
        let device = Device::wgpu(DeviceKind::DefaultDevice);
        let probe = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device);
        let sum: f32 = probe.sum().into_scalar::<f32>();
        (sum == 6.0).then_some(device)
    })
    .map_err(|panic| GpuUnavailable(panic_message(panic.as_ref())))?
    .ok_or_else(|| GpuUnavailable("a test computation gave a wrong result".to_string()))
}
