"""MLflow's pytorch flavor to ONNX: torch.onnx.export with a dynamic batch axis.

The model is loaded as mlflow.pytorch.load_model loads it (the pickled module with the pickle module it was saved
with, else TorchScript; put in eval mode) but without MLflow, so any torch the model was saved with will do. Its
answers on the samples are what MLflow's pyfunc predict gives: the forward pass under torch.no_grad().
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import zipfile

from .common import ConversionError, library_versions, progress, require, tensor_samples



def _pickle_module(data_dir: str):
    path = os.path.join(data_dir, "pickle_module_info.txt")
    name = open(path, encoding="utf-8").read().strip() if os.path.exists(path) else "pickle"
    try:
        return importlib.import_module(name)
    except ImportError:
        # mlflow.pytorch.pickle_module is cloudpickle under another name; cloudpickle reads what it wrote.
        require("cloudpickle")
        return importlib.import_module("cloudpickle")


def _is_torchscript(path: str) -> bool:
    """A TorchScript archive (what MLflow saves for a ScriptModule) holds constants.pkl; a pickled module does not."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/constants.pkl") for name in archive.namelist())
    except zipfile.BadZipFile:
        return False


def load_model(model_dir: str, conf: dict):
    import torch

    data_dir = os.path.join(model_dir, conf.get("model_data") or "data")
    code = conf.get("code")
    if code:
        sys.path.insert(0, os.path.join(model_dir, code))
    pth = os.path.join(data_dir, "model.pth")
    if not os.path.exists(pth):
        if os.path.exists(os.path.join(data_dir, "model.pt2")):
            if not hasattr(torch, "export"):
                raise ConversionError("CONVERT_PYTHON_MISSING_PACKAGES", f"the model is a torch.export archive (model.pt2): it needs torch 2.4 or later, this Python has torch {torch.__version__}")
            # MLflow 3's default: an ExportedProgram, which only the dynamo exporter takes.
            return torch.export.load(os.path.join(data_dir, "model.pt2"))
        raise ConversionError("MODEL_FORMAT_ERROR", f"{data_dir} has neither model.pth nor model.pt2")
    if _is_torchscript(pth):
        model = torch.jit.load(pth, map_location="cpu")
    else:
        kwargs = {"map_location": "cpu", "pickle_module": _pickle_module(data_dir)}
        if "weights_only" in inspect.signature(torch.load).parameters:
            # torch 2.6 made weights_only=True the default; an MLflow model is a whole pickled module.
            kwargs["weights_only"] = False
        try:
            model = torch.load(pth, **kwargs)
        except (ModuleNotFoundError, AttributeError) as err:
            raise ConversionError(
                "MODEL_UNPICKLE_FAILED",
                f"{os.path.relpath(pth, model_dir)} cannot be unpickled: {err}. Its class must be importable: log it with code_paths=[...] "
                "(MLflow puts that code beside the model), or install the package that defines it in the conversion Python (BENTO_CONVERT_PYTHON)",
            ) from err
    if not isinstance(model, torch.nn.Module):
        raise ConversionError("MODEL_FORMAT_ERROR", f"{pth} holds a {type(model).__name__}, not a torch.nn.Module")
    model.eval()
    return model


def _onnx_name(name, default: str) -> str:
    """The signature's name for a tensor, when it gave one (bento-ts numbers unnamed ones `input-0`)."""
    if not name or re.fullmatch(r"(input|output)-\d+", name):
        return default
    return re.sub(r"[^A-Za-z0-9_.:]", "_", name)


def convert(request: dict, writer) -> dict:
    require("torch", "numpy")
    import torch

    conf = request["mlmodel"]["flavors"]["pytorch"]
    specs = request.get("inputs") or []
    if len(specs) != 1:
        raise ConversionError("MODEL_FORMAT_ERROR", f"MLflow's pytorch flavor serves models of one input tensor; this one declares {len(specs)}")
    spec = specs[0]
    if any(not isinstance(d, int) or d < 1 for d in spec["shape"][1:]):
        raise ConversionError("INPUT_SHAPE_UNKNOWN", f"input \"{spec['name']}\" has free dimensions beyond the batch axis ({spec['shape']}); give its full shape (MODEL_INPUT_SHAPE)")
    progress("loading the PyTorch model")
    loaded = load_model(request["model_dir"], conf)
    program = loaded if hasattr(loaded, "graph_signature") else None
    model = program.module() if program is not None else loaded
    batch = tensor_samples(request, spec)
    progress(f"running the original model on {len(batch)} samples")
    with torch.no_grad():
        expected = model(torch.from_numpy(batch))
    if not isinstance(expected, torch.Tensor):
        raise ConversionError("MODEL_FORMAT_ERROR", f"the model returns a {type(expected).__name__}; MLflow's pytorch flavor serves models that return one tensor")
    out_spec = (request.get("outputs") or [{}])[0]
    in_name = _onnx_name(spec.get("name"), "input")
    out_name = _onnx_name(out_spec.get("name"), "output")
    opset = int(request.get("opset") or 17)
    path = os.path.join(request["out_dir"], "model.onnx")
    if program is not None:
        # The dynamo exporter starts at opset 18; the program's batch axis is as free as its export made it.
        require("onnxscript")
        opset = max(opset, 18)
        target, kwargs = program, {"dynamo": True, "external_data": False}
    else:
        target, kwargs = model, {"dynamic_axes": {in_name: {0: "batch"}, out_name: {0: "batch"}}, "do_constant_folding": True}
        if "dynamo" in inspect.signature(torch.onnx.export).parameters:
            # torch 2.9 made the dynamo exporter the default; the TorchScript one takes every model torch 1.x did.
            kwargs["dynamo"] = False
    progress(f"exporting to ONNX (opset {opset})")
    try:
        torch.onnx.export(target, (torch.from_numpy(batch),), path, input_names=[in_name], output_names=[out_name], opset_version=opset, **kwargs)
    except Exception as err:  # noqa: BLE001 - the exporter's refusal says which operator
        message = f"{type(err).__name__}: {err}".splitlines()[0].split(" Please feel free")[0]
        if type(err).__name__ == "UnsupportedOperatorError" or "Exporting the operator" in message:
            raise ConversionError(
                "ONNX_UNSUPPORTED_OPERATOR",
                f"torch.onnx.export refused the model at opset {opset}: {message} Try another opset (BENTO_CONVERT_OPSET), "
                "or export it yourself (a newer torch, a custom symbolic) and log the ONNX model with mlflow.onnx.log_model: bento-ts serves it as it is",
            ) from err
        raise ConversionError("CONVERSION_FAILED", f"torch.onnx.export failed at opset {opset}: {message}") from err
    out = expected.numpy()
    return {
        "format": "onnx",
        "file": "model.onnx",
        "opset": opset,
        "libraries": library_versions("torch", "torchvision", "numpy", "onnx"),
        "inputs": [{"name": in_name, "dtype": spec["dtype"], "shape": [-1, *spec["shape"][1:]]}],
        "outputs": [{"name": out_name, "dtype": out.dtype.name, "shape": [-1, *out.shape[1:]]}],
        "reference": {"inputs": [writer.write(in_name, batch)], "outputs": [writer.write(out_name, out)]},
        "serving": {"flavor": "pytorch"},
    }
