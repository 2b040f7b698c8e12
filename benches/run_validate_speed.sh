#!/usr/bin/env bash
# Local validation time: `fovea model validate` (release build) of the demo pack on 400
# synthetic labelled patients (written once by `fovea demo-data`, JPEG baseline, the default
# geometry), on the CPU. Peer in the same run: `fovea analyze` on the same patients — the
# analysis validation cannot avoid; the difference is the fitting, bootstrap, domain
# description and report.
set -euo pipefail
cd "$(dirname "$0")/.."
source packaging/env.sh
cargo build --release --locked
fovea="$CARGO_TARGET_DIR/release/fovea"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$fovea" demo-data "$work/studies" --patients 400 --seed 5150 --encoding jpeg-baseline --no-png > /dev/null
start=$(date +%s.%N)
"$fovea" analyze "$work/studies" --device cpu --format json --out /dev/null 2>/dev/null || true
mid=$(date +%s.%N)
"$fovea" model validate models/demo "$work/studies" --device cpu --out "$work/validated" > "$work/summary.txt" 2>/dev/null
end=$(date +%s.%N)
echo "analyze 400 patients: $(awk "BEGIN { print $mid - $start }") s"
echo "model validate 400 patients: $(awk "BEGIN { print $end - $mid }") s"
grep -E "referable_dr \(eye\)|domain:" "$work/summary.txt"
