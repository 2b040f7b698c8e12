#!/usr/bin/env bash
# Runs every test of Fovea: installs the system packages tests need, then `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
source packaging/env.sh
cargo test --locked "$@"
