//! Fovea's integration tests, in one binary (each extra test binary links everything again).

mod cli;
mod demo_roundtrip;
mod jobs;
mod pydicom_files;
mod support;
