#include "xgrad/autograd/kernels/simd_math.hpp"

#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>
#include <type_traits>

// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsic headers when xsimd's
// masked operations are inlined here (a known false positive of the intrinsics' undefined
// pass-through operand); the code reads no uninitialised value.
#if defined(__GNUC__) && !defined(__clang__)  // clang has no -Wmaybe-uninitialized
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <xsimd/xsimd.hpp>

namespace xg::simd {

namespace {
// Applies f to full batches, then to the tail through a zero-padded batch so that the tail gets
// exactly the same arithmetic as the rest (results do not depend on the element's position).
template <class T, class F>
void apply(const T* in, T* out, int64_t n, F f) {
  using B = xsimd::batch<T>;
  constexpr int64_t w = static_cast<int64_t>(B::size);
  int64_t i = 0;
  for (; i + w <= n; i += w) f(B::load_unaligned(in + i)).store_unaligned(out + i);
  if (i < n) {
    alignas(64) T buf[w] = {};
    for (int64_t k = 0; k < n - i; ++k) buf[k] = in[i + k];
    f(B::load_aligned(buf)).store_aligned(buf);
    for (int64_t k = 0; k < n - i; ++k) out[i + k] = buf[k];
  }
}
}  // namespace

// xsimd's exp converts round(x / ln 2) to an integer; for double that is a scalar double -> int64
// cast on targets without AVX-512DQ, undefined behaviour for inf, NaN and |x| beyond ~6e21
// (UndefinedBehaviorSanitizer reports it: exp(-inf) is common, e.g. masked softmax). The
// functions built on exp therefore see their argument clamped to [-1000, 1000], where every one of
// them has already saturated to the value it has at +-inf, with NaN replaced by a bound and put
// back in the result.
namespace {
template <class B>
B saturating_arg(const B& x) {
  using T = typename B::value_type;
  // max(x, lo) gives lo for a NaN x (maxps/maxpd return their second operand on NaN; xsimd's
  // generic max is select(x > lo, x, lo)), so no NaN reaches exp.
  return xsimd::min(xsimd::max(x, B(T(-1000))), B(T(1000)));
}
template <class B>
B keep_nan(const B& x, const B& r) {
  return xsimd::select(xsimd::isnan(x), x, r);
}

// xsimd's exp flushes results below the smallest normal number to 0 (exp(-100) in float32 is
// 3.7e-44, a subnormal). The rare lanes whose argument is below ln(smallest normal) are recomputed
// with std::exp,
// which gives the subnormal (or 0 further down).
template <class B, class T>
[[gnu::noinline]] B exp_subnormal(const B& x, const B& r, T lo) {
  constexpr std::size_t w = B::size;
  alignas(64) T xs[w], rs[w];
  x.store_aligned(xs);
  r.store_aligned(rs);
  for (std::size_t k = 0; k < w; ++k)
    if (xs[k] < lo) rs[k] = std::exp(xs[k]);
  return B::load_aligned(rs);
}
// xsimd's double log is wrong for subnormal arguments (log(1e-310) gives -713.8, not -746.5):
// they are scaled into the normal range first (by 2^64; branch-free) and the scale's logarithm
// subtracted. Zeros and negatives stay what they are (-inf, NaN).
template <class B>
B log_kernel(const B& v) {
  using T = typename B::value_type;
  if constexpr (std::is_same_v<T, float>) return xsimd::log(v);  // exact for float subnormals
  constexpr int k = 64;
  const auto small = v < B(std::numeric_limits<T>::min());
  const B scaled = xsimd::select(small, v * B(std::ldexp(T(1), k)), v);
  return xsimd::log(scaled) - xsimd::select(small, B(T(k) * std::numbers::ln2_v<T>), B(T(0)));
}

template <class B>
B exp_kernel(const B& x) {
  using T = typename B::value_type;
  B r = keep_nan(x, xsimd::exp(saturating_arg(x)));
  constexpr T lo = std::is_same_v<T, float> ? T(-87.3) : T(-708.3);
  if (xsimd::any(x < B(lo))) [[unlikely]]
    return exp_subnormal(x, r, lo);
  return r;
}

// xsimd's double erf below |x| = 0.65 is off by a constant factor: erf / xsimd - 1 = 2.3e-15
// (+-0.15e-15, i.e. within an ulp, measured against long double erfl from 1e-300 to 0.64), about
// 10 ulps everywhere there (15 at 1e-30). One multiply removes that bias; from 0.65 on xsimd
// switches approximation and is within ~5 ulps up to 2 (up to ~70 near 2.2).
template <class B>
B erf_kernel(const B& x) {
  using T = typename B::value_type;
  const B r = keep_nan(x, xsimd::erf(saturating_arg(x)));
  if constexpr (std::is_same_v<T, double>)
    return xsimd::select(xsimd::abs(x) < B(0.65), r * B(1 + 2.3e-15), r);
  else
    return r;
}
}  // namespace

#define XG_SIMD_DEFINE(name, expr)                      \
  void name(const float* in, float* out, int64_t n) {   \
    apply(in, out, n, [](auto x) { return expr; });     \
  }                                                     \
  void name(const double* in, double* out, int64_t n) { \
    apply(in, out, n, [](auto x) { return expr; });     \
  }

XG_SIMD_DEFINE(exp, exp_kernel(x))
XG_SIMD_DEFINE(log, log_kernel(x))
XG_SIMD_DEFINE(tanh, keep_nan(x, xsimd::tanh(saturating_arg(x))))
XG_SIMD_DEFINE(erf, erf_kernel(x))
XG_SIMD_DEFINE(sin, xsimd::sin(x))
XG_SIMD_DEFINE(cos, xsimd::cos(x))
// (log1p(-0) is -0, as PyTorch; xsimd's gives +0)
XG_SIMD_DEFINE(log1p, xsimd::select(x == decltype(x)(0), x, xsimd::log1p(x)))
// With e = e^-|x|: 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0. e never overflows, and is a
// subnormal where sigmoid(x) is one (x = -89 in float32: 1 / (1 + e^89) would be 1 / inf = 0).
XG_SIMD_DEFINE(sigmoid, [](auto v) {
  using B = decltype(v);
  const B e = exp_kernel(-xsimd::abs(v));
  return xsimd::select(v >= B(0), B(1), e) / (B(1) + e);
}(x))
#undef XG_SIMD_DEFINE

}  // namespace xg::simd
