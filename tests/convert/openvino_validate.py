#!/usr/bin/python3
"""Independent checker for the OpenVINO IR exporter (specs/openvino.md), written
from the spec, not from the C++ writer. OpenVINO itself cannot run here.

1. Structure: IR version 11, unique layer ids and names, port numbering (inputs
   0..n-1, outputs from n), every edge between existing output/input ports with
   equal precision and dims, every input fed exactly once, a DAG, Const
   offset/size inside the .bin with size = ceil(numel * bits / 8), each op's
   opset version and input/output counts, Parameters and Results with names,
   and an own shape/type inference compared with the declared port dims.
2. --run: a numpy interpreter of the opset semantics for the ops used, on one
   token sequence; prints the last position's logits.
3. --source HF_DIR --nncf: every compressed weight's codes, zero points and
   f16 scales against NNCF's formulas (spec §5.3) computed here from the
   source weights.
4. --dump DIR: the decompressed value feeding each MatMul/Gather weight input,
   as raw float32 (DIR/<weight name>.f32).
5. --source HF_DIR --export-hf DIR (with --run): the weights the IR computes
   with (decompressed, or the float Consts), under the source's names, as an
   f32 Hugging Face folder (config.json copied), for a float reference pass.

usage: openvino_validate.py OUT_DIR [--run '[ids]' | '[[ids], [ids], ...]'] [--pad N] [--f16-math f32|strict]
                            [--source HF_DIR [--nncf] [--export-hf DIR]] [--dump DIR]
prints one JSON object: problems (list), layers, ops, weights, logits, nncf.
"""
import argparse
import json
import math
import os
import sys
import xml.etree.ElementTree as ET

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_reference  # noqa: E402  (safetensors loader)
import make_hf_model  # noqa: E402  (safetensors writer)

# §3: element type → (port precision, bits)
TYPES = {
    "f32": ("FP32", 32), "f16": ("FP16", 16), "bf16": ("BF16", 16), "f64": ("FP64", 64),
    "i64": ("I64", 64), "i32": ("I32", 32), "i16": ("I16", 16), "i8": ("I8", 8), "i4": ("I4", 4),
    "u64": ("U64", 64), "u32": ("U32", 32), "u16": ("U16", 16), "u8": ("U8", 8), "u4": ("U4", 4),
    "boolean": ("BOOL", 8),
}
PREC2TYPE = {v[0]: k for k, v in TYPES.items()}

# op type → (opset version, number of inputs or (min, max)); outputs are 1 unless noted.
OPS = {
    "Parameter": ("opset1", 0), "Const": ("opset1", 0), "Result": ("opset1", 1),
    "Convert": ("opset1", 1), "Gather": ("opset8", 3), "MatMul": ("opset1", 2),
    "Add": ("opset1", 2), "Multiply": ("opset1", 2), "Subtract": ("opset1", 2),
    "Divide": ("opset1", 2), "Power": ("opset1", 2), "Sqrt": ("opset1", 1),
    "ReduceMean": ("opset1", 2), "Reshape": ("opset1", 2), "Transpose": ("opset1", 2),
    "Concat": ("opset1", (1, 1 << 20)), "SoftMax": ("opset8", 1), "Swish": ("opset4", (1, 2)),
    "Cos": ("opset1", 1), "Sin": ("opset1", 1), "ShapeOf": ("opset3", 1), "Range": ("opset4", 3),
    "Unsqueeze": ("opset1", 2), "Greater": ("opset1", 2), "Equal": ("opset1", 2),
    "LogicalOr": ("opset1", 2), "Select": ("opset1", 3), "VariadicSplit": ("opset1", 3),
    "Negative": ("opset1", 1),
}
BINARY = {"Add", "Multiply", "Subtract", "Divide", "Power"}
COMPARE = {"Greater", "Equal"}
UNARY_SAME = {"Sqrt", "Cos", "Sin", "Negative", "SoftMax", "Swish"}


class Layer:
    def __init__(self, el):
        self.id = el.get("id")
        self.name = el.get("name")
        self.type = el.get("type")
        self.version = el.get("version")
        d = el.find("data")
        self.data = dict(d.attrib) if d is not None else {}
        rt = el.find("rt_info")
        self.rt = [a.get("name") for a in rt.findall("attribute")] if rt is not None else []
        self.inputs, self.outputs = [], []  # (port id, precision, dims, names)
        for tag, dst in (("input", self.inputs), ("output", self.outputs)):
            sec = el.find(tag)
            if sec is None:
                continue
            for p in sec.findall("port"):
                dims = [int(x.text) for x in p.findall("dim")]
                dst.append((int(p.get("id")), p.get("precision"), dims, p.get("names")))
        self.src = {}  # input index → (layer, output index)


def parse_shape_attr(s):
    if s == "":
        return []
    return [-1 if x.strip() == "?" else int(x) for x in s.split(",")]


def decode_const(l, blob):
    et = l.data["element_type"]
    shape = parse_shape_attr(l.data["shape"])
    off, size = int(l.data["offset"]), int(l.data["size"])
    raw = blob[off:off + size]
    n = int(np.prod(shape)) if shape else 1
    if et in ("u4", "i4"):
        b = np.frombuffer(raw, dtype=np.uint8)
        v = np.empty(b.size * 2, dtype=np.int64)
        v[0::2] = b & 15  # element 2i in bits 0-3 (§2)
        v[1::2] = b >> 4
        v = v[:n]
        if et == "i4":
            v = (v ^ 8) - 8
        return v.reshape(shape)
    dt = {"f32": "<f4", "f16": "<f2", "i64": "<i8", "i32": "<i4", "u8": "u1", "i8": "i1",
          "boolean": "u1", "u32": "<u4", "u16": "<u2", "i16": "<i2", "u64": "<u8", "f64": "<f8"}[et]
    v = np.frombuffer(raw, dtype=dt)[:n].reshape(shape)
    return v.astype(bool) if et == "boolean" else v


def bcast(a, b):
    """numpy broadcast of two partial shapes (-1 = unknown); None when incompatible."""
    r = max(len(a), len(b))
    a = [1] * (r - len(a)) + list(a)
    b = [1] * (r - len(b)) + list(b)
    out = []
    for x, y in zip(a, b):
        if x == 1:
            out.append(y)
        elif y == 1 or x == y:
            out.append(x)
        elif x == -1 or y == -1:
            out.append(max(x, y) if min(x, y) != -1 else -1)
        else:
            return None
    return out


class Checker:
    def __init__(self, folder):
        self.problems = []
        self.xml_path = os.path.join(folder, "openvino_model.xml")
        self.bin_path = os.path.join(folder, "openvino_model.bin")
        self.blob = open(self.bin_path, "rb").read()
        self.root = ET.parse(self.xml_path).getroot()
        self.layers = {}
        self.order = []

    def bad(self, msg):
        self.problems.append(msg)

    def structure(self):
        r = self.root
        if r.tag != "net" or r.get("version") != "11":
            self.bad("root must be <net version=\"11\">")
        names = set()
        for el in r.find("layers").findall("layer"):
            l = Layer(el)
            if l.id is None or not l.id.isdigit():
                self.bad(f"layer id {l.id!r} is not a non-negative integer")
                continue
            if l.id in self.layers:
                self.bad(f"duplicate layer id {l.id}")
            if l.name in names:
                self.bad(f"duplicate layer name {l.name}")
            names.add(l.name)
            self.layers[l.id] = l
            ids = [p[0] for p in l.inputs] + [p[0] for p in l.outputs]
            if ids != list(range(len(ids))):
                self.bad(f"layer {l.id} ({l.name}): port ids {ids} are not inputs 0..n-1 then outputs")
            for p in l.inputs + l.outputs:
                if p[1] not in PREC2TYPE:
                    self.bad(f"layer {l.id}: unknown precision {p[1]}")
            spec = OPS.get(l.type)
            if spec is None:
                self.bad(f"layer {l.id}: op type {l.type} is not one the checker knows")
                continue
            if l.version != spec[0]:
                self.bad(f"layer {l.id} {l.type}: version {l.version}, want {spec[0]}")
            lo, hi = spec[1] if isinstance(spec[1], tuple) else (spec[1], spec[1])
            if not lo <= len(l.inputs) <= hi:
                self.bad(f"layer {l.id} {l.type}: {len(l.inputs)} inputs")
            nout = 0 if l.type == "Result" else (
                len(l.outputs) if l.type == "VariadicSplit" else 1)
            if len(l.outputs) != nout or (l.type == "VariadicSplit" and nout < 1):
                self.bad(f"layer {l.id} {l.type}: {len(l.outputs)} outputs")
        for e in r.find("edges").findall("edge"):
            fl, fp, tl, tp = e.get("from-layer"), int(e.get("from-port")), e.get("to-layer"), int(e.get("to-port"))
            if fl not in self.layers or tl not in self.layers:
                self.bad(f"edge {fl}->{tl}: missing layer")
                continue
            src, dst = self.layers[fl], self.layers[tl]
            outs = {p[0]: (i, p) for i, p in enumerate(src.outputs)}
            ins = {p[0]: (i, p) for i, p in enumerate(dst.inputs)}
            if fp not in outs:
                self.bad(f"edge {fl}:{fp}->{tl}:{tp}: from-port is not an output port")
                continue
            if tp not in ins:
                self.bad(f"edge {fl}:{fp}->{tl}:{tp}: to-port is not an input port")
                continue
            oi, op = outs[fp]
            ii, ip = ins[tp]
            if ii in dst.src:
                self.bad(f"layer {tl} input {tp} fed twice")
            dst.src[ii] = (fl, oi)
            if op[1] != ip[1]:
                self.bad(f"edge {fl}:{fp}->{tl}:{tp}: precision {op[1]} vs {ip[1]}")
            if op[2] != ip[2]:
                self.bad(f"edge {fl}:{fp}->{tl}:{tp}: dims {op[2]} vs {ip[2]}")
        for l in self.layers.values():
            for i in range(len(l.inputs)):
                if i not in l.src:
                    self.bad(f"layer {l.id} ({l.name}) input {i} has no edge")
        # DAG: Kahn's order.
        indeg = {k: len(l.src) for k, l in self.layers.items()}
        users = {k: [] for k in self.layers}
        for k, l in self.layers.items():
            for s in l.src.values():
                users[s[0]].append(k)
        ready = [k for k, d in indeg.items() if d == 0]
        while ready:
            k = ready.pop()
            self.order.append(k)
            for u in users[k]:
                indeg[u] -= 1
                if indeg[u] == 0:
                    ready.append(u)
        if len(self.order) != len(self.layers):
            self.bad("the graph has a cycle")
        self.users = users
        # Consts, Parameters, Results.
        params = [l for l in self.layers.values() if l.type == "Parameter"]
        results = [l for l in self.layers.values() if l.type == "Result"]
        if not params or not results:
            self.bad("no Parameter or no Result")
        for l in self.layers.values():
            if l.type == "Const":
                et = l.data.get("element_type")
                if et not in TYPES:
                    self.bad(f"Const {l.name}: element_type {et}")
                    continue
                shape = parse_shape_attr(l.data["shape"])
                off, size = int(l.data["offset"]), int(l.data["size"])
                n = int(np.prod(shape)) if shape else 1
                if off < 0 or off + size > len(self.blob):
                    self.bad(f"Const {l.name}: [{off}, {off + size}) outside the {len(self.blob)}-byte .bin")
                if size != (n * TYPES[et][1] + 7) // 8:
                    self.bad(f"Const {l.name}: size {size} for {n} x {et}")
                if l.outputs and (l.outputs[0][1] != TYPES[et][0] or l.outputs[0][2] != shape):
                    self.bad(f"Const {l.name}: port {l.outputs[0][1]} {l.outputs[0][2]} vs {et} {shape}")
            elif l.type == "Parameter":
                et = l.data.get("element_type")
                if et not in TYPES or l.outputs[0][1] != TYPES[et][0]:
                    self.bad(f"Parameter {l.name}: element_type {et} vs precision {l.outputs[0][1]}")
                if parse_shape_attr(l.data.get("shape", "")) != l.outputs[0][2]:
                    self.bad(f"Parameter {l.name}: shape attribute vs port dims")
                if not l.outputs[0][3]:
                    self.bad(f"Parameter {l.name}: output port has no names")
            elif l.type == "Result" and 0 in l.src:
                s, oi = l.src[0]
                if not self.layers[s].outputs[oi][3]:
                    self.bad(f"Result {l.name}: the port feeding it has no names")

    def out_port(self, lid, i=0):
        p = self.layers[lid].outputs[i]
        return PREC2TYPE.get(p[1]), p[2]

    def const_value(self, lid):
        l = self.layers[lid]
        return decode_const(l, self.blob) if l.type == "Const" else None

    def infer(self):
        """Own type/shape inference from the op semantics; compares with the declared outputs."""
        for k in self.order:
            l = self.layers[k]
            if l.type in ("Parameter", "Const", "Result") or len(l.src) != len(l.inputs):
                continue
            ins = [self.out_port(*l.src[i]) for i in range(len(l.inputs))]
            cv = [self.const_value(l.src[i][0]) for i in range(len(l.inputs))]
            t0, s0 = ins[0]
            outs = None
            try:
                if l.type == "Convert":
                    outs = [(l.data["destination_type"], s0)]
                elif l.type in BINARY or l.type == "LogicalOr" or l.type in COMPARE:
                    if l.type == "LogicalOr" and (t0 != "boolean" or ins[1][0] != "boolean"):
                        self.bad(f"{l.name}: LogicalOr of {t0}, {ins[1][0]}")
                    elif l.type != "LogicalOr" and t0 != ins[1][0]:
                        self.bad(f"{l.name}: {l.type} of {t0} and {ins[1][0]}")
                    s = bcast(s0, ins[1][1])
                    if s is None:
                        self.bad(f"{l.name}: shapes {s0}, {ins[1][1]} do not broadcast")
                        continue
                    outs = [("boolean" if l.type in COMPARE else t0, s)]
                elif l.type in UNARY_SAME:
                    outs = [(t0, s0)]
                elif l.type == "Select":
                    if t0 != "boolean" or ins[1][0] != ins[2][0]:
                        self.bad(f"{l.name}: Select types {t0}, {ins[1][0]}, {ins[2][0]}")
                    outs = [(ins[1][0], bcast(bcast(s0, ins[1][1]), ins[2][1]))]
                elif l.type == "MatMul":
                    a, b = list(s0), list(ins[1][1])
                    if l.data.get("transpose_a") == "true":
                        a[-2], a[-1] = a[-1], a[-2]
                    if l.data.get("transpose_b") == "true":
                        b[-2], b[-1] = b[-1], b[-2]
                    if a[-1] != -1 and b[-2] != -1 and a[-1] != b[-2]:
                        self.bad(f"{l.name}: MatMul inner dims {a} x {b}")
                    if t0 != ins[1][0]:
                        self.bad(f"{l.name}: MatMul of {t0} and {ins[1][0]}")
                    outs = [(t0, bcast(a[:-2], b[:-2]) + [a[-2], b[-1]])]
                elif l.type == "Gather":
                    axis = int(cv[2].reshape(-1)[0])
                    if axis < 0:
                        axis += len(s0)
                    outs = [(t0, s0[:axis] + list(ins[1][1]) + s0[axis + 1:])]
                elif l.type == "ReduceMean":
                    axes = [a % len(s0) for a in cv[1].reshape(-1).tolist()]
                    keep = l.data.get("keep_dims") == "true"
                    outs = [(t0, [1 if i in axes else d for i, d in enumerate(s0)] if keep
                             else [d for i, d in enumerate(s0) if i not in axes])]
                elif l.type == "Reshape":
                    tgt = cv[1].reshape(-1).tolist()
                    sz = l.data.get("special_zero") == "true"
                    out = [s0[i] if (v == 0 and sz) else v for i, v in enumerate(tgt)]
                    if out.count(-1) == 1 and all(d != -1 for d in s0):
                        known = int(np.prod([d for d in out if d != -1]))
                        out[out.index(-1)] = int(np.prod(s0)) // known
                    if all(d != -1 for d in s0) and all(d != -1 for d in out) and np.prod(out) != np.prod(s0):
                        self.bad(f"{l.name}: Reshape {s0} -> {out}")
                    outs = [(t0, out)]
                elif l.type == "Transpose":
                    order = cv[1].reshape(-1).tolist()
                    outs = [(t0, [s0[i] for i in order])]
                elif l.type == "Concat":
                    ax = int(l.data["axis"]) % len(s0)
                    s = list(s0)
                    for t, sh in ins[1:]:
                        if t != t0 or len(sh) != len(s0):
                            self.bad(f"{l.name}: Concat input {t} {sh} vs {t0} {s0}")
                        s[ax] = -1 if (s[ax] == -1 or sh[ax] == -1) else s[ax] + sh[ax]
                    outs = [(t0, s)]
                elif l.type == "Unsqueeze":
                    axes = cv[1].reshape(-1).tolist()
                    r = len(s0) + len(axes)
                    axes = sorted(a % r for a in axes)
                    s = list(s0)
                    for a in axes:
                        s.insert(a, 1)
                    outs = [(t0, s)]
                elif l.type == "ShapeOf":
                    outs = [(l.data.get("output_type", "i64"), [len(s0)])]
                elif l.type == "Range":
                    outs = [(l.data["output_type"], [-1])]
                elif l.type == "VariadicSplit":
                    ax = int(cv[1].reshape(-1)[0]) % len(s0)
                    lens = cv[2].reshape(-1).tolist()
                    outs = []
                    for n in lens:
                        s = list(s0)
                        s[ax] = n
                        outs.append((t0, s))
            except (IndexError, TypeError, AttributeError, KeyError, ValueError) as e:
                self.bad(f"{l.name}: cannot infer {l.type}: {e!r}")
                continue
            if outs is None:
                continue
            if len(outs) != len(l.outputs):
                self.bad(f"{l.name}: {len(l.outputs)} outputs declared, {len(outs)} inferred")
                continue
            for (t, s), p in zip(outs, l.outputs):
                if TYPES.get(t, ("?",))[0] != p[1]:
                    self.bad(f"{l.name}: output precision {p[1]}, inferred {t}")
                if s is None or len(s) != len(p[2]) or any(a != b for a, b in zip(s, p[2]) if a != -1 and b != -1):
                    self.bad(f"{l.name}: output dims {p[2]}, inferred {s}")

    # ----------------------------------------------------------- interpreter --
    def run(self, feeds, f16_math):
        f16 = np.float16 if f16_math == "strict" else np.float32
        np_of = {"f32": np.float32, "f16": f16, "i64": np.int64, "i32": np.int32, "u8": np.uint8,
                 "i8": np.int8, "u4": np.uint8, "i4": np.int8, "boolean": bool}
        val = {}
        for k in self.order:
            l = self.layers[k]
            x = [val[l.src[i]] for i in range(len(l.inputs))]
            t = l.type
            if t == "Parameter":
                out = [feeds[l.name]]
            elif t == "Const":
                v = decode_const(l, self.blob)
                out = [v.astype(np_of[l.data["element_type"]])]
            elif t == "Result":
                val[(k, "result")] = x[0]
                continue
            elif t == "Convert":
                out = [x[0].astype(np_of[l.data["destination_type"]])]
            elif t == "Add":
                out = [x[0] + x[1]]
            elif t == "Subtract":
                out = [x[0] - x[1]]
            elif t == "Multiply":
                out = [x[0] * x[1]]
            elif t == "Divide":
                out = [x[0] / x[1]]
            elif t == "Power":
                out = [np.power(x[0], x[1])]
            elif t == "Sqrt":
                out = [np.sqrt(x[0])]
            elif t == "Negative":
                out = [-x[0]]
            elif t == "Cos":
                out = [np.cos(x[0])]
            elif t == "Sin":
                out = [np.sin(x[0])]
            elif t == "Swish":
                beta = x[1] if len(x) > 1 else x[0].dtype.type(1)
                out = [x[0] / (x[0].dtype.type(1) + np.exp(-beta * x[0]))]
            elif t == "SoftMax":
                ax = int(l.data["axis"])
                e = np.exp(x[0] - x[0].max(axis=ax, keepdims=True))
                out = [e / e.sum(axis=ax, keepdims=True)]
            elif t == "MatMul":
                a, b = x
                if l.data.get("transpose_a") == "true":
                    a = np.swapaxes(a, -1, -2)
                if l.data.get("transpose_b") == "true":
                    b = np.swapaxes(b, -1, -2)
                out = [np.matmul(a, b)]
            elif t == "Gather":
                axis = int(x[2].reshape(-1)[0])
                idx = x[1].astype(np.int64)
                n = x[0].shape[axis]
                if (idx < -n).any() or (idx >= n).any():
                    raise SystemExit(f"{l.name}: Gather index out of range")
                out = [np.take(x[0], np.where(idx < 0, idx + n, idx), axis=axis)]
            elif t == "ReduceMean":
                axes = tuple(int(a) % x[0].ndim for a in x[1].reshape(-1))
                out = [x[0].mean(axis=axes, keepdims=l.data.get("keep_dims") == "true", dtype=x[0].dtype)]
            elif t == "Reshape":
                tgt = [int(v) for v in x[1].reshape(-1)]
                if l.data.get("special_zero") == "true":
                    tgt = [x[0].shape[i] if v == 0 else v for i, v in enumerate(tgt)]
                out = [x[0].reshape(tgt)]
            elif t == "Transpose":
                out = [np.transpose(x[0], [int(v) for v in x[1].reshape(-1)])]
            elif t == "Concat":
                out = [np.concatenate(x, axis=int(l.data["axis"]))]
            elif t == "Unsqueeze":
                axes = [int(a) for a in x[1].reshape(-1)]
                r = x[0].ndim + len(axes)
                out = [np.expand_dims(x[0], tuple(sorted(a % r for a in axes)))]
            elif t == "ShapeOf":
                out = [np.array(x[0].shape, dtype=np_of[l.data.get("output_type", "i64")])]
            elif t == "Range":
                out = [np.arange(x[0].item(), x[1].item(), x[2].item()).astype(np_of[l.data["output_type"]])]
            elif t == "Greater":
                out = [x[0] > x[1]]
            elif t == "Equal":
                out = [x[0] == x[1]]
            elif t == "LogicalOr":
                out = [np.logical_or(x[0], x[1])]
            elif t == "Select":
                out = [np.where(x[0], x[1], x[2])]
            elif t == "VariadicSplit":
                ax = int(x[1].reshape(-1)[0]) % x[0].ndim
                lens = [int(v) for v in x[2].reshape(-1)]
                if -1 in lens:
                    lens[lens.index(-1)] = x[0].shape[ax] - (sum(lens) + 1)
                out = np.split(x[0], np.cumsum(lens)[:-1], axis=ax)
            else:
                raise SystemExit(f"interpreter: no semantics for {t}")
            for i, o in enumerate(out):
                o = np.asarray(o)
                declared = l.outputs[i][2]
                if len(declared) != o.ndim or any(d != -1 and d != s for d, s in zip(declared, o.shape)):
                    self.bad(f"{l.name}: ran to shape {list(o.shape)}, declared {declared}")
                val[(k, i)] = o
        self.values = val
        return {self.layers[self.layers[k].src[0][0]].outputs[self.layers[k].src[0][1]][3]: val[(k, "result")]
                for k in self.layers if self.layers[k].type == "Result"}

    # ------------------------------------------------------ compressed weights --
    def compressed_weights(self):
        """Decompression subgraphs (§5.5), found from the low-bit Consts."""
        found = {}
        for k, l in self.layers.items():
            if l.type != "Const" or l.data["element_type"] not in ("u8", "i8", "u4", "i4"):
                continue
            if "zero_point" in l.name.split("/")[-1]:
                continue
            chain = [k]
            cur = k
            zp = scale = None
            while len(c_users := self.users[cur]) == 1:
                nxt = c_users[0]
                nl = self.layers[nxt]
                if nl.type == "Subtract":
                    zp = self.layers[nl.src[1][0]].src[0][0]  # Convert(zero-point Const)
                elif nl.type == "Multiply":
                    scale = nl.src[1][0]
                elif nl.type not in ("Convert", "Reshape"):
                    break
                chain.append(nxt)
                cur = nxt
                if nl.type == "Convert" and nl.data["destination_type"] == "f32":
                    break
            found[l.name] = {"const": k, "zp": zp, "scale": scale, "out": chain[-1],
                             "types": [self.layers[c].type for c in chain], "consumers": self.users[chain[-1]]}
        return found


def nncf_reference(w, et, groups):
    """Spec §5.3 in numpy float32: codes, zero point (or None) and scale per group."""
    bits = 4 if et in ("u4", "i4") else 8
    N, K = w.shape
    g = w.astype(np.float32).reshape(N, groups, K // groups)
    eps = np.finfo(np.float32).eps
    if et in ("u8", "u4"):
        hi = 2 ** bits - 1
        mn, mx = g.min(-1, keepdims=True), g.max(-1, keepdims=True)
        scale = (mx - mn) / np.float32(hi)
        scale = np.where(np.abs(scale) < eps, eps, scale).astype(np.float32)
        zp = np.clip(np.float32(0) - np.round(mn / scale), 0, hi)
        q = np.clip(np.round(g / scale + zp), 0, hi)
        return q.astype(np.int64), zp.astype(np.int64), scale
    a, M = np.abs(g.min(-1, keepdims=True)), g.max(-1, keepdims=True)
    scale = np.where(a >= M, a, -M) / np.float32(2 ** (bits - 1))
    scale = np.where(np.abs(scale) < eps, eps, scale).astype(np.float32)
    q = np.clip(np.round(g / scale), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return q.astype(np.int64), None, scale


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--run")
    ap.add_argument("--pad", type=int, default=0)
    ap.add_argument("--f16-math", default="f32", choices=["f32", "strict"])
    ap.add_argument("--source")
    ap.add_argument("--nncf", action="store_true")
    ap.add_argument("--export-hf")
    ap.add_argument("--dump")
    a = ap.parse_args()
    c = Checker(a.folder)
    c.structure()
    if not c.problems:
        c.infer()
    out = {"layers": len(c.layers), "ops": {}, "weights": {}}
    for l in c.layers.values():
        out["ops"][l.type] = out["ops"].get(l.type, 0) + 1
    # Const f16 -> Convert f32 pairs, and how many carry rt_info "decompression".
    f16 = [l for l in c.layers.values() if l.type == "Convert" and l.data.get("destination_type") == "f32"
           and 0 in l.src and c.layers[l.src[0][0]].type == "Const"
           and c.layers[l.src[0][0]].data.get("element_type") == "f16"]
    out["f16_consts"] = len(f16)
    out["f16_consts_marked"] = sum("decompression" in l.rt for l in f16)
    comp = c.compressed_weights() if not c.problems else {}
    for name, d in comp.items():
        l = c.layers[d["const"]]
        out["weights"][name] = {"type": l.data["element_type"], "shape": parse_shape_attr(l.data["shape"]),
                                "zero_point": d["zp"] is not None, "chain": d["types"],
                                "consumers": sorted({c.layers[u].type for u in d["consumers"]})}
    if a.run and not c.problems:
        rows = json.loads(a.run)
        if rows and not isinstance(rows[0], list):
            rows = [rows]
        # A batch, left-padded (token 0, mask 0) to the longest row plus --pad;
        # transformers' position_ids for such rows: cumsum(mask) - 1, padding set to 1.
        L = max(len(r) for r in rows) + a.pad
        ids = np.array([[0] * (L - len(r)) + r for r in rows], dtype=np.int64)
        mask = np.array([[0] * (L - len(r)) + [1] * len(r) for r in rows], dtype=np.int64)
        pos = np.array([[1] * (L - len(r)) + list(range(len(r))) for r in rows], dtype=np.int64)
        res = c.run({"input_ids": ids, "attention_mask": mask, "position_ids": pos}, a.f16_math)
        logits = res.get("logits")
        if logits is None:
            c.bad("no output named logits")
        else:
            out["logits"] = logits[0, -1].astype(np.float64).tolist()
            out["logits_rows"] = [logits[b, -1].astype(np.float64).tolist() for b in range(len(rows))]
            out["finite"] = bool(np.isfinite(logits).all())
        if a.dump:
            os.makedirs(a.dump, exist_ok=True)
            for name, d in comp.items():
                v = c.values[(d["out"], 0)]
                np.ascontiguousarray(v, dtype=np.float32).tofile(os.path.join(a.dump, name + ".f32"))
    if a.export_hf and a.run and not c.problems:
        src = hf_reference.load(a.source)
        by_name = {l.name: k for k, l in c.layers.items()}
        tensors = []
        for name in sorted(src):
            if name in comp:
                v = c.values[(comp[name]["out"], 0)]
            elif name in by_name and c.layers[by_name[name]].type == "Const":
                v = decode_const(c.layers[by_name[name]], c.blob)
            else:
                c.bad(f"source tensor {name} is not in the IR")
                continue
            tensors.append((name, np.asarray(v, dtype=np.float32).reshape(src[name].shape)))
        os.makedirs(a.export_hf, exist_ok=True)
        make_hf_model.write_safetensors(os.path.join(a.export_hf, "model.safetensors"), tensors, "f32")
        with open(os.path.join(a.source, "config.json")) as f, open(os.path.join(a.export_hf, "config.json"), "w") as g:
            g.write(f.read())
    if a.nncf and not c.problems:
        src = hf_reference.load(a.source)
        rep = {}
        for name, d in comp.items():
            l = c.layers[d["const"]]
            et = l.data["element_type"]
            q = decode_const(l, c.blob)
            N = q.shape[0]
            groups = q.shape[1] if q.ndim == 3 else 1
            w = src[name]
            rq, rzp, rscale = nncf_reference(w, et, groups)
            s = c.const_value(d["scale"]).reshape(N, groups, 1)
            r = {"codes": int((q.reshape(rq.shape) != rq).sum()),
                 "scale": int((s.view(np.uint16) != rscale.astype(np.float16).view(np.uint16)).sum())}
            if rzp is not None:
                z = c.const_value(d["zp"]) if d["zp"] is not None else None
                r["zero_point"] = -1 if z is None else int((z.reshape(rzp.shape) != rzp).sum())
            rep[name] = r
        out["nncf"] = rep
    out["problems"] = c.problems
    print(json.dumps(out))


if __name__ == "__main__":
    main()
