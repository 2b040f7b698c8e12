//! The case library on its own thread (`fovea-library`): opens it read-only (shared with other
//! readers, never written by the viewer), refuses a library built with another model, then
//! answers "similar eyes / images" queries with hits, decoded thumbnails and aggregates.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::library::search::{Filter, Searcher, aggregate};
use crate::library::store::Library;
use crate::study::{Eye, Modality};

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
pub struct LibraryJob {
    requests: SyncSender<SimilarRequest>,
    events: Receiver<LibraryEvent>,
}

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
                })
                .collect();
            ("images", cases)
        }
    };
    let cases: Vec<SimilarCase> = found
        .into_iter()
        .map(|mut case| {
            case.thumbnail = searcher
                .thumbnail(case.image_id)
                .ok()
                .flatten()
                .and_then(|jpeg| image::load_from_memory(&jpeg).ok())
                .map(|decoded| Arc::new(decoded.to_rgb8()));
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

impl LibraryJob {
    /// Opens the library at `dir` for the model whose weights have `pack_sha256`.
    pub fn spawn(
        dir: PathBuf,
        pack_name: String,
        pack_sha256: String,
        repaint: impl Fn() + Send + 'static,
    ) -> std::io::Result<LibraryJob> {
        let (requests, inbox) = sync_channel::<SimilarRequest>(8);
        let (outbox, events) = sync_channel::<LibraryEvent>(8);
        std::thread::Builder::new()
            .name("fovea-library".into())
            .spawn(move || {
                let send = |event| {
                    let sent = outbox.send(event).is_ok();
                    repaint();
                    sent
                };
                let opened = Library::open_read_only(&dir).and_then(|library| {
                    library.check_pack(&pack_name, &pack_sha256)?;
                    Searcher::open(&library)
                });
                let searcher = match opened {
                    Ok(searcher) => searcher,
                    Err(e) => {
                        send(LibraryEvent::Unavailable(format!(
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
                if !send(LibraryEvent::Ready(info)) {
                    return;
                }
                while let Ok(mut request) = inbox.recv() {
                    // Only the newest query matters when several are waiting.
                    while let Ok(newer) = inbox.try_recv() {
                        request = newer;
                    }
                    if !send(LibraryEvent::Answer(answer(&searcher, &request))) {
                        return;
                    }
                }
            })?;
        Ok(LibraryJob { requests, events })
    }

    /// Sends a query; false when the queue is full (try again next frame).
    pub fn try_query(&self, request: SimilarRequest) -> bool {
        self.requests.try_send(request).is_ok()
    }

    /// The next event, if one is waiting.
    pub fn try_next(&self) -> Option<LibraryEvent> {
        self.events.try_recv().ok()
    }
}
