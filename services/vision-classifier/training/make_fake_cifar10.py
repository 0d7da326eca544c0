#!/usr/bin/env python3
"""Writes a CIFAR-10 directory in the dataset's own format (python pickles:
data_batch_1..5, test_batch, batches.meta) filled with random images, to test the
`--dataset cifar10` path of train_mlflow.py where the real dataset cannot be
downloaded. Each class gets its own mean colour, so a model can learn something.

    python3 make_fake_cifar10.py DIR [--per-batch N]
"""

import argparse
import os
import pickle

import numpy as np

from train_mlflow import CIFAR10_CLASSES


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--per-batch", type=int, default=200)
    args = p.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    rng = np.random.RandomState(0)
    colours = rng.randint(0, 256, size=(10, 3))

    def batch(n):
        labels = rng.randint(0, 10, size=n)
        images = np.clip(colours[labels][:, :, None, None] + rng.normal(0, 40, size=(n, 3, 32, 32)), 0, 255).astype(np.uint8)
        return {b"data": images.reshape(n, 3072), b"labels": labels.tolist()}

    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(os.path.join(args.dir, name), "wb") as f:
            pickle.dump(batch(args.per_batch), f)
    with open(os.path.join(args.dir, "batches.meta"), "wb") as f:
        pickle.dump({b"label_names": [c.encode() for c in CIFAR10_CLASSES], b"num_cases_per_batch": args.per_batch}, f)
    print(f"fake CIFAR-10 in {args.dir}: 5 x {args.per_batch} training and {args.per_batch} test images")


if __name__ == "__main__":
    main()
