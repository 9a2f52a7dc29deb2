#!/usr/bin/env python3
"""Writes ONNX models with the reference implementation (python onnx, Debian
python3-onnx 1.12) for edgequant's reader tests: every message and attribute
kind, typed and raw payloads, subgraphs, functions, external data, unknown
fields. Usage: make_models.py OUTDIR   (prints the file names it wrote)"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
written = []


def save(model, name, check=True, **kw):
    if check:
        onnx.checker.check_model(model)
    path = os.path.join(out, name)
    onnx.save(model, path, **kw)
    written.append(name)


def vi(name, dt, shape):
    return helper.make_tensor_value_info(name, dt, shape)


def ramp(n, dtype=np.float32, scale=0.25):
    return ((np.arange(n) % 7 - 3) * scale).astype(dtype)


OPSET = [helper.make_opsetid("", 17)]

# 1. The model edgequant's builders also make (byte-identity test): MLP with
#    from_array initializers, a symbolic batch dimension.
w1 = numpy_helper.from_array(ramp(4 * 8).reshape(4, 8), "W1")
b1 = numpy_helper.from_array(ramp(8, scale=0.5), "B1")
w2 = numpy_helper.from_array(ramp(8 * 3).reshape(8, 3), "W2")
g = helper.make_graph(
    [
        helper.make_node("MatMul", ["x", "W1"], ["h0"], name="mm1"),
        helper.make_node("Add", ["h0", "B1"], ["h1"], name="add1"),
        helper.make_node("Relu", ["h1"], ["h2"], name="relu"),
        helper.make_node("MatMul", ["h2", "W2"], ["y"], name="mm2"),
        helper.make_node("Softmax", ["y"], ["p"], name="sm", axis=-1),
    ],
    "mlp",
    [vi("x", TensorProto.FLOAT, ["batch", 4])],
    [vi("p", TensorProto.FLOAT, ["batch", 3])],
    [w1, b1, w2],
)
save(helper.make_model(g, opset_imports=OPSET, ir_version=8), "built_mlp.onnx")

# 2. Typed payload fields (make_tensor raw=False) of every type onnx 1.12 knows.
typed = [
    helper.make_tensor("t_float", TensorProto.FLOAT, [3], [1.5, -2.0, 0.0]),
    helper.make_tensor("t_f16", TensorProto.FLOAT16, [2, 2], [1.0, -0.5, 65504.0, 6.1e-5]),
    helper.make_tensor("t_bf16", TensorProto.BFLOAT16, [3], [1.0, -3.5, 1e30]),
    helper.make_tensor("t_i8", TensorProto.INT8, [4], [-128, -1, 0, 127]),
    helper.make_tensor("t_u8", TensorProto.UINT8, [3], [0, 200, 255]),
    helper.make_tensor("t_i16", TensorProto.INT16, [3], [-32768, -2, 32767]),
    helper.make_tensor("t_u16", TensorProto.UINT16, [2], [0, 65535]),
    helper.make_tensor("t_i32", TensorProto.INT32, [3], [-2147483648, -7, 2147483647]),
    helper.make_tensor("t_i64", TensorProto.INT64, [3], [-(2**63), -1, 2**63 - 1]),
    helper.make_tensor("t_u32", TensorProto.UINT32, [2], [0, 4294967295]),
    helper.make_tensor("t_u64", TensorProto.UINT64, [2], [1, 2**64 - 1]),
    helper.make_tensor("t_f64", TensorProto.DOUBLE, [2], [0.1, -1e300]),
    helper.make_tensor("t_bool", TensorProto.BOOL, [3], [True, False, True]),
    helper.make_tensor("t_c64", TensorProto.COMPLEX64, [2], [1 + 2j, -3.5 - 0.25j]),
    helper.make_tensor("t_c128", TensorProto.COMPLEX128, [1], [0.5 - 1j]),
    helper.make_tensor("t_str", TensorProto.STRING, [2], [b"hello", b"\x00\xffbytes"]),
    helper.make_tensor("t_scalar", TensorProto.FLOAT, [], [42.0]),
    helper.make_tensor("t_empty", TensorProto.FLOAT, [0, 3], []),
    numpy_helper.from_array(np.array([], dtype=np.int64).reshape(2, 0), "t_empty_raw"),
    numpy_helper.from_array(np.array([3.25], dtype=np.float16).reshape(()), "t_raw_f16_scalar"),
]
nodes = [helper.make_node("Identity", [t.name], [t.name + "_out"]) for t in typed]
outs = [helper.make_tensor_value_info(t.name + "_out", t.data_type, list(t.dims)) for t in typed]
g = helper.make_graph(nodes, "typed", [], outs, typed)
save(helper.make_model(g, opset_imports=OPSET, ir_version=8), "typed.onnx")

# 3. Every attribute kind, on a custom-domain node (the checker skips the schema).
sub = helper.make_graph([helper.make_node("Identity", ["a"], ["b"])], "sub",
                        [vi("a", TensorProto.FLOAT, [1])], [vi("b", TensorProto.FLOAT, [1])])
sp = helper.make_sparse_tensor(
    helper.make_tensor("sv", TensorProto.FLOAT, [2], [5.0, 6.0]),
    helper.make_tensor("si", TensorProto.INT64, [2], [1, 3]), [4])
attrs_node = helper.make_node(
    "AllAttrs", ["x"], ["y"], name="all", domain="test.domain", doc_string="every attribute kind",
    f=-0.0, f2=3.25, i=-1, i0=0, s="text", s_empty="",
    t=helper.make_tensor("tt", TensorProto.INT32, [2], [1, -2]),
    g=sub, floats=[1.0, -2.5], ints=[-1, 0, 2**40], strings=[b"a", b"", b"\xff"],
    tensors=[helper.make_tensor("t1", TensorProto.FLOAT, [1], [1.0]),
             numpy_helper.from_array(np.array([[1, 2]], dtype=np.uint8), "t2")],
    graphs=[sub, sub], sparse_tensor=sp, sparse_tensors=[sp],
    tp=helper.make_tensor_type_proto(TensorProto.FLOAT, [2, "n", None]),
    type_protos=[helper.make_sequence_type_proto(helper.make_tensor_type_proto(TensorProto.INT64, None)),
                 helper.make_optional_type_proto(helper.make_tensor_type_proto(TensorProto.BOOL, []))],
)
attrs_node.attribute.add().CopyFrom(helper.make_attribute("ints_empty", [1]))
del attrs_node.attribute[-1].ints[:]
g = helper.make_graph([attrs_node], "attrs", [vi("x", TensorProto.FLOAT, [1])],
                      [vi("y", TensorProto.FLOAT, [1])])
save(helper.make_model(g, opset_imports=OPSET + [helper.make_opsetid("test.domain", 1)], ir_version=8),
     "attrs.onnx")

# 4. Subgraphs: If with two branches, Loop whose body reads an outer initializer.
then_g = helper.make_graph([helper.make_node("Add", ["x", "one"], ["r"])], "then", [],
                           [vi("r", TensorProto.FLOAT, [2])])
else_g = helper.make_graph([helper.make_node("Sub", ["x", "one"], ["r"])], "else", [],
                           [vi("r", TensorProto.FLOAT, [2])])
body = helper.make_graph(
    [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
     helper.make_node("Mul", ["acc_in", "two"], ["acc_out"])],
    "body",
    [vi("iter", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []),
     vi("acc_in", TensorProto.FLOAT, [2])],
    [vi("cond_out", TensorProto.BOOL, []), vi("acc_out", TensorProto.FLOAT, [2])])
g = helper.make_graph(
    [helper.make_node("If", ["c"], ["ri"], then_branch=then_g, else_branch=else_g),
     helper.make_node("Loop", ["n", "", "ri"], ["acc"], body=body)],
    "control",
    [vi("c", TensorProto.BOOL, []), vi("x", TensorProto.FLOAT, [2]), vi("n", TensorProto.INT64, [])],
    [vi("acc", TensorProto.FLOAT, [2])],
    [numpy_helper.from_array(np.array([1, 1], dtype=np.float32), "one"),
     numpy_helper.from_array(np.array([2, 2], dtype=np.float32), "two")])
save(helper.make_model(g, opset_imports=OPSET, ir_version=8), "control.onnx")

# 5. A model-local function with an attribute reference.
fn = helper.make_function(
    "custom", "Scale", ["X"], ["Y"],
    [helper.make_node("Constant", [], ["k"], value_float=1.0),
     helper.make_node("Mul", ["X", "k"], ["Y"])],
    [helper.make_opsetid("", 17)], ["alpha"])
fn.doc_string = "multiplies"
ref = helper.make_attribute("value_float", 1.0)
ref.ClearField("f")
ref.ref_attr_name = "alpha"
del fn.node[0].attribute[:]
fn.node[0].attribute.append(ref)
g = helper.make_graph([helper.make_node("Scale", ["x"], ["y"], domain="custom", alpha=2.0)], "fn",
                      [vi("x", TensorProto.FLOAT, [3])], [vi("y", TensorProto.FLOAT, [3])])
save(helper.make_model(g, opset_imports=OPSET + [helper.make_opsetid("custom", 1)], ir_version=8,
                       functions=[fn]), "function.onnx")

# 6. Metadata, doc strings, value_info, sparse initializer, annotations,
#    training info, a negative dim_value and unknown dims.
g = helper.make_graph(
    [helper.make_node("Add", ["x", "sp"], ["y"], name="add", doc_string="adds")],
    "meta", [vi("x", TensorProto.FLOAT, [None, 4])], [vi("y", TensorProto.FLOAT, ["n", 4])],
    doc_string="graph doc", value_info=[vi("unused", TensorProto.FLOAT16, None)],
    sparse_initializer=[helper.make_sparse_tensor(
        helper.make_tensor("sp", TensorProto.FLOAT, [2], [1.0, 2.0]),
        helper.make_tensor("sp_idx", TensorProto.INT64, [2, 2], [0, 1, 0, 3]), [1, 4])])
ann = g.quantization_annotation.add()
ann.tensor_name = "x"
e = ann.quant_parameter_tensor_names.add()
e.key, e.value = "SCALE_TENSOR", "x_scale"
m = helper.make_model(g, opset_imports=OPSET, ir_version=8, producer_name="edgequant-tests",
                      producer_version="1.0", domain="ai.edgequant", model_version=7,
                      doc_string="model doc")
helper.set_model_props(m, {"author": "tests", "empty": ""})
ti = m.training_info.add()
ti.algorithm.CopyFrom(helper.make_graph([], "algo", [], []))
b = ti.update_binding.add()
b.key, b.value = "w", "w_new"
save(m, "meta.onnx")

# 7. Initializers in external data (onnx.save's layout: back to back, no padding).
big = [numpy_helper.from_array(ramp(64 * 32).reshape(64, 32), "Wext"),
       numpy_helper.from_array(ramp(32, np.float16), "Bext"),
       numpy_helper.from_array(np.arange(6, dtype=np.int64).reshape(2, 3), "small_inline")]
g = helper.make_graph(
    [helper.make_node("MatMul", ["x", "Wext"], ["h"]),
     helper.make_node("Cast", ["h"], ["hh"], to=TensorProto.FLOAT16),
     helper.make_node("Add", ["hh", "Bext"], ["y"])],
    "ext", [vi("x", TensorProto.FLOAT, [1, 64])], [vi("y", TensorProto.FLOAT16, [1, 32])], big)
m = helper.make_model(g, opset_imports=OPSET, ir_version=8)
onnx.checker.check_model(m)
onnx.save(m, os.path.join(out, "external.onnx"), save_as_external_data=True,
          all_tensors_to_one_file=True, location="external.onnx.data", size_threshold=64)
written.append("external.onnx")

# 8. Unknown fields: protobuf keeps and re-writes them after the known ones.
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "unk",
                      [vi("x", TensorProto.FLOAT, [2])], [vi("y", TensorProto.FLOAT, [2])])
raw = helper.make_model(g, opset_imports=OPSET, ir_version=8).SerializeToString()
raw += b"\xd2\x01\x03abc" + b"\xf8\x07\x05"  # field 26 LEN "abc"; field 127 varint 5
m = onnx.ModelProto()
m.ParseFromString(raw)
save(m, "unknown_fields.onnx", check=False)

print("\n".join(written))
