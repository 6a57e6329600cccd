// nn/dropout.cpp: inverted dropout in training, the identity in eval, masks from the seed, the
// gradient, errors, and a gradcheck with the mask held fixed.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
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

TEST_CASE("dropout takes a generator: the default generator's masks, from a stream of its own") {
  Tensor x = xg::ones({20, 30});
  xg::manual_seed(3);
  const std::vector<float> from_default = F::dropout(x, 0.4).to_vector<float>();
  // the same seed in a Generator gives the same mask, and leaves the default generator alone
  xg::manual_seed(1);
  const std::vector<float> next_default = xg::rand({4}).to_vector<float>();
  xg::manual_seed(1);
  xg::Generator g(3);
  CHECK(F::dropout(x, 0.4, true, &g).to_vector<float>() == from_default);
  CHECK(xg::rand({4}).to_vector<float>() == next_default);
  // the module holds a shared generator: two modules with generators of one seed agree
  auto g1 = std::make_shared<xg::Generator>(11), g2 = std::make_shared<xg::Generator>(11);
  nn::Dropout d1(nn::DropoutOptions{.p = 0.5, .generator = g1}),
      d2(nn::DropoutOptions{.p = 0.5, .generator = g2});
  for (int i = 0; i < 3; ++i) CHECK(d1.forward(x).to_vector<float>() == d2.forward(x).to_vector<float>());
  // its state is the caller's to save and restore
  const Tensor state = g1->get_state();
  const std::vector<float> m = d1.forward(x).to_vector<float>();
  g1->set_state(state);
  CHECK(d1.forward(x).to_vector<float>() == m);
  // float64 too
  xg::Generator h(5), h2(5);
  Tensor x64 = xg::ones({50}, {.dtype = xg::Dtype::float64});
  CHECK(F::dropout(x64, 0.5, true, &h).to_vector<double>() ==
        F::dropout(x64, 0.5, true, &h2).to_vector<double>());
}
