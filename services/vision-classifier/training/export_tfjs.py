"""Writes the bundled classifier as a TF.js layers model, from the trained weights in model/model.onnx.

    .venv/bin/python services/vision-classifier/training/export_tfjs.py [model/model.onnx] [model-tfjs/]
    (make tfjs-model)

The ONNX graph is a plain chain (Conv with batch norm folded in, Relu, MaxPool, Flatten, Gemm), so each node
becomes one Keras layer of the same architecture. Layouts are converted on the way: the TF.js model takes NHWC
images, its convolution kernels are [kh, kw, in, out] (ONNX: [out, in, kh, kw]), and the dense layer's rows are
reordered because flattening an NHWC map walks (h, w, c) where the ONNX model's NCHW map walks (c, h, w). The
MLmodel file beside it carries the same metadata (classes, preprocessing with layout NHWC, params, metrics) under
a `tfjs` flavor, so bento-ts serves either directory the same way.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import onnx
import yaml
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICE = os.path.dirname(HERE)
SHARD = "group1-shard1of1.bin"


def attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def convert(onnx_path: str) -> tuple[dict, list[dict], bytes]:
    model = onnx.load(onnx_path)
    graph = model.graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    channels, height, width = dims[1], dims[2], dims[3]
    # Named as the ONNX model's input and output, so both backends show the same signature names.
    input_name, output_name = graph.input[0].name, graph.output[0].name
    layers: list[dict] = [{"class_name": "InputLayer", "config": {"name": input_name, "batch_input_shape": [None, height, width, channels], "dtype": "float32", "sparse": False}}]
    specs: list[dict] = []
    blobs: list[bytes] = []
    shape = (channels, height, width)  # the NCHW map after each node, without the batch axis
    flattened_from: tuple[int, int, int] | None = None

    def add_weight(name: str, value: np.ndarray) -> None:
        value = np.ascontiguousarray(value, dtype=np.float32)
        specs.append({"name": name, "shape": list(value.shape), "dtype": "float32"})
        blobs.append(value.tobytes())

    for node in graph.node:
        a = attrs(node)
        index = len(layers) + 1
        if node.op_type == "Conv":
            if a.get("group", 1) != 1 or a.get("dilations", [1, 1]) != [1, 1]:
                raise SystemExit(f"{node.name}: grouped or dilated convolutions are not converted")
            kernel = weights[node.input[1]]  # [out, in, kh, kw]
            kh, kw = a["kernel_shape"]
            pads, strides = a.get("pads", [0, 0, 0, 0]), a.get("strides", [1, 1])
            same = strides == [1, 1] and pads == [kh // 2, kw // 2, kh // 2, kw // 2]
            if not same and any(pads):
                raise SystemExit(f"{node.name}: padding {pads} has no Keras equivalent here")
            name = f"conv{index}"
            config = {
                "name": name,
                "filters": int(kernel.shape[0]),
                "kernel_size": [kh, kw],
                "strides": strides,
                "padding": "same" if same else "valid",
                "data_format": "channels_last",
                "dilation_rate": [1, 1],
                "activation": "linear",
                "use_bias": len(node.input) > 2,
                "dtype": "float32",
            }
            layers.append({"class_name": "Conv2D", "config": config})
            add_weight(f"{name}/kernel", kernel.transpose(2, 3, 1, 0))
            if len(node.input) > 2:
                add_weight(f"{name}/bias", weights[node.input[2]])
            out_h = shape[1] if same else (shape[1] - kh) // strides[0] + 1
            out_w = shape[2] if same else (shape[2] - kw) // strides[1] + 1
            shape = (int(kernel.shape[0]), out_h, out_w)
        elif node.op_type == "Relu":
            last = layers[-1]["config"]
            if last.get("activation") != "linear":
                raise SystemExit(f"{node.name}: a Relu that does not follow a linear layer is not converted")
            last["activation"] = "relu"
        elif node.op_type == "MaxPool":
            if any(a.get("pads", [0, 0, 0, 0])) or a.get("ceil_mode", 0):
                raise SystemExit(f"{node.name}: padded or ceil-mode pooling is not converted")
            ph, pw = a["kernel_shape"]
            strides = a.get("strides", [ph, pw])
            layers.append({"class_name": "MaxPooling2D", "config": {"name": f"pool{index}", "pool_size": [ph, pw], "strides": strides, "padding": "valid", "data_format": "channels_last", "dtype": "float32"}})
            shape = (shape[0], (shape[1] - ph) // strides[0] + 1, (shape[2] - pw) // strides[1] + 1)
        elif node.op_type == "Flatten":
            layers.append({"class_name": "Flatten", "config": {"name": f"flatten{index}", "data_format": "channels_last", "dtype": "float32"}})
            flattened_from = shape
        elif node.op_type == "Gemm":
            if a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
                raise SystemExit(f"{node.name}: scaled Gemm is not converted")
            w = weights[node.input[1]]
            w = w if a.get("transB", 0) else w.T  # now [out, in]
            if flattened_from is not None:
                c, h, wd = flattened_from
                # Row (c, h, w) of the NCHW flattening becomes row (h, w, c) of the NHWC one.
                w = w.reshape(w.shape[0], c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
                flattened_from = None
            name = output_name if node.output[0] == output_name else f"dense{index}"
            layers.append({"class_name": "Dense", "config": {"name": name, "units": int(w.shape[0]), "activation": "linear", "use_bias": len(node.input) > 2, "dtype": "float32"}})
            add_weight(f"{name}/kernel", w.T)
            if len(node.input) > 2:
                add_weight(f"{name}/bias", weights[node.input[2]])
        else:
            raise SystemExit(f"ONNX op {node.op_type} ({node.name}) is not converted")

    topology = {
        "class_name": "Sequential",
        "config": {"name": "fashion_cnn", "layers": layers},
        "keras_version": "tfjs-layers 4.22.0",
        "backend": "tensor_flow.js",
    }
    return topology, specs, b"".join(blobs)


def main() -> None:
    onnx_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SERVICE, "model", "model.onnx")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(SERVICE, "model-tfjs")
    os.makedirs(out, exist_ok=True)
    topology, specs, data = convert(onnx_path)
    model_json = {
        "format": "layers-model",
        "generatedBy": "bento-ts services/vision-classifier/training/export_tfjs.py",
        "convertedBy": None,
        "modelTopology": topology,
        "weightsManifest": [{"paths": [SHARD], "weights": specs}],
    }
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(model_json, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, SHARD), "wb") as f:
        f.write(data)

    # The same metadata as the ONNX model's MLmodel, for a TF.js model taking NHWC images.
    source = yaml.safe_load(open(os.path.join(os.path.dirname(onnx_path), "MLmodel")))
    metadata = source.get("metadata", {})
    metadata["preprocessing"] = {**metadata.get("preprocessing", {}), "layout": "NHWC"}
    size = metadata["preprocessing"].get("input_size", [32, 32])
    channels = metadata["preprocessing"].get("channels", 3)
    signature_in = [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, size[0], size[1], channels]}, "name": "input"}]
    mlmodel = {
        "artifact_path": "model",
        "flavors": {"tfjs": {"data": "model.json", "format": "layers-model", "converted_from": "model.onnx"}},
        "metadata": metadata,
        "signature": {"inputs": json.dumps(signature_in), "outputs": source.get("signature", {}).get("outputs")},
    }
    with open(os.path.join(out, "MLmodel"), "w") as f:
        yaml.safe_dump(mlmodel, f, sort_keys=False)
    labels = os.path.join(os.path.dirname(onnx_path), "labels.txt")
    if os.path.exists(labels):
        with open(labels) as src, open(os.path.join(out, "labels.txt"), "w") as dst:
            dst.write(src.read())
    print(f"wrote {out}: {len(topology['config']['layers'])} layers, {len(data)} bytes of weights")


if __name__ == "__main__":
    main()
