// Random numbers: the global generator, its state, and the random tensor creation functions.
#include "xgrad/autograd/tensor/tensor.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/autograd/kernels/loops.hpp"

namespace xg {

using detail::generate;

// xoshiro256** seeded by splitmix64: fast, and the same stream on every platform (the standard
// library's distributions are not specified bit for bit).
namespace {
struct Generator {
  uint64_t s[4];
  bool has_spare = false;
  double spare = 0;
  explicit Generator(uint64_t seed) { reseed(seed); }
  void reseed(uint64_t seed) {
    for (auto& w : s) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      w = z ^ (z >> 31);
    }
    has_spare = false;
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    const uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double normal01() {  // Box-Muller; the second value is kept for the next call
    if (has_spare) {
      has_spare = false;
      return spare;
    }
    double u1 = uniform01(), u2 = uniform01();
    if (u1 < 1e-300) u1 = 1e-300;
    const double r = std::sqrt(-2.0 * std::log(u1)), th = 2.0 * M_PI * u2;
    spare = r * std::sin(th);
    has_spare = true;
    return r * std::cos(th);
  }
};
Generator& generator() {
  static Generator g(0);
  return g;
}
}  // namespace

void manual_seed(uint64_t seed) {
  generator().reseed(seed);
}
double random_uniform01() {
  return generator().uniform01();
}
uint64_t random_u64() {
  return generator().next();
}

std::vector<uint64_t> get_rng_state() {
  const Generator& g = generator();
  uint64_t spare_bits;
  std::memcpy(&spare_bits, &g.spare, sizeof spare_bits);
  return {g.s[0], g.s[1], g.s[2], g.s[3], g.has_spare ? 1u : 0u, spare_bits};
}

void set_rng_state(const std::vector<uint64_t>& state) {
  if (state.size() != 6)
    throw ValueError("set_rng_state: expected 6 words (from get_rng_state), got " +
                     std::to_string(state.size()));
  Generator& g = generator();
  for (int i = 0; i < 4; ++i) g.s[i] = state[static_cast<std::size_t>(i)];
  g.has_spare = state[4] != 0;
  std::memcpy(&g.spare, &state[5], sizeof g.spare);
}

Tensor rand(const Shape& shape, TensorOptions o) {
  return uniform(shape, 0.0, 1.0, o);
}
Tensor randn(const Shape& shape, TensorOptions o) {
  return normal(shape, 0.0, 1.0, o);
}
Tensor uniform(const Shape& shape, double lo, double hi, TensorOptions o) {
  if (!is_floating(o.dtype))
    throw TypeError(std::string("uniform: needs a float dtype, got ") + dtype_name(o.dtype));
  return generate(shape, o, [&](int64_t) { return lo + (hi - lo) * generator().uniform01(); });
}
Tensor normal(const Shape& shape, double mean, double stddev, TensorOptions o) {
  if (!is_floating(o.dtype))
    throw TypeError(std::string("normal: needs a float dtype, got ") + dtype_name(o.dtype));
  if (stddev < 0) throw ValueError("normal: stddev must be non-negative, got " + std::to_string(stddev));
  return generate(shape, o, [&](int64_t) { return mean + stddev * generator().normal01(); });
}
Tensor randint(int64_t lo, int64_t hi, const Shape& shape) {
  if (hi <= lo)
    throw ValueError("randint: empty range [" + std::to_string(lo) + ", " + std::to_string(hi) + ")");
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);  // no int64 overflow
  Tensor t = detail::new_tensor(shape, Dtype::int64);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i)
    p[i] = static_cast<int64_t>(static_cast<uint64_t>(lo) + generator().next() % span);
  return t;
}
Tensor randperm(int64_t n) {
  std::vector<int64_t> p(static_cast<std::size_t>(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[generator().next() % static_cast<uint64_t>(i + 1)]);
  return from_vector(p, Shape{n});
}

}  // namespace xg
