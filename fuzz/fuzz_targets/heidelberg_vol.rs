//! Fuzz target: [`fovea::reliability::ParserTarget::HeidelbergVol`].
#![no_main]

use fovea::reliability::{ParserTarget, feed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        // Fovea turns a panic inside a third-party decoder into a damaged-file error; only an
        // uncaught panic is a crash. libfuzzer-sys's hook aborts on every panic, caught or
        // not, so the default hook is restored: an uncaught panic still reaches libfuzzer-sys's
        // own catch_unwind, which aborts.
        let _ = std::panic::take_hook();
    },
    |data: &[u8]| {
        // A refusal is fine and an I/O error is the temporary folder's; a panic is a crash.
        let _ = feed(ParserTarget::HeidelbergVol, data);
    }
);
