#!/usr/bin/env bash
# Study I/O benchmark: Fovea (release build) and pydicom + pylibjpeg on the same files.
# Writes 167 synthetic patients (1,002 DICOM files) to a temp folder, then times:
#   the metadata scan of the folder, decoding a multi-frame OCT, decoding a JPEG fundus.
set -euo pipefail
cd "$(dirname "$0")/.."
source packaging/env.sh
venv=${FOVEA_REFERENCE_VENV:-$HOME/.cache/fovea-venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q pydicom==3.0.2 numpy pylibjpeg pylibjpeg-libjpeg
work=${FOVEA_BENCH_DIR:-$(mktemp -d)}
cargo build --release --locked --bench study_io --bin fovea
fovea="$CARGO_TARGET_DIR/release/fovea"
[ -d "$work/scan/dicom" ] || "$fovea" demo-data "$work/scan" --patients 167 --seed 1000 --no-png --encoding jpeg-baseline >/dev/null
[ -d "$work/one/dicom" ] || "$fovea" demo-data "$work/one" --patients 1 --seed 1001 --no-png --encoding jpeg-baseline >/dev/null
[ -d "$work/raw/dicom" ] || "$fovea" demo-data "$work/raw" --patients 1 --seed 1001 --no-png >/dev/null
oct=$(ls "$work"/raw/dicom/*/*_OD_oct.dcm)
fundus=$(ls "$work"/one/dicom/*/*_OD_fundus.dcm)
bench=$(ls -t "$CARGO_TARGET_DIR"/release/deps/study_io-* | grep -v '\.d$' | head -1)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$bench" "$work/scan/dicom" "$oct" "$fundus" "${1:-7}"
"$venv/bin/python" benches/pydicom_study_io.py "$work/scan/dicom" "$oct" "$fundus" "${1:-7}"
