# Stages Fovea for the MSI (packaging/windows/fovea.wxs): the release binary, the bundled data
# in the layout the binary looks for (..\share\fovea beside bin\fovea.exe), the icon, and the
# WiX fragment listing the data files (`heat dir`). Run from the repository root on Windows
# after `cargo build --release --locked`. Not run on the Linux build machines.
$ErrorActionPreference = "Stop"
$stage = "target\msi-stage"
Remove-Item -Recurse -Force $stage -ErrorAction SilentlyContinue
New-Item -ItemType Directory -Force "$stage\bin", "$stage\share\fovea\models", "$stage\share\fovea\assets\demo" | Out-Null
Copy-Item "target\release\fovea.exe" "$stage\bin\"
Copy-Item -Recurse "models\demo" "$stage\share\fovea\models\demo"
Copy-Item -Recurse "assets\demo\dicom" "$stage\share\fovea\assets\demo\dicom"
Copy-Item -Recurse "assets\library" "$stage\share\fovea\assets\library"
# The icon: ImageMagick's `magick` turns the PNG into a multi-size .ico.
magick packaging\linux\fovea.png -define icon:auto-resize=256,64,48,32,16 "$stage\fovea.ico"
heat dir "$stage\share\fovea" -cg DataFiles -dr DataFolder -gg -sfrag -srd -sreg -var var.Data -o "$stage\DataFiles.wxs"
Write-Output "staged in $stage; now candle (with -dData=$stage\share\fovea) and light both .wxs files"
