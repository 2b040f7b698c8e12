//! Heidelberg Spectralis raw exports (`.vol`, format `HSF-OCT-1xx`): an IR SLO and the OCT
//! B-scans of one scan, with each B-scan's line on the SLO and the vendor's layer boundaries.
//!
//! Layout (little endian; from the public descriptions in Heidelberg's "Spectralis special
//! function: exporting raw data" notes as the open readers document them — HeyexImport,
//! eyepy, OCT-Converter; read to learn it, no code taken):
//! - **File header**, 2048 bytes: `HSF-OCT-1xx` (12 bytes), SizeX (A-scans per B-scan, i32)
//!   @12, NumBScans @16, SizeZ (rows per A-scan) @20, ScaleX (mm) f64 @24, Distance between
//!   B-scans (mm) @32, ScaleZ (mm) @40, SizeXSlo i32 @48, SizeYSlo @52, ScaleXSlo f64 @56,
//!   ScaleYSlo @64, FieldSizeSlo (degrees) i32 @72, ScanFocus f64 @76, ScanPosition `OD`/`OS`
//!   (4 bytes) @84, ExamTime (Windows FILETIME: 100 ns since 1601-01-01 UTC) i64 @88,
//!   ScanPattern i32 @96, BScanHdrSize i32 @100, ID (16) @104, ReferenceID (16) @120, PID i32
//!   @136, PatientID (21) @140, DOB (OLE date: days since 1899-12-30) f64 @164, VID i32 @172,
//!   VisitID (24) @176, VisitDate (OLE) f64 @200.
//! - **SLO**: SizeXSlo × SizeYSlo bytes, 8-bit grey, row-major.
//! - **Per B-scan**: a BScanHdrSize-byte header — `HSF-BS-1xx` (12), BScanHdrSize i32 @12,
//!   StartX, StartY, EndX, EndY f64 @16..48 (the scan line on the SLO, in mm from its top
//!   left; for a circle scan, ScanPattern 2, End is the circle's centre and Start a point on
//!   it), NumSeg i32 @48, OffSeg i32 @52 (offset of the boundaries within this header),
//!   Quality f32 @56 — then SizeX × SizeZ f32 reflectivities, row-major.
//! - **Layer boundaries**: NumSeg × SizeX f32 at OffSeg in each B-scan header, each a row
//!   position per A-scan; the first three are ILM, BM and RNFL (outer boundary), later ones
//!   GCL, IPL, INL, OPL, ONL, ELM, PR1, PR2, RPE… An absent value is stored out of range (≈
//!   3.4e38, `0x7F7FFFFF`).
//! - Reflectivities are linear in [0, 1]; an invalid sample is the same huge value.
//!   **Display:** Heidelberg's viewers show `v^(1/4)` (the fourth root), which [`display_u16`]
//!   maps to 16 bits; invalid samples are shown black. The raw values are kept in
//!   [`VolBscan::values`].
//!
//! Real files can be longer than the arithmetic predicts (one sample by 132 bytes): trailing
//! bytes are tolerated; a file too short for its header's sizes is refused with the sizes.

use std::path::{Path, PathBuf};

/// The magic at the start of a `.vol` file.
pub const MAGIC: &[u8] = b"HSF-OCT-";
/// The file header's size.
pub const FILE_HEADER_BYTES: usize = 2048;
/// Values at or above this are "absent" (the format stores `0x7F7FFFFF`, ≈ 3.4e38).
pub const ABSENT_AT_OR_ABOVE: f32 = 1.0e30;
/// The vendor's names of the first boundaries, in file order.
pub const LAYER_NAMES: [&str; 17] = [
    "ILM", "BM", "RNFL", "GCL", "IPL", "INL", "OPL", "ONL", "ELM", "PR1", "PR2", "RPE", "layer 12",
    "layer 13", "layer 14", "layer 15", "layer 16",
];

/// Why a `.vol` file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum VolError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The header is not a `.vol` header or its sizes do not fit the file.
    #[error("{path}: not a readable Heidelberg .vol file: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the numbers.
        reason: String,
    },
}

/// The file header's facts.
#[derive(Debug, Clone, PartialEq)]
pub struct VolHeader {
    /// `HSF-OCT-103` etc.
    pub version: String,
    /// A-scans per B-scan (B-scan width).
    pub size_x: usize,
    /// B-scans.
    pub num_bscans: usize,
    /// Rows per A-scan (B-scan height).
    pub size_z: usize,
    /// Width of an A-scan step in mm.
    pub scale_x_mm: f64,
    /// Distance between B-scans in mm.
    pub distance_mm: f64,
    /// Height of a row in mm.
    pub scale_z_mm: f64,
    /// SLO width.
    pub slo_width: usize,
    /// SLO height.
    pub slo_height: usize,
    /// SLO pixel width in mm.
    pub slo_scale_x_mm: f64,
    /// SLO pixel height in mm.
    pub slo_scale_y_mm: f64,
    /// SLO field of view in degrees.
    pub slo_field_deg: i32,
    /// `OD` or `OS` as written.
    pub scan_position: String,
    /// Exam time, ISO 8601 UTC, when set.
    pub exam_datetime: Option<String>,
    /// Patient ID as written (may be empty).
    pub patient_id: String,
    /// Date of birth `YYYYMMDD`, when set.
    pub birth_date: Option<String>,
    /// Visit date `YYYYMMDD`, when set.
    pub visit_date: Option<String>,
    /// The scan's own ID (16 characters), used for instance keys.
    pub scan_id: String,
    /// ScanPattern: 1 line, 2 circle (one B-scan around the disc), 3/4 volume, 5 radial; 0
    /// unknown.
    pub scan_pattern: i32,
    /// Size of each B-scan header.
    pub bscan_header_bytes: usize,
}

/// One B-scan.
#[derive(Debug, Clone, PartialEq)]
pub struct VolBscan {
    /// Start of the line on the SLO, in mm (x, y).
    pub start_mm: (f64, f64),
    /// End of the line on the SLO, in mm.
    pub end_mm: (f64, f64),
    /// Vendor quality value.
    pub quality: f32,
    /// `NumSeg` boundaries × `size_x` row positions (`None` where absent).
    pub layers: Vec<Vec<Option<f32>>>,
    /// `size_z × size_x` raw reflectivities, row-major (invalid samples as stored).
    pub values: Vec<f32>,
}

/// A whole `.vol` file.
#[derive(Debug, Clone, PartialEq)]
pub struct VolFile {
    /// The header.
    pub header: VolHeader,
    /// The SLO, `slo_width × slo_height` bytes.
    pub slo: Vec<u8>,
    /// The B-scans, in file order.
    pub bscans: Vec<VolBscan>,
}

/// Whether `bytes` (a file's start) look like a `.vol` file.
pub fn has_vol_magic(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

fn invalid(path: &Path, reason: String) -> VolError {
    VolError::Invalid {
        path: path.to_path_buf(),
        reason,
    }
}

/// Little-endian field reader over a byte slice; every read is bounds-checked.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.0.get(at..at + N)?.try_into().ok()
    }
    fn i32(&self, at: usize) -> Option<i32> {
        self.bytes::<4>(at).map(i32::from_le_bytes)
    }
    fn i64(&self, at: usize) -> Option<i64> {
        self.bytes::<8>(at).map(i64::from_le_bytes)
    }
    fn f32(&self, at: usize) -> Option<f32> {
        self.bytes::<4>(at).map(f32::from_le_bytes)
    }
    fn f64(&self, at: usize) -> Option<f64> {
        self.bytes::<8>(at).map(f64::from_le_bytes)
    }
    fn text(&self, at: usize, len: usize) -> Option<String> {
        let raw = self.0.get(at..at + len)?;
        let end = raw.iter().position(|&b| b == 0).unwrap_or(len);
        Some(String::from_utf8_lossy(&raw[..end]).trim().to_string())
    }
}

/// A count from the header: non-negative and below `limit`.
fn count(value: Option<i32>, what: &str, limit: usize, path: &Path) -> Result<usize, VolError> {
    let value = value.ok_or_else(|| invalid(path, format!("the header ends before {what}")))?;
    usize::try_from(value)
        .ok()
        .filter(|v| *v <= limit)
        .ok_or_else(|| invalid(path, format!("{what} is {value}")))
}

/// `YYYYMMDD` of an OLE automation date (days since 1899-12-30); `None` for 0 or nonsense.
fn ole_date(days: f64) -> Option<String> {
    if !(1.0..=2_958_465.0).contains(&days) {
        return None;
    }
    let (y, m, d) = civil_from_days(days.floor() as i64 - 25_569); // 1899-12-30 → 1970-01-01
    Some(format!("{y:04}{m:02}{d:02}"))
}

/// ISO 8601 UTC of a Windows FILETIME; `None` for 0.
fn filetime(ticks: i64) -> Option<String> {
    if ticks <= 0 {
        return None;
    }
    let seconds = ticks / 10_000_000 - 11_644_473_600;
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    ))
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Reads the file header (the first 2048 bytes).
pub fn parse_header(bytes: &[u8], path: &Path) -> Result<VolHeader, VolError> {
    if !has_vol_magic(bytes) {
        return Err(invalid(path, "no HSF-OCT- magic".to_string()));
    }
    if bytes.len() < FILE_HEADER_BYTES {
        return Err(invalid(
            path,
            format!(
                "{} bytes, shorter than the {FILE_HEADER_BYTES}-byte header",
                bytes.len()
            ),
        ));
    }
    let f = Fields(bytes);
    const MAX_SIDE: usize = 16_384;
    let header = VolHeader {
        version: f.text(0, 12).unwrap_or_default(),
        size_x: count(f.i32(12), "SizeX", MAX_SIDE, path)?,
        num_bscans: count(f.i32(16), "NumBScans", 100_000, path)?,
        size_z: count(f.i32(20), "SizeZ", MAX_SIDE, path)?,
        scale_x_mm: f.f64(24).unwrap_or(0.0),
        distance_mm: f.f64(32).unwrap_or(0.0),
        scale_z_mm: f.f64(40).unwrap_or(0.0),
        slo_width: count(f.i32(48), "SizeXSlo", MAX_SIDE, path)?,
        slo_height: count(f.i32(52), "SizeYSlo", MAX_SIDE, path)?,
        slo_scale_x_mm: f.f64(56).unwrap_or(0.0),
        slo_scale_y_mm: f.f64(64).unwrap_or(0.0),
        slo_field_deg: f.i32(72).unwrap_or(0),
        scan_position: f.text(84, 4).unwrap_or_default(),
        exam_datetime: f.i64(88).and_then(filetime),
        bscan_header_bytes: count(f.i32(100), "BScanHdrSize", 1 << 24, path)?,
        scan_id: f.text(104, 16).unwrap_or_default(),
        scan_pattern: f.i32(96).unwrap_or(0),
        patient_id: f.text(140, 21).unwrap_or_default(),
        birth_date: f.f64(164).and_then(ole_date),
        visit_date: f.f64(200).and_then(ole_date),
    };
    Ok(header)
}

impl VolHeader {
    /// Bytes of one B-scan's pixel data.
    pub fn bscan_data_bytes(&self) -> usize {
        self.size_x * self.size_z * 4
    }

    /// Where B-scan `i`'s header starts.
    pub fn bscan_offset(&self, i: usize) -> usize {
        FILE_HEADER_BYTES
            + self.slo_width * self.slo_height
            + i * (self.bscan_header_bytes + self.bscan_data_bytes())
    }

    /// The length the header's sizes need.
    pub fn expected_len(&self) -> usize {
        self.bscan_offset(self.num_bscans)
    }

    /// The eye from ScanPosition.
    pub fn eye(&self) -> Option<super::model::Eye> {
        match self.scan_position.to_ascii_uppercase().as_str() {
            "OD" => Some(super::model::Eye::Right),
            "OS" => Some(super::model::Eye::Left),
            _ => None,
        }
    }
}

/// Parses a whole file held in memory.
pub fn parse(bytes: &[u8], path: &Path) -> Result<VolFile, VolError> {
    let header = parse_header(bytes, path)?;
    if header.bscan_header_bytes < 256 && header.num_bscans > 0 {
        return Err(invalid(
            path,
            format!(
                "BScanHdrSize is {}, smaller than a B-scan header",
                header.bscan_header_bytes
            ),
        ));
    }
    let expected = header.expected_len();
    if bytes.len() < expected {
        return Err(invalid(
            path,
            format!(
                "{} bytes, and its header's sizes need {expected} (SLO {}×{}, {} B-scans of {}×{} with {}-byte headers): the file is truncated",
                bytes.len(),
                header.slo_width,
                header.slo_height,
                header.num_bscans,
                header.size_x,
                header.size_z,
                header.bscan_header_bytes
            ),
        ));
    }
    let slo =
        bytes[FILE_HEADER_BYTES..FILE_HEADER_BYTES + header.slo_width * header.slo_height].to_vec();
    let bscans = (0..header.num_bscans)
        .map(|i| parse_bscan(bytes, &header, i, path))
        .collect::<Result<_, _>>()?;
    Ok(VolFile {
        header,
        slo,
        bscans,
    })
}

fn parse_bscan(
    bytes: &[u8],
    header: &VolHeader,
    i: usize,
    path: &Path,
) -> Result<VolBscan, VolError> {
    let at = header.bscan_offset(i);
    let hdr = Fields(&bytes[at..at + header.bscan_header_bytes]);
    let magic = hdr.text(0, 12).unwrap_or_default();
    if !magic.starts_with("HSF-BS-") {
        return Err(invalid(
            path,
            format!("B-scan {i} does not start with HSF-BS- (found {magic:?})"),
        ));
    }
    let f64_at = |o| hdr.f64(o).unwrap_or(0.0);
    let num_seg = hdr
        .i32(48)
        .and_then(|v| usize::try_from(v).ok())
        .unwrap_or(0);
    let off_seg = hdr
        .i32(52)
        .and_then(|v| usize::try_from(v).ok())
        .unwrap_or(0);
    let x = header.size_x;
    let fitting = if x == 0 {
        0
    } else {
        header.bscan_header_bytes.saturating_sub(off_seg) / (4 * x)
    };
    let layers = (0..num_seg.min(fitting))
        .map(|k| {
            (0..x)
                .map(|a| {
                    hdr.f32(off_seg + 4 * (k * x + a))
                        .filter(|v| v.is_finite() && *v < ABSENT_AT_OR_ABOVE && *v >= 0.0)
                })
                .collect()
        })
        .collect();
    let data_at = at + header.bscan_header_bytes;
    let values = bytes[data_at..data_at + header.bscan_data_bytes()]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(VolBscan {
        start_mm: (f64_at(16), f64_at(24)),
        end_mm: (f64_at(32), f64_at(40)),
        quality: hdr.f32(56).unwrap_or(0.0),
        layers,
        values,
    })
}

/// Reads and parses a `.vol` file.
pub fn read(path: &Path) -> Result<VolFile, VolError> {
    let bytes = std::fs::read(path).map_err(|source| VolError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&bytes, path)
}

/// Reads only the file header (the metadata scan).
pub fn read_header(path: &Path) -> Result<(VolHeader, u64), VolError> {
    use std::io::Read;
    let io = |source| VolError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut head = Vec::with_capacity(FILE_HEADER_BYTES);
    file.by_ref()
        .take(FILE_HEADER_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io)?;
    let header = parse_header(&head, path)?;
    if (len as usize) < header.expected_len() {
        return Err(invalid(
            path,
            format!(
                "{len} bytes, and its header's sizes need {}: the file is truncated",
                header.expected_len()
            ),
        ));
    }
    Ok((header, len))
}

/// A raw reflectivity as Heidelberg's viewers show it: the fourth root, in 16 bits; invalid
/// or negative samples black.
pub fn display_u16(value: f32) -> u16 {
    if !value.is_finite() || !(0.0..ABSENT_AT_OR_ABOVE).contains(&value) {
        return 0;
    }
    // The fourth root as two square roots (a fraction of powf's cost; the same value to
    // within an ulp).
    (value.min(1.0).sqrt().sqrt() * 65_535.0).round() as u16
}

/// Each B-scan's line on the SLO in mm (start, end), read from the B-scan headers only.
pub fn read_lines(path: &Path, header: &VolHeader) -> Result<Vec<[(f64, f64); 2]>, VolError> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |source| VolError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut lines = Vec::with_capacity(header.num_bscans);
    let mut head = [0_u8; 48];
    for i in 0..header.num_bscans {
        file.seek(SeekFrom::Start(header.bscan_offset(i) as u64))
            .map_err(io)?;
        file.read_exact(&mut head).map_err(io)?;
        let f = Fields(&head);
        let v = |o| f.f64(o).unwrap_or(0.0);
        lines.push([(v(16), v(24)), (v(32), v(40))]);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_dates_convert() {
        assert_eq!(ole_date(25_569.0).as_deref(), Some("19700101"));
        assert_eq!(ole_date(40_856.538).as_deref(), Some("20111109"));
        assert_eq!(ole_date(0.0), None);
        assert_eq!(
            filetime(129_653_134_761_562_500).as_deref(),
            Some("2011-11-09T11:57:56Z")
        );
    }

    #[test]
    fn display_is_the_fourth_root_and_invalid_is_black() {
        assert_eq!(display_u16(1.0), 65_535);
        assert_eq!(display_u16(0.0625), 32_768);
        assert_eq!(display_u16(f32::from_bits(0x7F7F_FFFF)), 0);
        assert_eq!(display_u16(f32::NAN), 0);
    }

    #[test]
    fn a_short_file_is_refused_with_its_sizes() {
        let mut bytes = vec![0_u8; 100];
        bytes[..12].copy_from_slice(b"HSF-OCT-103\0");
        let error = parse(&bytes, Path::new("x.vol")).expect_err("too short");
        assert!(error.to_string().contains("2048-byte header"), "{error}");
    }
}
