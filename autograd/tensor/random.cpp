// Random numbers: xg::Generator, the default generator, and the random tensor creation functions.
#include "xgrad/autograd/tensor/generator.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg {

using detail::generate;

// ---------------------------------------------------------------- Generator

// splitmix64 spreads the seed over the four words: nearby seeds give unrelated streams.
void Generator::Engine::reseed(uint64_t seed) {
  for (auto& w : s) {
    seed += 0x9e3779b97f4a7c15ULL;
    uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    w = z ^ (z >> 31);
  }
  has_spare = false;
  spare = 0;
}

Generator::Generator(uint64_t seed) : initial_seed_(seed) {
  engine_.reseed(seed);
}
Generator::Generator(const Generator& other) {
  std::lock_guard<std::mutex> lock(other.mutex_);
  engine_ = other.engine_;
  initial_seed_ = other.initial_seed_;
}
Generator& Generator::operator=(const Generator& other) {
  if (this == &other) return *this;
  std::scoped_lock lock(mutex_, other.mutex_);
  engine_ = other.engine_;
  initial_seed_ = other.initial_seed_;
  return *this;
}

Generator& Generator::manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(mutex_);
  engine_.reseed(seed);
  initial_seed_ = seed;
  return *this;
}

uint64_t Generator::seed() {
  // random_device alone may be deterministic on some platforms: mix in the clock.
  std::random_device rd;
  const uint64_t s = (static_cast<uint64_t>(rd()) << 32 | rd()) ^
                     static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  manual_seed(s);
  return s;
}

uint64_t Generator::initial_seed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return initial_seed_;
}

namespace {
std::vector<uint64_t> state_words(const Generator::Engine& e, uint64_t initial_seed) {
  uint64_t spare_bits;
  std::memcpy(&spare_bits, &e.spare, sizeof spare_bits);
  return {e.s[0], e.s[1], e.s[2], e.s[3], e.has_spare ? 1u : 0u, spare_bits, initial_seed};
}

// The engine a state's words describe, or ValueError (naming `who`) for words no generator can
// be in: a spare flag other than 0 or 1, a pending spare that is not finite, or the all-zero xoshiro state (a
// fixed point: it would draw zeros forever).
Generator::Engine engine_from_words(const uint64_t* w, const char* who) {
  Generator::Engine e;
  if ((w[0] | w[1] | w[2] | w[3]) == 0)
    throw ValueError(std::string(who) + ": the xoshiro state is all zeros, which no generator reaches");
  if (w[4] > 1)
    throw ValueError(std::string(who) + ": the spare flag (word 4) must be 0 or 1, got " +
                     std::to_string(w[4]));
  for (int i = 0; i < 4; ++i) e.s[i] = w[i];
  e.has_spare = w[4] != 0;
  std::memcpy(&e.spare, &w[5], sizeof e.spare);
  if (e.has_spare && !std::isfinite(e.spare))
    throw ValueError(std::string(who) + ": the Box-Muller spare (word 5) is not finite");
  return e;
}
}  // namespace

Tensor Generator::get_state() const {
  std::vector<uint64_t> w;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    w = state_words(engine_, initial_seed_);
  }
  Tensor t = detail::new_tensor(Shape{state_size}, Dtype::int64);
  std::memcpy(t.raw_data(), w.data(), w.size() * sizeof(uint64_t));
  return t;
}

Generator& Generator::set_state(const Tensor& state) {
  if (!state.defined()) throw ValueError("Generator.set_state: the state is undefined");
  if (state.dtype() != Dtype::int64 || !(state.shape() == Shape{state_size}))
    throw ValueError(std::string("Generator.set_state: expected an int64 tensor of shape [") +
                     std::to_string(state_size) + "] (from get_state), got " + dtype_name(state.dtype()) +
                     " " + state.shape().str());
  uint64_t w[state_size];
  std::memcpy(w, state.contiguous().raw_data(), sizeof w);
  const Engine e = engine_from_words(w, "Generator.set_state");
  std::lock_guard<std::mutex> lock(mutex_);
  engine_ = e;
  initial_seed_ = w[6];
  return *this;
}

Generator& default_generator() {
  static Generator g(Generator::default_seed);
  return g;
}
thread_local Generator* detail::default_generator_override = nullptr;

// ---------------------------------------------------------------- the default generator

void manual_seed(uint64_t seed) {
  default_generator().manual_seed(seed);
}
uint64_t seed() {
  return default_generator().seed();
}
uint64_t initial_seed() {
  return default_generator().initial_seed();
}
double random_uniform01() {
  return detail::generator_or_default(nullptr).uniform01();
}
uint64_t random_u64() {
  return detail::generator_or_default(nullptr).random_u64();
}

std::vector<uint64_t> get_rng_state() {
  Tensor t = default_generator().get_state();
  const uint64_t* w = static_cast<const uint64_t*>(t.raw_data());
  return {w, w + 6};
}

void set_rng_state(const std::vector<uint64_t>& state) {
  if (state.size() != 6)
    throw ValueError("set_rng_state: expected 6 words (from get_rng_state), got " +
                     std::to_string(state.size()));
  Generator& g = default_generator();
  // The initial seed is not part of these 6 words: keep the generator's own.
  Tensor t = g.get_state();
  std::memcpy(t.raw_data(), state.data(), 6 * sizeof(uint64_t));
  engine_from_words(state.data(), "set_rng_state");  // the message names this function
  g.set_state(t);
}

// ---------------------------------------------------------------- random tensors
// Each draws its whole tensor under one lock of the generator: one lock per tensor, not per
// number, and a tensor's numbers are consecutive in the stream even when threads share it.

Tensor rand(const Shape& shape, TensorOptions o, Generator* gen) {
  return uniform(shape, 0.0, 1.0, o, gen);
}
Tensor randn(const Shape& shape, TensorOptions o, Generator* gen) {
  return normal(shape, 0.0, 1.0, o, gen);
}
Tensor uniform(const Shape& shape, double lo, double hi, TensorOptions o, Generator* gen) {
  if (!is_floating(o.dtype))
    throw TypeError(std::string("uniform: needs a float dtype, got ") + dtype_name(o.dtype));
  return detail::generator_or_default(gen).draw([&](Generator::Engine& e) {
    return generate(shape, o, [&](int64_t) { return lo + (hi - lo) * e.uniform01(); });
  });
}
Tensor normal(const Shape& shape, double mean, double stddev, TensorOptions o, Generator* gen) {
  if (!is_floating(o.dtype))
    throw TypeError(std::string("normal: needs a float dtype, got ") + dtype_name(o.dtype));
  if (stddev < 0) throw ValueError("normal: stddev must be non-negative, got " + std::to_string(stddev));
  return detail::generator_or_default(gen).draw([&](Generator::Engine& e) {
    return generate(shape, o, [&](int64_t) { return mean + stddev * e.normal01(); });
  });
}
Tensor randint(int64_t lo, int64_t hi, const Shape& shape, Generator* gen) {
  if (hi <= lo)
    throw ValueError("randint: empty range [" + std::to_string(lo) + ", " + std::to_string(hi) + ")");
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);  // no int64 overflow
  Tensor t = detail::new_tensor(shape, Dtype::int64);
  int64_t* p = t.data<int64_t>();
  detail::generator_or_default(gen).draw([&](Generator::Engine& e) {
    for (int64_t i = 0, n = t.numel(); i < n; ++i)
      p[i] = static_cast<int64_t>(static_cast<uint64_t>(lo) + e.next() % span);
  });
  return t;
}
Tensor randperm(int64_t n, Generator* gen) {
  std::vector<int64_t> p(static_cast<std::size_t>(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  detail::generator_or_default(gen).draw([&](Generator::Engine& e) {
    for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[e.next() % static_cast<uint64_t>(i + 1)]);
  });
  return from_vector(p, Shape{n});
}

}  // namespace xg
