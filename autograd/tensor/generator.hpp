#pragma once
/// @file generator.hpp
/// @brief xg::Generator, a seedable random number generator whose state can be saved, as
/// torch.Generator: every random function of xgrad (rand, randn, uniform, normal, randint,
/// randperm, dropout, the nn::init initialisers, the DataLoader's shuffling and augmentations)
/// takes one as its `generator` argument, and draws from the process's default generator
/// (xg::default_generator(), seeded by xg::manual_seed) without it.
///
/// The stream is xoshiro256** seeded by splitmix64, the same on every platform. A Generator is a
/// value: a copy continues the same stream independently of the original. Every method takes the
/// generator's lock, and a random function draws a whole tensor under one lock, so a generator
/// (the default one included) may be shared by threads: the draws are race-free, though which
/// thread gets which numbers then depends on scheduling. For results that do not depend on
/// scheduling, give each thread a Generator of its own.
///
/// @code
/// xg::Generator g(42);
/// xg::Tensor a = xg::rand({2, 3}, {}, &g);          // from g; the default generator is untouched
/// xg::Tensor state = g.get_state();                 // int64 [7]: save it with xg::save_tensors
/// xg::Tensor b = xg::randn({4}, {}, &g);
/// g.set_state(state);                               // the next draw repeats b
/// @endcode
#include <cmath>
#include <cstdint>
#include <mutex>
#include <numbers>

namespace xg {

class Tensor;

class Generator {
 public:
  /// The seed of the default generator at start-up and of a default-constructed Generator.
  static constexpr uint64_t default_seed = 0;
  /// Number of int64 words in get_state(): the four xoshiro words, the Box-Muller spare's flag
  /// and bits, and the initial seed.
  static constexpr int64_t state_size = 7;

  /// The bare stream, without a lock: what draw() hands to its callback.
  struct Engine {
    uint64_t s[4];
    bool has_spare = false;  // Box-Muller makes normals in pairs: the second waits here
    double spare = 0;

    void reseed(uint64_t seed);
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
    /// Uniform in [0, 1), 53 random bits.
    double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    /// Standard normal (Box-Muller).
    double normal01() {
      if (has_spare) {
        has_spare = false;
        return spare;
      }
      double u1 = uniform01(), u2 = uniform01();
      if (u1 < 1e-300) u1 = 1e-300;
      const double r = std::sqrt(-2.0 * std::log(u1)), th = 2.0 * std::numbers::pi * u2;
      spare = r * std::sin(th);
      has_spare = true;
      return r * std::cos(th);
    }

   private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  };

  explicit Generator(uint64_t seed = default_seed);
  Generator(const Generator& other);
  Generator& operator=(const Generator& other);

  /// Restarts the stream from `seed` (torch.Generator.manual_seed); returns *this.
  Generator& manual_seed(uint64_t seed);
  /// Reseeds from a non-deterministic source and returns the seed used (torch.Generator.seed).
  uint64_t seed();
  /// The seed the current stream started from (torch.Generator.initial_seed).
  uint64_t initial_seed() const;

  /// The complete state as an int64 tensor of state_size values (torch.Generator.get_state),
  /// e.g. to save with xg::save_tensors so that a resumed run draws what an uninterrupted one would.
  Tensor get_state() const;
  /// Restores a state from get_state(); returns *this. ValueError, changing nothing, unless it is
  /// an int64 tensor of state_size values that get_state() can produce (a spare flag of 0 or 1, a
  /// finite spare, not the all-zero xoshiro state, which would draw only zeros).
  Generator& set_state(const Tensor& state);

  /// Runs f(Engine&) under the generator's lock and returns its result: the way to draw a whole
  /// tensor's worth of numbers with one lock rather than one per number.
  template <class F>
  decltype(auto) draw(F&& f) {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<F&&>(f)(engine_);
  }
  /// One number each, one lock each.
  uint64_t random_u64() {
    return draw([](Engine& e) { return e.next(); });
  }
  double uniform01() {
    return draw([](Engine& e) { return e.uniform01(); });
  }
  double normal01() {
    return draw([](Engine& e) { return e.normal01(); });
  }

 private:
  mutable std::mutex mutex_;
  Engine engine_;
  uint64_t initial_seed_ = default_seed;
};

/// The process's generator (torch.default_generator): what every random function draws from when
/// given no generator. xg::manual_seed seeds it.
Generator& default_generator();

namespace detail {
/// While set, what this thread's draws from "the default generator" use instead: Module::clone
/// builds its copy from a scratch generator, so that it neither changes nor races on the shared one.
extern thread_local Generator* default_generator_override;
/// `g` itself, or the default generator for nullptr (the `generator` argument's meaning).
inline Generator& generator_or_default(Generator* g) {
  if (g) return *g;
  return default_generator_override ? *default_generator_override : default_generator();
}
/// Sets default_generator_override for a scope.
class DefaultGeneratorOverride {
 public:
  explicit DefaultGeneratorOverride(Generator& g) : saved_(default_generator_override) {
    default_generator_override = &g;
  }
  ~DefaultGeneratorOverride() { default_generator_override = saved_; }
  DefaultGeneratorOverride(const DefaultGeneratorOverride&) = delete;
  DefaultGeneratorOverride& operator=(const DefaultGeneratorOverride&) = delete;

 private:
  Generator* saved_;
};
}  // namespace detail

}  // namespace xg
