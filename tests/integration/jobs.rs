//! The background jobs a UI relies on: scan and decode off the calling thread, with progress,
//! every request answered, errors delivered as messages.

use std::time::{Duration, Instant};

use fovea::study::jobs::{DecodeEvent, DecodeRequest, DecodeWorker, ScanEvent, ScanJob};

use crate::support::{demo_set, pydicom_dir};

#[test]
fn scan_job_reports_progress_then_the_catalog() {
    let set = demo_set();
    let job = ScanJob::start(vec![set.root.join("dicom")], Default::default()).expect("spawn");
    let mut progress = 0;
    let catalog = loop {
        match job.next_blocking().expect("job ends with a result") {
            ScanEvent::Progress(p) => {
                assert!(p.files_done <= p.files_total);
                progress += 1;
            }
            ScanEvent::Finished(catalog) => break catalog,
        }
    };
    assert!(progress > 0, "progress was reported");
    assert_eq!(catalog.patients.len(), set.truth.patients.len());
}

#[test]
fn decode_worker_answers_every_request_in_order_with_pixels_or_a_reason() {
    let set = demo_set();
    let catalog = fovea::study::scan_paths(&[set.root.join("dicom")]);
    let oct = catalog.patients[0]
        .images()
        .find(|i| i.modality == fovea::study::Modality::Oct)
        .expect("OCT")
        .clone();
    let mut broken = oct.clone();
    broken.source = fovea::study::model::ImageSource::Plain {
        path: pydicom_dir().join("no_such_file.png"),
    };
    let worker = DecodeWorker::spawn(4).expect("spawn");
    worker
        .try_request(DecodeRequest {
            id: 1,
            record: std::sync::Arc::new(oct.clone()),
        })
        .expect("queued");
    worker
        .try_request(DecodeRequest {
            id: 2,
            record: std::sync::Arc::new(broken),
        })
        .expect("queued");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut finished = Vec::new();
    while finished.len() < 2 && Instant::now() < deadline {
        match worker.next_blocking() {
            Some(DecodeEvent::Finished { id, result }) => finished.push((id, result)),
            Some(_) => {}
            None => break,
        }
    }
    assert_eq!(finished.len(), 2, "both requests answered");
    assert_eq!(finished[0].0, 1);
    let image = finished[0].1.as_ref().expect("OCT decodes");
    assert_eq!(image.frames, oct.frames);
    assert_eq!(finished[1].0, 2);
    let reason = finished[1].1.as_ref().expect_err("missing file fails");
    assert!(reason.contains("no_such_file.png"), "{reason}");
}

#[test]
fn a_full_decode_queue_gives_the_request_back_instead_of_blocking() {
    let set = demo_set();
    let catalog = fovea::study::scan_paths(&[set.root.join("dicom")]);
    let record = std::sync::Arc::new(catalog.patients[0].images().next().expect("image").clone());
    let worker = DecodeWorker::spawn(1).expect("spawn");
    let start = Instant::now();
    let mut refused = 0;
    for id in 0..50 {
        if worker
            .try_request(DecodeRequest {
                id,
                record: record.clone(),
            })
            .is_err()
        {
            refused += 1;
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "try_request never waits for decoding"
    );
    assert!(refused > 0, "a bounded queue refuses when full");
}
