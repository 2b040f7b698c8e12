//! JPEG-family pixel data: completeness of each frame's stream, and frames DICOM labels `RGB`
//! (stored without a colour transform, PS3.5 §8.2.1).
//!
//! A truncated JPEG stream still "decodes" (the missing blocks are invented), so every frame
//! must end with its EOI marker before it is shown.
//!
//! A JPEG stream with neither a JFIF nor an Adobe marker and three components is decoded as
//! YCbCr by generic decoders; DICOM's Photometric Interpretation says otherwise, so such
//! frames are decoded here with the transform switched off. Streams whose own markers say
//! how they were coded (JFIF → YCbCr, Adobe APP14) are left to the generic path.

use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;

/// JPEG baseline (process 1) and extended (processes 2 & 4): the DCT-based syntaxes.
pub fn is_dct_jpeg(transfer_syntax: &str) -> bool {
    matches!(
        transfer_syntax,
        uids::JPEG_BASELINE8_BIT | uids::JPEG_EXTENDED12_BIT
    )
}

/// JPEG (baseline, extended, lossless) and JPEG-LS: streams that end with an EOI marker.
pub fn is_jpeg_family(transfer_syntax: &str) -> bool {
    matches!(
        transfer_syntax,
        uids::JPEG_BASELINE8_BIT
            | uids::JPEG_EXTENDED12_BIT
            | uids::JPEG_LOSSLESS
            | uids::JPEG_LOSSLESS_SV1
            | uids::JPEGLS_LOSSLESS
            | uids::JPEGLS_NEAR_LOSSLESS
    )
}

/// The compressed stream of each frame: one fragment per frame, or all fragments of a
/// single-frame image; `None` when fragments cannot be matched to frames.
fn frame_streams(obj: &InMemDicomObject, frames: u32) -> Option<Vec<Vec<u8>>> {
    let fragments = obj.get(tags::PIXEL_DATA)?.value().fragments()?;
    if fragments.len() == frames as usize {
        Some(fragments.to_vec())
    } else if frames == 1 {
        Some(vec![fragments.iter().flatten().copied().collect()])
    } else {
        None
    }
}

/// Checks that every frame's stream ends with EOI (`FF D9`; trailing `00`/`FF` fill allowed).
/// A frame's end lies in its own fragment (one per frame), or in the last fragment of a
/// single-frame image.
pub fn check_frames_complete(obj: &InMemDicomObject, frames: u32) -> Result<(), String> {
    let Some(fragments) = obj
        .get(tags::PIXEL_DATA)
        .and_then(|e| e.value().fragments())
    else {
        return Ok(());
    };
    let frame_ends: Vec<&[u8]> = if fragments.len() == frames as usize {
        fragments.iter().map(Vec::as_slice).collect()
    } else if frames == 1 {
        vec![fragments.last().map_or(&[][..], Vec::as_slice)]
    } else {
        return Ok(()); // fragments cannot be matched to frames: the decoder will judge
    };
    for (index, stream) in frame_ends.into_iter().enumerate() {
        let end = stream
            .iter()
            .rposition(|&b| b != 0x00 && b != 0xFF)
            .map_or(0, |i| i + 1);
        if end < 2 || stream[end - 2..end] != [0xFF, 0xD9] {
            return Err(format!(
                "JPEG frame {index} is truncated or damaged (its stream does not end with the end-of-image marker)"
            ));
        }
    }
    Ok(())
}

/// Decodes every frame without colour transform, or `None` when a frame's own markers
/// say how it was coded (then the generic decoder is right).
pub fn decode_without_colour_transform(
    obj: &InMemDicomObject,
    frames: u32,
) -> Result<Option<Vec<u8>>, String> {
    // Fragmented multi-frame streams are left to the generic decoder.
    let Some(streams) = frame_streams(obj, frames) else {
        return Ok(None);
    };
    if streams.iter().any(|s| has_colour_marker(s)) {
        return Ok(None);
    }
    let mut out = Vec::new();
    for (index, stream) in streams.iter().enumerate() {
        let mut decoder = jpeg_decoder::Decoder::new(stream.as_slice());
        decoder.set_color_transform(jpeg_decoder::ColorTransform::None);
        let pixels = decoder
            .decode()
            .map_err(|e| format!("JPEG frame {index}: {e}"))?;
        out.extend_from_slice(&pixels);
    }
    Ok(Some(out))
}

/// Whether a JPEG stream carries a JFIF (APP0) or Adobe (APP14) marker before its frame header.
fn has_colour_marker(stream: &[u8]) -> bool {
    for (marker, body) in header_segments(stream) {
        match marker {
            0xE0 if body.starts_with(b"JFIF") => return true,
            0xEE if body.starts_with(b"Adobe") => return true,
            m if is_frame_header(m) || m == START_OF_SCAN => return false,
            _ => {}
        }
    }
    false
}

/// Start of scan: entropy-coded data follows, no more header segments.
pub const START_OF_SCAN: u8 = 0xDA;

/// Whether `marker` starts a frame header: SOF0–SOF15 (not DHT, JPG or DAC, which share the
/// range), or JPEG-LS's SOF55.
pub fn is_frame_header(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF if marker != 0xC4 && marker != 0xC8 && marker != 0xCC)
        || marker == 0xF7
}

/// The marker segments after a JPEG stream's SOI, as (marker, body after its length field),
/// skipping fill bytes (a body cut short by the stream's end is what is there); ends where
/// the stream stops looking like marker segments. Callers stop at the frame header or
/// [`START_OF_SCAN`].
pub fn header_segments(stream: &[u8]) -> impl Iterator<Item = (u8, &[u8])> + '_ {
    let mut i = 2; // after SOI
    std::iter::from_fn(move || {
        loop {
            if i + 4 > stream.len() || stream[i] != 0xFF {
                return None;
            }
            let marker = stream[i + 1];
            if marker == 0xFF {
                i += 1; // fill byte
                continue;
            }
            let length = usize::from(u16::from_be_bytes([stream[i + 2], stream[i + 3]]));
            let body = stream
                .get(i + 4..(i + 2 + length).min(stream.len()))
                .unwrap_or(&[]);
            i += 2 + length.max(2);
            return Some((marker, body));
        }
    })
}
