#!/usr/bin/python3
"""Independent oracle for the calibrator tests: ORT's calibration statistics
(specs/onnx.md §7.4) computed with numpy itself, so that numpy's histogram,
linspace, arange, cumsum and scalar promotion rules are the reference the C++
emulation is checked against.

Usage: calib_oracle.py SPEC.json  -> prints a JSON result on stdout.
SPEC: {"method": "minmax"|"percentile"|"entropy"|"distribution",
       "calls": [[path_of_f32_batch, ...], ...], options...}"""
import json
import sys

import numpy as np


def load(path):
    return np.fromfile(path, dtype=np.float32)


def minmax(spec):
    rng = None
    for call in spec["calls"]:
        outs = [np.array([b.min()]) for b in map(load, call)], [np.array([b.max()]) for b in map(load, call)]
        if spec.get("moving_average"):
            lo, hi = np.mean(outs[0], axis=0), np.mean(outs[1], axis=0)
        else:
            lo, hi = np.min(outs[0], axis=0), np.max(outs[1], axis=0)
        if spec.get("symmetric"):
            m = max(np.abs(lo), np.abs(hi))
            lo, hi = -m, m
        if rng is None:
            rng = (lo, hi)
        elif spec.get("moving_average"):
            c = spec.get("averaging_constant", 0.01)
            rng = (rng[0] + c * (lo - rng[0]), rng[1] + c * (hi - rng[1]))
        else:
            rng = (min(rng[0], lo), max(rng[1], hi))
    return {"lowest": float(np.float32(rng[0][0])).hex(), "highest": float(np.float32(rng[1][0])).hex()}


class Collector:
    def __init__(self, spec):
        # create_calibrator's defaults: entropy 128 bins, percentile and
        # distribution 2048; percentile is symmetric unless told otherwise.
        self.spec = dict(spec)
        self.spec.setdefault("num_bins", 128 if spec["method"] == "entropy" else 2048)
        self.h = None

    def collect(self, arrays):
        data = np.asarray(arrays).flatten()
        if self.spec["method"] == "percentile" and self.spec.get("symmetric", True):
            self.collect_abs(data)
        else:
            self.collect_value(data)

    def collect_abs(self, data):
        mn, mx = np.min(data), np.max(data)
        data = np.absolute(data)
        if self.h is None:
            hist, edges = np.histogram(data, bins=self.spec["num_bins"])
            self.h = (hist, edges.astype(data.dtype), mn, mx)
            return
        old_hist, old_edges, old_min, old_max = self.h
        amax = np.max(data)
        if amax > old_edges[-1]:
            width = old_edges[1] - old_edges[0]
            old_edges = np.hstack((old_edges, np.arange(old_edges[-1] + width, amax + width, width)))
        hist, edges = np.histogram(data, bins=old_edges)
        hist[: len(old_hist)] += old_hist
        self.h = (hist, edges.astype(data.dtype), min(old_min, mn), max(old_max, mx))

    def collect_value(self, data):
        mn, mx = np.min(data), np.max(data)
        thr = max(abs(mn), abs(mx))
        if self.h is None:
            hist, edges = np.histogram(data, self.spec["num_bins"], range=(-thr, thr))
            self.h = (hist, edges, mn, mx, thr)
            return
        old_hist, old_edges, old_min, old_max, old_thr = self.h
        if thr <= old_thr:
            hist, _ = np.histogram(data, len(old_hist), range=(-old_thr, old_thr))
            self.h = (hist + old_hist, old_edges, min(old_min, mn), max(old_max, mx), old_thr)
            return
        if old_thr == 0:
            hist, edges = np.histogram(data, len(old_hist), range=(-thr, thr))
            hist += old_hist
        else:
            n_old = len(old_hist)
            stride = 2 * old_thr / n_old
            half = int((thr - old_thr) // stride + 1)
            n_new = n_old + 2 * half
            thr = half * stride + old_thr
            hist, edges = np.histogram(data, n_new, range=(-thr, thr))
            hist[half: n_new - half] += old_hist
        self.h = (hist, edges, min(old_min, mn), max(old_max, mx), thr)


def smooth(p, eps=0.0001):
    zeros = (p == 0).astype(np.float32)
    nonzeros = (p != 0).astype(np.float32)
    nz = zeros.sum()
    nn = p.size - nz
    if not nn:
        return None
    eps1 = eps * float(nz) / float(nn)
    if not eps1 < 1.0:
        return None
    out = p.astype(np.float32)
    out += eps * zeros + (-eps1) * nonzeros
    return out


def kl(p, q):
    # scipy.stats.entropy(p, q) with rel_entr evaluated in float64.
    p = 1.0 * p / np.sum(p, axis=0, keepdims=True)
    q = 1.0 * q / np.sum(q, axis=0, keepdims=True)
    x, y = p.astype(np.float64), q.astype(np.float64)
    return np.sum((x * np.log(x / y)).astype(np.float32), axis=0)


def entropy(h, nq):
    hist, edges, mn, mx = h[0], h[1], h[2], h[3]
    nb = hist.size
    zero = nb // 2
    hq = nq // 2
    kls = np.zeros(zero - hq + 1)
    thrs = []
    for i in range(hq, zero + 1):
        start = zero - i
        end = min(zero + i + 1, nb)
        thrs.append((float(edges[start]), float(edges[end])))
        sliced = hist[start:end].copy()
        p = sliced.copy()
        p[0] += hist[:start].sum()
        p[-1] += hist[end:].sum()
        nonzeros = (p != 0).astype(np.int64)
        merged = sliced.size // nq
        qb = np.zeros(nq, dtype=np.int64)
        for b in range(nq):
            qb[b] = sliced[b * merged:(b + 1) * merged].sum()
        qb[-1] += sliced[nq * merged:].sum()
        q = np.zeros(p.size, dtype=np.int64)
        for b in range(nq):
            norm = nonzeros[b * merged:(b + 1) * merged].sum()
            if norm != 0:
                q[b * merged:(b + 1) * merged] = float(qb[b]) / float(norm)
        ps, qs = smooth(p), smooth(q)
        kls[i - hq] = kl(ps, qs) if ps is not None and qs is not None else float("inf")
    lo, hi = thrs[int(np.argmin(kls))]
    if lo < mn:
        lo = mn
    if hi > mx:
        hi = mx
    return lo, hi


def percentile(h, spec):
    hist, edges, mn, mx = h[0], h[1], h[2], h[3]
    cdf = np.cumsum(hist / hist.sum())
    p = spec.get("percentile", 99.999)
    if spec.get("symmetric", True):
        i = np.searchsorted(cdf, p / 100.0)
        lo, hi = -edges[i], edges[i]
    else:
        cut = (100.0 - p) / 200.0
        lo, hi = edges[np.searchsorted(cdf, cut)], edges[np.searchsorted(cdf, 1.0 - cut)]
    if lo < mn:
        lo = mn
    if hi > mx:
        hi = mx
    return lo, hi


def avg_std(h, power):
    hist, edges = h[0], h[1]
    values = (edges[:-1] + edges[1:]) * 0.5
    if power != 1:
        fact = np.abs(values) / values
        fact[np.isnan(fact)] = 1
        fact[np.isinf(fact)] = 1
        values = np.abs(values) ** power * fact
    avg = (hist * values).sum() / hist.sum()
    std = ((hist * values**2).sum() / hist.sum() - avg**2) ** 0.5
    return np.float32(avg), np.float32(std)


def std_f8():
    # np.std over every finite FLOAT8E4M3FN value (bias 7, S.1111.111 = NaN).
    vals = []
    for b in range(256):
        s, e, m = b >> 7, (b >> 3) & 15, b & 7
        if e == 15 and m == 7:
            continue
        v = (m / 8.0) * 2.0 ** -6 if e == 0 else (1 + m / 8.0) * 2.0 ** (e - 7)
        vals.append(-v if s else v)
    return np.std(np.array(vals, dtype=np.float32))


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    if spec["method"] == "minmax":
        print(json.dumps(minmax(spec)))
        return
    c = Collector(spec)
    for call in spec["calls"]:
        c.collect([load(p) for p in call])
    out = {"hist": [int(v) for v in c.h[0]], "edges": [float(np.float32(e)).hex() for e in c.h[1]]}
    if spec["method"] == "distribution":
        a, s = avg_std(c.h, 1 if spec.get("scenario", "same") == "same" else 1.0 / 3.0)
        out.update(avg=float(a).hex(), std=float(s).hex(), std_f8=float(std_f8()).hex())
    else:
        lo, hi = entropy(c.h, spec.get("num_quantized_bins", 128)) if spec["method"] == "entropy" else percentile(c.h, spec)
        out.update(lowest=float(np.float32(lo)).hex(), highest=float(np.float32(hi)).hex())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
