// The compute pool: every index is visited exactly once, chunks are contiguous and at least a
// grain long, nested regions run inline, exceptions reach the caller, and resizing works.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/autograd/kernels/parallel.hpp"

namespace {

struct ThreadsRestore {
  int saved = xg::get_num_threads();
  ~ThreadsRestore() { xg::set_num_threads(saved); }
};

}  // namespace

TEST_CASE("parallel_for visits every index once, in chunks of at least the grain") {
  ThreadsRestore restore;
  for (int threads : {1, 2, 3}) {
    xg::set_num_threads(threads);
    CHECK(xg::get_num_threads() == threads);
    for (int64_t n : {0, 1, 7, 100, 1001, 100000}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
      std::atomic<int> chunks{0};
      std::atomic<int64_t> shortest{n};
      xg::detail::parallel_for(n, 50, [&](int64_t lo, int64_t hi) {
        ++chunks;
        int64_t len = hi - lo, s = shortest.load();
        while (len < s && !shortest.compare_exchange_weak(s, len)) {
        }
        for (int64_t i = lo; i < hi; ++i) ++hits[static_cast<std::size_t>(i)];
      });
      CAPTURE(threads);
      CAPTURE(n);
      for (auto& h : hits) REQUIRE(h.load() == 1);
      if (n == 0)
        CHECK(chunks.load() == 0);
      else
        CHECK(chunks.load() == (n < 100 || threads == 1 ? 1 : std::min<int64_t>(4 * threads, n / 50)));
      if (n >= 100) CHECK(shortest.load() >= 50);
    }
  }
}

TEST_CASE("parallel_for: the work really runs on two threads, nested regions inline") {
  ThreadsRestore restore;
  xg::set_num_threads(2);
  std::atomic<int> inner_calls{0};
  std::vector<std::thread::id> ids(2);
  std::atomic<int> arrived{0};
  xg::detail::parallel_for(2, 1, [&](int64_t lo, int64_t hi) {
    REQUIRE(hi - lo == 1);
    ids[static_cast<std::size_t>(lo)] = std::this_thread::get_id();
    // Hold each chunk until the other one has been claimed too, so both threads take one.
    ++arrived;
    for (int spin = 0; arrived.load() < 2 && spin < 200000000; ++spin) std::this_thread::yield();
    xg::detail::parallel_for(1000, 1, [&](int64_t a, int64_t b) {  // nested: one inline call
      CHECK(a == 0);
      CHECK(b == 1000);
      ++inner_calls;
    });
  });
  CHECK(arrived.load() == 2);
  CHECK(ids[1] != ids[0]);
  CHECK((ids[0] == std::this_thread::get_id() || ids[1] == std::this_thread::get_id()));
  CHECK(inner_calls.load() == 2);
}

TEST_CASE("parallel_for rethrows a body's exception after every chunk finished") {
  ThreadsRestore restore;
  xg::set_num_threads(2);
  std::atomic<int> finished{0};
  CHECK_THROWS_WITH_AS(xg::detail::parallel_for(2, 1,
                                                [&](int64_t lo, int64_t) {
                                                  if (lo == 1) throw std::runtime_error("chunk 1 failed");
                                                  ++finished;
                                                }),
                       "chunk 1 failed", std::runtime_error);
  CHECK(finished.load() == 1);
  // The pool still works afterwards.
  std::atomic<int64_t> sum{0};
  xg::detail::parallel_for(1000, 10, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) sum += i;
  });
  CHECK(sum.load() == 999 * 1000 / 2);
}

TEST_CASE("set_num_threads rejects 0 with the library's error") {
  CHECK_ERROR(xg::set_num_threads(0), xg::ValueError, "set_num_threads:", "got 0");
  CHECK_ERROR(xg::set_num_threads(-1), xg::ValueError, "set_num_threads:", "got -1");
}

TEST_CASE("parallel_for: many back-to-back regions, with workers both spinning and asleep, all complete") {
  ThreadsRestore restore;
  xg::set_num_threads(2);
  int64_t total = 0;
  for (int r = 0; r < 20000; ++r) {
    std::atomic<int64_t> sum{0};
    const int64_t n = 2 + r % 7;
    xg::detail::parallel_for(n, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) sum += i;
    });
    REQUIRE(sum.load() == n * (n - 1) / 2);
    total += sum.load();
    // Every so often let the workers fall asleep, so the wake-up path runs too.
    if (r % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // n = 2 + r % 7 runs through 2..8 (sums 1, 3, 6, 10, 15, 21, 28: 84 per round of 7) 2857
  // times, then r = 19999 has n = 2 (sum 1): 2857 * 84 + 1.
  CHECK(total == 239989);
}
