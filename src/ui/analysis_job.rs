//! The model on its own thread (`fovea-analyse`): opens the pack once, then works through
//! what it is sent over a bounded channel — heatmaps and free-text prompts first (someone is
//! waiting for them), then queued patients in order. Queued patients of an earlier opening are
//! dropped (cancelled), the patient being analysed finishes. The UI polls for events.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use crate::analysis::engine::{Analyzer, PatientResult, add_zero_shot};
use crate::analysis::findings::ModelStamp;
use crate::analysis::heatmap::{Heatmap, HeatmapMethod, heatmap};
use crate::analysis::zero_shot::ZeroShot;
use crate::encoder::device::OpenedDevice;
use crate::encoder::session::EncoderSession;
use crate::study::model::Patient;

/// Which picture a heatmap is of: a frame of a study image, or a library case's thumbnail.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HeatSource {
    /// A frame of an opened image.
    Image {
        /// The file.
        path: PathBuf,
        /// The frame.
        frame: u32,
    },
    /// A reference image of the case library.
    Case(u64),
}

/// A heatmap's identity: picture, method, finding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeatKey {
    /// The picture.
    pub source: HeatSource,
    /// Rollout or Grad-CAM.
    pub method: HeatmapMethod,
    /// The finding (Grad-CAM).
    pub finding: Option<String>,
}

/// What the analysis thread is asked to do.
pub enum AnalysisRequest {
    /// Analyse a patient (of opening `generation`).
    Patient {
        /// The opening it belongs to; older ones are dropped when cancelled.
        generation: u64,
        /// The patient.
        patient: Box<Patient>,
    },
    /// A heatmap of a picture.
    Heatmap {
        /// Its identity.
        key: HeatKey,
        /// The pixels.
        image: Arc<image::RgbImage>,
    },
    /// Scores of a free text on a patient's gradable images and eyes, by the engine's
    /// zero-shot rule (only the latest prompt waiting is run).
    Prompt {
        /// Increases with every prompt sent.
        serial: u64,
        /// The text.
        text: String,
        /// The patient's result (its vectors are scored).
        result: Box<PatientResult>,
    },
}

/// The pack, as the UI needs to describe it.
pub struct ModelInfo {
    /// The model.
    pub stamp: ModelStamp,
    /// Where it runs.
    pub device: String,
    /// The pack's intended-use text.
    pub intended_use: String,
    /// `(id, name)` of the pack's findings.
    pub findings: Vec<(String, String)>,
    /// Why free text is off for this pack, if it is.
    pub zero_shot_disabled: Option<String>,
}

/// What became of a patient sent for analysis.
pub enum PatientOutcome {
    /// Its analysis began.
    Started,
    /// Its result, and how long it took.
    Done(Box<PatientResult>, Duration),
    /// It could not be analysed: why.
    Failed(String),
    /// It was dropped from the queue.
    Cancelled,
}

/// What the analysis thread reports.
pub enum AnalysisEvent {
    /// The pack is loaded.
    Ready(Box<ModelInfo>),
    /// The pack could not be opened; nothing will be analysed.
    PackFailed(String),
    /// News of a patient of opening `generation`.
    Patient {
        /// The opening the request belonged to (the UI ignores older ones).
        generation: u64,
        /// Patient id.
        patient_id: String,
        /// What happened.
        outcome: PatientOutcome,
    },
    /// A heatmap, or why not.
    Heatmap(HeatKey, Result<Arc<Heatmap>, String>),
    /// A prompt's scores — the result with the text's score added to its images' and eyes'
    /// `zero_shot` — or why not.
    Prompt {
        /// The request's serial.
        serial: u64,
        /// The text.
        text: String,
        /// The scored result or the reason.
        scored: Result<Box<PatientResult>, String>,
    },
}

/// Handle of the analysis thread.
pub struct AnalysisJob {
    requests: SyncSender<AnalysisRequest>,
    events: Receiver<AnalysisEvent>,
    cancel_below: Arc<AtomicU64>,
}

/// Where the pack should run.
pub enum ModelDevice {
    /// burn's CPU backend.
    Cpu,
    /// A device opened beforehand (the viewer's own GPU).
    Opened(OpenedDevice),
}

/// The thread's state once the pack is open.
struct Worker {
    analyzer: Analyzer,
    zero_shot: Result<ZeroShot, String>,
    cancel_below: Arc<AtomicU64>,
}

impl Worker {
    /// Does one request, reporting through `send`; false when the UI has gone.
    fn handle(&mut self, request: AnalysisRequest, send: &dyn Fn(AnalysisEvent) -> bool) -> bool {
        let event = match request {
            AnalysisRequest::Patient {
                generation,
                patient,
            } => {
                let patient_id = patient.info.id.clone();
                let news = |outcome| AnalysisEvent::Patient {
                    generation,
                    patient_id: patient_id.clone(),
                    outcome,
                };
                if generation < self.cancel_below.load(Ordering::Relaxed) {
                    return send(news(PatientOutcome::Cancelled));
                }
                if !send(news(PatientOutcome::Started)) {
                    return false;
                }
                let started = Instant::now();
                news(match self.analyzer.analyze_patient(&patient) {
                    Ok(result) => PatientOutcome::Done(Box::new(result), started.elapsed()),
                    Err(e) => PatientOutcome::Failed(e.to_string()),
                })
            }
            AnalysisRequest::Heatmap { key, image } => {
                let made = heatmap(&self.analyzer, &image, key.method, key.finding.as_deref())
                    .map(Arc::new)
                    .map_err(|e| e.to_string());
                AnalysisEvent::Heatmap(key, made)
            }
            AnalysisRequest::Prompt {
                serial,
                text,
                mut result,
            } => {
                let scored = match &mut self.zero_shot {
                    Ok(zero_shot) => add_zero_shot(
                        &mut result,
                        self.analyzer.session(),
                        zero_shot,
                        std::slice::from_ref(&text),
                    )
                    .map(|()| result)
                    .map_err(|e| e.to_string()),
                    Err(reason) => Err(reason.clone()),
                };
                AnalysisEvent::Prompt {
                    serial,
                    text,
                    scored,
                }
            }
        };
        send(event)
    }
}

impl AnalysisJob {
    /// Starts the thread; `repaint` is called after each event so the UI wakes up.
    pub fn spawn(
        pack: PathBuf,
        device: ModelDevice,
        repaint: impl Fn() + Send + 'static,
    ) -> std::io::Result<AnalysisJob> {
        let (requests, inbox) = sync_channel::<AnalysisRequest>(64);
        let (outbox, events) = sync_channel::<AnalysisEvent>(64);
        let cancel_below = Arc::new(AtomicU64::new(0));
        let cancel = cancel_below.clone();
        std::thread::Builder::new()
            .name("fovea-analyse".into())
            .spawn(move || {
                let send = |event| {
                    let sent = outbox.send(event).is_ok();
                    repaint();
                    sent
                };
                let session = match device {
                    ModelDevice::Cpu => {
                        EncoderSession::open(&pack, crate::encoder::device::DeviceChoice::Cpu)
                    }
                    ModelDevice::Opened(opened) => EncoderSession::on(&pack, opened),
                };
                let analyzer = match session
                    .map_err(|e| e.to_string())
                    .and_then(|s| Analyzer::new(s).map_err(|e| e.to_string()))
                {
                    Ok(analyzer) => analyzer,
                    Err(reason) => {
                        send(AnalysisEvent::PackFailed(format!(
                            "model pack {}: {reason}",
                            pack.display()
                        )));
                        return;
                    }
                };
                let zero_shot = ZeroShot::new(analyzer.session()).map_err(|e| e.to_string());
                let manifest = analyzer.session().manifest();
                let info = ModelInfo {
                    stamp: analyzer.stamp().clone(),
                    device: analyzer.session().device_description(),
                    intended_use: manifest.intended_use.clone(),
                    findings: manifest
                        .findings
                        .iter()
                        .map(|f| (f.id.clone(), f.name.clone()))
                        .collect(),
                    zero_shot_disabled: zero_shot.as_ref().err().cloned(),
                };
                if !send(AnalysisEvent::Ready(Box::new(info))) {
                    return;
                }
                let mut worker = Worker {
                    analyzer,
                    zero_shot,
                    cancel_below: cancel,
                };
                let mut interactive: VecDeque<AnalysisRequest> = VecDeque::new();
                let mut patients: VecDeque<AnalysisRequest> = VecDeque::new();
                let queue = |request: AnalysisRequest,
                             interactive: &mut VecDeque<AnalysisRequest>,
                             patients: &mut VecDeque<AnalysisRequest>| {
                    match request {
                        AnalysisRequest::Patient { .. } => patients.push_back(request),
                        AnalysisRequest::Prompt { .. } => {
                            // Only the latest text matters while the user types.
                            interactive.retain(|r| !matches!(r, AnalysisRequest::Prompt { .. }));
                            interactive.push_back(request);
                        }
                        AnalysisRequest::Heatmap { .. } => interactive.push_back(request),
                    }
                };
                loop {
                    if interactive.is_empty() && patients.is_empty() {
                        match inbox.recv() {
                            Ok(request) => queue(request, &mut interactive, &mut patients),
                            Err(_) => return,
                        }
                    }
                    while let Ok(request) = inbox.try_recv() {
                        queue(request, &mut interactive, &mut patients);
                    }
                    let Some(request) = interactive.pop_front().or_else(|| patients.pop_front())
                    else {
                        continue;
                    };
                    if !worker.handle(request, &send) {
                        return;
                    }
                }
            })?;
        Ok(AnalysisJob {
            requests,
            events,
            cancel_below,
        })
    }

    /// Sends a request; gives it back when the queue is full.
    pub fn try_send(&self, request: AnalysisRequest) -> Result<(), AnalysisRequest> {
        self.requests.try_send(request).map_err(|e| match e {
            TrySendError::Full(r) | TrySendError::Disconnected(r) => r,
        })
    }

    /// Drops every queued patient of an opening before `generation`.
    pub fn cancel_before(&self, generation: u64) {
        self.cancel_below.fetch_max(generation, Ordering::Relaxed);
    }

    /// The next event, if one is waiting.
    pub fn try_next(&self) -> Option<AnalysisEvent> {
        self.events.try_recv().ok()
    }
}
