#!/usr/bin/env python3
"""State-dict keys and shapes of open_clip's OpenAI-style CLIP models at full size (random
init, nothing downloaded): what a published EyeCLIP (ViT-B/32) or other OpenAI-layout
checkpoint holds. Output (committed): tests/data/reference/clip_state_dict_keys.json
"""
import json
import os

import open_clip

MODELS = ["ViT-B-32-quickgelu", "ViT-B-16-quickgelu", "ViT-L-14-quickgelu"]


def main():
    out = {"open_clip": open_clip.__version__, "models": {}}
    for name in MODELS:
        model = open_clip.create_model(name, pretrained=None)
        out["models"][name] = {k: list(v.shape) for k, v in model.state_dict().items()}
        print(name, len(out["models"][name]), "keys")
        del model
    path = os.path.join(os.path.dirname(__file__), "..", "data", "reference", "clip_state_dict_keys.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=0, sort_keys=True)


if __name__ == "__main__":
    main()
