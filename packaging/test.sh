#!/usr/bin/env bash
# Runs every test of Fovea: installs the system packages tests need, then `cargo test`,
# and ends with one line totalling every test binary's result.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
source packaging/env.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --locked "$@" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "fovea tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
