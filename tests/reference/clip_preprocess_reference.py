#!/usr/bin/env python3
"""open_clip's inference preprocessing for OpenAI-style CLIP (EyeCLIP): resize the shorter side
to 224 with PIL bicubic, centre-crop 224, to [0,1], normalise with CLIP mean/std.
Inputs (committed PNGs, written here): a real photo from pydicom's examples_rgb_color.dcm
(320x240, downsampled) and two crops of a bundled synthetic fundus (300x260 downsampled,
150x100 upsampled). Output (committed): tests/data/reference/clip_preprocess.safetensors with
`<name>` = the [3,224,224] tensor open_clip feeds the model.
"""
import os

import numpy as np
import open_clip
import pydicom
import torch
from PIL import Image
from safetensors.torch import save_file

HERE = os.path.dirname(__file__)
DATA = os.path.join(HERE, "..", "data")
OUT = os.path.join(DATA, "reference")


def main():
    photo = pydicom.dcmread(os.path.join(DATA, "pydicom", "examples_rgb_color.dcm")).pixel_array
    fundus_path = os.path.join(HERE, "..", "..", "assets", "demo", "dicom", "SYN010001", "SYN010001_OD_fundus.dcm")
    fundus = pydicom.dcmread(fundus_path).pixel_array
    images = {
        "preprocess_photo": photo,
        "preprocess_fundus_down": fundus[200:460, 300:600],
        "preprocess_fundus_up": fundus[300:400, 350:500],
    }
    transform = open_clip.image_transform(224, is_train=False, mean=open_clip.OPENAI_DATASET_MEAN, std=open_clip.OPENAI_DATASET_STD)
    tensors = {}
    for name, pixels in images.items():
        image = Image.fromarray(np.ascontiguousarray(pixels).astype(np.uint8), "RGB")
        image.save(os.path.join(OUT, f"{name}.png"))
        tensors[name] = transform(Image.open(os.path.join(OUT, f"{name}.png"))).contiguous()
        print(name, image.size, tuple(tensors[name].shape), float(tensors[name].mean()))
    print(transform)
    save_file(tensors, os.path.join(OUT, "clip_preprocess.safetensors"), metadata={"open_clip": open_clip.__version__})


if __name__ == "__main__":
    main()
