//! The model on its own thread (`fovea-analyze`, a [`Worker`]): opens the pack once, then works
//! through what it is sent over a bounded channel — heatmaps and free-text prompts first (someone is
//! waiting for them), then queued patients in order. Queued patients of an earlier opening are
//! dropped (cancelled), the patient being analyzed finishes. The UI polls for events.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::analysis::engine::{Analyzer, PatientResult, add_zero_shot};
use crate::analysis::findings::ModelStamp;
use crate::analysis::heatmap::{Heatmap, HeatmapMethod, can_aim_at, heatmap, methods_for};
use crate::analysis::zero_shot::{ZeroShot, ZeroShotError};
use crate::encoder::device::OpenedDevice;
use crate::encoder::session::EncoderSession;
use crate::study::model::Patient;
use crate::worker::{Link, Worker, WorkerSpec};

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
    /// Analyze a patient (of opening `generation`).
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
    /// `(id, name)` of the findings a Grad-CAM or relevance map can aim at (text-based ones;
    /// head findings for a CNN).
    pub heat_findings: Vec<(String, String)>,
    /// The heatmap methods the model supports, the default first.
    pub heat_methods: Vec<HeatmapMethod>,
    /// The finding set's name and source, when the pack names one.
    pub finding_set: Option<String>,
    /// Whether the pack describes the images it was validated on (the domain check).
    pub domain_described: bool,
    /// What the pack card shows.
    pub card: PackCard,
    /// Why free text is off for this pack, if it is.
    pub zero_shot_disabled: Option<String>,
}

/// The pack card: what a pack is, where it came from, what it scores, how it was validated.
#[derive(Debug, Clone, Default)]
pub struct PackCard {
    /// The pack folder.
    pub pack: PathBuf,
    /// Architecture, in words.
    pub architecture: String,
    /// Where the weights came from.
    pub provenance: String,
    /// One line per finding: name, kind, calibration.
    pub findings: Vec<String>,
    /// The domain description's source, when the pack has one.
    pub domain: Option<String>,
    /// `VALIDATION.md`, when the pack was validated.
    pub report: Option<String>,
    /// `MODEL_CARD.md`, when the pack has one.
    pub model_card: Option<String>,
}

/// The card of a loaded pack (its two Markdown files read here, on the worker).
fn pack_card(pack: &std::path::Path, analyzer: &Analyzer) -> PackCard {
    let manifest = analyzer.session().manifest();
    let read = |name: &str| std::fs::read_to_string(pack.join(name)).ok();
    let calibration = |t: &std::collections::BTreeMap<String, f32>| {
        if t.is_empty() {
            "uncalibrated".to_string()
        } else {
            let levels: Vec<&str> = t.keys().map(String::as_str).collect();
            format!("validated at {}", levels.join(", "))
        }
    };
    let set = manifest.finding_set();
    let mut findings: Vec<String> = set
        .findings
        .iter()
        .map(|f| format!("{} — prompt pair — {}", f.name, calibration(&f.temperature)))
        .collect();
    for g in &set.class_groups {
        findings.extend(g.findings.iter().map(|f| {
            format!(
                "{} — {} = {} — {}",
                f.name,
                g.name,
                f.classes.join(" + "),
                calibration(&f.temperature)
            )
        }));
    }
    if let Some(h) = &set.classifier {
        findings.extend(h.findings.iter().map(|f| {
            format!(
                "{} — classifier head = {} — {}",
                f.name,
                f.classes.join(" + "),
                calibration(&f.temperature)
            )
        }));
    }
    PackCard {
        pack: pack.to_path_buf(),
        architecture: manifest.architecture.describe(),
        provenance: format!(
            "{} ({}){}",
            manifest.provenance.source_file,
            manifest.provenance.source_format,
            if manifest.provenance.source_sha256.is_empty() {
                String::new()
            } else {
                format!(", SHA-256 {}", manifest.provenance.source_sha256)
            }
        ),
        findings,
        domain: manifest.domain.as_ref().map(|d| d.source.clone()),
        report: read(crate::validation::report::REPORT_FILE),
        model_card: read("MODEL_CARD.md"),
    }
}

/// What became of a patient sent for analysis.
pub enum PatientOutcome {
    /// Its analysis began.
    Started,
    /// Its result, and how long it took.
    Done(Box<PatientResult>, Duration),
    /// It could not be analyzed: why.
    Failed(String),
    /// It was dropped from the queue.
    Cancelled,
}

/// What the analysis thread reports.
pub enum AnalysisEvent {
    /// The pack is loaded.
    Ready(Box<ModelInfo>),
    /// The pack could not be opened; nothing will be analyzed.
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

/// Handle of the analysis thread: `try_send` requests, `try_next` events, `cancel_before`
/// an opening's generation to drop its queued patients.
pub type AnalysisJob = Worker<AnalysisRequest, AnalysisEvent>;

/// Where the pack should run.
#[derive(Clone)]
pub enum ModelDevice {
    /// burn's CPU backend.
    Cpu,
    /// A device opened beforehand (the viewer's own GPU).
    Opened(OpenedDevice),
}

/// The thread's state once the pack is open.
struct ModelWorker {
    analyzer: Analyzer,
    zero_shot: Result<ZeroShot, String>,
}

impl ModelWorker {
    /// Does one request, reporting through `link`; false when the UI has gone.
    fn handle(
        &mut self,
        request: AnalysisRequest,
        link: &Link<AnalysisRequest, AnalysisEvent>,
    ) -> bool {
        let send = |event| link.send(event);
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
                if link.is_stale(generation) {
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
    pub fn start(
        pack: PathBuf,
        device: ModelDevice,
        repaint: impl Fn() + Send + 'static,
    ) -> std::io::Result<AnalysisJob> {
        let spec = WorkerSpec::new("fovea-analyze", 64, 64).waking(repaint);
        Worker::spawn(spec, move |link| {
            let Some(mut worker) = open_model(&pack, device, &link) else {
                return;
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
                    match link.recv() {
                        Some(request) => queue(request, &mut interactive, &mut patients),
                        None => return,
                    }
                }
                while let Some(request) = link.try_recv() {
                    queue(request, &mut interactive, &mut patients);
                }
                let Some(request) = interactive.pop_front().or_else(|| patients.pop_front()) else {
                    continue;
                };
                if !worker.handle(request, &link) {
                    return;
                }
            }
        })
    }
}

/// Opens the pack and announces it (`Ready`), or says why not (`PackFailed`); `None` when
/// there is nothing more to do.
fn open_model(
    pack: &std::path::Path,
    device: ModelDevice,
    link: &Link<AnalysisRequest, AnalysisEvent>,
) -> Option<ModelWorker> {
    let session = match device {
        ModelDevice::Cpu => EncoderSession::open(pack, crate::encoder::device::DeviceChoice::Cpu),
        ModelDevice::Opened(opened) => EncoderSession::on(pack, opened),
    };
    let analyzer = match session
        .map_err(|e| e.to_string())
        .and_then(|s| Analyzer::new(s).map_err(|e| e.to_string()))
    {
        Ok(analyzer) => analyzer,
        Err(reason) => {
            link.send(AnalysisEvent::PackFailed(format!(
                "model pack {}: {reason}",
                pack.display()
            )));
            return None;
        }
    };
    // "Free text is off for this model: <reason>." — the reason alone.
    let zero_shot = ZeroShot::new(analyzer.session()).map_err(|e| match e {
        ZeroShotError::Disabled(reason) => reason,
        other => other.to_string(),
    });
    let manifest = analyzer.session().manifest();
    let info = ModelInfo {
        stamp: analyzer.stamp().clone(),
        device: analyzer.session().device_description(),
        intended_use: manifest.intended_use.clone(),
        findings: analyzer.scorer().finding_names(),
        heat_findings: analyzer
            .scorer()
            .finding_names()
            .into_iter()
            .filter(|(id, _)| can_aim_at(&analyzer, id))
            .collect(),
        heat_methods: methods_for(&analyzer),
        domain_described: manifest.domain.is_some(),
        card: pack_card(pack, &analyzer),
        finding_set: manifest
            .finding_set
            .as_ref()
            .map(|s| format!("{} — {}", s.name, s.source)),
        zero_shot_disabled: zero_shot.as_ref().err().cloned(),
    };
    link.send(AnalysisEvent::Ready(Box::new(info)))
        .then_some(ModelWorker {
            analyzer,
            zero_shot,
        })
}
