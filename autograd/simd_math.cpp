#include "autograd/simd_math.hpp"

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

#define XG_SIMD_DEFINE(name, expr)                                                                   \
  void name(const float* in, float* out, int64_t n) { apply(in, out, n, [](auto x) { return expr; }); }   \
  void name(const double* in, double* out, int64_t n) { apply(in, out, n, [](auto x) { return expr; }); }

XG_SIMD_DEFINE(exp, xsimd::exp(x))
XG_SIMD_DEFINE(log, xsimd::log(x))
XG_SIMD_DEFINE(tanh, xsimd::tanh(x))
XG_SIMD_DEFINE(erf, xsimd::erf(x))
XG_SIMD_DEFINE(sin, xsimd::sin(x))
XG_SIMD_DEFINE(cos, xsimd::cos(x))
XG_SIMD_DEFINE(log1p, xsimd::log1p(x))
// 1 / (1 + e^-x) overflows e^-x to inf for x << 0, which still gives the right limit 0.
XG_SIMD_DEFINE(sigmoid, decltype(x)(1) / (decltype(x)(1) + xsimd::exp(-x)))
#undef XG_SIMD_DEFINE

}  // namespace xg::simd
