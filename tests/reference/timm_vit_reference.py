#!/usr/bin/env python3
"""timm ViT references (RETFound's architecture), built with timm's VisionTransformer.

Outputs (committed, tests/data/reference/):
- tiny_retfound_classifier.pth: a fine-tuned RETFound classifier in RETFound's layout (weights
  under `model`, beside `epoch` and an argparse `args` as its save_model writes), average
  pooling + `fc_norm` + a 5-class `head`, fp32;
- tiny_retfound_mae.pth: an MAE-pretrained encoder (weights under `model`, fp16, class-token
  pooling with `norm`, no head) with the MAE decoder (`decoder_*`, `mask_token`) beside it;
- tiny_timm_outputs.safetensors: features, logits and last-block attention maps of both for a
  fixed input, and a PNG through timm's eval transform (resize shorter side to size/0.875
  bicubic, centre crop, ImageNet mean/std);
- timm_state_dict_keys.json: keys and shapes of full-size ViT-L/16 RETFound files (classifier,
  and MAE pretraining with its decoder), for the key-coverage test.
"""
import argparse
import json
import os

import timm
import torch
from PIL import Image
from safetensors.torch import save_file
from timm.data import create_transform
from timm.models.vision_transformer import VisionTransformer

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "reference")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def tiny(global_pool, num_classes):
    return VisionTransformer(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4, mlp_ratio=4.0,
                             qkv_bias=True, global_pool=global_pool, num_classes=num_classes)


def perturb(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith("bias") or name in ("cls_token", "pos_embed"):
                p.add_(0.1 * torch.randn_like(p))


def last_attention(model, images):
    """Softmax maps of the last block, [batch, heads, tokens, tokens], from its own qkv."""
    captured = {}
    handle = model.blocks[-1].norm1.register_forward_hook(lambda m, i, o: captured.__setitem__("x", o))
    model(images)
    handle.remove()
    attn = model.blocks[-1].attn
    x = captured["x"]
    b, n, c = x.shape
    qkv = attn.qkv(x).reshape(b, n, 3, attn.num_heads, c // attn.num_heads).permute(2, 0, 3, 1, 4)
    q, k = qkv[0], qkv[1]
    return ((q @ k.transpose(-2, -1)) * attn.scale).softmax(dim=-1)


def mae_decoder(width, decoder_width, depth, tokens, patch):
    """The MAE decoder's keys (RETFound's models_mae.py), random: training-only."""
    out = {"mask_token": torch.randn(1, 1, decoder_width),
           "decoder_pos_embed": torch.randn(1, tokens, decoder_width),
           "decoder_embed.weight": torch.randn(decoder_width, width), "decoder_embed.bias": torch.randn(decoder_width),
           "decoder_norm.weight": torch.randn(decoder_width), "decoder_norm.bias": torch.randn(decoder_width),
           "decoder_pred.weight": torch.randn(patch * patch * 3, decoder_width), "decoder_pred.bias": torch.randn(patch * patch * 3)}
    block = timm.models.vision_transformer.Block(decoder_width, 4, qkv_bias=True)
    for i in range(depth):
        for k, v in block.state_dict().items():
            out[f"decoder_blocks.{i}.{k}"] = torch.randn_like(v)
    return out


def tiny_models():
    torch.manual_seed(2023)
    classifier = tiny("avg", 5)
    perturb(classifier)
    classifier.eval()
    args = argparse.Namespace(model="vit_large_patch16", nb_classes=5, input_size=224, global_pool=True)
    torch.save({"model": classifier.state_dict(), "epoch": 49, "args": args}, os.path.join(OUT, "tiny_retfound_classifier.pth"))

    mae = tiny("token", 0)
    perturb(mae)
    mae = mae.half().float().eval()  # the file is fp16: the reference uses the rounded weights
    state = {k: v.half() for k, v in mae.state_dict().items()}
    state.update({k: v.half() for k, v in mae_decoder(64, 32, 1, 17, 8).items()})
    torch.save({"model": state}, os.path.join(OUT, "tiny_retfound_mae.pth"))

    images = torch.randn(2, 3, 32, 32)
    transform = create_transform(input_size=32, crop_pct=0.875, interpolation="bicubic", mean=IMAGENET_MEAN, std=IMAGENET_STD)
    print(transform)
    photo = transform(Image.open(os.path.join(OUT, "preprocess_photo.png")).convert("RGB")).unsqueeze(0)
    with torch.no_grad():
        outputs = {
            "image": images,
            "classifier_features": classifier.forward_head(classifier.forward_features(images), pre_logits=True),
            "classifier_logits": classifier(images),
            "classifier_attention": last_attention(classifier, images),
            "classifier_photo_logits": classifier(photo),
            "mae_features": mae(images),
            "mae_attention": last_attention(mae, images),
        }
    save_file({k: v.contiguous() for k, v in outputs.items()}, os.path.join(OUT, "tiny_timm_outputs.safetensors"))
    print({k: tuple(v.shape) for k, v in outputs.items()})


def full_size_keys():
    classifier = timm.create_model("vit_large_patch16_224", pretrained=False, global_pool="avg", num_classes=5)
    mae = timm.create_model("vit_large_patch16_224", pretrained=False, global_pool="token", num_classes=0)
    mae_keys = {k: list(v.shape) for k, v in mae.state_dict().items()}
    mae_keys.update({k: list(v.shape) for k, v in mae_decoder(1024, 512, 8, 197, 16).items()})
    out = {"timm": timm.__version__,
           "models": {"retfound_classifier_vit_large_patch16": {k: list(v.shape) for k, v in classifier.state_dict().items()},
                      "retfound_mae_vit_large_patch16": mae_keys}}
    with open(os.path.join(OUT, "timm_state_dict_keys.json"), "w") as f:
        json.dump(out, f, indent=0, sort_keys=True)
    print({k: len(v) for k, v in out["models"].items()})


if __name__ == "__main__":
    tiny_models()
    full_size_keys()
