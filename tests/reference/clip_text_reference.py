#!/usr/bin/env python3
"""A tiny seeded OpenAI-style CLIP text tower built by open_clip, and its outputs for fixed
token ids. Output (committed): tests/data/reference/tiny_clip_text.safetensors
  - every text-tower key of the open_clip CLIP state dict (token_embedding, positional_embedding,
    transformer.*, ln_final, text_projection, logit_scale), f32;
  - `reference.ids` [3,77] (int64; each row ends its text with the vocabulary's highest id, as
    <end_of_text> is in the real vocabulary, then zeros), `reference.embedding` [3,32].
The vocabulary is cut to 512 entries to keep the file small; the real tokenizer is tested
separately against open_clip.
"""
import os

import open_clip
import torch
from open_clip.model import CLIPTextCfg, CLIPVisionCfg
from safetensors.torch import save_file

torch.manual_seed(4321)
VOCAB = 512
VISION = CLIPVisionCfg(layers=1, width=32, head_width=16, patch_size=16, image_size=32)
TEXT = CLIPTextCfg(context_length=77, vocab_size=VOCAB, width=48, heads=4, layers=2)


def main():
    model = open_clip.model.CLIP(embed_dim=32, vision_cfg=VISION, text_cfg=TEXT, quick_gelu=True)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "ln" in name and not name.startswith("visual."):
                p.add_(0.1 * torch.randn_like(p))
    model.eval()
    ids = torch.zeros(3, 77, dtype=torch.long)
    for row, length in enumerate([3, 20, 77]):
        ids[row, 0] = VOCAB - 2  # stands for <start_of_text>
        ids[row, 1 : length - 1] = torch.randint(1, VOCAB - 2, (length - 2,))
        ids[row, length - 1] = VOCAB - 1  # stands for <end_of_text>: the highest id
    with torch.no_grad():
        embedding = model.encode_text(ids)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items() if not k.startswith("visual.")}
    tensors["reference.ids"] = ids
    tensors["reference.embedding"] = embedding.contiguous()
    out = os.path.join(os.path.dirname(__file__), "..", "data", "reference", "tiny_clip_text.safetensors")
    save_file(tensors, out, metadata={"open_clip": open_clip.__version__, "torch": torch.__version__})
    print(sorted(k for k in tensors if "resblocks.1" not in k))
    print("embedding", embedding[0, :4].tolist())


if __name__ == "__main__":
    main()
