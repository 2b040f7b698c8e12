//! Colour fundus photograph and SLO/IR localizer rendering from an eye's feature maps.

use rand::Rng;

use super::anatomy::{FeatureMaps, disc_and_cup};
use super::noise::fractal_noise;
use super::truth::{EyeTruth, LesionKind};

fn mix(a: [f64; 3], b: [f64; 3], t: f64) -> [f64; 3] {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// How lesions look on a colour fundus photo: colour and blend strength at full coverage.
const LESION_COLOURS: [(LesionKind, [f64; 3], f64); 4] = [
    (LesionKind::Haemorrhage, [0.45, 0.04, 0.03], 0.9),
    (LesionKind::Microaneurysm, [0.5, 0.06, 0.04], 0.85),
    (LesionKind::HardExudate, [1.0, 0.92, 0.45], 0.9),
    (LesionKind::CottonWoolSpot, [0.95, 0.9, 0.85], 0.7),
];

fn lesion_at(maps: &FeatureMaps, kind: LesionKind, i: usize) -> f64 {
    maps.lesions.get(&kind).map_or(0.0, |m| f64::from(m[i]))
}

/// Renders a 45° colour fundus photograph (RGB, 8 bit): circular field of view, illumination
/// falloff, choroidal texture, macular pigment, disc with cup, vessels and lesions.
pub fn render_fundus(
    maps: &FeatureMaps,
    truth: &EyeTruth,
    seed: u64,
    rng: &mut impl Rng,
) -> image::RgbImage {
    let view = maps.view;
    let tint = [
        rng.random_range(0.92..1.05),
        rng.random_range(0.9..1.08),
        rng.random_range(0.85..1.15),
    ];
    let exposure = rng.random_range(0.9..1.1);
    let fov_radius_px = f64::from(view.width.min(view.height)) * 0.48;
    let mut img = image::RgbImage::new(view.width, view.height);
    for (column, row, px) in img.enumerate_pixels_mut() {
        let i = (row * view.width + column) as usize;
        let (x, y) = view.to_mm(column, row);
        let (cx, cy) = (
            f64::from(column) + 0.5 - f64::from(view.width) / 2.0,
            f64::from(row) + 0.5 - f64::from(view.height) / 2.0,
        );
        let r_fov = (cx * cx + cy * cy).sqrt() / fov_radius_px;
        if r_fov > 1.0 {
            *px = image::Rgb([2, 1, 1]);
            continue;
        }
        let texture = fractal_noise(seed, x * 1.6, y * 1.6, 4);
        let fine = fractal_noise(seed ^ 0xABCD, x * 9.0, y * 9.0, 2);
        let mut c = [
            0.78 + 0.12 * texture,
            0.33 + 0.08 * texture,
            0.13 + 0.05 * fine,
        ];
        // Macular pigment and fovea: darker, browner centre with a tiny reflex.
        let r_fovea = (x * x + y * y).sqrt();
        let macula = (-(r_fovea / 1.6).powi(2)).exp();
        c = mix(c, [0.48, 0.17, 0.07], 0.55 * macula);
        let reflex = (-(r_fovea / 0.06).powi(2)).exp();
        c = mix(c, [0.85, 0.6, 0.4], 0.35 * reflex);
        // Geographic atrophy: pale, with choroidal vessels showing through.
        let ga = lesion_at(maps, LesionKind::GeographicAtrophy, i);
        if ga > 0.0 {
            let choroid = (fractal_noise(seed ^ 0x77, x * 5.0, y * 5.0, 2) - 0.5).abs() < 0.06;
            let pale = if choroid {
                [0.8, 0.38, 0.2]
            } else {
                [0.93, 0.7, 0.5]
            };
            c = mix(c, pale, 0.85 * ga);
        }
        c = mix(
            c,
            [0.95, 0.82, 0.42],
            0.8 * lesion_at(maps, LesionKind::Drusen, i),
        );
        let (disc, cup) = disc_and_cup(truth.eye, truth.cup_to_disc_ratio, (x, y));
        c = mix(c, [0.96, 0.72, 0.5], disc);
        c = mix(c, [1.0, 0.93, 0.78], disc * cup);
        let artery = f64::from(maps.artery[i]);
        let vein = f64::from(maps.vein[i]);
        c = mix(c, [0.62, 0.12, 0.06], 0.75 * artery);
        c = mix(c, [0.42, 0.06, 0.04], 0.85 * vein);
        let nv = lesion_at(maps, LesionKind::Neovascularisation, i);
        if nv > 0.0 {
            let tuft = (fractal_noise(seed ^ 0x99, x * 14.0, y * 14.0, 2) - 0.5).abs() < 0.05;
            if tuft {
                c = mix(c, [0.55, 0.08, 0.05], 0.8 * nv);
            }
        }
        for (kind, colour, strength) in LESION_COLOURS {
            c = mix(c, colour, strength * lesion_at(maps, kind, i));
        }
        // Illumination falls off towards the rim of the field of view.
        let light = exposure
            * (1.0 - 0.55 * r_fov.powi(3))
            * (0.92 + 0.08 * fractal_noise(seed ^ 0x5, x * 0.3, y * 0.3, 2));
        let edge = ((1.0 - r_fov) / 0.015).clamp(0.0, 1.0);
        let grain = (rng.random::<f64>() - 0.5) * 0.025;
        *px = image::Rgb(std::array::from_fn(|k| {
            ((c[k] * tint[k] * light + grain) * edge * 255.0)
                .round()
                .clamp(0.0, 255.0) as u8
        }));
    }
    img
}

/// Renders an infrared SLO image (grey, 8 bit): the localizer an OCT volume is scanned on.
pub fn render_slo(
    maps: &FeatureMaps,
    truth: &EyeTruth,
    seed: u64,
    rng: &mut impl Rng,
) -> image::GrayImage {
    let view = maps.view;
    let gain = rng.random_range(0.9..1.1);
    let mut img = image::GrayImage::new(view.width, view.height);
    for (column, row, px) in img.enumerate_pixels_mut() {
        let i = (row * view.width + column) as usize;
        let (x, y) = view.to_mm(column, row);
        let texture = fractal_noise(seed ^ 0x51, x * 2.5, y * 2.5, 4);
        let r_fovea = (x * x + y * y).sqrt();
        let mut g = 0.42 + 0.1 * texture - 0.08 * (-(r_fovea / 1.2).powi(2)).exp();
        let (disc, cup) = disc_and_cup(truth.eye, truth.cup_to_disc_ratio, (x, y));
        g += 0.25 * disc + 0.15 * disc * cup;
        g -= 0.2 * f64::from(maps.artery[i]) + 0.24 * f64::from(maps.vein[i]);
        g += 0.25 * lesion_at(maps, LesionKind::GeographicAtrophy, i);
        g += 0.12 * lesion_at(maps, LesionKind::Drusen, i);
        g += 0.2 * lesion_at(maps, LesionKind::HardExudate, i);
        g += 0.08 * lesion_at(maps, LesionKind::CottonWoolSpot, i);
        g -= 0.22 * lesion_at(maps, LesionKind::Haemorrhage, i);
        g -= 0.1 * lesion_at(maps, LesionKind::Microaneurysm, i);
        let vignette = 1.0
            - 0.25
                * ((f64::from(column) / f64::from(view.width) - 0.5).powi(2)
                    + (f64::from(row) / f64::from(view.height) - 0.5).powi(2));
        let speckle = (rng.random::<f64>() - 0.5) * 0.05;
        *px = image::Luma([((g * gain * vignette + speckle) * 255.0)
            .round()
            .clamp(0.0, 255.0) as u8]);
    }
    img
}
