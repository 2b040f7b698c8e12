//! Guards on the dependency graph that the architecture relies on.

/// eframe (the viewer) and burn (the encoder) must resolve to one wgpu, so both can use one
/// GPU device; two versions would mean two devices and a larger build.
#[test]
fn exactly_one_wgpu_version_is_locked() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
        .expect("Cargo.lock is committed");
    let mut versions = Vec::new();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wgpu\"" {
            versions.push(lines.next().unwrap_or_default().to_string());
        }
    }
    assert_eq!(
        versions.len(),
        1,
        "wgpu versions in Cargo.lock: {versions:?}"
    );
    assert!(versions[0].starts_with("version = \"30."), "{versions:?}");
}

/// `fovea --version` names the library versions locked in `Cargo.lock`, and the bundled demo
/// model with its weights checksum.
#[test]
fn the_version_names_the_locked_libraries_and_the_demo_model() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
        .expect("Cargo.lock is committed");
    for (name, version) in fovea::cli::BUILT_WITH {
        let entry = format!("name = \"{name}\"\nversion = \"{version}\"");
        assert!(
            lock.contains(&entry),
            "{name} {version} is not what Cargo.lock has"
        );
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fovea"))
        .arg("--version")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run fovea");
    crate::support::assert_succeeded(&output);
    let text = String::from_utf8_lossy(&output.stdout);
    let manifest = fovea::encoder::pack::read_manifest(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/demo"
    )))
    .expect("demo manifest");
    assert!(
        text.starts_with(&format!("fovea {}\n", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains(&manifest.weights.sha256), "{text}");
    assert!(
        text.contains("burn 0.22.1") && text.contains("wgpu 30.0.1"),
        "{text}"
    );
}
