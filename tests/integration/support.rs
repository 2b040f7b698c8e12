//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use fovea::synth::dicom_writer::PixelEncoding;
use fovea::synth::oct::OctGeometry;
use fovea::synth::{DemoConfig, GroundTruth, generate};

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The vendored pydicom test files.
pub fn pydicom_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pydicom")
}

/// A small demo configuration that renders quickly in debug builds.
pub fn small_config(seed: u64, patients: usize, encoding: PixelEncoding) -> DemoConfig {
    DemoConfig {
        patients,
        seed,
        encoding,
        write_png: true,
        fundus_px: 256,
        slo_px: 192,
        oct: OctGeometry {
            ascans: 96,
            depth_px: 96,
            bscans: 9,
            scan_mm: 6.0,
            depth_mm: 1.2,
        },
    }
}

/// A generated small demo set, made once per test run and shared.
pub struct DemoSet {
    /// Keeps the folder alive.
    pub _dir: tempfile::TempDir,
    /// Its root.
    pub root: PathBuf,
    /// What was written.
    pub truth: GroundTruth,
}

/// Four patients (one per condition), uncompressed DICOM + PNG.
pub fn demo_set() -> &'static DemoSet {
    static SET: OnceLock<DemoSet> = OnceLock::new();
    SET.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().to_path_buf();
        let truth = generate(&root, &small_config(7, 4, PixelEncoding::ExplicitLe))
            .expect("generate demo set");
        DemoSet {
            _dir: dir,
            root,
            truth,
        }
    })
}

/// Runs `f` on another thread, failing the test if it panics or takes longer than `secs`.
pub fn within_seconds<T: Send + 'static>(
    secs: u64,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name(format!("test-{what}"))
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(result);
        })
        .expect("spawn");
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err(format!("{what}: panicked")),
        Err(_) => Err(format!("{what}: did not finish within {secs} s")),
    }
}

/// A content hash of every file under `dir`, to prove nothing was written.
pub fn tree_fingerprint(dir: &Path) -> Vec<(PathBuf, u64, u64)> {
    use std::hash::{Hash, Hasher};
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.expect("walk");
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path()).expect("read");
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            let modified = entry.metadata().expect("meta").modified().expect("mtime");
            let secs = modified
                .duration_since(std::time::UNIX_EPOCH)
                .expect("epoch")
                .as_nanos() as u64;
            out.push((entry.path().to_path_buf(), h.finish(), secs));
        }
    }
    out
}

/// A tensor of a reference file under tests/data/reference: its shape and raw little-endian bytes.
pub fn reference_tensor(file: &str, name: &str) -> (Vec<usize>, Vec<u8>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/reference")
        .join(file);
    let bytes = std::fs::read(&path).expect("reference file is committed");
    let tensors = safetensors::SafeTensors::deserialize(&bytes).expect("safetensors");
    let view = tensors.tensor(name).expect("tensor present");
    (view.shape().to_vec(), view.data().to_vec())
}

/// Little-endian f32 values.
pub fn f32s(raw: &[u8]) -> Vec<f32> {
    raw.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect()
}

/// Little-endian i64 values.
pub fn i64s(raw: &[u8]) -> Vec<i64> {
    raw.chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

/// Largest absolute difference between two equally long vectors.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A float tensor of a reference file: its shape and values.
pub fn reference_floats(file: &str, name: &str) -> (Vec<usize>, Vec<f32>) {
    let (shape, raw) = reference_tensor(file, name);
    (shape, f32s(&raw))
}

/// A reference float tensor on `device`.
pub fn reference_on<const D: usize>(
    file: &str,
    name: &str,
    device: &burn::prelude::Device,
) -> burn::prelude::Tensor<D> {
    let (shape, values) = reference_floats(file, name);
    burn::prelude::Tensor::from_data(burn::tensor::TensorData::new(values, shape), device)
}

/// A tensor's values.
pub fn values<const D: usize>(tensor: burn::prelude::Tensor<D>) -> Vec<f32> {
    tensor.into_data().try_to_vec::<f32>().expect("f32")
}

/// Asserts `got` is within `tolerance` of the reference tensor `name` in `file`.
pub fn assert_close<const D: usize>(
    got: burn::prelude::Tensor<D>,
    file: &str,
    name: &str,
    tolerance: f32,
    context: &str,
) {
    let (shape, want) = reference_floats(file, name);
    assert_eq!(got.dims().to_vec(), shape, "{context}: {name} shape");
    let diff = max_abs_diff(&values(got), &want);
    assert!(
        diff < tolerance,
        "{context}: {name} differs from the reference by {diff}"
    );
}

/// Runs `fovea model import --arch <arch> [--arch-config <json>] <checkpoint> <out>`; the
/// sizes are written to `dir/arch.json` when given.
pub fn import_pack(
    dir: &Path,
    arch: &str,
    config_json: Option<&str>,
    checkpoint: &Path,
    out: &Path,
) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_fovea"));
    command.args([
        "model",
        "import",
        "--arch",
        arch,
        "--name",
        &format!("tiny {arch} (test)"),
    ]);
    if let Some(json) = config_json {
        let config = dir.join(format!("{arch}.json"));
        std::fs::write(&config, json).expect("config");
        command.arg("--arch-config").arg(config);
    }
    command
        .arg(checkpoint)
        .arg(out)
        .output()
        .expect("run fovea")
}

/// The committed reference file `name`.
pub fn reference_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/reference")
        .join(name)
}

/// A JSON array of numbers as f32 values (embeddings printed by `fovea model embed --json`).
pub fn json_floats(value: &serde_json::Value) -> Vec<f32> {
    value
        .as_array()
        .expect("an array of numbers")
        .iter()
        .map(|v| v.as_f64().expect("number") as f32)
        .collect()
}

/// Fails the test with the command's stderr unless it exited successfully.
#[track_caller]
pub fn assert_succeeded(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The real material (`../shared/data/real`), or `None` after saying the test is skipped:
/// a user's fresh clone has no `../shared`.
#[allow(clippy::print_stderr)] // the skip message is this helper's job
pub fn real_material(sub: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/real")
        .join(sub);
    if dir.exists() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: {} is absent (a fresh clone has no ../shared)",
            dir.display()
        );
        None
    }
}

/// The demo pack validated (`fovea model validate`, sensitivity 0.9) on 120 small labelled
/// synthetic patients, made once per test run: (the labelled studies, the validated pack).
pub fn validated_demo_pack() -> &'static (PathBuf, PathBuf) {
    static PACK: OnceLock<(tempfile::TempDir, (PathBuf, PathBuf))> = OnceLock::new();
    &PACK
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let studies = dir.path().join("labelled");
            generate(
                &studies,
                &small_config(4242, 120, PixelEncoding::ExplicitLe),
            )
            .expect("labelled patients");
            let out = dir.path().join("validated");
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_fovea"))
                .args([
                    "model",
                    "validate",
                    "--device",
                    "cpu",
                    "--sensitivity",
                    "0.9",
                ])
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/demo"))
                .arg(&studies)
                .arg("--out")
                .arg(&out)
                .output()
                .expect("run fovea");
            assert_succeeded(&output);
            (dir, (studies, out))
        })
        .1
}

/// `fovea analyze --format json --device cpu --pack <pack> <paths…>`, parsed.
pub fn analyze_json(pack: &Path, paths: &[&Path]) -> serde_json::Value {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fovea"))
        .args(["analyze", "--format", "json", "--device", "cpu", "--pack"])
        .arg(pack)
        .args(paths)
        .output()
        .expect("run");
    assert_succeeded(&output);
    serde_json::from_slice(&output.stdout).expect("json")
}
