//! Reliability: the parser entry points that the fuzz targets (`fuzz/`, run by
//! `packaging/fuzz.sh`) and the corpus replay test (`tests/integration/fuzz_corpus.rs`) share,
//! so that what was fuzzed is exactly what CI replays.
//!
//! Each entry point takes arbitrary bytes, hands them to one of Fovea's readers the way a
//! user's file would reach it, and returns whether the reader accepted them. A refusal is an
//! ordinary outcome; a panic, a hang or a huge allocation is a bug. `RELIABILITY.md` records
//! the runs.

pub mod parsers;

pub use parsers::{ParserTarget, feed};
