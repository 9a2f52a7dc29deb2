// Weight-only quantization of ONNX models (`edgequant quantize-onnx`): MatMul
// weights become com.microsoft MatMulNBits as ONNX Runtime's
// matmul_nbits_quantizer writes them, or DequantizeLinear -> MatMul; and a
// GGUF Q4_0/Q8_0 weight becomes a MatMulNBits initializer without
// re-quantizing (specs/onnx.md §4, §6; docs/onnx.md "Quantizing").
#pragma once

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "edgequant/core/config.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/formats/onnx.hpp"
#include "edgequant/planes.hpp"
#include "edgequant/schemes/onnx_qdq.hpp"
#include "edgequant/schemes/ort_matmul_nbits.hpp"
#include "edgequant/transcode.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant::onnx {

enum class WeightFormat : std::uint8_t {
  kMatMulNBits,  // com.microsoft MatMulNBits (ORT's QOperator output, §6.4)
  kQdq,          // DequantizeLinear(int4/int8 weight) -> MatMul (§4)
};

struct WeightQuantOptions {
  WeightFormat format = WeightFormat::kMatMulNBits;
  int bits = 4;               // MatMulNBits: 2, 4, 8; QDQ: 4, 8
  std::size_t block = 32;     // along K; ORT's quantizer CLI default
  bool symmetric = true;      // ORT's quantizer CLI default
  bool per_channel = false;   // QDQ only: one scale per output column (axis 1)
  // MatMulNBits attribute, written only when set (ORT's quantizer writes it
  // when given, 0 included; §6.1).
  std::optional<std::int64_t> accuracy_level;
  unsigned threads = 0;             // 0: all hardware threads; bytes never depend on it
  std::vector<std::string> nodes_to_exclude;
  // Also Gather on a constant 2-D float32 table (embeddings) -> com.microsoft
  // GatherBlockQuantized, 4 bits, blocks along the last axis (ORT's quantizer
  // with op_types_to_quantize including Gather; MatMulNBits format only, §6.5).
  bool gather = false;
  // Called as each weight is quantized (while the output is written).
  std::function<void(const std::string& weight)> on_weight;
};

// One MatMul (or Gather) of the model and what happens to it.
struct PlanItem {
  std::string node;    // node name, or "(output <name>)" when unnamed
  std::string op_type;
  std::string weight;  // input that holds the weight
  std::vector<std::int64_t> shape;
  bool rewritten = false;
  std::string note;                 // what it becomes, or why it is left alone
  std::uint64_t bytes_before = 0;   // weight payload (0 when shared and counted before)
  std::uint64_t bytes_after = 0;    // payload of the initializers added for it
};

struct WeightQuantReport {
  std::vector<PlanItem> items;
  RewriteReport rewrite;
};

inline Status check_options(const WeightQuantOptions& o) {
  if (o.format == WeightFormat::kMatMulNBits) {
    if (o.bits != 2 && o.bits != 4 && o.bits != 8)
      return make_error(Errc::kBadArgument, "MatMulNBits bits must be 2, 4 or 8 (got " +
                                                std::to_string(o.bits) + ")");
    if (o.block < 16 || o.block > 256 || (o.block & (o.block - 1)) != 0)
      return make_error(Errc::kBadArgument,
                        "MatMulNBits block size must be 16, 32, 64, 128 or 256 (got " +
                            std::to_string(o.block) +
                            "): ORT's quantizer leaves other sizes zero-filled (§6.1)");
    if (o.per_channel)
      return make_error(Errc::kBadArgument, "--per-channel applies to the qdq format only");
    if (o.gather && o.bits != 4)
      return make_error(Errc::kBadArgument, "GatherBlockQuantized is emitted with 4 bits only");
    if (o.accuracy_level && (*o.accuracy_level < 0 || *o.accuracy_level > 4))
      return make_error(Errc::kBadArgument, "accuracy_level must be 0..4 (got " +
                                                std::to_string(*o.accuracy_level) + ")");
  } else {
    if (o.bits != 4 && o.bits != 8)
      return make_error(Errc::kBadArgument,
                        "QDQ bits must be 4 or 8 (got " + std::to_string(o.bits) + ")");
    if (!o.per_channel && o.block < 2)
      return make_error(Errc::kBadArgument, "QDQ block size must be >= 2 (or use --per-channel)");
    if (o.accuracy_level)
      return make_error(Errc::kBadArgument, "accuracy_level applies to MatMulNBits only");
    if (o.gather)
      return make_error(Errc::kBadArgument,
                        "Gather is quantized with the matmulnbits format only (as ORT's quantizer)");
  }
  return {};
}

namespace detail {

inline FloatType weight_float_type(const Tensor& w) {
  return w.data_type == static_cast<std::int32_t>(DataType::kFloat16) ? FloatType::kF16
                                                                      : FloatType::kF32;
}

inline std::string node_label(const Node& n) {
  if (!n.name.empty()) return n.name;
  return "(output " + (n.output.empty() ? std::string("?") : n.output[0]) + ")";
}

// Bytes produced once and handed out plane by plane: the first plane's
// producer computes all of them; they are freed after the last is written, so
// only one weight's quantized form is in memory at a time.
struct PlaneJob {
  std::function<Expected<std::vector<std::vector<std::uint8_t>>>()> compute;
  std::vector<std::vector<std::uint8_t>> planes;
  std::size_t emitted = 0;
  bool done = false;

  Status emit(std::size_t p, const ChunkSink& sink) {
    if (!done) {
      auto r = compute();
      if (!r) return std::move(r).error();
      planes = std::move(*r);
      done = true;
    }
    EDGEQUANT_TRY(sink(std::as_bytes(std::span<const std::uint8_t>(planes[p]))));
    if (++emitted == planes.size()) {
      planes = {};
      planes.shrink_to_fit();
    }
    return {};
  }
};

inline Tensor job_tensor(std::shared_ptr<PlaneJob> job, std::size_t p, std::string name,
                         DataType dt, std::vector<std::int64_t> dims, std::uint64_t size) {
  return build::lazy_tensor(std::move(name), dt, std::move(dims), size,
                            [job, p](const ChunkSink& s) { return job->emit(p, s); });
}

// W [K, N] (ONNX MatMul B) as float32 rows of W^T [N, K].
inline Expected<std::vector<float>> transposed_floats(const Tensor& w) {
  auto f = to_floats(w);
  if (!f) return std::move(f).error();
  const auto K = static_cast<std::size_t>(w.dims[0]), N = static_cast<std::size_t>(w.dims[1]);
  std::vector<float> t(K * N);
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t n = 0; n < N; ++n) t[n * K + k] = (*f)[k * N + n];
  return t;
}

inline Status non_finite_check(const std::vector<float>& f, const Tensor& w) {
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (!std::isfinite(f[i])) {
      const auto N = static_cast<std::size_t>(w.dims[1]);
      return make_error(Errc::kNonFinite, "weight '" + w.name + "' has a non-finite value at [" +
                                              std::to_string(i / N) + ", " +
                                              std::to_string(i % N) + "]");
    }
  }
  return {};
}

// ---------------------------------------------------------------- QDQ -------
// ORT's quantize_qdq_matmul_4bits (MlasQDQQuantizeBlockwise, §6.4): the
// MatMulNBits scale / zero point, codes round-then-add-zp; signed when
// symmetric. Values are W [K, N] row-major, blocks along K per column.
// Returns codes (one per element, two's complement low bits), scales
// [nb, N] as T, zero points [nb, N].
struct QdqResult {
  std::vector<std::uint8_t> codes;  // [K, N] row-major, low `bits` bits significant
  std::vector<std::uint8_t> scales; // bytes of T
  std::vector<std::uint8_t> zps;    // [groups] unsigned (asymmetric only)
};

inline QdqResult qdq_mlas4(const std::vector<float>& w, std::size_t K, std::size_t N,
                           std::size_t block, bool sym, FloatType t) {
  const std::size_t nb = (K + block - 1) / block, tb = float_type_bytes(t);
  QdqResult r;
  r.codes.assign(K * N, 0);
  r.scales.assign(nb * N * tb, 0);
  if (!sym) r.zps.assign(nb * N, 0);
  for (std::size_t b = 0; b < nb; ++b) {
    const std::size_t k0 = b * block, k1 = std::min(K, k0 + block);
    for (std::size_t n = 0; n < N; ++n) {
      float mn = FLT_MAX, mx = -FLT_MAX;
      for (std::size_t k = k0; k < k1; ++k) {
        mn = std::min(mn, w[k * N + n]);
        mx = std::max(mx, w[k * N + n]);
      }
      const auto bp = sym ? ort::nbits_params<4, true>(mn, mx) : ort::nbits_params<4, false>(mn, mx);
      std::uint8_t* sp = r.scales.data() + (b * N + n) * tb;
      store_float(t, bp.scale_f, sp);
      const float s = load_float(t, sp);
      const float rcp = s != 0.0f ? 1.0f / s : 0.0f;
      for (std::size_t k = k0; k < k1; ++k) {
        const float q0 = std::round(w[k * N + n] * rcp);
        int q;
        if (sym) {
          q = std::isnan(q0) ? 0 : static_cast<int>(std::clamp(q0, -8.0f, 7.0f));
        } else {
          const float qz = q0 + static_cast<float>(bp.zp);
          q = std::isnan(qz) ? 0 : static_cast<int>(std::clamp(qz, 0.0f, 15.0f));
        }
        r.codes[k * N + n] = static_cast<std::uint8_t>(q & 15);
      }
      if (!sym) r.zps[b * N + n] = bp.zp;
    }
  }
  return r;
}

// ORT's static-quantization weight arithmetic (quantize_data, §7.3) per group:
// per channel (one group per column n) or per block of `block` rows of a
// column. Scale stored as T first, codes from the stored scale.
inline QdqResult qdq_static(const std::vector<float>& w, std::size_t K, std::size_t N,
                            std::size_t block, bool per_channel, QType qt, bool sym,
                            FloatType t) {
  const QTypeInfo info = qtype_info(qt);
  const std::size_t kb = per_channel ? K : block;
  const std::size_t nb = (K + kb - 1) / kb, tb = float_type_bytes(t);
  QdqResult r;
  r.codes.assign(K * N, 0);
  r.scales.assign(nb * N * tb, 0);
  if (!sym) r.zps.assign(nb * N, 0);
  std::vector<float> g;
  for (std::size_t b = 0; b < nb; ++b) {
    const std::size_t k0 = b * kb, k1 = std::min(K, k0 + kb);
    for (std::size_t n = 0; n < N; ++n) {
      g.clear();
      for (std::size_t k = k0; k < k1; ++k) g.push_back(w[k * N + n]);
      const ScaleZp sz = weight_scale_zp(g, qt, sym);
      std::uint8_t* sp = r.scales.data() + (b * N + n) * tb;
      store_float(t, sz.scale, sp);
      const float s = load_float(t, sp);
      for (std::size_t k = k0; k < k1; ++k) {
        const std::int32_t q = quantize_value(w[k * N + n], s, sz.zero_point, info, true);
        r.codes[k * N + n] = static_cast<std::uint8_t>(q & ((1 << info.bits) - 1));
      }
      if (!sym) r.zps[b * N + n] = static_cast<std::uint8_t>(sz.zero_point);
    }
  }
  return r;
}

// ORT's quantize_ndarray for GatherBlockQuantized (numpy, §6.5): table
// [R, C] in blocks of `block` along C; float32 arithmetic, round half to even.
// Symmetric: scale = m / -8 (m the signed extreme of larger magnitude), signed
// codes; asymmetric: range widened to 0, scale = (mx - mn) / 15, zp and codes
// unsigned; a zero scale gives codes 0 (sym) or 8 with zp 8 (asym).
inline QdqResult gather_blocks(const std::vector<float>& w, std::size_t R, std::size_t C,
                               std::size_t block, bool sym) {
  const std::size_t nb = (C + block - 1) / block;
  QdqResult r;
  r.codes.assign(R * C, 0);
  r.scales.assign(R * nb * 4, 0);
  if (!sym) r.zps.assign(R * nb, 0);
  for (std::size_t row = 0; row < R; ++row) {
    for (std::size_t b = 0; b < nb; ++b) {
      const std::size_t c0 = b * block, c1 = std::min(C, c0 + block);
      float mn = w[row * C + c0], mx = mn;
      for (std::size_t c = c0; c < c1; ++c) {
        mn = std::min(mn, w[row * C + c]);
        mx = std::max(mx, w[row * C + c]);
      }
      float scale;
      int zp = 0;
      if (sym) {
        const float m = std::fabs(mx) > std::fabs(mn) ? mx : mn;
        scale = m / -8.0f;
      } else {
        mn = std::min(mn, 0.0f);
        mx = std::max(mx, 0.0f);
        scale = (mx - mn) / 15.0f;
        zp = scale == 0.0f ? 8
                           : static_cast<int>(std::clamp(std::nearbyint(-mn / scale), 0.0f, 15.0f));
      }
      for (std::size_t c = c0; c < c1; ++c) {
        int q;
        if (sym) {
          q = scale == 0.0f
                  ? 0
                  : static_cast<int>(std::clamp(std::nearbyint(w[row * C + c] / scale), -8.0f, 7.0f));
        } else {
          q = scale == 0.0f ? 8
                            : static_cast<int>(std::clamp(
                                  std::nearbyint(w[row * C + c] / scale + static_cast<float>(zp)),
                                  0.0f, 15.0f));
        }
        r.codes[row * C + c] = static_cast<std::uint8_t>(q & 15);
      }
      store_float(FloatType::kF32, scale, r.scales.data() + (row * nb + b) * 4);
      if (!sym) r.zps[row * nb + b] = static_cast<std::uint8_t>(zp);
    }
  }
  return r;
}

inline std::vector<std::uint8_t> pack_codes(const std::vector<std::uint8_t>& c, int bits) {
  if (bits == 8) return c;
  std::vector<std::uint8_t> out((c.size() * static_cast<std::size_t>(bits) + 7) / 8);
  edgequant::pack_bits(c.data(), c.size(), bits, out.data());
  return out;
}

class Quantizer {
 public:
  explicit Quantizer(const WeightQuantOptions& o) : o_(o) {}

  Expected<std::optional<Replacement>> operator()(const Node& n, const Tensor& w) {
    PlanItem it;
    it.node = node_label(n);
    it.op_type = n.op_type;
    it.weight = w.name;
    it.shape = w.dims;
    const bool is_float = w.data_type == static_cast<std::int32_t>(DataType::kFloat) ||
                          w.data_type == static_cast<std::int32_t>(DataType::kFloat16);
    if (n.op_type == "Gather") {
      std::int64_t axis = 0;
      for (const auto& a : n.attribute)
        if (a.name == "axis") axis = a.i;
      if (w.dims.size() != 2) {
        it.note = "kept: Gather table is " + std::to_string(w.dims.size()) + "-D (2-D only)";
      } else if (w.data_type != static_cast<std::int32_t>(DataType::kFloat)) {
        it.note = "kept: Gather table type " + std::string(data_type_name(w.data_type)) +
                  " (float32 only)";
      } else if (axis != 0) {
        it.note = "kept: Gather axis " + std::to_string(axis) + " (axis 0 only)";
      } else if (w.dims[0] <= 0 || w.dims[1] <= 0) {
        it.note = "kept: empty table";
      }
    } else if (w.dims.size() != 2) {
      it.note = "skipped: weight is " + std::to_string(w.dims.size()) +
                "-D (ORT's quantizer takes 2-D weights only)";
    } else if (!is_float) {
      it.note = "skipped: weight type " + std::string(data_type_name(w.data_type)) +
                " (float and float16 only)";
    } else if (w.dims[0] <= 0 || w.dims[1] <= 0) {
      it.note = "skipped: empty weight";
    }
    if (!it.note.empty()) {
      items_.push_back(std::move(it));
      return std::optional<Replacement>();
    }
    auto rep = n.op_type == "Gather"                       ? gbq(n, w)
               : o_.format == WeightFormat::kMatMulNBits ? nbits(n, w)
                                                         : qdq(n, w);
    if (!rep) return std::move(rep).error();
    it.rewritten = true;
    it.note = note_;
    if (counted_.insert(w.name).second) it.bytes_before = w.payload_size();
    for (const auto& t : rep->initializers) {
      if (added_.insert(t.name).second) it.bytes_after += t.payload_size();
    }
    items_.push_back(std::move(it));
    return std::optional<Replacement>(std::move(*rep));
  }

  std::vector<PlanItem>& items() { return items_; }

 private:
  Expected<Replacement> nbits(const Node& n, const Tensor& w) {
    const std::int64_t K = w.dims[0], N = w.dims[1];
    const std::string sname = "ort:nbits" + std::to_string(o_.bits) + ":b" +
                              std::to_string(o_.block) + (o_.symmetric ? ":sym" : ":asym");
    const PlaneSchemeInfo* s = find_plane_scheme(sname);
    if (!s) return make_error(Errc::kUnsupported, "no plane scheme " + sname);
    const FloatType t = weight_float_type(w);
    const PlaneSpecs specs = s->planes(static_cast<std::size_t>(N), static_cast<std::size_t>(K), t);
    const std::size_t nb = (static_cast<std::size_t>(K) + o_.block - 1) / o_.block;
    const std::size_t blob = o_.block * static_cast<std::size_t>(o_.bits) / 8;
    auto job = std::make_shared<PlaneJob>();
    const Tensor wt = w;
    const WeightQuantOptions o = o_;
    job->compute = [wt, s, t, o]() -> Expected<std::vector<std::vector<std::uint8_t>>> {
      if (o.on_weight) o.on_weight(wt.name);
      auto f = transposed_floats(wt);
      if (!f) return std::move(f).error();
      PlaneOptions po;
      po.dtype = t;
      po.threads = o.threads;
      auto q = quantize_planes(*s, *f, static_cast<std::size_t>(wt.dims[0]), po);
      if (!q) {
        Error e = std::move(q).error();
        e.what = "weight '" + wt.name + "' (rows are output columns n of W^T): " + e.what;
        return e;
      }
      std::vector<std::vector<std::uint8_t>> out;
      for (std::size_t p = 0; p < kMaxPlanes; ++p) {
        if (q->specs[p].row_bytes) out.push_back(std::move(q->data[p]));
      }
      return out;
    };
    const std::string qn = w.name + "_Q" + std::to_string(o_.bits);
    const DataType st = t == FloatType::kF16 ? DataType::kFloat16 : DataType::kFloat;
    Replacement r;
    r.initializers.push_back(job_tensor(job, 0, qn, DataType::kUint8,
                                        {N, static_cast<std::int64_t>(nb),
                                         static_cast<std::int64_t>(blob)},
                                        specs[0].file_bytes(static_cast<std::size_t>(N))));
    r.initializers.push_back(job_tensor(job, 1, w.name + "_scales", st,
                                        {N * static_cast<std::int64_t>(nb)},
                                        specs[1].file_bytes(static_cast<std::size_t>(N))));
    std::vector<std::string> inputs{n.input[0], qn, w.name + "_scales"};
    if (!o_.symmetric) {
      const std::uint64_t zb = specs[2].file_bytes(static_cast<std::size_t>(N));
      r.initializers.push_back(job_tensor(job, 2, w.name + "_zero_points", DataType::kUint8,
                                          {static_cast<std::int64_t>(zb)}, zb));
      inputs.push_back(w.name + "_zero_points");
    }
    std::vector<Attribute> attrs{build::attr("K", K), build::attr("N", N),
                                 build::attr("bits", o_.bits),
                                 build::attr("block_size", static_cast<std::int64_t>(o_.block))};
    if (o_.accuracy_level) attrs.push_back(build::attr("accuracy_level", *o_.accuracy_level));
    r.nodes.push_back(build::node("MatMulNBits", std::move(inputs), {n.output[0]}, std::move(attrs),
                                  n.name.empty() ? "" : n.name + "_Q" + std::to_string(o_.bits),
                                  "com.microsoft"));
    r.opsets.push_back(build::opset("com.microsoft", 1));
    note_ = "MatMulNBits bits=" + std::to_string(o_.bits) + " block=" + std::to_string(o_.block) +
            (o_.symmetric ? " sym" : " asym");
    return r;
  }

  Expected<Replacement> gbq(const Node& n, const Tensor& w) {
    const std::int64_t R = w.dims[0], C = w.dims[1];
    const std::int64_t nb = (C + static_cast<std::int64_t>(o_.block) - 1) /
                            static_cast<std::int64_t>(o_.block);
    const DataType qdt = o_.symmetric ? DataType::kInt4 : DataType::kUint4;
    auto job = std::make_shared<PlaneJob>();
    const Tensor wt = w;
    const WeightQuantOptions o = o_;
    job->compute = [wt, o]() -> Expected<std::vector<std::vector<std::uint8_t>>> {
      if (o.on_weight) o.on_weight(wt.name);
      auto f = to_floats(wt);
      if (!f) return std::move(f).error();
      EDGEQUANT_TRY(non_finite_check(*f, wt));
      QdqResult q = gather_blocks(*f, static_cast<std::size_t>(wt.dims[0]),
                                  static_cast<std::size_t>(wt.dims[1]), o.block, o.symmetric);
      std::vector<std::vector<std::uint8_t>> out;
      out.push_back(pack_codes(q.codes, 4));
      out.push_back(std::move(q.scales));
      if (!o.symmetric) out.push_back(pack_codes(q.zps, 4));
      return out;
    };
    const std::string qn = w.name + "_Q4", sn = w.name + "_scales", zn = w.name + "_zero_points";
    const auto packed = [](std::int64_t count) { return static_cast<std::uint64_t>((count + 1) / 2); };
    Replacement r;
    r.initializers.push_back(job_tensor(job, 0, qn, qdt, {R, C}, packed(R * C)));
    r.initializers.push_back(job_tensor(job, 1, sn, DataType::kFloat, {R, nb},
                                        static_cast<std::uint64_t>(R * nb * 4)));
    std::vector<std::string> in{qn, n.input[1], sn};
    if (!o_.symmetric) {
      r.initializers.push_back(job_tensor(job, 2, zn, qdt, {R, nb}, packed(R * nb)));
      in.push_back(zn);
    }
    r.nodes.push_back(build::node("GatherBlockQuantized", std::move(in), {n.output[0]},
                                  {build::attr("gather_axis", 0), build::attr("quantize_axis", 1),
                                   build::attr("block_size", static_cast<std::int64_t>(o_.block))},
                                  n.name.empty() ? "" : n.name + "_Q4", "com.microsoft"));
    r.opsets.push_back(build::opset("com.microsoft", 1));
    r.min_ir_version = 10;  // INT4/UINT4 initializers (§3)
    note_ = std::string("GatherBlockQuantized ") + (o_.symmetric ? "int4" : "uint4") +
            " block=" + std::to_string(o_.block) + " along the last axis";
    return r;
  }

  Expected<Replacement> qdq(const Node& n, const Tensor& w) {
    const std::int64_t K = w.dims[0], N = w.dims[1];
    const FloatType t = weight_float_type(w);
    const bool mlas = o_.bits == 4 && !o_.per_channel;  // ORT's own int4 QDQ path
    const QType qt = o_.bits == 4 ? (o_.symmetric ? QType::kInt4 : QType::kUInt4)
                                  : (o_.symmetric ? QType::kInt8 : QType::kUInt8);
    const DataType qdt = static_cast<DataType>(static_cast<std::int32_t>(qt));
    const std::int64_t nb =
        o_.per_channel ? 1 : (K + static_cast<std::int64_t>(o_.block) - 1) /
                                 static_cast<std::int64_t>(o_.block);
    const std::size_t groups = static_cast<std::size_t>(nb * N);
    const std::size_t tb = float_type_bytes(t);
    auto job = std::make_shared<PlaneJob>();
    const Tensor wt = w;
    const WeightQuantOptions o = o_;
    job->compute = [wt, t, o, mlas, qt]() -> Expected<std::vector<std::vector<std::uint8_t>>> {
      if (o.on_weight) o.on_weight(wt.name);
      auto f = to_floats(wt);
      if (!f) return std::move(f).error();
      EDGEQUANT_TRY(non_finite_check(*f, wt));
      const auto K = static_cast<std::size_t>(wt.dims[0]), N = static_cast<std::size_t>(wt.dims[1]);
      QdqResult q = mlas ? qdq_mlas4(*f, K, N, o.block, o.symmetric, t)
                         : qdq_static(*f, K, N, o.block, o.per_channel, qt, o.symmetric, t);
      for (std::size_t i = 0; i < q.scales.size(); i += float_type_bytes(t)) {
        if (!std::isfinite(load_float(t, q.scales.data() + i)))
          return make_error(Errc::kOverflow,
                            "weight '" + wt.name + "': a scale overflows " +
                                std::string(float_type_name(t)));
      }
      std::vector<std::vector<std::uint8_t>> out;
      out.push_back(pack_codes(q.codes, o.bits));
      out.push_back(std::move(q.scales));
      if (!o.symmetric) out.push_back(pack_codes(q.zps, o.bits));
      return out;
    };
    const std::string base = w.name + "_DQ_Q" + std::to_string(o_.bits);
    const std::string sn = w.name + "_DQ_scales", zn = w.name + "_DQ_zero_points";
    const DataType st = t == FloatType::kF16 ? DataType::kFloat16 : DataType::kFloat;
    std::vector<std::int64_t> sdims =
        o_.per_channel ? std::vector<std::int64_t>{N} : std::vector<std::int64_t>{nb, N};
    const auto packed = [&](std::size_t count) {
      return static_cast<std::uint64_t>((count * static_cast<std::size_t>(o_.bits) + 7) / 8);
    };
    Replacement r;
    r.initializers.push_back(job_tensor(job, 0, base, qdt, {K, N},
                                        packed(static_cast<std::size_t>(K * N))));
    r.initializers.push_back(job_tensor(job, 1, sn, st, sdims, groups * tb));
    std::vector<std::string> dq_in{base, sn};
    if (!o_.symmetric) {
      r.initializers.push_back(job_tensor(job, 2, zn, qdt, sdims, packed(groups)));
      dq_in.push_back(zn);
    }
    // A weight shared by several MatMuls gets one DequantizeLinear per node;
    // their outputs need distinct names.
    const std::size_t use = uses_[w.name]++;
    const std::string dq_out = base + "_output" + (use ? "_" + std::to_string(use) : "");
    std::vector<Attribute> attrs{build::attr("axis", o_.per_channel ? 1 : 0)};
    if (!o_.per_channel) attrs.push_back(build::attr("block_size", static_cast<std::int64_t>(o_.block)));
    const std::string tag = "_Q" + std::to_string(o_.bits);
    r.nodes.push_back(build::node("DequantizeLinear", std::move(dq_in), {dq_out}, std::move(attrs),
                                  n.name.empty() ? "" : n.name + "_DQ" + tag));
    r.nodes.push_back(build::node("MatMul", {n.input[0], dq_out}, {n.output[0]}, {},
                                  n.name.empty() ? "" : n.name + "_matmul" + tag));
    // Blocked and 4-bit Q/DQ need opset 21 (IR 10); per-axis int8 needs 13.
    const bool v21 = o_.bits == 4 || !o_.per_channel;
    r.opsets.push_back(build::opset("", v21 ? 21 : 13));
    r.min_ir_version = v21 ? 10 : 7;
    note_ = std::string("DequantizeLinear ") + std::string(qtype_info(qt).name) +
            (o_.per_channel ? " per-channel" : " block=" + std::to_string(o_.block)) +
            (mlas ? " (ORT MLAS QDQ arithmetic)" : " (ORT static-quantization arithmetic)") +
            " -> MatMul";
    return r;
  }

  const WeightQuantOptions& o_;
  std::vector<PlanItem> items_;
  std::set<std::string> counted_, added_;
  std::map<std::string, std::size_t> uses_;
  std::string note_;
};

struct MatMulSite {
  std::string node, op_type, weight, output;  // output: its identity (unique in a valid model)
};

}  // namespace detail

// Rewrites every MatMul whose B is a constant initializer (searched through
// enclosing graphs) per `opt`, and with opt.gather every Gather on a constant
// table; other nodes are kept. The quantized bytes are lazy: they are computed while the model is
// written (one weight at a time), so a failure there (a NaN weight) fails the
// write, which then leaves no output. Without writing, the report is the
// dry-run plan.
inline Expected<WeightQuantReport> quantize_weights(Model& m, const WeightQuantOptions& opt) {
  EDGEQUANT_TRY(check_options(opt));
  if (!m.graph) return make_error(Errc::kInvalid, "model has no graph");
  // Every MatMul and Gather before the rewrite, for the plan.
  std::vector<detail::MatMulSite> sites;
  for_each_graph(m, [&](Graph& g) {
    for (const Node& n : g.node) {
      if (!(n.domain.empty() || n.domain == "ai.onnx")) continue;
      if (n.op_type != "MatMul" && n.op_type != "Gather") continue;
      const std::size_t wi = n.op_type == "MatMul" ? 1 : 0;
      sites.push_back({detail::node_label(n), n.op_type,
                       n.input.size() > wi ? n.input[wi] : std::string(),
                       n.output.empty() ? std::string() : n.output[0]});
    }
  });
  detail::Quantizer q(opt);
  SiteFilter f;
  f.dtypes.clear();  // the quantizer says why a type is skipped
  f.rank = 0;
  f.nodes_to_exclude = opt.nodes_to_exclude;
  std::set<std::string> seen;  // first outputs of the nodes the rewriter saw
  auto rep = rewrite_weights(
      m,
      [&](const Node& n, const Tensor& w) -> Expected<std::optional<Replacement>> {
        if (!n.output.empty()) seen.insert(n.output[0]);
        return q(n, w);
      },
      f);
  if (!rep) return std::move(rep).error();
  if (opt.gather) {
    SiteFilter gf = f;
    gf.op_types = {"Gather"};
    gf.weight_input = 0;
    auto grep = rewrite_weights(
        m,
        [&](const Node& n, const Tensor& w) -> Expected<std::optional<Replacement>> {
          if (!n.output.empty()) seen.insert(n.output[0]);
          return q(n, w);
        },
        gf);
    if (!grep) return std::move(grep).error();
    rep->rewritten += grep->rewritten;
    rep->kept += grep->kept;
    rep->weight_bytes += grep->weight_bytes;
    rep->replacement_bytes += grep->replacement_bytes;
    rep->removed.insert(rep->removed.end(), grep->removed.begin(), grep->removed.end());
  }
  WeightQuantReport r;
  r.rewrite = std::move(*rep);
  r.items = std::move(q.items());
  for (const auto& s : sites) {
    if (seen.count(s.output)) continue;
    PlanItem it;
    it.node = s.node;
    it.op_type = s.op_type;
    it.weight = s.weight;
    if (std::find(opt.nodes_to_exclude.begin(), opt.nodes_to_exclude.end(), s.node) !=
        opt.nodes_to_exclude.end()) {
      it.note = "skipped: excluded by name";
    } else if (s.op_type == "Gather") {
      it.note = opt.gather ? "kept: the Gather's data is not a constant initializer"
                           : "kept: Gather (embeddings) stays float (--gather: GatherBlockQuantized)";
    } else {
      it.note = "skipped: B '" + s.weight + "' is not a constant initializer";
    }
    r.items.push_back(std::move(it));
  }
  return r;
}

// ------------------------------------------------ GGUF -> MatMulNBits -------

// A ggml weight carried into MatMulNBits planes without re-quantizing.
struct NBitsWeight {
  QuantizedPlanes planes;  // ort:nbits{4,8}:b32:sym
  std::int64_t K = 0, N = 0;
  int bits = 0;
  std::int64_t block = 32;
  std::string how;  // the mapping (docs/transcoding.md)
};

// Q4_0 -> 4-bit, Q8_0 -> 8-bit, block 32, symmetric (implicit zero point
// 2^(bits-1)); scales as `scale_type` (f16 and f32 both hold ggml's f16
// scales exactly). The ggml tensor is [rows = N, cols = K] (ne[1], ne[0]).
inline Expected<NBitsWeight> ggml_to_matmul_nbits(const GgmlTensor& g,
                                                  FloatType scale_type = FloatType::kF32) {
  int bits;
  if (g.type == GgmlType::kQ4_0) {
    bits = 4;
  } else if (g.type == GgmlType::kQ8_0) {
    bits = 8;
  } else {
    return make_error(Errc::kUnsupported,
                      "only Q4_0 and Q8_0 carry over to MatMulNBits without re-quantizing (got " +
                          std::string(ggml_type_info(g.type).name) + ")");
  }
  if (scale_type == FloatType::kBF16)
    return make_error(Errc::kBadArgument, "MatMulNBits scales are float32 or float16");
  TranscodeTarget to;
  to.plane = find_plane_scheme(bits == 4 ? "ort:nbits4:b32:sym" : "ort:nbits8:b32:sym");
  to.dtype = scale_type;
  auto t = transcode(QuantTensor(g), to);
  if (!t) return std::move(t).error();
  if (!t->direct || t->exactness != Exactness::kExact)
    return make_error(Errc::kInvalid, "transcode to MatMulNBits was not lossless: " + t->how);
  NBitsWeight w;
  w.planes = std::move(std::get<QuantizedPlanes>(t->tensor));
  w.K = static_cast<std::int64_t>(g.cols);
  w.N = static_cast<std::int64_t>(g.rows);
  w.bits = bits;
  w.how = t->how;
  return w;
}

// A one-node model Y[M, N] = MatMulNBits(A[M, K], B, scales) with the names
// ORT's quantizer gives weight `name` (§6.4): initializers <name>_Q{bits},
// <name>_scales; node <name>_Q{bits}. IR 10, ai.onnx 21, com.microsoft 1.
inline Model matmul_nbits_model(const NBitsWeight& w, const std::string& name) {
  const DataType st =
      w.planes.dtype == FloatType::kF16 ? DataType::kFloat16 : DataType::kFloat;
  const std::int64_t nb = (w.K + w.block - 1) / w.block;
  const std::string qn = name + "_Q" + std::to_string(w.bits);
  const auto own = [](const std::vector<std::uint8_t>& v) {
    return Bytes::copy_of(std::span<const std::uint8_t>(v));
  };
  std::vector<Tensor> inits{
      build::tensor(qn, DataType::kUint8, {w.N, nb, w.block * w.bits / 8}, own(w.planes.data[0])),
      build::tensor(name + "_scales", st, {w.N * nb}, own(w.planes.data[1]))};
  Node n = build::node("MatMulNBits", {"A", qn, name + "_scales"}, {"Y"},
                       {build::attr("K", w.K), build::attr("N", w.N), build::attr("bits", w.bits),
                        build::attr("block_size", w.block)},
                       qn, "com.microsoft");
  std::vector<Node> nodes;
  nodes.push_back(std::move(n));
  Graph g = build::graph(std::move(nodes), "gguf_" + name,
                         {build::value_info("A", st, std::vector<build::Dim>{"M", w.K})},
                         {build::value_info("Y", st, std::vector<build::Dim>{"M", w.N})},
                         std::move(inits));
  Model m = build::model(std::move(g), 10,
                         {build::opset("", 21), build::opset("com.microsoft", 1)});
  m.producer_name = "edgequant";
  m.mark(2);
  return m;
}

}  // namespace edgequant::onnx

EDGEQUANT_FP_STRICT_END
