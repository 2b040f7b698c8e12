#!/usr/bin/env bash
# Regenerates the committed reference data under tests/data/ with Python reference
# implementations. Not needed by CI or `cargo test`; needs PyPI access.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${FOVEA_REFERENCE_VENV:-$HOME/.cache/fovea-venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q pydicom==3.0.2 numpy pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle pyjpegls
"$venv/bin/python" "$here/pydicom_reference.py"
"$venv/bin/pip" install -q torch open-clip-torch==3.3.0
"$venv/bin/python" "$here/clip_tokenizer_reference.py"
"$venv/bin/python" "$here/clip_vision_reference.py"
"$venv/bin/python" "$here/clip_text_reference.py"
"$venv/bin/python" "$here/clip_keys_reference.py"
"$venv/bin/python" "$here/clip_preprocess_reference.py"
"$venv/bin/python" "$here/eyeclip_checkpoint_reference.py"
"$venv/bin/pip" install -q timm cn_clip transformers
"$venv/bin/python" "$here/timm_vit_reference.py"
"$venv/bin/python" "$here/retclip_reference.py"
"$venv/bin/pip" install -q torchvision
"$venv/bin/python" "$here/resnet_reference.py"
