//! Patients and eyes from the names of plain images, as fundus cameras in screening camps
//! export them (`Patient001_L.jpg`, `Patient001_R.jpg`).
//!
//! The patterns, tried in order on the file stem (case-insensitive; eye tokens `L`, `R`, `OS`,
//! `OD`, `left`, `right`; an optional sequence number of 1–3 digits after the eye, with or
//! without `_`/`-`):
//! 1. `<patient>_<date>_<eye>[_<n>]`, the date `YYYYMMDD` or `YYYY-MM-DD` (`-` also works as
//!    the separator): `P0042_20240131_OD.jpg`;
//! 2. `<patient>_<eye>[_<n>]` or `<patient>-<eye>[-<n>]`: `Patient001_L.jpg`, `ab12-right-2.png`;
//! 3. `<patient ending in a digit><eye>[_<n>]` with a one- or two-letter eye token:
//!    `CHASEDB1_08L.png` (patient `CHASEDB1_08`).
//!
//! The patient id is the stem without the eye, date and sequence number. A name is left alone
//! (each file its own patient, as before) when the patient part is empty or itself contains
//! an eye token as a word (`both_OD_OS.png`). A sidecar or folder `patient.json` still wins.
//!
//! A clinic whose camera names files differently gives its own pattern instead
//! ([`NamePatterns::user`], `--name-pattern`): a regular expression with the named groups
//! `patient` and `eye` (and optionally `date`), matched against the whole stem, ignoring case.

use std::sync::OnceLock;

use regex::Regex;

use super::model::Eye;

/// What a file name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameMatch {
    /// The patient id (the stem without the eye, date and sequence number).
    pub patient: String,
    /// The eye.
    pub eye: Eye,
    /// `YYYYMMDD`, when the name has a date.
    pub date: Option<String>,
}

/// The patterns in words, for `fovea studies` and the README.
pub const PATTERNS_IN_WORDS: &str = "<patient>_<YYYYMMDD>_<eye>, <patient>_<eye> or <patient>-<eye>, <patient ending in a digit><L|R|OD|OS>; eye = L, R, OS, OD, left, right (any case), optionally followed by a sequence number";

fn patterns() -> &'static [Regex] {
    static PATTERNS: OnceLock<Vec<Regex>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        [
            r"(?i)^(?P<patient>.+?)[_-](?P<date>\d{8}|\d{4}-\d{2}-\d{2})[_-](?P<eye>od|os|left|right|l|r)(?:[_-]?\d{1,3})?$",
            r"(?i)^(?P<patient>.+?)[_-](?P<eye>od|os|left|right|l|r)(?:[_-]?\d{1,3})?$",
            r"(?i)^(?P<patient>.*\d)(?P<eye>od|os|l|r)(?:[_-]\d{1,3})?$",
        ]
        .iter()
        .filter_map(|p| Regex::new(p).ok())
        .collect()
    })
}

fn eye_of(token: &str) -> Option<Eye> {
    match token.to_ascii_lowercase().as_str() {
        "od" | "r" | "right" => Some(Eye::Right),
        "os" | "l" | "left" => Some(Eye::Left),
        _ => None,
    }
}

/// A plausible calendar date as `YYYYMMDD`.
fn date_of(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let (month, day): (u32, u32) = (
        digits.get(4..6)?.parse().ok()?,
        digits.get(6..8)?.parse().ok()?,
    );
    ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some(digits)
}

/// What the file stem `stem` says, by the first built-in pattern that matches (see the module
/// docs).
pub fn parse_stem(stem: &str) -> Option<NameMatch> {
    first_match(patterns(), stem, true)
}

/// How plain images' names are read: the built-in patterns, or the user's own.
#[derive(Debug, Clone, Default)]
pub struct NamePatterns {
    user: Option<Regex>,
    /// The user's pattern as given.
    text: String,
}

/// Why a user's file-name pattern cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NamePatternError {
    /// Not a regular expression.
    #[error("the file-name pattern is not a valid regular expression")]
    Invalid(#[source] regex::Error),
    /// A required named group is missing.
    #[error(
        "the file-name pattern has no group named `{missing}`: name the parts with (?P<patient>…) and (?P<eye>…), and optionally (?P<date>…)"
    )]
    MissingGroup {
        /// The group's name.
        missing: &'static str,
    },
}

impl NamePatterns {
    /// The user's pattern `pattern` in place of the built-in ones: matched against the whole
    /// stem, ignoring case; it must have the named groups `patient` and `eye` (`L`, `R`, `OS`,
    /// `OD`, `left`, `right`), and may have `date` (`YYYYMMDD` or `YYYY-MM-DD`).
    pub fn user(pattern: &str) -> Result<Self, NamePatternError> {
        // Checked as written first, so that an error points into the user's own text.
        Regex::new(pattern).map_err(NamePatternError::Invalid)?;
        let regex =
            Regex::new(&format!("(?i)^(?:{pattern})$")).map_err(NamePatternError::Invalid)?;
        for missing in ["patient", "eye"] {
            if !regex.capture_names().flatten().any(|name| name == missing) {
                return Err(NamePatternError::MissingGroup { missing });
            }
        }
        Ok(NamePatterns {
            user: Some(regex),
            text: pattern.to_string(),
        })
    }

    /// What `stem` says under these patterns. The user's pattern is taken as written: only
    /// an empty patient, an unknown eye token or an impossible date leave a name alone.
    pub fn parse_stem(&self, stem: &str) -> Option<NameMatch> {
        match &self.user {
            Some(regex) => first_match(std::slice::from_ref(regex), stem, false),
            None => parse_stem(stem),
        }
    }

    /// The patterns in words, for `fovea studies`.
    pub fn describe(&self) -> String {
        match &self.user {
            Some(_) => format!("the pattern given with --name-pattern: {}", self.text),
            None => PATTERNS_IN_WORDS.to_string(),
        }
    }
}

/// The first of `patterns` that reads `stem`; with `refuse_ambiguous`, a patient part that
/// holds an eye token as a word leaves the name alone.
fn first_match(patterns: &[Regex], stem: &str, refuse_ambiguous: bool) -> Option<NameMatch> {
    for pattern in patterns {
        let Some(found) = pattern.captures(stem) else {
            continue;
        };
        let patient = found
            .name("patient")?
            .as_str()
            .trim_matches(['_', '-', ' ']);
        let eye = eye_of(found.name("eye")?.as_str())?;
        let date = match found.name("date") {
            Some(d) => Some(date_of(d.as_str())?),
            None => None,
        };
        let ambiguous = refuse_ambiguous
            && patient
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|word| eye_of(word).is_some());
        if patient.is_empty() || !patient.chars().any(|c| c.is_ascii_alphanumeric()) || ambiguous {
            return None;
        }
        return Some(NameMatch {
            patient: patient.to_string(),
            eye,
            date,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(patient: &str, eye: Eye, date: Option<&str>) -> Option<NameMatch> {
        Some(NameMatch {
            patient: patient.to_string(),
            eye,
            date: date.map(str::to_string),
        })
    }

    #[test]
    fn camera_names_give_patient_and_eye() {
        let cases = [
            ("Patient001_L", m("Patient001", Eye::Left, None)),
            ("Patient001_R", m("Patient001", Eye::Right, None)),
            ("patient001_r_2", m("patient001", Eye::Right, None)),
            (
                "P0042_20240131_OD",
                m("P0042", Eye::Right, Some("20240131")),
            ),
            (
                "P0042-2024-01-31-os",
                m("P0042", Eye::Left, Some("20240131")),
            ),
            ("ab12-right-2", m("ab12", Eye::Right, None)),
            ("Smith_John_left", m("Smith_John", Eye::Left, None)),
            ("CHASEDB1_08L", m("CHASEDB1_08", Eye::Left, None)),
            ("IMG_0042_R", m("IMG_0042", Eye::Right, None)),
        ];
        for (stem, want) in cases {
            assert_eq!(parse_stem(stem), want, "{stem}");
        }
    }

    #[test]
    fn a_users_pattern_replaces_the_built_in_ones() {
        let names = NamePatterns::user(r"(?P<eye>OD|OS)-(?P<patient>\d+)-(?P<date>\d{8})")
            .expect("a valid pattern");
        assert_eq!(
            names.parse_stem("od-0042-20240131"),
            m("0042", Eye::Right, Some("20240131"))
        );
        assert_eq!(names.parse_stem("Patient001_L"), None, "built-ins are off");
        assert_eq!(names.parse_stem("OS-0042-20241399"), None, "no such date");
        assert_eq!(
            names.parse_stem("xOS-0042-20240131"),
            None,
            "the whole stem"
        );
        assert!(names.describe().contains("--name-pattern"));
        let left_eye = NamePatterns::user(r"(?P<patient>.+)_(?P<eye>\w+)").expect("valid");
        assert_eq!(left_eye.parse_stem("a_b_c_OS"), m("a_b_c", Eye::Left, None));
        assert_eq!(left_eye.parse_stem("a_fundus"), None, "not an eye token");
        assert_eq!(
            NamePatterns::default().parse_stem("Patient001_L"),
            parse_stem("Patient001_L")
        );
    }

    #[test]
    fn a_pattern_without_its_groups_or_broken_is_refused() {
        let missing = NamePatterns::user(r"(?P<patient>.+)_(OD|OS)").expect_err("no eye group");
        assert!(missing.to_string().contains("`eye`"), "{missing}");
        assert!(matches!(
            NamePatterns::user(r"(?P<patient>.+"),
            Err(NamePatternError::Invalid(_))
        ));
    }

    #[test]
    fn ambiguous_or_eyeless_names_are_left_alone() {
        for stem in [
            "both_OD_OS",
            "L",
            "_R",
            "fundus",
            "image_FINAL",
            "p01-os-fundus",
            "Left eye",
            "ROSE",
            "scan_20241399_L",
        ] {
            assert_eq!(parse_stem(stem), None, "{stem}");
        }
    }
}
