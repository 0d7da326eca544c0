"""What every converter shares: the request bento-ts sends, the result it reads back, reference tensors and errors.

bento-ts runs `python -m bento_convert <request.json>`. The request names the model directory, the directory to write
the converted model into (out_dir), a working directory (work_dir), the inputs as bento-ts resolved them (MLflow
signature, input example, or the user's MODEL_INPUT_SHAPE) and how many samples to check parity on. The converter
writes the converted model into out_dir, and into work_dir the original model's answers on those samples (raw
little-endian tensors under reference/, described in result.json); bento-ts then runs the converted model on the
same inputs and compares. Progress goes to stderr as `progress: <step>` lines; a refusal is result.json's `error`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any


class ConversionError(Exception):
    """A refusal bento-ts reports as `<code>: <message>`, one line."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


_started = time.monotonic()


def progress(step: str) -> None:
    print(f"progress: {step} ({time.monotonic() - _started:.1f} s)", file=sys.stderr, flush=True)


def read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def library_versions(*names: str) -> dict[str, str]:
    from importlib import metadata

    out = {"python": ".".join(map(str, sys.version_info[:3]))}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def require(*modules: str) -> None:
    """Imports the modules the conversion needs, naming every one that is missing at once."""
    import importlib

    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as err:
            missing.append(f"{name} ({err})")
    if missing:
        raise ConversionError(
            "CONVERT_PYTHON_MISSING_PACKAGES",
            f"the Python at {sys.executable} cannot import {', '.join(missing)}",
        )


class TensorWriter:
    """Writes named tensors as raw little-endian files in a directory, and describes them for result.json."""

    def __init__(self, directory: str):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.count = 0

    def write(self, name: str, array) -> dict:
        import numpy as np

        array = np.asarray(array)
        self.count += 1
        entry: dict[str, Any] = {"name": name, "shape": [int(d) for d in array.shape]}
        if array.dtype.kind in ("U", "S", "O"):
            # Strings (class labels, categorical columns) travel as a JSON list, flattened row-major.
            entry["dtype"] = "string"
            entry["values"] = [str(v) for v in array.reshape(-1).tolist()]
            return entry
        dtype = "bool" if array.dtype == np.bool_ else array.dtype.name
        file = f"t{self.count}.bin"
        np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tofile(os.path.join(self.directory, file))
        entry.update(dtype=dtype, file=file)
        return entry


def load_example(request: dict):
    """The model's input example (MLflow's input_example.json) as logged: a DataFrame (split orient) or an ndarray."""
    path = request.get("example")
    if not path:
        return None
    data = read_json(path)
    if isinstance(data, dict) and "columns" in data and "data" in data:
        import pandas as pd

        return pd.DataFrame(data["data"], columns=data["columns"])
    if isinstance(data, dict) and "inputs" in data:
        data = data["inputs"]
    if isinstance(data, dict):
        # Named tensors: the only one, when there is one.
        if len(data) != 1:
            return None
        data = next(iter(data.values()))
    import numpy as np

    return np.asarray(data)


def tensor_samples(request: dict, spec: dict, default_count: int = 8):
    """Inputs for the parity check: the input example's rows when they have the input's shape, then seeded random
    ones (normal for floats, small integers otherwise) up to the sample count."""
    import numpy as np

    shape = list(spec["shape"][1:])
    dtype = np.dtype(spec["dtype"])
    count = int(request.get("samples") or default_count)
    parts = []
    example = load_example(request)
    if example is not None and hasattr(example, "shape"):
        example = np.asarray(example, dtype=dtype)
        if list(example.shape[1:]) == shape:
            parts.append(example)
    have = sum(len(p) for p in parts)
    if have < count:
        rng = np.random.default_rng(int(request.get("seed") or 0))
        random = rng.standard_normal((count - have, *shape)) if dtype.kind == "f" else rng.integers(0, 10, (count - have, *shape))
        parts.append(random.astype(dtype))
    return np.concatenate(parts)


def main(converters: dict) -> int:
    if len(sys.argv) != 2:
        print("usage: python -m bento_convert <request.json>", file=sys.stderr)
        return 2
    request = read_json(sys.argv[1])
    work_dir = request["work_dir"]
    os.makedirs(request["out_dir"], exist_ok=True)
    result_path = os.path.join(work_dir, "result.json")
    try:
        convert = converters.get(request["flavor"])
        if convert is None:
            raise ConversionError("CONVERTER_NOT_FOUND", f"no Python converter for the {request['flavor']} flavor")
        result = convert(request, TensorWriter(os.path.join(work_dir, "reference")))
        status = 0
    except ConversionError as err:
        result, status = {"error": {"code": err.code, "message": err.message}}, 3
    except Exception as err:  # noqa: BLE001 - any other failure is reported with its type, and its traceback logged
        import traceback

        traceback.print_exc(file=sys.stderr)
        message = f"{type(err).__name__}: {err}".splitlines()[0]
        result, status = {"error": {"code": "CONVERSION_FAILED", "message": message}}, 3
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f)
    return status
