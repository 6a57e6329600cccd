#pragma once
/// @file loops.hpp
/// @brief Internal to autograd/*.cpp: dtype dispatch, output allocation, the broadcasting and
/// reduction loops every element-wise op and reduction uses. Not installed; the out-of-line
/// parts are in loops.cpp.
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "xgrad/autograd/capture/recorder.hpp"
#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg::detail {

/// Dtype dispatch in one place: calls f.template operator()<T>() with T the element type.
template <class F>
decltype(auto) visit_dtype(Dtype d, F&& f) {
  switch (d) {
    case Dtype::float32:
      return f.template operator()<float>();
    case Dtype::float64:
      return f.template operator()<double>();
    case Dtype::int64:
      break;
  }
  return f.template operator()<int64_t>();
}
/// As visit_dtype, for float-only ops: int64 raises TypeError naming the op.
template <class F>
decltype(auto) visit_float(Dtype d, const char* op, F&& f) {
  if (d == Dtype::float64) return f.template operator()<double>();
  if (d != Dtype::float32)
    throw TypeError(std::string(op) + ": expected a float32 or float64 tensor, got " + dtype_name(d));
  return f.template operator()<float>();
}

/// A fresh contiguous tensor (values uninitialised). Throws ShapeError for a negative extent or
/// a shape whose size overflows.
Tensor new_tensor(const Shape& shape, Dtype dtype);
/// The number of elements of s, or ShapeError naming the op when that product (or its size in
/// bytes at 8 bytes an element) does not fit in int64: Shape::numel() would overflow.
int64_t checked_numel(const Shape& s, const char* op);

/// v as T. For int64, NaN, infinities and values outside int64's range raise ValueError naming
/// the op: the conversion would be undefined behaviour. Finite values are truncated, as C++ does.
[[noreturn]] void throw_not_int64(double v, const char* op);
template <class T, class S>
inline T checked_cast(S v, const char* op) {
  if constexpr (std::is_integral_v<T> && !std::is_integral_v<S>) {
    // -2^63 and 2^63 are exact in float and double.
    if (!(v >= static_cast<S>(-0x1p63) && v < static_cast<S>(0x1p63)))
      throw_not_int64(static_cast<double>(v), op);
  }
  return static_cast<T>(v);
}
/// Checks that every value of p converts to T (see checked_cast) before a conversion loop.
template <class T, class S>
inline void check_castable(const S* p, int64_t n, const char* op) {
  if constexpr (std::is_integral_v<T> && !std::is_integral_v<S>) {
    for (int64_t i = 0; i < n; ++i)
      if (!(p[i] >= static_cast<S>(-0x1p63) && p[i] < static_cast<S>(0x1p63)))
        throw_not_int64(static_cast<double>(p[i]), op);
  }
}

/// A fresh tensor with element i set to gen(i) (a double, converted with checked_cast), then
/// marked requires_grad when o asks for it: the creation functions' common loop.
template <class G>
Tensor generate(const Shape& shape, TensorOptions o, G gen) {
  Tensor t = detail::new_tensor(shape, o.dtype);
  detail::visit_dtype(o.dtype, [&]<class T>() {
    T* p = t.data<T>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = detail::checked_cast<T>(gen(i), "tensor");
  });
  if (capture_detail::recorder) [[unlikely]]
    capture_detail::constant(t, "tensor");
  if (o.requires_grad) t.requires_grad_(true);
  return t;
}

/// int64 arithmetic wraps around (two's complement, as PyTorch's) instead of overflowing, which is
/// undefined behaviour in C++; for floats these are the plain operators.
template <class T>
inline T add_wrap(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  else
    return a + b;
}
template <class T>
inline T sub_wrap(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
  else
    return a - b;
}
template <class T>
inline T mul_wrap(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  else
    return a * b;
}
template <class T>
inline T neg_wrap(T a) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(0 - static_cast<uint64_t>(a));
  else
    return -a;
}
/// A tensor sharing t's storage (and version counter) with another shape of the same numel.
Tensor alias_with_shape(const Tensor& t, const Shape& shape);

/// Normalises a possibly negative axis against rank; throws IndexError naming the op.
int wrap_axis(int64_t axis, int rank, const char* op);
/// The broadcast shape of a and b (NumPy rules); throws ShapeError naming the op.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
std::string shape_str(const Shape& s);

/// Strides (in elements) of `in` read as if broadcast to `out` (0 along broadcast axes).
void broadcast_strides(const Shape& in, const Shape& out, int64_t* strides);

/// out[i] = f(a[i]) over contiguous data.
template <class T, class U, class F>
inline void map_unary(const T* a, U* out, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) out[i] = f(a[i]);
}

/// out = f(a, b) with NumPy broadcasting; out is contiguous with shape `os`.
/// Fast paths: equal shapes and a one-element operand run as flat loops.
template <class T, class U, class F>
void map_binary(const T* a, const Shape& as, const T* b, const Shape& bs, U* out, const Shape& os, F f) {
  const int64_t n = os.numel();
  const int64_t na = as.numel(), nb = bs.numel();
  if (na == n && nb == n) {
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
    return;
  }
  if (nb == 1 && na == n) {
    const T bv = b[0];
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], bv);
    return;
  }
  if (na == 1 && nb == n) {
    const T av = a[0];
    for (int64_t i = 0; i < n; ++i) out[i] = f(av, b[i]);
    return;
  }
  if (n == 0) return;
  const int r = os.rank();
  int64_t sa[kMaxRank], sb[kMaxRank], idx[kMaxRank] = {};
  broadcast_strides(as, os, sa);
  broadcast_strides(bs, os, sb);
  const int64_t inner = os[r - 1], ia = sa[r - 1], ib = sb[r - 1];
  int64_t oa = 0, ob = 0;
  for (int64_t o = 0; o < n; o += inner) {
    if (ia == 1 && ib == 1)
      for (int64_t i = 0; i < inner; ++i) out[o + i] = f(a[oa + i], b[ob + i]);
    else
      for (int64_t i = 0; i < inner; ++i) out[o + i] = f(a[oa + i * ia], b[ob + i * ib]);
    // advance the multi-index over the outer axes
    for (int d = r - 2; d >= 0; --d) {
      oa += sa[d];
      ob += sb[d];
      if (++idx[d] < os[d]) break;
      oa -= sa[d] * os[d];
      ob -= sb[d] * os[d];
      idx[d] = 0;
    }
  }
}

/// Copies `in` (shape is) broadcast to contiguous `out` (shape os).
template <class T>
void broadcast_copy(const T* in, const Shape& is, T* out, const Shape& os) {
  map_binary(in, is, in, is, out, os, [](T x, T) { return x; });
}

/// Views a reduction over axes as a sequence of [outer, n, inner] reductions, one per run of
/// adjacent reduced axes (runs of reduced axes are merged first).
struct ReducePlan {
  struct Step {
    int64_t outer, n, inner;
  };
  std::vector<Step> steps;  // applied in order, from the last run to the first
};
ReducePlan make_reduce_plan(const Shape& in, const std::vector<bool>& reduced);

/// out[o, i] = sum_r in[o, r, i]: contiguous loops that run near memory bandwidth for either
/// layout (row sums use several partial accumulators; column sums vectorise over inner).
template <class T>
void reduce_sum_step(const T* in, T* out, int64_t outer, int64_t n, int64_t inner) {
  if constexpr (std::is_signed_v<T> && std::is_integral_v<T>) {  // int64 sums wrap around (see add_wrap)
    using U = std::make_unsigned_t<T>;
    reduce_sum_step(reinterpret_cast<const U*>(in), reinterpret_cast<U*>(out), outer, n, inner);
    return;
  }
  // An empty output (inner == 0): nothing to write, and memcpy/memset must not see the null
  // pointers of empty tensors (UB even for 0 bytes).
  if (inner == 0 || outer == 0) return;
  if (inner == 1) {
    for (int64_t o = 0; o < outer; ++o) {
      const T* p = in + o * n;
      T acc[8] = {};
      int64_t r = 0;
      for (; r + 8 <= n; r += 8)
        for (int k = 0; k < 8; ++k) acc[k] += p[r + k];
      T s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      for (; r < n; ++r) s += p[r];
      out[o] = s;
    }
    return;
  }
  for (int64_t o = 0; o < outer; ++o) {
    T* dst = out + o * inner;
    const T* src = in + o * n * inner;
    if (n == 0) {
      std::memset(dst, 0, sizeof(T) * inner);
      continue;
    }
    std::memcpy(dst, src, sizeof(T) * inner);
    for (int64_t r = 1; r < n; ++r) {
      const T* row = src + r * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] += row[i];
    }
  }
}

/// Generic [outer, n, inner] fold with an init value and a binary op (prod, max, min).
template <class T, class F>
void reduce_fold_step(const T* in, T* out, int64_t outer, int64_t n, int64_t inner, T init, F f) {
  for (int64_t o = 0; o < outer; ++o) {
    T* dst = out + o * inner;
    const T* src = in + o * n * inner;
    for (int64_t i = 0; i < inner; ++i) dst[i] = init;
    for (int64_t r = 0; r < n; ++r) {
      const T* row = src + r * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] = f(dst[i], row[i]);
    }
  }
}

}  // namespace xg::detail
