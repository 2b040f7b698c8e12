//! Draws an image view with `shaders/image.wgsl` through an egui wgpu paint callback: the
//! frame and its heatmap grid live in GPU textures (uploaded again only when their version
//! changes); window/level, zoom/pan and the overlay's colour map are uniforms, so dragging the
//! window or the zoom never touches the pixels on the CPU.
//!
//! The pipeline assumes egui's render pass as eframe and `egui_kittest` set it up: one sample
//! per pixel, no depth buffer.

use std::collections::HashMap;
use std::sync::Arc;

use eframe::egui_wgpu::{self, CallbackResources, CallbackTrait, ScreenDescriptor};
use eframe::wgpu;
use eframe::wgpu::util::DeviceExt;

use super::display::{HeatUpload, ImageUpload, UploadPixels, WindowLevel};

/// The WGSL source of the image display.
pub const IMAGE_SHADER: &str = include_str!("../../shaders/image.wgsl");

/// Uniform block of the shader: six vec4 (see `View` in the WGSL).
const UNIFORM_BYTES: u64 = 6 * 16;

/// Views kept on the GPU beyond this many are dropped, least recently drawn first.
const MAX_VIEWS: usize = 24;

/// What one view draws this frame.
#[derive(Clone)]
pub struct ImagePaint {
    /// Identifies the view (its textures are kept between frames under this key).
    pub key: u64,
    /// The image area in points.
    pub rect: egui::Rect,
    /// The frame's pixels.
    pub image: Arc<ImageUpload>,
    /// The heatmap, when the overlay is on and ready.
    pub heat: Option<Arc<HeatUpload>>,
    /// The image part shown across the area (0..1 coordinates).
    pub uv_rect: egui::Rect,
    /// Window/level.
    pub window: WindowLevel,
    /// Overlay opacity; 0 = off.
    pub opacity: f32,
    /// Colour outside the image.
    pub background: egui::Color32,
}

impl ImagePaint {
    /// The uniform block for a target with `pixels_per_point`.
    fn uniforms(&self, pixels_per_point: f32, srgb_target: bool) -> Vec<u8> {
        let r = self.rect;
        let (heat_rect, opacity) = match &self.heat {
            Some(h) => (h.covers, self.opacity),
            None => ([0.0, 0.0, 1.0, 1.0], 0.0),
        };
        let bg = self.background.to_normalized_gamma_f32();
        let grey = if self.image.is_grey() { 1.0 } else { 0.0 };
        let values: [f32; 24] = [
            r.min.x * pixels_per_point,
            r.min.y * pixels_per_point,
            r.width() * pixels_per_point,
            r.height() * pixels_per_point,
            self.uv_rect.min.x,
            self.uv_rect.min.y,
            self.uv_rect.max.x,
            self.uv_rect.max.y,
            heat_rect[0],
            heat_rect[1],
            heat_rect[2],
            heat_rect[3],
            bg[0],
            bg[1],
            bg[2],
            1.0,
            self.window.low,
            self.window.high,
            opacity,
            if srgb_target { 1.0 } else { 0.0 },
            grey,
            0.0,
            0.0,
            0.0,
        ];
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
}

/// One view's GPU objects.
struct GpuView {
    image_version: u64,
    heat_version: u64,
    uniform: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    last_drawn: u64,
}

/// The pipeline and every view's textures; lives in egui's callback resources.
pub struct ImagePipeline {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    srgb_target: bool,
    views: HashMap<u64, GpuView>,
    prepared: u64,
}

fn texture_entry(binding: u32) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty: wgpu::BindingType::Texture {
            multisampled: false,
            sample_type: wgpu::TextureSampleType::Float { filterable: true },
            view_dimension: wgpu::TextureViewDimension::D2,
        },
        count: None,
    }
}

fn upload_texture(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    label: &str,
    size: (u32, u32),
    format: wgpu::TextureFormat,
    data: &[u8],
) -> wgpu::Texture {
    device.create_texture_with_data(
        queue,
        &wgpu::TextureDescriptor {
            label: Some(label),
            size: wgpu::Extent3d {
                width: size.0.max(1),
                height: size.1.max(1),
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        },
        wgpu::util::TextureDataOrder::LayerMajor,
        data,
    )
}

impl ImagePipeline {
    /// Compiles the shader for a target of `format`.
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("fovea image shader"),
            source: wgpu::ShaderSource::Wgsl(IMAGE_SHADER.into()),
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("fovea image bind group"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: wgpu::BufferSize::new(UNIFORM_BYTES),
                    },
                    count: None,
                },
                texture_entry(1),
                texture_entry(2),
                wgpu::BindGroupLayoutEntry {
                    binding: 3,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("fovea image pipeline layout"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("fovea image pipeline"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("fovea image sampler"),
            address_mode_u: wgpu::AddressMode::ClampToEdge,
            address_mode_v: wgpu::AddressMode::ClampToEdge,
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        ImagePipeline {
            pipeline,
            layout,
            sampler,
            srgb_target: format.is_srgb(),
            views: HashMap::new(),
            prepared: 0,
        }
    }

    /// Puts egui's renderer in charge of a pipeline for its target.
    pub fn install(render_state: &egui_wgpu::RenderState) {
        let pipeline = ImagePipeline::new(&render_state.device, render_state.target_format);
        render_state
            .renderer
            .write()
            .callback_resources
            .insert(pipeline);
    }

    /// Uploads what changed for `paint` and writes its uniforms.
    pub fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        paint: &ImagePaint,
        pixels_per_point: f32,
    ) {
        self.prepared += 1;
        let heat_version = paint.heat.as_ref().map_or(0, |h| h.version);
        let stale = self.views.get(&paint.key).is_none_or(|v| {
            v.image_version != paint.image.version || v.heat_version != heat_version
        });
        if stale {
            let size = (paint.image.width, paint.image.height);
            let image = match &paint.image.pixels {
                UploadPixels::Rgba8(rgba) => upload_texture(
                    device,
                    queue,
                    "fovea image",
                    size,
                    wgpu::TextureFormat::Rgba8Unorm,
                    rgba,
                ),
                UploadPixels::GreyF16(grey) => {
                    let bytes: Vec<u8> = grey.iter().flat_map(|v| v.to_le_bytes()).collect();
                    upload_texture(
                        device,
                        queue,
                        "fovea grey image",
                        size,
                        wgpu::TextureFormat::R16Float,
                        &bytes,
                    )
                }
            };
            let heat = match &paint.heat {
                Some(h) => upload_texture(
                    device,
                    queue,
                    "fovea heatmap",
                    (h.columns, h.rows),
                    wgpu::TextureFormat::R8Unorm,
                    &h.values,
                ),
                None => upload_texture(
                    device,
                    queue,
                    "fovea no heatmap",
                    (1, 1),
                    wgpu::TextureFormat::R8Unorm,
                    &[0],
                ),
            };
            let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("fovea image view"),
                contents: &paint.uniforms(pixels_per_point, self.srgb_target),
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            });
            let image_view = image.create_view(&wgpu::TextureViewDescriptor::default());
            let heat_view = heat.create_view(&wgpu::TextureViewDescriptor::default());
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("fovea image bind group"),
                layout: &self.layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: uniform.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: wgpu::BindingResource::TextureView(&image_view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: wgpu::BindingResource::TextureView(&heat_view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 3,
                        resource: wgpu::BindingResource::Sampler(&self.sampler),
                    },
                ],
            });
            self.views.insert(
                paint.key,
                GpuView {
                    image_version: paint.image.version,
                    heat_version,
                    uniform,
                    bind_group,
                    last_drawn: self.prepared,
                },
            );
        }
        if let Some(view) = self.views.get_mut(&paint.key) {
            queue.write_buffer(
                &view.uniform,
                0,
                &paint.uniforms(pixels_per_point, self.srgb_target),
            );
            view.last_drawn = self.prepared;
        }
        while self.views.len() > MAX_VIEWS {
            let oldest = self
                .views
                .iter()
                .min_by_key(|(_, v)| v.last_drawn)
                .map(|(k, _)| *k);
            match oldest {
                Some(key) => self.views.remove(&key),
                None => break,
            };
        }
    }

    /// Draws the view `key` (prepared this frame) into `pass`, whose viewport is the view.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>, key: u64) {
        if let Some(view) = self.views.get(&key) {
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &view.bind_group, &[]);
            pass.draw(0..3, 0..1);
        }
    }
}

impl CallbackTrait for ImagePaint {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        screen: &ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(pipeline) = resources.get_mut::<ImagePipeline>() {
            pipeline.prepare(device, queue, self, screen.pixels_per_point);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &CallbackResources,
    ) {
        if let Some(pipeline) = resources.get::<ImagePipeline>() {
            pipeline.draw(pass, self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::display::shade;

    #[test]
    fn the_image_shader_is_valid_wgsl() {
        let module = naga::front::wgsl::parse_str(IMAGE_SHADER).expect("WGSL parses");
        let mut validator = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        );
        validator.validate(&module).expect("naga validates it");
        let entry_points: Vec<&str> = module
            .entry_points
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(entry_points, ["vs_main", "fs_main"]);
    }

    /// lavapipe (or any adapter) — CI installs mesa-vulkan-drivers.
    fn device() -> (wgpu::Device, wgpu::Queue) {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
        let adapter = pollster_block(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::LowPower,
            force_fallback_adapter: false,
            compatible_surface: None,
            ..Default::default()
        }))
        .expect("a wgpu adapter (install mesa-vulkan-drivers for lavapipe)");
        pollster_block(adapter.request_device(&wgpu::DeviceDescriptor::default()))
            .expect("a wgpu device")
    }

    fn pollster_block<F: std::future::Future>(future: F) -> F::Output {
        pollster::block_on(future)
    }

    /// Renders the shader into an RGBA8 target and reads it back.
    fn render(paint: &ImagePaint, size: (u32, u32)) -> Vec<u8> {
        let (device, queue) = device();
        let format = wgpu::TextureFormat::Rgba8Unorm;
        let mut pipeline = ImagePipeline::new(&device, format);
        pipeline.prepare(&device, &queue, paint, 1.0);
        let target = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("test target"),
            size: wgpu::Extent3d {
                width: size.0,
                height: size.1,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let view = target.create_view(&wgpu::TextureViewDescriptor::default());
        let bytes_per_row = (size.0 * 4).div_ceil(256) * 256;
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: u64::from(bytes_per_row * size.1),
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("test pass"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                ..Default::default()
            });
            pipeline.draw(&mut pass, paint.key);
        }
        encoder.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture: &target,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: &readback,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(bytes_per_row),
                    rows_per_image: Some(size.1),
                },
            },
            wgpu::Extent3d {
                width: size.0,
                height: size.1,
                depth_or_array_layers: 1,
            },
        );
        queue.submit([encoder.finish()]);
        let slice = readback.slice(..);
        slice.map_async(wgpu::MapMode::Read, |r| r.expect("map"));
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("poll");
        let data = slice.get_mapped_range().expect("mapped");
        let mut pixels = Vec::with_capacity((size.0 * size.1 * 4) as usize);
        for row in 0..size.1 {
            let start = (row * bytes_per_row) as usize;
            pixels.extend_from_slice(&data[start..start + (size.0 * 4) as usize]);
        }
        pixels
    }

    #[test]
    fn grey_wider_than_8_bits_is_windowed_on_its_stored_values() {
        // 64 grey levels 1/2048 apart (exact in f16): one 8-bit step spans eight of them.
        let (w, h) = (64u32, 4u32);
        let values: Vec<f32> = (0..w * h).map(|i| 0.5 + (i % w) as f32 / 2048.0).collect();
        let window = WindowLevel {
            low: 0.5,
            high: 0.5 + w as f32 / 2048.0,
        };
        let paint = ImagePaint {
            key: 9,
            rect: egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(w as f32, h as f32)),
            image: ImageUpload::from_unit_grey(w, h, &values),
            heat: None,
            uv_rect: egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
            window,
            opacity: 0.0,
            background: egui::Color32::BLACK,
        };
        let drawn = render(&paint, (w, h));
        let mut levels: Vec<u8> = (0..w as usize).map(|x| drawn[x * 4]).collect();
        for x in 0..w as usize {
            let want = shade([values[x]; 3], window, None, 0.0)[0];
            let got = f32::from(drawn[x * 4]) / 255.0;
            assert!((got - want).abs() <= 2.0 / 255.0, "x {x}: {got} vs {want}");
            assert_eq!(drawn[x * 4], drawn[x * 4 + 1], "grey in every channel");
        }
        levels.dedup();
        assert!(levels.len() >= 60, "{} distinct levels", levels.len());
    }

    #[test]
    fn the_shader_draws_what_the_cpu_reference_says() {
        let (w, h) = (48u32, 32u32);
        let rgb = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 5) as u8, (y * 7) as u8, ((x + y) * 3) as u8])
        });
        // One heat value per pixel, so the bilinear sampling at texel centres is exact.
        let heat: Vec<f32> = (0..w * h)
            .map(|i| ((i % w) as f32 / (w - 1) as f32) * ((i / w) as f32 / (h - 1) as f32))
            .collect();
        let window = WindowLevel {
            low: 0.1,
            high: 0.8,
        };
        let paint = ImagePaint {
            key: 7,
            rect: egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(w as f32, h as f32)),
            image: ImageUpload::from_rgb(&rgb),
            heat: Some(HeatUpload::new(
                w as usize,
                h as usize,
                &heat,
                [0.0, 0.0, 1.0, 1.0],
            )),
            uv_rect: egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
            window,
            opacity: 0.7,
            background: egui::Color32::BLACK,
        };
        let drawn = render(&paint, (w, h));
        let mut worst = 0.0f32;
        for y in 0..h {
            for x in 0..w {
                let p = rgb.get_pixel(x, y).0.map(|c| f32::from(c) / 255.0);
                let t = (heat[(y * w + x) as usize] * 255.0).round() / 255.0;
                let want = shade(p, window, Some(t), 0.7);
                let i = ((y * w + x) * 4) as usize;
                for c in 0..3 {
                    let got = f32::from(drawn[i + c]) / 255.0;
                    worst = worst.max((got - want[c]).abs());
                }
            }
        }
        assert!(worst <= 2.0 / 255.0, "largest difference {worst}");
        // Zoomed out to half size, the corners are background.
        let mut zoomed = paint.clone();
        zoomed.key = 8;
        zoomed.uv_rect = egui::Rect::from_center_size(egui::pos2(0.5, 0.5), egui::vec2(2.0, 2.0));
        zoomed.background = egui::Color32::from_rgb(0, 0, 255);
        let drawn = render(&zoomed, (w, h));
        assert_eq!(&drawn[0..3], &[0, 0, 255]);
        let centre = (((h / 2) * w + w / 2) * 4) as usize;
        assert_ne!(&drawn[centre..centre + 3], &[0, 0, 255]);
    }
}
