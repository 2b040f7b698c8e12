#!/usr/bin/env bash
# Runs Fovea's main job on the bundled synthetic demo patients.
# Until the viewer lands (issue: the viewer), that job is the headless study scan:
# patients → studies → eyes → images, read from the bundled DICOM files.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
source packaging/env.sh
cargo run --release --locked -- studies assets/demo/dicom "$@"
