"""MLflow's sklearn flavor to ONNX with skl2onnx: pipelines (scalers, encoders, column transformers), classifiers
answering labels and probabilities, regressors.

The model is loaded as mlflow.sklearn loads it (cloudpickle, pickle, or skops with the types the MLmodel trusts).
Numeric tables become one double matrix input, so the converted model computes in the same precision as
scikit-learn; a table with text or integer columns (or a column transformer that picks columns by name) becomes one
input per column. The original's answers are `predict` (labels or values) and, for classifiers, `predict_proba`.
"""

from __future__ import annotations

import os
import pickle
import sys

from .common import ConversionError, library_versions, load_example, progress, require

DEFAULT_SAMPLES = 16
# MLflow column types → numpy dtypes.
COLUMN_DTYPES = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32", "boolean": "bool", "string": "object"}
MLFLOW_TYPES = {v: k for k, v in COLUMN_DTYPES.items()}
# What MLflow's pyfunc predict_fn may name, and which ONNX output answers it.
PREDICT_OUTPUTS = {"predict": None, "predict_proba": "probabilities"}


def load_model(model_dir: str, conf: dict):
    code = conf.get("code")
    if code:
        sys.path.insert(0, os.path.join(model_dir, code))
    path = os.path.join(model_dir, conf.get("pickled_model") or "model.pkl")
    fmt = conf.get("serialization_format") or "cloudpickle"
    try:
        if fmt == "skops":
            require("skops")
            import skops.io

            trusted = list(conf.get("skops_trusted_types") or [])
            untrusted = [t for t in skops.io.get_untrusted_types(file=path) if t not in trusted]
            if untrusted:
                raise ConversionError(
                    "MODEL_UNTRUSTED_TYPES",
                    f"{os.path.relpath(path, model_dir)} holds types its MLmodel does not trust ({', '.join(untrusted)}); MLflow refuses to load it too. "
                    "Log it with skops_trusted_types=[...] naming them",
                )
            return skops.io.load(path, trusted=trusted)
        with open(path, "rb") as f:
            if fmt == "cloudpickle":
                require("cloudpickle")
                import cloudpickle

                return cloudpickle.load(f)
            if fmt == "pickle":
                return pickle.load(f)
    except (ModuleNotFoundError, AttributeError) as err:
        raise ConversionError(
            "MODEL_UNPICKLE_FAILED",
            f"{os.path.relpath(path, model_dir)} cannot be unpickled: {err}. Every class it holds must be importable: log the model with code_paths=[...], "
            "or install the package that defines it in the conversion Python (BENTO_CONVERT_PYTHON)",
        ) from err
    raise ConversionError("MODEL_FORMAT_ERROR", f"the sklearn flavor's serialization_format {fmt!r} is not one of cloudpickle, pickle, skops")


def columns_of(request: dict, model, example):
    """[(name, numpy dtype)] of the table the model takes: the signature's columns, the example's, or the model's own."""
    import numpy as np

    if request.get("columns"):
        return [(c["name"], COLUMN_DTYPES.get(c["type"], "float64")) for c in request["columns"]], True
    specs = request.get("inputs") or []
    if len(specs) == 1 and len(specs[0]["shape"]) == 2 and isinstance(specs[0]["shape"][1], int) and specs[0]["shape"][1] > 0:
        # A tensor signature [-1, F]: a model trained on an array, its columns unnamed.
        return [(str(i), np.dtype(specs[0]["dtype"]).name) for i in range(specs[0]["shape"][1])], False
    if example is not None and hasattr(example, "columns"):
        return [(str(c), example[c].dtype.name) for c in example.columns], True
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [(str(n), "float64") for n in names], True
    count = getattr(model, "n_features_in_", None)
    if count:
        return [(str(i), "float64") for i in range(int(count))], False
    raise ConversionError(
        "INPUT_SHAPE_UNKNOWN",
        "the model's input columns are unknown: its MLmodel has no signature, it was logged without an input example, "
        "and no MODEL_INPUT_SHAPE was given (the environment, .env or -e, or the env of bento.yaml or of a config file, -c)",
    )


def sample_table(request: dict, columns, named: bool, example):
    """The input example's rows, then seeded random rows (numbers near the example's, categories drawn from it)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(int(request.get("seed") or 0))
    count = int(request.get("samples") or DEFAULT_SAMPLES)
    names = [name for name, _ in columns]
    rows = []
    if example is not None:
        table = example if hasattr(example, "columns") else pd.DataFrame(np.asarray(example), columns=names)
        table = table.copy()
        table.columns = [str(c) for c in table.columns]
        rows.append(table[names])
    have = sum(len(r) for r in rows)
    if have < count:
        generated = {}
        for name, dtype in columns:
            seen = rows[0][name] if rows else None
            if dtype == "object":
                if seen is None:
                    raise ConversionError("INPUT_EXAMPLE_NEEDED", f"column {name!r} holds text: log the model with an input example, whose values the parity check draws on")
                generated[name] = rng.choice(seen.astype(str).to_numpy(), count - have)
            elif dtype == "bool":
                generated[name] = rng.integers(0, 2, count - have).astype(bool)
            else:
                centre = float(seen.mean()) if seen is not None else 0.0
                spread = float(seen.std()) if seen is not None and len(seen) > 1 and seen.std() > 0 else max(1.0, abs(centre) * 0.1)
                values = rng.normal(centre, spread, count - have)
                generated[name] = np.round(values).astype(dtype) if np.dtype(dtype).kind in "iu" else values.astype(dtype)
        rows.append(pd.DataFrame(generated, columns=names))
    table = pd.concat(rows, ignore_index=True)
    for name, dtype in columns:
        table[name] = table[name].astype(dtype)
    if not named:
        return table.to_numpy(dtype=np.dtype(columns[0][1]))
    return table


def _classifiers(model):
    from sklearn.base import is_classifier

    found = [model] if is_classifier(model) else []
    for step in getattr(model, "steps", []):
        found += _classifiers(step[1])
    return found


def _to_onnx(model, initial_types, opset: int):
    from skl2onnx import convert_sklearn

    options = {id(c): {"zipmap": False} for c in _classifiers(model)}
    target = {"": opset, "ai.onnx.ml": 3}
    return convert_sklearn(model, initial_types=initial_types, options=options, target_opset=target)


def convert(request: dict, writer) -> dict:
    require("sklearn", "skl2onnx", "onnx", "numpy", "pandas")
    import numpy as np
    from skl2onnx.common.data_types import BooleanTensorType, DoubleTensorType, FloatTensorType, Int32TensorType, Int64TensorType, StringTensorType

    mlmodel = request["mlmodel"]
    conf = mlmodel["flavors"]["sklearn"]
    predict_fn = (mlmodel["flavors"].get("python_function") or {}).get("predict_fn") or "predict"
    if predict_fn not in PREDICT_OUTPUTS:
        raise ConversionError("MODEL_FORMAT_ERROR", f"the model answers with {predict_fn} (pyfunc_predict_fn); bento-ts serves predict and predict_proba")
    progress("loading the scikit-learn model")
    model = load_model(request["model_dir"], conf)
    example = load_example(request)
    columns, named = columns_of(request, model, example)
    table = sample_table(request, columns, named, example)
    progress(f"running the original model on {len(table)} rows")
    labels = np.asarray(model.predict(table))
    proba = np.asarray(model.predict_proba(table)) if hasattr(model, "predict_proba") and _classifiers(model) else None
    if predict_fn == "predict_proba" and proba is None:
        raise ConversionError("MODEL_FORMAT_ERROR", "the model is logged to answer predict_proba, which it does not have")

    numeric = all(np.dtype(d).kind == "f" for _, d in columns)
    kinds = {"float64": DoubleTensorType, "float32": FloatTensorType, "int64": Int64TensorType, "int32": Int32TensorType, "bool": BooleanTensorType, "object": StringTensorType}
    attempts = []
    if numeric:
        attempts += [("matrix", [("input", DoubleTensorType([None, len(columns)]))]), ("matrix", [("input", FloatTensorType([None, len(columns)]))])]
    attempts.append(("columns", [(name, kinds[dtype]([None, 1])) for name, dtype in columns]))
    opset = int(request.get("opset") or 17)
    onx, mode, errors = None, None, []
    progress(f"converting with skl2onnx (opset {opset})")
    for mode, initial in attempts:
        try:
            onx = _to_onnx(model, initial, opset)
            break
        except Exception as err:  # noqa: BLE001 - try the next input layout; report them all if none converts
            errors.append(f"{mode} {initial[0][1].__class__.__name__}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
            onx = None
    if onx is None:
        unsupported = any("Unable to find a shape calculator" in e or "not supported" in e or "Unable to find" in e for e in errors)
        raise ConversionError("ONNX_UNSUPPORTED_OPERATOR" if unsupported else "CONVERSION_FAILED", "skl2onnx cannot convert the model: " + "; ".join(errors))
    path = os.path.join(request["out_dir"], "model.onnx")
    with open(path, "wb") as f:
        f.write(onx.SerializeToString())

    frame = table if named else None
    if mode == "matrix":
        matrix = (frame.to_numpy() if frame is not None else table).astype(np.float64 if onx.graph.input[0].type.tensor_type.elem_type == 11 else np.float32)
        ref_inputs = [writer.write("input", matrix)]
        inputs = [{"name": "input", "dtype": matrix.dtype.name, "shape": [-1, len(columns)]}]
    else:
        ref_inputs, inputs = [], []
        # skl2onnx keeps the inputs in the order given, but renames what ONNX names cannot hold ("a/b" → "a_b").
        for i, ((name, dtype), graph_input) in enumerate(zip(columns, onx.graph.input)):
            values = frame[name] if frame is not None else table[:, i]
            column = np.asarray(values).reshape(-1, 1)
            if dtype == "object":
                column = column.astype(str)
            ref_inputs.append(writer.write(graph_input.name, column))
            inputs.append({"name": graph_input.name, "column": name, "dtype": "string" if dtype == "object" else dtype, "shape": [-1, 1]})
    output_names = [o.name for o in onx.graph.output]
    ref_outputs = []
    if "label" in output_names:
        ref_outputs.append(writer.write("label", labels.reshape(-1)))
        if proba is not None and "probabilities" in output_names:
            ref_outputs.append(writer.write("probabilities", proba))
        predict_output = PREDICT_OUTPUTS[predict_fn] or "label"
    else:
        values = labels.reshape(len(table), -1)
        ref_outputs.append(writer.write(output_names[0], values))
        predict_output = output_names[0]
    return {
        "format": "onnx",
        "file": "model.onnx",
        "opset": opset,
        "libraries": library_versions("scikit-learn", "skl2onnx", "onnx", "numpy", "pandas"),
        "inputs": inputs,
        "reference": {"inputs": ref_inputs, "outputs": ref_outputs},
        "serving": {
            "flavor": "sklearn",
            "predict_fn": predict_fn,
            "predict_output": predict_output,
            "input_mode": mode,
            "columns": [
                {"name": name, "type": MLFLOW_TYPES.get(dtype, "double"), **({"input": graph_input.name} if mode == "columns" else {})}
                for (name, dtype), graph_input in zip(columns, list(onx.graph.input) if mode == "columns" else [None] * len(columns))
            ],
            "classes": [c.item() if hasattr(c, "item") else c for c in getattr(model, "classes_", [])] or None,
        },
    }
