//! The model on its own thread (`fovea-analyse`): opens the pack once, then analyses the
//! patients it is sent, in order, over bounded channels; the UI polls for results.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use crate::analysis::engine::{Analyzer, PatientResult};
use crate::analysis::findings::ModelStamp;
use crate::encoder::device::DeviceChoice;
use crate::encoder::session::EncoderSession;
use crate::study::model::Patient;

/// What the analysis thread reports.
pub enum AnalysisEvent {
    /// The pack is loaded.
    Ready {
        /// The model.
        stamp: ModelStamp,
        /// Where it runs.
        device: String,
    },
    /// The pack could not be opened; nothing will be analysed.
    PackFailed(String),
    /// A patient's result.
    Done(Box<PatientResult>),
    /// A patient could not be analysed.
    Failed {
        /// Patient id.
        patient_id: String,
        /// Why.
        reason: String,
    },
}

/// Handle of the analysis thread.
pub struct AnalysisJob {
    requests: SyncSender<Patient>,
    events: Receiver<AnalysisEvent>,
}

impl AnalysisJob {
    /// Starts the thread; `repaint` is called after each event so the UI wakes up.
    pub fn spawn(
        pack: PathBuf,
        repaint: impl Fn() + Send + 'static,
    ) -> std::io::Result<AnalysisJob> {
        let (requests, inbox) = sync_channel::<Patient>(64);
        let (outbox, events) = sync_channel::<AnalysisEvent>(64);
        std::thread::Builder::new()
            .name("fovea-analyse".into())
            .spawn(move || {
                let send = |event| {
                    let sent = outbox.send(event).is_ok();
                    repaint();
                    sent
                };
                let analyzer = match EncoderSession::open(&pack, DeviceChoice::Cpu)
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
                let ready = AnalysisEvent::Ready {
                    stamp: analyzer.stamp().clone(),
                    device: analyzer.session().device_description(),
                };
                if !send(ready) {
                    return;
                }
                for patient in inbox {
                    let event = match analyzer.analyze_patient(&patient) {
                        Ok(result) => AnalysisEvent::Done(Box::new(result)),
                        Err(e) => AnalysisEvent::Failed {
                            patient_id: patient.info.id.clone(),
                            reason: e.to_string(),
                        },
                    };
                    if !send(event) {
                        return;
                    }
                }
            })?;
        Ok(AnalysisJob { requests, events })
    }

    /// Queues a patient; gives it back when the queue is full.
    pub fn try_analyse(&self, patient: Patient) -> Result<(), Patient> {
        self.requests.try_send(patient).map_err(|e| match e {
            TrySendError::Full(p) | TrySendError::Disconnected(p) => p,
        })
    }

    /// The next event, if one is waiting.
    pub fn try_next(&self) -> Option<AnalysisEvent> {
        self.events.try_recv().ok()
    }
}
