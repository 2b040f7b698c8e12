//! Known findings of reference studies, per patient and eye, from a sidecar:
//! - `ground_truth.json` written by `fovea demo-data` (the synthetic generator's truth), or
//! - a CSV with a header `patient_id,eye,findings`: eye `OD`/`OS` (or `R`/`L`, `right`/`left`),
//!   findings separated by `;` (empty = none of them), e.g. `P001,OD,referable_dr;amd`.
//!
//! Finding ids are the pack's (`referable_dr`, `glaucoma`, `amd` for the demo model); the
//! library keeps them in first-seen order as its vocabulary. A token `group:class` (for
//! example `dr_grade:moderate`) is a class label for a pack's class group: kept apart from the
//! findings, it lets `fovea model validate` label every finding that sums classes of that
//! group. Ground truth gives `dr_grade:<grade>` for every eye.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::LibraryError;
use crate::path_error::AtPath;
use crate::study::Eye;
use crate::study::grading::{EyeGrading, GRADED_FINDINGS};

/// Findings per (patient id, eye).
#[derive(Debug, Clone, Default)]
pub struct Labels {
    by_eye: HashMap<(String, Eye), Vec<String>>,
    classes_by_eye: HashMap<(String, Eye), Vec<String>>,
    /// Class groups that have class labels (`dr_grade`).
    pub class_groups: Vec<String>,
    /// Every finding id seen, first-seen order, plus the demo vocabulary for synthetic truth.
    pub finding_ids: Vec<String>,
    /// Where they came from.
    pub source: PathBuf,
}

#[derive(Deserialize)]
struct TruthFile {
    patients: Vec<TruthPatient>,
}

#[derive(Deserialize)]
struct TruthPatient {
    patient_id: String,
    eyes: Vec<TruthEye>,
}

/// An eye's `truth` object: only its grades are read (lesions and the rest are ignored).
#[derive(Deserialize)]
struct TruthEye {
    truth: EyeGrading,
}

impl Labels {
    /// Labels for the studies under `path`: the file itself when it is a `.json`/`.csv`,
    /// else `ground_truth.json` or `labels.csv` in the folder.
    pub fn find(path: &Path) -> Result<Self, LibraryError> {
        if path.is_file() {
            return Self::read(path);
        }
        for name in ["ground_truth.json", "labels.csv"] {
            let candidate = path.join(name);
            if candidate.is_file() {
                return Self::read(&candidate);
            }
        }
        Err(LibraryError::Labels {
            path: path.to_path_buf(),
            message: "no ground_truth.json or labels.csv here: give the known findings with --labels FILE (CSV header patient_id,eye,findings)".to_string(),
        })
    }

    /// Reads a `.json` ground truth or a `.csv` labels file.
    pub fn read(path: &Path) -> Result<Self, LibraryError> {
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if is_json {
            Self::read_truth(path)
        } else {
            Self::read_csv(path)
        }
    }

    fn error(path: &Path, message: impl Into<String>) -> LibraryError {
        LibraryError::Labels {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    fn read_truth(path: &Path) -> Result<Self, LibraryError> {
        let bytes = std::fs::read(path).at_path(path)?;
        let truth: TruthFile = serde_json::from_slice(&bytes).at_path(path)?;
        let mut labels = Labels {
            source: path.to_path_buf(),
            finding_ids: GRADED_FINDINGS.iter().map(|f| f.id.to_string()).collect(),
            ..Labels::default()
        };
        labels.class_groups.push("dr_grade".to_string());
        for patient in truth.patients {
            for eye in patient.eyes {
                let ids = eye.truth.finding_ids().into_iter().map(String::from);
                let key = (patient.patient_id.clone(), eye.truth.eye);
                let grade = serde_json::to_value(eye.truth.dr_grade)
                    .ok()
                    .and_then(|v| v.as_str().map(|g| format!("dr_grade:{g}")));
                labels
                    .classes_by_eye
                    .insert(key.clone(), grade.into_iter().collect());
                labels.by_eye.insert(key, ids.collect());
            }
        }
        Ok(labels)
    }

    fn read_csv(path: &Path) -> Result<Self, LibraryError> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .at_path(path)?;
        let headers = reader.headers().at_path(path)?.clone();
        let column = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    Self::error(
                        path,
                        format!("no `{name}` column; the header must be patient_id,eye,findings"),
                    )
                })
        };
        let (id_at, eye_at, findings_at) =
            (column("patient_id")?, column("eye")?, column("findings")?);
        let mut labels = Labels {
            source: path.to_path_buf(),
            ..Labels::default()
        };
        for (row, record) in reader.records().enumerate() {
            let line = row + 2;
            let record = record.at_path(path)?;
            let field = |i: usize| record.get(i).unwrap_or("").trim();
            let eye = parse_eye(field(eye_at)).ok_or_else(|| {
                Self::error(
                    path,
                    format!("line {line}: eye `{}` is not OD or OS", field(eye_at)),
                )
            })?;
            let patient = field(id_at);
            if patient.is_empty() {
                return Err(Self::error(path, format!("line {line}: empty patient_id")));
            }
            let (classes, findings): (Vec<String>, Vec<String>) = field(findings_at)
                .split(';')
                .map(str::trim)
                .filter(|f| !f.is_empty() && !f.eq_ignore_ascii_case("none"))
                .map(String::from)
                .partition(|f| f.contains(':'));
            for c in &classes {
                let group = c.split(':').next().unwrap_or_default().to_string();
                if !labels.class_groups.contains(&group) {
                    labels.class_groups.push(group);
                }
            }
            labels
                .classes_by_eye
                .insert((patient.to_string(), eye), classes);
            for f in &findings {
                if !labels.finding_ids.contains(f) {
                    labels.finding_ids.push(f.clone());
                }
            }
            labels.by_eye.insert((patient.to_string(), eye), findings);
        }
        Ok(labels)
    }

    /// The findings of one eye, when labelled.
    pub fn of(&self, patient_id: &str, eye: Eye) -> Option<&[String]> {
        self.by_eye
            .get(&(patient_id.to_string(), eye))
            .map(Vec::as_slice)
    }

    /// The class labels (`group:class`) of one eye, when labelled.
    pub fn classes_of(&self, patient_id: &str, eye: Eye) -> Option<&[String]> {
        self.classes_by_eye
            .get(&(patient_id.to_string(), eye))
            .map(Vec::as_slice)
    }

    /// Number of labelled eyes.
    pub fn len(&self) -> usize {
        self.by_eye.len()
    }

    /// Whether nothing is labelled.
    pub fn is_empty(&self) -> bool {
        self.by_eye.is_empty()
    }
}

fn parse_eye(text: &str) -> Option<Eye> {
    match text.to_ascii_lowercase().as_str() {
        "od" | "r" | "right" => Some(Eye::Right),
        "os" | "l" | "left" => Some(Eye::Left),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_labels_are_read_with_their_vocabulary_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("labels.csv");
        std::fs::write(
            &path,
            "\u{feff}patient_id,eye,findings\nP1,OD,referable_dr;amd\nP1,left,\n\"P,2\",R,glaucoma\n",
        )
        .expect("write");
        let labels = Labels::read(&path).expect("labels");
        assert_eq!(
            labels.of("P1", Eye::Right),
            Some(&["referable_dr".to_string(), "amd".to_string()][..])
        );
        assert_eq!(labels.of("P1", Eye::Left), Some(&[][..]));
        assert_eq!(
            labels.of("P,2", Eye::Right),
            Some(&["glaucoma".to_string()][..])
        );
        assert_eq!(labels.of("P2", Eye::Right), None);
        assert_eq!(labels.finding_ids, ["referable_dr", "amd", "glaucoma"]);

        std::fs::write(&path, "patient_id,eye,findings\nP1,both,amd\n").expect("write");
        let error = Labels::read(&path).expect_err("bad eye").to_string();
        assert!(
            error.contains("line 2") && error.contains("both"),
            "{error}"
        );
        std::fs::write(&path, "id,eye,findings\n").expect("write");
        let error = Labels::read(&path).expect_err("bad header").to_string();
        assert!(error.contains("patient_id"), "{error}");
    }
}
