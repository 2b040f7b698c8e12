#!/usr/bin/env bash
# Installs the Debian/Ubuntu system packages Fovea needs to build, run and test.
#   cmake, g++        build CharLS (JPEG-LS) from source, statically linked
#   pkg-config        -sys crates probe for libraries with it
#   mesa-vulkan-drivers  Vulkan on the CPU (lavapipe) for machines without a GPU
#   xvfb              headless X server for real-window checks
#   dicom3tools       dciodvfy: validates the DICOM files the demo generator writes
#   dcmtk             dcmdump etc., handy for inspecting files
#   imagemagick       `import`: the screenshot of the real window under Xvfb (a test checks it)
#   dpkg-dev, binutils  dpkg-shlibdeps and strip: packaging/package.sh builds the .deb the
#                     install test installs
# Idempotent: skips apt entirely when every package is already installed.
set -euo pipefail
packages=(cmake g++ pkg-config mesa-vulkan-drivers xvfb dicom3tools dcmtk imagemagick dpkg-dev binutils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "fovea: installing system packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
