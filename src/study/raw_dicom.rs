//! Raw DICOM datasets: files without the 128-byte preamble, the `DICM` magic and the file meta
//! group — a bare data set, as some devices and PACS dumps write it. Read as pydicom's
//! `dcmread(force=True)` and dcmtk's `+f` do: implicit VR little endian unless the first
//! element carries an explicit VR.
//!
//! A file is taken for one only when its start parses as a run of data elements that a
//! DICOM data set would begin with ([`detect`]): the first tag in groups 0002–0010 (meta, identifying,
//! patient), each following tag greater than the one before, every length within the file,
//! and — with implicit VR — the first element one the standard dictionary knows. A PNG, JPEG,
//! `.vol` or text file fails this at the first element (their first bytes make groups like
//! 0x5089, 0xD8FF, 0x5348, 0x6F6E).

use std::path::Path;

use dicom_dictionary_std::{StandardDataDictionary, uids};
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

use super::error::{StudyError, error_chain};
use crate::path_error::AtPath;

/// How a raw data set is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawEncoding {
    /// Implicit VR little endian (the default when nothing says otherwise).
    ImplicitLittle,
    /// Explicit VR little endian.
    ExplicitLittle,
}

impl RawEncoding {
    /// The transfer syntax UID.
    pub fn uid(self) -> &'static str {
        match self {
            RawEncoding::ImplicitLittle => uids::IMPLICIT_VR_LITTLE_ENDIAN,
            RawEncoding::ExplicitLittle => uids::EXPLICIT_VR_LITTLE_ENDIAN,
        }
    }
}

/// VRs whose explicit length is a 2-byte field after the VR; the others have 2 reserved bytes
/// and a 4-byte length.
const SHORT_VRS: &[&[u8; 2]] = &[
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
    b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
];
const LONG_VRS: &[&[u8; 2]] = &[
    b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV",
];

/// How many leading elements [`detect`] checks.
const ELEMENTS_CHECKED: usize = 4;

/// Whether `head` (a file's first bytes, ideally a few KB) starts a raw data set, and how it is
/// encoded; `file_len` bounds the lengths. `None`: not a raw data set.
pub fn detect(head: &[u8], file_len: u64) -> Option<RawEncoding> {
    let u16_at = |at: usize| Some(u16::from_le_bytes(head.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(head.get(at..at + 4)?.try_into().ok()?));
    let group = u16_at(0)?;
    if !(0x0002..=0x0010).contains(&group) {
        return None;
    }
    let vr: [u8; 2] = head.get(4..6)?.try_into().ok()?;
    let encoding = if SHORT_VRS.contains(&&vr) || LONG_VRS.contains(&&vr) {
        RawEncoding::ExplicitLittle
    } else {
        RawEncoding::ImplicitLittle
    };
    let mut at = 0_usize;
    let mut previous: Option<u32> = None;
    for index in 0..ELEMENTS_CHECKED {
        if at + 8 > head.len() {
            // Fewer elements than checked, but all fit: a tiny data set.
            return (index > 0).then_some(encoding);
        }
        let tag = (u32::from(u16_at(at)?) << 16) | u32::from(u16_at(at + 2)?);
        if previous.is_some_and(|p| tag <= p) {
            return None;
        }
        if index == 0 && encoding == RawEncoding::ImplicitLittle {
            let known = dicom_core::dictionary::DataDictionary::by_tag(
                &StandardDataDictionary,
                dicom_core::Tag((tag >> 16) as u16, tag as u16),
            )
            .is_some();
            if !known {
                return None;
            }
        }
        previous = Some(tag);
        let (header, length) = match encoding {
            RawEncoding::ImplicitLittle => (8, u32_at(at + 4)?),
            RawEncoding::ExplicitLittle => {
                let vr: [u8; 2] = head.get(at + 4..at + 6)?.try_into().ok()?;
                if SHORT_VRS.contains(&&vr) {
                    (8, u32::from(u16_at(at + 6)?))
                } else if LONG_VRS.contains(&&vr) {
                    (12, u32_at(at + 8)?)
                } else {
                    return None;
                }
            }
        };
        if length == u32::MAX {
            // Undefined length (a sequence): plausible, stop checking here.
            return Some(encoding);
        }
        at = at.checked_add(header)?.checked_add(length as usize)?;
        if at as u64 > file_len {
            return None;
        }
    }
    Some(encoding)
}

/// How much of a file [`detect`] looks at.
pub const DETECT_BYTES: usize = 4096;

/// The raw encoding of the file at `path`, if it is a raw data set.
pub fn detect_file(path: &Path) -> Result<Option<RawEncoding>, StudyError> {
    use std::io::Read;
    let file = std::fs::File::open(path).at_path(path)?;
    let len = file.metadata().at_path(path)?.len();
    let mut head = Vec::with_capacity(DETECT_BYTES);
    file.take(DETECT_BYTES as u64)
        .read_to_end(&mut head)
        .at_path(path)?;
    Ok(detect(&head, len))
}

/// Reads a raw data set as a DICOM file object, with a file meta group made from its SOP
/// Class / Instance UIDs and the detected transfer syntax (the file is not changed).
pub fn open_raw(path: &Path, encoding: RawEncoding) -> Result<DefaultDicomObject, StudyError> {
    let parse = |message: String| StudyError::DicomParse {
        path: path.to_path_buf(),
        message,
    };
    super::dicom_lengths::check_data_set(path, encoding.uid())?;
    let bytes = std::fs::read(path).at_path(path)?;
    let ts = dicom_transfer_syntax_registry::TransferSyntaxRegistry
        .get(encoding.uid())
        .ok_or_else(|| parse(format!("transfer syntax {} unavailable", encoding.uid())))?;
    let dataset = InMemDicomObject::read_dataset_with_ts(bytes.as_slice(), ts).map_err(|e| {
        parse(format!(
            "a raw data set (no file meta): {}",
            error_chain(&e)
        ))
    })?;
    dataset
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(encoding.uid()))
        .map_err(|e| {
            parse(format!(
                "a raw data set (no file meta) without SOP Class/Instance UIDs: {}",
                error_chain(&e)
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_non_dicom_starts_are_not_raw_data_sets() {
        for head in [
            &b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..],
            b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01",
            b"HSF-OCT-103\0\0\x03\0\0",
            b"not an image at all, just text",
            b"",
        ] {
            assert_eq!(detect(head, 1 << 20), None, "{head:?}");
        }
    }

    #[test]
    fn implicit_and_explicit_starts_are_told_apart() {
        // (0008,0005) CS "ISO_IR 100", (0008,0016) UI "1.2".
        let mut explicit = Vec::new();
        explicit.extend_from_slice(b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100");
        explicit.extend_from_slice(b"\x08\x00\x16\x00UI\x04\x001.2\0");
        assert_eq!(detect(&explicit, 1000), Some(RawEncoding::ExplicitLittle));
        let mut implicit = Vec::new();
        implicit.extend_from_slice(b"\x08\x00\x05\x00\x0a\x00\x00\x00ISO_IR 100");
        implicit.extend_from_slice(b"\x08\x00\x16\x00\x04\x00\x00\x001.2\0");
        assert_eq!(detect(&implicit, 1000), Some(RawEncoding::ImplicitLittle));
        // Tags out of order: not a data set.
        let mut disordered = Vec::new();
        disordered.extend_from_slice(b"\x08\x00\x16\x00\x04\x00\x00\x001.2\0");
        disordered.extend_from_slice(b"\x08\x00\x05\x00\x0a\x00\x00\x00ISO_IR 100");
        assert_eq!(detect(&disordered, 1000), None);
        // A length running past the file's end.
        assert_eq!(detect(&implicit, 12), None);
    }
}
