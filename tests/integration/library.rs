//! The case library on the bundled demo patients with the demo model: what is stored (and what
//! is not: no patient identifiers), retrieval of an image and an eye finding themselves first,
//! filters, aggregates, duplicates skipped, another pack refused, and a `library add` killed
//! midway leaving a whole library that a second `add` completes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fovea::analysis::engine::Analyzer;
use fovea::encoder::device::DeviceChoice;
use fovea::encoder::session::EncoderSession;
use fovea::library::build::{add_catalog, create_library};
use fovea::library::labels::Labels;
use fovea::library::search::{Filter, Searcher, aggregate};
use fovea::library::{Library, LibraryError};
use fovea::study::{Eye, Modality, scan_paths};
use fovea::synth::dicom_writer::PixelEncoding;

use super::support::small_config;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn demo_analyzer() -> Analyzer {
    let session =
        EncoderSession::open(&root().join("models/demo"), DeviceChoice::Cpu).expect("demo pack");
    Analyzer::new(session).expect("prompts embed")
}

fn demo_labels() -> Labels {
    Labels::read(&root().join("assets/demo/ground_truth.json")).expect("ground truth")
}

#[test]
fn a_library_of_the_demo_patients_finds_each_image_and_eye_first_and_keeps_no_identifiers() {
    let analyzer = demo_analyzer();
    let labels = demo_labels();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("library");
    let catalog = scan_paths(&[root().join("assets/demo/dicom")]);
    let mut library = create_library(&path, &analyzer, &labels, false, None).expect("create");
    let report =
        add_catalog(&mut library, &analyzer, &catalog, &labels, &mut |_| {}).expect("build");
    assert_eq!(report.patients, 4, "{:?}", report.skipped);
    assert_eq!(report.added.images, 24);
    assert_eq!(report.added.eyes, 8);
    assert!(library.verify().expect("verify").is_empty());
    assert_eq!(
        library.meta().finding_ids,
        ["referable_dr", "glaucoma", "amd"]
    );

    // No identifier in the store: neither patient ids nor names, in any table.
    let bytes = std::fs::read(path.join("library.redb")).expect("store");
    let text = String::from_utf8_lossy(&bytes);
    for patient in &catalog.patients {
        assert!(
            !text.contains(&patient.info.id),
            "{} stored",
            patient.info.id
        );
        if let Some(name) = &patient.info.name
            && !name.is_empty()
        {
            assert!(!text.contains(name.as_str()), "{name} stored");
        }
    }

    // Retrieval: each image finds itself first, same modality by filter; eyes likewise.
    let searcher = Searcher::open(&library).expect("searcher");
    assert_eq!(searcher.counts(), (24, 8));
    assert_eq!(searcher.index_kinds(), ("exact", "exact"));
    let patient = &catalog.patients[0];
    let result = analyzer.analyze_patient(patient).expect("analysis");
    let case_id = library.case_id(&patient.info.id);
    for image in &result.images {
        let vector = image.vector.as_ref().expect("gradable");
        let filter = Filter {
            modality: Some(image.modality),
            ..Filter::default()
        };
        let hits = searcher.similar_images(vector, 5, &filter).expect("search");
        assert_eq!(hits.len(), 5);
        assert!(hits.iter().all(|h| h.record.modality == image.modality));
        assert!(hits[0].similarity > 0.999, "{}", hits[0].similarity);
        assert_eq!(hits[0].record.case_id, case_id);
        assert_eq!(hits[0].record.eye, image.eye);
        assert!(hits[0].record.patient_id.is_none());
        assert!(hits.windows(2).all(|w| w[0].similarity >= w[1].similarity));
        let jpeg = searcher
            .thumbnail(hits[0].id)
            .expect("read")
            .expect("thumbnail");
        let thumbnail = image::load_from_memory(&jpeg).expect("jpeg");
        assert_eq!(thumbnail.width().max(thumbnail.height()), 128);
    }
    for eye in &result.eyes {
        let fused = eye.fused.as_ref().expect("eye result");
        let hits = searcher
            .similar_eyes(fused, 8, &Filter::default())
            .expect("eyes");
        assert_eq!(hits.len(), 8);
        assert!(hits[0].similarity > 0.999);
        assert_eq!(
            (hits[0].record.case_id.as_str(), hits[0].record.eye),
            (case_id.as_str(), eye.eye)
        );
        assert_eq!(hits[0].record.image_ids.len(), 3);
        let only_left = Filter {
            eye: Some(Eye::Left),
            ..Filter::default()
        };
        let left = searcher
            .similar_eyes(fused, 8, &only_left)
            .expect("left eyes");
        assert_eq!(left.len(), 4);
        assert!(left.iter().all(|h| h.record.eye == Eye::Left));
        let findings: Vec<&[String]> = hits.iter().map(|h| h.record.findings.as_slice()).collect();
        let counts = aggregate(&library.meta().finding_ids, &findings);
        // One demo patient per condition: DR is bilateral (two eyes), glaucoma and AMD may
        // be one-eyed, so at most two of the eight eyes have each finding.
        assert!(
            counts
                .iter()
                .all(|c| c.of == 8 && c.with <= 2 && c.with >= 1),
            "{counts:?}"
        );
    }
    let dr = Filter {
        finding: Some("referable_dr".into()),
        modality: Some(Modality::ColourFundus),
        ..Filter::default()
    };
    let query = result.images[0].vector.as_ref().expect("vector");
    let dr_hits = searcher.similar_images(query, 10, &dr).expect("dr");
    assert!(!dr_hits.is_empty());
    assert!(
        dr_hits
            .iter()
            .all(|h| h.record.findings.iter().any(|f| f == "referable_dr"))
    );

    // The same studies again add nothing; another pack is refused by name.
    let again =
        add_catalog(&mut library, &analyzer, &catalog, &labels, &mut |_| {}).expect("again");
    assert_eq!((again.added.images, again.added.duplicates), (0, 24));
    let error = library
        .check_pack("EyeCLIP", &"0".repeat(64))
        .expect_err("another pack");
    assert!(matches!(error, LibraryError::OtherPack { .. }));
    assert!(error.to_string().contains("cannot be mixed"), "{error}");
    let occupied = create_library(&path, &analyzer, &labels, false, None);
    assert!(matches!(occupied, Err(LibraryError::Occupied(_))));

    // One writer at a time, readers shared; a reader cannot write.
    let busy = Library::open_read_only(&path);
    assert!(
        matches!(busy, Err(LibraryError::Busy(_))),
        "{:?}",
        busy.err()
    );
    drop((searcher, library));
    let mut first = Library::open_read_only(&path).expect("reader");
    let second = Library::open_read_only(&path).expect("second reader");
    assert_eq!(second.counts().expect("counts"), (24, 8));
    let refused = first.add_case(Default::default());
    assert!(
        matches!(refused, Err(LibraryError::ReadOnly(_))),
        "{refused:?}"
    );
}

fn case_image_counts(library: &Path) -> std::collections::BTreeMap<String, usize> {
    let library = Library::open(library).expect("reopens");
    assert!(library.verify().expect("verify").is_empty());
    let searcher = Searcher::open(&library).expect("searcher");
    let (images, _) = searcher.counts();
    let mut counts = std::collections::BTreeMap::new();
    // Every image, found through a filter-free search with a zero query (all similarities 0).
    let zero = vec![0.0; library.meta().image_dim];
    for hit in searcher
        .similar_images(&zero, images, &Filter::default())
        .expect("all")
    {
        *counts.entry(hit.record.case_id).or_insert(0) += 1;
    }
    counts
}

#[test]
fn a_killed_library_add_leaves_whole_patients_and_a_second_add_completes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let studies = dir.path().join("studies");
    let mut config = small_config(77, 8, PixelEncoding::ExplicitLe);
    config.write_png = false;
    fovea::synth::generate(&studies, &config).expect("studies");
    let library = dir.path().join("library");
    let fovea = env!("CARGO_BIN_EXE_fovea");
    let pack = root().join("models/demo");
    let built = Command::new(fovea)
        .args(["library", "build"])
        .arg(root().join("assets/demo/dicom"))
        .arg("--labels")
        .arg(root().join("assets/demo/ground_truth.json"))
        .arg("--out")
        .arg(&library)
        .arg("--pack")
        .arg(&pack)
        .args(["--device", "cpu"])
        .output()
        .expect("build runs");
    crate::support::assert_succeeded(&built);
    let before = case_image_counts(&library);
    assert_eq!(before.len(), 4);

    let add = || {
        let mut command = Command::new(fovea);
        command
            .args(["library", "add"])
            .arg(&library)
            .arg(&studies)
            .arg("--pack")
            .arg(&pack)
            .args(["--device", "cpu"]);
        command
    };
    let mut child = add()
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("add runs");
    let stderr = child.stderr.take().expect("stderr");
    for line in BufReader::new(stderr).lines() {
        if line.expect("line").starts_with("added 3/8") {
            break;
        }
    }
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the add finished before it was killed");

    // The library opens whole, with the patients committed before the kill.
    let after_kill = case_image_counts(&library);
    assert!(
        after_kill.len() >= 4 + 3 && after_kill.len() < 4 + 8,
        "{after_kill:?}"
    );

    let completed = add().output().expect("add again");
    crate::support::assert_succeeded(&completed);
    let stdout = String::from_utf8_lossy(&completed.stdout);
    let finished = case_image_counts(&library);
    assert_eq!(finished.len(), 12);
    // Whole patients only: each case committed before the kill has all the images it has
    // once the add is complete, and the second add skipped exactly those.
    for (case, n) in &after_kill {
        assert_eq!(finished.get(case), Some(n), "{case} was cut short");
    }
    let already: usize = after_kill
        .iter()
        .filter(|(case, _)| !before.contains_key(*case))
        .map(|(_, n)| n)
        .sum();
    assert!(
        stdout.contains(&format!("({already} already there)")),
        "{stdout}"
    );
}

#[test]
fn the_bundled_demo_library_is_whole_and_built_with_the_bundled_demo_model() {
    let library = Library::open_read_only(&root().join("assets/library")).expect("bundled library");
    let session =
        EncoderSession::open(&root().join("models/demo"), DeviceChoice::Cpu).expect("demo pack");
    let manifest = session.manifest();
    library
        .check_pack(&manifest.name, &manifest.weights.sha256)
        .expect("rebuild it with packaging/make-demo-library.sh after re-training the demo model");
    assert!(library.meta().synthetic_pack);
    assert!(!library.meta().keep_identifiers);
    assert!(library.verify().expect("verify").is_empty());
    let searcher = Searcher::open(&library).expect("searcher");
    let (images, eyes) = searcher.counts();
    assert!(images >= 150 && eyes >= 50, "{images} images, {eyes} eyes");
    // Every finding of the demo model has reference cases.
    let zero = vec![0.0; library.meta().eye_dim];
    for finding in &library.meta().finding_ids {
        let filter = Filter {
            finding: Some(finding.clone()),
            ..Filter::default()
        };
        let hits = searcher.similar_eyes(&zero, eyes, &filter).expect("search");
        assert!(hits.len() >= 4, "{finding}: {} eyes", hits.len());
    }
}

#[test]
fn library_search_prints_similar_cases_with_the_aggregate_and_the_model_that_made_them() {
    let fovea = env!("CARGO_BIN_EXE_fovea");
    let run = |args: &[&str]| {
        let output = Command::new(fovea)
            .arg("library")
            .arg("search")
            .arg(root().join("assets/library"))
            .args(args)
            .arg("--pack")
            .arg(root().join("models/demo"))
            .args(["--device", "cpu", "--json"])
            .output()
            .expect("search runs");
        crate::support::assert_succeeded(&output);
        serde_json::from_slice::<serde_json::Value>(&output.stdout).expect("json")
    };
    let fundus = root().join("assets/demo/dicom/SYN010001/SYN010001_OD_fundus.dcm");
    let fundus = fundus.to_string_lossy();
    for (args, level, k) in [
        (vec!["--image", &*fundus, "--k", "7"], "image", 7),
        (vec!["--image", &*fundus, "--eye-level"], "eye", 10),
        (
            vec!["--text", "hard exudates near the fovea", "--k", "5"],
            "image",
            5,
        ),
    ] {
        let json = run(&args);
        assert_eq!(json["level"], level, "{json}");
        let hits = json["hits"].as_array().expect("hits");
        assert_eq!(hits.len(), k, "{json}");
        assert!(
            json["model"]
                .as_str()
                .expect("model")
                .contains("trained on synthetic data only")
        );
        let unit = if level == "eye" { "eyes" } else { "images" };
        let aggregates = json["aggregates"].as_array().expect("aggregates");
        assert_eq!(aggregates.len(), 3);
        assert!(
            aggregates[0]
                .as_str()
                .expect("line")
                .contains(&format!(" of the {k} most similar {unit} have ")),
            "{json}"
        );
        if args[0] == "--image" {
            assert_eq!(
                json["model_probabilities"].as_array().expect("own").len(),
                3
            );
            if level == "image" {
                assert!(
                    hits.iter().all(|h| h["modalities"][0] == "colour_fundus"),
                    "{json}"
                );
            }
        }
    }
    // A library refuses a query embedded by another pack.
    let dir = tempfile::tempdir().expect("tempdir");
    let other = dir.path().join("other-pack");
    std::fs::create_dir_all(&other).expect("dir");
    for file in ["manifest.json", "weights.safetensors"] {
        std::fs::copy(root().join("models/demo").join(file), other.join(file)).expect("copy");
    }
    let manifest = other.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let sha = serde_json::from_str::<serde_json::Value>(&text).expect("json")["weights"]["sha256"]
        .as_str()
        .expect("sha")
        .to_string();
    // Change one weight byte and record the new checksum: a different, valid pack.
    let weights = other.join("weights.safetensors");
    let mut bytes = std::fs::read(&weights).expect("weights");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&weights, &bytes).expect("write");
    let new_sha: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    std::fs::write(&manifest, text.replace(&sha, &new_sha)).expect("manifest");
    let output = Command::new(fovea)
        .arg("library")
        .arg("search")
        .arg(root().join("assets/library"))
        .args(["--text", "drusen", "--pack"])
        .arg(&other)
        .args(["--device", "cpu"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot be mixed"), "{stderr}");
}
