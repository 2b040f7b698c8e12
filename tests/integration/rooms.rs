//! The rooms of `src/` and which may use which (ARCHITECTURE.md draws the same table): every
//! `.rs` file's code lines (comments left out) are read for paths into the crate's rooms
//! (`crate::room`, `super::…` stays inside a room) and into the crates only some rooms may
//! know (egui/eframe, burn). A forbidden one fails the test with the file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The rooms each room may use (besides itself and the [`SHARED`] pieces).
const ALLOWED: &[(&str, &[&str])] = &[
    (
        "ui",
        &["validation", "analysis", "library", "encoder", "study"],
    ),
    (
        "cli",
        &[
            "demo",
            "validation",
            "analysis",
            "library",
            "encoder",
            "study",
            "synth",
        ],
    ),
    (
        "demo",
        &[
            "validation",
            "analysis",
            "library",
            "encoder",
            "study",
            "synth",
        ],
    ),
    ("validation", &["analysis", "library", "encoder", "study"]),
    ("analysis", &["encoder", "study"]),
    ("library", &["analysis", "encoder", "study"]),
    ("encoder", &["study"]),
    // Parser entry points for fuzzing and the corpus replay.
    ("reliability", &["library", "encoder", "study"]),
    ("synth", &["study"]),
    ("study", &[]),
    ("path_error", &[]),
    ("worker", &[]),
    // The binary: where the two top rooms meet.
    ("main", &["cli", "ui"]),
    // Declares the rooms.
    ("lib", &[]),
];

/// Shared pieces, not rooms: every file may use them (they themselves use no room).
const SHARED: &[&str] = &["path_error", "worker"];

/// Crates only some rooms may name.
const GUARDED_CRATES: &[(&str, &[&str])] = &[
    ("egui", &["ui"]),
    ("eframe", &["ui"]),
    ("egui_wgpu", &["ui"]),
    ("burn", &["encoder", "demo"]),
    ("burn_store", &["encoder", "demo"]),
    ("burn_pack", &["encoder", "demo"]),
];

/// The room a file under `src/` belongs to: its first folder, or its stem for a top-level file.
fn room_of(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .expect("a path under src")
        .as_os_str()
        .to_string_lossy()
        .to_string();
    first.trim_end_matches(".rs").to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A line without its comment (`//` outside a string literal), its string literals and its
/// character literals.
fn code_of(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut code = String::new();
    let mut in_string = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\\' if in_string => i += 1,
            '"' => in_string = !in_string,
            _ if in_string => {}
            '/' if next == Some('/') => break,
            '\'' if next == Some('\\') => {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
            }
            '\'' if chars.get(i + 2) == Some(&'\'') => i += 2,
            _ => code.push(c),
        }
        i += 1;
    }
    code
}

/// The identifiers that follow `prefix::` in `code`, e.g. `crate::` → `["study"]`.
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        let after = &rest[at + prefix.len()..];
        let word_start = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if word_start {
            let end = after
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            found.push(&after[..end]);
        }
        rest = after;
    }
    found
}

/// Every forbidden use in the files under `src`, as `file:line: what`.
fn violations(src: &Path) -> Vec<String> {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let room = room_of(relative);
        let Some(may_use) = allowed.get(room.as_str()) else {
            found.push(format!(
                "{}: room `{room}` is not in the table of rooms",
                relative.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("readable source");
        for (n, line) in text.lines().enumerate() {
            let code = code_of(line);
            let mut used: Vec<&str> = paths_after(&code, "crate::");
            if room == "main" {
                used.extend(paths_after(&code, "fovea::"));
            }
            for other in used {
                if other != room && !may_use.contains(&other) && !SHARED.contains(&other) {
                    found.push(format!(
                        "{}:{}: room `{room}` uses room `{other}`",
                        relative.display(),
                        n + 1
                    ));
                }
            }
            for (krate, rooms) in GUARDED_CRATES {
                let named = code.trim_start().starts_with(&format!("use {krate}::"))
                    || code.trim_start().starts_with(&format!("pub use {krate}::"))
                    || !paths_after(&code, &format!("{krate}::")).is_empty();
                if named && !rooms.contains(&room.as_str()) {
                    found.push(format!(
                        "{}:{}: room `{room}` names `{krate}` (only {rooms:?} may)",
                        relative.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn every_room_uses_only_the_rooms_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(found.is_empty(), "forbidden uses:\n{}", found.join("\n"));
}

#[test]
fn a_forbidden_use_is_found() {
    let dir = tempfile::tempdir().expect("tmp");
    let study = dir.path().join("study");
    std::fs::create_dir_all(&study).expect("dir");
    std::fs::write(
        study.join("model.rs"),
        "//! crate::ui in a comment is fine\nuse crate::path_error::AtPath;\nuse crate::ui::FoveaApp;\nconst S: &str = \"crate::cli\";\nfn f() { burn::prelude::Device::flex(); }\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("stray.rs"), "").expect("write");
    let found = violations(dir.path());
    assert_eq!(
        found,
        [
            "stray.rs: room `stray` is not in the table of rooms".to_string(),
            "study/model.rs:3: room `study` uses room `ui`".to_string(),
            "study/model.rs:5: room `study` names `burn` (only [\"encoder\", \"demo\"] may)"
                .to_string(),
        ],
    );
}
