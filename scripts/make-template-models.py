#!/usr/bin/python3
"""Writes the model of `bento new --template tensor` (templates/tensor/model/model.onnx) and copies the
bundled Fashion-MNIST classifier into the image-classifier template. Run with /usr/bin/python3 (Debian's
python3-torch): /usr/bin/python3 scripts/make-template-models.py

The tensor template's model is a fixed linear layer, so its test can check every output by hand:
scores = features @ W + b with W and b below; a project replaces it with its own model.
"""
import os
import shutil

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

W = [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0], [1.0, 1.0, 1.0]]
B = [0.5, -0.5, 0.0]


class Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("w", torch.tensor(W))
        self.register_buffer("b", torch.tensor(B))

    def forward(self, features):
        return features @ self.w + self.b


out = os.path.join(ROOT, "templates", "tensor", "model")
os.makedirs(out, exist_ok=True)
torch.onnx.export(Linear().eval(), torch.zeros(1, 4), os.path.join(out, "model.onnx"), input_names=["features"],
                  output_names=["scores"], dynamic_axes={"features": {0: "batch"}, "scores": {0: "batch"}}, opset_version=13)

bundled = os.path.join(ROOT, "services", "vision-classifier", "model")
target = os.path.join(ROOT, "templates", "image-classifier", "model")
os.makedirs(target, exist_ok=True)
for name in ("model.onnx", "labels.txt", "MLmodel"):
    shutil.copyfile(os.path.join(bundled, name), os.path.join(target, name))
