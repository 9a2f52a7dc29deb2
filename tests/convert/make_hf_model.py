#!/usr/bin/python3
"""Writes a small Hugging Face model folder for the converter tests.

Random weights with realistic aspect ratios, a real tokenizer (SentencePiece
trained here, or a byte-level BPE tokenizer.json learned here), config.json,
tokenizer_config.json, generation_config.json; one safetensors file or shards
with model.safetensors.index.json. Deterministic for a given --seed.

usage: make_hf_model.py --out DIR [--arch llama|mistral|qwen2|phi3] [--layers 2]
       [--hidden 256] [--heads 4] [--kv-heads 2] [--ff 512] [--vocab 320]
       [--tokenizer spm|bpe] [--dtype f32|f16|bf16] [--tied] [--shards 1] [--seed 1]
"""
import argparse
import json
import os
import random
import struct

import numpy as np

WORDS = ("the a of and to in is it model edge quant weight tensor layer format convert run fast "
         "small tiny byte token vocab merge rope norm attention head value key query output").split()


def corpus(seed, lines=3000):
    rng = random.Random(seed)
    return "\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 16))) for _ in range(lines))


def to_dtype(a, dtype):
    a = np.ascontiguousarray(a, dtype=np.float32)
    if dtype == "f32":
        return "F32", a.tobytes()
    if dtype == "f16":
        return "F16", a.astype(np.float16).tobytes()
    u = a.view(np.uint32).astype(np.uint64)
    b = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)  # round to nearest even
    return "BF16", b.tobytes()


def write_safetensors(path, tensors, dtype, metadata=None):
    """tensors: list of (name, float32 array). Reference layout: JSON header padded with
    spaces to a multiple of 8, data in header order."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, arr in tensors:
        st_dtype, raw = to_dtype(arr, dtype)
        header[name] = {"dtype": st_dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    return offset


def make_weights(a, rng):
    L, H, nh, nkv, F, V = a.layers, a.hidden, a.heads, a.kv_heads, a.ff, a.vocab
    hd = H // nh
    w = lambda *s: (rng.standard_normal(s) * 0.02).astype(np.float32)
    norm = lambda n: (1.0 + 0.01 * rng.standard_normal(n)).astype(np.float32)
    t = [("model.embed_tokens.weight", w(V, H))]
    for i in range(L):
        p = f"model.layers.{i}."
        t.append((p + "input_layernorm.weight", norm(H)))
        if a.arch == "phi3":
            t.append((p + "self_attn.qkv_proj.weight", w((nh + 2 * nkv) * hd, H)))
        else:
            t.append((p + "self_attn.q_proj.weight", w(nh * hd, H)))
            t.append((p + "self_attn.k_proj.weight", w(nkv * hd, H)))
            t.append((p + "self_attn.v_proj.weight", w(nkv * hd, H)))
            if a.arch == "qwen2":
                t.append((p + "self_attn.q_proj.bias", w(nh * hd)))
                t.append((p + "self_attn.k_proj.bias", w(nkv * hd)))
                t.append((p + "self_attn.v_proj.bias", w(nkv * hd)))
        t.append((p + "self_attn.o_proj.weight", w(H, nh * hd)))
        t.append((p + "post_attention_layernorm.weight", norm(H)))
        if a.arch == "phi3":
            t.append((p + "mlp.gate_up_proj.weight", w(2 * F, H)))
        else:
            t.append((p + "mlp.gate_proj.weight", w(F, H)))
            t.append((p + "mlp.up_proj.weight", w(F, H)))
        t.append((p + "mlp.down_proj.weight", w(H, F)))
    t.append(("model.norm.weight", norm(H)))
    if not a.tied:
        t.append(("lm_head.weight", w(V, H)))
    return t


def write_spm(a, out):
    import sentencepiece as spm
    text = os.path.join(out, ".corpus.txt")
    with open(text, "w") as f:
        f.write(corpus(a.seed))
    spm.SentencePieceTrainer.train(
        input=text, model_prefix=os.path.join(out, "tokenizer"), vocab_size=a.vocab, model_type="bpe",
        byte_fallback=True, character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        normalization_rule_name="identity", add_dummy_prefix=True, remove_extra_whitespaces=False,
        minloglevel=2)
    os.remove(text)
    os.remove(os.path.join(out, "tokenizer.vocab"))
    return {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, 1, 2


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def write_bpe(a, out):
    """Byte-level BPE (GPT-2/Llama-3 style) learned here: 256 byte symbols, merges
    until the vocabulary (minus 2 special tokens) is full."""
    b2u = bytes_to_unicode()
    words = {}
    for line in corpus(a.seed).split("\n"):
        for i, word in enumerate(line.split(" ")):
            token = ("Ġ" if i else "") + "".join(b2u[c] for c in word.encode())
            words[token] = words.get(token, 0) + 1
    vocab = {b2u[i]: i for i in range(256)}
    seqs = {w: list(w) for w in words}
    merges = []
    target = a.vocab - 2
    while len(vocab) < target:
        pairs = {}
        for w, s in seqs.items():
            for x, y in zip(s, s[1:]):
                pairs[(x, y)] = pairs.get((x, y), 0) + words[w]
        if not pairs:
            break
        (x, y), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append(f"{x} {y}")
        vocab[x + y] = len(vocab)
        for w, s in seqs.items():
            i, n = 0, []
            while i < len(s):
                if i + 1 < len(s) and s[i] == x and s[i + 1] == y:
                    n.append(x + y)
                    i += 2
                else:
                    n.append(s[i])
                    i += 1
            seqs[w] = n
    bos, eos = len(vocab), len(vocab) + 1
    added = [{"id": bos, "content": "<|begin_of_text|>", "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True},
             {"id": eos, "content": "<|end_of_text|>", "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True}]
    split = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
             "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
    tok = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": split}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": None, "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                                            "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": vocab, "merges": merges}}
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    a.vocab = eos + 1
    return {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"}, bos, eos


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--arch", default="llama", choices=["llama", "mistral", "qwen2", "phi3"])
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ff", type=int, default=512)
    ap.add_argument("--vocab", type=int, default=320)
    ap.add_argument("--tokenizer", default="spm", choices=["spm", "bpe"])
    ap.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16"])
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    special, bos, eos = write_spm(a, a.out) if a.tokenizer == "spm" else write_bpe(a, a.out)
    rng = np.random.default_rng(a.seed)
    tensors = make_weights(a, rng)

    if a.shards <= 1:
        write_safetensors(os.path.join(a.out, "model.safetensors"), tensors, a.dtype, {"format": "pt"})
    else:
        per = -(-len(tensors) // a.shards)
        weight_map, total = {}, 0
        for s in range(a.shards):
            part = tensors[s * per:(s + 1) * per]
            name = f"model-{s + 1:05d}-of-{a.shards:05d}.safetensors"
            total += write_safetensors(os.path.join(a.out, name), part, a.dtype, {"format": "pt"})
            for n, _ in part:
                weight_map[n] = name
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)

    arch_names = {"llama": ("LlamaForCausalLM", "llama"), "mistral": ("MistralForCausalLM", "mistral"),
                  "qwen2": ("Qwen2ForCausalLM", "qwen2"), "phi3": ("Phi3ForCausalLM", "phi3")}
    cls, model_type = arch_names[a.arch]
    cfg = {"architectures": [cls], "model_type": model_type, "hidden_size": a.hidden,
           "intermediate_size": a.ff, "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
           "num_key_value_heads": a.kv_heads, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "max_position_embeddings": 256, "vocab_size": a.vocab, "tie_word_embeddings": a.tied,
           "bos_token_id": bos, "eos_token_id": eos, "hidden_act": "silu",
           "torch_dtype": {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}[a.dtype]}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    tc = dict(special)
    tc.update({"add_bos_token": True, "add_eos_token": False, "model_max_length": 256,
               "chat_template": "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"})
    with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
        json.dump(tc, f, indent=2)
    with open(os.path.join(a.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": bos, "eos_token_id": eos}, f, indent=2)
    print(a.out)


if __name__ == "__main__":
    main()
