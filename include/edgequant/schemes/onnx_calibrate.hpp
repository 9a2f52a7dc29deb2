// ONNX Runtime's static-quantization calibrators (MinMax, Percentile, Entropy,
// Distribution) as a C++ API that accumulates statistics batch by batch
// (specs/onnx.md §7.4). ORT computes them with numpy; the numpy operations
// they use (histogram, linspace, arange, cumsum, pairwise sums) are
// reproduced with numpy 1.x's dtypes so that the ranges match bit for bit
// (checked against numpy 1.24 in tests/schemes/onnx_qdq_test.cpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "edgequant/core/config.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/core/float_convert.hpp"
#include "edgequant/schemes/onnx_qdq.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant::onnx {

namespace np {

// numpy's pairwise summation (umath loops: blocks of 128 with 8 partial sums),
// in the accumulator type T, over a(off) .. a(off + n - 1).
template <class T, class Get>
T pairwise_sum_at(const Get& a, std::size_t off, std::size_t n) {
  if (n < 8) {
    T res = 0;
    for (std::size_t i = 0; i < n; ++i) res += a(off + i);
    return res;
  }
  if (n <= 128) {
    T r[8];
    for (std::size_t j = 0; j < 8; ++j) r[j] = a(off + j);
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (std::size_t j = 0; j < 8; ++j) r[j] += a(off + i + j);
    }
    T res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a(off + i);
    return res;
  }
  std::size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum_at<T>(a, off, n2) + pairwise_sum_at<T>(a, off + n2, n - n2);
}
template <class T, class Get>
T pairwise_sum(std::size_t n, const Get& a) {
  return pairwise_sum_at<T>(a, 0, n);
}

// numpy's float floor division (npy_divmod): fmod-based, as Python's //.
inline double floor_divide(double a, double b) {
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0.0) {
    if ((b < 0) != (mod < 0)) div -= 1.0;
  }
  if (div != 0.0) {
    double fl = std::floor(div);
    if (div - fl > 0.5) fl += 1.0;
    return fl;
  }
  return std::copysign(0.0, a / b);
}

// A numpy scalar: its value and whether numpy holds it as float64 (numpy 1.x
// promotes float32 scalars to float64 in arithmetic with Python numbers).
struct Scalar {
  double v;
  bool f64;
};

// np.linspace(first, last, num, dtype=float32): computed in float64.
inline std::vector<float> linspace_f32(double start, double stop, std::size_t num) {
  std::vector<float> y(num);
  const double div = static_cast<double>(num - 1);
  const double delta = stop - start;
  const double step = delta / div;
  for (std::size_t i = 0; i < num; ++i) {
    double v = static_cast<double>(i);
    v = step == 0.0 ? v / div * delta : v * step;
    y[i] = static_cast<float>(v + start);
  }
  if (num > 1) y[num - 1] = static_cast<float>(stop);
  return y;
}

struct Histogram {
  std::vector<std::int64_t> counts;
  std::vector<float> edges;  // as stored by ORT (float32)
};

// np.histogram(a, bins=n, range=(first, last)) or, without a range, over
// [a.min(), a.max()]; the uniform-bins fast path of numpy 1.x.
inline Histogram histogram_uniform(std::span<const float> a, std::size_t n,
                                   std::optional<std::pair<Scalar, Scalar>> range) {
  Scalar first, last;
  if (range) {
    first = range->first;
    last = range->second;
  } else if (a.empty()) {
    first = {0.0, true};
    last = {1.0, true};
  } else {
    float mn = a[0], mx = a[0];
    for (float v : a) {
      mn = std::fmin(mn, v);
      mx = std::fmax(mx, v);
    }
    first = {mn, false};
    last = {mx, false};
  }
  if (first.v == last.v) {
    first = {first.v - 0.5, true};
    last = {last.v + 0.5, true};
  }
  Histogram h;
  h.edges = linspace_f32(first.v, last.v, n + 1);
  h.counts.assign(n, 0);
  // _unsigned_subtract(last, first) in the scalars' type, then n / that in float64.
  const double span =
      (first.f64 || last.f64)
          ? last.v - first.v
          : static_cast<double>(static_cast<float>(last.v) - static_cast<float>(first.v));
  const double norm = static_cast<double>(n) / span;
  const float first_f = static_cast<float>(first.v), last_f = static_cast<float>(last.v);
  const float norm_f = static_cast<float>(norm);
  for (float v : a) {
    if (!(v >= first_f && v <= last_f)) continue;
    const float f = (v - first_f) * norm_f;
    auto idx = static_cast<std::int64_t>(f);
    if (idx == static_cast<std::int64_t>(n)) --idx;
    if (v < h.edges[static_cast<std::size_t>(idx)]) --idx;
    if (idx != static_cast<std::int64_t>(n) - 1 && v >= h.edges[static_cast<std::size_t>(idx) + 1])
      ++idx;
    ++h.counts[static_cast<std::size_t>(idx)];
  }
  return h;
}

// np.histogram(a, bins=edges) with explicit (float64) edges: bin i counts
// edges[i] <= v < edges[i+1], the last bin includes its right edge.
inline std::vector<std::int64_t> histogram_edges(std::span<const float> a,
                                                 std::span<const double> edges) {
  std::vector<std::int64_t> c(edges.size() - 1, 0);
  for (float fv : a) {
    const double v = fv;
    if (!(v >= edges.front() && v <= edges.back())) continue;
    std::size_t i =
        static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin());
    if (i == edges.size()) i = edges.size() - 1;  // v == last edge
    ++c[i - 1];
  }
  return c;
}

// np.arange(start, stop, step) on float32 scalars (numpy 1.x returns float64:
// element 1 is start + step in float32, the rest start + i * delta in float64).
inline std::vector<double> arange_f32_scalars(float start, float stop, float step) {
  const float r = (stop - start) / step;
  const double len_d = std::ceil(static_cast<double>(r));
  const std::size_t len = len_d > 0 ? static_cast<std::size_t>(len_d) : 0;
  std::vector<double> y(len);
  if (len > 0) y[0] = start;
  if (len > 1) {
    y[1] = static_cast<float>(start + step);
    const double delta = y[1] - y[0];
    for (std::size_t i = 2; i < len; ++i) y[i] = y[0] + static_cast<double>(i) * delta;
  }
  return y;
}

// np.std of a float32 array (float32 mean and variance, pairwise sums).
inline float std_f32(std::span<const float> x) {
  const auto n = static_cast<float>(x.size());
  const float mean = pairwise_sum<float>(x.size(), [&](std::size_t i) { return x[i]; }) / n;
  const float var = pairwise_sum<float>(x.size(),
                                        [&](std::size_t i) {
                                          const float d = x[i] - mean;
                                          return d * d;
                                        }) /
                    n;
  return std::sqrt(var);
}

}  // namespace np

// A calibrated range (TensorData.lowest / highest).
struct TensorRange {
  float lowest = 0.0f, highest = 0.0f;
};

// MinMaxCalibrater: ReduceMin/ReduceMax per batch; per collect() call the
// min of the batch minima (or their mean with moving_average), symmetrised
// if asked; then merged with the previous calls (min/max, or
// old + c * (new - old) with moving_average).
class MinMaxCalibrator {
 public:
  struct Options {
    bool symmetric = false;
    bool moving_average = false;
    float averaging_constant = 0.01f;
  };
  MinMaxCalibrator() = default;
  explicit MinMaxCalibrator(Options o) : opt_(o) {}

  // One CalibraterBase.collect_data() call: the tensor's values for each
  // batch the data reader yields. Batches must be finite and non-empty.
  Status collect(std::span<const std::span<const float>> batches) {
    if (batches.empty()) return make_error(Errc::kBadArgument, "no batches collected");
    std::vector<float> mins, maxs;
    for (auto b : batches) {
      if (b.empty()) return make_error(Errc::kBadArgument, "empty batch");
      float mn = b[0], mx = b[0];
      for (float v : b) {
        if (!std::isfinite(v)) return make_error(Errc::kNonFinite, "non-finite calibration value");
        mn = std::fmin(mn, v);
        mx = std::fmax(mx, v);
      }
      mins.push_back(mn);
      maxs.push_back(mx);
    }
    TensorRange r;
    if (opt_.moving_average) {
      const auto n = static_cast<float>(mins.size());
      r.lowest = np::pairwise_sum<float>(mins.size(), [&](std::size_t i) { return mins[i]; }) / n;
      r.highest = np::pairwise_sum<float>(maxs.size(), [&](std::size_t i) { return maxs[i]; }) / n;
    } else {
      r.lowest = *std::min_element(mins.begin(), mins.end());
      r.highest = *std::max_element(maxs.begin(), maxs.end());
    }
    if (opt_.symmetric) {
      const float m = std::max(std::fabs(r.lowest), std::fabs(r.highest));
      r = {-m, m};
    }
    if (!range_) {
      range_ = r;
    } else if (opt_.moving_average) {
      const float c = opt_.averaging_constant;
      range_->lowest = range_->lowest + c * (r.lowest - range_->lowest);
      range_->highest = range_->highest + c * (r.highest - range_->highest);
    } else {
      range_->lowest = std::min(range_->lowest, r.lowest);
      range_->highest = std::max(range_->highest, r.highest);
    }
    return {};
  }
  Status collect(std::span<const float> batch) {
    return collect(std::span<const std::span<const float>>(&batch, 1));
  }

  Expected<TensorRange> range() const {
    if (!range_) return make_error(Errc::kNotFound, "no data collected");
    return *range_;
  }

 private:
  Options opt_{};
  std::optional<TensorRange> range_;
};

// Distribution calibration result (float8: scale = std / std_f8).
struct AvgStd {
  float avg = 0.0f, std = 0.0f;
};

// HistogramCalibrater + HistogramCollector: Entropy, Percentile and
// Distribution. Defaults are create_calibrator's.
class HistogramCalibrator {
 public:
  enum class Method : std::uint8_t { kEntropy, kPercentile, kDistribution };
  enum class Scenario : std::uint8_t { kSame, kP3 };
  struct Options {
    Method method = Method::kPercentile;
    bool symmetric = true;        // percentile default; entropy/distribution: false
    std::size_t num_bins = 2048;  // entropy default 128
    std::size_t num_quantized_bins = 128;
    double percentile = 99.999;
    Scenario scenario = Scenario::kSame;
  };
  static Options entropy_defaults() {
    Options o;
    o.method = Method::kEntropy;
    o.symmetric = false;
    o.num_bins = 128;
    return o;
  }
  static Options percentile_defaults() { return Options{}; }
  static Options distribution_defaults() {
    Options o;
    o.method = Method::kDistribution;
    o.symmetric = false;
    return o;
  }

  explicit HistogramCalibrator(Options o) : opt_(o) {}

  // One collect_data() call with all its batches (they are concatenated).
  Status collect(std::span<const std::span<const float>> batches) {
    std::vector<float> data;
    for (auto b : batches) data.insert(data.end(), b.begin(), b.end());
    for (float v : data) {
      if (!std::isfinite(v)) return make_error(Errc::kNonFinite, "non-finite calibration value");
    }
    if (opt_.num_bins == 0) return make_error(Errc::kBadArgument, "num_bins must be > 0");
    if (opt_.method == Method::kPercentile && opt_.symmetric) {
      collect_absolute(data);
    } else {
      collect_value(data);
    }
    return {};
  }
  Status collect(std::span<const float> batch) {
    return collect(std::span<const std::span<const float>>(&batch, 1));
  }

  const std::vector<std::int64_t>& hist() const noexcept { return hist_; }
  const std::vector<float>& hist_edges() const noexcept { return edges_; }

  // compute_collection_result for Percentile and Entropy.
  Expected<TensorRange> range() const {
    if (hist_.empty()) return make_error(Errc::kNotFound, "no histogram collected");
    if (opt_.method == Method::kPercentile) return percentile_range();
    if (opt_.method == Method::kEntropy) return entropy_range();
    return make_error(Errc::kBadArgument, "the distribution method gives avg/std, not a range");
  }

  // compute_distribution (float8 calibration).
  Expected<AvgStd> distribution() const {
    if (hist_.empty()) return make_error(Errc::kNotFound, "no histogram collected");
    if (opt_.num_bins < 512)
      return make_error(Errc::kBadArgument, "distribution needs num_bins >= 512");
    return avg_std(opt_.scenario == Scenario::kSame ? 1.0 : 1.0 / 3.0);
  }

 private:
  void collect_value(const std::vector<float>& a) {
    float mn = 0.0f, mx = 0.0f;
    if (!a.empty()) {
      mn = mx = a[0];
      for (float v : a) {
        mn = std::fmin(mn, v);
        mx = std::fmax(mx, v);
      }
    }
    const np::Scalar thr{static_cast<double>(std::max(std::fabs(mn), std::fabs(mx))), false};
    if (hist_.empty()) {
      set(np::histogram_uniform(a, opt_.num_bins, std::pair{np::Scalar{-thr.v, false}, thr}));
      min_ = mn;
      max_ = mx;
      threshold_ = thr;
      return;
    }
    min_ = std::min(min_, mn);
    max_ = std::max(max_, mx);
    if (thr.v <= threshold_.v) {
      const auto h = np::histogram_uniform(
          a, hist_.size(), std::pair{np::Scalar{-threshold_.v, threshold_.f64}, threshold_});
      for (std::size_t i = 0; i < hist_.size(); ++i) hist_[i] += h.counts[i];
      return;
    }
    if (threshold_.v == 0.0) {
      auto h = np::histogram_uniform(a, hist_.size(), std::pair{np::Scalar{-thr.v, false}, thr});
      for (std::size_t i = 0; i < hist_.size(); ++i) h.counts[i] += hist_[i];
      set(std::move(h));
      threshold_ = thr;
      return;
    }
    // Widen by whole old bins on both sides (numpy 1.x: float64 scalars).
    const std::size_t old_n = hist_.size();
    const double old_stride = 2.0 * threshold_.v / static_cast<double>(old_n);
    const double diff =
        threshold_.f64
            ? thr.v - threshold_.v
            : static_cast<double>(static_cast<float>(thr.v) - static_cast<float>(threshold_.v));
    const auto half = static_cast<std::size_t>(np::floor_divide(diff, old_stride) + 1);
    const std::size_t new_n = old_n + 2 * half;
    const np::Scalar new_thr{static_cast<double>(half) * old_stride + threshold_.v, true};
    auto h = np::histogram_uniform(a, new_n, std::pair{np::Scalar{-new_thr.v, true}, new_thr});
    for (std::size_t i = 0; i < old_n; ++i) h.counts[half + i] += hist_[i];
    set(std::move(h));
    threshold_ = new_thr;
  }

  void collect_absolute(const std::vector<float>& raw) {
    float mn = 0.0f, mx = 0.0f;
    if (!raw.empty()) {
      mn = mx = raw[0];
      for (float v : raw) {
        mn = std::fmin(mn, v);
        mx = std::fmax(mx, v);
      }
    }
    std::vector<float> a(raw.size());
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::fabs(raw[i]);
    if (hist_.empty()) {
      set(np::histogram_uniform(a, opt_.num_bins, std::nullopt));
      min_ = mn;
      max_ = mx;
      return;
    }
    float amax = 0.0f;
    for (float v : a) amax = std::fmax(amax, v);
    std::vector<double> edges(edges_.begin(), edges_.end());
    if (amax > edges_.back()) {
      const float width = edges_[1] - edges_[0];
      const auto extra = np::arange_f32_scalars(edges_.back() + width, amax + width, width);
      edges.insert(edges.end(), extra.begin(), extra.end());
    }
    auto counts = np::histogram_edges(a, edges);
    for (std::size_t i = 0; i < hist_.size(); ++i) counts[i] += hist_[i];
    hist_ = std::move(counts);
    edges_.assign(edges.size(), 0.0f);
    for (std::size_t i = 0; i < edges.size(); ++i) edges_[i] = static_cast<float>(edges[i]);
    min_ = std::min(min_, mn);
    max_ = std::max(max_, mx);
  }

  void set(np::Histogram h) {
    hist_ = std::move(h.counts);
    edges_ = std::move(h.edges);
  }

  // cumsum(hist / total), searchsorted (left), then clamped to the data.
  TensorRange percentile_range() const {
    std::int64_t total = 0;
    for (auto c : hist_) total += c;
    std::vector<double> cdf(hist_.size());
    double acc = 0.0;
    for (std::size_t i = 0; i < hist_.size(); ++i) {
      acc += static_cast<double>(hist_[i]) / static_cast<double>(total);
      cdf[i] = acc;
    }
    auto search = [&](double v) {
      return static_cast<std::size_t>(std::lower_bound(cdf.begin(), cdf.end(), v) - cdf.begin());
    };
    TensorRange r;
    if (opt_.symmetric) {
      const float e = edges_[search(opt_.percentile / 100.0)];
      r = {-e, e};
    } else {
      const double cut = (100.0 - opt_.percentile) / 200.0;
      r = {edges_[search(cut)], edges_[search(1.0 - cut)]};
    }
    if (r.lowest < min_) r.lowest = min_;
    if (r.highest > max_) r.highest = max_;
    return r;
  }

  // smooth_distribution: zeros get eps, the others lose eps * zeros/nonzeros
  // (float32 arithmetic); nullopt when all entries are zero.
  static std::optional<std::vector<float>> smooth(const std::vector<std::int64_t>& p) {
    std::size_t zeros = 0;
    for (auto v : p) zeros += v == 0;
    const std::size_t nonzeros = p.size() - zeros;
    if (nonzeros == 0) return std::nullopt;
    const double eps = 0.0001;
    const double eps1 = eps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
    if (!(eps1 < 1.0)) return std::nullopt;  // ORT asserts here
    std::vector<float> h(p.size());
    const auto eps_f = static_cast<float>(eps), neg_eps1_f = static_cast<float>(-eps1);
    for (std::size_t i = 0; i < p.size(); ++i) {
      const float z = p[i] == 0 ? 1.0f : 0.0f, nz = 1.0f - z;
      h[i] = static_cast<float>(p[i]) + (eps_f * z + neg_eps1_f * nz);
    }
    return h;
  }

  // scipy.stats.entropy(p, q): both normalised in float32, sum of
  // p * log(p / q) (rel_entr in float64, stored float32), pairwise float32 sum.
  static float kl_divergence(const std::vector<float>& p, const std::vector<float>& q) {
    const float sp = np::pairwise_sum<float>(p.size(), [&](std::size_t i) { return p[i]; });
    const float sq = np::pairwise_sum<float>(q.size(), [&](std::size_t i) { return q[i]; });
    return np::pairwise_sum<float>(p.size(), [&](std::size_t i) {
      const double x = p[i] / sp, y = q[i] / sq;
      return static_cast<float>(x * std::log(x / y));
    });
  }

  // get_entropy_threshold: KL divergence of every window symmetric around
  // the zero bin, compressed to num_quantized_bins (TensorRT's method).
  TensorRange entropy_range() const {
    const std::size_t nbins = hist_.size();
    const std::size_t zero = nbins / 2, half_q = opt_.num_quantized_bins / 2;
    std::vector<float> kl;
    std::vector<std::pair<float, float>> thr;
    for (std::size_t i = half_q; i <= zero; ++i) {
      const std::size_t start = zero - i;
      const std::size_t end = std::min(zero + i + 1, nbins);
      thr.emplace_back(edges_[start], edges_[end]);
      std::vector<std::int64_t> sliced(hist_.begin() + static_cast<std::ptrdiff_t>(start),
                                       hist_.begin() + static_cast<std::ptrdiff_t>(end));
      std::vector<std::int64_t> p = sliced;
      for (std::size_t j = 0; j < start; ++j) p.front() += hist_[j];
      for (std::size_t j = end; j < nbins; ++j) p.back() += hist_[j];
      const std::size_t nq = opt_.num_quantized_bins;
      const std::size_t merged = sliced.size() / nq;
      std::vector<std::int64_t> qb(nq, 0);
      for (std::size_t b = 0; b < nq; ++b) {
        for (std::size_t j = b * merged; j < (b + 1) * merged; ++j) qb[b] += sliced[j];
      }
      for (std::size_t j = nq * merged; j < sliced.size(); ++j) qb[nq - 1] += sliced[j];
      std::vector<std::int64_t> q(p.size(), 0);
      for (std::size_t b = 0; b < nq; ++b) {
        std::int64_t norm = 0;
        for (std::size_t j = b * merged; j < (b + 1) * merged; ++j) norm += p[j] != 0;
        if (norm == 0) continue;
        // Assigned into an int64 array: the quotient truncates.
        const auto v =
            static_cast<std::int64_t>(static_cast<double>(qb[b]) / static_cast<double>(norm));
        for (std::size_t j = b * merged; j < (b + 1) * merged; ++j) q[j] = v;
      }
      const auto ps = smooth(p), qs = smooth(q);
      kl.push_back(ps && qs ? kl_divergence(*ps, *qs) : std::numeric_limits<float>::infinity());
    }
    std::size_t best = 0;
    for (std::size_t i = 1; i < kl.size(); ++i) {
      if (kl[i] < kl[best]) best = i;
    }
    TensorRange r{thr[best].first, thr[best].second};
    if (r.lowest < min_) r.lowest = min_;
    if (r.highest > max_) r.highest = max_;
    return r;
  }

  // _avg_std over bin centres (float32 centres, float64 moments).
  AvgStd avg_std(double power) const {
    const std::size_t n = hist_.size();
    std::vector<float> values(n);
    for (std::size_t i = 0; i < n; ++i) values[i] = (edges_[i] + edges_[i + 1]) * 0.5f;
    if (power != 1.0) {
      for (auto& v : values) {
        float fact = std::fabs(v) / v;
        if (!std::isfinite(fact)) fact = 1.0f;
        v = std::pow(std::fabs(v), static_cast<float>(power)) * fact;
      }
    }
    std::int64_t total = 0;
    for (auto c : hist_) total += c;
    const double sum1 = np::pairwise_sum<double>(
        n, [&](std::size_t i) { return static_cast<double>(hist_[i]) * values[i]; });
    const double avg = sum1 / static_cast<double>(total);
    const double sum2 = np::pairwise_sum<double>(n, [&](std::size_t i) {
      return static_cast<double>(hist_[i]) * static_cast<double>(values[i] * values[i]);
    });
    const double sd =
        std::pow(sum2 / static_cast<double>(total) - avg * avg, 0.5);  // Python ** 0.5
    return {static_cast<float>(avg), static_cast<float>(sd)};
  }

  Options opt_;
  std::vector<std::int64_t> hist_;
  std::vector<float> edges_;
  float min_ = 0.0f, max_ = 0.0f;
  np::Scalar threshold_{0.0, false};
};

// The std of all finite FLOAT8E4M3FN values, as numpy computes it
// (compute_scale_zp_float8's std_f8).
inline float e4m3fn_std_f8() {
  std::vector<float> v;
  for (std::uint32_t b = 0; b < 256; ++b) {
    const float f = e4m3fn_to_f32(static_cast<std::uint8_t>(b));
    if (std::isfinite(f)) v.push_back(f);
  }
  return np::std_f32(v);
}

// compute_scale_zp_float8 for FLOAT8E4M3FN: scale = std / std_f8, zp 0.
inline float float8_scale_from_std(float std) { return std / e4m3fn_std_f8(); }

}  // namespace edgequant::onnx

EDGEQUANT_FP_STRICT_END
