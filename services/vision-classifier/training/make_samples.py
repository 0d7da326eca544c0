#!/usr/bin/python3
"""Writes the sample images under services/vision-classifier/samples/ and the
trained model's answers for them (expected.json), for the TypeScript tests and
the docs.

    /usr/bin/python3 services/vision-classifier/training/make_samples.py [--model DIR] [--checkpoint PT] [--out DIR]

Needs the PyTorch weights train.py saved (training/fashion_cnn.pt) and the
model directory it wrote (mean/std are read from its MLmodel, and every
answer is cross-checked against its model.onnx).

Each file is a Fashion-MNIST test image. For each, the first test image (in
dataset order) of the wanted class is taken whose *saved file*, decoded with
PIL, converted to RGB (RGBA: alpha dropped) and resized to 32x32 bilinear if
needed, is classified correctly with confidence >= MIN_CONFIDENCE, and whose
probabilities barely move (< MAX_SHIFT) under other reasonable resizers (float
bilinear without rounding, libvips' shifted upscale, antialiased or box
downscaling) or without the JPEG round trip. A server that decodes and resizes with libvips rather than
PIL then agrees with expected.json to well within the tests' tolerance.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import CLASSES, INPUT_SIZE  # noqa: E402

MIN_CONFIDENCE = 0.95
MAX_SHIFT = 0.005


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=common.DEFAULT_MODEL_DIR, help="model directory written by train.py")
    p.add_argument("--checkpoint", default=common.CHECKPOINT, help="PyTorch weights written by train.py")
    p.add_argument("--out", default=common.SAMPLES_DIR)
    return p.parse_args(argv)


# How each sample file is made from a 28×28 uint8 test image: (file name, class, writer).
def _png_l(a):
    buf = io.BytesIO()
    Image.fromarray(a, "L").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _jpeg_l(a):
    buf = io.BytesIO()
    Image.fromarray(a, "L").save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _bmp_rgb(a):
    buf = io.BytesIO()
    Image.fromarray(a, "L").convert("RGB").save(buf, format="BMP")  # 24 bits per pixel
    return buf.getvalue()


def _png_rgb64(a):
    buf = io.BytesIO()
    Image.fromarray(a, "L").resize((64, 64), Image.BILINEAR).convert("RGB").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _png_rgba(a):
    buf = io.BytesIO()
    Image.fromarray(a, "L").convert("RGBA").save(buf, format="PNG", optimize=True)  # alpha 255 everywhere
    return buf.getvalue()


def _jpeg_rgb32(a):
    buf = io.BytesIO()
    Image.fromarray(common.upscale(a), "L").convert("RGB").save(buf, format="JPEG", quality=95)
    return buf.getvalue()


FILES = [
    ("ankle_boot.png", 9, _png_l),
    ("trouser.jpg", 1, _jpeg_l),
    ("bag.bmp", 8, _bmp_rgb),
    ("sneaker_rgb.png", 7, _png_rgb64),
    ("coat_rgba.png", 4, _png_rgba),
    ("test_image.jpg", 1, _jpeg_rgb32),  # the seed docs' test_image.jpg (a trouser, as the README shows)
]
BATCH_CLASSES = [0, 2, 3, 6]  # T-shirt/top, Pullover, Dress, Shirt: the classes no other sample shows


class Scorer:
    def __init__(self, net, mean, std):
        self.net, self.mean, self.std = net, mean, std

    def probs_u8(self, batch_nhwc_u8: np.ndarray) -> np.ndarray:
        return self.probs_float(batch_nhwc_u8.astype(np.float32))

    def probs_float(self, batch_nhwc: np.ndarray) -> np.ndarray:
        """N×32×32×3 pixels (0..255, float allowed) → N×10 softmax (float64)."""
        import torch

        x = common.normalize_nhwc(batch_nhwc, self.mean, self.std)
        with torch.no_grad():
            return common.softmax(self.net(torch.from_numpy(x)).numpy())


def vips_like_upscale(rgb: np.ndarray) -> np.ndarray:
    """H×W×C float → 32×32×C bilinear sampling at src = dst·(in/out) − 0.5 (edges clamped):
    what sharp 0.35's resize(kernel 'linear') was measured to do when enlarging 28→32,
    unlike PIL's half-pixel-centred src = (dst + 0.5)·(in/out) − 0.5."""

    def axis(n: int):
        src = np.clip(np.arange(INPUT_SIZE) * (n / INPUT_SIZE) - 0.5, 0, n - 1)
        i0 = np.floor(src).astype(int)
        return i0, np.minimum(i0 + 1, n - 1), (src - i0).astype(np.float32)

    y0, y1, wy = axis(rgb.shape[0])
    x0, x1, wx = axis(rgb.shape[1])
    rows = rgb[y0] * (1 - wy)[:, None, None] + rgb[y1] * wy[:, None, None]
    return rows[:, x0] * (1 - wx)[None, :, None] + rows[:, x1] * wx[None, :, None]


def alternatives(decoded: Image.Image, original28: np.ndarray, name: str) -> list[np.ndarray]:
    """Other plausible renderings of the same picture at 32×32 (float pixels, N×32×32×3)."""
    import torch
    import torch.nn.functional as F

    rgb = np.asarray(decoded.convert("RGB"), dtype=np.float32)
    t = torch.from_numpy(rgb.transpose(2, 0, 1).copy()).unsqueeze(0)
    out = []
    if rgb.shape[:2] != (INPUT_SIZE, INPUT_SIZE):
        out.append(F.interpolate(t, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False))
        if rgb.shape[0] < INPUT_SIZE:  # upscaling as libvips (sharp's 'linear') does it: shifted by up to half a pixel
            out.append(torch.from_numpy(vips_like_upscale(rgb).transpose(2, 0, 1).copy()).unsqueeze(0))
        if rgb.shape[0] > INPUT_SIZE:  # downscaling: with and without antialiasing, and a box filter
            out.append(F.interpolate(t, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False, antialias=True))
            out.append(F.adaptive_avg_pool2d(t, (INPUT_SIZE, INPUT_SIZE)))
    if name.endswith(".jpg"):  # without the JPEG round trip
        clean = np.repeat(common.upscale(original28)[:, :, None], 3, axis=2).astype(np.float32)
        out.append(torch.from_numpy(clean.transpose(2, 0, 1).copy()).unsqueeze(0))
    return [a.squeeze(0).numpy().transpose(1, 2, 0) for a in out]


def pick(scorer, test_x, test_y, label, make, name, taken):
    """First test image of `label` whose saved file passes the checks; returns (index, bytes, input, probs, shift)."""
    for index in np.flatnonzero(test_y == label):
        if int(index) in taken:
            continue
        data = make(test_x[index])
        decoded = Image.open(io.BytesIO(data))
        decoded.load()
        x = common.pil_to_input(decoded)
        p = scorer.probs_u8(x[None])[0]
        if p.argmax() != label or p.max() < MIN_CONFIDENCE:
            continue
        alts = alternatives(decoded, test_x[index], name)
        shift = max([float(np.abs(scorer.probs_float(a[None])[0] - p).max()) for a in alts], default=0.0)
        if shift < MAX_SHIFT:
            return int(index), data, x, p, shift
    raise SystemExit(f"no test image of class {CLASSES[label]} passes the checks for {name}")


def entry(index, label, p, **extra):
    return {
        "test_index": index,
        "label": int(label),
        "label_name": CLASSES[label],
        "predicted_index": int(p.argmax()),
        "predicted_class": CLASSES[int(p.argmax())],
        "confidence": float(p.max()),
        "probabilities": [float(v) for v in p],
        **extra,
    }


def main(argv=None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    import onnx
    import torch
    import yaml

    torch.set_num_threads(2)
    with open(os.path.join(args.model, "MLmodel")) as f:
        pre = yaml.safe_load(f)["metadata"]["preprocessing"]
    mean, std = float(pre["mean"][0]), float(pre["std"][0])
    net, ckpt = common.load_checkpoint(args.checkpoint)
    if (ckpt["mean"], ckpt["std"]) != (mean, std):
        raise SystemExit(f"{args.checkpoint} (mean {ckpt['mean']}, std {ckpt['std']}) does not belong to {args.model} (mean {mean}, std {std})")
    onnx_model = onnx.load(os.path.join(args.model, "model.onnx"))
    scorer = Scorer(net, mean, std)
    test_x, test_y = common.load_split("t10k")

    os.makedirs(args.out, exist_ok=True)
    expected, inputs, taken = [], [], set()
    for name, label, make in FILES:
        index, data, x, p, shift = pick(scorer, test_x, test_y, label, make, name, taken)
        taken.add(index)
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
        with Image.open(os.path.join(args.out, name)) as img:
            desc = {"mode": img.mode, "size": list(img.size), "format": img.format}
        assert np.array_equal(common.pil_to_input(Image.open(os.path.join(args.out, name))), x)
        expected.append({"file": name, **entry(index, label, p, image=desc, max_shift_other_resizers=shift)})
        inputs.append(x)

    batch_idx, batch_probs = [], []
    for label in BATCH_CLASSES:
        # Sent as-is (already 32×32), so only the model's confidence matters here.
        for index in np.flatnonzero(test_y == label):
            if int(index) in taken:
                continue
            x = np.repeat(common.upscale(test_x[index])[:, :, None], 3, axis=2)
            p = scorer.probs_u8(x[None])[0]
            if p.argmax() == label and p.max() >= MIN_CONFIDENCE:
                taken.add(int(index))
                batch_idx.append(int(index))
                batch_probs.append(p)
                inputs.append(x)
                break
    batch = np.stack(inputs[len(FILES) :])
    assert batch.shape == (4, INPUT_SIZE, INPUT_SIZE, 3) and batch.dtype == np.uint8
    with open(os.path.join(args.out, "batch_4.json"), "w") as f:
        json.dump({"input": batch.tolist()}, f, separators=(",", ":"))
    expected.append(
        {
            "file": "batch_4.json",
            "shape": list(batch.shape),
            "test_indices": batch_idx,
            "items": [entry(i, test_y[i], p) for i, p in zip(batch_idx, batch_probs)],
        }
    )

    # The ONNX file the server loads must agree with these PyTorch answers.
    all_x = common.normalize_nhwc(np.stack(inputs), mean, std)
    onnx_probs = common.softmax(common.run_onnx_numpy(onnx_model, {"input": all_x})["logits"])
    torch_probs = np.stack([e["probabilities"] for e in expected[:-1]] + [it["probabilities"] for it in expected[-1]["items"]])
    onnx_diff = float(np.abs(onnx_probs - torch_probs).max())
    if onnx_diff > 1e-5:
        raise SystemExit(f"model.onnx disagrees with the PyTorch weights by {onnx_diff}")

    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")

    print(f"samples in {args.out} (mean {mean}, std {std}; ONNX vs PyTorch max |dp| {onnx_diff:.1e}):")
    for e in expected[:-1]:
        size = os.path.getsize(os.path.join(args.out, e["file"]))
        print(f"  {e['file']:16s} {size:6d} B  test #{e['test_index']:<5d} {e['label_name']:11s} -> {e['predicted_class']} {e['confidence']:.4f}")
    size = os.path.getsize(os.path.join(args.out, "batch_4.json"))
    for it in expected[-1]["items"]:
        print(f"  batch_4.json     {size:6d} B  test #{it['test_index']:<5d} {it['label_name']:11s} -> {it['predicted_class']} {it['confidence']:.4f}")


if __name__ == "__main__":
    main()
