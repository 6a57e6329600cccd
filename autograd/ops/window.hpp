#pragma once
/// @file window.hpp
/// @brief Internal to ops/conv.cpp and ops/pool.cpp, whose kernels slide a window over [H, W]
/// planes: the output columns a window tap reaches, and Size2 in error messages. Not installed.
#include <algorithm>
#include <cstdint>
#include <string>

#include "xgrad/autograd/ops/ops.hpp"

namespace xg::detail {

/// "(h, w)", for error messages.
inline std::string pair_str(Size2 s) {
  std::string r =
      std::to_string(s.h);  // appended piece by piece: GCC 12 warns (-Wrestrict) on "(" + to_string(..)
  r.insert(0, 1, '(');
  r.append(", ").append(std::to_string(s.w)).append(")");
  return r;
}

/// The range [lo, hi) of output columns whose input column ow * s + off lies in [0, w).
inline void valid_range(int64_t off, int64_t s, int64_t w, int64_t wo, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  hi = off <= w - 1 ? std::min(wo, (w - 1 - off) / s + 1) : 0;
  lo = std::min(lo, wo);
  hi = std::max(hi, lo);
}

}  // namespace xg::detail
