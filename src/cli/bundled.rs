//! Where the bundled data is: the demo model (`models/demo`), the demo patients
//! (`assets/demo/dicom`) and the demo case library (`assets/library`), all under one root.
//!
//! The root is the first of these that holds the demo model's manifest:
//! 1. `$FOVEA_DATA_DIR`, for packagers and for running a copied binary elsewhere;
//! 2. beside the running executable, as the packages install it: `../share/fovea`
//!    (`/usr/bin/fovea` with `/usr/share/fovea` from the `.deb`; `usr/bin` and `usr/share/fovea`
//!    inside the AppImage; `bin\fovea.exe` and `share\fovea` under the MSI's install folder),
//!    or `../Resources/fovea` (`Fovea.app/Contents/MacOS/fovea` in the macOS bundle);
//! 3. the source tree the binary was built from (`cargo run`, the tests).
//!
//! The working directory is never searched: an installed binary started inside some other
//! checkout would otherwise pick up that checkout's model.

use std::path::{Path, PathBuf};

/// The environment variable that names the data root.
pub const DATA_DIR_VARIABLE: &str = "FOVEA_DATA_DIR";

/// The demo model's folder under the root.
const DEMO_PACK: &str = "models/demo";
/// The demo patients' folder under the root.
const DEMO_PATIENTS: &str = "assets/demo/dicom";
/// The demo case library's folder under the root.
const DEMO_LIBRARY: &str = "assets/library";

/// The root of the bundled data, and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRoot {
    /// The folder holding `models/`, `assets/`.
    pub root: PathBuf,
    /// Which rule found it, for `fovea --version`.
    pub found_by: &'static str,
}

impl DataRoot {
    /// The root by the rules of this module; when none holds the demo model, the source tree
    /// (whose missing files then give the errors a user can act on).
    pub fn locate() -> Self {
        let from_env = std::env::var_os(DATA_DIR_VARIABLE).map(PathBuf::from);
        let beside_binary = std::env::current_exe()
            .ok()
            .and_then(|exe| installed_root(&exe))
            .and_then(|candidates| candidates.into_iter().find(|r| holds_demo_model(r)));
        Self::first_of(from_env, beside_binary, source_tree())
    }

    /// The first candidate that holds the demo model, else the source tree.
    fn first_of(
        from_env: Option<PathBuf>,
        beside_binary: Option<PathBuf>,
        source: PathBuf,
    ) -> Self {
        let candidates = [
            (from_env, "$FOVEA_DATA_DIR"),
            (beside_binary, "installed beside the binary"),
            (Some(source.clone()), "the source tree"),
        ];
        candidates
            .into_iter()
            .find_map(|(root, found_by)| {
                root.filter(|r| holds_demo_model(r))
                    .map(|root| DataRoot { root, found_by })
            })
            .unwrap_or(DataRoot {
                root: source,
                found_by: "the source tree (no bundled data found)",
            })
    }

    /// The bundled demo model pack.
    pub fn demo_pack(&self) -> PathBuf {
        self.root.join(DEMO_PACK)
    }

    /// The bundled demo patients.
    pub fn demo_patients(&self) -> PathBuf {
        self.root.join(DEMO_PATIENTS)
    }

    /// The bundled demo case library, when it is there.
    pub fn demo_library(&self) -> Option<PathBuf> {
        Some(self.root.join(DEMO_LIBRARY)).filter(|p| p.is_dir())
    }
}

/// The installed layouts' data folders for `exe` (`../share/fovea`, `../Resources/fovea`),
/// with links resolved (a `/usr/local/bin` link to an AppImage's binary still finds the
/// AppImage's data).
fn installed_root(exe: &Path) -> Option<[PathBuf; 2]> {
    let exe = exe.canonicalize().unwrap_or_else(|_| exe.to_path_buf());
    let prefix = exe.parent()?.parent()?;
    Some([prefix.join("share/fovea"), prefix.join("Resources/fovea")])
}

/// The source tree this binary was built from.
fn source_tree() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn holds_demo_model(root: &Path) -> bool {
    root.join(DEMO_PACK).join("manifest.json").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_root_at(dir: &Path) -> PathBuf {
        let pack = dir.join(DEMO_PACK);
        std::fs::create_dir_all(&pack).unwrap();
        std::fs::write(pack.join("manifest.json"), "{}").unwrap();
        dir.to_path_buf()
    }

    #[test]
    fn the_installed_layout_is_found_beside_the_binary() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("usr/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("fovea"), "").unwrap();
        let share = data_root_at(&dir.path().join("usr/share/fovea"));
        let [found, macos] = installed_root(&bin.join("fovea")).unwrap();
        assert_eq!(found.canonicalize().unwrap(), share.canonicalize().unwrap());
        assert!(macos.ends_with("usr/Resources/fovea"));
        let root = DataRoot::first_of(None, Some(found), source_tree());
        assert_eq!(root.found_by, "installed beside the binary");
        assert!(root.demo_pack().ends_with("usr/share/fovea/models/demo"));
        assert!(
            root.demo_patients()
                .ends_with("share/fovea/assets/demo/dicom")
        );
        assert_eq!(root.demo_library(), None, "no library folder was made");
    }

    #[test]
    fn the_variable_wins_and_folders_without_the_demo_model_are_passed_over() {
        let with_model = tempfile::tempdir().unwrap();
        let empty = tempfile::tempdir().unwrap();
        data_root_at(with_model.path());
        let root = DataRoot::first_of(
            Some(with_model.path().to_path_buf()),
            Some(empty.path().to_path_buf()),
            source_tree(),
        );
        assert_eq!(root.found_by, "$FOVEA_DATA_DIR");
        assert_eq!(root.root, with_model.path());
        let root = DataRoot::first_of(
            Some(empty.path().to_path_buf()),
            Some(empty.path().to_path_buf()),
            source_tree(),
        );
        assert_eq!(root.found_by, "the source tree");
        let nowhere = empty.path().join("missing");
        let root = DataRoot::first_of(None, None, nowhere.clone());
        assert_eq!(root.root, nowhere);
        assert!(root.found_by.contains("no bundled data"));
    }
}
