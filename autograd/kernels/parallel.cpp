// The compute pool behind parallel_for: persistent workers that spin briefly on a generation
// counter, then sleep on a condition variable. The spin keeps back-to-back small kernels and gemm
// blocks cheap to hand over; the sleep gives the core back when the program runs serially.
// xg::set_num_threads, at the end, sizes the pool (OpenBLAS stays at one thread: gemm.cpp).
#include "xgrad/autograd/kernels/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "xgrad/autograd/kernels/gemm.hpp"
#include "xgrad/autograd/kernels/threads.hpp"
#include "xgrad/autograd/tensor/error.hpp"

namespace xg::detail {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// About 100 microseconds of pause instructions (25 ns each on this machine's EPYC) before a
// waiter sleeps: longer than the gaps between the regions of an LSTM or MLP step, so their gemm
// blocks are picked up in well under a microsecond. 40,000 measured no better.
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
    const int64_t chunks = std::min<int64_t>(int64_t{kChunksPerThread} * t, n / std::max<int64_t>(grain, 1));
    if (chunks < 2) {
      call(ctx, 0, n);
      return;
    }
    call_ = call;
    ctx_ = ctx;
    n_ = n;
    error_ = nullptr;
    done_.store(0, std::memory_order_relaxed);
    const uint32_t gen = generation_.load(std::memory_order_relaxed) + 1;
    for (int64_t c = 0; c < chunks; ++c) slots_[c].v.store(uint64_t{gen} << 1, std::memory_order_release);
    chunks_.store(static_cast<uint32_t>(chunks), std::memory_order_release);
    generation_.store(gen, std::memory_order_release);
    wake_workers();
    work(gen, 0);
    // Chunks a worker claimed may still run: spin, then sleep on done_.
    const int total = static_cast<int>(chunks);
    for (int i = 0; i < kSpinIterations && done_.load(std::memory_order_acquire) != total; ++i) cpu_relax();
    if (done_.load(std::memory_order_acquire) != total) {
      std::unique_lock<std::mutex> lk(done_mu_);
      done_cv_.wait(lk, [&] { return done_.load(std::memory_order_acquire) == total; });
    }
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // Chunks are claimed one at a time, so a thread the OS has not scheduled yet (a busy machine)
  // only delays the chunk it already holds: the others finish the rest. Chunk bounds depend only
  // on n, grain and the thread count. Thread `self` of t (the caller is 0) first claims its own
  // share of the chunks, in order, then steals the others' from their ends: consecutive regions
  // over the same data give each thread the same part of it, still in its cache (a gemm's block
  // of C and the element-wise pass after it; with one shared counter the two halves of a gemm
  // swapped cores at random and 256x512x128 took 190 or 340 us).
  static constexpr int kChunksPerThread = 4;

  static int default_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

  // Claims and runs chunks of region `gen` until none are left. A chunk's slot holds gen << 1
  // while it is free in region gen and gen << 1 | 1 once claimed; a worker still looping on an
  // ended region compares against its own, older generation and can never claim (or count) a
  // chunk of the next one.
  void work(uint32_t gen, int self) {
    const uint32_t chunks = chunks_.load(std::memory_order_acquire);
    const int t = threads_.load(std::memory_order_relaxed);
    const uint32_t own_lo =
        static_cast<uint32_t>(uint64_t{chunks} * static_cast<uint32_t>(self) / static_cast<uint32_t>(t));
    const uint32_t own_hi =
        static_cast<uint32_t>(uint64_t{chunks} * static_cast<uint32_t>(self + 1) / static_cast<uint32_t>(t));
    const uint64_t free_v = uint64_t{gen} << 1;
    auto try_run = [&](uint32_t c) {
      uint64_t expect = free_v;
      if (slots_[c].v.load(std::memory_order_relaxed) != expect ||
          !slots_[c].v.compare_exchange_strong(expect, free_v | 1, std::memory_order_acq_rel))
        return;
      run_chunk(c, chunks);
      if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == static_cast<int>(chunks)) {
        { std::lock_guard<std::mutex> lk(done_mu_); }  // the caller is either before its check or asleep
        done_cv_.notify_one();
      }
    };
    if (generation_.load(std::memory_order_acquire) != gen) return;
    for (uint32_t c = own_lo; c < own_hi && c < chunks; ++c) try_run(c);
    for (uint32_t i = chunks; i-- > 0;)
      if (i < own_lo || i >= own_hi) try_run(i);
  }

  void run_chunk(uint32_t c, uint32_t chunks) {
    const int64_t lo = n_ * c / chunks, hi = n_ * (c + 1) / chunks;
    in_region_ = true;
    try {
      call_(ctx_, lo, hi);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu_);
      if (!error_) error_ = std::current_exception();
    }
    in_region_ = false;
  }

  void worker(uint32_t seen, int self) {
    for (;;) {
      uint32_t g = generation_.load(std::memory_order_acquire);
      for (int i = 0; i < kSpinIterations && g == seen; ++i) {
        cpu_relax();
        g = generation_.load(std::memory_order_acquire);
      }
      if (g == seen) {
        std::unique_lock<std::mutex> lk(wake_mu_);
        wake_cv_.wait(lk, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        g = generation_.load(std::memory_order_acquire);
      }
      seen = g;
      if (stop_.load(std::memory_order_acquire)) return;
      work(g, self);
    }
  }

  void wake_workers() {
    { std::lock_guard<std::mutex> lk(wake_mu_); }  // a worker is either before its check or asleep
    wake_cv_.notify_all();
  }

  void start_workers(int n) {
    stop_.store(false);
    threads_.store(n);
    slots_ = std::vector<Slot>(static_cast<std::size_t>(kChunksPerThread) * static_cast<std::size_t>(n));
    const uint32_t g = generation_.load();  // read here: a region may start before a worker runs
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, g, i] { worker(g, i); });
  }

  void stop_workers() {
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
    wake_workers();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  std::once_flag init_;
  std::atomic<int> threads_{1};
  std::mutex busy_;  // one parallel region at a time; others run inline
  std::vector<std::thread> workers_;
  std::atomic<uint32_t> generation_{0};
  struct alignas(64) Slot {  // one cache line each: claims of different chunks do not collide
    std::atomic<uint64_t> v{0};
  };
  std::vector<Slot> slots_;  // kChunksPerThread * threads, sized with the workers
  std::atomic<uint32_t> chunks_{0};
  std::atomic<int> done_{0};
  std::atomic<bool> stop_{false};
  // Sleeping uses mutex + condition variable: libstdc++ 12's std::atomic::wait/notify_one lost a
  // wake-up here (a cnn benchmark run hung with the caller asleep on done_ and every chunk done).
  std::mutex wake_mu_, done_mu_;
  std::condition_variable wake_cv_, done_cv_;
  // The current region, written before the slots and generation_ are published (release) and read
  // only after a chunk of it was claimed (acquire).
  void (*call_)(void*, int64_t, int64_t) = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
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

int pool_threads() {
  return pool().threads();
}

void set_pool_threads(int n) {
  if (n < 1) throw ValueError("set_num_threads: need at least 1 thread, got " + std::to_string(n));
  pool().resize(n);
  set_blas_threads(n);
}

void parallel_for_impl(int64_t n, int64_t grain, void (*call)(void*, int64_t, int64_t), void* ctx) {
  pool().run(n, grain, call, ctx);
}

}  // namespace xg::detail

namespace xg {

void set_num_threads(int n) {
  if (n < 1) throw ValueError("set_num_threads: need at least 1 thread, got " + std::to_string(n));
  detail::set_pool_threads(n);
}
int get_num_threads() {
  return detail::pool_threads();
}

}  // namespace xg
