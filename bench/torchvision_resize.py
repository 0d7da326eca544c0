"""How far torchvision's tensor resize is from Pillow's, which bento-ts reproduces (docs/api.md quotes the figures).

usage: /usr/bin/python3 bench/torchvision_resize.py   (Debian's python3-torch, python3-torchvision and python3-pil)

Resizes 300 generated RGB images (gradients with noise, 8x8 to 400x300) to 32x32 or to a random size, bilinear,
with Pillow and with torchvision.transforms.functional.resize on uint8 and float tensors, antialias on and off, and
counts the values that differ from Pillow's.
"""

import warnings

import numpy as np
import PIL
import torch
import torchvision
import torchvision.transforms.functional as F
from PIL import Image

warnings.filterwarnings("ignore")
rng = np.random.default_rng(3)
stats = {}
for i in range(300):
    w, h = int(rng.integers(8, 400)), int(rng.integers(8, 300))
    ys, xs = np.mgrid[0:h, 0:w]
    planes = [127.5 + 127.5 * np.sin(rng.uniform(-6, 6) * xs / w + rng.uniform(-6, 6) * ys / h + rng.uniform(0, 6)) for _ in range(3)]
    a = np.clip(np.rint(np.stack(planes, -1) + rng.normal(0, 16, (h, w, 3))), 0, 255).astype(np.uint8)
    ow, oh = (32, 32) if i % 2 else (int(rng.integers(8, 300)), int(rng.integers(8, 300)))
    direction = "up" if ow * oh > w * h else "down"
    pil = np.asarray(Image.fromarray(a).resize((ow, oh), Image.BILINEAR)).astype(np.int16)
    t = torch.from_numpy(a).permute(2, 0, 1)
    for antialias in (True, False):
        for kind, tensor in (("uint8", t), ("float", t.float())):
            r = F.resize(tensor, [oh, ow], interpolation=F.InterpolationMode.BILINEAR, antialias=antialias)
            r = r.round().clamp(0, 255) if kind == "float" else r
            d = np.abs(r.to(torch.int16).permute(1, 2, 0).numpy() - pil)
            for key in ((antialias, kind, "all"), (antialias, kind, direction)):
                s = stats.setdefault(key, [0, 0, 0])
                s[0] += int((d > 0).sum())
                s[1] += d.size
                s[2] = max(s[2], int(d.max()))

print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, Pillow {PIL.__version__}")
for (antialias, kind, which), (differ, total, worst) in sorted(stats.items(), key=str):
    print(f"antialias={antialias} {kind} {which}: {differ}/{total} values differ ({100 * differ / total:.1f}%), by up to {worst}")
