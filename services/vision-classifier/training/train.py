#!/usr/bin/python3
"""Trains the bundled Fashion-MNIST classifier and exports it as an MLflow-style ONNX model directory.

Run with Debian's Python and packages (PyPI's torch pulls gigabytes of CUDA):
    apt-get install python3-torch python3-torchvision python3-onnx python3-yaml dataset-fashion-mnist

    /usr/bin/python3 services/vision-classifier/training/train.py [--epochs 5] [--out DIR] [--samples DIR]

Writes DIR/model.onnx, DIR/MLmodel, DIR/labels.txt, training/last_run.json and the sample images with
their expected predictions. `--checkpoint net.pt` skips training and re-exports saved weights.
"""
import argparse
import datetime
import gzip
import hashlib
import json
import os
import struct
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICE = os.path.dirname(HERE)
DATA = "/usr/share/datasets/fashion-mnist/"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SIZE = 32
SEED = 0
BATCH = 128
MAX_LR = 4e-3
WEIGHT_DECAY = 1e-4


def read_idx(name):
    with gzip.open(os.path.join(DATA, name)) as f:
        magic = struct.unpack(">I", f.read(4))[0]
        dims = struct.unpack(">" + "I" * (magic & 0xFF), f.read(4 * (magic & 0xFF)))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


def upscale(images):
    """28x28 uint8 grey -> 32x32 float in [0, 1], bilinear (half-pixel centres, as libvips and PIL resize)."""
    t = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return F.interpolate(t, size=(SIZE, SIZE), mode="bilinear", align_corners=False)


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


def fashion_cnn():
    return nn.Sequential(
        block(3, 32), block(32, 32), nn.MaxPool2d(2),
        block(32, 64), block(64, 64), nn.MaxPool2d(2), nn.Dropout(0.25),
        block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10),
    )


def evaluate(net, x, y):
    net.eval()
    with torch.no_grad():
        logits = torch.cat([net(x[i:i + 1000]) for i in range(0, len(x), 1000)])
    loss = F.cross_entropy(logits, y).item()
    pred = logits.argmax(1).numpy()
    truth = y.numpy()
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (truth, pred), 1)
    tp = np.diag(confusion).astype(np.float64)
    precision = tp / np.maximum(confusion.sum(0), 1)
    recall = tp / np.maximum(confusion.sum(1), 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return {
        "accuracy": float((pred == truth).mean()),
        "macro_f1": float(f1.mean()),
        "loss": loss,
        "per_class_accuracy": {c: float(recall[i]) for i, c in enumerate(CLASSES)},
        "confusion_matrix": confusion.tolist(),
    }


def train(net, x, y, epochs):
    opt = torch.optim.Adam(net.parameters(), lr=MAX_LR / 2, weight_decay=WEIGHT_DECAY)
    steps = epochs * ((len(x) + BATCH - 1) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=MAX_LR, total_steps=steps)
    start = time.time()
    last_loss = 0.0
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(x))
        total = 0.0
        for i in range(0, len(x), BATCH):
            b = perm[i:i + BATCH]
            xb = x[b]
            flip = torch.rand(len(b)) < 0.5
            xb[flip] = xb[flip].flip(3)
            loss = F.cross_entropy(net(xb), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(b)
        last_loss = total / len(x)
        print(f"epoch {epoch + 1}/{epochs}: train loss {last_loss:.4f}, {time.time() - start:.0f} s", flush=True)
    return last_loss, time.time() - start


def export_onnx(net, path):
    net.eval()
    torch.onnx.export(
        net, torch.zeros(1, 3, SIZE, SIZE), path, input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13,
    )
    model = onnx.load(path)
    onnx.checker.check_model(model)
    onnx.shape_inference.infer_shapes(model)


def write_mlmodel(out, metadata, onnx_path):
    digest = hashlib.sha256(open(onnx_path, "rb").read()).hexdigest()
    signature_in = [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3, SIZE, SIZE]}, "name": "input"}]
    signature_out = [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 10]}, "name": "logits"}]
    doc = {
        "artifact_path": "model",
        "flavors": {
            "onnx": {"code": None, "data": "model.onnx", "onnx_version": onnx.__version__, "providers": ["CPUExecutionProvider"]},
            "python_function": {"data": "model.onnx", "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                                "loader_module": "mlflow.onnx", "python_version": "3.11"},
        },
        "mlflow_version": "2.17.2",
        "model_uuid": digest[:32],
        "utc_time_created": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S.%f"),
        "signature": {"inputs": json.dumps(signature_in), "outputs": json.dumps(signature_out)},
        "metadata": metadata,
    }
    with open(os.path.join(out, "MLmodel"), "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False, default_flow_style=None, width=120)


def preprocess_file(path, mean, std):
    """Decode a sample file as a client would (PIL), to 32x32 RGB, normalised: what the server should compute."""
    img = Image.open(path)
    img = img.convert("RGB") if img.mode != "RGBA" else Image.fromarray(np.array(img)[:, :, :3])
    if img.size != (SIZE, SIZE):
        img = img.resize((SIZE, SIZE), Image.BILINEAR)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return torch.from_numpy(((arr - mean) / std).transpose(2, 0, 1)).unsqueeze(0)


def to_rgb32(image28):
    return np.asarray(Image.fromarray(image28).resize((SIZE, SIZE), Image.BILINEAR).convert("RGB"))


def make_samples(net, x_test_raw, y_test, mean, std, out):
    """A few correctly classified test images in several formats, and the model's answers for each."""
    os.makedirs(out, exist_ok=True)
    net.eval()
    with torch.no_grad():
        norm = ((upscale(x_test_raw) - mean) / std).repeat(1, 3, 1, 1)
        probs = torch.cat([F.softmax(net(norm[i:i + 1000]), 1) for i in range(0, len(norm), 1000)]).numpy()
    confident = [i for i in range(len(y_test)) if probs[i].argmax() == y_test[i] and probs[i].max() >= 0.97]

    def first_of(label, skip=0):
        return [i for i in confident if y_test[i] == label][skip]

    files = {
        "ankle_boot.png": (first_of(9), lambda a, p: Image.fromarray(a).save(p)),
        "trouser.jpg": (first_of(1), lambda a, p: Image.fromarray(a).save(p, quality=95)),
        "bag.bmp": (first_of(8), lambda a, p: Image.fromarray(a).convert("RGB").save(p)),
        "sneaker_rgb.png": (first_of(7), lambda a, p: Image.fromarray(a).resize((64, 64), Image.BILINEAR).convert("RGB").save(p)),
        "coat_rgba.png": (first_of(4), lambda a, p: Image.fromarray(a).convert("RGBA").save(p)),
        "test_image.jpg": (first_of(1, 1), lambda a, p: Image.fromarray(to_rgb32(a)).save(p, quality=95)),
    }
    expected = []
    for name, (index, save) in files.items():
        path = os.path.join(out, name)
        save(x_test_raw[index], path)
        with torch.no_grad():
            p = F.softmax(net(preprocess_file(path, mean, std)), 1)[0].numpy()
        assert p.argmax() == y_test[index] and p.max() >= 0.9, (name, p)
        expected.append({"file": name, "test_index": int(index), "label": int(y_test[index]), "label_name": CLASSES[y_test[index]],
                         "predicted_index": int(p.argmax()), "probabilities": [round(float(v), 6) for v in p]})
    batch_indices = [first_of(0), first_of(3), first_of(5), first_of(6)]
    batch = np.stack([to_rgb32(x_test_raw[i]) for i in batch_indices])
    with open(os.path.join(out, "batch_4.json"), "w") as f:
        json.dump({"input": batch.tolist()}, f, separators=(",", ":"))
    with torch.no_grad():
        x = torch.from_numpy(((batch.astype(np.float32) / 255.0 - mean) / std).transpose(0, 3, 1, 2).copy())
        p = F.softmax(net(x), 1).numpy()
    expected.append({"file": "batch_4.json", "items": [
        {"test_index": int(i), "label": int(y_test[i]), "label_name": CLASSES[y_test[i]], "predicted_index": int(q.argmax()),
         "probabilities": [round(float(v), 6) for v in q]} for i, q in zip(batch_indices, p)]})
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(SERVICE, "model"))
    parser.add_argument("--samples", default=os.path.join(SERVICE, "samples"))
    parser.add_argument("--checkpoint", help="skip training: load these weights (saved by an earlier run with --save)")
    parser.add_argument("--save", help="also save the trained weights here (not committed)")
    args = parser.parse_args()

    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(2)
    x_train_raw, y_train = read_idx("train-images-idx3-ubyte.gz"), read_idx("train-labels-idx1-ubyte.gz")
    x_test_raw, y_test = read_idx("t10k-images-idx3-ubyte.gz"), read_idx("t10k-labels-idx1-ubyte.gz")
    x_train = upscale(x_train_raw)
    mean = round(float(x_train.mean()), 4)
    std = round(float(x_train.std()), 4)
    x_train = ((x_train - mean) / std).repeat(1, 3, 1, 1)
    x_test = ((upscale(x_test_raw) - mean) / std).repeat(1, 3, 1, 1)
    y_train_t = torch.from_numpy(y_train.astype(np.int64))
    y_test_t = torch.from_numpy(y_test.astype(np.int64))

    net = fashion_cnn()
    if args.checkpoint:
        state = torch.load(args.checkpoint)
        net.load_state_dict(state["weights"])
        train_loss, train_seconds, epochs = state["train_loss"], state["train_seconds"], state["epochs"]
    else:
        epochs = args.epochs
        train_loss, train_seconds = train(net, x_train, y_train_t, epochs)
        if args.save:
            torch.save({"weights": net.state_dict(), "train_loss": train_loss, "train_seconds": train_seconds, "epochs": epochs}, args.save)

    result = evaluate(net, x_test, y_test_t)
    print(f"test accuracy {result['accuracy']:.4f}, macro F1 {result['macro_f1']:.4f}")
    if result["accuracy"] < 0.90:
        raise SystemExit("accuracy below 0.90: not exporting")

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "model.onnx")
    export_onnx(net, onnx_path)
    metadata = {
        "classes": CLASSES,
        "output_kind": "logits",
        "preprocessing": {"input_size": [SIZE, SIZE], "channels": 3, "color_mode": "rgb", "layout": "NCHW", "resize": "bilinear",
                          "scale": 255, "mean": [mean] * 3, "std": [std] * 3,
                          "source_images": "28x28 grayscale, upscaled and replicated to RGB"},
        "params": {"learning_rate": str(MAX_LR), "lr_schedule": "one_cycle", "batch_size": str(BATCH), "epochs": str(epochs),
                   "optimizer": "adam", "weight_decay": str(WEIGHT_DECAY), "model_name": "fashion_cnn", "seed": str(SEED),
                   "augmentation": "random_horizontal_flip", "dataset": "fashion-mnist", "input_size": f"{SIZE}x{SIZE}x3"},
        "metrics": {"test_accuracy": round(result["accuracy"], 4), "test_f1": round(result["macro_f1"], 4),
                    "train_loss": round(train_loss, 4), "test_loss": round(result["loss"], 4), "train_seconds": round(train_seconds, 1)},
    }
    write_mlmodel(args.out, metadata, onnx_path)
    with open(os.path.join(args.out, "labels.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")

    make_samples(net, x_test_raw, y_test, mean, std, args.samples)
    with open(os.path.join(HERE, "last_run.json"), "w") as f:
        json.dump({"metrics": metadata["metrics"], "params": metadata["params"], "mean": mean, "std": std, **result}, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out} and {args.samples}")


if __name__ == "__main__":
    main()
