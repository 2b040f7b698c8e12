//! A guard run before dicom-rs reads a DICOM file: no element may claim more bytes than the
//! file has left.
//!
//! dicom-rs 0.10 reserves and zero-fills a value's declared length before it reads the value,
//! so a damaged or hostile file that declares a 3.7 GB element takes 3.7 GB of memory (and
//! seconds) before the read fails: found by fuzzing on pydicom's 674-byte `UN_sequence.dcm`
//! (RELIABILITY.md). GDCM fixed the same kind of flaw (CVE-2026-3650) by comparing each value
//! length with what the stream has left; this module does that for dicom-rs.
//!
//! The check reads the file with dicom-rs's own readers — the file meta group with
//! `FileMetaTable::from_reader`, the data set with `dicom_parser`'s `DataSetReader`, as
//! `open_file` does — so it sees each element header exactly as the real read will (the meta
//! group's own lengths are walked first, as dicom-rs's meta reader allocates them too) (a hand
//! walk of the structure was tried first; the fuzzer soon found files where it and dicom-rs
//! part ways). It stops at the first header whose length is more than the bytes left, before
//! its value is read. Values that pass are read and dropped (at most the file's size). dicom-rs
//! reads a pixel fragment's header and value in one step, so at the start of encapsulated pixel
//! data the fragments' lengths are walked here first. A metadata check stops where
//! `read_until(PixelData)` does: at the top level only, since Pixel Data inside a sequence's
//! item is read in full. A parse error is left to the real read, which reports it. A deflated
//! data set is read through dicom-rs's inflater, and a length is impossible when it is more
//! than deflate's largest expansion (≈ 1032 : 1) of the whole compressed data set.

use std::cell::Cell;
use std::io::{BufReader, Read, Seek};
use std::path::Path;
use std::rc::Rc;

use super::error::StudyError;
use crate::path_error::AtPath;

/// How the element headers are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Encoding {
    /// Explicit VR (else implicit).
    explicit: bool,
    /// Little endian (else big).
    little_endian: bool,
}

const PREAMBLE: u64 = 128;
/// Deflate's largest expansion: 258 bytes from 2 bits, ≈ 1032 : 1.
const DEFLATE_MAX_RATIO: u64 = 1032;
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const PIXEL_DATA: dicom_core::Tag = dicom_core::Tag(0x7FE0, 0x0010);
const KNOWN_VRS: [&[u8; 2]; 34] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB",
    b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
    b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
];
const LONG_VRS: [&[u8; 2]; 13] = [
    b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV",
];

/// Checks the Part 10 file at `path` as `open_file` reads it: its file meta group through
/// dicom-rs's own reader (`FileMetaTable::from_reader`), then its data set in the transfer
/// syntax the meta group names (up to Pixel Data when `stop_at_pixel_data`, as the metadata
/// scan reads it).
pub fn check_part10(path: &Path, stop_at_pixel_data: bool) -> Result<(), StudyError> {
    check_meta_lengths(path)?;
    let mut file = std::fs::File::open(path).at_path(path)?;
    let len = file.metadata().at_path(path)?.len();
    file.seek(std::io::SeekFrom::Start(PREAMBLE))
        .at_path(path)?;
    let consumed = Rc::new(Cell::new(0_u64));
    let mut source = Counting {
        inner: BufReader::new(file),
        read: consumed.clone(),
    };
    let Ok(meta) = dicom_object::meta::FileMetaTable::from_reader(&mut source) else {
        return Ok(()); // The real read reports a broken meta group.
    };
    let file_offset = Offsets {
        base: PREAMBLE,
        consumed,
        len,
    };
    check_tokens(
        path,
        source,
        &file_offset,
        meta.transfer_syntax(),
        stop_at_pixel_data,
    )
}

/// The file meta group's element lengths, walked as dicom-rs's meta reader reads them (it
/// allocates each value's length too): explicit VR little endian after `DICM`, a (0002,0000)
/// group length of 4 bytes first, then elements while the group length lasts. Anything else
/// is left to dicom-rs, which refuses it without allocating.
fn check_meta_lengths(path: &Path) -> Result<(), StudyError> {
    let mut file = std::fs::File::open(path).at_path(path)?;
    let len = file.metadata().at_path(path)?.len();
    let mut at = PREAMBLE + 4;
    file.seek(std::io::SeekFrom::Start(at)).at_path(path)?;
    let mut reader = BufReader::new(file);
    let encoding = Encoding {
        explicit: true,
        little_endian: true,
    };
    let Some(first) = read_header(&mut reader, encoding).at_path(path)? else {
        return Ok(());
    };
    let mut value = [0_u8; 4];
    if first.tag != (0x0002, 0x0000)
        || first.length != 4
        || !read_fully(&mut reader, &mut value).at_path(path)?
    {
        return Ok(());
    }
    at += first.size + 4;
    let group_length = u64::from(u32::from_le_bytes(value));
    let mut read = 0_u64;
    while read < group_length {
        let Some(header) = read_header(&mut reader, encoding).at_path(path)? else {
            return Ok(());
        };
        at += header.size;
        skip_value(&mut reader, path, &header, &mut at, len)?;
        read += header.size + u64::from(header.length);
    }
    Ok(())
}

/// Checks a raw data set (no preamble, no file meta) at `path` in the transfer syntax
/// `transfer_syntax` (a UID).
pub fn check_data_set(path: &Path, transfer_syntax: &str) -> Result<(), StudyError> {
    let file = std::fs::File::open(path).at_path(path)?;
    let len = file.metadata().at_path(path)?.len();
    let consumed = Rc::new(Cell::new(0_u64));
    let source = Counting {
        inner: BufReader::new(file),
        read: consumed.clone(),
    };
    let offsets = Offsets {
        base: 0,
        consumed,
        len,
    };
    check_tokens(path, source, &offsets, transfer_syntax, false)
}

/// Where the reader is in the file.
struct Offsets {
    /// Bytes before the counted reader's start.
    base: u64,
    /// Bytes the reader has handed out.
    consumed: Rc<Cell<u64>>,
    /// The file's length.
    len: u64,
}

impl Offsets {
    fn position(&self) -> u64 {
        self.base + self.consumed.get()
    }

    fn left(&self) -> u64 {
        self.len.saturating_sub(self.position())
    }
}

/// Reads the data set from `source` with dicom-rs's token reader in `transfer_syntax`,
/// refusing the first element or fragment whose declared length is more than the bytes left;
/// stops at the top level's Pixel Data (or any later tag) when `stop_at_pixel_data`, as
/// `read_until(PixelData)` does.
fn check_tokens<R: Read + 'static>(
    path: &Path,
    source: R,
    offsets: &Offsets,
    transfer_syntax: &str,
    stop_at_pixel_data: bool,
) -> Result<(), StudyError> {
    use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
    use dicom_parser::dataset::DataToken;
    let Some(ts) = dicom_transfer_syntax_registry::TransferSyntaxRegistry.get(transfer_syntax)
    else {
        return Ok(()); // Unknown to dicom-rs: the real read says so.
    };
    let little_endian = ts.endianness() == dicom_encoding::Endianness::Little;
    // A deflated data set is read through the same inflater dicom-rs uses; its lengths are
    // those of the inflated stream, which is at most DEFLATE_MAX_RATIO times the compressed
    // bytes.
    let (source, deflated): (Box<dyn Read>, bool) = match ts.codec() {
        dicom_encoding::Codec::Dataset(Some(adapter)) => {
            (adapter.adapt_reader(Box::new(source)), true)
        }
        dicom_encoding::Codec::Dataset(None) => return Ok(()),
        _ => (Box::new(source), false),
    };
    let Ok(mut tokens) = dicom_parser::DataSetReader::new_with_ts(source, ts) else {
        return Ok(());
    };
    // Sequences (pixel sequences too) open around the current token. dicom-rs's `read_until`
    // stops only at the top level: inside a sequence's item, Pixel Data is read in full (a
    // damaged file whose items never end puts it there; found by fuzzing).
    let mut depth = 0_usize;
    let stops_here =
        |depth: usize, tag: dicom_core::Tag| stop_at_pixel_data && depth == 0 && tag >= PIXEL_DATA;
    loop {
        let token = match tokens.next() {
            None | Some(Err(_)) => return Ok(()),
            Some(Ok(token)) => token,
        };
        match token {
            DataToken::ElementHeader(header) => {
                let left = if deflated {
                    offsets.len.saturating_sub(offsets.base) * DEFLATE_MAX_RATIO
                } else {
                    offsets.left()
                };
                if header.len.is_defined() && u64::from(header.len.0) > left {
                    return Err(too_long(
                        path,
                        (header.tag.group(), header.tag.element()),
                        header.len.0,
                        left,
                    ));
                }
                if stops_here(depth, header.tag) {
                    return Ok(());
                }
            }
            DataToken::SequenceStart { tag, .. } => {
                if stops_here(depth, tag) {
                    return Ok(());
                }
                depth += 1;
            }
            DataToken::PixelSequenceStart => {
                if stops_here(depth, PIXEL_DATA) || deflated {
                    return Ok(());
                }
                // dicom-rs reads each fragment's header and value in one step: check them first.
                check_fragments(path, offsets, little_endian)?;
                depth += 1;
            }
            DataToken::SequenceEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
}

/// Walks the fragments of encapsulated pixel data from the current position: items
/// `(FFFE,E000)` with a length each, up to the sequence delimiter.
fn check_fragments(path: &Path, offsets: &Offsets, little_endian: bool) -> Result<(), StudyError> {
    let mut file = std::fs::File::open(path).at_path(path)?;
    let mut at = offsets.position();
    file.seek(std::io::SeekFrom::Start(at)).at_path(path)?;
    let mut reader = BufReader::new(file);
    let encoding = Encoding {
        explicit: false,
        little_endian,
    };
    while let Some(header) = read_header(&mut reader, encoding).at_path(path)? {
        at += header.size;
        if header.tag != ITEM {
            return Ok(()); // The delimiter, or something dicom-rs will refuse.
        }
        skip_value(&mut reader, path, &header, &mut at, offsets.len)?;
    }
    Ok(())
}

/// Refuses `header`'s value when it is longer than what is left of a file of `len` bytes from
/// byte `at` (the value's start), else seeks over it and moves `at` past it.
fn skip_value<R: Read + Seek>(
    reader: &mut BufReader<R>,
    path: &Path,
    header: &Header,
    at: &mut u64,
    len: u64,
) -> Result<(), StudyError> {
    let left = len.saturating_sub(*at);
    if u64::from(header.length) > left {
        return Err(too_long(path, header.tag, header.length, left));
    }
    reader
        .seek_relative(i64::from(header.length))
        .at_path(path)?;
    *at += u64::from(header.length);
    Ok(())
}

/// A reader that counts the bytes it hands out.
struct Counting<R> {
    inner: R,
    read: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// One element header.
struct Header {
    tag: (u16, u16),
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
            length: u32_of([head[4], head[5], head[6], head[7]]),
            size: 8,
        }));
    }
    let vr = [head[4], head[5]];
    // dicom-rs reads an unknown VR code as UN: a 4-byte length after two reserved bytes.
    if KNOWN_VRS.contains(&&vr) && !LONG_VRS.contains(&&vr) {
        return Ok(Some(Header {
            tag,
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
        length: u32_of(long),
        size: 12,
    }))
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

    const UNDEFINED: u32 = 0xFFFF_FFFF;

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
        let mut meta = short(0x0002, 0x0002, b"UI", b"1.2.840.10008.5.1.4.1.1.77.1.5.1\0");
        meta.extend(short(0x0002, 0x0003, b"UI", b"1.2.3.4\0"));
        meta.extend(short(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0"));
        bytes.extend(short(
            0x0002,
            0x0000,
            b"UL",
            &(meta.len() as u32).to_le_bytes(),
        ));
        bytes.extend(meta);
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
        check_part10(file.path(), false).expect("well formed");
    }

    #[test]
    fn a_length_beyond_the_end_is_refused_naming_the_element() {
        let mut data = short(0x0008, 0x0060, b"CS", b"OP");
        data.extend(long(0x0009, 0x1001, b"OB", 3_758_161_918));
        data.extend_from_slice(&[1, 2, 3, 4]);
        let file = part10(&data);
        let error = check_part10(file.path(), false).expect_err("too long");
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
        let error = check_part10(part10(&nested).path(), false).expect_err("inside a sequence");
        assert!(error.to_string().contains("(0008,1150)"), "{error}");

        let mut fragments = long(0x7FE0, 0x0010, b"OB", UNDEFINED);
        fragments.extend(item(0xE000, 0));
        fragments.extend(item(0xE000, 1 << 30));
        let error = check_part10(part10(&fragments).path(), false).expect_err("a fragment");
        assert!(
            error.to_string().contains("(FFFE,E000) claims 1073741824"),
            "{error}"
        );
        check_part10(part10(&fragments).path(), true).expect("a scan stops at Pixel Data");
    }

    #[test]
    fn a_scan_checks_pixel_data_inside_an_item_that_never_ends() {
        // dicom-rs's read_until stops at the top level only: Pixel Data inside an item is read
        // in full, fragments and all (fuzzing found a 1.85 GB offset table read this way).
        let mut data = long(0x0008, 0x1115, b"SQ", UNDEFINED);
        data.extend(item(0xE000, UNDEFINED));
        data.extend(short(0x0008, 0x1150, b"UI", b"1.2\0"));
        data.extend(long(0x7FE0, 0x0010, b"OB", UNDEFINED));
        data.extend(item(0xE000, 1_853_252_096));
        data.extend_from_slice(&[0; 16]);
        let error = check_part10(part10(&data).path(), true).expect_err("nested pixel data");
        assert!(
            error.to_string().contains("(FFFE,E000) claims 1853252096"),
            "{error}"
        );
    }

    #[test]
    fn implicit_and_big_endian_data_sets_are_read_in_their_encoding() {
        let implicit = "1.2.840.10008.1.2";
        let mut data = Vec::new();
        data.extend_from_slice(&[0x08, 0x00, 0x60, 0x00, 2, 0, 0, 0]);
        data.extend_from_slice(b"OP");
        let file = tempfile::NamedTempFile::new().expect("tmp");
        std::fs::write(file.path(), &data).expect("write");
        check_data_set(file.path(), implicit).expect("well formed");
        data.extend_from_slice(&[0x10, 0x00, 0x10, 0x00, 0xFF, 0xFF, 0xFF, 0x7F]);
        std::fs::write(file.path(), &data).expect("write");
        assert!(check_data_set(file.path(), implicit).is_err());

        let big = "1.2.840.10008.1.2.2";
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
