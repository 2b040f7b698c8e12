#!/usr/bin/env bash
# Builds Fovea's Linux packages: a .deb and an AppImage, from one staged tree.
#
#   bash packaging/package.sh [deb] [appimage] [--binary PATH] [--out DIR] [--fast]
#
#   deb, appimage   which packages (default: both)
#   --binary PATH   package this fovea binary instead of building the release one
#                   (the install test packages the test build's binary)
#   --out DIR       where the packages go (default: $CARGO_TARGET_DIR/packages)
#   --fast          no compression (the install test; the packages are larger)
#
# What is inside (the same in both):
#   usr/bin/fovea                                  the binary, stripped
#   usr/share/fovea/models/demo/                   the demo model pack
#   usr/share/fovea/assets/demo/dicom/             the demo patients (synthetic)
#   usr/share/fovea/assets/library/                the demo case library
#   usr/share/applications/fovea.desktop           the desktop entry
#   usr/share/icons/hicolor/{256x256,scalable}/apps/fovea.{png,svg}
#   usr/share/doc/fovea/{copyright,README.md}
# fovea finds its data at ../share/fovea beside its binary (src/cli/bundled.rs).
#
# Tools: dpkg-deb and dpkg-shlibdeps (Debian's own builders: nothing to compile), and for the
# AppImage mksquashfs (squashfs-tools) plus the AppImage runtime as published in the
# `appimage` crate on crates.io (pinned by version and SHA-256; GitHub, where the AppImage
# project publishes appimagetool, cannot be reached from the build machines).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

formats=()
binary=""
out=""
fast=0
while [ $# -gt 0 ]; do
  case "$1" in
    deb | appimage) formats+=("$1") ;;
    --binary) binary="$2"; shift ;;
    --out) out="$2"; shift ;;
    --fast) fast=1 ;;
    *) echo "package.sh: unknown argument: $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#formats[@]} -gt 0 ] || formats=(deb appimage)

# Tools the packages need, installed as install-deps.sh does.
need=(dpkg-dev binutils)
for f in "${formats[@]}"; do [ "$f" = appimage ] && need+=(squashfs-tools); done
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "package.sh: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

source packaging/env.sh
if [ -z "$binary" ]; then
  cargo build --release --locked --bin fovea
  binary="$CARGO_TARGET_DIR/release/fovea"
fi
[ -x "$binary" ] || { echo "package.sh: no executable at $binary" >&2; exit 1; }
out="${out:-$CARGO_TARGET_DIR/packages}"
mkdir -p "$out"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The staged tree: /usr as installed.
stage_usr() {
  local usr="$1"
  install -d "$usr/bin" "$usr/share/fovea/models" "$usr/share/fovea/assets/demo" \
    "$usr/share/applications" "$usr/share/icons/hicolor/256x256/apps" \
    "$usr/share/icons/hicolor/scalable/apps" "$usr/share/doc/fovea"
  strip --strip-unneeded -o "$usr/bin/fovea" "$binary"
  chmod 0755 "$usr/bin/fovea"
  cp -r models/demo "$usr/share/fovea/models/demo"
  cp -r assets/demo/dicom "$usr/share/fovea/assets/demo/dicom"
  cp assets/demo/README.md assets/demo/ground_truth.json "$usr/share/fovea/assets/demo/"
  cp -r assets/library "$usr/share/fovea/assets/library"
  install -m 0644 packaging/linux/fovea.desktop "$usr/share/applications/fovea.desktop"
  install -m 0644 packaging/linux/fovea.png "$usr/share/icons/hicolor/256x256/apps/fovea.png"
  install -m 0644 packaging/linux/fovea.svg "$usr/share/icons/hicolor/scalable/apps/fovea.svg"
  install -m 0644 packaging/linux/copyright "$usr/share/doc/fovea/copyright"
  install -m 0644 README.md "$usr/share/doc/fovea/README.md"
  find "$usr/share" -type d -exec chmod 0755 {} +
  find "$usr/share" -type f -exec chmod 0644 {} +
}

build_deb() {
  local tree="$work/deb"
  stage_usr "$tree/usr"
  # Shared libraries the binary links (dpkg-shlibdeps wants a debian/control beside it).
  mkdir -p "$work/shlibs/debian" "$tree/DEBIAN"
  printf 'Source: fovea\n\nPackage: fovea\nArchitecture: any\n' > "$work/shlibs/debian/control"
  local depends
  depends=$(cd "$work/shlibs" && dpkg-shlibdeps -O -e "$tree/usr/bin/fovea" 2>/dev/null |
    sed -n 's/^shlibs:Depends=//p')
  [ -n "$depends" ] || { echo "package.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
  local size
  size=$(du -sk "$tree/usr" | cut -f1)
  # The window and the GPU are opened through libraries loaded at run time (winit, wgpu):
  # recommended, so `fovea analyze` also installs on a server without a desktop.
  cat > "$tree/DEBIAN/control" <<EOF
Package: fovea
Version: $version
Architecture: $arch
Maintainer: Fovea developers <fovea@localhost>
Installed-Size: $size
Depends: $depends
Recommends: libvulkan1, mesa-vulkan-drivers, libx11-6, libxcursor1, libxrandr2, libxi6, libxkbcommon-x11-0, libwayland-client0, libegl1
Section: science
Priority: optional
Description: offline viewer for ophthalmic images with a local vision-language model
 Fovea opens a patient's DICOM studies, Heidelberg .vol exports and fundus
 photographs, groups them by patient and eye (OD/OS), and shows each eye's
 images side by side with a model's findings, heatmaps and similar cases.
 It runs the model on the machine's GPU (wgpu) or CPU, and needs no network.
 .
 The bundled demo model was trained on synthetic images only and is not for
 clinical use; the demo patients are synthetic.
EOF
  (cd "$tree" && find usr -type f -print0 | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
  local compression=(-Zxz)
  [ $fast -eq 1 ] && compression=(-Znone)
  local deb="$out/fovea_${version}_${arch}.deb"
  dpkg-deb --root-owner-group "${compression[@]}" --build "$tree" "$deb" >/dev/null
  echo "$deb"
}

# The AppImage runtime from the `appimage` crate (xbuild's), fetched by cargo like any crate.
appimage_runtime() {
  local manifest="$work/runtime-crate"
  mkdir -p "$manifest/src"
  printf '[package]\nname = "runtime-fetch"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\nappimage = "=0.4.0"\n' \
    > "$manifest/Cargo.toml"
  echo 'fn main() {}' > "$manifest/src/main.rs"
  cargo fetch --quiet --manifest-path "$manifest/Cargo.toml" >&2
  local crate
  crate=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/cache" -name 'appimage-0.4.0.crate' | head -1)
  [ -n "$crate" ] || { echo "package.sh: the appimage crate was not fetched" >&2; exit 1; }
  tar -xzOf "$crate" appimage-0.4.0/assets/runtime-x86_64 > "$work/runtime"
  echo "328e0d745c5c6817048c27bc3e8314871703f8f47ffa81a37cb06cd95a94b323  $work/runtime" |
    sha256sum --check --quiet >&2
  echo "$work/runtime"
}

build_appimage() {
  [ "$(uname -m)" = x86_64 ] || { echo "package.sh: the AppImage runtime here is x86_64 only" >&2; exit 1; }
  local appdir="$work/Fovea.AppDir"
  stage_usr "$appdir/usr"
  cp packaging/linux/fovea.desktop packaging/linux/fovea.png "$appdir/"
  ln -s fovea.png "$appdir/.DirIcon"
  ln -s usr/bin/fovea "$appdir/AppRun"
  local runtime
  runtime=$(appimage_runtime)
  local compression=(-comp xz)
  [ $fast -eq 1 ] && compression=(-noI -noD -noF -noX)
  mksquashfs "$appdir" "$work/fovea.squashfs" -root-owned -noappend -quiet "${compression[@]}" >/dev/null
  local image="$out/Fovea-${version}-x86_64.AppImage"
  cat "$runtime" "$work/fovea.squashfs" > "$image"
  chmod 0755 "$image"
  echo "$image"
}

for f in "${formats[@]}"; do
  case "$f" in
    deb) build_deb ;;
    appimage) build_appimage ;;
  esac
done
