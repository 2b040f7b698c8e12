//! The `.deb` as a user gets it: built by `packaging/package.sh` from this test build's binary
//! (uncompressed, to save CI minutes; the files are those of the release package), installed
//! with dpkg, run from `/usr/bin` away from the source tree (`--version`, `analyze` on the
//! installed demo patients, the viewer under Xvfb), then purged, leaving none of its files.
//!
//! Installing needs root and changes the machine, so the test runs where it is root (CI) and
//! skips with a message elsewhere; it also skips when a `fovea` package is already installed,
//! which it must not remove.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{assert_succeeded, root};

const INSTALLED_BINARY: &str = "/usr/bin/fovea";
const INSTALLED_DATA: &str = "/usr/share/fovea";

/// Why this machine cannot run the install cycle, if it cannot.
fn cannot_install() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root (dpkg -i needs it; CI runs as root)".into());
    }
    if Command::new("dpkg-deb").arg("--version").output().is_err() {
        return Some("no dpkg-deb (not a Debian-family system)".into());
    }
    let installed = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "fovea"])
        .output()
        .ok()?;
    if String::from_utf8_lossy(&installed.stdout).contains("installed") {
        return Some(
            "a fovea package is already installed here; it is not the test's to remove".into(),
        );
    }
    None
}

/// Purges the package when dropped, so a failing assertion leaves the machine as it was.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "fovea"]).output();
    }
}

/// Every path the package holds, from `dpkg-deb --contents` (directories end in `/`).
fn package_paths(deb: &Path) -> Vec<String> {
    let listing = Command::new("dpkg-deb")
        .arg("--contents")
        .arg(deb)
        .output()
        .expect("dpkg-deb --contents");
    assert_succeeded(&listing);
    String::from_utf8_lossy(&listing.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .map(|path| path.trim_start_matches('.').to_string())
        .filter(|path| path != "/")
        .collect()
}

/// Runs the installed binary away from the source tree, with the user's folders in `home`.
fn installed_fovea(home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(INSTALLED_BINARY)
        .args(args)
        .current_dir(home)
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env_remove(fovea::cli::DATA_DIR_VARIABLE)
        .output()
        .expect("run the installed fovea")
}

#[test]
fn the_deb_installs_runs_from_usr_and_purges_without_leftovers() {
    if let Some(reason) = cannot_install() {
        println!("skipped: the .deb install cycle: {reason}");
        return;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let packages = work.path().join("packages");
    let built = Command::new("bash")
        .arg(root().join("packaging/package.sh"))
        .args([
            "deb",
            "--fast",
            "--binary",
            env!("CARGO_BIN_EXE_fovea"),
            "--out",
        ])
        .arg(&packages)
        .output()
        .expect("packaging/package.sh");
    assert_succeeded(&built);
    let deb = PathBuf::from(String::from_utf8_lossy(&built.stdout).trim());
    assert!(deb.is_file(), "package.sh printed {}", deb.display());
    let paths = package_paths(&deb);
    for expected in [
        "/usr/bin/fovea",
        "/usr/share/applications/fovea.desktop",
        "/usr/share/icons/hicolor/256x256/apps/fovea.png",
        "/usr/share/fovea/models/demo/manifest.json",
        "/usr/share/fovea/models/demo/weights.safetensors",
        "/usr/share/fovea/assets/library/library.redb",
        "/usr/share/doc/fovea/copyright",
    ] {
        assert!(
            paths.iter().any(|p| p == expected),
            "the package lacks {expected}"
        );
    }

    let install = Command::new("dpkg")
        .arg("--install")
        .arg(&deb)
        .output()
        .expect("dpkg");
    let _installed = Installed;
    assert_succeeded(&install);
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).expect("home");

    let version = installed_fovea(&home, &["--version"]);
    assert_succeeded(&version);
    let text = String::from_utf8_lossy(&version.stdout);
    assert!(
        text.contains(&format!(
            "bundled data: {INSTALLED_DATA} (installed beside the binary)"
        )),
        "the installed binary does not use its installed data: {text}"
    );
    assert!(
        text.contains(&format!("({INSTALLED_DATA}/models/demo)")),
        "{text}"
    );

    let demo_patients = format!("{INSTALLED_DATA}/assets/demo/dicom");
    let analyzed = installed_fovea(&home, &["analyze", &demo_patients, "--device", "cpu"]);
    assert_succeeded(&analyzed);
    let report = String::from_utf8_lossy(&analyzed.stdout);
    for patient in ["SYN010001", "SYN010002", "SYN010003", "SYN010004"] {
        assert!(report.contains(patient), "{patient} not analyzed: {report}");
    }
    assert!(
        !String::from_utf8_lossy(&analyzed.stderr).contains("error:"),
        "{}",
        String::from_utf8_lossy(&analyzed.stderr)
    );

    let window = crate::viewer::real_viewer_under_xvfb(
        Path::new(INSTALLED_BINARY),
        Path::new(&demo_patients),
        &home,
    );
    window.assert_drew_the_patients();
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("installed-viewer.png");
    std::fs::copy(&window.screenshot, &kept).expect("keep the screenshot");
    println!("the installed viewer: {}", kept.display());

    // Nothing was written into the installed data (it is read-only for every user).
    let verify = Command::new("dpkg")
        .args(["--verify", "fovea"])
        .output()
        .expect("dpkg --verify");
    assert_succeeded(&verify);
    assert!(
        verify.stdout.is_empty(),
        "installed files changed: {}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let shipped: HashSet<&str> = paths.iter().map(|p| p.trim_end_matches('/')).collect();
    for path in walk(Path::new(INSTALLED_DATA)) {
        let path = path.display().to_string();
        assert!(
            shipped.contains(path.as_str()),
            "{path} appeared in the installed data"
        );
    }

    let purge = Command::new("dpkg")
        .args(["--purge", "fovea"])
        .output()
        .expect("dpkg --purge");
    assert_succeeded(&purge);
    let status = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "fovea"])
        .output()
        .expect("dpkg-query");
    assert!(
        !String::from_utf8_lossy(&status.stdout).contains("installed"),
        "still installed: {}",
        String::from_utf8_lossy(&status.stdout)
    );
    // Its files, and the folders that are its own (not /usr/bin, the icon theme's, …).
    let own_folder =
        |p: &str| p.starts_with(INSTALLED_DATA) || p.starts_with("/usr/share/doc/fovea");
    for path in paths.iter().filter(|p| !p.ends_with('/') || own_folder(p)) {
        assert!(
            !Path::new(path.trim_end_matches('/')).exists(),
            "{path} is left after the purge"
        );
    }
}

/// Every file and folder under `dir`, `dir` included.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = vec![dir.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(walk(&path));
            } else {
                found.push(path);
            }
        }
    }
    found
}
