#!/usr/bin/python3
"""Trains the bundled Fashion-MNIST classifier (fashion_cnn) and writes it as an
MLflow ONNX model directory.

    /usr/bin/python3 services/vision-classifier/training/train.py [--epochs N] [--out DIR]

Writes <out>/model.onnx, <out>/MLmodel, <out>/labels.txt, <out>/conda.yaml,
<out>/python_env.yaml, <out>/requirements.txt, the full evaluation to
training/last_run.json and the PyTorch weights to training/fashion_cnn.pt
(gitignored). With the default --out it then runs make_samples.py, so the
sample files' expected answers always match the bundled model.

Runs on CPU (2 threads); needs torch, PIL, numpy, onnx and PyYAML only, and no
network: the dataset is read from /usr/share/datasets/fashion-mnist
(override with FASHION_MNIST_DIR).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import CLASSES, INPUT_SIZE  # noqa: E402

MLFLOW_VERSION = "2.17.2"
PAD = 2  # random translation of up to ±PAD pixels


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--out", default=common.DEFAULT_MODEL_DIR, help="model directory to write (default: services/vision-classifier/model)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate of the one-cycle schedule")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--checkpoint", default=common.CHECKPOINT, help="where to save the PyTorch weights (default: training/fashion_cnn.pt)")
    p.add_argument("--report", default=common.LAST_RUN, help="where to write the evaluation (default: training/last_run.json)")
    p.add_argument("--samples", default=None, help="run make_samples.py into this directory (default: samples/ when --out is the default)")
    p.add_argument("--min-accuracy", type=float, default=0.90, help="refuse to export a model below this test accuracy")
    p.add_argument("--no-samples", action="store_true", help="do not run make_samples.py afterwards")
    return p.parse_args()


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def augment(batch_u8, gen):
    """Random translation (zero-padded by PAD, random PAD*2+1 offsets) and a random
    horizontal flip, on a B×32×32 uint8 batch. Returns B×32×32 float in 0..255."""
    import torch
    import torch.nn.functional as F

    b = batch_u8.shape[0]
    padded = F.pad(batch_u8.float(), (PAD, PAD, PAD, PAD))
    oy = torch.randint(0, 2 * PAD + 1, (b,), generator=gen)
    ox = torch.randint(0, 2 * PAD + 1, (b,), generator=gen)
    ar = torch.arange(INPUT_SIZE)
    rows = (oy[:, None] + ar)[:, :, None]
    cols = (ox[:, None] + ar)[:, None, :]
    out = padded[torch.arange(b)[:, None, None], rows, cols]
    flip = torch.rand(b, generator=gen) < 0.5
    return torch.where(flip[:, None, None], out.flip(-1), out)


def to_input(batch_f, mean: float, std: float, channels_last: bool = True):
    """B×32×32 float 0..255 → B×3×32×32 normalized (grey replicated to RGB)."""
    import torch

    x = ((batch_f / 255.0 - mean) / std).unsqueeze(1).expand(-1, 3, -1, -1)
    return x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def evaluate(model, images_u8, labels, mean, std, batch_size=500):
    import torch
    import torch.nn.functional as F

    model.eval()
    logits = []
    with torch.no_grad():
        for i in range(0, len(images_u8), batch_size):
            logits.append(model(to_input(images_u8[i : i + batch_size].float(), mean, std)))
    logits = torch.cat(logits)
    loss = F.cross_entropy(logits, labels).item()
    pred = logits.argmax(1).numpy()
    return logits.numpy(), pred, loss


def classification_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    k = len(CLASSES)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(1)
    predicted = cm.sum(0)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    return {
        "accuracy": float(tp.sum() / cm.sum()),
        "macro_f1": float(f1.mean()),
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "per_class": {
            c: {"accuracy": float(recall[i]), "precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(support[i])}
            for i, c in enumerate(CLASSES)
        },
        "confusion_matrix": {"rows": "true label", "columns": "predicted label", "labels": CLASSES, "matrix": cm.tolist()},
    }


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_onnx(model, path: str, sample_inputs, torch_logits) -> dict:
    """Exports, then checks the file: onnx.checker, shape inference, the I/O
    contract, and the logits of a NumPy evaluation of the graph against PyTorch
    (batches of 1, 7 and more)."""
    import onnx
    import torch

    model = model.to(memory_format=torch.contiguous_format).eval()
    dummy = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)
    torch.onnx.export(
        model,
        dummy,
        path,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=13,
        do_constant_folding=True,
        training=torch.onnx.TrainingMode.EVAL,
    )
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)

    def dims(vi):
        return [d.dim_param if d.dim_param else d.dim_value for d in vi.type.tensor_type.shape.dim]

    (inp,), (out,) = inferred.graph.input, inferred.graph.output
    assert inp.name == "input" and dims(inp) == ["batch", 3, INPUT_SIZE, INPUT_SIZE], dims(inp)
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert out.name == "logits" and dims(out) == ["batch", len(CLASSES)], dims(out)
    assert out.type.tensor_type.elem_type == onnx.TensorProto.FLOAT

    max_diff = 0.0
    checked = []
    for x, ref in zip(sample_inputs, torch_logits):
        got = common.run_onnx_numpy(proto, {"input": x})["logits"]
        assert got.shape == ref.shape, (got.shape, ref.shape)
        diff = float(np.abs(got - ref).max())
        max_diff = max(max_diff, diff)
        checked.append(int(x.shape[0]))
    if max_diff >= 1e-4:
        raise SystemExit(f"ONNX and PyTorch logits differ by {max_diff}")
    return {
        "opset": 13,
        "ops": sorted({n.op_type for n in proto.graph.node}),
        "checker": "ok",
        "shape_inference": {"input": dims(inp), "logits": dims(out)},
        "numpy_vs_torch_batches": checked,
        "numpy_vs_torch_max_abs_diff": max_diff,
        "sha256": sha256_file(path),
        "bytes": os.path.getsize(path),
    }


def write_mlmodel_dir(out: str, onnx_info: dict, mean: float, std: float, params: dict, metrics: dict, created: str) -> None:
    import onnx
    import yaml

    signature_inputs = [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3, INPUT_SIZE, INPUT_SIZE]}, "name": "input"}]
    signature_outputs = [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, len(CLASSES)]}, "name": "logits"}]
    mlmodel = {
        "artifact_path": "model",
        "flavors": {
            "onnx": {"code": None, "data": "model.onnx", "onnx_version": onnx.__version__, "providers": ["CPUExecutionProvider"]},
            "python_function": {
                "data": "model.onnx",
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "loader_module": "mlflow.onnx",
                "python_version": "3.11",
            },
        },
        "metadata": {
            "classes": list(CLASSES),
            "output_kind": "logits",
            "preprocessing": {
                "input_size": [INPUT_SIZE, INPUT_SIZE],
                "channels": 3,
                "color_mode": "rgb",
                "layout": "NCHW",
                "resize": "bilinear",
                "resize_impl": "PIL Image.resize((32, 32), Image.BILINEAR) per image",
                "scale": 255,
                "mean": [mean] * 3,
                "std": [std] * 3,
                "stats_source": "Fashion-MNIST training set (60,000 images) after the 32x32 upscale and /255, rounded to 4 decimals",
                "source_images": "28x28 grayscale, upscaled and replicated to RGB",
            },
            "params": params,
            "metrics": metrics,
        },
        "mlflow_version": MLFLOW_VERSION,
        "model_size_bytes": onnx_info["bytes"],
        "model_uuid": onnx_info["sha256"][:32],
        "signature": {"inputs": json.dumps(signature_inputs), "outputs": json.dumps(signature_outputs)},
        "utc_time_created": created,
    }
    # MLflow writes MLmodel with yaml.safe_dump(default_flow_style=False), keys sorted.
    text = yaml.safe_dump(mlmodel, default_flow_style=False, sort_keys=True, width=1000)
    assert yaml.safe_load(text) == mlmodel
    with open(os.path.join(out, "MLmodel"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    requirements = [f"mlflow=={MLFLOW_VERSION}", f"onnx=={onnx.__version__}", "onnxruntime"]
    with open(os.path.join(out, "requirements.txt"), "w") as f:
        f.write("\n".join(requirements) + "\n")
    conda = {
        "channels": ["conda-forge"],
        "dependencies": ["python=3.11", "pip<=24.2", {"pip": requirements}],
        "name": "mlflow-env",
    }
    with open(os.path.join(out, "conda.yaml"), "w") as f:
        f.write(yaml.safe_dump(conda, default_flow_style=False, sort_keys=False))
    python_env = {"python": "3.11", "build_dependencies": ["pip==24.2", "setuptools", "wheel"], "dependencies": ["-r requirements.txt"]}
    with open(os.path.join(out, "python_env.yaml"), "w") as f:
        f.write(yaml.safe_dump(python_env, default_flow_style=False, sort_keys=False))


def main() -> None:
    args = parse_args()
    import onnx
    import PIL
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    out = os.path.abspath(args.out)

    t0 = time.time()
    train_x28, train_y = common.load_split("train")
    test_x28, test_y = common.load_split("t10k")
    train_x = common.upscale_all(train_x28)
    test_x = common.upscale_all(test_x28)
    scaled = train_x.astype(np.float64) / 255.0
    mean = round(float(scaled.mean()), 4)
    std = round(float(scaled.std()), 4)
    del scaled
    print(f"data: train {train_x.shape}, test {test_x.shape}, upscaled with PIL bilinear in {time.time() - t0:.1f}s; mean {mean}, std {std}")

    train_t = torch.from_numpy(train_x)
    train_yt = torch.from_numpy(train_y)
    test_t = torch.from_numpy(test_x)
    test_yt = torch.from_numpy(test_y)

    model = common.build_model().to(memory_format=torch.channels_last)
    n_params = sum(p.numel() for p in model.parameters())
    steps_per_epoch = (len(train_x) + args.batch_size - 1) // args.batch_size
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.2, anneal_strategy="cos", div_factor=25.0, final_div_factor=1e3
    )
    gen = torch.Generator().manual_seed(args.seed)
    shuffle_rng = np.random.RandomState(args.seed)
    print(f"model fashion_cnn: {n_params:,} parameters; {args.epochs} epochs x {steps_per_epoch} steps, batch {args.batch_size}, {args.threads} threads")

    history = []
    train_start = time.time()
    train_seconds = 0.0
    for epoch in range(1, args.epochs + 1):
        model.train()
        e0 = time.time()
        order = torch.from_numpy(shuffle_rng.permutation(len(train_x)))
        loss_sum, correct, seen = 0.0, 0, 0
        for i in range(0, len(order), args.batch_size):
            idx = order[i : i + args.batch_size]
            xb = to_input(augment(train_t[idx], gen), mean, std)
            yb = train_yt[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(idx)
        epoch_seconds = time.time() - e0
        train_seconds += epoch_seconds
        # Test accuracy per epoch is logged for information only: the shipped
        # model is always the last epoch's, nothing is selected on the test set.
        _, pred, test_loss = evaluate(model, test_t, test_yt, mean, std)
        entry = {
            "epoch": epoch,
            "train_loss": loss_sum / seen,
            "train_accuracy": correct / seen,
            "test_loss": test_loss,
            "test_accuracy": float((pred == test_y).mean()),
            "lr_end": scheduler.get_last_lr()[0],
            "seconds": epoch_seconds,
        }
        history.append(entry)
        print(
            f"epoch {epoch:2d}/{args.epochs}: train loss {entry['train_loss']:.4f} acc {entry['train_accuracy']:.4f} | "
            f"test loss {test_loss:.4f} acc {entry['test_accuracy']:.4f} | {epoch_seconds:.0f}s",
            flush=True,
        )
    wall = time.time() - train_start

    test_logits, test_pred, test_loss = evaluate(model, test_t, test_yt, mean, std)
    report = classification_report(test_y, test_pred)
    model.eval()

    params = {
        "learning_rate": str(args.lr),
        "lr_schedule": "one_cycle_cosine(pct_start=0.2)",
        "batch_size": str(args.batch_size),
        "epochs": str(args.epochs),
        "optimizer": "Adam",
        "model_name": "fashion_cnn",
        "seed": str(args.seed),
        "weight_decay": str(args.weight_decay),
        "augmentation": f"random_translate(+-{PAD}px, zero pad)+random_hflip(0.5)",
        "dataset": "fashion-mnist",
        "input_size": f"{INPUT_SIZE}x{INPUT_SIZE}x3",
        "num_params": str(n_params),
    }
    metrics = {
        "test_accuracy": round(report["accuracy"], 4),
        "test_f1": round(report["macro_f1"], 4),
        "train_loss": round(history[-1]["train_loss"], 4),
        "test_loss": round(test_loss, 4),
        "train_seconds": round(train_seconds, 4),
    }
    created = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")

    run = {
        "created_utc": created,
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "out": os.path.relpath(out, os.getcwd()),
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "numpy": np.__version__,
            "pillow": PIL.__version__,
            "threads": args.threads,
            "cpu_count": os.cpu_count(),
        },
        "preprocessing": {"resize": "PIL Image.resize((32, 32), Image.BILINEAR)", "mean": mean, "std": std, "scale": 255, "channels": 3},
        "params": params,
        "metrics": metrics,
        "train_wall_seconds_incl_per_epoch_eval": wall,
        "test": report,
        "history": history,
        "onnx": None,
    }
    print()
    print(f"test accuracy {report['accuracy']:.4f}  macro F1 {report['macro_f1']:.4f}  test loss {test_loss:.4f}")
    print("per-class accuracy: " + ", ".join(f"{c} {v['accuracy']:.3f}" for c, v in report["per_class"].items()))
    print(f"training: {args.epochs} epochs in {train_seconds:.0f}s ({n_params:,} parameters)")
    if report["accuracy"] < args.min_accuracy:
        # Leave the model directory as it was: a worse model is never exported.
        with open(args.report, "w") as f:
            json.dump(run, f, indent=2)
            f.write("\n")
        raise SystemExit(f"test accuracy {report['accuracy']:.4f} is below {args.min_accuracy}: not exported (report in {args.report})")

    torch.save({"state_dict": model.to(memory_format=torch.contiguous_format).state_dict(), "mean": mean, "std": std, "seed": args.seed}, args.checkpoint)

    # ONNX export + verification on test batches of 1, 7 and 64 images.
    checks = [(0, 1), (1, 8), (100, 164)]
    sample_inputs = [to_input(test_t[a:b].float(), mean, std, channels_last=False).numpy() for a, b in checks]
    ref_logits = [test_logits[a:b].astype(np.float64) for a, b in checks]
    os.makedirs(out, exist_ok=True)
    onnx_path = os.path.join(out, "model.onnx")
    onnx_info = export_onnx(model, onnx_path, sample_inputs, ref_logits)

    write_mlmodel_dir(out, onnx_info, mean, std, params, metrics, created)
    run["onnx"] = onnx_info
    with open(args.report, "w") as f:
        json.dump(run, f, indent=2)
        f.write("\n")
    print(f"ONNX: {onnx_path} ({onnx_info['bytes']:,} bytes, ops {', '.join(onnx_info['ops'])}), NumPy vs PyTorch max |diff| {onnx_info['numpy_vs_torch_max_abs_diff']:.2e}")
    print(f"wrote {out}/MLmodel, labels.txt, conda.yaml, python_env.yaml, requirements.txt; {args.report}; {args.checkpoint}")

    samples = args.samples or (common.SAMPLES_DIR if out == os.path.abspath(common.DEFAULT_MODEL_DIR) else None)
    if samples and not args.no_samples:
        import make_samples

        print()
        make_samples.main(["--model", out, "--checkpoint", args.checkpoint, "--out", samples])


if __name__ == "__main__":
    main()
