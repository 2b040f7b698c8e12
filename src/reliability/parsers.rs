//! The fuzzed parsers ([`ParserTarget`]) and [`feed`], which runs one of them on bytes.
//!
//! Readers that take a path get the bytes as a file in a fresh temporary folder, named as a
//! user's file of that kind would be, so the same code runs as when a folder is opened.

use std::path::Path;

use crate::encoder::finding_set::FindingSet;
use crate::encoder::pack::read_manifest;
use crate::library::labels::Labels;
use crate::study::model::VolPart;
use crate::study::{dicom_meta, heidelberg_vol, pixels, plain, raw_dicom, vol_records};

/// One parser that is fuzzed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParserTarget {
    /// A DICOM file's metadata as the scan reads it (Part 10 or raw data set, DICOMDIRs too).
    DicomMetadata,
    /// A DICOM file's pixels, decoded as the viewer and the analysis do (first frame to RGB and
    /// to grey).
    DicomPixels,
    /// A plain image with its sidecar: the first two bytes (little-endian) are the sidecar's
    /// length, then the sidecar JSON, then the image file.
    PlainImage,
    /// A Heidelberg `.vol` export: header, SLO, B-scans, layers, localizer lines, and the
    /// images the scan makes of it.
    HeidelbergVol,
    /// A raw DICOM data set (no preamble, no file meta): detection, then reading.
    RawDicom,
    /// A model pack's `manifest.json`, with its finding set and domain description.
    PackManifest,
    /// A labels CSV (`patient_id,eye,findings`).
    LabelsCsv,
    /// A finding-set file.
    FindingSet,
}

impl ParserTarget {
    /// Every target.
    pub const ALL: [ParserTarget; 8] = [
        ParserTarget::DicomMetadata,
        ParserTarget::DicomPixels,
        ParserTarget::PlainImage,
        ParserTarget::HeidelbergVol,
        ParserTarget::RawDicom,
        ParserTarget::PackManifest,
        ParserTarget::LabelsCsv,
        ParserTarget::FindingSet,
    ];

    /// The target's name: its fuzz target and its corpus folder (`fuzz/corpus/<name>`).
    pub fn name(self) -> &'static str {
        match self {
            ParserTarget::DicomMetadata => "dicom_metadata",
            ParserTarget::DicomPixels => "dicom_pixels",
            ParserTarget::PlainImage => "plain_image",
            ParserTarget::HeidelbergVol => "heidelberg_vol",
            ParserTarget::RawDicom => "raw_dicom",
            ParserTarget::PackManifest => "pack_manifest",
            ParserTarget::LabelsCsv => "labels_csv",
            ParserTarget::FindingSet => "finding_set",
        }
    }

    /// The target of a name.
    pub fn from_name(name: &str) -> Option<ParserTarget> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Runs `target` on `bytes`: `Ok(true)` when the parser accepted them, `Ok(false)` when it
/// refused them (the expected outcome for most fuzz inputs), and `Err` only when the temporary
/// file could not be written.
pub fn feed(target: ParserTarget, bytes: &[u8]) -> std::io::Result<bool> {
    let dir = tempfile::tempdir()?;
    Ok(match target {
        ParserTarget::DicomMetadata => {
            let path = write(dir.path(), "image.dcm", bytes)?;
            dicom_meta::is_dicom(&path).is_ok_and(|is| is)
                && dicom_meta::read_dicom_file(&path).is_ok()
        }
        ParserTarget::DicomPixels => {
            let path = write(dir.path(), "image.dcm", bytes)?;
            pixels::decode_dicom_file(&path).is_ok_and(|image| {
                let _ = image.frame_to_rgb8(0);
                let _ = image.frame_to_unit_grey(0);
                true
            })
        }
        ParserTarget::PlainImage => {
            let (sidecar, image) = split_sidecar(bytes);
            let path = write(dir.path(), "photo.png", image)?;
            write(dir.path(), "photo.json", sidecar)?;
            plain::read_plain_image(&path).is_ok() && pixels::decode_plain_file(&path).is_ok()
        }
        ParserTarget::HeidelbergVol => {
            // The in-memory reader first; the file-based readers below take the same bytes.
            let parsed = heidelberg_vol::parse(bytes, Path::new("scan.vol")).is_ok();
            let path = write(dir.path(), "scan.vol", bytes)?;
            let lines = heidelberg_vol::read_header(&path)
                .is_ok_and(|(header, _)| heidelberg_vol::read_lines(&path, &header).is_ok());
            let images = vol_records::scanned_images(&path).is_ok();
            let slo = pixels::decode_vol_file(&path, VolPart::Slo).is_ok();
            let bscans = pixels::decode_vol_file(&path, VolPart::Bscans).is_ok();
            parsed && lines && images && slo && bscans
        }
        ParserTarget::RawDicom => match raw_dicom::detect(bytes, bytes.len() as u64) {
            None => false,
            Some(encoding) => {
                let path = write(dir.path(), "raw", bytes)?;
                raw_dicom::open_raw(&path, encoding).is_ok()
                    && dicom_meta::read_dicom_file(&path).is_ok()
            }
        },
        ParserTarget::PackManifest => {
            write(dir.path(), "manifest.json", bytes)?;
            read_manifest(dir.path()).is_ok_and(|manifest| {
                let _ = (manifest.architecture.describe(), manifest.finding_set());
                if let Some(domain) = &manifest.domain {
                    for modality in &domain.modalities {
                        let _ = modality.features.reference();
                        let _ = modality.appearance.reference();
                    }
                }
                true
            })
        }
        ParserTarget::LabelsCsv => {
            let path = write(dir.path(), "labels.csv", bytes)?;
            Labels::read(&path).is_ok_and(|labels| {
                let _ = labels.of("P1", crate::study::Eye::Right);
                true
            })
        }
        ParserTarget::FindingSet => FindingSet::parse(bytes, "fuzz input")
            .and_then(|set| set.check("fuzz input").map(|()| set))
            .is_ok_and(|set| {
                let _ = (set.info(), set.finding_names(), set.needs_text());
                true
            }),
    })
}

/// Splits a [`ParserTarget::PlainImage`] input into (sidecar, image): a little-endian `u16` length, then that
/// many bytes of sidecar, then the image.
pub fn split_sidecar(bytes: &[u8]) -> (&[u8], &[u8]) {
    let Some((len, rest)) = bytes.split_first_chunk::<2>() else {
        return (&[], bytes);
    };
    let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    rest.split_at(len)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<std::path::PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, bytes)?;
    Ok(path)
}
