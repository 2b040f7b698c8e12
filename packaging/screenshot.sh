#!/usr/bin/env bash
# Starts the real viewer (release build) on the bundled demo patients under Xvfb, waits for
# the analysis, clicks the "Heatmap (H)" box (keys sent with xdotool do not reach a window on
# a bare Xvfb without a window manager), waits for the heatmaps and saves a screenshot. Usage: [out.png] [seconds to wait for the analysis] [viewer arguments…, e.g. --pack DIR --no-library]
# Without viewer arguments it opens the demo patients; with them, name the studies too (a
# bare `fovea` opens the start screen).
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
for tool in import:imagemagick xdotool:xdotool; do
  command -v "${tool%%:*}" >/dev/null || apt-get install -y -q "${tool#*:}" >/dev/null
done
source packaging/env.sh
cargo build --release --locked
out=$(realpath -m "${1:-assets/screenshots/viewer.png}")
wait_s=${2:-20}
viewer_args=" assets/demo/dicom"
[ $# -gt 2 ] && viewer_args=$(printf ' %q' "${@:3}")
mkdir -p "$(dirname "$out")"
# A fresh settings folder, so the picture does not depend on this machine's saved settings.
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
xvfb-run -a -s '-screen 0 1400x900x24' env XDG_DATA_HOME="$data" bash -c "
  '$CARGO_TARGET_DIR/release/fovea'$viewer_args & pid=\$!
  sleep $wait_s
  xdotool mousemove 256 43 click 1
  sleep 8
  import -window root '$out'
  kill \$pid; wait \$pid || true"
echo "saved $out"
