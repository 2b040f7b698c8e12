#!/usr/bin/env bash
# Benchmark: the installed package's start time, from starting `/usr/bin/fovea` on the installed
# demo patients to the first image on screen (the viewer logs "first image on screen" at -v
# when the first decoded image reaches its view), under Xvfb. Two cases, alternated in one run:
#   first start  as after installing and rebooting: the page cache dropped
#                (/proc/sys/vm/drop_caches, root) and the user's cache empty, so the demo
#                pack's SHA-256 is computed in full;
#   next start   straight after: files in the page cache, the checksum verdict remembered.
#
#   bash benches/run_installed_start.sh [package.deb] [runs]   (root: installs and purges it)
set -euo pipefail
cd "$(dirname "$0")/.."
source packaging/env.sh
deb="${1:-$(ls "$CARGO_TARGET_DIR"/packages/fovea_*_amd64.deb | head -1)}"
runs="${2:-5}"
[ "$(id -u)" -eq 0 ] || { echo "run as root (dpkg -i)" >&2; exit 1; }
if dpkg-query -W -f='${Status}' fovea 2>/dev/null | grep -q "install ok installed"; then
  echo "a fovea package is installed already; remove it first" >&2; exit 1
fi
dpkg -i "$deb" >/dev/null
trap 'dpkg --purge fovea >/dev/null' EXIT
home=$(mktemp -d)
python3 - "$home" "$runs" <<'EOF'
import os, shutil, statistics, subprocess, sys, time

home, runs = sys.argv[1], int(sys.argv[2])
env = dict(os.environ, HOME=home, XDG_CACHE_HOME=f"{home}/cache",
           XDG_DATA_HOME=f"{home}/data", XDG_CONFIG_HOME=f"{home}/config")
env.pop("RUST_LOG", None)

def start_once():
    """Seconds from starting fovea to its "first image on screen" line."""
    script = 'exec /usr/bin/fovea -v --no-library /usr/share/fovea/assets/demo/dicom'
    started = time.perf_counter()
    p = subprocess.Popen(["xvfb-run", "-a", "-s", "-screen 0 1400x900x24", "sh", "-c", script],
                         env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    seconds = None
    for line in p.stderr:
        if "first image on screen" in line:
            seconds = time.perf_counter() - started
            break
    os.killpg(p.pid, 15)
    p.wait()
    if seconds is None:
        sys.exit("fovea ended without showing an image")
    return seconds

first, later = [], []
def drop_page_cache():
    subprocess.run(["sync"], check=True)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False

dropped = True
for _ in range(runs):
    shutil.rmtree(f"{home}/cache", ignore_errors=True)
    dropped &= drop_page_cache()
    first.append(start_once())
    later.append(start_once())
fmt = lambda xs: f"median {statistics.median(xs):.2f} s (min {min(xs):.2f}, max {max(xs):.2f}, n={len(xs)})"
cold = "page cache dropped" if dropped else "page cache NOT dropped (not permitted here)"
print(f"first start ({cold}, checksum computed): {fmt(first)}")
print(f"next start (warm, verdict remembered): {fmt(later)}")
EOF
rm -rf "$home"
