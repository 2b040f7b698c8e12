#!/usr/bin/env python3
"""Token ids from open_clip's tokenizer (the reference for EyeCLIP's OpenAI-style CLIP text
tower) for strings that exercise its edge cases. Output (committed):
tests/data/reference/clip_tokenizer.json
"""
import json
import os

import open_clip

CASES = [
    "normal",
    "moderate non-proliferative diabetic retinopathy",
    "Age-related Macular Degeneration (AMD), geographic atrophy!",
    "cup-to-disc ratio 0.7; IOP=21 mmHg",
    "  leading and   trailing   spaces\t\nand newlines  ",
    "UPPER lower MiXeD",
    "it's the patient's right eye, they're fine, we'll see, I'm sure, you've done, he'd go",
    "naïve café résumé — Ångström",
    "Straße, façade, coöperate",
    "糖尿病视网膜病变",
    "双眼糖尿病视网膜病变 (both eyes)",
    "emoji 👁️ eye 🩺",
    "html &amp; entities &lt;b&gt;",
    "double-escaped &amp;lt;i&amp;gt; tags",
    "numbers 1234567890 and 3.14159",
    "punctuation!!! ??? ... --- ***",
    "a photo of a retina with " + "many hard exudates " * 12,
    "",
]


def main():
    tok = open_clip.get_tokenizer("ViT-B-32")
    ids = tok(CASES).tolist()
    out = {
        "tokenizer": "open_clip.get_tokenizer('ViT-B-32') (OpenAI CLIP BPE, context 77)",
        "open_clip": open_clip.__version__,
        "cases": [{"text": t, "ids": i} for t, i in zip(CASES, ids)],
    }
    path = os.path.join(os.path.dirname(__file__), "..", "data", "reference", "clip_tokenizer.json")
    with open(path, "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
