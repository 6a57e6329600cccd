#pragma once
/// @file simd_math.hpp
/// @brief Internal: vectorised transcendental kernels (xsimd, the SIMD layer under xtensor).
/// Scalar libm calls cost 10-30 ns per element; these run several elements per instruction.
#include <cstdint>

namespace xg::simd {

#define XG_SIMD_UNARY(name)                          \
  void name(const float* in, float* out, int64_t n); \
  void name(const double* in, double* out, int64_t n);

XG_SIMD_UNARY(exp)
XG_SIMD_UNARY(log)
XG_SIMD_UNARY(tanh)
XG_SIMD_UNARY(sigmoid)
XG_SIMD_UNARY(erf)
XG_SIMD_UNARY(sin)
XG_SIMD_UNARY(cos)
XG_SIMD_UNARY(log1p)
#undef XG_SIMD_UNARY

}  // namespace xg::simd
