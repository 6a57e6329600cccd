// The per-thread small-object pool (autograd/tensor/object_pool.hpp): blocks are reused per size
// class, aligned, handed between threads, and tensors and graphs built on it stay correct.
#include <doctest/doctest.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "xgrad/autograd.hpp"
#include "xgrad/autograd/tensor/object_pool.hpp"

namespace {

using xg::Tensor;
namespace d = xg::detail;

bool aligned64(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 64 == 0;
}

TEST_CASE("object pool: a freed block is the next one of its size class, others are not") {
  void* a = d::pool_allocate(200);
  CHECK(aligned64(a));
  d::pool_deallocate(a, 200);
  void* b = d::pool_allocate(250);  // 200 and 250 bytes: both in the 193..256 class
  CHECK(b == a);
  void* c = d::pool_allocate(100);  // another class: not the block just taken
  CHECK(c != b);
  CHECK(aligned64(c));
  d::pool_deallocate(c, 100);
  d::pool_deallocate(b, 250);
}

TEST_CASE("object pool: blocks above the largest class come from the heap, aligned") {
  void* p = d::pool_allocate(d::kPoolMaxBytes + 1);
  CHECK(aligned64(p));
  static_cast<char*>(p)[d::kPoolMaxBytes] = 1;  // the whole size is usable
  d::pool_deallocate(p, d::kPoolMaxBytes + 1);
}

TEST_CASE("object pool: a list keeps at most its cap; the rest goes back to the heap") {
  const std::size_t cap = d::kPoolClassBytes / 64;  // 64-byte class
  std::vector<void*> blocks(cap + 100);
  for (auto& p : blocks) p = d::pool_allocate(64);
  for (void* p : blocks) d::pool_deallocate(p, 64);
  CHECK(d::pool_cache.count[0] == cap);
}

TEST_CASE("object pool: blocks allocated on one thread and freed on another") {
  std::vector<Tensor> made;
  for (int i = 0; i < 1000; ++i) made.push_back(xg::full({4}, static_cast<double>(i)));
  // Freed on a worker, which keeps them on its own lists until it exits (then frees them).
  std::thread([&] { made.clear(); }).join();
  std::vector<Tensor> again;
  std::thread([&] {
    for (int i = 0; i < 1000; ++i) again.push_back(xg::full({4}, static_cast<double>(i)));
  }).join();
  for (int i = 0; i < 1000; i += 97) CHECK(again[static_cast<std::size_t>(i)].at({3}) == doctest::Approx(i));
  again.clear();  // blocks of an exited thread's making, freed here
}

TEST_CASE("object pool: small tensors' inline storage is 64-byte aligned") {
  Tensor t = xg::ones({16});
  CHECK(aligned64(t.raw_data()));
}

TEST_CASE("object pool: graphs built and run on several threads at once stay correct") {
  auto run = [](double seed, double* out) {
    Tensor w = xg::full({16}, seed, {.requires_grad = true});
    for (int step = 0; step < 50; ++step) {
      Tensor y = w;
      for (int i = 0; i < 20; ++i) y = xg::tanh(y * w + 0.5);
      Tensor loss = xg::sum(y);
      w.zero_grad();
      loss.backward();
    }
    *out = w.grad().at({0});
  };
  // The same computation alone, for the expected value.
  double expected = 0;
  run(0.3, &expected);
  std::vector<double> got(4);
  std::vector<std::thread> ts;
  for (std::size_t i = 0; i < got.size(); ++i) ts.emplace_back(run, 0.3, &got[i]);
  for (auto& t : ts) t.join();
  for (double g : got) CHECK(g == expected);
}

}  // namespace
