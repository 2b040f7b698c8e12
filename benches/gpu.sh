#!/usr/bin/env bash
# GPU benchmark, for a machine with an NVIDIA GPU: in one run, on the same GPU,
#   1. image-tower latency (batch 1) and throughput (batch 16) of ViT-B/16 (CLIP) and
#      ViT-L/16 (RETFound's timm ViT): Fovea on wgpu (Vulkan) beside PyTorch CUDA eager;
#   2. `fovea analyze` on the bundled demo patients with `--device auto` (which must pick the
#      GPU there) and `--device cpu`, 3 runs each, in patients/min.
# Weights are random on both sides (speed does not depend on their values). Record the output
# in BENCHMARKS.md with the GPU's name. Usage: bash benches/gpu.sh [models] (default b16,l16,r50)
set -euo pipefail
cd "$(dirname "$0")/.."
source packaging/env.sh
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu.sh: no nvidia-smi here; this benchmark needs an NVIDIA GPU" >&2
  exit 1
fi
models=${1:-b16,l16,r50}
echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
venv=${FOVEA_REFERENCE_VENV:-$HOME/.cache/fovea-venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q torch torchvision open-clip-torch timm
"$venv/bin/python" -c 'import torch; assert torch.cuda.is_available(), "torch sees no CUDA device"; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
cargo build --release --locked --bench encoder_speed --bin fovea
bench=$(ls -t "$CARGO_TARGET_DIR"/release/deps/encoder_speed-* | grep -v '\.d$' | head -1)
fovea="$CARGO_TARGET_DIR/release/fovea"
"$fovea" --version
echo "== image towers (fovea on wgpu, --device gpu = wgpu's default adapter; pytorch on cuda)"
"$bench" "$models" wgpu
"$venv/bin/python" benches/pytorch_encoder_speed.py "$models" cuda
echo "== fovea analyze, 4 demo patients"
for device in auto cpu; do
  for run in 1 2 3; do
    "$fovea" analyze assets/demo/dicom --device "$device" --format json --out /dev/null 2>&1 \
      | grep -E '^(device|time):' | tr '\n' ' '
    echo
  done
done
