#include "xgrad/autograd/kernels/simd_math.hpp"

#include <cmath>
#include <cstddef>
#include <limits>
#include <type_traits>

// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsic headers when xsimd's
// masked operations are inlined here (a known false positive of the intrinsics' undefined
// pass-through operand); the code reads no uninitialised value.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
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
template <class B>
[[gnu::noinline]] B log_subnormal(const B& x, const B& r) {
  using T = typename B::value_type;
  constexpr std::size_t w = B::size;
  alignas(64) T xs[w], rs[w];
  x.store_aligned(xs);
  r.store_aligned(rs);
  for (std::size_t k = 0; k < w; ++k)
    if (xs[k] > 0 && xs[k] < std::numeric_limits<T>::min()) rs[k] = std::log(xs[k]);
  return B::load_aligned(rs);
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

// erf(x) / x = 2 / sqrt(pi) sum_k (-x^2)^k / (k! (2k + 1)): below |x| = 0.65 its terms fall fast
// (below 1e-18 after 16) and alternate without cancellation, so the series is accurate to about
// half an ulp there, where xsimd's double erf is 11-20 ulps off (from 0.65 on it is within ~5
// ulps up to 2, then up to ~70 near 2.2). Coefficients computed in long double.
constexpr int kErfTerms = 16;
struct ErfSeries {
  double c[kErfTerms];
  constexpr ErfSeries() : c{} {
    long double fact = 1;
    for (int k = 0; k < kErfTerms; ++k) {
      if (k > 0) fact *= k;
      const long double two_over_sqrt_pi = 1.1283791670955125738961589031215452L;
      c[k] = static_cast<double>((k % 2 ? -1 : 1) * two_over_sqrt_pi / (fact * (2 * k + 1)));
    }
  }
};
constexpr ErfSeries kErf;

template <class B>
B erf_series(const B& x) {
  // Two Horner chains in x^4 (even and odd k) halve the latency of one chain.
  const B z = x * x, z2 = z * z;
  B even(kErf.c[kErfTerms - 2]), odd(kErf.c[kErfTerms - 1]);
  for (int k = kErfTerms - 4; k >= 0; k -= 2) {
    even = xsimd::fma(even, z2, B(kErf.c[k]));
    odd = xsimd::fma(odd, z2, B(kErf.c[k + 1]));
  }
  return x * xsimd::fma(odd, z, even);
}
template <class B>
B erf_kernel(const B& x) {
  using T = typename B::value_type;
  if constexpr (std::is_same_v<T, double>) {
    const auto small = xsimd::abs(x) < B(0.65);
    if (xsimd::all(small)) return erf_series(x);
    const B r = keep_nan(x, xsimd::erf(saturating_arg(x)));
    return xsimd::any(small) ? xsimd::select(small, erf_series(x), r) : r;
  } else {
    return keep_nan(x, xsimd::erf(saturating_arg(x)));
  }
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
// xsimd's log is wrong for subnormal arguments (log(1e-310) gives -713.8, not -713.8 - 32.7); the
// rare lanes below the smallest normal number are recomputed with std::log.
XG_SIMD_DEFINE(log, [](auto v) {
  using B = decltype(v);
  using T = typename B::value_type;
  const B r = xsimd::log(v);
  if (xsimd::any(v < B(std::numeric_limits<T>::min()) && v > B(0))) [[unlikely]]
    return log_subnormal(v, r);
  return r;
}(x))
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
