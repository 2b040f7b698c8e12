//! Lesion guidance for the demo model's training: where the generator planted the lesions of an
//! eye's findings, as a patch mask per view, and the loss that asks the image tower's last block
//! to look there from its class token.
//!
//! Without it the demo model learned to score referable DR partly from the optic disc (a
//! landmark every photograph has), and its class-specific heatmaps peaked on the disc. With the
//! generator's lesion outlines (the training images' "annotations") the class token's attention
//! is asked to fall on lesion patches in lesion-positive views — attention supervision, as in
//! guided-attention training on annotated lesions. The held-out pointing game then measures
//! whether that carries over to patients the model never saw.

use burn::prelude::*;

use super::findings::{DEMO_FINDINGS, FUNDUS_CENTRE_FRACTION, VIEWS_PER_EYE};
use crate::encoder::preprocess::centre_crop_rect;
use crate::synth::LesionMask;
use crate::synth::anatomy::View;
use crate::synth::samples::EyeSample;
use crate::synth::truth::{EyeTruth, LesionKind};

/// A rectangle of an image in pixels: left, top, width, height.
type RegionPx = (f64, f64, f64, f64);

/// The patches of a `grid × grid` view of `region` (the part of the image the view was cut
/// from, squashed to the model's square input) that overlap one of `lesions`: 1.0 or 0.0 per
/// patch, row-major.
pub fn lesion_patches(region: RegionPx, lesions: &[LesionMask], grid: usize) -> Vec<f32> {
    let (left, top, width, height) = region;
    let (patch_w, patch_h) = (width / grid as f64, height / grid as f64);
    (0..grid * grid)
        .map(|i| {
            let (c, r) = ((i % grid) as f64, (i / grid) as f64);
            let (x0, y0) = (left + c * patch_w, top + r * patch_h);
            let overlaps = lesions.iter().any(|l| {
                // In the frame where the ellipse is the unit circle the patch is still an
                // axis-aligned rectangle: its point nearest the centre decides.
                let dx = (l.cx.clamp(x0, x0 + patch_w) - l.cx) / l.rx.max(1e-6);
                let dy = (l.cy.clamp(y0, y0 + patch_h) - l.cy) / l.ry.max(1e-6);
                dx * dx + dy * dy <= 1.0
            });
            f32::from(u8::from(overlaps))
        })
        .collect()
}

/// The lesion kinds an eye's findings should be seen by: those of every finding it has.
pub fn guided_kinds(truth: &EyeTruth) -> Vec<LesionKind> {
    DEMO_FINDINGS
        .iter()
        .filter(|f| f.present_in(truth))
        .flat_map(|f| f.lesions.iter().copied())
        .collect()
}

/// The lesions of `truth` of the `kinds`, on an image with `view`.
fn lesions_on(truth: &EyeTruth, kinds: &[LesionKind], view: &View) -> Vec<LesionMask> {
    truth
        .lesions
        .iter()
        .filter(|l| kinds.contains(&l.kind))
        .map(|l| LesionMask::on(view, l))
        .collect()
}

/// Per view of an eye (whole fundus, fundus centre, SLO, B-scan — the order of
/// [`super::train::eye_inputs`]): its lesion patches on a `grid × grid` input; all zero
/// where the eye has no guided lesion in view, and always for the B-scan (no outlines there).
pub fn eye_lesion_patches(sample: &EyeSample, grid: usize) -> [Vec<f32>; VIEWS_PER_EYE] {
    let images = &sample.images;
    let kinds = guided_kinds(&sample.truth);
    let fundus = lesions_on(&sample.truth, &kinds, &images.fundus_view);
    let (width, height) = images.fundus.dimensions();
    let (x, y, w, h) = centre_crop_rect(width, height, FUNDUS_CENTRE_FRACTION);
    let whole = (0.0, 0.0, f64::from(width), f64::from(height));
    let centre = (f64::from(x), f64::from(y), f64::from(w), f64::from(h));
    let (slo_w, slo_h) = images.slo.dimensions();
    let slo = lesions_on(&sample.truth, &kinds, &images.slo_view);
    [
        lesion_patches(whole, &fundus, grid),
        lesion_patches(centre, &fundus, grid),
        lesion_patches((0.0, 0.0, f64::from(slo_w), f64::from(slo_h)), &slo, grid),
        vec![0.0; grid * grid],
    ]
}

/// The guidance loss: for every view whose mask has a lesion patch, `−log` of the share of the
/// class token's attention to patches (last block, mean over heads) that falls on lesion
/// patches; averaged over those views. `maps`: `[views, heads, 1 + patches, 1 + patches]`;
/// `masks`: `[views, patches]` of 1.0 / 0.0.
pub(crate) fn attention_guidance_loss(maps: Tensor<4>, masks: Tensor<2>) -> Tensor<1> {
    let [views, _, tokens, _] = maps.dims();
    let patches = tokens - 1;
    let to_patches = maps
        .mean_dim(1)
        .narrow(2, 0, 1)
        .narrow(3, 1, patches)
        .reshape([views, patches]);
    let on_lesions = (to_patches.clone() * masks.clone()).sum_dim(1) / to_patches.sum_dim(1);
    let guided = masks.sum_dim(1).clamp_max(1.0);
    let losses = -(on_lesions + 1e-6).log() * guided.clone();
    losses.sum() / (guided.sum() + 1e-6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lesion_marks_the_patches_it_overlaps() {
        // 4 × 4 grid over a 64-px image: patches of 16 px. A round lesion at (24, 24), radius 4,
        // lies inside patch (1, 1) only; one at (32, 8), radius 2, touches patches (1, 0), (2, 0).
        let round = |cx: f64, cy: f64, r: f64| LesionMask {
            kind: LesionKind::Drusen,
            cx,
            cy,
            rx: r,
            ry: r,
        };
        let mask = lesion_patches(
            (0.0, 0.0, 64.0, 64.0),
            &[round(24.0, 24.0, 4.0), round(32.0, 8.0, 2.0)],
            4,
        );
        let marked: Vec<usize> = (0..16).filter(|&i| mask[i] == 1.0).collect();
        assert_eq!(marked, vec![1, 2, 5]);
        // The same lesions seen through the centre half (16..48): patch side 8 px.
        let mask = lesion_patches((16.0, 16.0, 32.0, 32.0), &[round(24.0, 24.0, 4.0)], 4);
        let marked: Vec<usize> = (0..16).filter(|&i| mask[i] == 1.0).collect();
        assert_eq!(marked, vec![0, 1, 4, 5]);
        assert!(
            lesion_patches((0.0, 0.0, 64.0, 64.0), &[], 4)
                .iter()
                .all(|&v| v == 0.0)
        );
    }

    /// On rendered synthetic eyes: an eye with referable DR or AMD has its lesions marked on
    /// the whole fundus view (the patch of every lesion centre in view), an eye without either
    /// has no mask anywhere, and the B-scan never has one.
    #[test]
    fn rendered_eyes_are_guided_only_where_their_findings_lesions_are() {
        use crate::synth::samples::render_patient;
        use crate::synth::{DemoConfig, oct::OctGeometry};
        let config = DemoConfig {
            patients: 8,
            seed: 5,
            write_png: false,
            fundus_px: 192,
            slo_px: 96,
            oct: OctGeometry::minimal(),
            ..DemoConfig::default()
        };
        let grid = 12;
        let (mut guided, mut unguided) = (0, 0);
        for index in 0..config.patients {
            let patient = render_patient(&config, index);
            for eye in &patient.eyes {
                let masks = eye_lesion_patches(eye, grid);
                assert!(
                    masks[3].iter().all(|&v| v == 0.0),
                    "no outlines on a B-scan"
                );
                let kinds = guided_kinds(&eye.truth);
                if kinds.is_empty() {
                    unguided += 1;
                    assert!(masks.iter().flatten().all(|&v| v == 0.0));
                    continue;
                }
                let view = &eye.images.fundus_view;
                let patch_px = f64::from(view.width) / grid as f64;
                for lesion in eye.truth.lesions.iter().filter(|l| kinds.contains(&l.kind)) {
                    let (x, y) = view.to_px((lesion.x_mm, lesion.y_mm));
                    if (0.0..f64::from(view.width)).contains(&x)
                        && (0.0..f64::from(view.height)).contains(&y)
                    {
                        let patch = (y / patch_px) as usize * grid + (x / patch_px) as usize;
                        assert_eq!(masks[0][patch], 1.0, "{:?} at ({x}, {y})", lesion.kind);
                        guided += 1;
                    }
                }
            }
        }
        assert!(
            guided > 0 && unguided > 0,
            "{guided} lesions, {unguided} eyes"
        );
    }

    #[test]
    fn the_loss_is_small_when_attention_falls_on_lesions_and_ignores_unguided_views() {
        let device = Device::flex();
        // Two views, one head, 1 + 4 tokens. View 0: the class token looks at patch 2 only.
        let mut values = vec![0.0_f32; 2 * 5 * 5];
        values[3] = 1.0;
        // View 1: uniform over the patches.
        for t in 1..5 {
            values[25 + t] = 0.25;
        }
        let maps = Tensor::<4>::from_data(TensorData::new(values, [2, 1, 5, 5]), &device);
        let on_patch_2 = Tensor::<2>::from_data(
            TensorData::new(vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [2, 4]),
            &device,
        );
        let loss = attention_guidance_loss(maps.clone(), on_patch_2).into_scalar::<f32>();
        assert!(loss.abs() < 1e-4, "all attention on the lesion: {loss}");
        let on_patch_0 = Tensor::<2>::from_data(
            TensorData::new(vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0], [2, 4]),
            &device,
        );
        let loss = attention_guidance_loss(maps, on_patch_0).into_scalar::<f32>();
        // View 0 puts nothing there (−log 1e-6 ≈ 13.8), view 1 a quarter (−log 0.25 ≈ 1.39).
        let expected = (13.815_5 + 1.386_3) / 2.0;
        assert!((loss - expected).abs() < 1e-2, "{loss} vs {expected}");
    }
}
