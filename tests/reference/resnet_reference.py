#!/usr/bin/env python3
"""torchvision ResNet references (Image+Fundus, Jang et al. 2024), built with torchvision's own
ResNet and Bottleneck/BasicBlock classes.

Outputs (committed, tests/data/reference/):
- tiny_image_fundus_dataparallel.pth: a width-reduced ResNet-50 (stem 8 wide, stages
  [3, 4, 6, 3], bottlenecks) with Image+Fundus's head (Linear → BatchNorm1d → ReLU → Linear,
  2 classes), wrapped in nn.DataParallel and saved as the authors do: the whole model object,
  `torch.save(model)`, with the DataParallel fields a CUDA machine writes (device_ids [0],
  output_device 0, src_device_obj cuda:0);
- tiny_image_fundus_state_dict.pth: the same model's DataParallel state dict (`module.` keys);
- tiny_image_fundus_fp16.pth: its plain state dict (no `module.`) in fp16;
- tiny_image_fundus.safetensors: the plain state dict, fp32;
- tiny_resnet18.pth: a width-reduced ResNet-18 (basic blocks) with torchvision's Linear `fc`
  (3 classes), plain state dict;
- tiny_malicious.pth: a torch.save zip whose pickle calls os.system (never to be run);
- tiny_resnet_outputs.safetensors: for a fixed input: pooled features, logits, the layer4
  activation, and the Grad-CAM map of class 1 (plain torch, hooks on layer4); the fp16 model's
  features and logits; the ResNet-18's; and, for preprocess_photo.png through Fovea's
  Image+Fundus preprocessing (squash to the input size with PIL bicubic, ImageNet mean/std),
  the logits and the Grad-CAM map;
- tiny_legacy.pth, tiny_legacy_malicious.pth: PyTorch's legacy (pre-1.6, non-zip) format,
  a small state dict and one whose pickle calls os.system, for the pickle audit;
- image_fundus_state_dict_keys.json: keys and shapes of a full-size Image+Fundus ResNet-50
  (torchvision resnet50 with the authors' head), for the key-coverage test.
"""
import json
import os

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from safetensors.torch import save_file
from torchvision.models import resnet50
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "reference")
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
SIZE = 256


def narrow(block, layers, width, head):
    """torchvision's ResNet with every width divided by 64 / width: its own _make_layer."""
    model = ResNet(block, layers)
    model.inplanes = width
    model.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
    model.bn1 = nn.BatchNorm2d(width)
    model.layer1 = model._make_layer(block, width, layers[0])
    model.layer2 = model._make_layer(block, width * 2, layers[1], stride=2)
    model.layer3 = model._make_layer(block, width * 4, layers[2], stride=2)
    model.layer4 = model._make_layer(block, width * 8, layers[3], stride=2)
    model.fc = head(width * 8 * block.expansion)
    return model


def image_fundus_head(features, hidden=32, classes=2):
    return nn.Sequential(nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, classes))


def perturb(model):
    """Random weights everywhere and BatchNorm statistics far from (0, 1), so that inference-
    mode BatchNorm (running statistics) is what the outputs depend on."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.normal_(0.0, (2.0 / fan_in) ** 0.5)
                if module.bias is not None:
                    module.bias.normal_(0.0, 0.1)
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                module.weight.uniform_(0.2, 0.6)
                module.bias.normal_(0.0, 0.2)
                module.running_mean.normal_(0.0, 0.3)
                module.running_var.uniform_(0.5, 2.0)
                module.num_batches_tracked.fill_(1234)


def grad_cam(model, images, target):
    """Classic Grad-CAM (Selvaraju et al.) on layer4 with hooks: channel weights = spatial mean
    of d logit[target] / d activation; map = relu(sum_c w_c A_c)."""
    saved = {}

    def forward_hook(_module, _inputs, output):
        saved["activation"] = output
        output.register_hook(lambda grad: saved.__setitem__("gradient", grad))

    handle = model.layer4.register_forward_hook(forward_hook)
    logits = model(images)
    handle.remove()
    model.zero_grad()
    logits[:, target].sum().backward()
    weights = saved["gradient"].mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * saved["activation"]).sum(dim=1))
    return logits.detach(), saved["activation"].detach(), cam.detach()


def features_of(model, images):
    captured = {}
    handle = model.avgpool.register_forward_hook(lambda m, i, o: captured.__setitem__("f", o.flatten(1)))
    logits = model(images)
    handle.remove()
    return captured["f"].detach(), logits.detach()


def photo_input(size):
    """preprocess_photo.png as Fovea's Image+Fundus preset prepares it."""
    image = Image.open(os.path.join(OUT, "preprocess_photo.png")).convert("RGB")
    image = image.resize((size, size), Image.BICUBIC)
    values = (np.asarray(image, dtype=np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(values.transpose(2, 0, 1).copy()).unsqueeze(0)


class Payload:
    """An object whose unpickling would run a shell command (for the refusal test)."""

    def __reduce__(self):
        return (os.system, ("echo this checkpoint ran code",))


def legacy_files():
    legacy = {"fc.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3), "fc.bias": torch.zeros(2)}
    torch.save(legacy, os.path.join(OUT, "tiny_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save({"model": Payload()}, os.path.join(OUT, "tiny_legacy_malicious.pth"),
               _use_new_zipfile_serialization=False)


def main():
    legacy_files()
    torch.manual_seed(3)  # a seed whose class-1 Grad-CAM is not all zeros (random nets give one-signed maps)
    model = narrow(Bottleneck, [3, 4, 6, 3], 8, image_fundus_head)
    perturb(model)
    model.eval()
    parallel = nn.DataParallel(model)
    # What a CUDA machine writes (this one has none): DataParallel's device fields.
    parallel.device_ids = [0]
    parallel.output_device = 0
    parallel.src_device_obj = torch.device("cuda", 0)
    torch.save(parallel, os.path.join(OUT, "tiny_image_fundus_dataparallel.pth"))
    torch.save(parallel.state_dict(), os.path.join(OUT, "tiny_image_fundus_state_dict.pth"))
    fp16 = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save(fp16, os.path.join(OUT, "tiny_image_fundus_fp16.pth"))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              os.path.join(OUT, "tiny_image_fundus.safetensors"))
    torch.save({"model": Payload()}, os.path.join(OUT, "tiny_malicious.pth"))

    images = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(7))
    features, _ = features_of(model, images)
    logits, activation, cam = grad_cam(model, images, 1)

    half = narrow(Bottleneck, [3, 4, 6, 3], 8, image_fundus_head)
    half.load_state_dict({k: v.float() for k, v in fp16.items()})
    half.eval()
    half_features, half_logits = features_of(half, images)

    photo = photo_input(SIZE)
    photo_logits, _, photo_cam = grad_cam(model, photo, 1)

    torch.manual_seed(18)
    small = narrow(BasicBlock, [2, 2, 2, 2], 8, lambda f: nn.Linear(f, 3))
    perturb(small)
    small.eval()
    torch.save(small.state_dict(), os.path.join(OUT, "tiny_resnet18.pth"))
    r18_features, r18_logits = features_of(small, images)

    save_file({
        "image": images.contiguous(),
        "features": features.contiguous(),
        "logits": logits.contiguous(),
        "layer4": activation.contiguous(),
        "grad_cam": cam.contiguous(),
        "fp16_features": half_features.contiguous(),
        "fp16_logits": half_logits.contiguous(),
        "photo_logits": photo_logits.contiguous(),
        "photo_grad_cam": photo_cam.contiguous(),
        "resnet18_features": r18_features.contiguous(),
        "resnet18_logits": r18_logits.contiguous(),
    }, os.path.join(OUT, "tiny_resnet_outputs.safetensors"))

    full = resnet50()
    full.fc = image_fundus_head(2048, 512, 2)
    keys = {k: list(v.shape) for k, v in full.state_dict().items()}
    with open(os.path.join(OUT, "image_fundus_state_dict_keys.json"), "w") as f:
        json.dump({"torch": torch.__version__, "image_fundus_resnet50": keys}, f, indent=0, sort_keys=True)
    print("features", features.shape, "logits", logits, "cam", cam.shape)


if __name__ == "__main__":
    main()
