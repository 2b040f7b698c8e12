//! Timing shared by the bench binaries: the median of repeated runs after one warm-up.

// Each bench binary compiles its own copy of this module and uses only part of it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// Median of `samples` (the upper middle for an even count).
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Runs `prepare` then times `run` on its output, `repeats` times after one untimed warm-up;
/// returns the median. Preparation (e.g. making an input tensor) is not timed.
pub fn time_with_setup<I, T>(
    repeats: usize,
    mut prepare: impl FnMut() -> I,
    mut run: impl FnMut(I) -> T,
) -> Duration {
    let _ = run(prepare());
    median(
        (0..repeats)
            .map(|_| {
                let input = prepare();
                let start = Instant::now();
                std::hint::black_box(run(input));
                start.elapsed()
            })
            .collect(),
    )
}

/// Times `run` (no untimed preparation), `repeats` times after one warm-up; the median.
pub fn time<T>(repeats: usize, mut run: impl FnMut() -> T) -> Duration {
    time_with_setup(repeats, || (), |()| run())
}
