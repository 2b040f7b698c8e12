//! A guard run before dicom-rs reads a DICOM file: no element may claim more bytes than the
//! file has left.
//!
//! dicom-rs 0.10 reserves and zero-fills a value's declared length before it reads the value,
//! so a damaged or hostile file that declares a 3.7 GB element takes 3.7 GB of memory (and
//! seconds) before the read fails: found by fuzzing on pydicom's 674-byte `UN_sequence.dcm`
//! (RELIABILITY.md). GDCM fixed the same kind of flaw (CVE-2026-3650) by comparing each value
//! length with what the stream has left; this module does that for dicom-rs.
//!
//! The walk reads element headers only and seeks over values, reading the file **as dicom-rs
//! reads it** (so that it sees the lengths dicom-rs will allocate): the tag; in explicit VR the
//! VR, with 2-byte lengths for most VRs and 4-byte ones for OB, OD, OF, OL, OV, OW, SQ, SV, UC,
//! UN, UR, UT, UV and for an unknown VR code (which dicom-rs reads as UN); items and delimiters
//! (`FFFE,xxxx`, no VR); any element of undefined length as a sequence whose items are walked
//! in the same encoding (dicom-rs does so even for UN); encapsulated pixel data (Pixel Data of
//! undefined length), whose fragments' lengths are checked and skipped. In implicit VR a
//! defined-length value that starts with an item tag is walked as a sequence, as pydicom
//! does. It refuses only a length the file is too short to hold. Deflated data sets are not
//! walked (their lengths are those of the inflated stream).

use std::io::{BufReader, Read, Seek};
use std::path::Path;

use super::error::StudyError;
use crate::path_error::AtPath;

/// How the data set is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    /// Explicit VR (else implicit).
    pub explicit: bool,
    /// Little endian (else big).
    pub little_endian: bool,
}

const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const SEQUENCE_DELIMITER: (u16, u16) = (0xFFFE, 0xE0DD);
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);
const KNOWN_VRS: [&[u8; 2]; 34] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB",
    b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
    b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
];
const LONG_VRS: [&[u8; 2]; 13] = [
    b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV",
];

/// What an open container holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    /// Items whose content is elements.
    Sequence,
    /// Encapsulated pixel data: items whose content is compressed bytes.
    Fragments,
}

/// Checks the Part 10 file at `path`: its file meta group (always explicit VR little endian),
/// then its data set in the transfer syntax the meta group names.
pub fn check_part10(path: &Path) -> Result<(), StudyError> {
    let file = std::fs::File::open(path).at_path(path)?;
    let len = file.metadata().at_path(path)?.len();
    let mut reader = BufReader::new(file);
    reader.seek_relative(132).at_path(path)?;
    let meta = Encoding {
        explicit: true,
        little_endian: true,
    };
    let mut transfer_syntax = String::new();
    let mut at = 132_u64;
    // The meta group: its elements are short; the transfer syntax UID is kept.
    loop {
        let Some(header) = read_header(&mut reader, meta).at_path(path)? else {
            return Ok(());
        };
        if header.tag.0 != 0x0002 {
            reader.seek_relative(-(header.size as i64)).at_path(path)?;
            break;
        }
        at += header.size;
        let length = header.length;
        if length == UNDEFINED || u64::from(length) > len.saturating_sub(at) {
            return Err(too_long(path, header.tag, length, len.saturating_sub(at)));
        }
        if header.tag == (0x0002, 0x0010) && length <= 64 {
            let mut uid = vec![0; length as usize];
            reader.read_exact(&mut uid).at_path(path)?;
            transfer_syntax = String::from_utf8_lossy(&uid)
                .trim_end_matches(['\0', ' '])
                .to_string();
        } else {
            reader.seek_relative(i64::from(length)).at_path(path)?;
        }
        at += u64::from(length);
    }
    let encoding = match transfer_syntax.as_str() {
        "1.2.840.10008.1.2" => Encoding {
            explicit: false,
            little_endian: true,
        },
        "1.2.840.10008.1.2.2" => Encoding {
            explicit: true,
            little_endian: false,
        },
        // Deflated: the lengths are those of the inflated stream.
        "1.2.840.10008.1.2.1.99" => return Ok(()),
        _ => Encoding {
            explicit: true,
            little_endian: true,
        },
    };
    walk(&mut reader, encoding, at, len, path)
}

/// Checks a raw data set (no preamble, no file meta) at `path` in `encoding`.
pub fn check_data_set(path: &Path, encoding: Encoding) -> Result<(), StudyError> {
    let file = std::fs::File::open(path).at_path(path)?;
    let len = file.metadata().at_path(path)?.len();
    walk(&mut BufReader::new(file), encoding, 0, len, path)
}

/// Walks the elements from byte `at` of a file of `len` bytes (see the module docs).
fn walk<R: Read + Seek>(
    reader: &mut BufReader<R>,
    encoding: Encoding,
    mut at: u64,
    len: u64,
    path: &Path,
) -> Result<(), StudyError> {
    let mut open: Vec<Container> = Vec::new();
    loop {
        let Some(header) = read_header(reader, encoding).at_path(path)? else {
            return Ok(()); // The end of the file (or a header cut short: dicom-rs says so).
        };
        at += header.size;
        let length = header.length;
        let left = len.saturating_sub(at);
        if header.tag.0 == 0xFFFE {
            if header.tag == SEQUENCE_DELIMITER {
                open.pop();
                continue;
            }
            if header.tag != ITEM || length == UNDEFINED {
                continue; // An item delimiter, or an item of undefined length: walk on.
            }
            if u64::from(length) > left {
                return Err(too_long(path, header.tag, length, left));
            }
            if open.last() == Some(&Container::Fragments) {
                reader.seek_relative(i64::from(length)).at_path(path)?;
                at += u64::from(length);
            }
            continue; // A sequence's item: its elements follow.
        }
        if length == UNDEFINED {
            open.push(if header.tag == PIXEL_DATA {
                Container::Fragments
            } else {
                Container::Sequence
            });
            continue;
        }
        if u64::from(length) > left {
            return Err(too_long(path, header.tag, length, left));
        }
        let walk_inside = match header.vr {
            Some(vr) => &vr == b"SQ",
            None => length >= 8 && starts_with_item(reader, encoding).at_path(path)?,
        };
        if !walk_inside {
            reader.seek_relative(i64::from(length)).at_path(path)?;
            at += u64::from(length);
        }
    }
}

/// One element header.
struct Header {
    tag: (u16, u16),
    /// The VR, in explicit VR (not for items and delimiters).
    vr: Option<[u8; 2]>,
    /// The value length.
    length: u32,
    /// Bytes of the header.
    size: u64,
}

/// Reads the next header; `None` at the end of the file or when it is cut short.
fn read_header<R: Read>(reader: &mut R, encoding: Encoding) -> std::io::Result<Option<Header>> {
    let u16_of = |b: [u8; 2]| {
        if encoding.little_endian {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    };
    let u32_of = |b: [u8; 4]| {
        if encoding.little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let mut head = [0_u8; 8];
    if !read_fully(reader, &mut head)? {
        return Ok(None);
    }
    let tag = (u16_of([head[0], head[1]]), u16_of([head[2], head[3]]));
    if tag.0 == 0xFFFE || !encoding.explicit {
        return Ok(Some(Header {
            tag,
            vr: None,
            length: u32_of([head[4], head[5], head[6], head[7]]),
            size: 8,
        }));
    }
    let vr = [head[4], head[5]];
    // dicom-rs reads an unknown VR code as UN: a 4-byte length after two reserved bytes.
    if KNOWN_VRS.contains(&&vr) && !LONG_VRS.contains(&&vr) {
        return Ok(Some(Header {
            tag,
            vr: Some(vr),
            length: u32::from(u16_of([head[6], head[7]])),
            size: 8,
        }));
    }
    let mut long = [0_u8; 4];
    if !read_fully(reader, &mut long)? {
        return Ok(None);
    }
    Ok(Some(Header {
        tag,
        vr: Some(vr),
        length: u32_of(long),
        size: 12,
    }))
}

/// Whether the next four bytes are an item tag (left unread).
fn starts_with_item<R: Read + Seek>(
    reader: &mut BufReader<R>,
    encoding: Encoding,
) -> std::io::Result<bool> {
    let mut next = [0_u8; 4];
    if !read_fully(reader, &mut next)? {
        return Ok(false);
    }
    reader.seek_relative(-4)?;
    let (group, element) = if encoding.little_endian {
        (
            u16::from_le_bytes([next[0], next[1]]),
            u16::from_le_bytes([next[2], next[3]]),
        )
    } else {
        (
            u16::from_be_bytes([next[0], next[1]]),
            u16::from_be_bytes([next[2], next[3]]),
        )
    };
    Ok((group, element) == ITEM)
}

/// Fills `buf`; false when the input ends first.
fn read_fully<R: Read>(reader: &mut R, buf: &mut [u8]) -> std::io::Result<bool> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

fn too_long(path: &Path, tag: (u16, u16), length: u32, left: u64) -> StudyError {
    StudyError::DicomParse {
        path: path.to_path_buf(),
        message: format!(
            "element ({:04X},{:04X}) claims {length} bytes, more than the {left} left in the file: the file is damaged or cut short, or encoded in a way Fovea's DICOM reader does not follow",
            tag.0, tag.1
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Explicit VR little endian bytes of one element with a short-length VR.
    fn short(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&group.to_le_bytes());
        out.extend_from_slice(&element.to_le_bytes());
        out.extend_from_slice(vr);
        out.extend_from_slice(&(value.len() as u16).to_le_bytes());
        out.extend_from_slice(value);
        out
    }

    /// A long-length element header (OB, SQ, UN, …) with `length`.
    fn long(group: u16, element: u16, vr: &[u8; 2], length: u32) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&group.to_le_bytes());
        out.extend_from_slice(&element.to_le_bytes());
        out.extend_from_slice(vr);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&length.to_le_bytes());
        out
    }

    fn item(tag_element: u16, length: u32) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&0xFFFE_u16.to_le_bytes());
        out.extend_from_slice(&tag_element.to_le_bytes());
        out.extend_from_slice(&length.to_le_bytes());
        out
    }

    fn part10(data_set: &[u8]) -> tempfile::NamedTempFile {
        let mut bytes = vec![0_u8; 128];
        bytes.extend_from_slice(b"DICM");
        bytes.extend(short(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0"));
        bytes.extend_from_slice(data_set);
        let file = tempfile::NamedTempFile::new().expect("tmp");
        std::fs::write(file.path(), bytes).expect("write");
        file
    }

    #[test]
    fn a_well_formed_data_set_passes() {
        let mut data = short(0x0008, 0x0060, b"CS", b"OP");
        // A sequence of undefined length with one item, then encapsulated pixel data.
        data.extend(long(0x0008, 0x1115, b"SQ", UNDEFINED));
        data.extend(item(0xE000, UNDEFINED));
        data.extend(short(0x0008, 0x1150, b"UI", b"1.2\0"));
        data.extend(item(0xE00D, 0));
        data.extend(item(0xE0DD, 0));
        data.extend(long(0x7FE0, 0x0010, b"OB", UNDEFINED));
        data.extend(item(0xE000, 0));
        data.extend(item(0xE000, 6));
        data.extend_from_slice(&[0xFF, 0xFE, 0xE0, 0xDD, 0, 0]); // fragment bytes, not a tag
        data.extend(item(0xE0DD, 0));
        let file = part10(&data);
        check_part10(file.path()).expect("well formed");
    }

    #[test]
    fn a_length_beyond_the_end_is_refused_naming_the_element() {
        let mut data = short(0x0008, 0x0060, b"CS", b"OP");
        data.extend(long(0x0009, 0x1001, b"OB", 3_758_161_918));
        data.extend_from_slice(&[1, 2, 3, 4]);
        let file = part10(&data);
        let error = check_part10(file.path()).expect_err("too long");
        let text = error.to_string();
        assert!(
            text.contains("(0009,1001) claims 3758161918 bytes"),
            "{text}"
        );
        assert!(text.contains("the 4 left"), "{text}");
    }

    #[test]
    fn lengths_inside_sequences_and_fragments_are_checked() {
        // An unknown VR is read as UN (as dicom-rs does), inside an item of undefined length.
        let mut nested = long(0x0008, 0x1115, b"UN", UNDEFINED);
        nested.extend(item(0xE000, UNDEFINED));
        nested.extend_from_slice(&[0x08, 0x00, 0x50, 0x11, 0xFF, 0xFF, 0, 0]);
        nested.extend_from_slice(&0xE000_FFFE_u32.to_le_bytes());
        assert!(
            check_part10(part10(&nested).path()).is_err(),
            "inside a sequence"
        );

        let mut fragments = long(0x7FE0, 0x0010, b"OB", UNDEFINED);
        fragments.extend(item(0xE000, 0));
        fragments.extend(item(0xE000, 1 << 30));
        assert!(
            check_part10(part10(&fragments).path()).is_err(),
            "a fragment"
        );
    }

    #[test]
    fn implicit_and_big_endian_data_sets_are_read_in_their_encoding() {
        let implicit = Encoding {
            explicit: false,
            little_endian: true,
        };
        let mut data = Vec::new();
        data.extend_from_slice(&[0x08, 0x00, 0x60, 0x00, 2, 0, 0, 0]);
        data.extend_from_slice(b"OP");
        let file = tempfile::NamedTempFile::new().expect("tmp");
        std::fs::write(file.path(), &data).expect("write");
        check_data_set(file.path(), implicit).expect("well formed");
        data.extend_from_slice(&[0x10, 0x00, 0x10, 0x00, 0xFF, 0xFF, 0xFF, 0x7F]);
        std::fs::write(file.path(), &data).expect("write");
        assert!(check_data_set(file.path(), implicit).is_err());

        let big = Encoding {
            explicit: true,
            little_endian: false,
        };
        let be = [0x00, 0x08, 0x00, 0x60, b'C', b'S', 0x00, 0x02, b'O', b'P'];
        std::fs::write(file.path(), be).expect("write");
        check_data_set(file.path(), big).expect("well formed");
        std::fs::write(
            file.path(),
            [0x00, 0x08, 0x00, 0x60, b'C', b'S', 0x10, 0x00],
        )
        .expect("w");
        assert!(
            check_data_set(file.path(), big).is_err(),
            "0x1000 bytes claimed"
        );
    }
}
