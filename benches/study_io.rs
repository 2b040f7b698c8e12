//! Benchmark: metadata scan of a folder, decode of a multi-frame OCT and of a JPEG fundus,
//! and what the length guard (`study::dicom_lengths`, run before every DICOM read) costs of
//! the scan: the guard alone over the same files, to the pixel data and through it.
//! Run by `benches/run_study_io.sh`, which times pydicom on the same files in the same run.
//!
//! Usage: `study_io <scan-folder> <oct.dcm> <jpeg-fundus.dcm> [repeats]`

use std::path::{Path, PathBuf};
mod common;

use common::time;

use fovea::study::dicom_lengths::check_part10;
use fovea::study::dicom_meta::read_dicom_file;
use fovea::study::pixels::decode_dicom_file;
use fovea::study::scan_paths;

fn dicom_files(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "dcm"))
        .map(|e| e.into_path())
        .collect()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.is_empty() {
        println!("study_io: nothing to measure without files; run benches/run_study_io.sh");
        return Ok(());
    }
    let [folder, oct, fundus, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: study_io <scan-folder> <oct.dcm> <jpeg-fundus.dcm> [repeats]");
    };
    let repeats: usize = rest.first().map_or(Ok(7), |r| r.parse())?;
    let folder = PathBuf::from(folder);
    let files = dicom_files(&folder);
    let scan = time(repeats, || scan_paths(std::slice::from_ref(&folder)));
    let scan_one_thread = time(repeats, || {
        files.iter().filter(|f| read_dicom_file(f).is_ok()).count()
    });
    let guard_to_pixels = time(repeats, || {
        files
            .iter()
            .filter(|f| check_part10(f, true).is_ok())
            .count()
    });
    let guard_whole = time(repeats, || {
        files
            .iter()
            .filter(|f| check_part10(f, false).is_ok())
            .count()
    });
    let catalog = scan_paths(std::slice::from_ref(&folder));
    anyhow::ensure!(
        catalog.unreadable.is_empty(),
        "benchmark folder has unreadable files"
    );
    let oct_time = time(repeats, || {
        decode_dicom_file(Path::new(oct)).map(|d| d.frames)
    });
    let fundus_time = time(repeats, || {
        decode_dicom_file(Path::new(fundus)).map(|d| d.rows)
    });
    let oct_info = decode_dicom_file(Path::new(oct))?;
    let fundus_info = decode_dicom_file(Path::new(fundus))?;
    println!(
        "fovea\tscan_{}_files_parallel_ms\t{:.1}",
        files.len(),
        scan.as_secs_f64() * 1e3
    );
    println!(
        "fovea\tscan_{}_files_1thread_ms\t{:.1}",
        files.len(),
        scan_one_thread.as_secs_f64() * 1e3
    );
    println!(
        "fovea\tlength_guard_{}_files_to_pixel_data_ms\t{:.1}",
        files.len(),
        guard_to_pixels.as_secs_f64() * 1e3
    );
    println!(
        "fovea\tlength_guard_{}_files_whole_ms\t{:.1}",
        files.len(),
        guard_whole.as_secs_f64() * 1e3
    );
    println!(
        "fovea\tdecode_oct_{}x{}x{}_ms\t{:.2}",
        oct_info.columns,
        oct_info.rows,
        oct_info.frames,
        oct_time.as_secs_f64() * 1e3
    );
    println!(
        "fovea\tdecode_jpeg_fundus_{}x{}_ms\t{:.2}",
        fundus_info.columns,
        fundus_info.rows,
        fundus_time.as_secs_f64() * 1e3
    );
    Ok(())
}
