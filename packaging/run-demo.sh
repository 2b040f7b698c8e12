#!/usr/bin/env bash
# Runs Fovea's main job on the bundled synthetic demo patients.
# Until the viewer lands (issue: the viewer), that job is headless screening: the bundled
# demo model (models/demo, trained on synthetic data only) analyses the bundled demo patients
# and prints per-eye and patient-level findings, then similar cases from the demo library.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
source packaging/env.sh
cargo run --release --locked -- analyze assets/demo/dicom --pack models/demo "$@"
echo
echo "Similar cases for the first demo patient's right eye, from the bundled demo library:"
cargo run --release --locked -- library search assets/library --pack models/demo \
  --image assets/demo/dicom/SYN010001/SYN010001_OD_fundus.dcm --eye-level --k 5
