// The compute pool behind parallel_for: persistent workers that spin briefly on a generation
// counter, then sleep on it (futex). The brief spin keeps back-to-back small kernels cheap; the
// sleep hands the core back to OpenBLAS's threads during gemm instead of fighting them.
#include "autograd/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "autograd/error.hpp"

namespace xg::detail {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// About 10-30 microseconds of pause instructions before a waiter sleeps.
constexpr int kSpinIterations = 4000;

class Pool {
 public:
  ~Pool() { stop_workers(); }

  int threads() {
    std::call_once(init_, [this] { start_workers(default_threads()); });
    return threads_.load(std::memory_order_relaxed);
  }

  void resize(int n) {
    threads();  // finish lazy start first
    std::lock_guard<std::mutex> lock(busy_);
    if (n == threads_.load()) return;
    stop_workers();
    start_workers(n);
  }

  void run(int64_t n, int64_t grain, void (*call)(void*, int64_t, int64_t), void* ctx) {
    const int t = threads();
    std::unique_lock<std::mutex> lock(busy_, std::try_to_lock);
    if (in_region_ || !lock.owns_lock() || t == 1) {
      call(ctx, 0, n);  // nested or concurrent region: run inline
      return;
    }
    const int chunks = static_cast<int>(std::min<int64_t>(t, std::max<int64_t>(1, n / std::max<int64_t>(grain, 1))));
    if (chunks == 1) {
      call(ctx, 0, n);
      return;
    }
    call_ = call;
    ctx_ = ctx;
    n_ = n;
    chunks_ = chunks;
    error_ = nullptr;
    pending_.store(chunks - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    run_chunk(0);
    // Wait for the workers: spin, then sleep on pending_.
    for (int i = 0; i < kSpinIterations && pending_.load(std::memory_order_acquire) != 0; ++i) cpu_relax();
    for (int p = pending_.load(std::memory_order_acquire); p != 0; p = pending_.load(std::memory_order_acquire))
      pending_.wait(p, std::memory_order_acquire);
    if (error_) std::rethrow_exception(error_);
  }

 private:
  static int default_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

  void run_chunk(int c) {
    const int64_t lo = n_ * c / chunks_, hi = n_ * (c + 1) / chunks_;
    in_region_ = true;
    try {
      call_(ctx_, lo, hi);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu_);
      if (!error_) error_ = std::current_exception();
    }
    in_region_ = false;
  }

  void worker(int index, uint32_t seen) {
    for (;;) {
      uint32_t g = generation_.load(std::memory_order_acquire);
      for (int i = 0; i < kSpinIterations && g == seen; ++i) {
        cpu_relax();
        g = generation_.load(std::memory_order_acquire);
      }
      while (g == seen) {
        generation_.wait(seen, std::memory_order_acquire);
        g = generation_.load(std::memory_order_acquire);
      }
      seen = g;
      if (stop_.load(std::memory_order_acquire)) return;
      if (index < chunks_) {
        run_chunk(index);
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
      }
    }
  }

  void start_workers(int n) {
    stop_.store(false);
    chunks_ = 0;
    threads_.store(n);
    const uint32_t g = generation_.load();  // read here: a region may start before a worker runs
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i, g] { worker(i, g); });
  }

  void stop_workers() {
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  std::once_flag init_;
  std::atomic<int> threads_{1};
  std::mutex busy_;  // one parallel region at a time; others run inline
  std::vector<std::thread> workers_;
  std::atomic<uint32_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  // The current region, written before generation_ is bumped (release) and read after (acquire).
  void (*call_)(void*, int64_t, int64_t) = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int chunks_ = 0;
  std::mutex error_mu_;
  std::exception_ptr error_;
  static thread_local bool in_region_;
};
thread_local bool Pool::in_region_ = false;

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

int pool_threads() { return pool().threads(); }

void set_pool_threads(int n) {
  if (n < 1) throw ValueError("set_num_threads: need at least 1 thread, got " + std::to_string(n));
  pool().resize(n);
}

void parallel_for_impl(int64_t n, int64_t grain, void (*call)(void*, int64_t, int64_t), void* ctx) {
  pool().run(n, grain, call, ctx);
}

}  // namespace xg::detail
