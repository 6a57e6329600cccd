#pragma once
/// @file kernels.hpp
/// @brief Internal to optim/ (not installed): the loop of the element-wise optimizers over raw
/// parameter, gradient and state data, in SIMD batches through xsimd (the SIMD layer under
/// xtensor). Plain loops do not vectorise here: GCC keeps a scalar call path for std::sqrt
/// under its default -fmath-errno, and every adaptive optimizer takes a square root per element.
#include <algorithm>
#include <array>
#include <cstdint>
#include <type_traits>
#include <utility>

// As in autograd/kernels/simd_math.cpp: GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512
// intrinsic headers when xsimd's masked operations are inlined (a false positive).
#if defined(__GNUC__) && !defined(__clang__)  // clang has no -Wmaybe-uninitialized
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <xsimd/xsimd.hpp>

#include "xgrad/autograd/kernels/parallel.hpp"

namespace xg::optim::detail {

template <class T>
T* writable(T* p) {
  return p;
}
template <class T>
T* writable(const T*) {
  return nullptr;
}  // inputs (the gradient) are never written

/// Calls f(b...) on batches of n elements of the arrays ptrs..., one xsimd::batch per array,
/// and writes back the batches of the non-const arrays. A null pointer stands for an unused
/// array (its batch holds zeros and is not written). The tail goes through zero-padded batches
/// and the same f, so that every element gets the same vector instructions (the same fused
/// multiply-adds) whatever its position.
template <class F, class P0, class... P>
void simd_for_each_serial(int64_t n, F&& f, P0* p0, P*... ptrs) {
  using T = std::remove_const_t<P0>;
  using B = xsimd::batch<T>;
  static_assert((std::is_same_v<std::remove_const_t<P>, T> && ...), "simd_for_each: arrays of one type");
  constexpr int64_t w = static_cast<int64_t>(B::size);
  constexpr std::size_t count = 1 + sizeof...(P);
  const std::array<const T*, count> src = {p0, ptrs...};
  const std::array<T*, count> dst = {writable(p0), writable(ptrs)...};
  using Seq = std::make_index_sequence<count>;
  // Full batches: every index below is a constant, so the batches live in registers (a loop over
  // the arrays with a runtime tail test kept them on the stack and ran 4x slower).
  int64_t i = 0;
  for (; i + w <= n; i += w) [&]<std::size_t... K>(std::index_sequence<K...>) {
      std::array<B, count> b{(src[K] ? B::load_unaligned(src[K] + i) : B(T(0)))...};
      f(b[K]...);
      ((dst[K] ? b[K].store_unaligned(dst[K] + i) : void()), ...);
    }
  (Seq{});
  if (i == n) return;
  // The tail: zero-padded batches through the same f.
  const int64_t len = n - i;
  alignas(64) T pad[count][w];
  [&]<std::size_t... K>(std::index_sequence<K...>) {
    for (std::size_t a = 0; a < count; ++a)
      for (int64_t k = 0; k < w; ++k) pad[a][k] = src[a] && k < len ? src[a][i + k] : T(0);
    std::array<B, count> b{B::load_aligned(pad[K])...};
    f(b[K]...);
    ((b[K].store_aligned(pad[K])), ...);
    for (std::size_t a = 0; a < count; ++a)
      if (dst[a])
        for (int64_t k = 0; k < len; ++k) dst[a][i + k] = pad[a][k];
  }
  (Seq{});
}

/// simd_for_each_serial split over the compute pool in whole batches: every element still sees
/// the same instructions, so results do not depend on the thread count.
template <class F, class P0, class... P>
void simd_for_each(int64_t n, F&& f, P0* p0, P*... ptrs) {
  constexpr int64_t w = static_cast<int64_t>(xsimd::batch<std::remove_const_t<P0>>::size);
  constexpr int64_t kGrainBatches = 4096 / w;  // ~4096 elements: below that one thread is faster
  auto at = [](auto* p, int64_t i) { return p ? p + i : p; };
  xg::detail::parallel_for((n + w - 1) / w, kGrainBatches, [&](int64_t lo, int64_t hi) {
    const int64_t begin = lo * w, end = std::min(n, hi * w);
    simd_for_each_serial(end - begin, f, at(p0, begin), at(ptrs, begin)...);
  });
}

}  // namespace xg::optim::detail
