#pragma once
/// @file parallel.hpp
/// @brief Internal to xgrad's kernels: one pool of compute threads for every op (not installed).
///
/// xg::set_num_threads(n) sizes this pool. Kernels split their outer loop with parallel_for, and
/// gemm splits large products into blocks on it too (OpenBLAS runs single-threaded inside each
/// block). Why one pool of our own: OpenBLAS's threads only served gemm, and an OpenMP
/// runtime next to them would fight over the same cores (LibTorch's default split does this).
#include <cstdint>
#include <type_traits>

namespace xg::detail {

/// The number of threads parallel_for uses (>= 1).
int pool_threads();

/// Sets the pool's size (>= 1) and keeps OpenBLAS at one thread; called by xg::set_num_threads.
void set_pool_threads(int n);

/// Calls body(lo, hi) over [0, n) split into at most 4 * pool_threads() contiguous chunks of at
/// least `grain` items, which the calling thread and the workers claim one by one (a worker the
/// OS has not scheduled yet holds up nothing). Runs inline when n < 2 * grain, when called from
/// inside a parallel_for body, or while another thread holds the pool. The split depends only on
/// n, grain and the thread count, so results are deterministic for a given thread count; an
/// exception thrown by a body is rethrown here after all chunks have finished.
void parallel_for_impl(int64_t n, int64_t grain, void (*call)(void*, int64_t, int64_t), void* ctx);

template <class F>
void parallel_for(int64_t n, int64_t grain, F&& body) {
  if (n <= 0) return;
  if (n < 2 * grain || pool_threads() == 1) {
    body(int64_t{0}, n);
    return;
  }
  using Fn = std::remove_reference_t<F>;
  parallel_for_impl(
      n, grain, [](void* c, int64_t lo, int64_t hi) { (*static_cast<Fn*>(c))(lo, hi); },
      const_cast<void*>(static_cast<const void*>(&body)));
}

}  // namespace xg::detail
