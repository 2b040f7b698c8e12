//! What the viewer remembers between runs (eframe's storage, under the user's config
//! directory): theme, overlay, linked views, panel visibility, last folder and recent
//! locations. No patient data: no ids, names, findings or images.

use std::path::{Path, PathBuf};

use crate::analysis::heatmap::HeatmapMethod;

/// Key in eframe's storage.
pub const SETTINGS_KEY: &str = "fovea-settings";

/// How many recent locations are kept.
const RECENT_MAX: usize = 8;

/// The viewer's settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Dark theme (else light).
    pub dark: bool,
    /// Heatmap overlay shown.
    pub overlay_on: bool,
    /// Overlay opacity, 0–1.
    pub overlay_opacity: f32,
    /// Heatmap method.
    pub heatmap_method: HeatmapMethod,
    /// Both eyes zoom and pan together.
    pub linked: bool,
    /// The device's layer boundaries drawn on OCT B-scans that carry them (Heidelberg `.vol`).
    pub vendor_layers_on: bool,
    /// The patient list is shown.
    pub patient_list_open: bool,
    /// Where the last open dialog was.
    pub last_folder: Option<PathBuf>,
    /// Recently opened locations, newest first.
    pub recent: Vec<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            dark: true,
            overlay_on: false,
            overlay_opacity: 0.5,
            heatmap_method: HeatmapMethod::GradCam,
            linked: false,
            vendor_layers_on: true,
            patient_list_open: true,
            last_folder: None,
            recent: Vec::new(),
        }
    }
}

impl Settings {
    /// The egui theme the settings ask for.
    pub fn theme(&self) -> egui::Theme {
        if self.dark {
            egui::Theme::Dark
        } else {
            egui::Theme::Light
        }
    }

    /// Remembers an opened location (and its folder for the next dialog).
    pub fn remember(&mut self, location: &Path) {
        self.recent.retain(|p| p != location);
        self.recent.insert(0, location.to_path_buf());
        self.recent.truncate(RECENT_MAX);
        let folder = if location.is_dir() {
            Some(location)
        } else {
            location.parent()
        };
        self.last_folder = folder.map(Path::to_path_buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_locations_are_newest_first_without_repeats_and_bounded() {
        let mut s = Settings::default();
        for i in 0..12 {
            s.remember(Path::new(&format!("/studies/{i}/a.dcm")));
        }
        s.remember(Path::new("/studies/5/a.dcm"));
        assert_eq!(s.recent.len(), RECENT_MAX);
        assert_eq!(s.recent[0], Path::new("/studies/5/a.dcm"));
        assert_eq!(
            s.recent.iter().filter(|p| p.ends_with("5/a.dcm")).count(),
            1
        );
        assert_eq!(s.last_folder.as_deref(), Some(Path::new("/studies/5")));
    }

    #[test]
    fn settings_from_an_older_version_fill_in_defaults() {
        let s: Settings = serde_json::from_str(r#"{"dark": false}"#).expect("parses");
        assert!(!s.dark);
        assert_eq!(s.overlay_opacity, Settings::default().overlay_opacity);
    }
}
