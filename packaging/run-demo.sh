#!/usr/bin/env bash
# Runs Fovea on the bundled synthetic demo patients with the bundled demo model (trained on
# synthetic data only) and the bundled demo case library.
# With a display: the viewer. Without one (a server, CI): headless screening of the same
# patients, then similar cases from the library, and how to see the viewer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
source packaging/env.sh
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  # With no arguments, the demo patients (a bare `fovea` opens the start screen instead).
  if [ $# -eq 0 ]; then set -- assets/demo/dicom; fi
  exec cargo run --release --locked -- "$@"
fi
echo "fovea: no display (DISPLAY/WAYLAND_DISPLAY unset): running headless screening instead of the viewer."
echo "       To see the viewer here: xvfb-run -a cargo run --release (and a VNC/screenshot), or"
echo "       bash packaging/screenshot.sh for a picture of it."
echo
cargo run --release --locked -- analyze assets/demo/dicom --pack models/demo "$@"
echo
echo "Similar cases for the first demo patient's right eye, from the bundled demo library:"
cargo run --release --locked -- library search assets/library --pack models/demo \
  --image assets/demo/dicom/SYN010001/SYN010001_OD_fundus.dcm --eye-level --k 5
