//! `fovea --version`: the build, the bundled demo model it would use, and the versions of the
//! libraries that decide its results (burn for the models, wgpu for the GPU, dicom-rs for
//! reading studies). `tests/integration/dependencies.rs` checks [`BUILT_WITH`] against
//! `Cargo.lock`.

use crate::encoder::pack::read_manifest;

use super::DataRoot;

/// The libraries whose versions a bug report needs, as locked in `Cargo.lock`.
pub const BUILT_WITH: [(&str, &str); 4] = [
    ("burn", "0.22.1"),
    ("wgpu", "30.0.1"),
    ("eframe", "0.37.0"),
    ("dicom-object", "0.10.1"),
];

/// The lines `fovea --version` prints.
pub fn version_text(data: &DataRoot) -> String {
    let demo_pack = data.demo_pack();
    let demo = match read_manifest(&demo_pack) {
        Ok(m) => format!(
            "demo model: {} v{}, weights SHA-256 {} ({}){}",
            m.name,
            m.version,
            m.weights.sha256,
            demo_pack.display(),
            if m.synthetic_training_data {
                " — trained on synthetic data only"
            } else {
                ""
            }
        ),
        Err(e) => format!("demo model: not found ({e})"),
    };
    let libraries: Vec<String> = BUILT_WITH
        .iter()
        .map(|(name, version)| format!("{name} {version}"))
        .collect();
    format!(
        "fovea {}\n{demo}\nbundled data: {} ({})\nbuilt with {}\n",
        env!("CARGO_PKG_VERSION"),
        data.root.display(),
        data.found_by,
        libraries.join(", ")
    )
}
