#!/usr/bin/python3
"""Independent check of an mlx-lm folder written by `edgequant convert --to mlx`.

Recomputes every output tensor from the source Hugging Face folder with numpy,
following specs/mlx.md §2.2-§2.4 (float32 arithmetic, CPU or Metal variant,
LE bitstream packing) and §4 (which weights are quantized, names, shapes,
config.json), and compares bytes. Prints a JSON summary; exit 1 on mismatch.

usage: mlx_reference.py SRC_DIR OUT_DIR cpu|metal
"""
import glob
import json
import os
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        out[name] = (e["dtype"], e["shape"], data[b:end])
    return out, header.get("__metadata__")


def load_folder(d):
    tensors = {}
    for p in sorted(glob.glob(os.path.join(d, "*.safetensors"))):
        t, _ = read_safetensors(p)
        tensors.update(t)
    return tensors


def to_f32(dtype, raw, shape):
    if dtype == "F32":
        a = np.frombuffer(raw, dtype="<f4")
    elif dtype == "F16":
        a = np.frombuffer(raw, dtype="<f2").astype(np.float32)
    elif dtype == "BF16":
        a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        raise SystemExit("unexpected source dtype " + dtype)
    return a.reshape(shape)


def encode(a, dtype):
    """float32 array -> bytes of dtype, round to nearest even."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    if dtype == "F32":
        return a.astype("<f4").tobytes()
    if dtype == "F16":
        return a.astype("<f2").tobytes()
    u = a.view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2").tobytes()


def round_to(a, dtype):
    """The float32 values of a after rounding to dtype (MLX quantizes T values)."""
    return to_f32(dtype, encode(a, dtype), a.shape)


MAX_FINITE = {"F32": np.float32(3.4028235e38), "F16": np.float32(65504.0), "BF16": np.float32(3.3895314e38)}


def round_half_away(x):
    t = np.trunc(x)
    return t + np.sign(x) * (np.abs(x - t) >= np.float32(0.5)).astype(np.float32)


def affine(w, bits, gs, backend, dtype):
    """specs/mlx.md §2.3 (cpu) / §2.4 (metal): packed bytes, scales, biases."""
    rows, cols = w.shape
    g = w.reshape(rows, cols // gs, gs).astype(np.float32)
    n_bins = np.float32(2**bits - 1)
    eps = np.float32(1e-7)
    if backend == "cpu":
        wmin, wmax = g.min(axis=2), g.max(axis=2)
        rnd = np.rint
    else:
        wmin = np.minimum(g.min(axis=2), MAX_FINITE[dtype])
        wmax = np.maximum(g.max(axis=2), np.float32(0))
        rnd = round_half_away
    use_min = np.abs(wmin) > np.abs(wmax)
    scale = np.maximum((wmax - wmin) / n_bins, eps).astype(np.float32)
    scale = np.where(use_min, scale, -scale).astype(np.float32)
    edge = np.where(use_min, wmin, wmax).astype(np.float32)
    q0 = rnd(edge / scale).astype(np.float32)
    nz = q0 != 0
    safe_q0 = np.where(nz, q0, np.float32(1))
    scale = np.where(nz, edge / safe_q0, scale).astype(np.float32)
    bias = np.where(nz, edge, np.float32(0)).astype(np.float32)
    q = rnd((g - bias[..., None]) / scale[..., None]).astype(np.float32)
    q = np.minimum(np.maximum(q, np.float32(0)), n_bins).astype(np.uint32).reshape(rows, cols)
    bitplanes = ((q[..., None] >> np.arange(bits, dtype=np.uint32)) & 1).astype(np.uint8)
    packed = np.packbits(bitplanes.reshape(rows, cols * bits), axis=1, bitorder="little")
    return packed.tobytes(), encode(scale, dtype), encode(bias, dtype)


def main():
    src_dir, out_dir, backend = sys.argv[1], sys.argv[2], sys.argv[3]
    src = load_folder(src_dir)
    out = load_folder(out_dir)
    with open(os.path.join(out_dir, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(src_dir, "config.json")) as f:
        src_cfg = json.load(f)
    q = cfg.get("quantization")
    problems = []
    if q is not None and cfg.get("quantization_config") != q:
        problems.append("quantization_config differs from quantization")
    for k, v in src_cfg.items():
        if k not in ("_name_or_path", "vision_config") and cfg.get(k) != v:
            problems.append("config key %s changed" % k)
    if list(cfg.keys()) != sorted(cfg.keys()):
        problems.append("config.json keys are not sorted")
    index = os.path.join(out_dir, "model.safetensors.index.json")
    if not os.path.exists(index):
        problems.append("no model.safetensors.index.json")
    else:
        with open(index) as f:
            wm = json.load(f)["weight_map"]
        if sorted(wm) != sorted(out):
            problems.append("index weight_map does not list the tensors")
    nq = nk = 0
    expected_names = set()
    for name, (dtype, shape, raw) in src.items():
        w = to_f32(dtype, raw, shape)
        module = name[: -len(".weight")] if name.endswith(".weight") else None
        quantized = (q is not None and module is not None and len(shape) == 2
                     and shape[1] % q["group_size"] == 0)
        if quantized:
            params = q.get(module, {})
            bits = params.get("bits") or q["bits"]
            gs = params.get("group_size") or q["group_size"]
            names = [module + ".weight", module + ".scales", module + ".biases"]
            expected_names.update(names)
            if any(n not in out for n in names):
                problems.append("%s: quantized tensors missing" % module)
                continue
            t_dtype = out[module + ".scales"][0]
            exp = affine(round_to(w, t_dtype), bits, gs, backend, t_dtype)
            shapes = [[shape[0], shape[1] * bits // 32], [shape[0], shape[1] // gs], [shape[0], shape[1] // gs]]
            for n, e, s in zip(names, exp, shapes):
                got_dtype, got_shape, got = out[n]
                want_dtype = "U32" if n.endswith(".weight") else t_dtype
                if got_dtype != want_dtype or got_shape != s:
                    problems.append("%s: %s %s, want %s %s" % (n, got_dtype, got_shape, want_dtype, s))
                elif got != e:
                    diff = sum(1 for a, b in zip(got, e) if a != b)
                    problems.append("%s: %d of %d bytes differ" % (n, diff, len(e)))
            nq += 1
        else:
            expected_names.add(name)
            if name not in out:
                problems.append("%s: missing" % name)
                continue
            got_dtype, got_shape, got = out[name]
            if got_shape != shape:
                problems.append("%s: shape %s, want %s" % (name, got_shape, shape))
            elif got != encode(w, got_dtype):
                problems.append("%s: bytes differ from the %s cast" % (name, got_dtype))
            nk += 1
    extra = sorted(set(out) - expected_names)
    if extra:
        problems.append("unexpected tensors: %s" % extra[:5])
    print(json.dumps({"quantized": nq, "kept": nk, "problems": problems[:20]}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
