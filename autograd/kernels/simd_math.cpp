#include "xgrad/autograd/kernels/simd_math.hpp"

#include <cmath>

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
}  // namespace

#define XG_SIMD_DEFINE(name, expr)                      \
  void name(const float* in, float* out, int64_t n) {   \
    apply(in, out, n, [](auto x) { return expr; });     \
  }                                                     \
  void name(const double* in, double* out, int64_t n) { \
    apply(in, out, n, [](auto x) { return expr; });     \
  }

XG_SIMD_DEFINE(exp, keep_nan(x, xsimd::exp(saturating_arg(x))))
XG_SIMD_DEFINE(log, xsimd::log(x))
XG_SIMD_DEFINE(tanh, keep_nan(x, xsimd::tanh(saturating_arg(x))))
XG_SIMD_DEFINE(erf, keep_nan(x, xsimd::erf(saturating_arg(x))))
XG_SIMD_DEFINE(sin, xsimd::sin(x))
XG_SIMD_DEFINE(cos, xsimd::cos(x))
XG_SIMD_DEFINE(log1p, xsimd::log1p(x))
// 1 / (1 + e^-x) overflows e^-x to inf for x << 0, which still gives the right limit 0.
XG_SIMD_DEFINE(sigmoid, keep_nan(x, decltype(x)(1) / (decltype(x)(1) + xsimd::exp(-saturating_arg(x)))))
#undef XG_SIMD_DEFINE

}  // namespace xg::simd
