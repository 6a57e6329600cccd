// nn/dropout.cpp: inverted dropout in training, the identity in eval, masks from the seed, the
// gradient, errors, and a gradcheck with the mask held fixed.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/functional.hpp"

using xg::Tensor;
namespace nn = xg::nn;
namespace F = xg::nn::functional;
using xg_test::check_layer_grads;

TEST_CASE("Dropout: inverted dropout in training, identity in eval, seeded masks") {
  nn::Dropout drop(0.3);
  CHECK(drop.parameters().empty());
  CHECK(drop.extra_repr() == "p=0.3");
  CHECK(nn::Dropout().extra_repr() == "p=0.5");
  CHECK(nn::Dropout(1.0).extra_repr() == "p=1.0");
  Tensor x = xg::ones({1000, 1000});
  xg::manual_seed(8);
  Tensor y = drop.forward(x);
  const std::vector<float> v = y.to_vector<float>();
  int64_t zeros = 0;
  bool only_two_values = true;
  for (float e : v) {
    if (e == 0.0f)
      ++zeros;
    else
      only_two_values = only_two_values && std::abs(e - 1.0f / 0.7f) < 1e-6f;
  }
  CHECK(only_two_values);
  CHECK(static_cast<double>(zeros) / 1e6 == doctest::Approx(0.3).epsilon(0.01));
  CHECK(xg::mean(y).item() == doctest::Approx(1.0).epsilon(0.01));  // the expectation is kept

  xg::manual_seed(8);
  CHECK(drop.forward(x).to_vector<float>() == v);  // the same seed, the same mask
  CHECK(drop.forward(x).to_vector<float>() != v);  // the generator moved on

  // the gradient is the mask (0 or 1 / (1 - p))
  Tensor xs = xg::randn({50, 40}, {.requires_grad = true});
  Tensor ys = drop.forward(xs);
  ys.backward(xg::ones_like(ys));
  const auto gv = xs.grad().to_vector<double>(), yv = ys.to_vector<double>(), xv = xs.to_vector<double>();
  REQUIRE(gv.size() == 2000);
  REQUIRE(yv.size() == 2000);
  for (std::size_t i = 0; i < gv.size(); ++i) {
    CHECK((gv[i] == 0.0 || std::abs(gv[i] - 1.0 / 0.7) < 1e-6));
    CHECK(yv[i] == doctest::Approx(xv[i] * gv[i]));
  }

  drop.eval();
  CHECK_FALSE(drop.is_training());
  Tensor e = drop.forward(x);
  CHECK(e.impl() == x.impl());  // identity: x itself
  drop.train();
  CHECK(nn::Dropout(0.0).forward(x).impl() == x.impl());
  CHECK(xg::max(nn::Dropout(1.0).forward(x)).item() == 0.0);
  CHECK(F::dropout(x, 0.5, false).impl() == x.impl());
  CHECK_ERROR(nn::Dropout(1.5), xg::ValueError, "Dropout: p must be in [0, 1], got 1.5");
  CHECK_ERROR(F::dropout(x, -0.1), xg::ValueError, "dropout: p must be in [0, 1]", "-0.1");

  // gradcheck with the mask held fixed (re-seeded before each evaluation)
  nn::Dropout d2(0.4);
  check_layer_grads(d2, xg::randn({3, 4}), true, [] { xg::manual_seed(9); });
}
