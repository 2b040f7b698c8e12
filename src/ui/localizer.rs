//! An OCT volume's B-scans on its localizer (SLO or fundus): which localizer image, and which
//! B-scan line is nearest to a clicked point.

use crate::study::model::{BscanLocation, ImagePoint, ImageRecord};

/// The localizer image of `oct` among `candidates` (matched by SOP Instance UID).
pub fn localizer_of<'a>(
    oct: &ImageRecord,
    candidates: impl IntoIterator<Item = &'a ImageRecord>,
) -> Option<&'a ImageRecord> {
    let uid = &oct.localizer.as_ref()?.sop_instance_uid;
    candidates
        .into_iter()
        .find(|r| r.source.instance_uid() == Some(uid.as_str()))
}

/// Distance from `p` to the segment `a`–`b`.
fn distance_to_segment(p: &ImagePoint, a: &ImagePoint, b: &ImagePoint) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let length2 = dx * dx + dy * dy;
    let t = if length2 > 0.0 {
        (((p.x - a.x) * dx + (p.y - a.y) * dy) / length2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (cx, cy) = (a.x + t * dx, a.y + t * dy);
    ((p.x - cx).powi(2) + (p.y - cy).powi(2)).sqrt()
}

/// The frame whose scan line passes nearest to `point` (localizer pixel coordinates).
pub fn nearest_bscan(locations: &[BscanLocation], point: &ImagePoint) -> Option<usize> {
    locations
        .iter()
        .filter_map(|l| {
            let d = l
                .points
                .windows(2)
                .map(|w| distance_to_segment(point, &w[0], &w[1]))
                .fold(f64::INFINITY, f64::min);
            d.is_finite().then_some((l.frame_index, d))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(frame, _)| frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(frame: usize, y: f64) -> BscanLocation {
        BscanLocation {
            frame_index: frame,
            points: vec![ImagePoint { x: 10.0, y }, ImagePoint { x: 90.0, y }],
        }
    }

    #[test]
    fn a_click_picks_the_nearest_horizontal_scan_line() {
        let lines: Vec<BscanLocation> = (0..5).map(|i| line(i, 20.0 + 10.0 * i as f64)).collect();
        assert_eq!(
            nearest_bscan(&lines, &ImagePoint { x: 50.0, y: 41.0 }),
            Some(2)
        );
        assert_eq!(
            nearest_bscan(&lines, &ImagePoint { x: 50.0, y: 0.0 }),
            Some(0)
        );
        // Beyond a line's end, the distance is to its end point.
        assert_eq!(
            nearest_bscan(&lines, &ImagePoint { x: 500.0, y: 64.0 }),
            Some(4)
        );
        assert_eq!(nearest_bscan(&[], &ImagePoint { x: 0.0, y: 0.0 }), None);
    }
}
