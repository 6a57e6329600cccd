// Storage: a tensor's bytes, held inline when small, from malloc, or from a cache of large buffers.
#include "xgrad/autograd/tensor/tensor.hpp"

#include "xgrad/autograd/capture/recorder.hpp"

#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace xg {

// Buffers of 64 KiB and more are kept in a cache keyed by size after release: a training step
// that allocates the same activations every step then reuses resident memory instead of asking
// the kernel for fresh pages (each fresh page is a fault). Small buffers go to malloc, whose
// thread caches already serve them in nanoseconds.
namespace {
constexpr std::size_t kCacheMin = 64 * 1024;
constexpr std::size_t kCacheLimit = std::size_t(4) << 30;
struct BufferCache {
  std::mutex mutex;
  std::unordered_map<std::size_t, std::vector<void*>> free;
  std::size_t cached = 0;
};
BufferCache& buffer_cache() {
  static auto* cache = new BufferCache;  // never destroyed: buffers may be released at exit
  return *cache;
}
std::size_t round_up(std::size_t n) {
  return (n + 63) & ~std::size_t(63);
}
}  // namespace

Storage::Storage(std::size_t n) : nbytes(n) {
  if (capture_detail::recorder) [[unlikely]]
    capture_detail::on_alloc(this);
  if (n <= kInlineBytes) {
    data = inline_bytes;
    return;
  }
  if (n < kCacheMin) {
    data = std::malloc(n ? n : 1);
  } else {
    auto& c = buffer_cache();
    {
      std::lock_guard lock(c.mutex);
      auto it = c.free.find(round_up(n));
      if (it != c.free.end() && !it->second.empty()) {
        data = it->second.back();
        it->second.pop_back();
        c.cached -= round_up(n);
      }
    }
    if (!data) data = std::aligned_alloc(64, round_up(n));
  }
  if (!data) throw Error("out of memory allocating " + std::to_string(n) + " bytes");
}

Storage::~Storage() {
  if (capture_detail::recorder) [[unlikely]]
    capture_detail::on_free(this);
  if (data == inline_bytes) return;
  if (nbytes < kCacheMin) {
    std::free(data);
    return;
  }
  auto& c = buffer_cache();
  std::lock_guard lock(c.mutex);
  if (c.cached + round_up(nbytes) <= kCacheLimit) {
    c.free[round_up(nbytes)].push_back(data);
    c.cached += round_up(nbytes);
  } else {
    std::free(data);
  }
}

namespace capture_detail {
// After a capture: the step's intermediates now live in the plan's arena, so the buffers they
// were cached in are returned to the system before the arena is allocated (peak RSS stays eager's).
void release_buffer_cache() {
  auto& c = buffer_cache();
  std::lock_guard lock(c.mutex);
  for (auto& [size, list] : c.free)
    for (void* p : list) std::free(p);
  c.free.clear();
  c.cached = 0;
}
}  // namespace capture_detail

}  // namespace xg
