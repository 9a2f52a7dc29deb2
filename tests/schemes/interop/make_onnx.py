#!/usr/bin/python3
"""Builds the tiny ONNX models the ecosystem-scheme interop tests run with
onnxruntime-node: a MatMulNBits node, or QuantizeLinear/DequantizeLinear
nodes, whose initializers are raw files written by the C++ test.

Usage: make_onnx.py SPEC.json OUT.onnx   (python3-onnx 1.12 is enough: the IR
version, opsets and element types are set by hand where 1.12 predates them)."""
import json
import sys

import onnx
from onnx import TensorProto, helper


def raw_tensor(name, data_type, dims, path):
    t = TensorProto()
    t.name = name
    t.data_type = data_type  # an int32 field: newer types (INT4 = 22) are fine
    t.dims.extend(dims)
    with open(path, "rb") as f:
        t.raw_data = f.read()
    return t


def value_info(name, elem_type, shape):
    return helper.make_tensor_value_info(name, elem_type, shape)


def matmulnbits(spec):
    elem = TensorProto.FLOAT16 if spec["dtype"] == "float16" else TensorProto.FLOAT
    k, n, bits, block = spec["K"], spec["N"], spec["bits"], spec["block_size"]
    n_blocks = (k + block - 1) // block
    inits = [
        raw_tensor("B", TensorProto.UINT8, [n, n_blocks, block * bits // 8], spec["B"]),
        raw_tensor("scales", elem, [n, n_blocks] if spec.get("scales_2d") else [n * n_blocks],
                   spec["scales"]),
    ]
    inputs = ["A", "B", "scales"]
    if spec.get("zero_points"):
        zp_row = (n_blocks * bits + 7) // 8
        inits.append(raw_tensor("zp", TensorProto.UINT8, [n * zp_row], spec["zero_points"]))
        inputs.append("zp")
    node = helper.make_node("MatMulNBits", inputs, ["Y"], domain="com.microsoft", K=k, N=n,
                            bits=bits, block_size=block)
    graph = helper.make_graph([node], "mnb", [value_info("A", elem, ["M", k])],
                              [value_info("Y", elem, ["M", n])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return model


def qdq(spec):
    """x -> QuantizeLinear -> DequantizeLinear -> y, or a DequantizeLinear of
    a stored quantized initializer (mode 'dq')."""
    shape, qtype = spec["shape"], spec["qtype"]
    attrs = {"axis": spec.get("axis", 1)}
    if spec.get("block_size"):
        attrs["block_size"] = spec["block_size"]
    inits = [raw_tensor("scale", TensorProto.FLOAT, spec["scale_shape"], spec["scale"])]
    q_inputs = ["x", "scale"]
    dq_inputs = ["q", "scale"]
    if spec.get("zero_point"):
        inits.append(raw_tensor("zp", qtype, spec["scale_shape"], spec["zero_point"]))
        q_inputs.append("zp")
        dq_inputs.append("zp")
    nodes = []
    graph_inputs = []
    if spec["mode"] == "dq":
        inits.append(raw_tensor("q", qtype, shape, spec["q"]))
    else:
        q_attrs = dict(attrs)
        if "saturate" in spec:
            q_attrs["saturate"] = spec["saturate"]
        nodes.append(helper.make_node("QuantizeLinear", q_inputs, ["q"], **q_attrs))
        graph_inputs.append(value_info("x", TensorProto.FLOAT, shape))
    nodes.append(helper.make_node("DequantizeLinear", dq_inputs, ["y"], **attrs))
    graph = helper.make_graph(nodes, "qdq", graph_inputs, [value_info("y", TensorProto.FLOAT, shape)],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", spec["opset"])])
    model.ir_version = spec["ir"]
    return model


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    model = matmulnbits(spec) if spec["mode"] == "matmulnbits" else qdq(spec)
    onnx.save(model, sys.argv[2])


if __name__ == "__main__":
    main()
