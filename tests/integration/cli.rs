//! The `fovea` binary as a user runs it.

use std::process::Command;

use crate::support::{demo_set, pydicom_dir};

fn fovea() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fovea"))
}

#[test]
fn studies_json_lists_patients_and_exits_zero_on_clean_data() {
    let set = demo_set();
    let output = fovea()
        .arg("studies")
        .arg(set.root.join("dicom"))
        .arg("--json")
        .output()
        .expect("run");
    crate::support::assert_succeeded(&output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    assert_eq!(
        json["patients"].as_array().expect("patients").len(),
        set.truth.patients.len()
    );
    assert_eq!(json["patients"][0]["studies"][0]["eyes"][0]["eye"], "OD");
}

#[test]
fn studies_reports_unreadable_files_and_exits_two() {
    let output = fovea()
        .arg("studies")
        .arg(pydicom_dir())
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("unreadable:"));
    assert!(
        text.contains("MR_truncated.dcm") || text.contains("no_meta.dcm"),
        "{text}"
    );
}

/// A file named on the command line that is skipped is printed with its reason, and the exit
/// status says so; the same file inside a named folder is only counted as skipped.
#[test]
fn studies_names_a_skipped_file_that_was_asked_for() {
    let dir = tempfile::tempdir().expect("tmp");
    let odd = dir.path().join("export.lei");
    std::fs::write(&odd, b"not an image at all").expect("write");
    let output = fovea().arg("studies").arg(&odd).output().expect("run");
    assert_eq!(
        output.status.code(),
        Some(2),
        "a named file that was skipped"
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("export.lei: not a DICOM file or a supported image"),
        "{text}"
    );
    let folder = fovea()
        .arg("studies")
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(
        folder.status.code(),
        Some(0),
        "in a folder, skipping is normal"
    );
}

#[test]
fn studies_on_a_missing_path_says_so() {
    let output = fovea()
        .arg("studies")
        .arg("/no/such/folder")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stdout).contains("no such file or folder"));
}

/// A clinic's own naming (`OD_0042.png`, eye first) is read with `--name-pattern`: the files
/// become one patient with both eyes, and `fovea studies` says which pattern it used. Without
/// the pattern they stay one patient each; a pattern without an `eye` group is refused with
/// what to write instead.
#[test]
fn studies_reads_file_names_with_a_users_pattern() {
    let dir = tempfile::tempdir().expect("tmp");
    for name in ["OD_0042.png", "OS_0042.png", "OS_0043.png"] {
        image::RgbImage::from_pixel(8, 6, image::Rgb([200, 80, 30]))
            .save(dir.path().join(name))
            .expect("image");
    }
    let pattern = r"(?P<eye>OD|OS)_(?P<patient>\d+)";
    let output = fovea()
        .args(["studies", "--json", "--name-pattern", pattern])
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    let catalog: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let ids: Vec<&str> = catalog["patients"]
        .as_array()
        .expect("patients")
        .iter()
        .filter_map(|p| p["info"]["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["0042", "0043"], "{catalog}");
    let tree = fovea()
        .args(["studies", "--name-pattern", pattern])
        .arg(dir.path())
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&tree.stdout);
    assert!(
        text.contains("the pattern given with --name-pattern"),
        "{text}"
    );
    assert!(text.contains("OD") && text.contains("OS"), "{text}");

    let plain = fovea()
        .args(["studies", "--json"])
        .arg(dir.path())
        .output()
        .expect("run");
    let catalog: serde_json::Value = serde_json::from_slice(&plain.stdout).expect("JSON");
    assert_eq!(
        catalog["patients"].as_array().map(Vec::len),
        Some(3),
        "the built-in patterns do not read eye-first names: {catalog}"
    );

    let refused = fovea()
        .args(["studies", "--name-pattern", r"(?P<patient>\d+)_(OD|OS)"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(error.contains("no group named `eye`"), "{error}");
}
