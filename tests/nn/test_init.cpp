// nn/init: the statistics of each initialiser on large tensors, PyTorch's gains and fans,
// orthogonality, in-place semantics and reproducibility under xg::manual_seed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/init.hpp"

using xg::Dtype;
using xg::Tensor;
namespace init = xg::nn::init;
using init::FanMode;
using init::Nonlinearity;

namespace {
struct Stats {
  double mean = 0, std = 0, min = 0, max = 0;
};
Stats stats(const Tensor& t) {
  const std::vector<double> v = t.to_vector<double>();
  Stats s;
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / static_cast<double>(v.size() - 1));
  return s;
}
}  // namespace

TEST_CASE("calculate_gain: PyTorch's values") {
  CHECK(init::calculate_gain(Nonlinearity::linear) == 1.0);
  CHECK(init::calculate_gain(Nonlinearity::conv2d) == 1.0);
  CHECK(init::calculate_gain(Nonlinearity::sigmoid) == 1.0);
  CHECK(init::calculate_gain(Nonlinearity::tanh) == doctest::Approx(5.0 / 3.0));
  CHECK(init::calculate_gain(Nonlinearity::relu) == doctest::Approx(std::sqrt(2.0)));
  CHECK(init::calculate_gain(Nonlinearity::selu) == doctest::Approx(0.75));
  CHECK(init::calculate_gain(Nonlinearity::leaky_relu) ==
        doctest::Approx(std::sqrt(2.0 / (1.0 + 0.01 * 0.01))));
  CHECK(init::calculate_gain(Nonlinearity::leaky_relu, 0.2) == doctest::Approx(std::sqrt(2.0 / 1.04)));
  CHECK(init::calculate_gain(Nonlinearity::leaky_relu, 0.0) == doctest::Approx(std::sqrt(2.0)));
  CHECK(init::calculate_gain(Nonlinearity::leaky_relu, std::sqrt(5.0)) ==
        doctest::Approx(std::sqrt(1.0 / 3.0)));
}

TEST_CASE("calculate_fan_in_and_fan_out: [out, in, k...] layouts") {
  CHECK(init::calculate_fan_in_and_fan_out(xg::empty({128, 784})) == std::pair<int64_t, int64_t>{784, 128});
  CHECK(init::calculate_fan_in_and_fan_out(xg::empty({32, 16, 3, 5})) ==
        std::pair<int64_t, int64_t>{16 * 15, 32 * 15});
  CHECK(init::calculate_fan_in_and_fan_out(xg::empty({8, 4, 7})) == std::pair<int64_t, int64_t>{28, 56});
  CHECK_ERROR(init::calculate_fan_in_and_fan_out(xg::empty({5})), xg::ValueError,
              "init.calculate_fan_in_and_fan_out:", "[5]");
}

TEST_CASE("uniform_, normal_, constant_, zeros_, ones_: statistics on a million values") {
  xg::manual_seed(1);
  Tensor t = xg::empty({1000, 1000});
  Tensor r = init::uniform_(t, -2.0, 3.0);
  CHECK(r.impl() == t.impl());  // in place, the same handle back
  Stats s = stats(t);
  CHECK(s.min >= -2.0);
  CHECK(s.max <= 3.0);  // [a, b), though b itself can come out of rounding to float32
  CHECK(s.min < -1.99);
  CHECK(s.max > 2.99);
  CHECK(s.mean == doctest::Approx(0.5).epsilon(0.01));
  CHECK(s.std == doctest::Approx(5.0 / std::sqrt(12.0)).epsilon(0.005));

  init::normal_(t, 1.5, 0.25);
  s = stats(t);
  CHECK(s.mean == doctest::Approx(1.5).epsilon(0.002));
  CHECK(s.std == doctest::Approx(0.25).epsilon(0.005));

  Tensor d = xg::empty({100, 100}, {.dtype = Dtype::float64});
  init::normal_(d);
  s = stats(d);
  CHECK(std::abs(s.mean) < 0.03);
  CHECK(s.std == doctest::Approx(1.0).epsilon(0.03));

  init::constant_(d, 0.25);
  CHECK(d.to_vector<double>() == std::vector<double>(10000, 0.25));
  init::ones_(t);
  CHECK(stats(t).min == 1.0);
  CHECK(stats(t).max == 1.0);
  init::zeros_(t);
  CHECK(stats(t).min == 0.0);
  CHECK(stats(t).max == 0.0);
}

TEST_CASE("xavier_uniform_ and xavier_normal_: bound gain sqrt(6 / (fan_in + fan_out))") {
  xg::manual_seed(2);
  Tensor w = xg::empty({400, 600});
  init::xavier_uniform_(w);
  const double a = std::sqrt(6.0 / 1000.0);
  Stats s = stats(w);
  CHECK(s.min >= -a);
  CHECK(s.max <= a);
  CHECK(s.max > 0.99 * a);
  CHECK(s.std == doctest::Approx(a / std::sqrt(3.0)).epsilon(0.01));
  CHECK(std::abs(s.mean) < 0.002);

  init::xavier_uniform_(w, init::calculate_gain(Nonlinearity::tanh));
  CHECK(stats(w).max <= 5.0 / 3.0 * a);
  CHECK(stats(w).max > 0.99 * 5.0 / 3.0 * a);

  Tensor c = xg::empty({64, 32, 3, 3});  // fan_in 288, fan_out 576
  init::xavier_normal_(c, 2.0);
  CHECK(stats(c).std == doctest::Approx(2.0 * std::sqrt(2.0 / (288 + 576))).epsilon(0.02));
  CHECK(std::abs(stats(c).mean) < 0.005);
}

TEST_CASE(
    "kaiming_uniform_ and kaiming_normal_: fan modes, nonlinearities, the a = sqrt(5) default of Linear and "
    "Conv") {
  xg::manual_seed(3);
  Tensor w = xg::empty({500, 800});  // fan_in 800, fan_out 500
  init::kaiming_uniform_(w);         // a = 0, leaky_relu: gain sqrt(2), bound sqrt(6 / fan_in)
  double b = std::sqrt(6.0 / 800.0);
  CHECK(stats(w).max <= b);
  CHECK(stats(w).min >= -b);
  CHECK(stats(w).max > 0.99 * b);
  CHECK(stats(w).std == doctest::Approx(b / std::sqrt(3.0)).epsilon(0.01));

  init::kaiming_uniform_(w, std::sqrt(5.0));  // nn::Linear's default: bound 1 / sqrt(fan_in)
  b = 1.0 / std::sqrt(800.0);
  CHECK(stats(w).max <= b);
  CHECK(stats(w).max > 0.99 * b);
  CHECK(stats(w).min >= -b);

  init::kaiming_uniform_(w, 0.0, FanMode::fan_out, Nonlinearity::relu);
  b = std::sqrt(6.0 / 500.0);
  CHECK(stats(w).max <= b);
  CHECK(stats(w).max > 0.99 * b);

  init::kaiming_normal_(w);
  CHECK(stats(w).std == doctest::Approx(std::sqrt(2.0 / 800.0)).epsilon(0.01));
  init::kaiming_normal_(w, 0.0, FanMode::fan_out, Nonlinearity::tanh);
  CHECK(stats(w).std == doctest::Approx(5.0 / 3.0 / std::sqrt(500.0)).epsilon(0.01));
  init::kaiming_normal_(w, 0.5, FanMode::fan_in, Nonlinearity::leaky_relu);
  CHECK(stats(w).std == doctest::Approx(std::sqrt(2.0 / 1.25) / std::sqrt(800.0)).epsilon(0.01));
  CHECK(std::abs(stats(w).mean) < 0.001);

  Tensor c = xg::empty({64, 16, 5, 5});  // conv weight: fan_in 400
  init::kaiming_uniform_(c, std::sqrt(5.0));
  CHECK(stats(c).max <= 1.0 / 20.0);
  CHECK(stats(c).max > 0.99 / 20.0);
}

TEST_CASE("orthogonal_: orthonormal rows or columns, times the gain") {
  xg::manual_seed(4);
  auto check_identity = [](const Tensor& m, double scale) {
    const std::vector<double> v = m.to_vector<double>();
    const int64_t n = m.size(0);
    double worst = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        worst = std::max(worst, std::abs(v[i * n + j] - (i == j ? scale : 0.0)));
    return worst;
  };
  Tensor wide = xg::empty({30, 50}, {.dtype = Dtype::float64});  // rows orthonormal
  init::orthogonal_(wide);
  CHECK(check_identity(xg::matmul(wide, xg::t(wide)), 1.0) < 1e-12);
  Tensor tall = xg::empty({50, 30}, {.dtype = Dtype::float64});  // columns orthonormal
  init::orthogonal_(tall, 2.0);
  CHECK(check_identity(xg::matmul(xg::t(tall), tall), 4.0) < 1e-12);
  Tensor conv = xg::empty({8, 2, 3, 3});  // viewed as [8, 18]
  init::orthogonal_(conv);
  Tensor m = xg::reshape(conv, {8, 18});
  CHECK(check_identity(xg::matmul(m, xg::t(m)), 1.0) < 1e-5);
  Tensor square = xg::empty({64, 64}, {.dtype = Dtype::float64});
  init::orthogonal_(square);
  CHECK(check_identity(xg::matmul(xg::t(square), square), 1.0) < 1e-12);
  CHECK(check_identity(xg::matmul(square, xg::t(square)), 1.0) < 1e-12);
  // Haar-distributed entries of a 64 x 64 orthogonal matrix have variance 1 / 64.
  CHECK(stats(square).std == doctest::Approx(1.0 / 8.0).epsilon(0.05));
  CHECK_ERROR(init::orthogonal_(xg::empty({5})), xg::ValueError, "init.orthogonal_:", "[5]");
}

TEST_CASE("initialisers are reproducible under manual_seed and differ across seeds") {
  auto draw = [](uint64_t seed) {
    xg::manual_seed(seed);
    Tensor a = xg::empty({20, 10}), b = xg::empty({20, 10}), c = xg::empty({10, 10}), d = xg::empty({20, 10});
    init::kaiming_uniform_(a, std::sqrt(5.0));
    init::xavier_normal_(b);
    init::orthogonal_(c);
    init::normal_(d, 0, 1);
    std::vector<float> all;
    for (const Tensor& t : {a, b, c, d})
      for (float v : t.to_vector<float>()) all.push_back(v);
    return all;
  };
  CHECK(draw(7) == draw(7));
  CHECK(draw(7) != draw(8));
}

TEST_CASE(
    "initialisers write in place on parameters that require grad, bump the version, reject bad tensors") {
  Tensor p = xg::zeros({4, 3}, {.requires_grad = true});
  const uint64_t v0 = p.version();
  init::uniform_(p, 1.0, 2.0);  // grad mode is on: the initialiser runs under NoGradGuard itself
  CHECK(p.version() > v0);
  CHECK(stats(p).min >= 1.0);
  CHECK(p.requires_grad());
  CHECK(p.is_leaf());
  CHECK(xg::GradMode::is_enabled());
  CHECK_ERROR(init::normal_(xg::zeros({3}, {.dtype = Dtype::int64})), xg::TypeError,
              "init.normal_:", "int64");
  CHECK_ERROR(init::xavier_uniform_(xg::zeros({3})), xg::ValueError, "init.xavier_uniform_:", "[3]");
  CHECK_ERROR(init::kaiming_normal_(xg::zeros({3})), xg::ValueError, "init.kaiming_normal_:", "[3]");
  CHECK_ERROR(init::uniform_(xg::zeros({3}), 2.0, 1.0), xg::ValueError, "init.uniform_:", "a <= b");
  CHECK_ERROR(init::normal_(xg::zeros({3}), 0.0, -1.0), xg::ValueError,
              "init.normal_:", "std must be non-negative");
  // zero-element tensors are a no-op, as PyTorch
  Tensor e = xg::empty({0, 5});
  CHECK_NOTHROW(init::kaiming_uniform_(e));
}

TEST_CASE("initialisers take an optional generator: the default's numbers, without touching it") {
  auto fill_all = [](xg::Generator* g) {
    std::vector<double> v;
    for (auto fill : std::vector<std::function<Tensor(const Tensor&)>>{
             [&](const Tensor& t) { return init::uniform_(t, -2, 2, g); },
             [&](const Tensor& t) { return init::normal_(t, 1, 3, g); },
             [&](const Tensor& t) { return init::xavier_uniform_(t, 1.0, g); },
             [&](const Tensor& t) { return init::xavier_normal_(t, 1.0, g); },
             [&](const Tensor& t) {
               return init::kaiming_uniform_(t, 0.0, FanMode::fan_in, Nonlinearity::leaky_relu, g);
             },
             [&](const Tensor& t) {
               return init::kaiming_normal_(t, 0.0, FanMode::fan_out, Nonlinearity::relu, g);
             },
             [&](const Tensor& t) { return init::orthogonal_(t, 1.0, g); }}) {
      Tensor w = xg::empty({4, 3}, {.dtype = Dtype::float64});
      for (double x : fill(w).to_vector<double>()) v.push_back(x);
    }
    return v;
  };
  xg::manual_seed(21);
  const std::vector<double> from_default = fill_all(nullptr);
  xg::manual_seed(2);
  const std::vector<double> next_default = xg::rand({3}, {.dtype = Dtype::float64}).to_vector<double>();
  xg::manual_seed(2);
  xg::Generator g(21);
  CHECK(fill_all(&g) == from_default);
  CHECK(xg::rand({3}, {.dtype = Dtype::float64}).to_vector<double>() == next_default);
  xg::Generator other(22);
  CHECK(fill_all(&other) != from_default);
}
