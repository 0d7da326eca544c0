"""Shared pieces of train.py and make_samples.py: the dataset reader, the
preprocessing the server repeats, the model, and a tiny NumPy interpreter used
to check the exported ONNX file (onnxruntime is not available here)."""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICE_DIR = os.path.dirname(HERE)
DEFAULT_MODEL_DIR = os.path.join(SERVICE_DIR, "model")
SAMPLES_DIR = os.path.join(SERVICE_DIR, "samples")
LAST_RUN = os.path.join(HERE, "last_run.json")
# The PyTorch weights, kept out of model/ and samples/ (gitignored: *.pt).
CHECKPOINT = os.path.join(HERE, "fashion_cnn.pt")

DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
INPUT_SIZE = 32


# --------------------------------------------------------------------------- data

def read_idx(path: str) -> np.ndarray:
    """Reads a gzipped IDX file (the MNIST container format) into a uint8 array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {data[:4].hex()})")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {dims}, found {arr.size} bytes")
    return arr.reshape(dims)


def load_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """split: 'train' or 't10k'. Returns (images N×28×28 uint8, labels N int64)."""
    images = read_idx(os.path.join(DATA_DIR, f"{split}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, f"{split}-labels-idx1-ubyte.gz")).astype(np.int64)
    assert images.shape[0] == labels.shape[0]
    return images, labels


# --------------------------------------------------------------------------- preprocessing

def upscale(img28: np.ndarray) -> np.ndarray:
    """One 28×28 uint8 grey image → 32×32 uint8 grey, PIL bilinear (as the server's resize)."""
    return np.asarray(Image.fromarray(img28, mode="L").resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR))


def upscale_all(images: np.ndarray) -> np.ndarray:
    return np.stack([upscale(a) for a in images])


def pil_to_input(img: Image.Image) -> np.ndarray:
    """Any decoded PIL image → 32×32×3 uint8 RGB, the way the server sees it:
    convert to RGB (RGBA just drops alpha, L is replicated), resize bilinear when needed."""
    img = img.convert("RGB")
    if img.size != (INPUT_SIZE, INPUT_SIZE):
        img = img.resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def normalize_nhwc(batch_u8: np.ndarray, mean: float, std: float) -> np.ndarray:
    """N×32×32×3 uint8 → N×3×32×32 float32: (x/255 - mean) / std."""
    x = batch_u8.astype(np.float32) / 255.0
    x = (x - np.float32(mean)) / np.float32(std)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- model

def build_model():
    """fashion_cnn: three conv-BN-ReLU-maxpool blocks (32, 64, 128 channels) on a
    32×32×3 input, dropout, and a linear layer over the flattened 4×4×128 map."""
    import torch.nn as nn

    def block(cin: int, cout: int) -> list:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True), nn.MaxPool2d(2)]

    return nn.Sequential(
        *block(3, 32),  # 32 → 16
        *block(32, 64),  # 16 → 8
        *block(64, 128),  # 8 → 4
        nn.Dropout(0.3),
        nn.Flatten(),
        nn.Linear(128 * 4 * 4, len(CLASSES)),
    )


def load_checkpoint(path: str = CHECKPOINT):
    import torch

    ckpt = torch.load(path, map_location="cpu")
    model = build_model()
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model, ckpt


# --------------------------------------------------------------------------- ONNX check

def _conv(x, w, b, pads, strides, dilations, group):
    if group != 1 or any(d != 1 for d in dilations):
        raise NotImplementedError("Conv with groups/dilations")
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (x.shape[2] - kh) // strides[0] + 1
    ow = (x.shape[3] - kw) // strides[1] + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i : i + strides[0] * oh : strides[0], j : j + strides[1] * ow : strides[1]]
    out = np.einsum("nckloq,mckl->nmoq", cols, w, optimize=True)
    if b is not None:
        out = out + b[None, :, None, None]
    return out


def _maxpool(x, kernel, pads, strides):
    if any(pads):
        x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=-np.inf)
    kh, kw = kernel
    oh = (x.shape[2] - kh) // strides[0] + 1
    ow = (x.shape[3] - kw) // strides[1] + 1
    out = np.full(x.shape[:2] + (oh, ow), -np.inf, dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out = np.maximum(out, x[:, :, i : i + strides[0] * oh : strides[0], j : j + strides[1] * ow : strides[1]])
    return out


def run_onnx_numpy(model_proto, feeds: dict) -> dict:
    """Evaluates the few ONNX ops this CNN exports to (float64 NumPy). Raises on anything else."""
    from onnx import helper, numpy_helper

    env = {t.name: numpy_helper.to_array(t).astype(np.float64) if numpy_helper.to_array(t).dtype.kind == "f" else numpy_helper.to_array(t) for t in model_proto.graph.initializer}
    env.update({k: v.astype(np.float64) for k, v in feeds.items()})
    for node in model_proto.graph.node:
        a = {attr.name: helper.get_attribute_value(attr) for attr in node.attribute}
        ins = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Conv":
            k = ins[1].shape[2:]
            out = _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a.get("pads", [0] * 4), a.get("strides", [1, 1]), a.get("dilations", [1, 1]), a.get("group", 1))
            assert tuple(a.get("kernel_shape", k)) == tuple(k)
        elif op == "Relu":
            out = np.maximum(ins[0], 0)
        elif op == "MaxPool":
            out = _maxpool(ins[0], a["kernel_shape"], a.get("pads", [0] * 4), a.get("strides", [1, 1]))
        elif op == "Flatten":
            axis = a.get("axis", 1)
            out = ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)
        elif op == "Reshape":
            out = ins[0].reshape([ins[0].shape[i] if s == 0 else s for i, s in enumerate(ins[1].astype(np.int64))])
        elif op == "Gemm":
            A = ins[0].T if a.get("transA", 0) else ins[0]
            B = ins[1].T if a.get("transB", 0) else ins[1]
            out = a.get("alpha", 1.0) * A @ B
            if len(ins) > 2 and ins[2] is not None:
                out = out + a.get("beta", 1.0) * ins[2]
        elif op == "MatMul":
            out = ins[0] @ ins[1]
        elif op == "Add":
            out = ins[0] + ins[1]
        elif op == "GlobalAveragePool":
            out = ins[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Identity":
            out = ins[0]
        else:
            raise NotImplementedError(f"ONNX op {op} not supported by the NumPy checker")
        env[node.output[0]] = out
    return {o.name: env[o.name] for o in model_proto.graph.output}
