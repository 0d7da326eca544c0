#!/usr/bin/python3
"""Exports torchvision's ResNet-18 (random weights: no download) to ONNX with a dynamic batch axis, as the
compute-heavy model of `make bench`: bench/models/resnet18/model.onnx, input [batch, 3, 224, 224].
Run with Debian's Python (python3-torch, python3-torchvision): /usr/bin/python3 bench/models/make_resnet18.py
"""
import os

import torch
import torchvision

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resnet18")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)
model = torchvision.models.resnet18(num_classes=1000).eval()
torch.onnx.export(model, torch.zeros(1, 3, 224, 224), os.path.join(OUT, "model.onnx"), input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
print(f"wrote {OUT}/model.onnx")
