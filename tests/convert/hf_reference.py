#!/usr/bin/python3
"""Independent oracle for the converter tests: the Hugging Face forward pass of
a llama/mistral/qwen2/phi3 model folder in plain numpy (float64), straight from the
safetensors files with HF's own layout (rotate-half RoPE, no permutation).

usage: hf_reference.py MODEL_DIR '[token ids]'  → JSON list of the last position's logits
"""
import json
import os
import struct
import sys

import numpy as np


def load(folder):
    files = [f for f in os.listdir(folder) if f.endswith(".safetensors")]
    out = {}
    for f in files:
        with open(os.path.join(folder, f), "rb") as fh:
            n = struct.unpack("<Q", fh.read(8))[0]
            header = json.loads(fh.read(n))
            data = fh.read()
        for name, e in header.items():
            if name == "__metadata__":
                continue
            a, b = e["data_offsets"]
            raw = data[a:b]
            if e["dtype"] == "F32":
                x = np.frombuffer(raw, dtype="<f4")
            elif e["dtype"] == "F16":
                x = np.frombuffer(raw, dtype="<f2").astype(np.float32)
            elif e["dtype"] == "BF16":
                x = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
            else:
                raise SystemExit("dtype " + e["dtype"])
            out[name] = x.reshape(e["shape"]).astype(np.float64)
    return out


def rms(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def main():
    folder, tokens = sys.argv[1], json.loads(sys.argv[2])
    cfg = json.load(open(os.path.join(folder, "config.json")))
    W = load(folder)
    H, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or H // nh
    eps, theta = cfg["rms_norm_eps"], cfg.get("rope_theta", 10000.0)
    T = len(tokens)
    x = W["model.embed_tokens.weight"][tokens]
    inv = 1.0 / theta ** (np.arange(0, hd, 2) / hd)
    ang = np.outer(np.arange(T), inv)
    cos = np.concatenate([np.cos(ang)] * 2, axis=-1)
    sin = np.concatenate([np.sin(ang)] * 2, axis=-1)

    def rope(q):  # q: [heads, T, hd], HF rotate_half
        rot = np.concatenate([-q[..., hd // 2:], q[..., :hd // 2]], axis=-1)
        return q * cos + rot * sin

    mask = np.triu(np.full((T, T), -np.inf), 1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms(x, W[p + "input_layernorm.weight"], eps)

        if p + "self_attn.qkv_proj.weight" in W:  # phi3: fused [q; k; v] rows
            qkv = W[p + "self_attn.qkv_proj.weight"]
            W[p + "self_attn.q_proj.weight"] = qkv[:nh * hd]
            W[p + "self_attn.k_proj.weight"] = qkv[nh * hd:(nh + nkv) * hd]
            W[p + "self_attn.v_proj.weight"] = qkv[(nh + nkv) * hd:]
        if p + "mlp.gate_up_proj.weight" in W:  # phi3: fused [gate; up] rows
            gu = W[p + "mlp.gate_up_proj.weight"]
            W[p + "mlp.gate_proj.weight"], W[p + "mlp.up_proj.weight"] = gu[:len(gu) // 2], gu[len(gu) // 2:]

        def proj(n):
            y = h @ W[p + f"self_attn.{n}_proj.weight"].T
            b = W.get(p + f"self_attn.{n}_proj.bias")
            return y if b is None else y + b

        q = proj("q").reshape(T, nh, hd).transpose(1, 0, 2)
        k = proj("k").reshape(T, nkv, hd).transpose(1, 0, 2)
        v = proj("v").reshape(T, nkv, hd).transpose(1, 0, 2)
        q, k = rope(q), rope(k)
        k = np.repeat(k, nh // nkv, axis=0)
        v = np.repeat(v, nh // nkv, axis=0)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        o = (s @ v).transpose(1, 0, 2).reshape(T, nh * hd)
        x = x + o @ W[p + "self_attn.o_proj.weight"].T
        h = rms(x, W[p + "post_attention_layernorm.weight"], eps)
        g = h @ W[p + "mlp.gate_proj.weight"].T
        u = h @ W[p + "mlp.up_proj.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * u) @ W[p + "mlp.down_proj.weight"].T
    x = rms(x, W["model.norm.weight"], eps)
    head = W.get("lm_head.weight", W["model.embed_tokens.weight"])
    print(json.dumps((x[-1] @ head.T).tolist()))


if __name__ == "__main__":
    main()
