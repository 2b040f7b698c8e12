#!/usr/bin/env bash
# Encoder speed: Fovea's CLIP image towers (release build; CPU backend and wgpu) beside
# PyTorch eager (open_clip) on the CPU, same machine, same run. Usage: [models] [devices]
set -euo pipefail
cd "$(dirname "$0")/.."
source packaging/env.sh
venv=${FOVEA_REFERENCE_VENV:-$HOME/.cache/fovea-venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q torch torchvision open-clip-torch timm
cargo build --release --locked --bench encoder_speed
bench=$(ls -t "$CARGO_TARGET_DIR"/release/deps/encoder_speed-* | grep -v '\.d$' | head -1)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); torch threads: $("$venv/bin/python" -c 'import torch; print(torch.get_num_threads())')"
"$venv/bin/python" benches/pytorch_encoder_speed.py "${1:-b32,b16,l14}"
"$bench" "${1:-b32,b16,l14}" "${2:-cpu,wgpu}"
