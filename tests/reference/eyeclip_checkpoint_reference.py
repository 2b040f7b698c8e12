#!/usr/bin/env python3
"""A tiny checkpoint in EyeCLIP's published layout (`eyeclip_visual.pt`: a dict with the weights
under `model_state_dict`, fp16, OpenAI key names, plus the training-only MAE decoder
`visual.decoder.*`) and what open_clip computes with those exact (fp16-rounded) weights.
Outputs (committed): tests/data/reference/tiny_eyeclip.pt, tiny_eyeclip_outputs.safetensors
(`image` [2,3,32,32], `image_embedding` [2,32], `ids` [2,77], `text_embedding` [2,32],
`logit_scale` [1], `photo_embedding` [1,32]: preprocess_photo.png through open_clip's transform).
"""
import os

import open_clip
import torch
from open_clip.model import CLIPTextCfg, CLIPVisionCfg
from PIL import Image
from safetensors.torch import save_file

torch.manual_seed(777)
VOCAB = 512
VISION = CLIPVisionCfg(layers=2, width=64, head_width=16, patch_size=8, image_size=32)
TEXT = CLIPTextCfg(context_length=77, vocab_size=VOCAB, width=48, heads=4, layers=2)
OUT = os.path.join(os.path.dirname(__file__), "..", "data", "reference")


def main():
    model = open_clip.model.CLIP(embed_dim=32, vision_cfg=VISION, text_cfg=TEXT, quick_gelu=True)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "ln" in name:
                p.add_(0.1 * torch.randn_like(p))
    # The published file is fp16: compute the reference with the fp16-rounded weights.
    model = model.half().float().eval()
    state = {k: v.half() for k, v in model.state_dict().items()}
    state["visual.decoder.embed.weight"] = torch.randn(16, 64).half()  # MAE decoder: training only
    state["visual.decoder.norm.bias"] = torch.randn(16).half()
    torch.save({"model_state_dict": state, "epoch": 12, "optimizer": {"lr": 1e-5}}, os.path.join(OUT, "tiny_eyeclip.pt"))
    image = torch.randn(2, 3, 32, 32)
    ids = torch.zeros(2, 77, dtype=torch.long)
    for row, length in enumerate([5, 30]):
        ids[row, 0] = VOCAB - 2
        ids[row, 1 : length - 1] = torch.randint(1, VOCAB - 2, (length - 2,))
        ids[row, length - 1] = VOCAB - 1
    with torch.no_grad():
        outputs = {
            "image": image,
            "image_embedding": model.encode_image(image),
            "ids": ids,
            "text_embedding": model.encode_text(ids),
            "logit_scale": model.logit_scale.detach().reshape(1),
        }
        # End to end: a real PNG through open_clip's own transform at this model's input size.
        transform = open_clip.image_transform(32, is_train=False, mean=open_clip.OPENAI_DATASET_MEAN, std=open_clip.OPENAI_DATASET_STD)
        photo = transform(Image.open(os.path.join(OUT, "preprocess_photo.png"))).unsqueeze(0)
        outputs["photo_embedding"] = model.encode_image(photo)
    save_file({k: v.contiguous() for k, v in outputs.items()}, os.path.join(OUT, "tiny_eyeclip_outputs.safetensors"))
    print({k: tuple(v.shape) for k, v in outputs.items()}, float(model.logit_scale))


if __name__ == "__main__":
    main()
