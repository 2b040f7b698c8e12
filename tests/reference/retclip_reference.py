#!/usr/bin/env python3
"""RET-CLIP references, built from the reference implementations: cn_clip's VisualTransformer
(the image tower), transformers' BertModel (the text tower) and the tripartite heads written in
plain torch from the paper / RET-CLIP's model.py (Linear 1024->512 and 512->512 without bias on
image features; Linear 768->768 -> ReLU -> Linear 768->512 text heads on BERT's [CLS]).

Outputs (committed, tests/data/reference/):
- wordpiece_tokenizer.json: cn_clip.clip.tokenize ids for tricky strings (context 52 and 16);
- tiny_retclip.pt: a tiny RET-CLIP in the training script's layout (`state_dict` key,
  `module.` prefix, fp16, HF BERT key names with `bert.pooler.*`, three logit scales);
- tiny_retclip_outputs.safetensors: image features, eye and patient mappings, text embeddings in
  the three spaces, last-block attention maps of both towers, and a PNG through RET-CLIP's
  transform (squash-resize bicubic, CLIP mean/std);
- retclip_state_dict_keys.json: keys and shapes of the full-size model (ViT-B/16 +
  RoBERTa-wwm-ext-base-chinese + heads), for the key-coverage test.
"""
import json
import os

import cn_clip.clip as cn
import numpy as np
import torch
from cn_clip.clip.model import VisualTransformer
from PIL import Image
from safetensors.torch import save_file
from torch import nn
from torchvision import transforms
from transformers import BertConfig, BertModel

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "reference")
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)

CASES = [
    "双眼糖尿病视网膜病变",
    "左眼：中度非增殖性糖尿病视网膜病变，伴硬性渗出。右眼：未见明显异常。",
    "右眼黄斑区玻璃膜疣（drusen），建议随访 3 个月",
    "Age-related Macular Degeneration (AMD), geographic atrophy!",
    "naïve café résumé — Ångström",
    "cup-to-disc ratio 0.7; IOP=21 mmHg",
    "  leading and   trailing   spaces\t\nand newlines  ",
    "UPPER lower MiXeD unaffable",
    "emoji 👁️ eye 🩺 and a control\u0007char",
    "全角标点，。！？【】《》",
    "supercalifragilisticexpialidocious" * 8,
    "视网膜" * 40,
    "",
]


class TextHead(nn.Sequential):
    def __init__(self, width, embed_dim):
        super().__init__(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, embed_dim))


class RetClip(nn.Module):
    """RET-CLIP's CLIP class, reduced to what inference uses (same attribute names)."""

    def __init__(self, embed_dim, image_resolution, vision_layers, vision_width, vision_heads, patch, bert_config):
        super().__init__()
        self.visual = VisualTransformer(image_resolution, patch, vision_width, vision_layers, vision_heads, embed_dim)
        self.bert = BertModel(bert_config)
        width = bert_config.hidden_size
        self.text_projection = TextHead(width, embed_dim)
        self.text_projection_left = TextHead(width, embed_dim)
        self.text_projection_right = TextHead(width, embed_dim)
        self.logit_scale = nn.Parameter(torch.ones([]) * np.log(90))
        self.logit_scale_left = nn.Parameter(torch.ones([]) * np.log(80))
        self.logit_scale_right = nn.Parameter(torch.ones([]) * np.log(70))
        self.global_feature_mapping = nn.Linear(2 * embed_dim, embed_dim, bias=False)
        self.left_feature_mapping = nn.Linear(embed_dim, embed_dim, bias=False)
        self.right_feature_mapping = nn.Linear(embed_dim, embed_dim, bias=False)

    def encode_text(self, ids, output_attentions=False):
        out = self.bert(ids, attention_mask=ids.ne(0).long(), output_attentions=output_attentions)
        cls = out.last_hidden_state[:, 0, :]
        heads = (self.text_projection(cls), self.text_projection_left(cls), self.text_projection_right(cls))
        return heads, out.attentions


def tokenizer_cases():
    out = {"tokenizer": "cn_clip.clip.tokenize (BERT WordPiece, Chinese vocabulary)", "cases": []}
    for context in (52, 16):
        ids = cn.tokenize(CASES, context_length=context).tolist()
        out["cases"] += [{"text": t, "context_length": context, "ids": i} for t, i in zip(CASES, ids)]
    with open(os.path.join(OUT, "wordpiece_tokenizer.json"), "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=0)


def tiny_model():
    torch.manual_seed(4242)
    bert = BertConfig(vocab_size=21128, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=96, max_position_embeddings=64, type_vocab_size=2,
                      layer_norm_eps=1e-12, hidden_act="gelu", attn_implementation="eager")
    model = RetClip(embed_dim=32, image_resolution=32, vision_layers=2, vision_width=64, vision_heads=4, patch=8, bert_config=bert)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "ln" in name or "LayerNorm" in name:
                p.add_(0.1 * torch.randn_like(p))
            if name.endswith("bias"):
                p.add_(0.05 * torch.randn_like(p))
    # The published file is fp16: compute the reference with the fp16-rounded weights.
    model = model.half().float().eval()
    state = {f"module.{k}": v.half() for k, v in model.state_dict().items()}
    assert any(".pooler." in k for k in state), "BertModel's pooler is in the file (training-only)"
    torch.save({"epoch": 3, "step": 1200, "name": "tiny", "state_dict": state}, os.path.join(OUT, "tiny_retclip.pt"))

    image = torch.randn(2, 3, 32, 32)
    texts = [CASES[0], CASES[1]]
    ids = cn.tokenize(texts, context_length=52)
    captured = {}
    model.visual.transformer.resblocks[-1].ln_1.register_forward_hook(lambda m, i, o: captured.__setitem__("x", o))
    with torch.no_grad():
        features = model.visual(image)
        x = captured["x"]  # [tokens, batch, width] (cn_clip runs the blocks sequence-first)
        _, vision_maps = model.visual.transformer.resblocks[-1].attn(x, x, x, need_weights=True, average_attn_weights=False)
        (patient, left, right), text_maps = model.encode_text(ids, output_attentions=True)
        transform = transforms.Compose([
            transforms.Resize((32, 32), interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ])
        photo = transform(Image.open(os.path.join(OUT, "preprocess_photo.png")).convert("RGB")).unsqueeze(0)
        outputs = {
            "image": image,
            "image_features": features,
            "left_eye": model.left_feature_mapping(features[0:1]),
            "right_eye": model.right_feature_mapping(features[1:2]),
            "patient": model.global_feature_mapping(torch.cat([features[0:1], features[1:2]], dim=1)),
            "vision_attention": vision_maps,
            "ids": ids,
            "text_patient": patient,
            "text_left": left,
            "text_right": right,
            "text_attention": text_maps[-1],
            "logit_scales": torch.stack([model.logit_scale, model.logit_scale_left, model.logit_scale_right]).detach(),
            "photo_features": model.visual(photo),
        }
    save_file({k: v.contiguous() for k, v in outputs.items()}, os.path.join(OUT, "tiny_retclip_outputs.safetensors"))
    print({k: tuple(v.shape) for k, v in outputs.items()})


def full_size_keys():
    bert = BertConfig(vocab_size=21128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                      intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2)
    model = RetClip(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768, vision_heads=12, patch=16, bert_config=bert)
    keys = {k: list(v.shape) for k, v in model.state_dict().items()}
    with open(os.path.join(OUT, "retclip_state_dict_keys.json"), "w") as f:
        json.dump({"model": "RET-CLIP ViT-B/16 + RoBERTa-wwm-ext-base-chinese", "keys": keys}, f, indent=0, sort_keys=True)
    print(len(keys), "keys")


if __name__ == "__main__":
    tokenizer_cases()
    tiny_model()
    full_size_keys()
