//! The requests the screen needs, sent to the jobs: pixels of the images on screen (at most
//! 16 decoded images kept), heatmaps of the shown frames, the prompt's scores once typing
//! pauses, similar cases when the selection changes.

use std::path::PathBuf;
use std::sync::Arc;

use super::analysis_job::{AnalysisRequest, HeatKey, HeatSource};
use super::app::{FoveaApp, PROMPT_DEBOUNCE};
use super::display::{HeatUpload, ImageUpload};
use super::image_view::rgb_texture;
use super::library_job::{SimilarQuery, SimilarRequest};
use super::localizer::localizer_of;
use super::status::{
    HeatState, LibraryStatus, ModelStatus, Pixels, ScoreRow, ShownFrame, SimilarScope,
};
use crate::analysis::engine::{PatientResult, TextScore};
use crate::study::Eye;
use crate::study::jobs::DecodeRequest;
use crate::study::model::ImageRecord;
use crate::study::pixels::DecodedImage;

/// Decoded images kept in memory.
const PIXELS_KEPT: usize = 16;

impl FoveaApp {
    /// Pixels of `frame` of a decoded image, ready to draw.
    pub(super) fn frame_pixels(
        &self,
        path: &std::path::Path,
        decoded: Arc<DecodedImage>,
        frame: u32,
    ) -> Pixels {
        let Some(rgb) = decoded.frame_to_rgb8(frame) else {
            return Pixels::Failed(format!("frame {} cannot be shown", frame + 1));
        };
        // Grey wider than 8 bits goes to the GPU at full precision for window/level.
        let upload = match decoded.frame_to_unit_grey(frame) {
            Some(grey) => ImageUpload::from_unit_grey(decoded.columns, decoded.rows, &grey),
            None => ImageUpload::from_rgb(&rgb),
        };
        let texture = (!self.gpu).then(|| rgb_texture(&self.ctx, path.display().to_string(), &rgb));
        Pixels::Ready(Box::new(ShownFrame {
            decoded,
            frame,
            rgb: Arc::new(rgb),
            upload,
            texture,
        }))
    }

    /// Asks for the pixels the screen shows, for the selected patient, eye by eye: every image
    /// once (its tab's thumbnail), the image shown large, and an OCT volume's localizer.
    pub(super) fn request_shown_pixels(&mut self) {
        let Some(index) = self.session.selected else {
            return;
        };
        let Some(patient) = self.session.catalog.patients.get(index) else {
            return;
        };
        let mut wanted: Vec<&ImageRecord> = Vec::new();
        for eye in [Eye::Right, Eye::Left] {
            let records: Vec<&ImageRecord> = patient.images().filter(|r| r.eye == eye).collect();
            let Some(last) = records.len().checked_sub(1) else {
                continue;
            };
            let thumbnails = &self.session.tab_thumbnails;
            wanted.extend(
                records
                    .iter()
                    .filter(|r| !thumbnails.contains_key(r.source.path())),
            );
            let chosen = records[self.chosen_image(index, eye).min(last)];
            wanted.push(chosen);
            wanted.extend(localizer_of(chosen, patient.images()));
        }
        // Images without an eye: their thumbnails stand beside their suggested eye.
        let thumbnails = &self.session.tab_thumbnails;
        wanted.extend(
            patient
                .images()
                .filter(|r| r.eye == Eye::Unknown && !thumbnails.contains_key(r.source.path())),
        );
        // Every frame: only what is not decoded or on its way is copied and sent.
        let missing: Vec<ImageRecord> = wanted
            .into_iter()
            .filter(|r| !self.session.pixels.contains_key(r.source.path()))
            .cloned()
            .collect();
        for record in &missing {
            self.request_pixels(record);
        }
    }

    /// Asks the decoder for an image's pixels once.
    fn request_pixels(&mut self, record: &ImageRecord) {
        let path = record.source.path().to_path_buf();
        if self.session.pixels.contains_key(&path) {
            return;
        }
        let Some(decode) = &self.jobs.decode else {
            return;
        };
        let id = self.jobs.next_request;
        let request = DecodeRequest {
            id,
            record: Arc::new(record.clone()),
        };
        if decode.try_request(request).is_ok() {
            self.jobs.next_request += 1;
            self.session.requested.insert(id, path.clone());
            self.session.pixels.insert(path.clone(), Pixels::Loading);
            self.session.pixel_order.retain(|p| p != &path);
            self.session.pixel_order.push_back(path);
            self.forget_old_pixels();
        }
    }

    /// Keeps at most [`PIXELS_KEPT`] decoded images (a clinic's OCT volume can be hundreds of
    /// megabytes): the oldest that are neither on screen nor loading are dropped, and decoded
    /// again if they come back.
    fn forget_old_pixels(&mut self) {
        let shown: Vec<PathBuf> = [Eye::Right, Eye::Left]
            .into_iter()
            .filter_map(|eye| {
                self.shown_record(eye)
                    .map(|r| r.source.path().to_path_buf())
            })
            .collect();
        let mut kept = std::collections::VecDeque::new();
        while let Some(path) = self.session.pixel_order.pop_front() {
            let excess = self.session.pixels.len() > PIXELS_KEPT;
            // Loading ones are awaited; failed ones are small and would only fail again.
            let pinned = matches!(
                self.session.pixels.get(&path),
                Some(Pixels::Loading | Pixels::Failed(_))
            );
            if excess && !pinned && !shown.contains(&path) {
                self.session.pixels.remove(&path);
            } else {
                kept.push_back(path);
            }
        }
        self.session.pixel_order = kept;
    }

    /// Sends heatmap requests for what is on screen when the overlay is on.
    pub(super) fn request_heatmaps(&mut self) {
        if !self.view.settings.overlay_on || !matches!(self.jobs.model, ModelStatus::Ready(_)) {
            return;
        }
        let mut wanted: Vec<(HeatKey, Arc<image::RgbImage>)> = Vec::new();
        for eye in [Eye::Right, Eye::Left] {
            if let (Some(key), Some(shown)) = (self.eye_heat_key(eye), self.shown_pixels(eye)) {
                wanted.push((key, shown.rgb.clone()));
            }
        }
        if let Some(case) = &self.session.compare
            && let Some(thumbnail) = &case.thumbnail
        {
            wanted.push((
                self.heat_key(HeatSource::Case(case.image_id)),
                thumbnail.clone(),
            ));
        }
        if self.session.heatmaps.len() > 64 {
            self.session
                .heatmaps
                .retain(|_, h| matches!(h, HeatState::Pending));
        }
        let Some(analysis) = &self.jobs.analysis else {
            return;
        };
        for (key, image) in wanted {
            if self.session.heatmaps.contains_key(&key) {
                continue;
            }
            let request = AnalysisRequest::Heatmap {
                key: key.clone(),
                image,
            };
            if analysis.try_send(request).is_ok() {
                self.session.heatmaps.insert(key, HeatState::Pending);
            }
        }
    }

    /// The heatmap to overlay on a picture, when ready.
    pub(super) fn heat_upload(&self, key: Option<&HeatKey>) -> Option<&Arc<HeatUpload>> {
        if !self.view.settings.overlay_on {
            return None;
        }
        match self.session.heatmaps.get(key?)? {
            HeatState::Ready(upload, _) => Some(upload),
            _ => None,
        }
    }

    /// Scores the prompt once typing has paused for [`PROMPT_DEBOUNCE`].
    pub(super) fn send_prompt_when_typing_paused(&mut self) {
        let Some(edited) = self.view.prompt.edited_at else {
            return;
        };
        if edited.elapsed() < PROMPT_DEBOUNCE {
            self.ctx.request_repaint_after(PROMPT_DEBOUNCE);
            return;
        }
        let text = self.view.prompt.text.trim().to_string();
        if text.is_empty() {
            self.view.prompt.edited_at = None;
            self.session.prompt_answer = None;
            return;
        }
        let Some(result) = self.selected_result() else {
            return; // Scored once the patient's analysis is done.
        };
        let result = Box::new(result.clone());
        let Some(analysis) = &self.jobs.analysis else {
            return;
        };
        self.view.prompt.serial += 1;
        let request = AnalysisRequest::Prompt {
            serial: self.view.prompt.serial,
            text,
            result,
        };
        if analysis.try_send(request).is_ok() {
            self.view.prompt.pending = Some(self.view.prompt.serial);
            self.view.prompt.edited_at = None;
        }
    }

    /// Queries the library when the selection (patient, eye, scope, image) changed.
    pub(super) fn ask_similar(&mut self) {
        let (Some(library), LibraryStatus::Ready(_)) =
            (&self.jobs.library, &self.jobs.library_status)
        else {
            return;
        };
        let Some(result) = self.selected_result() else {
            return;
        };
        let eye = self.view.active_eye;
        let scope = self.view.similar_scope;
        let image_path = self
            .shown_record(eye)
            .map(|r| r.source.path().to_path_buf());
        let wanted = (
            result.patient_id.clone(),
            eye,
            scope,
            match scope {
                SimilarScope::Eye => None,
                SimilarScope::Image => image_path.clone(),
            },
        );
        if self.session.similar_asked_for.as_ref() == Some(&wanted) {
            return;
        }
        let query = match scope {
            SimilarScope::Eye => result
                .eye(eye)
                .and_then(|e| e.fused.clone())
                .map(|fused| SimilarQuery::Eye { fused }),
            SimilarScope::Image => result
                .images
                .iter()
                .find(|i| Some(&i.path) == image_path.as_ref())
                .and_then(|i| {
                    i.vector.clone().map(|vector| SimilarQuery::Image {
                        modality: i.modality,
                        vector,
                    })
                }),
        };
        let Some(query) = query else {
            self.session.similar_asked_for = Some(wanted);
            self.session.similar_answer = Some(Err(match scope {
                SimilarScope::Eye => format!(
                    "the {} eye has no gradable image to search with",
                    eye.label()
                ),
                SimilarScope::Image => {
                    "the shown image was not analyzed (ungradable or not yet)".into()
                }
            }));
            return;
        };
        let serial = self.jobs.similar_serial + 1;
        if library
            .try_send(SimilarRequest {
                serial,
                query,
                k: 10,
            })
            .is_ok()
        {
            self.jobs.similar_serial = serial;
            self.session.similar_asked_for = Some(wanted);
            self.session.similar_answer = None;
        }
    }
}

/// The rows of the prompt box: each eye's score ("OD eye"), then each image's.
pub(super) fn prompt_rows(result: &PatientResult, text: &str) -> Vec<ScoreRow> {
    let score = |scores: &[TextScore]| scores.iter().find(|s| s.text == text).map(|s| s.score);
    let eyes = result
        .eyes
        .iter()
        .filter_map(|eye| score(&eye.zero_shot).map(|s| (format!("{} eye", eye.eye.label()), s)));
    let images = result.images.iter().filter_map(|image| {
        let name = image
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        score(&image.zero_shot).map(|s| {
            (
                format!("{} {} · {name}", image.eye.label(), image.modality.label()),
                s,
            )
        })
    });
    eyes.chain(images).collect()
}
