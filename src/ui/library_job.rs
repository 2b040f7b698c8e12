//! The case library on its own thread (`fovea-library`, a [`Worker`] where the newest query
//! wins): opens it read-only (shared with other readers, never written by the viewer), refuses
//! a library built with another model, then answers "similar eyes / images" queries with hits,
//! decoded thumbnails (or why a thumbnail cannot be shown) and aggregates.

use std::path::PathBuf;
use std::sync::Arc;

use crate::library::search::{Filter, Searcher, aggregate};
use crate::library::store::Library;
use crate::study::{Eye, Modality};
use crate::worker::{Worker, WorkerSpec};

/// What to find cases similar to.
#[derive(Debug, Clone)]
pub enum SimilarQuery {
    /// An eye: its fused embedding.
    Eye {
        /// The fused vector.
        fused: Vec<f32>,
    },
    /// One image: its image-level vector; hits of the same modality.
    Image {
        /// Its modality.
        modality: Modality,
        /// The vector.
        vector: Vec<f32>,
    },
}

/// A request: the query and how many hits.
pub struct SimilarRequest {
    /// Increases with every query sent; the UI keeps the newest answer.
    pub serial: u64,
    /// The query.
    pub query: SimilarQuery,
    /// How many hits.
    pub k: usize,
}

/// One similar case as the viewer shows it.
#[derive(Clone)]
pub struct SimilarCase {
    /// The library's image id of the thumbnail (an eye's first image).
    pub image_id: u64,
    /// De-identified case id.
    pub case_id: String,
    /// OD or OS.
    pub eye: Eye,
    /// Modalities (one for an image hit).
    pub modalities: Vec<Modality>,
    /// Known finding ids.
    pub findings: Vec<String>,
    /// Cosine similarity.
    pub similarity: f32,
    /// The thumbnail, when it could be read.
    pub thumbnail: Option<Arc<image::RgbImage>>,
    /// Why the library's thumbnail could not be shown (a damaged record or JPEG).
    pub thumbnail_problem: Option<String>,
}

/// The answer to a [`SimilarRequest`].
pub struct SimilarAnswer {
    /// The request's serial.
    pub serial: u64,
    /// "eyes" or "images".
    pub unit: &'static str,
    /// Hits, most similar first.
    pub cases: Vec<SimilarCase>,
    /// `(finding id, with, of)` over the hits.
    pub aggregates: Vec<(String, usize, usize)>,
}

/// The library as the UI describes it.
pub struct LibraryInfo {
    /// Its folder.
    pub dir: PathBuf,
    /// Images and eyes.
    pub counts: (usize, usize),
    /// Built from synthetic cases with the demo model.
    pub synthetic: bool,
}

/// What the library thread reports.
pub enum LibraryEvent {
    /// Opened and indexed.
    Ready(LibraryInfo),
    /// Cannot be used (missing, busy, built with another model…); the viewer works without it.
    Unavailable(String),
    /// Hits, or why not.
    Answer(Result<SimilarAnswer, String>),
}

/// Handle of the library thread.
pub type LibraryJob = Worker<SimilarRequest, LibraryEvent>;

fn answer(searcher: &Searcher, request: &SimilarRequest) -> Result<SimilarAnswer, String> {
    let finding_ids = searcher.meta().finding_ids.clone();
    let (unit, found): (&'static str, Vec<SimilarCase>) = match &request.query {
        SimilarQuery::Eye { fused, .. } => {
            let hits = searcher
                .similar_eyes(fused, request.k, &Filter::default())
                .map_err(|e| e.to_string())?;
            let cases = hits
                .into_iter()
                .map(|h| SimilarCase {
                    image_id: h.record.image_ids.first().copied().unwrap_or(0),
                    case_id: h.record.case_id,
                    eye: h.record.eye,
                    modalities: h.record.modalities,
                    findings: h.record.findings,
                    similarity: h.similarity,
                    thumbnail: None,
                    thumbnail_problem: None,
                })
                .collect();
            ("eyes", cases)
        }
        SimilarQuery::Image { modality, vector } => {
            let filter = Filter {
                modality: Some(*modality),
                ..Filter::default()
            };
            let hits = searcher
                .similar_images(vector, request.k, &filter)
                .map_err(|e| e.to_string())?;
            let cases = hits
                .into_iter()
                .map(|h| SimilarCase {
                    image_id: h.id,
                    case_id: h.record.case_id,
                    eye: h.record.eye,
                    modalities: vec![h.record.modality],
                    findings: h.record.findings,
                    similarity: h.similarity,
                    thumbnail: None,
                    thumbnail_problem: None,
                })
                .collect();
            ("images", cases)
        }
    };
    let cases: Vec<SimilarCase> = found
        .into_iter()
        .map(|mut case| {
            match thumbnail(searcher, case.image_id) {
                Ok(rgb) => case.thumbnail = rgb,
                Err(problem) => case.thumbnail_problem = Some(problem),
            }
            case
        })
        .collect();
    let findings: Vec<&[String]> = cases.iter().map(|c| c.findings.as_slice()).collect();
    let aggregates = aggregate(&finding_ids, &findings)
        .into_iter()
        .map(|a| (a.finding_id, a.with, a.of))
        .collect();
    Ok(SimilarAnswer {
        serial: request.serial,
        unit,
        cases,
        aggregates,
    })
}

/// A reference image's thumbnail: none when the library keeps none, an error when it cannot
/// be read or decoded.
fn thumbnail(searcher: &Searcher, image_id: u64) -> Result<Option<Arc<image::RgbImage>>, String> {
    let Some(jpeg) = searcher
        .thumbnail(image_id)
        .map_err(|e| format!("thumbnail of reference image {image_id}: {e}"))?
    else {
        return Ok(None);
    };
    let decoded = image::load_from_memory(&jpeg)
        .map_err(|e| format!("thumbnail of reference image {image_id} cannot be decoded: {e}"))?;
    Ok(Some(Arc::new(decoded.to_rgb8())))
}

impl LibraryJob {
    /// Opens the library at `dir` for the model whose weights have `pack_sha256`.
    pub fn start(
        dir: PathBuf,
        pack_name: String,
        pack_sha256: String,
        repaint: impl Fn() + Send + 'static,
    ) -> std::io::Result<LibraryJob> {
        let spec = WorkerSpec::new("fovea-library", 8, 8)
            .newest_request_wins()
            .waking(repaint);
        Worker::spawn(spec, move |link| {
            let opened = Library::open_read_only(&dir).and_then(|library| {
                library.check_pack(&pack_name, &pack_sha256)?;
                Searcher::open(&library)
            });
            let searcher = match opened {
                Ok(searcher) => searcher,
                Err(e) => {
                    link.send(LibraryEvent::Unavailable(format!(
                        "case library {}: {e}",
                        dir.display()
                    )));
                    return;
                }
            };
            let info = LibraryInfo {
                dir: dir.clone(),
                counts: searcher.counts(),
                synthetic: searcher.meta().synthetic_pack,
            };
            if !link.send(LibraryEvent::Ready(info)) {
                return;
            }
            while let Some(request) = link.recv() {
                if !link.send(LibraryEvent::Answer(answer(&searcher, &request))) {
                    return;
                }
            }
        })
    }
}
