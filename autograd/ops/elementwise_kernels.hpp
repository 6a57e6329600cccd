#pragma once
/// @file elementwise_kernels.hpp
/// @brief Internal: what the element-wise op files (elementwise.cpp, elementwise_more.cpp) share:
/// dtype promotion of two operands, and the unary and broadcasting binary kernels that split
/// large tensors over the compute pool. Not installed.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "xgrad/autograd/capture/recorder.hpp"
#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/kernels/parallel.hpp"
#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg::detail {

inline void check_defined(const Tensor& t, const char* op) {
  if (!t.defined()) throw ValueError(std::string(op) + ": an operand is undefined");
}

inline Dtype promote_types(Dtype a, Dtype b) {
  if (a == Dtype::float64 || b == Dtype::float64) return Dtype::float64;
  if (a == Dtype::float32 || b == Dtype::float32) return Dtype::float32;
  return Dtype::int64;
}

// Operands converted to their common dtype (the conversion is differentiable).
inline std::pair<Tensor, Tensor> promoted(const Tensor& a, const Tensor& b, const char* op) {
  check_defined(a, op);
  check_defined(b, op);
  if (a.dtype() == b.dtype()) return {a, b};
  const Dtype d = promote_types(a.dtype(), b.dtype());
  return {a.to(d), b.to(d)};
}

// A C++ scalar as a 0-d tensor of t's dtype (a fractional scalar with an int64 tensor gives float32).
inline Tensor scalar_like(const Tensor& t, double v) {
  check_defined(t, "scalar operand");
  Dtype d = t.dtype();
  // (non-finite or out-of-range values too: converting them to int64 is undefined)
  if (d == Dtype::int64 && !(v == std::floor(v) && std::fabs(v) < 9.2e18)) d = Dtype::float32;
  return scalar_tensor(v, {.dtype = d});
}

// Element-wise kernels split their flat range over the compute pool above these sizes (below,
// waking a second thread costs more than it saves): cheap arithmetic is near memory-bound, so it
// needs more elements per chunk than the transcendental kernels.
constexpr int64_t kGrainArith = 32768, kGrainMath = 8192;

// A kernel type a capture can rebuild from its type alone (no captured state).
template <class K>
constexpr bool capturable_kernel = std::is_empty_v<K>&& std::is_default_constructible_v<K>;

template <class T, class RangeKernel>
void unary_exec(const T* in, T* out, int64_t n, int64_t grain, const RangeKernel& kernel) {
  parallel_for(n, grain, [&](int64_t lo, int64_t hi) { kernel(in + lo, out + lo, hi - lo); });
}
// The replayed form: the same function on the plan's buffers (bit-identical to eager).
template <class T, class RangeKernel>
void unary_replay(const capture_detail::Kernel& k) {
  unary_exec<T>(static_cast<const T*>(k.buf[0]), static_cast<T*>(k.buf[1]), k.n[0], k.n[1], RangeKernel{});
}

// The range form (recorder.hpp, RangeFn): the same function on a range of the plan's buffers.
template <class T, class RangeKernel>
void unary_range(const capture_detail::Kernel& k, int64_t count) {
  RangeKernel{}(static_cast<const T*>(k.buf[0]), static_cast<T*>(k.buf[1]), count);
}

// y = kernel(x) element-wise: kernel(in, out, n) runs on contiguous ranges split over the pool.
template <bool FloatOnly, class RangeKernel>
Tensor unary_ranges(const Tensor& x, const char* op, int64_t grain, RangeKernel kernel) {
  check_defined(x, op);
  Tensor y = new_tensor(x.shape(), x.dtype());
  auto run = [&]<class T>() {
    if (capture_detail::recorder) [[unlikely]] {
      if constexpr (capturable_kernel<RangeKernel>) {
        capture_detail::emit(op, unary_replay<T, RangeKernel>, {capture_detail::R(x), capture_detail::W(y)},
                             {x.numel(), grain});
        capture_detail::elementwise(unary_range<T, RangeKernel>, x.numel(), 0b11, sizeof(T), grain);
      } else {
        capture_detail::refuse(op, "its kernel holds arguments");
      }
    }
    unary_exec<T>(x.data<T>(), y.data<T>(), x.numel(), grain, kernel);
  };
  if constexpr (FloatOnly)
    visit_float(x.dtype(), op, run);
  else
    visit_dtype(x.dtype(), run);
  return y;
}
// y = f(x) element-wise for float tensors.
template <class F>
struct MapUnary {  // map_unary with a stateless F: rebuilt by a replay from its type
  template <class A, class B>
  void operator()(const A* in, B* out, int64_t n) const {
    map_unary(in, out, n, F{});
  }
};
template <class F>
Tensor unary_float(const Tensor& x, const char* op, F f) {
  if constexpr (capturable_kernel<F>)
    return unary_ranges<true>(x, op, kGrainMath, MapUnary<F>{});
  else
    return unary_ranges<true>(x, op, kGrainMath,
                              [&f](const auto* in, auto* out, int64_t n) { map_unary(in, out, n, f); });
}
// y = vf(x) element-wise for float tensors, vf a vectorised kernel over a contiguous range.
template <class VF>
Tensor unary_vec(const Tensor& x, const char* op, VF vf) {
  return unary_ranges<true>(x, op, kGrainMath, vf);
}
// y = f(x) element-wise for any dtype.
template <class F>
Tensor unary_any(const Tensor& x, const char* op, F f) {
  if constexpr (capturable_kernel<F>)
    return unary_ranges<false>(x, op, kGrainArith, MapUnary<F>{});
  else
    return unary_ranges<false>(x, op, kGrainArith,
                               [&f](const auto* in, auto* out, int64_t n) { map_unary(in, out, n, f); });
}
// out = f(a, b) with broadcasting; a and b already share a dtype. Large outputs are split over
// the pool along their first axis (or flat, when neither operand broadcasts).
template <class T, class F>
void binary_exec(const T* pa, const Shape& sha, const T* pb, const Shape& shb, T* po, const Shape& os,
                 const F& f) {
  const int64_t n = os.numel();
  if (n < 2 * kGrainArith) {
    map_binary(pa, sha, pb, shb, po, os, f);
    return;
  }
  const int64_t na = sha.numel(), nb = shb.numel();
  if ((na == n || na == 1) && (nb == n || nb == 1)) {  // flat: equal shapes or a scalar operand
    parallel_for(n, kGrainArith, [&](int64_t lo, int64_t hi) {
      const Shape part{hi - lo};
      map_binary(pa + (na == 1 ? 0 : lo), na == 1 ? Shape{1} : part, pb + (nb == 1 ? 0 : lo),
                 nb == 1 ? Shape{1} : part, po + lo, part, f);
    });
    return;
  }
  // Broadcasting: rows of the first axis. Operand shapes are left-padded to the output's rank.
  const int r = os.rank();
  Shape as, bs;
  for (int i = 0; i < r - sha.rank(); ++i) as.push_back(1);
  for (int i = 0; i < sha.rank(); ++i) as.push_back(sha[i]);
  for (int i = 0; i < r - shb.rank(); ++i) bs.push_back(1);
  for (int i = 0; i < shb.rank(); ++i) bs.push_back(shb[i]);
  const int64_t row = n / os[0], row_a = as[0] == 1 ? 0 : na / as[0], row_b = bs[0] == 1 ? 0 : nb / bs[0];
  parallel_for(os[0], std::max<int64_t>(1, kGrainArith / std::max<int64_t>(row, 1)),
               [&](int64_t lo, int64_t hi) {
                 Shape so = os, sa = as, sb = bs;
                 so[0] = hi - lo;
                 if (sa[0] != 1) sa[0] = hi - lo;
                 if (sb[0] != 1) sb[0] = hi - lo;
                 map_binary(pa + lo * row_a, sa, pb + lo * row_b, sb, po + lo * row, so, f);
               });
}
template <class T, class F>
void binary_replay(const capture_detail::Kernel& k) {
  const Shape* s = static_cast<const Shape*>(k.aux);
  binary_exec<T>(static_cast<const T*>(k.buf[0]), s[0], static_cast<const T*>(k.buf[1]), s[1],
                 static_cast<T*>(k.buf[2]), s[2], F{});
}
// The range form of a flat binary kernel (equal shapes, or a one-element operand): the loops of
// map_binary's flat paths, on a range of the plan's buffers.
template <class T, class F>
void binary_range(const capture_detail::Kernel& k, int64_t count) {
  const Shape* s = static_cast<const Shape*>(k.aux);
  const T *a = static_cast<const T*>(k.buf[0]), *b = static_cast<const T*>(k.buf[1]);
  T* out = static_cast<T*>(k.buf[2]);
  const F f{};
  const bool sa = s[0].numel() == 1 && s[2].numel() != 1, sb = s[1].numel() == 1 && s[2].numel() != 1;
  if (!sa && !sb) {
    for (int64_t i = 0; i < count; ++i) out[i] = f(a[i], b[i]);
  } else if (sb && !sa) {
    const T bv = b[0];
    for (int64_t i = 0; i < count; ++i) out[i] = f(a[i], bv);
  } else if (sa && !sb) {
    const T av = a[0];
    for (int64_t i = 0; i < count; ++i) out[i] = f(av, b[i]);
  } else {
    const T av = a[0], bv = b[0];
    for (int64_t i = 0; i < count; ++i) out[i] = f(av, bv);
  }
}
template <bool FloatOnly, class F>
Tensor binary_map(const Tensor& a, const Tensor& b, const char* op, F f) {
  const Shape os = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = new_tensor(os, a.dtype());
  auto run = [&]<class T>() {
    if (capture_detail::recorder) [[unlikely]] {
      if constexpr (capturable_kernel<F>) {
        capture_detail::emit(op, binary_replay<T, F>,
                             {capture_detail::R(a), capture_detail::R(b), capture_detail::W(out)}, {}, {},
                             {a.shape(), b.shape(), os});
        const int64_t n = os.numel(), na = a.numel(), nb = b.numel();
        if ((na == n || na == 1) && (nb == n || nb == 1))
          capture_detail::elementwise(binary_range<T, F>, n,
                                      (na == n ? 0b001u : 0u) | (nb == n ? 0b010u : 0u) | 0b100u, sizeof(T),
                                      kGrainArith);
      } else {
        capture_detail::refuse(op, "its kernel holds arguments");
      }
    }
    binary_exec<T>(a.data<T>(), a.shape(), b.data<T>(), b.shape(), out.data<T>(), os, f);
  };
  if constexpr (FloatOnly)
    visit_float(a.dtype(), op, run);
  else
    visit_dtype(a.dtype(), run);
  return out;
}

}  // namespace xg::detail
