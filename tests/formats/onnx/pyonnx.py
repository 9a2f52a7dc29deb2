#!/usr/bin/env python3
"""The reference side of edgequant's ONNX reader/writer tests (python onnx 1.12).

  pyonnx.py describe FILE...          JSON {file: content} read by python onnx
  pyonnx.py check ORIG OURS [...]     JSON [{checker, equal, bytes_equal}] per pair:
                                      OURS (written by edgequant) passes onnx.checker
                                      and holds the same content as ORIG
  pyonnx.py check1 FILE...            JSON [{checker}] per file
The JSON layout matches tests/formats/onnx/describe.hpp."""
import json
import os
import sys

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, numpy_helper


def hexs(b):
    return b.hex() if isinstance(b, bytes) else b.encode("utf-8").hex()


def dim(d):
    if d.HasField("dim_value"):
        return d.dim_value
    if d.HasField("dim_param"):
        return d.dim_param
    return None


def typ(t):
    k = t.WhichOneof("value")
    if k == "tensor_type":
        tt = t.tensor_type
        return {"kind": "tensor", "elem_type": tt.elem_type,
                "shape": [dim(d) for d in tt.shape.dim] if tt.HasField("shape") else None}
    if k == "sparse_tensor_type":
        tt = t.sparse_tensor_type
        return {"kind": "sparse_tensor", "elem_type": tt.elem_type,
                "shape": [dim(d) for d in tt.shape.dim] if tt.HasField("shape") else None}
    if k == "sequence_type":
        return {"kind": "sequence", "elem": typ(t.sequence_type.elem_type)}
    if k == "optional_type":
        return {"kind": "optional", "elem": typ(t.optional_type.elem_type)}
    if k == "map_type":
        return {"kind": "map", "key_type": t.map_type.key_type, "elem": typ(t.map_type.value_type)}
    return {"kind": "none"}


def value_info(v):
    return {"name": v.name, "type": typ(v.type) if v.HasField("type") else None}


def values(t):
    if t.data_type == TensorProto.STRING:
        return [hexs(s) for s in t.string_data]
    if t.data_type in (TensorProto.COMPLEX64, TensorProto.COMPLEX128):
        # onnx 1.12's to_array fails on typed complex payloads: read the pairs.
        f = np.float32 if t.data_type == TensorProto.COMPLEX64 else np.float64
        if t.HasField("raw_data"):
            return [float(x) for x in np.frombuffer(t.raw_data, dtype=f)]
        field = t.float_data if t.data_type == TensorProto.COMPLEX64 else t.double_data
        return [float(x) for x in field]
    a = numpy_helper.to_array(t).flatten()
    if t.data_type == TensorProto.BOOL:
        return [bool(x) for x in a]
    if np.issubdtype(a.dtype, np.integer):
        return [int(x) for x in a]
    return [float(x) for x in a]


def tensor(t, storage_of=None):
    src = storage_of if storage_of is not None else t
    if src.data_location == TensorProto.EXTERNAL:
        storage = "external"
    elif src.HasField("raw_data"):
        storage = "raw"
    elif any(len(getattr(src, f)) for f in ("float_data", "int32_data", "int64_data",
                                             "double_data", "uint64_data")):
        storage = "typed"
    else:
        storage = "none"
    return {"name": t.name, "data_type": t.data_type, "dims": list(t.dims), "storage": storage,
            "values": values(t)}


def sparse(s, s2=None):
    return {"values": tensor(s.values), "indices": tensor(s.indices), "dims": list(s.dims)}


def attribute(a, a2):
    d = {"name": a.name, "type": a.type}
    if a.ref_attr_name:
        d["ref_attr_name"] = a.ref_attr_name
    T = a.type
    if T == AttributeProto.FLOAT:
        d["value"] = a.f
    elif T == AttributeProto.INT:
        d["value"] = a.i
    elif T == AttributeProto.STRING:
        d["value"] = hexs(a.s)
    elif T == AttributeProto.TENSOR:
        d["value"] = tensor(a.t, a2.t)
    elif T == AttributeProto.GRAPH:
        d["value"] = graph(a.g, a2.g)
    elif T == AttributeProto.FLOATS:
        d["value"] = list(a.floats)
    elif T == AttributeProto.INTS:
        d["value"] = list(a.ints)
    elif T == AttributeProto.STRINGS:
        d["value"] = [hexs(s) for s in a.strings]
    elif T == AttributeProto.TENSORS:
        d["value"] = [tensor(x, y) for x, y in zip(a.tensors, a2.tensors)]
    elif T == AttributeProto.GRAPHS:
        d["value"] = [graph(x, y) for x, y in zip(a.graphs, a2.graphs)]
    elif T == AttributeProto.SPARSE_TENSOR:
        d["value"] = sparse(a.sparse_tensor)
    elif T == AttributeProto.SPARSE_TENSORS:
        d["value"] = [sparse(x) for x in a.sparse_tensors]
    elif T == AttributeProto.TYPE_PROTO:
        d["value"] = typ(a.tp)
    elif T == AttributeProto.TYPE_PROTOS:
        d["value"] = [typ(x) for x in a.type_protos]
    return d


def node(n, n2):
    return {"op_type": n.op_type, "domain": n.domain, "name": n.name, "inputs": list(n.input),
            "outputs": list(n.output),
            "attributes": [attribute(a, b) for a, b in zip(n.attribute, n2.attribute)]}


def graph(g, g2):
    return {"name": g.name, "inputs": [value_info(v) for v in g.input],
            "outputs": [value_info(v) for v in g.output],
            "value_info": [value_info(v) for v in g.value_info],
            "initializers": [tensor(t, t2) for t, t2 in zip(g.initializer, g2.initializer)],
            "sparse_initializers": [sparse(s) for s in g.sparse_initializer],
            "nodes": [node(n, n2) for n, n2 in zip(g.node, g2.node)]}


def model(path):
    m = onnx.load(path)  # external data loaded: values
    m2 = onnx.load(path, load_external_data=False)  # storage as on disk
    return {
        "ir_version": m.ir_version,
        "opset_import": [[o.domain, o.version] for o in m.opset_import],
        "producer_name": m.producer_name, "producer_version": m.producer_version,
        "domain": m.domain, "model_version": m.model_version, "doc_string": m.doc_string,
        "metadata": {p.key: p.value for p in m.metadata_props},
        "graph": graph(m.graph, m2.graph) if m.HasField("graph") else None,
        "functions": [{"name": f.name, "domain": f.domain, "inputs": list(f.input),
                       "outputs": list(f.output), "attributes": list(f.attribute),
                       "nodes": [node(n, n) for n in f.node]} for f in m.functions],
    }


def check(path):
    try:
        onnx.checker.check_model(path)
        return "ok"
    except Exception as e:  # the message is the result
        return str(e)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "describe":
        print(json.dumps({os.path.basename(a): model(a) for a in args}))
    elif cmd == "check":
        res = []
        for orig, ours in zip(args[0::2], args[1::2]):
            a, b = onnx.load(orig), onnx.load(ours)
            res.append({"file": os.path.basename(ours), "checker": check(ours), "equal": a == b,
                        "bytes_equal": open(orig, "rb").read() == open(ours, "rb").read()})
        print(json.dumps(res))
    elif cmd == "check1":
        print(json.dumps([{"file": os.path.basename(a), "checker": check(a)} for a in args]))


main()
