#!/usr/bin/env python3
"""A tiny seeded OpenAI-style CLIP image tower built by open_clip (the reference for
EyeCLIP's architecture and key names), and its outputs for a fixed input. Output (committed):
tests/data/reference/tiny_clip_visual.safetensors
  - every `visual.*` key of the open_clip state dict, as open_clip names them (f32);
  - `reference.input` [2,3,32,32], `reference.embedding` [2,32] (visual tower output, not
    normalised), `reference.last_attention` [2,heads,T,T] (softmax maps of the last block).
"""
import os

import open_clip
import torch
from open_clip.model import CLIPTextCfg, CLIPVisionCfg
from safetensors.torch import save_file

torch.manual_seed(1234)
VISION = CLIPVisionCfg(layers=2, width=64, head_width=16, patch_size=8, image_size=32)
TEXT = CLIPTextCfg(context_length=77, vocab_size=49408, width=32, heads=4, layers=1)


def main():
    model = open_clip.model.CLIP(embed_dim=32, vision_cfg=VISION, text_cfg=TEXT, quick_gelu=True)
    # Random (not zero) class embedding, positions and norms, so every parameter matters.
    with torch.no_grad():
        for name, p in model.visual.named_parameters():
            if "ln" in name:
                p.add_(0.1 * torch.randn_like(p))
    model.eval()
    visual = model.visual
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        embedding = visual(x)
        # Recompute the token stream to read the last block's attention maps.
        t = visual.conv1(x).reshape(2, visual.conv1.out_channels, -1).permute(0, 2, 1)
        cls = visual.class_embedding.to(t.dtype) + torch.zeros(2, 1, t.shape[-1])
        t = torch.cat([cls, t], dim=1) + visual.positional_embedding
        t = visual.ln_pre(t)
        blocks = visual.transformer.resblocks
        for blk in blocks[:-1]:
            t = blk(t)
        last = blocks[-1]
        h = last.ln_1(t)
        if not visual.transformer.batch_first:
            raise SystemExit("expected batch-first transformer")
        _, attn = last.attn(h, h, h, need_weights=True, average_attn_weights=False)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items() if k.startswith("visual.")}
    tensors["reference.input"] = x.contiguous()
    tensors["reference.embedding"] = embedding.contiguous()
    tensors["reference.last_attention"] = attn.contiguous()
    out = os.path.join(os.path.dirname(__file__), "..", "data", "reference", "tiny_clip_visual.safetensors")
    save_file(tensors, out, metadata={"open_clip": open_clip.__version__, "torch": torch.__version__})
    print(sorted(k for k in tensors if k.startswith("visual."))[:40])
    print("embedding", embedding[0, :4].tolist(), "attn", attn.shape)


if __name__ == "__main__":
    main()
