#!/usr/bin/env bash
# Builds Fovea.app and a .dmg on macOS (hdiutil, sips and iconutil come with macOS). Not run
# on the Linux build machines; see packaging/README.md.
#
#   Fovea.app/Contents/MacOS/fovea            the release binary
#   Fovea.app/Contents/Resources/fovea/...    the bundled data (src/cli/bundled.rs looks at
#                                             ../Resources/fovea beside the binary)
#   Fovea.app/Contents/Resources/fovea.icns   the icon
# Signing and notarisation (codesign, notarytool) need the clinic's or vendor's Apple
# Developer identity and are left to whoever distributes the build.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(uname -s)" = Darwin ] || { echo "make-dmg.sh runs on macOS" >&2; exit 1; }
cargo build --release --locked --bin fovea
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
out="target/macos"
app="$out/Fovea.app"
rm -rf "$out" && mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources/fovea/models" "$app/Contents/Resources/fovea/assets/demo"
cp target/release/fovea "$app/Contents/MacOS/fovea"
sed "s/@VERSION@/$version/g" packaging/macos/Info.plist > "$app/Contents/Info.plist"
cp -R models/demo "$app/Contents/Resources/fovea/models/demo"
cp -R assets/demo/dicom "$app/Contents/Resources/fovea/assets/demo/dicom"
cp -R assets/library "$app/Contents/Resources/fovea/assets/library"
iconset="$out/fovea.iconset"
mkdir -p "$iconset"
for size in 16 32 64 128 256; do
  sips -z $size $size packaging/linux/fovea.png --out "$iconset/icon_${size}x${size}.png" >/dev/null
done
iconutil -c icns "$iconset" -o "$app/Contents/Resources/fovea.icns"
hdiutil create -volname Fovea -srcfolder "$app" -ov -format UDZO "$out/Fovea-$version.dmg"
echo "$out/Fovea-$version.dmg"
