//! OCT volume rendering: a raster of B-scans over the macula with retinal layers, the foveal
//! pit, and the eye's lesions as OCT shows them (drusen lift the RPE, fluid is dark, geographic
//! atrophy removes the RPE and lets light into the choroid, exudates are bright dots).

use rand::Rng;

use super::anatomy::FeatureMaps;
use super::noise::fractal_noise;
use super::truth::{EyeTruth, Lesion, LesionKind};

/// Scan pattern and size of a volume.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OctGeometry {
    /// A-scans per B-scan (image columns).
    pub ascans: u32,
    /// Pixels per A-scan (image rows).
    pub depth_px: u32,
    /// Number of B-scans.
    pub bscans: u32,
    /// Scan width and height on the retina, mm (square raster centred on the fovea).
    pub scan_mm: f64,
    /// Depth imaged, mm.
    pub depth_mm: f64,
}

impl OctGeometry {
    /// One 32 × 32 B-scan over the usual 6 × 1.2 mm: for callers that only need the
    /// photographs of a synthetic eye (the pointing game, lesion-guidance tests) and want the
    /// volume cheap.
    pub fn minimal() -> Self {
        OctGeometry {
            ascans: 32,
            depth_px: 32,
            bscans: 1,
            scan_mm: 6.0,
            depth_mm: 1.2,
        }
    }

    /// Lateral pixel size, mm.
    pub fn lateral_spacing_mm(&self) -> f64 {
        self.scan_mm / f64::from(self.ascans)
    }

    /// Axial pixel size, mm.
    pub fn axial_spacing_mm(&self) -> f64 {
        self.depth_mm / f64::from(self.depth_px)
    }

    /// Distance between B-scans, mm.
    pub fn bscan_spacing_mm(&self) -> f64 {
        self.scan_mm / f64::from(self.bscans.saturating_sub(1).max(1))
    }

    /// Retinal y (mm below the fovea) of B-scan `k` (0 = top/superior).
    pub fn bscan_y_mm(&self, k: u32) -> f64 {
        -self.scan_mm / 2.0 + f64::from(k) * self.bscan_spacing_mm()
    }

    /// Retinal x (mm) of the centre of A-scan `column`.
    pub fn ascan_x_mm(&self, column: u32) -> f64 {
        -self.scan_mm / 2.0 + (f64::from(column) + 0.5) * self.lateral_spacing_mm()
    }
}

/// Layer boundaries of one A-scan, depths in mm from the top of the B-scan.
struct AScan {
    ilm: f64,
    rnfl: f64,
    gcl: f64,
    ipl: f64,
    inl: f64,
    opl: f64,
    elm: f64,
    ez_top: f64,
    ez_bottom: f64,
    rpe_top: f64,
    bruch: f64,
}

fn footprint(lesions: &[Lesion], kind: LesionKind, x: f64, y: f64) -> f64 {
    lesions
        .iter()
        .filter(|l| l.kind == kind)
        .map(|l| {
            let d = l.distance(x, y);
            if d < 1.0 { (1.0 - d * d).sqrt() } else { 0.0 }
        })
        .fold(0.0, f64::max)
}

fn layers(truth: &EyeTruth, x: f64, y: f64) -> AScan {
    let r = (x * x + y * y).sqrt();
    let foveal = 1.0 - (-(r / 0.55).powi(2)).exp();
    let bruch = 0.78 + 0.01 * (x * x + y * y);
    let drusen = 0.07 * footprint(&truth.lesions, LesionKind::Drusen, x, y);
    let srf = 0.1 * footprint(&truth.lesions, LesionKind::SubretinalFluid, x, y);
    let rpe_top = bruch - 0.03 - drusen;
    let ez_bottom = rpe_top - 0.015 - srf;
    let ez_top = ez_bottom - 0.018;
    // Drusen and subretinal fluid lift the outer retina; the inner retina follows only partly.
    let elm_flat = bruch - 0.088;
    let elm = (elm_flat - 0.15 * (drusen + srf)).min(ez_top - 0.012);
    let glaucoma = if truth.glaucoma { 0.65 } else { 1.0 };
    let irf = 0.12 * footprint(&truth.lesions, LesionKind::IntraretinalFluid, x, y);
    let onl = 0.07 + 0.04 * (1.0 - foveal);
    let opl = elm - onl - irf * 0.6;
    let inl = opl - 0.022 * foveal - 0.004;
    let ipl = inl - 0.035 * foveal - irf * 0.4;
    let gcl = ipl - 0.035 * foveal * glaucoma;
    let rnfl = gcl - 0.045 * foveal * glaucoma;
    let ilm = rnfl - 0.025 * foveal * glaucoma - 0.003;
    AScan {
        ilm,
        rnfl,
        gcl,
        ipl,
        inl,
        opl,
        elm,
        ez_top,
        ez_bottom,
        rpe_top,
        bruch,
    }
}

fn band(z: f64, top: f64, bottom: f64) -> bool {
    z >= top && z < bottom
}

/// Renders every B-scan of the volume (8-bit grey, rows = depth). `slo` supplies the vessel
/// map so vessels cast shadows, as on a real OCT.
pub fn render_volume(
    geometry: OctGeometry,
    truth: &EyeTruth,
    slo: &FeatureMaps,
    seed: u64,
    rng: &mut impl Rng,
) -> Vec<image::GrayImage> {
    let gain = rng.random_range(0.9..1.1);
    (0..geometry.bscans)
        .map(|k| {
            let y = geometry.bscan_y_mm(k);
            let mut img = image::GrayImage::new(geometry.ascans, geometry.depth_px);
            for column in 0..geometry.ascans {
                let x = geometry.ascan_x_mm(column);
                let l = layers(truth, x, y);
                let vessel = vessel_opacity(slo, x, y);
                let ga = footprint(&truth.lesions, LesionKind::GeographicAtrophy, x, y) > 0.0;
                let exudate = footprint(&truth.lesions, LesionKind::HardExudate, x, y);
                let irf = footprint(&truth.lesions, LesionKind::IntraretinalFluid, x, y);
                let srf = footprint(&truth.lesions, LesionKind::SubretinalFluid, x, y);
                let drusen = footprint(&truth.lesions, LesionKind::Drusen, x, y);
                let mut shadow = 1.0;
                for row in 0..geometry.depth_px {
                    let z = (f64::from(row) + 0.5) * geometry.axial_spacing_mm();
                    let mut reflectivity = if z < l.ilm {
                        0.004
                    } else if band(z, l.ilm, l.rnfl) {
                        0.8
                    } else if band(z, l.rnfl, l.gcl) {
                        0.38
                    } else if band(z, l.gcl, l.ipl) {
                        0.55
                    } else if band(z, l.ipl, l.inl) {
                        0.2
                    } else if band(z, l.inl, l.opl) {
                        0.5
                    } else if band(z, l.opl, l.elm) {
                        0.1
                    } else if band(z, l.elm, l.elm + 0.005) {
                        0.45
                    } else if band(z, l.elm + 0.005, l.ez_top) {
                        0.14
                    } else if band(z, l.ez_top, l.ez_bottom) {
                        if ga { 0.15 } else { 0.85 }
                    } else if band(z, l.ez_bottom, l.rpe_top) {
                        if srf > 0.0 { 0.02 } else { 0.3 }
                    } else if band(z, l.rpe_top, l.bruch) {
                        if ga { 0.2 } else { 0.95 }
                    } else {
                        let depth = z - l.bruch;
                        let texture = fractal_noise(seed ^ 0xC0, x * 8.0, depth * 30.0, 3);
                        let lumen = if texture < 0.38 { 0.4 } else { 1.0 };
                        let hyper = if ga { 1.7 } else { 1.0 };
                        0.32 * lumen * hyper * (-depth / 0.22).exp()
                    };
                    // Drusen: moderately reflective material under the lifted RPE.
                    if drusen > 0.0 && band(z, l.rpe_top + 0.03, l.bruch) {
                        reflectivity = 0.45;
                    }
                    // Intraretinal cysts: dark pockets in the INL/OPL/ONL.
                    if irf > 0.0 {
                        let centre = l.opl;
                        let half = 0.06 * irf;
                        if (z - centre).abs() < half {
                            reflectivity = 0.015;
                        }
                    }
                    // Hard exudates: bright dots at the OPL that shadow what lies beneath.
                    if exudate > 0.0 && band(z, l.inl, l.opl + 0.01) {
                        reflectivity = 0.97;
                    }
                    if z > l.gcl {
                        reflectivity *= shadow;
                    }
                    if exudate > 0.0 && z > l.opl + 0.01 {
                        shadow = 0.5;
                    } else if vessel > 0.2 && z > l.gcl && z <= l.gcl + 0.01 {
                        reflectivity = 0.75;
                        shadow = 1.0 - 0.6 * vessel;
                    }
                    let speckle = -rng.random::<f64>().max(1e-9).ln();
                    let intensity =
                        reflectivity * gain * (0.55 + 0.45 * speckle) + 0.01 * rng.random::<f64>();
                    let v = (1.0 + 14.0 * intensity).ln() / 15_f64.ln();
                    img.put_pixel(
                        column,
                        row,
                        image::Luma([(v * 255.0).round().clamp(0.0, 255.0) as u8]),
                    );
                }
            }
            img
        })
        .collect()
}

fn vessel_opacity(slo: &FeatureMaps, x: f64, y: f64) -> f64 {
    let (px, py) = slo.view.to_px((x, y));
    if px < 0.0 || py < 0.0 || px >= f64::from(slo.view.width) || py >= f64::from(slo.view.height) {
        return 0.0;
    }
    let i = (py as u32 * slo.view.width + px as u32) as usize;
    f64::from(slo.artery[i].max(slo.vein[i]))
}
