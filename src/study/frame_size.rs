//! The size each compressed frame declares, checked against the data set before decoding.
//!
//! A JPEG frame header (SOFn: height, width, components) and a JPEG 2000 image and tile size
//! marker (SIZ: Xsiz − XOsiz, Ysiz − YOsiz, Csiz) say how large the decoded frame will be,
//! and the decoders allocate that much before they read a pixel. DICOM requires them to
//! agree with Rows, Columns and Samples per Pixel (PS3.5 §8.2). A damaged or hostile file
//! can declare 100 × 100 in its data set and 100 × 2,097,252 in its codestream, which OpenJPEG
//! turns into gigabytes of buffers (found by fuzzing, RELIABILITY.md). So a frame declaring
//! more rows, columns or components than the data set is refused here, with both sizes named.
//!
//! Frames are recognised by the start of their stream: SOI (`FF D8`) for JPEG and JPEG-LS,
//! SOC + SIZ (`FF 4F FF 51`) for a JPEG 2000 codestream, a JP2 signature box for a JP2 file
//! (whose `jp2c` box holds the codestream). Fragments that continue a frame start with none
//! of these and are not read. A stream whose header cannot be found is left to the decoder,
//! which refuses it.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::attributes::uint;
use super::jpeg;

/// The size a frame's compressed stream declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeclaredSize {
    /// Which kind of stream declared it ("JPEG" or "JPEG 2000").
    pub codec: &'static str,
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Components (samples per pixel).
    pub components: u32,
}

/// Reads the size a fragment's stream declares, if the fragment starts a JPEG, JPEG-LS or
/// JPEG 2000 stream and its header is there.
pub fn declared_size(fragment: &[u8]) -> Option<DeclaredSize> {
    if fragment.starts_with(&[0xFF, 0xD8]) {
        return jpeg_frame_header(fragment);
    }
    if fragment.starts_with(&JP2_SIGNATURE) {
        let at = fragment.windows(4).position(|w| w == b"jp2c")? + 4;
        return j2k_siz(fragment.get(at..)?);
    }
    j2k_siz(fragment)
}

/// Refuses encapsulated pixel data whose frames declare more columns, rows or components than
/// the data set's Columns, Rows and Samples per Pixel. Native pixel data, or a data set
/// without those attributes, is left to the decoder.
pub fn check_declared_sizes(obj: &InMemDicomObject) -> Result<(), String> {
    let Some(fragments) = obj
        .get(tags::PIXEL_DATA)
        .and_then(|e| e.value().fragments())
    else {
        return Ok(());
    };
    let (Some(rows), Some(columns)) = (uint(obj, tags::ROWS), uint(obj, tags::COLUMNS)) else {
        return Ok(());
    };
    let samples = uint(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    let starts = fragments.iter().filter_map(|f| declared_size(f));
    for (frame, size) in starts.enumerate() {
        if size.width > columns || size.height > rows || size.components > samples {
            return Err(format!(
                "{} frame {frame} declares {} x {} pixels with {} component(s), but the data set says {columns} x {rows} with {samples} (Columns x Rows, Samples per Pixel): the file is damaged or inconsistent",
                size.codec, size.width, size.height, size.components
            ));
        }
    }
    Ok(())
}

const JP2_SIGNATURE: [u8; 12] = [
    0, 0, 0, 0x0C, b'j', b'P', b' ', b' ', 0x0D, 0x0A, 0x87, 0x0A,
];

/// The first SOFn (or JPEG-LS SOF55) header of a JPEG stream.
fn jpeg_frame_header(stream: &[u8]) -> Option<DeclaredSize> {
    for (marker, body) in jpeg::header_segments(stream) {
        if jpeg::is_frame_header(marker) {
            // P (1), Y (2), X (2), Nf (1).
            let body = body.get(..6)?;
            return Some(DeclaredSize {
                codec: "JPEG",
                height: u32::from(u16::from_be_bytes([body[1], body[2]])),
                width: u32::from(u16::from_be_bytes([body[3], body[4]])),
                components: u32::from(body[5]),
            });
        }
        if marker == jpeg::START_OF_SCAN {
            return None; // scan data before any frame header
        }
    }
    None
}

/// SOC then SIZ: how a JPEG 2000 codestream starts.
const J2K_START: [u8; 4] = [0xFF, 0x4F, 0xFF, 0x51];

/// The SIZ segment of a codestream that starts with [`J2K_START`].
fn j2k_siz(codestream: &[u8]) -> Option<DeclaredSize> {
    let segment = codestream.strip_prefix(&J2K_START[..2])?;
    if !segment.starts_with(&J2K_START[2..]) {
        return None;
    }
    // Marker (2), Lsiz (2), Rsiz (2), Xsiz, Ysiz, XOsiz, YOsiz (4 each), …, Csiz (2) at 38.
    let u32_at = |at: usize| -> Option<u32> {
        let b = segment.get(at..at + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let x_siz = u32_at(6)?;
    let y_siz = u32_at(10)?;
    let x_offset = u32_at(14)?;
    let y_offset = u32_at(18)?;
    let components = segment.get(38..40)?;
    Some(DeclaredSize {
        codec: "JPEG 2000",
        width: x_siz.saturating_sub(x_offset),
        height: y_siz.saturating_sub(y_offset),
        components: u32::from(u16::from_be_bytes([components[0], components[1]])),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn siz(width: u32, height: u32, offset: u32, components: u16) -> Vec<u8> {
        let mut out = J2K_START.to_vec();
        out.extend_from_slice(&(38 + 3 * components).to_be_bytes());
        out.extend_from_slice(&0_u16.to_be_bytes());
        for v in [
            width + offset,
            height + offset,
            offset,
            offset,
            width,
            height,
            0,
            0,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&components.to_be_bytes());
        for _ in 0..components {
            out.extend_from_slice(&[7, 1, 1]);
        }
        out
    }

    #[test]
    fn a_jpeg_2000_codestream_declares_its_size_without_the_offsets() {
        assert_eq!(
            declared_size(&siz(100, 2_097_252, 0, 3)),
            Some(DeclaredSize {
                codec: "JPEG 2000",
                width: 100,
                height: 2_097_252,
                components: 3
            })
        );
        let offset = declared_size(&siz(640, 480, 16, 1)).expect("siz");
        assert_eq!(
            (offset.width, offset.height, offset.components),
            (640, 480, 1)
        );
        let mut jp2 = JP2_SIGNATURE.to_vec();
        jp2.extend_from_slice(&[0, 0, 0, 0, b'j', b'p', b'2', b'c']);
        jp2.extend(siz(32, 16, 0, 1));
        assert_eq!(
            declared_size(&jp2).map(|s| (s.width, s.height)),
            Some((32, 16))
        );
        assert_eq!(declared_size(&siz(1, 1, 0, 1)[..30]), None, "cut short");
    }

    #[test]
    fn a_jpeg_stream_declares_its_size_in_its_frame_header() {
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, b'J', b'F'];
        // SOF0: Lf 11, P 8, Y 480, X 640, Nf 3, then one component spec (cut: not needed).
        jpeg.extend_from_slice(&[0xFF, 0xC0, 0, 11, 8, 0x01, 0xE0, 0x02, 0x80, 3]);
        let size = declared_size(&jpeg).expect("sof");
        assert_eq!(
            (size.codec, size.width, size.height, size.components),
            ("JPEG", 640, 480, 3)
        );
        // A DHT before the frame header is skipped, not taken for it.
        let mut with_table = vec![0xFF, 0xD8, 0xFF, 0xC4, 0, 2];
        with_table.extend_from_slice(&jpeg[8..]);
        assert_eq!(declared_size(&with_table).map(|s| s.width), Some(640));
        assert_eq!(declared_size(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]), None);
        assert_eq!(declared_size(b"not a stream"), None);
    }

    fn data_set(rows: u16, columns: u16, samples: u16, fragment: Vec<u8>) -> InMemDicomObject {
        use dicom_core::value::{PixelFragmentSequence, Value};
        use dicom_core::{DataElement, PrimitiveValue, VR};
        InMemDicomObject::from_element_iter([
            DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(rows)),
            DataElement::new(tags::COLUMNS, VR::US, PrimitiveValue::from(columns)),
            DataElement::new(
                tags::SAMPLES_PER_PIXEL,
                VR::US,
                PrimitiveValue::from(samples),
            ),
            DataElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                Value::PixelSequence(PixelFragmentSequence::new(vec![], vec![fragment])),
            ),
        ])
    }

    #[test]
    fn a_frame_larger_than_the_data_set_says_is_refused_naming_both_sizes() {
        check_declared_sizes(&data_set(100, 100, 3, siz(100, 100, 0, 3))).expect("agree");
        check_declared_sizes(&data_set(100, 100, 3, siz(64, 64, 0, 3))).expect("smaller");
        let error = check_declared_sizes(&data_set(100, 100, 3, siz(100, 2_097_252, 0, 3)))
            .expect_err("taller");
        assert!(
            error.contains("JPEG 2000 frame 0 declares 100 x 2097252"),
            "{error}"
        );
        assert!(error.contains("says 100 x 100 with 3"), "{error}");
        let error = check_declared_sizes(&data_set(100, 100, 1, siz(100, 100, 0, 3)))
            .expect_err("more components");
        assert!(error.contains("3 component(s)"), "{error}");
    }
}
