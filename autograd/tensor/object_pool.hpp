#pragma once
/// @file object_pool.hpp
/// @brief Internal: a per-thread free-list pool for the small objects every recorded op allocates
/// (TensorImpl, Storage, Node). A training step frees hundreds of blocks of one size and then
/// allocates them again; glibc's thread cache keeps only 7 blocks per size, so without the pool
/// most of those calls reach the general allocator (and Storage, 64-byte aligned, its slow
/// memalign path). Blocks are 64-byte aligned, in size classes of 64 bytes up to kPoolMaxBytes.
/// A block freed on another thread joins that thread's list; a thread's lists are freed when it
/// exits, and each list keeps at most kPoolClassBytes (the rest goes back to the heap).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

namespace xg::detail {

inline constexpr std::size_t kPoolGrain = 64;
inline constexpr std::size_t kPoolMaxBytes = 2048;
inline constexpr std::size_t kPoolClasses = kPoolMaxBytes / kPoolGrain;
inline constexpr std::size_t kPoolClassBytes = std::size_t(512) << 10;
// The most blocks a list keeps, per class (a table: no division on the free path).
inline constexpr struct PoolCaps {
  uint32_t n[kPoolClasses];
  constexpr PoolCaps() : n() {
    for (std::size_t c = 0; c < kPoolClasses; ++c)
      n[c] = static_cast<uint32_t>(kPoolClassBytes / ((c + 1) * kPoolGrain));
  }
} kPoolCap;

struct PoolCache {
  void* head[kPoolClasses];
  uint32_t count[kPoolClasses];
  // Blocks go to pool_spill, not the list: true until the thread's first slow path registers
  // the exit hook that frees its lists (so a thread that only frees blocks made elsewhere still
  // returns them at exit), and again once the thread is exiting (its lists are gone).
  bool off;
};
// initial-exec: one %fs-relative access per call, no __tls_get_addr (as detail::tape_observer).
[[gnu::tls_model("initial-exec")]] extern constinit thread_local PoolCache pool_cache;

void* pool_refill(std::size_t cls);            // the list is empty: a block from the heap
void pool_spill(void* p, std::size_t cls);     // the list is full, or off
void* pool_allocate_large(std::size_t bytes);  // above kPoolMaxBytes
void pool_deallocate_large(void* p);
#if defined(__SANITIZE_ADDRESS__)
// A block on a free list is poisoned past its link: a use after free still trips ASan until reuse.
void pool_poison(void* p, std::size_t bytes);
void pool_unpoison(void* p, std::size_t bytes);
#endif

inline void* pool_allocate(std::size_t bytes) {
  if (bytes > kPoolMaxBytes) [[unlikely]]
    return pool_allocate_large(bytes);
  const std::size_t c = (bytes - 1) / kPoolGrain;
  PoolCache& pc = pool_cache;
  void* p = pc.head[c];
  if (!p) [[unlikely]]
    return pool_refill(c);
  pc.head[c] = *static_cast<void**>(p);
  --pc.count[c];
#if defined(__SANITIZE_ADDRESS__)
  pool_unpoison(p, (c + 1) * kPoolGrain);
#endif
  return p;
}
inline void pool_deallocate(void* p, std::size_t bytes) {
  if (bytes > kPoolMaxBytes) [[unlikely]]
    return pool_deallocate_large(p);
  const std::size_t c = (bytes - 1) / kPoolGrain;
  PoolCache& pc = pool_cache;
  if (pc.count[c] >= kPoolCap.n[c] || pc.off) [[unlikely]]
    return pool_spill(p, c);
  *static_cast<void**>(p) = pc.head[c];
  pc.head[c] = p;
  ++pc.count[c];
#if defined(__SANITIZE_ADDRESS__)
  pool_poison(p, (c + 1) * kPoolGrain);
#endif
}

/// A stateless allocator over the pool, for std::allocate_shared: the object and its reference
/// counts come from one pooled block.
template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    static_assert(alignof(T) <= kPoolGrain, "pooled objects are at most 64-byte aligned");
    return static_cast<T*>(pool_allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { pool_deallocate(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const PoolAllocator<U>&) const noexcept {
    return true;
  }
};

/// std::make_shared from the pool.
template <class T, class... Args>
std::shared_ptr<T> make_pooled(Args&&... args) {
  return std::allocate_shared<T>(PoolAllocator<T>(), std::forward<Args>(args)...);
}

}  // namespace xg::detail
