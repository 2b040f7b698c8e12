#!/usr/bin/env bash
# Rebuilds the bundled demo case library (assets/library) with the bundled demo model:
# 96 synthetic patients of seed 21 (the demo patients are seed 1; the model was trained on
# seeds 11-13), then prints precision@5 on 24 held-out patients of seed 22.
# Run after re-training models/demo (a test fails while the library is stale).
set -euo pipefail
cd "$(dirname "$0")/.."
source packaging/env.sh
cargo build --release --locked
fovea="$CARGO_TARGET_DIR/release/fovea"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$fovea" demo-data "$work/reference" --patients "${PATIENTS:-96}" --seed 21 --no-png
"$fovea" demo-data "$work/queries" --patients 24 --seed 22 --no-png
rm -rf ${LIB:-assets/library}
"$fovea" library build "$work/reference" --out ${LIB:-assets/library} --pack models/demo
"$fovea" library info ${LIB:-assets/library}
"$fovea" library evaluate ${LIB:-assets/library} "$work/queries" --pack models/demo --k 5
