// Fovea's image display: one image (a fundus photograph, an SLO, a B-scan) drawn into a
// rectangle of the egui window through a wgpu paint callback, with
//   - zoom and pan: the rectangle shows the part `uv_rect` of the image (outside the image:
//     the background colour),
//   - window/level: display values `window.x` → black and `window.y` → white, per channel (on
//     the stored values of grey images wider than 8 bits: a 16-bit float texture),
//   - the heatmap overlay: a patch grid (one texel per patch, bilinear between patch centres)
//     covering `heat_rect` of the image, coloured with a six-stop approximation of Turbo and
//     blended with `opacity · smoothstep(0, 0.25, heat)` so cold patches leave the image
//     visible.
// `ui::display::shade` is the same arithmetic on the CPU; a test renders this shader on
// lavapipe and compares it with that function, another validates it through naga.

struct View {
    // The image area in framebuffer pixels: x, y, width, height.
    rect_px: vec4<f32>,
    // Image coordinates (0..1) at the area's top-left (xy) and bottom-right (zw) corners.
    uv_rect: vec4<f32>,
    // Part of the image the heatmap grid covers: u0, v0, u1, v1.
    heat_rect: vec4<f32>,
    // Colour outside the image (display values, 0..1).
    background: vec4<f32>,
    // x: window low, y: window high, z: overlay opacity (0 = off), w: 1 when the target is sRGB.
    params: vec4<f32>,
    // x: 1 when the image is one grey channel (a 16-bit float texture), shown in all three.
    flags: vec4<f32>,
};

@group(0) @binding(0) var<uniform> view: View;
@group(0) @binding(1) var image_texture: texture_2d<f32>;
@group(0) @binding(2) var heat_texture: texture_2d<f32>;
@group(0) @binding(3) var linear_sampler: sampler;

@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> @builtin(position) vec4<f32> {
    // One triangle that covers the viewport: (-1,-1), (3,-1), (-1,3).
    let x = f32((index << 1u) & 2u) * 2.0 - 1.0;
    let y = f32(index & 2u) * 2.0 - 1.0;
    return vec4<f32>(x, y, 0.0, 1.0);
}

fn turbo(t: f32) -> vec3<f32> {
    var stops = array<vec3<f32>, 6>(
        vec3<f32>(0.19, 0.07, 0.23),
        vec3<f32>(0.16, 0.46, 0.97),
        vec3<f32>(0.10, 0.90, 0.71),
        vec3<f32>(0.64, 0.99, 0.24),
        vec3<f32>(0.98, 0.62, 0.12),
        vec3<f32>(0.48, 0.02, 0.01),
    );
    let x = clamp(t, 0.0, 1.0) * 5.0;
    let i = min(u32(floor(x)), 4u);
    return mix(stops[i], stops[i + 1u], x - f32(i));
}

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let low = c / 12.92;
    let high = pow((c + 0.055) / 1.055, vec3<f32>(2.4));
    return select(high, low, c <= vec3<f32>(0.04045));
}

@fragment
fn fs_main(@builtin(position) position: vec4<f32>) -> @location(0) vec4<f32> {
    let local = (position.xy - view.rect_px.xy) / view.rect_px.zw;
    let uv = mix(view.uv_rect.xy, view.uv_rect.zw, local);
    var rgb = view.background.rgb;
    if all(uv >= vec2<f32>(0.0)) && all(uv <= vec2<f32>(1.0)) {
        let texel = textureSampleLevel(image_texture, linear_sampler, uv, 0.0);
        let stored = select(texel.rgb, texel.rrr, view.flags.x > 0.5);
        let width = max(view.params.y - view.params.x, 1e-4);
        rgb = clamp((stored - vec3<f32>(view.params.x)) / width, vec3<f32>(0.0), vec3<f32>(1.0));
        let heat_uv = (uv - view.heat_rect.xy) / (view.heat_rect.zw - view.heat_rect.xy);
        let opacity = view.params.z;
        if opacity > 0.0 && all(heat_uv >= vec2<f32>(0.0)) && all(heat_uv <= vec2<f32>(1.0)) {
            let heat = textureSampleLevel(heat_texture, linear_sampler, heat_uv, 0.0).r;
            rgb = mix(rgb, turbo(heat), opacity * smoothstep(0.0, 0.25, heat));
        }
    }
    if view.params.w > 0.5 {
        rgb = srgb_to_linear(rgb);
    }
    return vec4<f32>(rgb, 1.0);
}
