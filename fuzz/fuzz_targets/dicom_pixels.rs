//! Fuzz target: [`fovea::reliability::ParserTarget::DicomPixels`].
#![no_main]

use fovea::reliability::{ParserTarget, feed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A refusal is fine and an I/O error is the temporary folder's; a panic is a crash.
    let _ = feed(ParserTarget::DicomPixels, data);
});
