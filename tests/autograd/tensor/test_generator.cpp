// xg::Generator (autograd/tensor/generator.hpp, random.cpp): seeding, copies, saved state, the
// generator arguments of the random functions, and threads: the default generator shared by two
// threads (race-free: together they draw exactly the numbers one thread would), and a generator
// per thread (each thread's numbers those of a single-threaded run). The stream is xgrad's own
// (xoshiro256**), not PyTorch's: pinned values catch a change of stream.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"

namespace {

using xg::Dtype;
using xg::Generator;
using xg::Tensor;

constexpr xg::TensorOptions f64{.dtype = Dtype::float64};

std::vector<double> values(const Tensor& t) {
  return t.to_vector<double>();
}

}  // namespace

TEST_CASE("the default generator keeps its stream; a Generator of the same seed draws the same") {
  // xgrad's stream for seed 123 (the numbers the anonymous generator drew before xg::Generator)
  const std::vector<double> want{0.19669435918331146, 0.96957230567932129, 0.46744033694267273,
                                 0.12698379158973694, 0.33778145909309387};
  xg::manual_seed(123);
  CHECK(values(xg::rand({5})) == want);  // float32 values, exactly
  Generator g(123);
  CHECK(values(xg::rand({5}, {}, &g)) == want);
}

TEST_CASE("an explicit generator leaves the default generator alone") {
  xg::manual_seed(1);
  const std::vector<double> a = values(xg::rand({3}, f64));
  xg::manual_seed(1);
  Generator g(5);
  (void)xg::rand({4}, {}, &g);
  (void)xg::randn({3}, {}, &g);
  (void)xg::uniform({2}, -1, 1, {}, &g);
  (void)xg::normal({2}, 0, 2, {}, &g);
  (void)xg::randint(0, 10, {3}, &g);
  (void)xg::randperm(5, &g);
  CHECK(values(xg::rand({3}, f64)) == a);
}

TEST_CASE("every random function is reproducible from a generator's seed") {
  auto draw = [](uint64_t seed) {
    Generator g(seed);
    std::vector<double> v = values(xg::rand({3}, f64, &g));
    for (double x : values(xg::randn({3}, f64, &g))) v.push_back(x);
    for (double x : values(xg::uniform({2}, -2, 3, f64, &g))) v.push_back(x);
    for (double x : values(xg::normal({3}, 1, 0.5, f64, &g))) v.push_back(x);
    for (int64_t x : xg::randint(-3, 3, {4}, &g).to_vector<int64_t>()) v.push_back(static_cast<double>(x));
    for (int64_t x : xg::randperm(6, &g).to_vector<int64_t>()) v.push_back(static_cast<double>(x));
    return v;
  };
  CHECK(draw(9) == draw(9));
  CHECK(draw(9) != draw(10));
  // manual_seed restarts the stream, and returns the generator
  Generator g(9);
  (void)xg::rand({7}, {}, &g);
  const std::vector<double> first = values(xg::rand({3}, f64, &g.manual_seed(9)));
  const std::vector<double> all = draw(9);
  CHECK(first == std::vector<double>(all.begin(), all.begin() + 3));
}

TEST_CASE("a copy of a generator continues the same stream, independently") {
  Generator g(7);
  (void)xg::randn({3}, f64, &g);  // odd: a Box-Muller spare is pending and is copied too
  Generator c = g;
  const std::vector<double> from_g = values(xg::randn({5}, f64, &g));
  const std::vector<double> from_c = values(xg::randn({5}, f64, &c));
  CHECK(from_g == from_c);
  CHECK(values(xg::randn({5}, f64, &g)) == values(xg::randn({5}, f64, &c)));
  Generator d(1);
  d = g;  // assignment as well
  CHECK(values(xg::rand({4}, f64, &d)) == values(xg::rand({4}, f64, &g)));
  CHECK(d.initial_seed() == 7);
}

TEST_CASE("seed, initial_seed and manual_seed, as torch.Generator's") {
  Generator g;
  CHECK(g.initial_seed() == Generator::default_seed);
  CHECK(g.manual_seed(42).initial_seed() == 42);
  const uint64_t s1 = g.seed();
  CHECK(g.initial_seed() == s1);
  const std::vector<double> after_seed = values(xg::rand({3}, f64, &g));
  Generator h(s1);
  CHECK(values(xg::rand({3}, f64, &h)) == after_seed);  // seed() is manual_seed(a fresh seed)
  CHECK(g.seed() != s1);                                // non-deterministic (64 bits: no collision)
  // the default generator's counterparts
  xg::manual_seed(77);
  CHECK(xg::initial_seed() == 77);
  CHECK(xg::default_generator().initial_seed() == 77);
  const uint64_t s = xg::seed();
  CHECK(xg::initial_seed() == s);
  xg::manual_seed(0);
}

TEST_CASE("get_state / set_state: an int64 tensor that restores the stream, savable to a file") {
  Generator g(3);
  (void)xg::randn({1}, f64, &g);  // a pending spare is part of the state
  const Tensor state = g.get_state();
  CHECK(state.dtype() == Dtype::int64);
  CHECK(state.shape() == xg::Shape{Generator::state_size});
  const std::vector<double> next = values(xg::randn({5}, f64, &g));
  g.set_state(state);
  CHECK(values(xg::randn({5}, f64, &g)) == next);

  // through a tensor file: a fresh generator picks up the stream
  const std::string path = "/tmp/xgrad_test_generator_" + std::to_string(::getpid()) + ".safetensors";
  xg::save_tensors(path, {{"generator", state}});
  Generator fresh(999);
  fresh.set_state(xg::load_tensors(path).at("generator"));
  std::remove(path.c_str());
  CHECK(fresh.initial_seed() == 3);
  CHECK(values(xg::randn({5}, f64, &fresh)) == next);

  // the default generator's word-vector form
  xg::manual_seed(5);
  (void)xg::randn({1});
  const std::vector<uint64_t> words = xg::get_rng_state();
  REQUIRE(words.size() == 6);
  const std::vector<double> d = values(xg::randn({4}, f64));
  xg::set_rng_state(words);
  CHECK(values(xg::randn({4}, f64)) == d);
}

TEST_CASE("set_state refuses a state no generator can be in, and changes nothing") {
  Generator g(11);
  const Tensor good = g.get_state();
  auto with_word = [&](int i, uint64_t w) {
    Tensor t = good.clone();
    static_cast<uint64_t*>(t.raw_data())[i] = w;
    return t;
  };
  Tensor zeros = good.clone();
  std::memset(zeros.raw_data(), 0, 4 * sizeof(uint64_t));
  uint64_t nan_bits;
  const double nan = std::nan("");
  std::memcpy(&nan_bits, &nan, sizeof nan_bits);
  Tensor nan_spare = with_word(4, 1);
  static_cast<uint64_t*>(nan_spare.raw_data())[5] = nan_bits;

  CHECK_ERROR(g.set_state(Tensor()), xg::ValueError, "Generator.set_state", "undefined");
  CHECK_ERROR(g.set_state(xg::zeros({7})), xg::ValueError, "Generator.set_state", "int64", "float32 [7]");
  CHECK_ERROR(g.set_state(xg::zeros({6}, {.dtype = Dtype::int64})), xg::ValueError, "Generator.set_state",
              "shape [7]", "int64 [6]");
  CHECK_ERROR(g.set_state(zeros), xg::ValueError, "Generator.set_state", "all zeros");
  CHECK_ERROR(g.set_state(with_word(4, 2)), xg::ValueError, "Generator.set_state", "spare flag", "got 2");
  CHECK_ERROR(g.set_state(nan_spare), xg::ValueError, "Generator.set_state", "spare", "not finite");
  CHECK(g.get_state().to_vector<int64_t>() == good.to_vector<int64_t>());  // nothing changed

  CHECK_ERROR(xg::set_rng_state({1, 2, 3}), xg::ValueError, "set_rng_state", "6 words", "got 3");
  CHECK_ERROR(xg::set_rng_state({0, 0, 0, 0, 0, 0}), xg::ValueError, "set_rng_state", "all zeros");
}

TEST_CASE("two threads sharing the default generator draw, together, exactly one thread's numbers") {
  // Each tensor is drawn under one lock, so the threads split the stream into whole tensors:
  // the multiset of all their numbers is the stream's first 2 K tensors. Before the lock, the
  // threads raced on the state (torn updates repeat or skip numbers).
  constexpr int kTensors = 20000;  // many small tensors: many chances for the threads to collide
  constexpr int64_t kSize = 9;     // odd: normals leave a Box-Muller spare between tensors
  for (const bool normal : {false, true}) {
    CAPTURE(normal);
    auto draw = [&] { return normal ? xg::randn({kSize}, f64) : xg::rand({kSize}, f64); };
    xg::manual_seed(2024);
    std::vector<double> one;
    for (int i = 0; i < 2 * kTensors; ++i)
      for (double v : values(draw())) one.push_back(v);

    xg::manual_seed(2024);
    std::vector<double> a, b;
    auto worker = [&](std::vector<double>& out) {
      for (int i = 0; i < kTensors; ++i)
        for (double v : values(draw())) out.push_back(v);
    };
    std::thread ta(worker, std::ref(a)), tb(worker, std::ref(b));
    ta.join();
    tb.join();
    std::vector<double> both = a;
    both.insert(both.end(), b.begin(), b.end());
    std::sort(one.begin(), one.end());
    std::sort(both.begin(), both.end());
    CHECK(both == one);
  }
  // the one-number functions too: each draw is atomic
  xg::manual_seed(5);
  std::vector<uint64_t> one(200000);
  for (auto& v : one) v = xg::random_u64();
  xg::manual_seed(5);
  std::vector<uint64_t> a(100000), b(100000);
  std::thread ta([&] {
    for (auto& v : a) v = xg::random_u64();
  });
  std::thread tb([&] {
    for (auto& v : b) v = xg::random_u64();
  });
  ta.join();
  tb.join();
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end());
  std::sort(one.begin(), one.end());
  CHECK(a == one);
  xg::manual_seed(0);
}

TEST_CASE("a generator per thread: each thread's numbers are those of a single-threaded run") {
  auto run = [](uint64_t seed) {
    Generator g(seed);
    std::vector<double> v;
    for (int i = 0; i < 100; ++i) {
      for (double x : values(xg::randn({33}, f64, &g))) v.push_back(x);
      for (double x : values(xg::rand({17}, f64, &g))) v.push_back(x);
      for (int64_t x : xg::randperm(9, &g).to_vector<int64_t>()) v.push_back(static_cast<double>(x));
    }
    return v;
  };
  const std::vector<double> want1 = run(1), want2 = run(2);
  std::vector<double> got1, got2;
  std::thread t1([&] { got1 = run(1); }), t2([&] { got2 = run(2); });
  // meanwhile this thread uses the default generator: it disturbs neither
  for (int i = 0; i < 100; ++i) (void)xg::rand({64});
  t1.join();
  t2.join();
  CHECK(got1 == want1);
  CHECK(got2 == want2);
}

TEST_CASE("seeding and saving the default generator while another thread draws: no torn state") {
  // A reseed or a state read is atomic with respect to a whole tensor's draw: every tensor the
  // drawing thread gets is a whole 8-number chunk of one of the seeds' streams.
  constexpr int kDraws = 2000;
  std::set<std::vector<double>> chunks;
  for (uint64_t s = 0; s < 4; ++s) {
    Generator g(s);
    for (int i = 0; i <= kDraws; ++i) chunks.insert(values(xg::rand({8}, f64, &g)));
  }
  std::vector<std::vector<double>> got;
  xg::manual_seed(0);
  std::thread drawer([&] {
    for (int i = 0; i < kDraws; ++i) got.push_back(values(xg::rand({8}, f64)));
  });
  for (int i = 0; i < kDraws; ++i) {
    xg::manual_seed(static_cast<uint64_t>(i % 4));
    (void)xg::default_generator().get_state();
  }
  drawer.join();
  int whole = 0;
  for (const auto& v : got) whole += chunks.count(v) ? 1 : 0;
  CHECK(whole == kDraws);
  xg::manual_seed(0);
}
