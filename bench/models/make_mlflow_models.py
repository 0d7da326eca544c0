"""Writes the models `bench/mlflow-serve.mjs` serves with both `mlflow models serve` and `bento serve`, as local
MLflow model directories, and one /invocations body for each:

- sklearn/: the tests' scikit-learn pipeline on scikit-learn's wine data (a scaler on 13 numeric columns, a one-hot
  encoder on a text column, logistic regression), logged as mlflow.sklearn does (MLflow 3, .venv), with an input
  example;
  sklearn.json: one row as dataframe_split.
- pytorch/: the seed's CNN (services/vision-classifier/training/common.py, 3x32x32 in, 10 classes out), seeded
  weights, as mlflow.pytorch does (MLflow 2.x, .venv-mlflow2: MLflow 3's pytorch flavor needs torch 2), with an
  input example; pytorch.json: one image as {"inputs": ...}.

    .venv/bin/python bench/models/make_mlflow_models.py sklearn <dir>
    .venv-mlflow2/bin/python bench/models/make_mlflow_models.py pytorch <dir>
"""

import json
import os
import shutil
import sys
import warnings

warnings.filterwarnings("ignore")
import mlflow  # noqa: E402
import numpy as np  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def sklearn_model(out: str) -> None:
    # The pipeline the tests serve (plugins/mlflow/test/fixtures/log_flavors.py).
    sys.path.insert(0, os.path.join(ROOT, "plugins", "mlflow", "test", "fixtures"))
    from log_flavors import wine_pipeline

    pipe, wine = wine_pipeline()
    path = os.path.join(out, "sklearn")
    shutil.rmtree(path, ignore_errors=True)
    mlflow.sklearn.save_model(pipe, path, input_example=wine.head(3), serialization_format="cloudpickle")
    row = wine.iloc[[7]]
    with open(os.path.join(out, "sklearn.json"), "w") as f:
        json.dump({"dataframe_split": {"columns": list(row.columns), "data": row.values.tolist()}}, f)


def pytorch_model(out: str) -> None:
    import torch

    sys.path.insert(0, os.path.join(ROOT, "services", "vision-classifier", "training"))
    import common

    torch.manual_seed(0)
    model = common.build_model().eval()
    example = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    path = os.path.join(out, "pytorch")
    shutil.rmtree(path, ignore_errors=True)
    mlflow.pytorch.save_model(model, path, input_example=example)
    with open(os.path.join(out, "pytorch.json"), "w") as f:
        json.dump({"inputs": example[:1].tolist()}, f)


if __name__ == "__main__":
    {"sklearn": sklearn_model, "pytorch": pytorch_model}[sys.argv[1]](sys.argv[2])
