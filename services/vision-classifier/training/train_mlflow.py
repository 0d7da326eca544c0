#!/usr/bin/env python3
"""`make train`: trains the seed's image classifier with PyTorch and logs it to MLflow,
as the seed guide's training step does. By default (--flavor onnx) in the form bento-ts
serves as it is:

- params (learning_rate, batch_size, model_name, epochs, ...), per-epoch loss and
  accuracy, and the final test_accuracy and test_f1 (macro);
- the model as ONNX (`mlflow.onnx.log_model(name="model")`, one file, dynamic batch
  axis) with a tensor signature, an input example and metadata: class names and the
  preprocessing the server must repeat (size, layout, mean, std);
- registered as `vision-model` (--model-name), with the alias `champion` on the new version.

With --flavor pytorch (`make train FLAVOR=pytorch`), the reference workflow's own way:
`mlflow.pytorch.log_model(model, "model")` and nothing else (no ONNX, no signature, no
metadata). bento-ts converts it to ONNX when it first serves it; the input shape, the
normalisation and the class names then come from settings, as the reference hard-codes them
(the command to run is printed). MLflow 3's pytorch flavor needs torch 2, so this mode runs
with MLflow 2.x's client (.venv-mlflow2), which logs to an MLflow 3 server all the same.

    .venv/bin/python services/vision-classifier/training/train_mlflow.py [--epochs N] [--quick]
        [--dataset fashion-mnist|cifar10] [--data-dir DIR] [--model-name NAME]

MLflow from MLFLOW_TRACKING_URI (default http://localhost:5001: `make start`). Data:
Debian's Fashion-MNIST (/usr/share/datasets/fashion-mnist), or a CIFAR-10 directory of
python batches (data_batch_1..5, test_batch, batches.meta). --quick trains one epoch on
a subset, for tests. Runs on CPU.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

PAD = 2
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=int(os.environ.get("EPOCHS") or 10))
    p.add_argument("--quick", action="store_true", help="one epoch on 2,000 training and 1,000 test images (for tests)")
    p.add_argument("--dataset", choices=["fashion-mnist", "cifar10"], default="fashion-mnist")
    p.add_argument("--data-dir", default=None, help="dataset directory (default: Debian's Fashion-MNIST; required for cifar10)")
    p.add_argument("--model-name", default=os.environ.get("MODEL_NAME") or "vision-model", help="registered model name")
    p.add_argument("--alias", default="champion", help="alias set on the new version")
    p.add_argument("--experiment", default="vision-classifier")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--flavor", choices=["onnx", "pytorch"], default=os.environ.get("FLAVOR") or "onnx",
                   help="onnx: an ONNX model with signature and metadata; pytorch: mlflow.pytorch.log_model only (the reference's)")
    return p.parse_args(argv)


# --------------------------------------------------------------------------- data: N×32×32×3 uint8 + labels

def load_fashion_mnist(data_dir: str | None):
    if data_dir:
        common.DATA_DIR = data_dir
    train_x, train_y = common.load_split("train")
    test_x, test_y = common.load_split("t10k")
    # The bundled model's preprocessing: PIL bilinear 28→32, grey replicated to RGB (what the server does).
    rgb = lambda a: np.repeat(common.upscale_all(a)[..., None], 3, axis=3)  # noqa: E731
    return rgb(train_x), train_y.astype(np.int64), rgb(test_x), test_y.astype(np.int64), list(common.CLASSES)


def load_cifar10(data_dir: str):
    def batch(name):
        with open(os.path.join(data_dir, name), "rb") as f:
            d = pickle.load(f, encoding="bytes")
        x = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return x, np.asarray(d[b"labels"], dtype=np.int64)

    parts = [batch(f"data_batch_{i}") for i in range(1, 6)]
    test_x, test_y = batch("test_batch")
    with open(os.path.join(data_dir, "batches.meta"), "rb") as f:
        meta = pickle.load(f, encoding="bytes")
    names = [n.decode() if isinstance(n, bytes) else n for n in meta.get(b"label_names", CIFAR10_CLASSES)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), test_x, test_y, names


# --------------------------------------------------------------------------- training

def normalise(torch, x_u8, mean, std):
    """N×32×32×3 uint8 (or float 0..255) → N×3×32×32 float, (x/255 - mean)/std per channel."""
    x = x_u8.float().permute(0, 3, 1, 2) / 255.0
    return (x - mean[None, :, None, None]) / std[None, :, None, None]


def augment(torch, x_u8, gen):
    """Random translation by up to PAD pixels (zero padding) and a random horizontal flip."""
    import torch.nn.functional as F

    b = x_u8.shape[0]
    x = F.pad(x_u8.float().permute(0, 3, 1, 2), (PAD, PAD, PAD, PAD))
    oy = torch.randint(0, 2 * PAD + 1, (b,), generator=gen)
    ox = torch.randint(0, 2 * PAD + 1, (b,), generator=gen)
    ar = torch.arange(32)
    rows = (oy[:, None] + ar)[:, None, :, None]
    cols = (ox[:, None] + ar)[:, None, None, :]
    out = x[torch.arange(b)[:, None, None, None], torch.arange(3)[None, :, None, None], rows, cols]
    flip = torch.rand(b, generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(-1), out).permute(0, 2, 3, 1)


def macro_f1(y_true, y_pred, k):
    f1s = []
    for c in range(k):
        tp = np.sum((y_pred == c) & (y_true == c))
        p = tp / max(1, np.sum(y_pred == c))
        r = tp / max(1, np.sum(y_true == c))
        f1s.append(0.0 if p + r == 0 else 2 * p * r / (p + r))
    return float(np.mean(f1s))


def check_mlflow(uri: str) -> None:
    if not uri.startswith("http"):
        return
    try:
        urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=5).read()
    except (urllib.error.URLError, OSError) as err:
        raise SystemExit(f"MLflow is not reachable at {uri} ({getattr(err, 'reason', err)}): start it with `make start`, or set MLFLOW_TRACKING_URI")


def main(argv=None) -> None:
    args = parse_args(argv)
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or "http://localhost:5001"
    check_mlflow(tracking_uri)
    r = train_and_log(args, tracking_uri)
    print()
    check = f"; ONNX vs PyTorch max |diff| {r['diff']:.1e}" if r["diff"] is not None else ""
    print(f"test accuracy {r['accuracy']:.4f}, macro F1 {r['f1']:.4f} ({r['test_images']} test images){check}")
    print(f"run ID:     {r['run_id']}")
    print(f"model:      {args.model_name} version {r['version']} (alias {args.alias}), model ID {r['model_id']}")
    print()
    print("Serve it with:")
    if args.flavor == "pytorch":
        # What the reference's service hard-codes, as settings: bento-ts converts the model once, then needs no Python.
        settings = (f"MODEL_INPUT_SHAPE=-1,3,32,32 MODEL_MEAN={','.join(map(str, r['mean']))} MODEL_STD={','.join(map(str, r['std']))} "
                    f"MODEL_CLASSES='{','.join(r['classes'])}' BENTO_CONVERT_PYTHON=.venv-mlflow2/bin/python")
        print(f"  make serve MODEL_RUN_ID={r['run_id']} {settings}")
    else:
        print(f"  make serve MODEL_RUN_ID={r['run_id']}")
        print(f"  make serve MODEL_NAME={args.model_name} MODEL_VERSION={r['version']}")


def train_and_log(args: argparse.Namespace, tracking_uri: str, register: bool = True, nested: bool = False) -> dict:
    """Trains one model with `args`, logs the run and the ONNX model; registers it and moves the alias if `register`.
    Returns the run ID, model ID, registered version (or None), test accuracy and F1."""
    warnings.filterwarnings("ignore")
    import mlflow
    import torch
    import torch.nn.functional as F
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.RandomState(args.seed)
    t0 = time.time()
    if args.dataset == "cifar10":
        if not args.data_dir:
            raise SystemExit("--dataset cifar10 needs --data-dir (a directory of CIFAR-10 python batches)")
        train_x, train_y, test_x, test_y, classes = load_cifar10(args.data_dir)
    else:
        train_x, train_y, test_x, test_y, classes = load_fashion_mnist(args.data_dir)
    epochs = args.epochs
    if args.quick:
        tr, te = rng.permutation(len(train_x))[:2000], rng.permutation(len(test_x))[:1000]
        train_x, train_y, test_x, test_y, epochs = train_x[tr], train_y[tr], test_x[te], test_y[te], 1
    scaled = train_x.reshape(-1, 3).astype(np.float64) / 255.0
    mean = [round(float(v), 4) for v in scaled.mean(0)]
    std = [round(float(v), 4) for v in scaled.std(0)]
    del scaled
    print(f"data: {args.dataset}, train {train_x.shape}, test {test_x.shape} ({time.time() - t0:.1f}s); mean {mean}, std {std}", flush=True)

    mean_t, std_t = torch.tensor(mean), torch.tensor(std)
    train_t, test_t = torch.from_numpy(train_x), torch.from_numpy(test_x)
    train_yt, test_yt = torch.from_numpy(train_y), torch.from_numpy(test_y)
    model = common.build_model()
    steps = (len(train_x) + args.batch_size - 1) // args.batch_size
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=epochs * steps, pct_start=0.2)
    gen = torch.Generator().manual_seed(args.seed)

    def evaluate():
        model.eval()
        with torch.no_grad():
            logits = torch.cat([model(normalise(torch, test_t[i : i + 500], mean_t, std_t)) for i in range(0, len(test_t), 500)])
        return logits, F.cross_entropy(logits, test_yt).item(), logits.argmax(1).numpy()

    mlflow.set_tracking_uri(tracking_uri)
    if not nested:
        mlflow.set_experiment(args.experiment)
    with mlflow.start_run(nested=nested, run_name=f"lr={args.lr:g} batch={args.batch_size}" if nested else None) as run:
        params = {
            "learning_rate": args.lr,
            "batch_size": args.batch_size,
            "model_name": "fashion_cnn" if args.dataset == "fashion-mnist" else "cifar_cnn",
            "epochs": epochs,
            "dataset": args.dataset,
            "optimizer": "Adam",
            "seed": args.seed,
            "train_images": len(train_x),
            "quick": args.quick,
        }
        mlflow.log_params(params)
        for epoch in range(1, epochs + 1):
            model.train()
            e0 = time.time()
            order = torch.from_numpy(rng.permutation(len(train_x)))
            loss_sum = 0.0
            for i in range(0, len(order), args.batch_size):
                idx = order[i : i + args.batch_size]
                loss = F.cross_entropy(model(normalise(torch, augment(torch, train_t[idx], gen), mean_t, std_t)), train_yt[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                loss_sum += loss.item() * len(idx)
            _, test_loss, pred = evaluate()
            acc = float((pred == test_y).mean())
            mlflow.log_metrics({"train_loss": loss_sum / len(order), "test_loss": test_loss, "epoch_test_accuracy": acc}, step=epoch)
            print(f"epoch {epoch}/{epochs}: train loss {loss_sum / len(order):.4f}, test loss {test_loss:.4f}, test accuracy {acc:.4f} ({time.time() - e0:.0f}s)", flush=True)

        logits, test_loss, pred = evaluate()
        accuracy = float((pred == test_y).mean())
        f1 = macro_f1(test_y, pred, len(classes))

        model.eval()
        if args.flavor == "pytorch":
            # The reference's own logging: the PyTorch model alone (positional artifact path: MLflow 2.x's client).
            mlflow.log_metrics({"test_accuracy": accuracy, "test_f1": f1})
            info = mlflow.pytorch.log_model(model, "model", registered_model_name=args.model_name if register else None)
            version = str(info.registered_model_version) if register else None
            if register:
                mlflow.MlflowClient().set_registered_model_alias(args.model_name, args.alias, version)
            return {"run_id": run.info.run_id, "model_id": getattr(info, "model_id", None), "version": version, "accuracy": accuracy, "f1": f1,
                    "diff": None, "test_images": len(test_x), "mean": mean, "std": std, "classes": classes}
        import onnx
        import onnxruntime as ort

        # ONNX: one file, dynamic batch axis; checked against PyTorch with ONNX Runtime before it is logged.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.onnx")
            torch.onnx.export(model, torch.zeros(1, 3, 32, 32), path, input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13, do_constant_folding=True)
            onnx_model = onnx.load(path)
        onnx.checker.check_model(onnx_model)
        session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
        sample = normalise(torch, test_t[:64], mean_t, std_t)
        onnx_logits = session.run(["logits"], {"input": sample.numpy()})[0]
        diff = float(np.abs(onnx_logits - logits[:64].numpy()).max())
        if diff > 1e-3:
            raise SystemExit(f"the ONNX export disagrees with PyTorch (max |diff| {diff})")
        mlflow.log_metrics({"test_accuracy": accuracy, "test_f1": f1, "onnx_max_abs_diff": diff})

        metadata = {
            "classes": classes,
            "output_kind": "logits",
            "preprocessing": {"input_size": [32, 32], "channels": 3, "layout": "NCHW", "scale": 255, "mean": mean, "std": std, "resize": "bilinear"},
        }
        signature = ModelSignature(
            inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, 3, 32, 32), "input")]),
            outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, len(classes)), "logits")]),
        )
        info = mlflow.onnx.log_model(
            onnx_model,
            name="model",
            signature=signature,
            input_example=sample[:1].numpy(),
            metadata=metadata,
            registered_model_name=args.model_name if register else None,
            save_as_external_data=False,
        )
        version = None
        if register:
            version = str(info.registered_model_version)
            mlflow.MlflowClient().set_registered_model_alias(args.model_name, args.alias, version)
    return {"run_id": run.info.run_id, "model_id": info.model_id, "version": version, "accuracy": accuracy, "f1": f1,
            "diff": diff, "test_images": len(test_x), "mean": mean, "std": std, "classes": classes}


if __name__ == "__main__":
    main()
