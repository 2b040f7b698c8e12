//! The metadata scan: paths (folders, files, DICOMDIRs) → a [`Catalog`] of patients, with
//! every unusable file listed with its reason. One broken file never stops the scan.
//!
//! Files are read on a few named worker threads (`fovea-scan-N`); Pixel Data is never read.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::dicom_meta::{DicomFileKind, ScannedImage, is_dicom, read_dicom_file};
use super::error::{StudyError, error_chain};
use super::file_names::NamePatterns;
use super::group::group_into_patients;
use super::model::{Catalog, UnreadableFile};
use super::plain::{is_plain_image, read_plain_image_named};
use crate::path_error::AtPath;

/// How far a scan has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanProgress {
    /// Files examined so far.
    pub files_done: usize,
    /// Files known so far (grows when a DICOMDIR adds its references).
    pub files_total: usize,
}

/// What became of one file.
enum FileOutcome {
    Image(Box<ScannedImage>),
    /// Several images from one file (a `.vol` export: its OCT volume and its SLO).
    Images(Vec<ScannedImage>),
    Directory(Vec<PathBuf>),
    Skipped(String),
    Failed(String),
}

/// How a scan reads what files do not say in their contents.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// How plain images' names give patient and eye.
    pub names: NamePatterns,
}

/// Scans folders and files with the default options; see [`scan_paths_with`] for options,
/// progress and cancellation.
pub fn scan_paths(paths: &[PathBuf]) -> Catalog {
    scan_paths_with(
        paths,
        &ScanOptions::default(),
        &|_| {},
        &AtomicBool::new(false),
    )
}

/// Scans folders and files, calling `progress` after each file; stops early (returning what
/// it has) when `cancel` becomes true.
pub fn scan_paths_with(
    paths: &[PathBuf],
    options: &ScanOptions,
    progress: &(dyn Fn(ScanProgress) + Sync),
    cancel: &AtomicBool,
) -> Catalog {
    let mut catalog = Catalog::default();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut queue: Vec<PathBuf> = Vec::new();
    for path in paths {
        expand_input(path, &mut queue, &mut catalog.unreadable);
    }
    let mut scanned: Vec<ScannedImage> = Vec::new();
    let done = AtomicUsize::new(0);
    let mut total = 0;
    while !queue.is_empty() && !cancel.load(Ordering::Relaxed) {
        let batch: Vec<PathBuf> = std::mem::take(&mut queue)
            .into_iter()
            .filter(|p| seen.insert(canonical(p)))
            .collect();
        total += batch.len();
        let outcomes = scan_batch(
            &batch,
            options,
            &|| {
                let files_done = done.fetch_add(1, Ordering::Relaxed) + 1;
                progress(ScanProgress {
                    files_done,
                    files_total: total,
                });
            },
            cancel,
        );
        for (path, outcome) in outcomes {
            match outcome {
                FileOutcome::Image(image) => scanned.push(*image),
                FileOutcome::Images(images) => scanned.extend(images),
                FileOutcome::Directory(files) => {
                    catalog.media_directories.push(path);
                    queue.extend(files);
                }
                FileOutcome::Skipped(reason) => {
                    catalog.skipped.push(UnreadableFile { path, reason })
                }
                FileOutcome::Failed(reason) => {
                    catalog.unreadable.push(UnreadableFile { path, reason })
                }
            }
        }
    }
    catalog.patients = group_into_patients(scanned);
    catalog.unreadable.sort_by(|a, b| a.path.cmp(&b.path));
    catalog.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    catalog.media_directories.sort();
    catalog
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A folder becomes its files (recursively, sorted, hidden files skipped); a file stays.
fn expand_input(path: &Path, queue: &mut Vec<PathBuf>, unreadable: &mut Vec<UnreadableFile>) {
    if path.is_file() {
        queue.push(path.to_path_buf());
        return;
    }
    if !path.exists() {
        unreadable.push(UnreadableFile {
            path: path.to_path_buf(),
            reason: "no such file or folder".into(),
        });
        return;
    }
    let walker = walkdir::WalkDir::new(path)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        match entry {
            Ok(e) if e.file_type().is_file() => queue.push(e.into_path()),
            Ok(_) => {}
            Err(e) => unreadable.push(UnreadableFile {
                path: e
                    .path()
                    .map_or_else(|| path.to_path_buf(), Path::to_path_buf),
                reason: error_chain(&e),
            }),
        }
    }
}

/// Examines a batch of files on worker threads; results come back in input order.
fn scan_batch(
    batch: &[PathBuf],
    options: &ScanOptions,
    on_file_done: &(dyn Fn() + Sync),
    cancel: &AtomicBool,
) -> Vec<(PathBuf, FileOutcome)> {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8)
        .min(batch.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<FileOutcome>>> =
        Mutex::new((0..batch.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for worker in 0..workers {
            let spawned = std::thread::Builder::new()
                .name(format!("fovea-scan-{worker}"))
                .spawn_scoped(scope, || {
                    loop {
                        if cancel.load(Ordering::Relaxed) {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = batch.get(i) else { break };
                        let outcome = examine_file(path, options);
                        if let Ok(mut slots) = results.lock() {
                            slots[i] = Some(outcome);
                        }
                        on_file_done();
                    }
                });
            if spawned.is_err() {
                // Could not start a thread: the remaining workers (or the loop below) do the work.
                break;
            }
        }
    });
    let slots = results
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    batch
        .iter()
        .cloned()
        .zip(slots)
        .map(|(path, slot)| {
            let outcome = slot.unwrap_or_else(|| {
                if cancel.load(Ordering::Relaxed) {
                    FileOutcome::Skipped("scan cancelled before this file".into())
                } else {
                    examine_file(&path, options)
                }
            });
            (path, outcome)
        })
        .collect()
}

/// Classifies and reads one file's metadata.
fn examine_file(path: &Path, options: &ScanOptions) -> FileOutcome {
    match examine_file_inner(path, options) {
        Ok(outcome) => outcome,
        Err(e) => {
            // The catalog pairs the reason with the path: do not say the path twice.
            let message = error_chain(&e);
            let prefix = format!("{}: ", path.display());
            FileOutcome::Failed(
                message
                    .strip_prefix(&prefix)
                    .map_or(message.clone(), str::to_string),
            )
        }
    }
}

fn examine_file_inner(path: &Path, options: &ScanOptions) -> Result<FileOutcome, StudyError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if name.eq_ignore_ascii_case("patient.json")
        || (name.ends_with(".json") && has_image_twin(path))
    {
        return Ok(FileOutcome::Skipped("sidecar of an image".into()));
    }
    if is_dicom(path)? {
        return Ok(match read_dicom_file(path)? {
            DicomFileKind::Image(image) => FileOutcome::Image(image),
            DicomFileKind::Directory(files) => FileOutcome::Directory(files),
            DicomFileKind::NotAnImage { sop_class_uid } => FileOutcome::Skipped(format!(
                "DICOM without an image (SOP class {sop_class_uid})"
            )),
        });
    }
    if super::heidelberg_vol::has_vol_magic(&file_start(path)?) {
        return Ok(FileOutcome::Images(super::vol_records::scanned_images(
            path,
        )?));
    }
    if is_plain_image(path) {
        return Ok(FileOutcome::Image(Box::new(read_plain_image_named(
            path,
            &options.names,
        )?)));
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if extension == "dcm" || extension == "dicom" || name.eq_ignore_ascii_case("DICOMDIR") {
        // Named like DICOM but without the Part 10 header: say so instead of skipping quietly.
        return Err(StudyError::UnknownFormat {
            path: path.to_path_buf(),
        });
    }
    Ok(FileOutcome::Skipped(
        "not a DICOM file or a supported image".into(),
    ))
}

/// The first bytes of a file (fewer when it is shorter).
fn file_start(path: &Path) -> Result<Vec<u8>, StudyError> {
    use std::io::Read;
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(path)
        .at_path(path)?
        .take(16)
        .read_to_end(&mut head)
        .at_path(path)?;
    Ok(head)
}

fn has_image_twin(json: &Path) -> bool {
    super::plain::PLAIN_IMAGE_EXTENSIONS
        .iter()
        .any(|ext| json.with_extension(ext).exists())
}
