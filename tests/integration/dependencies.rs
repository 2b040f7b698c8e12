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
