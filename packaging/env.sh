# Sourced by the packaging scripts: one persistent build folder outside the clone, so
# repeated runs (and CI on the same machine) do not rebuild the ~1,000 dependencies.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fovea-target}"
if ! command -v cargo >/dev/null 2>&1; then
  echo "fovea: cargo not found. Install Rust first: https://rustup.rs (then open a new shell)" >&2
  exit 1
fi
