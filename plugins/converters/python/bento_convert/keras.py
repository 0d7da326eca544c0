"""MLflow's keras flavor (mlflow.keras) and tensorflow flavor's Keras models (mlflow.tensorflow) to ONNX with tf2onnx.

The model is loaded as MLflow loads it: `data/model.keras` (or `.h5`) with the Keras module MLflow recorded
(data/keras_module.txt: keras, tensorflow.keras or tf_keras) and its custom objects, or an exported SavedModel
(`data/model/`). It is traced as `model(x, training=False)` with a free batch axis; its answers on the samples are
that same call, which is what MLflow's pyfunc predict computes.
"""

from __future__ import annotations

import importlib
import os
import re

from .common import ConversionError, library_versions, progress, require, tensor_samples



def _keras_module(data_dir: str):
    path = os.path.join(data_dir, "keras_module.txt")
    name = open(path, encoding="utf-8").read().strip() if os.path.exists(path) else "keras"
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise ConversionError("CONVERT_PYTHON_MISSING_PACKAGES", f"the model was saved with {name}, which this Python cannot import ({err})") from err


def load_model(model_dir: str, conf: dict):
    """A callable Keras model, or a SavedModel's serving function."""
    data_dir = os.path.join(model_dir, conf.get("data") or "data")
    for name in ("model.keras", "model.h5"):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            keras = _keras_module(data_dir)
            custom = {}
            objects = os.path.join(data_dir, "global_custom_objects.cloudpickle")
            if os.path.exists(objects):
                require("cloudpickle")
                import cloudpickle

                with open(objects, "rb") as f:
                    custom = cloudpickle.load(f)
            try:
                return keras.models.load_model(path, custom_objects=custom, compile=False), False
            except (ModuleNotFoundError, AttributeError, TypeError) as err:
                raise ConversionError("MODEL_UNPICKLE_FAILED", f"{os.path.relpath(path, model_dir)} cannot be loaded: {err}. Its custom layers must be importable where it is converted") from err
    saved = os.path.join(data_dir, "model")
    if os.path.exists(os.path.join(saved, "saved_model.pb")):
        import tensorflow as tf

        loaded = tf.saved_model.load(saved)
        serving = loaded.signatures.get("serving_default")
        if serving is None:
            raise ConversionError("MODEL_FORMAT_ERROR", f"{os.path.relpath(saved, model_dir)} has no serving_default signature")
        return serving, True
    raise ConversionError("MODEL_FORMAT_ERROR", f"{data_dir} holds no model.keras, model.h5 or SavedModel")


def _rename_output(onnx_model, old: str, new: str) -> None:
    for node in onnx_model.graph.node:
        node.output[:] = [new if o == old else o for o in node.output]
        node.input[:] = [new if i == old else i for i in node.input]
    for output in onnx_model.graph.output:
        if output.name == old:
            output.name = new


def convert(request: dict, writer) -> dict:
    require("tensorflow", "tf2onnx", "onnx", "numpy")
    import numpy as np
    import onnx
    import tensorflow as tf
    import tf2onnx

    flavors = request["mlmodel"]["flavors"]
    conf = flavors.get(request["flavor"]) or {}
    specs = request.get("inputs") or []
    if len(specs) != 1:
        raise ConversionError("MODEL_FORMAT_ERROR", f"bento-ts converts Keras models of one input tensor; this one declares {len(specs)}")
    spec = specs[0]
    if any(not isinstance(d, int) or d < 1 for d in spec["shape"][1:]):
        raise ConversionError("INPUT_SHAPE_UNKNOWN", f"input has free dimensions beyond the batch axis ({spec['shape']}); give its full shape (MODEL_INPUT_SHAPE)")
    progress("loading the Keras model")
    model, is_signature = load_model(request["model_dir"], conf)
    batch = tensor_samples(request, spec)
    in_name = spec.get("name") if spec.get("name") and not re.fullmatch(r"input-\d+", spec["name"]) else "input"
    in_name = re.sub(r"[^A-Za-z0-9_]", "_", in_name)
    signature = [tf.TensorSpec([None, *spec["shape"][1:]], tf.as_dtype(spec["dtype"]), name=in_name)]
    if is_signature:
        key = next(iter(model.structured_input_signature[1]))
        call = lambda x: next(iter(model(**{key: x}).values()))  # noqa: E731
    else:
        call = lambda x: model(x, training=False)  # noqa: E731
    progress(f"running the original model on {len(batch)} samples")
    expected = call(tf.constant(batch))
    if isinstance(expected, (list, tuple, dict)):
        raise ConversionError("MODEL_FORMAT_ERROR", "the model returns several tensors; bento-ts converts Keras models of one output")
    expected = np.asarray(expected)
    opset = int(request.get("opset") or 17)
    progress(f"converting with tf2onnx (opset {opset})")
    try:
        onnx_model, _ = tf2onnx.convert.from_function(tf.function(call, input_signature=signature), input_signature=signature, opset=opset)
    except Exception as err:  # noqa: BLE001 - tf2onnx names the op it has no handler for
        message = f"{type(err).__name__}: {err}".splitlines()[0]
        code = "ONNX_UNSUPPORTED_OPERATOR" if "not supported" in message or "Unsupported" in message else "CONVERSION_FAILED"
        raise ConversionError(code, f"tf2onnx refused the model at opset {opset}: {message}") from err
    _rename_output(onnx_model, onnx_model.graph.output[0].name, "output")
    onnx.save(onnx_model, os.path.join(request["out_dir"], "model.onnx"))
    return {
        "format": "onnx",
        "file": "model.onnx",
        "opset": opset,
        "libraries": library_versions("tensorflow", "tensorflow-cpu", "keras", "tf2onnx", "onnx", "numpy"),
        "reference": {"inputs": [writer.write(in_name, batch)], "outputs": [writer.write("output", expected)]},
        "serving": {"flavor": request["flavor"]},
    }
