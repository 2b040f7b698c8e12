//! The viewer driven headlessly through AccessKit (egui_kittest) on the bundled demo patients
//! with the demo model: the patient list, the background analysis reaching the findings panel
//! with the model's name and the synthetic warning, choosing a patient and an image, moving
//! through an OCT volume's B-scans, search.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fovea::study::{Eye, Modality};
use fovea::ui::FoveaApp;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_viewer_lists_the_demo_patients_and_shows_their_findings_with_the_model_name() {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(|cc| {
            FoveaApp::new(
                &cc.egui_ctx,
                vec![root().join("assets/demo/dicom")],
                root().join("models/demo"),
            )
        });
    // Scan, decoding and the model run on their own threads: frames go on meanwhile.
    let deadline = Instant::now() + Duration::from_secs(180);
    while !harness.state().analysis_finished() {
        harness.step();
        assert!(Instant::now() < deadline, "the analysis did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run_steps(3);
    assert_eq!(harness.query_all_by_label_contains("SYN0100").count(), 4);
    assert_eq!(harness.state().selected_patient(), Some("SYN010001"));
    harness.get_by_label_contains("analysed 4/4");
    harness.get_by_label_contains("Fovea demo (synthetic) v1");
    harness.get_by_label_contains("Demo model trained on synthetic images only");
    harness.get_by_label("OD (right eye)");
    harness.get_by_label("OS (left eye)");
    // The first demo patient has referable DR in both eyes: flagged at patient and eye level.
    assert!(harness.query_all_by_label_contains("REFER").count() >= 3);

    harness.get_by_label_contains("SYN010004").click();
    harness.run_steps(2);
    assert_eq!(harness.state().selected_patient(), Some("SYN010004"));
    assert_eq!(
        harness.state().shown_modality(Eye::Right),
        Some(Modality::ColourFundus)
    );
    harness
        .get_all_by_label("OCT")
        .next()
        .expect("an OCT tab in the OD column")
        .click();
    harness.run_steps(2);
    assert_eq!(
        harness.state().shown_modality(Eye::Right),
        Some(Modality::Oct)
    );
    assert_eq!(
        harness.state().shown_modality(Eye::Left),
        Some(Modality::ColourFundus)
    );

    // The OCT volume opens on its central B-scan; the slider and the arrow keys move through it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while harness.state().shown_frame(Eye::Right).is_none() {
        harness.step();
        assert!(Instant::now() < deadline, "the OCT volume was not decoded");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        harness.state().shown_frame(Eye::Right),
        Some(12),
        "25 B-scans: the 13th"
    );
    harness
        .get_by_role(egui::accesskit::Role::Slider)
        .increment_accesskit();
    harness.run_steps(2);
    assert_eq!(harness.state().shown_frame(Eye::Right), Some(13));
    harness.get_by_role(egui::accesskit::Role::Slider).hover();
    harness.run_steps(1);
    harness.key_press(egui::Key::ArrowUp);
    harness.run_steps(2);
    assert_eq!(harness.state().shown_frame(Eye::Right), Some(12));

    let search = harness.get_by_role(egui::accesskit::Role::TextInput);
    search.click();
    harness.run_steps(1);
    harness
        .get_by_role(egui::accesskit::Role::TextInput)
        .type_text("0002");
    harness.run_steps(2);
    assert_eq!(harness.query_all_by_label_contains("SYN0100").count(), 1);
    harness.get_by_label_contains("SYN010002");
}
