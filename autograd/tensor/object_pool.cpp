// The small-object pool's slow paths (object_pool.hpp): blocks from and back to the heap, and a thread's
// lists freed when it exits.
#include "xgrad/autograd/tensor/object_pool.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace xg::detail {

[[gnu::tls_model("initial-exec")]] constinit thread_local PoolCache pool_cache = {
    .head = {}, .count = {}, .off = true};

namespace {
constexpr std::align_val_t kAlign{kPoolGrain};

void free_lists(PoolCache& pc) {
  for (std::size_t c = 0; c < kPoolClasses; ++c) {
    while (void* p = pc.head[c]) {
#if defined(__SANITIZE_ADDRESS__)
      ASAN_UNPOISON_MEMORY_REGION(p, (c + 1) * kPoolGrain);
#endif
      pc.head[c] = *static_cast<void**>(p);
      ::operator delete(p, kAlign);
    }
    pc.count[c] = 0;
  }
}

// Constructed on a thread's first refill (the fast paths touch only the trivial pool_cache, so
// they need no TLS initialisation check); its destructor frees the lists at thread exit and
// sends later frees (other thread-local destructors releasing tensors) straight to the heap.
struct ExitGuard {
  ExitGuard() = default;
  ExitGuard(const ExitGuard&) = delete;
  ExitGuard& operator=(const ExitGuard&) = delete;
  ~ExitGuard() {
    pool_cache.off = true;
    exiting = true;
    free_lists(pool_cache);
  }
  bool armed = false;
  bool exiting = false;
};
thread_local ExitGuard exit_guard;
thread_local bool guarded = false;

// The thread's first slow path: registers the exit hook, then lets blocks onto the lists.
void arm() {
  guarded = true;
  exit_guard.armed = true;  // the first access constructs it and registers its destructor
  pool_cache.off = exit_guard.exiting;
}
}  // namespace

void* pool_refill(std::size_t cls) {
  if (!guarded) arm();
  return ::operator new((cls + 1) * kPoolGrain, kAlign);
}

void pool_spill(void* p, std::size_t cls) {
  if (!guarded) {
    arm();
    if (!pool_cache.off) return pool_deallocate(p, (cls + 1) * kPoolGrain);  // the list is empty
  }
  ::operator delete(p, kAlign);
}

void* pool_allocate_large(std::size_t bytes) {
  return ::operator new(bytes, kAlign);
}
void pool_deallocate_large(void* p) {
  ::operator delete(p, kAlign);
}

#if defined(__SANITIZE_ADDRESS__)
void pool_poison(void* p, std::size_t bytes) {
  ASAN_POISON_MEMORY_REGION(static_cast<char*>(p) + sizeof(void*), bytes - sizeof(void*));
}
void pool_unpoison(void* p, std::size_t bytes) {
  ASAN_UNPOISON_MEMORY_REGION(p, bytes);
}
#endif

}  // namespace xg::detail
