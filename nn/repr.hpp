#pragma once
/// @file repr.hpp
/// @brief Internal to nn/*.cpp: how extra_repr() prints values, as PyTorch's reprs do
/// (doubles like Python floats, "1.0" not "1"; pairs as tuples). Not installed.
#include <charconv>
#include <string>

#include "xgrad/autograd/ops/ops.hpp"

namespace xg::nn::detail {

/// Shortest round-trip form, with ".0" on integral values: 0.5 -> "0.5", 1 -> "1.0".
inline std::string repr_double(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // 'n': inf / nan stay as they are
  return s;
}
inline const char* repr_bool(bool b) {
  return b ? "true" : "false";
}
/// "(3, 3)", as PyTorch prints a conv's expanded tuple arguments.
inline std::string repr_tuple(Size2 s) {
  std::string r =
      std::to_string(s.h);  // appended piece by piece: GCC 12 warns (-Wrestrict) on "(" + to_string(..)
  r.insert(0, 1, '(');
  r.append(", ").append(std::to_string(s.w)).append(")");
  return r;
}
/// "2" for a square pair, "(2, 3)" otherwise, as PyTorch prints what the user passed to a pool.
inline std::string repr_size(Size2 s) {
  return s.h == s.w ? std::to_string(s.h) : repr_tuple(s);
}

}  // namespace xg::nn::detail
