#!/usr/bin/env python3
"""The peer of benches/encoder_speed.rs: open_clip image towers, timm's ViT-L/16 (RETFound) and
torchvision's ResNet-50 with Image+Fundus's head at 512 px (r50) in PyTorch eager mode, on the CPU or (second argument `cuda`, benches/gpu.sh) on a CUDA GPU.
Usage: pytorch_encoder_speed.py [b32,b16,l14,l16,r50] [cpu|cuda]"""
import sys

import open_clip
import torch
from timing import timed

NAMES = {"b32": "ViT-B-32-quickgelu", "b16": "ViT-B-16-quickgelu", "l14": "ViT-L-14-quickgelu"}


def main():
    models = (sys.argv[1] if len(sys.argv) > 1 else "b32,b16,l14").split(",")
    device = sys.argv[2] if len(sys.argv) > 2 else "cpu"
    torch.set_grad_enabled(False)

    def run(model, batch, side=224):
        out = model(torch.randn(batch, 3, side, side, device=device))
        if device == "cuda":
            torch.cuda.synchronize()  # the time covers the whole forward pass, as in the Rust bench
        return out

    for name in models:
        side = 512 if name == "r50" else 224
        if name == "r50":
            import torch.nn as nn
            from torchvision.models import resnet50

            visual = resnet50()
            visual.fc = nn.Sequential(nn.Linear(2048, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, 2))
            visual = visual.eval()
        elif name == "l16":
            import timm

            visual = timm.create_model("vit_large_patch16_224", pretrained=False, global_pool="avg", num_classes=5).eval()
        else:
            visual = open_clip.create_model(NAMES[name], pretrained=None).visual.eval()
        visual = visual.to(device)
        repeats = 3 if name in ("l14", "l16", "r50") else 5
        one = timed(lambda: run(visual, 1, side), repeats)
        sixteen = timed(lambda: run(visual, 16, side), min(repeats, 3))
        print(f"pytorch\t{device}\t{name}\tbatch1_ms\t{one * 1e3:.1f}\tbatch16_images_per_s\t{16 / sixteen:.2f}", flush=True)


if __name__ == "__main__":
    main()
