//! The viewer driven headlessly through AccessKit (egui_kittest), rendered with wgpu (lavapipe
//! on machines without a GPU), on the bundled demo patients with the demo model and the
//! bundled case library: the patient list and the background analysis reaching the findings
//! panel, similar cases, the heatmap overlay, zoom / linked views / window-level, the
//! free-text prompt, the compare view, the help overlay, OCT B-scans with the localizer, the
//! theme, search — asserted on the app's state. The pictures of the main screens
//! (`tests/snapshots/`) are drawn with a seeded, untrained pack and a library built with it
//! ([`fovea::demo::seeded`]), one test per screen, so they move only when the UI does.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fovea::study::{Eye, Modality};
use fovea::ui::{FoveaApp, ModelPlacement, ViewerConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Steps frames (background threads work meanwhile) until `done` holds.
fn step_until(harness: &mut Harness<'_, FoveaApp>, what: &str, done: impl Fn(&FoveaApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(240);
    while !done(harness.state()) {
        harness.step();
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run_steps(3);
}

/// The viewer's two text fields: the patient search (first) and the prompt box (last).
enum TextField {
    Search,
    Prompt,
}

/// Clicks into a text field and types.
fn type_into(harness: &mut Harness<'_, FoveaApp>, field: TextField, text: &str) {
    for step in 0..2 {
        let mut fields: Vec<_> = harness
            .query_all_by_role(egui::accesskit::Role::TextInput)
            .collect();
        let field = match field {
            TextField::Search => fields.swap_remove(0),
            TextField::Prompt => fields.pop().expect("a text field"),
        };
        if step == 0 {
            field.click();
        } else {
            field.type_text(text);
        }
        harness.run_steps(1);
    }
}

/// The viewer on `config`, without a wgpu renderer (nothing is rasterised).
fn headless(config: ViewerConfig) -> Harness<'static, FoveaApp> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(|cc| FoveaApp::new(cc, config))
}

/// The viewer on `config`, rendered with wgpu (lavapipe on machines without a GPU).
fn rendered(config: ViewerConfig) -> Harness<'static, FoveaApp> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        // Where the pointer was left depends on the layout of earlier frames.
        .with_render_cursor(false)
        .wgpu()
        .build_eframe(|cc| FoveaApp::new(cc, config))
}

/// The demo patients with the bundled demo model and library (asserted on state, not pixels;
/// no durations in the status bar, so that label counts are those of the patient list).
fn viewer() -> Harness<'static, FoveaApp> {
    rendered(ViewerConfig {
        paths: vec![root().join("assets/demo/dicom")],
        pack: root().join("models/demo"),
        library: Some(root().join("assets/library")),
        model_on: ModelPlacement::Cpu,
        pixel_stable: true,
        scan: Default::default(),
        demo_patients: None,
    })
}

/// A seeded pack and a case library built with it, made once per test run.
struct SeededFixture {
    _dir: tempfile::TempDir,
    pack: PathBuf,
    library: PathBuf,
}

fn seeded_fixture() -> &'static SeededFixture {
    static FIXTURE: std::sync::OnceLock<SeededFixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let pack = dir.path().join("pack");
        fovea::demo::seeded::write_seeded_pack(&pack, 7).expect("seeded pack");
        // Reference cases: 8 small synthetic patients of a seed the demo patients do not use.
        let cases = dir.path().join("cases");
        fovea::synth::generate(
            &cases,
            &crate::support::small_config(
                21,
                8,
                fovea::synth::dicom_writer::PixelEncoding::ExplicitLe,
            ),
        )
        .expect("reference cases");
        // A fixed salt, so the case ids (and so the pictures) are the same every run.
        let library = dir.path().join("library");
        let session = fovea::encoder::session::EncoderSession::open(
            &pack,
            fovea::encoder::device::DeviceChoice::Cpu,
        )
        .expect("seeded pack opens");
        let analyzer = fovea::analysis::engine::Analyzer::new(session).expect("prompts embed");
        let labels = fovea::library::labels::Labels::read(&cases.join("ground_truth.json"))
            .expect("ground truth");
        let catalog = fovea::study::scan_paths(&[cases.join("dicom")]);
        let mut built = fovea::library::build::create_library(
            &library,
            &analyzer,
            &labels,
            false,
            Some("fovea viewer snapshots".to_string()),
        )
        .expect("library");
        fovea::library::build::add_catalog(&mut built, &analyzer, &catalog, &labels, &mut |_| {})
            .expect("cases added");
        SeededFixture {
            _dir: dir,
            pack,
            library,
        }
    })
}

/// The demo patients with the seeded pack and its library, drawn the same way every time.
fn snapshot_viewer() -> Harness<'static, FoveaApp> {
    let fixture = seeded_fixture();
    rendered(ViewerConfig {
        paths: vec![root().join("assets/demo/dicom")],
        pack: fixture.pack.clone(),
        library: Some(fixture.library.clone()),
        model_on: ModelPlacement::Cpu,
        pixel_stable: true,
        scan: Default::default(),
        demo_patients: None,
    })
}

/// Waits until every patient is analyzed, the first similar cases are in and no pixels are
/// on their way (the modality tabs show a picture of each image once it was decoded).
fn settled(harness: &mut Harness<'_, FoveaApp>) {
    step_until(harness, "the analysis, similar cases and pixels", |app| {
        app.analysis_finished() && !app.similar_case_ids().is_empty() && !app.decoding()
    });
}

/// Clicks the first similar case; the compare view opens on it.
fn open_first_similar_case(harness: &mut Harness<'_, FoveaApp>) {
    let first = harness.state().similar_case_ids()[0].to_string();
    harness
        .query_all_by_label_contains(&first)
        .last()
        .expect("the first similar case")
        .click();
    harness.run_steps(3);
    assert_eq!(harness.state().compared_case(), Some(first.as_str()));
}

#[test]
fn screen_findings_of_the_first_patient() {
    let mut harness = snapshot_viewer();
    settled(&mut harness);
    harness.get_by_label_contains("Fovea seeded test pack");
    harness.get_by_label("OD (right eye)");
    harness.get_by_label("OS (left eye)");
    assert_eq!(harness.state().similar_case_ids().len(), 10);
    harness.snapshot("viewer_findings");
}

#[test]
fn screen_heatmap_overlay() {
    let mut harness = snapshot_viewer();
    settled(&mut harness);
    harness.key_press(egui::Key::H);
    step_until(&mut harness, "the heatmaps", |app| {
        app.shown_heatmap(Eye::Right).is_some() && app.shown_heatmap(Eye::Left).is_some()
    });
    harness.get_by_label_contains("Heatmap by Fovea seeded test pack");
    harness.snapshot("viewer_heatmap");
}

#[test]
fn screen_compare_with_a_similar_case() {
    let mut harness = snapshot_viewer();
    settled(&mut harness);
    open_first_similar_case(&mut harness);
    harness.snapshot("viewer_compare");
}

#[test]
fn screen_oct_b_scan_with_its_localizer() {
    let mut harness = snapshot_viewer();
    settled(&mut harness);
    harness.get_by_label_contains("SYN010004").click();
    harness.run_steps(2);
    harness
        .get_all_by_label("OCT")
        .next()
        .expect("an OCT tab in the OD column")
        .click();
    step_until(&mut harness, "the OCT volume", |app| {
        app.shown_modality(Eye::Right) == Some(Modality::Oct)
            && app.shown_frame(Eye::Right).is_some()
    });
    settled(&mut harness);
    harness.snapshot("viewer_oct_localizer");
}

#[test]
fn the_viewer_shows_findings_heatmaps_prompts_and_similar_cases_of_the_demo_patients() {
    let mut harness = viewer();
    step_until(
        &mut harness,
        "the analysis and the first similar cases",
        |app| app.analysis_finished() && !app.similar_case_ids().is_empty(),
    );
    assert_eq!(harness.query_all_by_label_contains("SYN0100").count(), 4);
    assert_eq!(harness.state().selected_patient(), Some("SYN010001"));
    harness.get_by_label_contains("analyzed 4/4");
    harness.get_by_label_contains("Fovea demo (synthetic) v1");
    harness.get_by_label_contains("Demo model trained on synthetic images only");
    harness.get_by_label("OD (right eye)");
    harness.get_by_label("OS (left eye)");
    // The first demo patient has referable DR in both eyes: flagged at patient and eye level.
    assert!(harness.query_all_by_label_contains("REFER").count() >= 3);
    // Similar eyes of OD from the bundled library, with the aggregate line.
    assert_eq!(harness.state().similar_case_ids().len(), 10);
    assert!(
        harness
            .state()
            .similar_case_ids()
            .iter()
            .all(|id| id.starts_with("case-"))
    );
    // One sentence per finding some of the neighbours have.
    assert!(
        harness
            .query_all_by_label_contains("of the 10 most similar eyes have")
            .count()
            >= 1
    );
    harness.get_by_label_contains("synthetic demo cases");

    // H: the heatmap overlay, Grad-CAM for the pack's first finding, on both eyes.
    harness.key_press(egui::Key::H);
    step_until(&mut harness, "the heatmaps", |app| {
        app.shown_heatmap(Eye::Right).is_some() && app.shown_heatmap(Eye::Left).is_some()
    });
    assert!(harness.state().overlay_shown());
    let (_, finding) = harness
        .state()
        .shown_heatmap(Eye::Right)
        .expect("a heatmap");
    assert_eq!(finding.as_deref(), Some("referable_dr"));
    harness.get_by_label_contains("Heatmap by Fovea demo (synthetic) v1");

    // Zoom with + over the OD image; L links both eyes; 0 resets.
    harness.get_by_label("OD colour fundus view").hover();
    harness.run_steps(1);
    harness.key_press(egui::Key::Plus);
    harness.run_steps(2);
    let zoomed = harness.state().view_of(Eye::Right).expect("a view");
    assert!((zoomed.zoom - 1.25).abs() < 1e-4, "{zoomed:?}");
    assert_eq!(
        harness.state().view_of(Eye::Left).map(|v| v.zoom),
        Some(1.0)
    );
    harness.key_press(egui::Key::L);
    harness.run_steps(1);
    harness.key_press(egui::Key::Plus);
    harness.run_steps(2);
    assert!(harness.state().settings().linked);
    let right = harness.state().view_of(Eye::Right).expect("a view");
    assert_eq!(harness.state().view_of(Eye::Left), Some(right));
    assert!((right.zoom - 1.5625).abs() < 1e-3, "{right:?}");
    // Right-drag on the OD image: window/level.
    let rect = harness.get_by_label("OD colour fundus view").rect();
    let start = rect.center();
    let step = egui::vec2(rect.width() / 24.0, rect.height() / 30.0);
    let button = |pos, pressed| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Secondary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    };
    harness.hover_at(start);
    harness.run_steps(1);
    harness.event(button(start, true));
    harness.run_steps(1);
    for i in 1..=4 {
        harness.hover_at(start + step * i as f32);
        harness.run_steps(1);
    }
    harness.event(button(start + step * 4.0, false));
    harness.run_steps(1);
    let window = harness.state().window_of(Eye::Right).expect("a window");
    assert!(window.width() > 1.0 && window.level() > 0.5, "{window:?}");
    harness.key_press(egui::Key::Num0);
    harness.run_steps(2);
    assert_eq!(
        harness.state().view_of(Eye::Right).map(|v| v.zoom),
        Some(1.0)
    );
    assert_eq!(
        harness.state().window_of(Eye::Right),
        Some(Default::default())
    );
    harness.key_press(egui::Key::L);
    harness.key_press(egui::Key::H);
    harness.run_steps(2);
    assert!(!harness.state().overlay_shown());

    // Free text, scored after typing pauses, per eye and per image, by the model.
    type_into(&mut harness, TextField::Prompt, "hard exudates");
    step_until(&mut harness, "the prompt's scores", |app| {
        app.prompt_scores().is_some()
    });
    let (text, rows) = harness.state().prompt_scores().expect("scores");
    assert_eq!(text, "hard exudates");
    let labels: Vec<&str> = rows.iter().map(|(l, _)| l.as_str()).collect();
    assert!(
        labels.contains(&"OD eye") && labels.contains(&"OS eye"),
        "{labels:?}"
    );
    assert!(rows.len() >= 4, "eyes and images: {labels:?}");
    assert!(rows.iter().all(|(_, s)| (0.0..=1.0).contains(s)));
    harness.get_by_label_contains("uncalibrated scores by Fovea demo (synthetic) v1");

    // A similar case opens side by side.
    open_first_similar_case(&mut harness);
    harness.get_by_label("similar case image");
    harness.get_by_label("this patient's image");
    harness.key_press(egui::Key::Escape);
    harness.run_steps(2);
    assert_eq!(harness.state().compared_case(), None);

    // F1: the shortcuts.
    harness.key_press(egui::Key::F1);
    harness.run_steps(2);
    assert!(harness.state().help_shown());
    harness.get_by_label("PageDown / PageUp");
    harness.key_press(egui::Key::Escape);
    harness.run_steps(2);
    assert!(!harness.state().help_shown());
}

#[test]
fn the_viewer_moves_through_patients_b_scans_and_the_localizer() {
    let mut harness = viewer();
    step_until(&mut harness, "the scan", |app| {
        app.selected_patient().is_some()
    });
    // PageDown / PageUp: next and previous patient.
    harness.key_press(egui::Key::PageDown);
    harness.run_steps(2);
    assert_eq!(harness.state().selected_patient(), Some("SYN010002"));
    harness.key_press(egui::Key::PageUp);
    harness.run_steps(2);
    assert_eq!(harness.state().selected_patient(), Some("SYN010001"));

    harness.get_by_label_contains("SYN010004").click();
    harness.run_steps(2);
    assert_eq!(harness.state().selected_patient(), Some("SYN010004"));
    assert_eq!(
        harness.state().shown_modality(Eye::Right),
        Some(Modality::ColourFundus)
    );
    // The tabs gain their thumbnails as the decoder delivers them: click once they are drawn.
    step_until(&mut harness, "the tab thumbnails", |app| !app.decoding());
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
    step_until(&mut harness, "the OCT volume and its localizer", |app| {
        app.shown_frame(Eye::Right).is_some()
    });
    assert_eq!(
        harness.state().shown_frame(Eye::Right),
        Some(12),
        "25 B-scans: the 13th"
    );
    let slider = || egui::accesskit::Role::Slider;
    harness
        .query_all_by_role(slider())
        .find(|s| s.rect().left() < 700.0 && s.rect().top() > 80.0)
        .expect("the OD B-scan slider")
        .increment_accesskit();
    harness.run_steps(2);
    assert_eq!(harness.state().shown_frame(Eye::Right), Some(13));
    // Clicking the B-scan takes the keyboard from the slider; the arrows then move the volume.
    harness.get_by_label("OD OCT view").click();
    harness.run_steps(1);
    harness.get_by_label("OD OCT view").hover();
    harness.run_steps(1);
    harness.key_press(egui::Key::ArrowUp);
    harness.run_steps(2);
    assert_eq!(harness.state().shown_frame(Eye::Right), Some(12));
    // Clicking the localizer's top and bottom edges jumps to the first and last B-scans
    // (in whichever order the scan ran).
    // The layout settles once the analysis is done (the status bar loses its progress bar).
    step_until(&mut harness, "the analysis", FoveaApp::analysis_finished);
    let mut jumped = Vec::new();
    for top in [true, false] {
        let localizer = harness.get_by_label("SLO/IR localizer").rect();
        let y = if top {
            localizer.top() + 2.0
        } else {
            localizer.bottom() - 2.0
        };
        let pos = egui::pos2(localizer.center().x, y);
        harness.hover_at(pos);
        harness.run_steps(1);
        for pressed in [true, false] {
            harness.event(egui::Event::PointerButton {
                pos,
                button: egui::PointerButton::Primary,
                pressed,
                modifiers: egui::Modifiers::NONE,
            });
        }
        harness.run_steps(2);
        jumped.push(harness.state().shown_frame(Eye::Right).expect("a frame"));
    }
    jumped.sort_unstable();
    assert_eq!(jumped, [0, 24], "first and last B-scans");

    // The light theme, from the View menu.
    harness.get_by_label("View").click();
    harness.run_steps(3);
    harness.get_by_label("Dark theme").click();
    harness.run_steps(2);
    assert!(!harness.state().settings().dark);
    assert_eq!(harness.ctx.theme(), egui::Theme::Light);
    harness.key_press(egui::Key::Escape);

    // Search narrows the list.
    type_into(&mut harness, TextField::Search, "0002");
    harness.run_steps(2);
    assert_eq!(harness.query_all_by_label_contains("SYN0100").count(), 1);
    harness.get_by_label_contains("SYN010002");
}

/// A folder dropped onto the window, as winit hands it over.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        Err("a folder".into())
    }
}

/// eframe's storage, in memory.
#[derive(Default)]
struct Memory(std::collections::HashMap<String, String>);

impl eframe::Storage for Memory {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn a_dropped_folder_opens_and_settings_persist_without_patient_data() {
    let mut harness = viewer();
    step_until(&mut harness, "the scan", |app| {
        app.selected_patient().is_some()
    });
    let folder = root().join("assets/demo/dicom/SYN010003");
    harness
        .input_mut()
        .dropped_files
        .push(std::sync::Arc::new(Dropped(folder.clone())));
    step_until(&mut harness, "the dropped folder's analysis", |app| {
        app.selected_patient() == Some("SYN010003") && app.analysis_finished()
    });
    assert_eq!(harness.query_all_by_label_contains("SYN0100").count(), 1);
    assert_eq!(harness.state().settings().recent.first(), Some(&folder));
    // Settings saved by one window come back in the next; nothing read from the studies (names,
    // findings) goes with them — only the locations the user opened (their paths).
    harness.key_press(egui::Key::H);
    harness.key_press(egui::Key::L);
    harness.run_steps(2);
    let mut memory = Memory::default();
    eframe::App::save(harness.state_mut(), &mut memory);
    let saved = memory.0.values().cloned().collect::<Vec<_>>().join("\n");
    for private in ["SYNTHETIC", "Patient 0003", "retinopathy", "referable"] {
        assert!(!saved.contains(private), "{private} in {saved}");
    }
    let expected = harness.state().settings().clone();
    assert!(expected.overlay_on && expected.linked);
    let reopened = Harness::builder().build_eframe(|cc| {
        cc.storage = Some(&memory);
        FoveaApp::new(
            cc,
            ViewerConfig {
                paths: vec![],
                pack: root().join("models/demo"),
                library: None,
                model_on: ModelPlacement::Cpu,
                pixel_stable: false,
                scan: Default::default(),
                demo_patients: None,
            },
        )
    });
    assert_eq!(reopened.state().settings(), &expected);
}

#[test]
fn the_model_runs_on_the_window_s_own_wgpu_device() {
    // The window's device made as `fovea` makes it when it shares the GPU with burn.
    let setup = fovea::ui::shared_with_the_model(egui_kittest::wgpu::default_wgpu_setup());
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .wgpu_setup(setup)
        .build_eframe(|cc| {
            FoveaApp::new(
                cc,
                ViewerConfig {
                    paths: vec![root().join("assets/demo/dicom/SYN010001")],
                    pack: root().join("models/demo"),
                    library: None,
                    model_on: ModelPlacement::WindowDevice,
                    pixel_stable: false,
                    scan: Default::default(),
                    demo_patients: None,
                },
            )
        });
    step_until(
        &mut harness,
        "the analysis on the shared device",
        FoveaApp::analysis_finished,
    );
    harness.get_by_label_contains("model on wgpu");
    // Patient 1 has referable DR in both eyes: the same flags as on the CPU.
    assert!(harness.query_all_by_label_contains("REFER").count() >= 3);
    harness.get_by_label_contains("analyzed 1/1");
}

#[test]
fn a_broken_image_shows_its_reason_in_place_and_the_rest_of_the_patient_works() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = root().join("assets/demo/dicom/SYN010001");
    for entry in std::fs::read_dir(&source).expect("demo patient") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("a name");
        std::fs::copy(&path, dir.path().join(name)).expect("copy");
    }
    // The OD photograph loses the end of its JPEG stream (an interrupted copy).
    let broken = dir.path().join("SYN010001_OD_fundus.dcm");
    let bytes = std::fs::read(&broken).expect("read");
    std::fs::write(&broken, &bytes[..bytes.len() - 3000]).expect("truncate");
    let mut harness = headless(ViewerConfig {
        paths: vec![dir.path().to_path_buf()],
        pack: root().join("models/demo"),
        library: Some(dir.path().join("no-library")),
        model_on: ModelPlacement::Cpu,
        pixel_stable: false,
        scan: Default::default(),
        demo_patients: None,
    });
    step_until(&mut harness, "the analysis", FoveaApp::analysis_finished);
    harness.get_by_label_contains("Cannot show colour fundus");
    harness.get_by_label_contains("Not analyzed:");
    // The other eye's photograph is shown, and the OD eye's result names what was left out.
    assert_eq!(harness.state().shown_frame(Eye::Left), Some(0));
    harness.get_by_label_contains("left out SYN010001_OD_fundus.dcm");
    harness.get_by_label_contains("analyzed 1/1");
    // A library that is not there is reported in the similar-cases strip.
    step_until(&mut harness, "the library's answer", |app| {
        app.library_unavailable().is_some()
    });
    harness.get_by_label_contains("case library");
}

#[test]
fn a_missing_model_pack_and_library_are_reported_and_the_images_still_show() {
    let empty = tempfile::tempdir().expect("temp dir");
    let mut harness = headless(ViewerConfig {
        paths: vec![root().join("assets/demo/dicom/SYN010002")],
        pack: empty.path().join("no-pack"),
        library: Some(empty.path().join("no-library")),
        model_on: ModelPlacement::Cpu,
        pixel_stable: false,
        scan: Default::default(),
        demo_patients: None,
    });
    step_until(&mut harness, "the pixels", |app| {
        app.shown_frame(Eye::Right).is_some() && app.analysis_finished()
    });
    harness.get_by_label_contains("model pack");
    harness.get_by_label_contains("Choose another pack");
    harness.get_by_label_contains("no model to search with");
    assert_eq!(
        harness.state().shown_modality(Eye::Right),
        Some(Modality::ColourFundus)
    );
    assert!(harness.state().similar_case_ids().is_empty());
}

/// The distinct colours of a PNG screenshot.
fn distinct_colours(png: &std::path::Path) -> usize {
    let Ok(image) = image::open(png) else {
        return 0; // not written yet, or half-written
    };
    let pixels: std::collections::HashSet<[u8; 3]> =
        image.to_rgb8().pixels().map(|p| p.0).collect();
    pixels.len()
}

/// Started with nothing to open, the viewer shows its start screen: the demo patients, a
/// folder, or a model import, in plain words. Each way in works.
#[test]
fn the_start_screen_offers_the_demo_patients_a_folder_and_a_model_import() {
    let start = || {
        rendered(ViewerConfig {
            paths: Vec::new(),
            pack: seeded_fixture().pack.clone(),
            library: None,
            model_on: ModelPlacement::Cpu,
            pixel_stable: true,
            scan: Default::default(),
            demo_patients: Some(root().join("assets/demo/dicom")),
        })
    };
    let mut harness = start();
    harness.run_steps(3);
    assert!(harness.state().start_screen_shown());
    assert_eq!(harness.state().selected_patient(), None);
    for label in [
        "Open the demo patients",
        "Open a folder of studies…",
        "Import a model…",
    ] {
        harness.get_by_label(label);
    }
    harness.get_by_label_contains("trained on synthetic images only");
    step_until(&mut harness, "the model", |app| app.pack_name().is_some());
    harness.snapshot("viewer_start_screen");

    harness.get_by_label("Import a model…").click();
    harness.run_steps(3);
    assert!(harness.state().import_window_open());

    let mut harness = start();
    harness.run_steps(3);
    harness.get_by_label("Open the demo patients").click();
    step_until(&mut harness, "the demo patients", |app| {
        app.selected_patient().is_some()
    });
    assert!(!harness.state().start_screen_shown());
    assert_eq!(
        harness.state().settings().recent,
        vec![root().join("assets/demo/dicom")]
    );
}

/// The real binary opens its window under Xvfb (lavapipe), with the device made for sharing
/// with the model, draws the demo patients, keeps running, and ends on SIGTERM.
#[test]
fn the_real_viewer_window_opens_under_xvfb_and_draws_the_demo_patients() {
    let work = tempfile::tempdir().expect("temp dir");
    let window = real_viewer_under_xvfb(
        Path::new(env!("CARGO_BIN_EXE_fovea")),
        &root().join("assets/demo/dicom"),
        work.path(),
    );
    window.assert_drew_the_patients();
}

/// What a real `fovea` window under Xvfb did: its screen's distinct colours at the last
/// screenshot, whether it was still running when asked to stop, and its stderr.
pub struct RealWindow {
    pub colours: usize,
    pub alive: bool,
    pub stderr: String,
    /// The last screenshot (in the work folder given).
    pub screenshot: PathBuf,
}

impl RealWindow {
    /// Drawn, the screen has thousands of colours (measured: 25,349 with the demo patients);
    /// the window with nothing open has 547 (anti-aliased text), so 5,000 tells the two apart.
    pub fn assert_drew_the_patients(&self) {
        let (colours, stderr) = (self.colours, &self.stderr);
        assert!(self.alive, "the viewer ended by itself: {stderr}");
        assert!(!stderr.contains("could not open"), "{stderr}");
        assert!(
            colours >= 5000,
            "the screen has {colours} colours: the photographs were not drawn ({stderr})"
        );
    }
}

/// Starts `binary` on `study` under xvfb-run, screenshots the screen every second with
/// ImageMagick's `import` (written aside, then renamed, so a half-written file is never read)
/// until the patients are drawn or 100 s pass, then stops it. The user's folders (settings,
/// caches) are inside `work`. One window runs at a time.
pub fn real_viewer_under_xvfb(binary: &Path, study: &Path, work: &Path) -> RealWindow {
    use std::os::unix::process::CommandExt;
    // One real window at a time: two `xvfb-run -a` started together can pick the same
    // display, and two software-rendered windows starve each other on a 2-core machine.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let shot = work.join("screen.png");
    let stop = work.join("stop");
    let script = r#"
        "$0" "$1" --no-library & pid=$!
        i=0
        while [ ! -e "$3" ] && [ $i -lt 120 ]; do
            sleep 1; i=$((i + 1))
            import -window root "$2.part.png" 2>/dev/null && mv "$2.part.png" "$2"
        done
        if kill -0 $pid 2>/dev/null; then echo fovea-alive; kill $pid; fi
        wait $pid 2>/dev/null
    "#;
    let mut child = std::process::Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x800x24", "sh", "-c", script])
        .arg(binary)
        .arg(study)
        .arg(&shot)
        .arg(&stop)
        .env("XDG_DATA_HOME", work.join("data"))
        .env("XDG_CACHE_HOME", work.join("cache"))
        .env("XDG_CONFIG_HOME", work.join("config"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("xvfb-run (packaging/install-deps.sh installs xvfb and imagemagick)");
    let deadline = Instant::now() + Duration::from_secs(100);
    let mut colours = 0;
    while Instant::now() < deadline && colours < 5000 {
        std::thread::sleep(Duration::from_millis(500));
        colours = distinct_colours(&shot);
        if child.try_wait().expect("wait").is_some() {
            break;
        }
    }
    std::fs::write(&stop, "").expect("stop marker");
    let output = within_deadline(child, Duration::from_secs(30));
    RealWindow {
        colours,
        alive: String::from_utf8_lossy(&output.stdout).contains("fovea-alive"),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        screenshot: shot,
    }
}

/// Waits for `child` to end (the whole process group is ended after `limit`).
fn within_deadline(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let group = format!("-{}", child.id());
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &group])
                .status();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().expect("output")
}

/// A seeded pack in EyeCLIP's layout (uncalibrated, the bundled EyeCLIP set), made once.
fn seeded_eyeclip_pack() -> &'static PathBuf {
    static PACK: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    &PACK
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let pack = dir.path().join("eyeclip");
            fovea::demo::seeded::write_seeded_eyeclip_pack(&pack, 9).expect("seeded pack");
            (dir, pack)
        })
        .1
}

#[test]
fn screen_findings_of_an_eyeclip_layout_pack() {
    let mut harness = rendered(ViewerConfig {
        paths: vec![root().join("assets/demo/dicom")],
        pack: seeded_eyeclip_pack().clone(),
        library: None,
        model_on: ModelPlacement::Cpu,
        pixel_stable: true,
        scan: Default::default(),
        demo_patients: None,
    });
    step_until(&mut harness, "the analysis and pixels", |app| {
        app.analysis_finished() && !app.decoding()
    });
    // The set's findings, for every eye, each marked uncalibrated and none flagged.
    for eye in [Eye::Right, Eye::Left] {
        let ids = harness.state().eye_finding_ids(eye);
        for want in ["referable_dr", "glaucoma", "oct_macular_hole"] {
            assert!(ids.contains(&want), "{eye:?}: {ids:?}");
        }
    }
    assert!(harness.query_all_by_label_contains("uncalibrated").count() >= 10);
    assert_eq!(harness.query_all_by_label_contains("REFER").count(), 0);
    assert!(
        harness
            .query_all_by_label_contains("Diabetic retinopathy grade (model's shares")
            .count()
            >= 2,
        "the grade distribution of each eye"
    );
    harness.get_by_label_contains("Domain check: not validated here");
    harness.snapshot("viewer_eyeclip_findings");
}

#[test]
fn switching_packs_analyzes_the_open_patients_again() {
    let mut harness = headless(ViewerConfig {
        paths: vec![root().join("assets/demo/dicom")],
        pack: seeded_eyeclip_pack().clone(),
        library: None,
        model_on: ModelPlacement::Cpu,
        pixel_stable: true,
        scan: Default::default(),
        demo_patients: None,
    });
    step_until(&mut harness, "the EyeCLIP-layout analysis", |app| {
        app.analysis_finished() && app.selected_analyzed()
    });
    assert!(
        harness
            .state()
            .eye_finding_ids(Eye::Right)
            .contains(&"any_dr")
    );
    harness
        .state_mut()
        .switch_to_pack(root().join("models/demo"));
    assert_eq!(harness.state().pack_name(), None, "loading the new pack");
    step_until(&mut harness, "the demo pack's analysis", |app| {
        app.pack_name() == Some("Fovea demo (synthetic)")
            && app.analysis_finished()
            && app.selected_analyzed()
    });
    assert_eq!(
        harness.state().eye_finding_ids(Eye::Right),
        ["referable_dr", "glaucoma", "amd"],
        "the new pack's findings, not the old one's"
    );
}

#[test]
fn real_photographs_with_the_demo_pack_are_greyed_as_outside_and_never_flagged() {
    let Some(real) = crate::support::real_material("fundus") else {
        return;
    };
    let mut harness = headless(ViewerConfig {
        paths: vec![real],
        pack: root().join("models/demo"),
        library: Some(root().join("assets/library")),
        model_on: ModelPlacement::Cpu,
        pixel_stable: true,
        scan: Default::default(),
        demo_patients: None,
    });
    step_until(&mut harness, "the analysis and similar cases", |app| {
        app.analysis_finished() && app.selected_analyzed() && !app.similar_case_ids().is_empty()
    });
    // The similar cases of an eye outside the domain say what their nearness is worth.
    assert_eq!(
        harness
            .query_all_by_label_contains("need not mean clinically alike")
            .count(),
        1
    );
    for eye in [Eye::Right, Eye::Left] {
        if harness.state().shown_modality(eye).is_some() {
            assert_eq!(
                harness.state().shown_outside_domain(eye),
                Some(true),
                "{eye:?}"
            );
        }
    }
    assert!(
        harness
            .query_all_by_label_contains("outside the images this model was validated on")
            .count()
            >= 1
    );
    assert_eq!(harness.query_all_by_label_contains("REFER").count(), 0);
}

#[test]
fn a_failed_import_shows_its_reason_in_the_model_window() {
    let dir = tempfile::tempdir().expect("tmp");
    let bogus = dir.path().join("eyeclip_visual.pt");
    std::fs::write(&bogus, b"this is not a checkpoint").expect("write");
    let mut harness = headless(ViewerConfig {
        paths: vec![root().join("assets/demo/dicom")],
        pack: seeded_eyeclip_pack().clone(),
        library: None,
        model_on: ModelPlacement::Cpu,
        pixel_stable: true,
        scan: Default::default(),
        demo_patients: None,
    });
    harness.run_steps(2);
    let out = dir.path().join("imported");
    harness
        .state_mut()
        .import_checkpoint(bogus.clone(), "eyeclip", out.clone());
    step_until(&mut harness, "the import to end", |app| {
        !app.model_tool_running()
    });
    let failure = harness.get_by_label_contains("Failed:");
    let text = format!("{failure:?}");
    assert!(
        text.contains("eyeclip_visual.pt"),
        "the reason names the file: {text}"
    );
    assert!(!out.exists(), "nothing half-written");
    harness.get_by_label("Import a checkpoint");
}

#[test]
fn the_pack_card_shows_a_validated_packs_report() {
    let (studies, validated) = crate::support::validated_demo_pack();
    let mut harness = rendered(ViewerConfig {
        paths: vec![studies.join("dicom")],
        pack: validated.clone(),
        library: None,
        model_on: ModelPlacement::Cpu,
        pixel_stable: true,
        scan: Default::default(),
        demo_patients: None,
    });
    step_until(&mut harness, "the model", |app| app.pack_name().is_some());
    harness.state_mut().open_pack_card();
    harness.run_steps(3);
    harness.get_by_label("Pack card");
    harness.get_by_label_contains("Validation report (VALIDATION.md)");
    harness.get_by_label_contains("# Validation report: Fovea demo (synthetic)");
    assert!(harness.query_all_by_label_contains("validated at").count() >= 3);
    if let Ok(picture) = harness.render() {
        let _ = picture.save(std::env::temp_dir().join("fovea_pack_card.png"));
    }
}

/// The tiny Image+Fundus-layout checkpoint (whole DataParallel model, seeded by
/// tests/reference/resnet_reference.py) imported at its 256 px, made once.
fn image_fundus_pack() -> &'static PathBuf {
    static PACK: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    &PACK
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let pack = dir.path().join("image-fundus");
            let fovea::encoder::pack::Architecture::Resnet { mut config } =
                fovea::encoder::presets::preset("image-fundus").expect("preset")
            else {
                panic!("a ResNet preset")
            };
            config.image_size = 256;
            fovea::encoder::pack::import_checkpoint(
                &crate::support::reference_path("tiny_image_fundus_dataparallel.pth"),
                fovea::encoder::pack::Architecture::Resnet { config },
                &pack,
                &fovea::encoder::pack::ImportOptions {
                    name: "Image+Fundus layout (tiny, seeded)".to_string(),
                    version: "test".to_string(),
                    intended_use: fovea::encoder::pack::IMPORTED_INTENDED_USE.to_string(),
                    finding_set: None,
                },
            )
            .expect("imports");
            (dir, pack)
        })
        .1
}

/// A CNN pack: its head finding per eye, uncalibrated; the heatmap is classic Grad-CAM (the
/// only method offered) aimed at that finding; free text says there is no text encoder.
#[test]
fn screen_grad_cam_of_an_image_fundus_layout_pack() {
    let mut harness = rendered(ViewerConfig {
        paths: vec![root().join("assets/demo/dicom")],
        pack: image_fundus_pack().clone(),
        library: None,
        model_on: ModelPlacement::Cpu,
        pixel_stable: true,
        scan: Default::default(),
        demo_patients: None,
    });
    step_until(&mut harness, "the analysis and pixels", |app| {
        app.analysis_finished() && !app.decoding()
    });
    for eye in [Eye::Right, Eye::Left] {
        let ids = harness.state().eye_finding_ids(eye);
        assert!(ids.contains(&"abnormal"), "{eye:?}: {ids:?}");
    }
    assert!(harness.query_all_by_label_contains("uncalibrated").count() >= 2);
    assert_eq!(harness.query_all_by_label_contains("REFER").count(), 0);
    harness.get_by_label_contains("Free text is off for this model: it has no text encoder.");
    assert_eq!(
        harness.state().heatmap_methods(),
        vec![fovea::analysis::heatmap::HeatmapMethod::GradCam],
        "rollout and relevance are for ViTs"
    );
    harness.key_press(egui::Key::H);
    step_until(&mut harness, "the Grad-CAM maps", |app| {
        app.shown_heatmap(Eye::Right).is_some() && app.shown_heatmap(Eye::Left).is_some()
    });
    let (_, finding) = harness.state().shown_heatmap(Eye::Right).expect("a map");
    assert_eq!(finding.as_deref(), Some("abnormal"));
    harness.snapshot("viewer_image_fundus_grad_cam");
}

/// A patient with only a left eye opens on the OS column, not on an empty OD one; a file of
/// the opening that is not an image is listed with its reason.
#[test]
fn a_patient_with_one_eye_opens_on_that_eye() {
    let dir = tempfile::tempdir().expect("tmp");
    image::RgbImage::from_pixel(64, 64, image::Rgb([180, 90, 40]))
        .save(dir.path().join("Patient002_L.png"))
        .expect("image");
    std::fs::write(dir.path().join("export.lei"), b"a vendor's own format").expect("write");
    let mut harness = headless(ViewerConfig {
        paths: vec![dir.path().to_path_buf()],
        pack: root().join("models/demo"),
        library: None,
        model_on: ModelPlacement::Cpu,
        pixel_stable: true,
        scan: Default::default(),
        demo_patients: None,
    });
    step_until(&mut harness, "the patient", |app| {
        app.selected_patient() == Some("Patient002")
    });
    assert_eq!(harness.state().active_eye(), Eye::Left);
    harness.get_by_label_contains("1 skipped files");
}

/// An image without an eye gets the optic disc's suggestion in the findings panel; accepting
/// it moves the image to that eye for this session (the file is not changed) and the patient is
/// analyzed again.
#[test]
fn a_suggested_eye_is_accepted_with_one_click() {
    let demo = &crate::support::demo_set().root;
    let photo = walkdir::WalkDir::new(demo.join("png"))
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .map(|e| e.path().to_path_buf())
        .find(|p| p.to_string_lossy().ends_with("_OD_fundus.png"))
        .expect("a synthetic OD photograph");
    let dir = tempfile::tempdir().expect("tmp");
    let untagged = dir.path().join("untagged.png");
    std::fs::copy(&photo, &untagged).expect("copy");
    let before = std::fs::read(&untagged).expect("read");
    let mut harness = headless(ViewerConfig {
        paths: vec![dir.path().to_path_buf()],
        pack: root().join("models/demo"),
        library: None,
        model_on: ModelPlacement::Cpu,
        pixel_stable: true,
        scan: Default::default(),
        demo_patients: None,
    });
    step_until(&mut harness, "the analysis", FoveaApp::analysis_finished);
    assert!(
        harness.state().eye_finding_ids(Eye::Right).is_empty(),
        "before: no image counts for OD"
    );
    harness.get_by_label_contains("untagged.png: suggested OD");
    harness.get_by_label("Accept OD").click();
    harness.run_steps(2);
    step_until(
        &mut harness,
        "the analysis again",
        FoveaApp::analysis_finished,
    );
    let ids = harness.state().eye_finding_ids(Eye::Right);
    assert!(!ids.is_empty(), "the photograph now counts for OD: {ids:?}");
    assert_eq!(harness.state().active_eye(), Eye::Right);
    harness.get_by_label_contains("the optic disc's suggestion, accepted in this session");
    assert_eq!(
        std::fs::read(&untagged).expect("read"),
        before,
        "the file is not changed"
    );
}
