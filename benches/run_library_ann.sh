#!/usr/bin/env bash
# Case-library search at scale: Fovea (exact and USearch HNSW) and FAISS (flat and HNSW) on the
# same synthetic vectors, same machine, same run. Usage: [sizes] [queries]
set -euo pipefail
cd "$(dirname "$0")/.."
source packaging/env.sh
venv=${FOVEA_REFERENCE_VENV:-$HOME/.cache/fovea-venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q numpy faiss-cpu
cargo build --release --locked --bench library_ann
bench=$(ls -t "$CARGO_TARGET_DIR"/release/deps/library_ann-* | grep -v '\.d$' | head -1)
export OUT=${OUT:-/tmp/fovea-ann}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem/ {print $2}') GiB"
"$bench" "${1:-100000,1000000}" "${2:-300}"
"$venv/bin/python" benches/faiss_ann.py "$OUT" "${1:-100000,1000000}"
rm -rf "$OUT"
