#!/usr/bin/env bash
# Starts the real viewer (release build) on the bundled demo patients under Xvfb, waits for
# the analysis, and saves a screenshot of the screen. Usage: [out.png] [seconds to wait]
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
command -v import >/dev/null || apt-get install -y -q imagemagick >/dev/null
source packaging/env.sh
cargo build --release --locked
out=$(realpath -m "${1:-assets/screenshots/viewer.png}")
wait_s=${2:-20}
mkdir -p "$(dirname "$out")"
xvfb-run -a -s '-screen 0 1400x900x24' bash -c "
  '$CARGO_TARGET_DIR/release/fovea' & pid=\$!
  sleep $wait_s
  import -window root '$out'
  kill \$pid; wait \$pid || true"
echo "saved $out"
