#!/usr/bin/env bash
# .vol benchmark: Fovea (release build) beside eyepy (PyPI) on the same files in the same run:
# a synthetic 49-B-scan 512 × 496 cube written by the bench, and the real samples in
# ../shared/data/real/vol when present; plus the laterality check on a fundus photograph.
set -euo pipefail
cd "$(dirname "$0")/.."
source packaging/env.sh
venv=${FOVEA_REFERENCE_VENV:-$HOME/.cache/fovea-venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q eyepy
cargo build --release --locked --bench vol_decode
bench=$(ls -t "$CARGO_TARGET_DIR"/release/deps/vol_decode-* | grep -v '\.d$' | head -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
real=(../shared/data/real/vol/*.vol)
[ -e "${real[0]}" ] || real=()
photo=../shared/data/real/fundus/normal_left_eye_OS.jpg
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
if [ -e "$photo" ]; then
  "$bench" "$work/cube.vol" "${real[@]}" --photo "$photo"
else
  "$bench" "$work/cube.vol" "${real[@]}"
fi
"$venv/bin/python" benches/eyepy_vol_decode.py "$work/cube.vol" "${real[@]}"
