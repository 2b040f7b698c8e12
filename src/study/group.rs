//! Grouping scanned images into patients → studies → eyes, and resolving unknown eyes from
//! images they share a Frame of Reference or a series with.

use std::collections::{BTreeMap, HashMap};

use super::dicom_meta::ScannedImage;
use super::model::{
    Eye, EyeImages, EyeSource, ImageRecord, Patient, PatientInfo, Study, StudyInfo,
};

/// A patient's studies by Study Instance UID, each with its images.
type StudiesByUid = BTreeMap<String, (StudyInfo, Vec<ImageRecord>)>;

/// Builds the patient tree. Patients are ordered by id, studies by date, eyes OD, OS, OU,
/// unknown; images by modality, acquisition time, then path.
pub fn group_into_patients(mut scanned: Vec<ScannedImage>) -> Vec<Patient> {
    resolve_shared_eyes(&mut scanned);
    let mut patients: BTreeMap<String, (PatientInfo, StudiesByUid)> = BTreeMap::new();
    for image in scanned {
        let (info, studies) = patients
            .entry(image.patient.id.clone())
            .or_insert_with(|| (image.patient.clone(), BTreeMap::new()));
        fill_missing_patient(info, &image.patient);
        let (study_info, records) = studies
            .entry(image.study.instance_uid.clone())
            .or_insert_with(|| (image.study.clone(), Vec::new()));
        fill_missing_study(study_info, &image.study);
        records.push(image.record);
    }
    patients
        .into_values()
        .map(|(info, studies)| {
            let mut studies: Vec<Study> = studies
                .into_values()
                .map(|(info, records)| Study {
                    info,
                    eyes: split_by_eye(records),
                })
                .collect();
            studies.sort_by(|a, b| a.info.date.cmp(&b.info.date));
            Patient { info, studies }
        })
        .collect()
}

fn fill_missing_patient(into: &mut PatientInfo, from: &PatientInfo) {
    into.name = into.name.take().or_else(|| from.name.clone());
    into.birth_date = into.birth_date.take().or_else(|| from.birth_date.clone());
    into.sex = into.sex.take().or_else(|| from.sex.clone());
}

fn fill_missing_study(into: &mut StudyInfo, from: &StudyInfo) {
    into.date = into.date.take().or_else(|| from.date.clone());
    into.description = into.description.take().or_else(|| from.description.clone());
    into.accession_number = into
        .accession_number
        .take()
        .or_else(|| from.accession_number.clone());
    into.institution = into.institution.take().or_else(|| from.institution.clone());
}

fn split_by_eye(mut records: Vec<ImageRecord>) -> Vec<EyeImages> {
    records.sort_by(|a, b| {
        (a.eye, a.modality, &a.acquisition_datetime, a.source.path()).cmp(&(
            b.eye,
            b.modality,
            &b.acquisition_datetime,
            b.source.path(),
        ))
    });
    let mut eyes: Vec<EyeImages> = Vec::new();
    for record in records {
        match eyes.last_mut() {
            Some(group) if group.eye == record.eye => group.images.push(record),
            _ => eyes.push(EyeImages {
                eye: record.eye,
                images: vec![record],
            }),
        }
    }
    eyes
}

/// Gives an image of unknown eye the eye of the images it shares a Frame of Reference with,
/// else of its series — only when those images agree on a single eye.
fn resolve_shared_eyes(scanned: &mut [ScannedImage]) {
    let known_by = |key: fn(&ImageRecord) -> Option<&String>, scanned: &[ScannedImage]| {
        let mut eyes: HashMap<String, Option<Eye>> = HashMap::new();
        for image in scanned {
            let record = &image.record;
            if !matches!(record.eye, Eye::Right | Eye::Left) {
                continue;
            }
            if let Some(k) = key(record) {
                let slot = eyes.entry(k.clone()).or_insert(Some(record.eye));
                if *slot != Some(record.eye) {
                    *slot = None; // images of both eyes share it: it says nothing
                }
            }
        }
        eyes
    };
    let by_frame = known_by(|r| r.frame_of_reference_uid.as_ref(), scanned);
    let by_series = known_by(|r| r.series_instance_uid.as_ref(), scanned);
    for image in scanned.iter_mut() {
        let record = &mut image.record;
        if record.eye != Eye::Unknown {
            continue;
        }
        let lookup = |map: &HashMap<String, Option<Eye>>, key: Option<&String>| {
            key.and_then(|k| map.get(k).copied().flatten())
        };
        if let Some(eye) = lookup(&by_frame, record.frame_of_reference_uid.as_ref()) {
            record.eye = eye;
            record.eye_source = EyeSource::SharedFrameOfReference;
        } else if let Some(eye) = lookup(&by_series, record.series_instance_uid.as_ref()) {
            record.eye = eye;
            record.eye_source = EyeSource::SharedSeries;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::study::model::{ImageSource, Modality};

    fn image(
        path: &str,
        eye: Eye,
        frame_of_reference: Option<&str>,
        series: Option<&str>,
    ) -> ScannedImage {
        let (eye, eye_source) = match eye {
            Eye::Unknown => (Eye::Unknown, EyeSource::NotDetermined),
            known => (known, EyeSource::ImageLaterality),
        };
        ScannedImage {
            patient: PatientInfo {
                id: "P".into(),
                ..PatientInfo::default()
            },
            study: StudyInfo {
                instance_uid: "S".into(),
                ..StudyInfo::default()
            },
            record: ImageRecord {
                source: ImageSource::Plain {
                    path: PathBuf::from(path),
                },
                modality: Modality::Other,
                eye,
                eye_source,
                acquisition_datetime: None,
                columns: 1,
                rows: 1,
                frames: 1,
                samples_per_pixel: 1,
                bits_allocated: 8,
                photometric_interpretation: "MONOCHROME2".into(),
                pixel_spacing_mm: None,
                series_instance_uid: series.map(str::to_string),
                frame_of_reference_uid: frame_of_reference.map(str::to_string),
                localizer: None,
                description: None,
            },
        }
    }

    fn eye_of<'a>(patients: &'a [Patient], path: &str) -> &'a ImageRecord {
        patients[0]
            .images()
            .find(|i| i.source.path() == std::path::Path::new(path))
            .expect("image present")
    }

    #[test]
    fn unknown_eye_follows_a_shared_frame_of_reference_then_a_shared_series() {
        let patients = group_into_patients(vec![
            image("slo_right", Eye::Right, Some("FOR-1"), Some("SER-1")),
            image("oct_unlabelled", Eye::Unknown, Some("FOR-1"), None),
            image("fundus_left", Eye::Left, None, Some("SER-2")),
            image("second_shot", Eye::Unknown, None, Some("SER-2")),
            image("orphan", Eye::Unknown, Some("FOR-9"), Some("SER-9")),
        ]);
        let oct = eye_of(&patients, "oct_unlabelled");
        assert_eq!(
            (oct.eye, oct.eye_source),
            (Eye::Right, EyeSource::SharedFrameOfReference)
        );
        let second = eye_of(&patients, "second_shot");
        assert_eq!(
            (second.eye, second.eye_source),
            (Eye::Left, EyeSource::SharedSeries)
        );
        let orphan = eye_of(&patients, "orphan");
        assert_eq!(
            (orphan.eye, orphan.eye_source),
            (Eye::Unknown, EyeSource::NotDetermined)
        );
        let eyes: Vec<Eye> = patients[0].studies[0].eyes.iter().map(|e| e.eye).collect();
        assert_eq!(eyes, vec![Eye::Right, Eye::Left, Eye::Unknown]);
    }

    #[test]
    fn a_frame_of_reference_shared_by_both_eyes_decides_nothing() {
        let patients = group_into_patients(vec![
            image("a", Eye::Right, Some("FOR-1"), None),
            image("b", Eye::Left, Some("FOR-1"), None),
            image("c", Eye::Unknown, Some("FOR-1"), None),
        ]);
        assert_eq!(eye_of(&patients, "c").eye, Eye::Unknown, "never guessed");
    }
}
