//! Background jobs of the study layer, for a UI that must never wait: a folder scan and a
//! lazy pixel decoder, each a [`Worker`] (named thread, bounded channels).
//!
//! Progress events are dropped when the event queue is full (a slow reader loses progress
//! ticks, never blocks the worker); results are always delivered.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::error_chain;
use super::model::{Catalog, ImageRecord};
use super::pixels::{DecodedImage, decode_image};
use super::scan::{ScanOptions, ScanProgress, scan_paths_with};
use crate::worker::{Link, Worker, WorkerSpec};

/// Events of a [`ScanJob`].
#[derive(Debug)]
pub enum ScanEvent {
    /// Files examined so far.
    Progress(ScanProgress),
    /// The scan ended (completely, or early after cancellation).
    Finished(Box<Catalog>),
}

/// A metadata scan running on the `fovea-scan` thread; it takes no requests. `cancel` stops
/// it after the files in flight, keeping what was found.
pub type ScanJob = Worker<(), ScanEvent>;

impl ScanJob {
    /// Starts scanning `paths` in the background.
    pub fn start(paths: Vec<PathBuf>, options: ScanOptions) -> std::io::Result<ScanJob> {
        Worker::spawn(WorkerSpec::new("fovea-scan", 1, 64), move |link| {
            let progress = link.event_sender();
            let catalog = scan_paths_with(
                &paths,
                &options,
                &move |p| {
                    // A full queue loses a progress tick, never the result.
                    let _ = progress.try_send(ScanEvent::Progress(p));
                },
                link.cancel_flag(),
            );
            link.send(ScanEvent::Finished(Box::new(catalog)));
        })
    }
}

/// A request to decode one image's pixels.
#[derive(Debug, Clone)]
pub struct DecodeRequest {
    /// Caller's id, echoed in the events.
    pub id: u64,
    /// The image to decode (shared, so queuing a request copies no metadata).
    pub record: Arc<ImageRecord>,
}

/// Events of a [`DecodeWorker`].
#[derive(Debug)]
pub enum DecodeEvent {
    /// Decoding of a request began.
    Started {
        /// The request's id.
        id: u64,
    },
    /// A request finished: the pixels, or the reason they cannot be shown.
    Finished {
        /// The request's id.
        id: u64,
        /// Decoded pixels, or a message for the user.
        result: Result<Arc<DecodedImage>, String>,
    },
    /// Requests done and still queued, after each finished request.
    Progress {
        /// Requests finished since the worker started.
        done: u64,
        /// Requests waiting.
        queued: u64,
    },
}

/// Decodes pixels lazily on the `fovea-decode` thread, one request at a time, in order.
pub struct DecodeWorker {
    worker: Worker<DecodeRequest, DecodeEvent>,
    queued: Arc<AtomicU64>,
}

impl DecodeWorker {
    /// Starts the worker; at most `capacity` requests wait at once.
    pub fn spawn(capacity: usize) -> std::io::Result<DecodeWorker> {
        let queued = Arc::new(AtomicU64::new(0));
        let queued_in_worker = Arc::clone(&queued);
        let spec = WorkerSpec::new("fovea-decode", capacity, capacity.max(1) * 3 + 3);
        let worker = Worker::spawn(spec, move |link: Link<DecodeRequest, DecodeEvent>| {
            let mut done = 0;
            while let Some(request) = link.recv() {
                done += 1;
                queued_in_worker.fetch_sub(1, Ordering::Relaxed);
                link.send_progress(DecodeEvent::Started { id: request.id });
                let result = decode_image(&request.record)
                    .map(Arc::new)
                    .map_err(|e| error_chain(&e));
                if !link.send(DecodeEvent::Finished {
                    id: request.id,
                    result,
                }) {
                    break;
                }
                link.send_progress(DecodeEvent::Progress {
                    done,
                    queued: queued_in_worker.load(Ordering::Relaxed),
                });
            }
        })?;
        Ok(DecodeWorker { worker, queued })
    }

    /// Queues a request without waiting; gives it back when the queue is full.
    pub fn try_request(&self, request: DecodeRequest) -> Result<(), DecodeRequest> {
        self.queued.fetch_add(1, Ordering::Relaxed);
        self.worker.try_send(request).inspect_err(|_| {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        })
    }

    /// The next event, if one is waiting.
    pub fn try_next(&self) -> Option<DecodeEvent> {
        self.worker.try_next()
    }

    /// Waits for the next event; `None` when the worker has stopped.
    pub fn next_blocking(&self) -> Option<DecodeEvent> {
        self.worker.next_blocking()
    }
}
