//! Background jobs of the study layer, for a UI that must never wait: a folder scan and a
//! lazy pixel decoder, each on a named thread, talking over bounded channels.
//!
//! Progress events are sent with `try_send` (a slow reader loses progress ticks, never
//! blocks the worker); results are always delivered.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use super::error::error_chain;
use super::model::{Catalog, ImageRecord};
use super::pixels::{DecodedImage, decode_image};
use super::scan::{ScanProgress, scan_paths_with};

/// Events of a [`ScanJob`].
#[derive(Debug)]
pub enum ScanEvent {
    /// Files examined so far.
    Progress(ScanProgress),
    /// The scan ended (completely, or early after cancellation).
    Finished(Box<Catalog>),
}

/// A metadata scan running on the `fovea-scan` thread.
pub struct ScanJob {
    events: Receiver<ScanEvent>,
    cancel: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl ScanJob {
    /// Starts scanning `paths` in the background.
    pub fn spawn(paths: Vec<PathBuf>) -> std::io::Result<ScanJob> {
        let (sender, events) = sync_channel(64);
        let cancel = Arc::new(AtomicBool::new(false));
        let cancel_flag = Arc::clone(&cancel);
        let handle = std::thread::Builder::new()
            .name("fovea-scan".into())
            .spawn(move || {
                let progress_sender = sender.clone();
                let catalog = scan_paths_with(
                    &paths,
                    &move |p| {
                        let _ = progress_sender.try_send(ScanEvent::Progress(p));
                    },
                    &cancel_flag,
                );
                // The receiver may be gone (job dropped); nothing is left to tell then.
                let _ = sender.send(ScanEvent::Finished(Box::new(catalog)));
            })?;
        Ok(ScanJob {
            events,
            cancel,
            handle: Some(handle),
        })
    }

    /// Asks the scan to stop after the files in flight.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// The next event, if one is waiting.
    pub fn try_next(&self) -> Option<ScanEvent> {
        self.events.try_recv().ok()
    }

    /// Waits for the next event; `None` once the job has ended and every event was read.
    pub fn next_blocking(&self) -> Option<ScanEvent> {
        self.events.recv().ok()
    }
}

impl Drop for ScanJob {
    fn drop(&mut self) {
        self.cancel();
        // Drain so the worker is never stuck on a full channel, then wait for it.
        while self.events.try_recv().is_ok() {}
        if let Some(handle) = self.handle.take() {
            drop(std::mem::replace(&mut self.events, sync_channel(1).1));
            let _ = handle.join();
        }
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
    requests: Option<SyncSender<DecodeRequest>>,
    events: Receiver<DecodeEvent>,
    queued: Arc<std::sync::atomic::AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

impl DecodeWorker {
    /// Starts the worker; at most `capacity` requests wait at once.
    pub fn spawn(capacity: usize) -> std::io::Result<DecodeWorker> {
        let (request_sender, requests) = sync_channel::<DecodeRequest>(capacity.max(1));
        let (event_sender, events) = sync_channel(capacity.max(1) * 3 + 3);
        let queued = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let queued_in_worker = Arc::clone(&queued);
        let handle = std::thread::Builder::new()
            .name("fovea-decode".into())
            .spawn(move || {
                for (index, request) in requests.into_iter().enumerate() {
                    let done = index as u64 + 1;
                    queued_in_worker.fetch_sub(1, Ordering::Relaxed);
                    let _ = event_sender.try_send(DecodeEvent::Started { id: request.id });
                    let result = decode_image(&request.record)
                        .map(Arc::new)
                        .map_err(|e| error_chain(&e));
                    if event_sender
                        .send(DecodeEvent::Finished {
                            id: request.id,
                            result,
                        })
                        .is_err()
                    {
                        break;
                    }
                    let _ = event_sender.try_send(DecodeEvent::Progress {
                        done,
                        queued: queued_in_worker.load(Ordering::Relaxed),
                    });
                }
            })?;
        Ok(DecodeWorker {
            requests: Some(request_sender),
            events,
            queued,
            handle: Some(handle),
        })
    }

    /// Queues a request without waiting; gives it back when the queue is full.
    pub fn try_request(&self, request: DecodeRequest) -> Result<(), DecodeRequest> {
        let Some(sender) = &self.requests else {
            return Err(request);
        };
        self.queued.fetch_add(1, Ordering::Relaxed);
        match sender.try_send(request) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(r) | TrySendError::Disconnected(r)) => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                Err(r)
            }
        }
    }

    /// The next event, if one is waiting.
    pub fn try_next(&self) -> Option<DecodeEvent> {
        self.events.try_recv().ok()
    }

    /// Waits for the next event; `None` when the worker has stopped.
    pub fn next_blocking(&self) -> Option<DecodeEvent> {
        self.events.recv().ok()
    }
}

impl Drop for DecodeWorker {
    fn drop(&mut self) {
        self.requests = None; // closes the queue: the worker ends after the request in hand
        while self.events.try_recv().is_ok() {}
        if let Some(handle) = self.handle.take() {
            drop(std::mem::replace(&mut self.events, sync_channel(1).1));
            let _ = handle.join();
        }
    }
}
