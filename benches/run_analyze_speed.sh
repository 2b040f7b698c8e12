#!/usr/bin/env bash
# Screening throughput: `fovea analyze` (release build) on the bundled demo patients with the
# demo model, with `--device auto` (a real GPU, else the CPU), on the CPU, and on wgpu (lavapipe
# when the machine has no GPU), 3 runs each;
# prints each run's own timing line (model load, then scan + analysis in patients/min).
set -euo pipefail
cd "$(dirname "$0")/.."
source packaging/env.sh
cargo build --release --locked
fovea="$CARGO_TARGET_DIR/release/fovea"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for device in auto cpu gpu; do
  for run in 1 2 3; do
    "$fovea" analyze assets/demo/dicom --pack models/demo --device "$device" --format json --out /dev/null 2>&1 | grep '^time:' || echo "$device: not available"
  done
done
