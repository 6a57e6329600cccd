// nn/linear.cpp: Linear and Bilinear, their parameters as PyTorch's (names, shapes, initialisation
// bounds), values against the formulas, shapes, reprs, errors, and a float64 gradcheck (and
// gradgradcheck) with respect to the input and the parameters.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/linear.hpp"

using xg::Dtype;
using xg::Shape;
using xg::Tensor;
namespace nn = xg::nn;
using xg_test::check_layer_grads;
using xg_test::max_abs;
using xg_test::param_layout;

TEST_CASE("Linear: PyTorch's parameters, init bounds, values, shapes and repr") {
  xg::manual_seed(1);
  nn::Linear fc(784, 128);
  CHECK(param_layout(fc) ==
        std::vector<std::pair<std::string, Shape>>{{"weight", {128, 784}}, {"bias", {128}}});
  const double bound = 1.0 / std::sqrt(784.0);
  CHECK(max_abs(fc.weight) <= bound);
  CHECK(max_abs(fc.weight) > 0.99 * bound);  // U(-b, b) over 100k values reaches near the bound
  CHECK(max_abs(fc.bias) <= bound);
  CHECK(max_abs(fc.bias) > 0.8 * bound);
  CHECK(std::abs(xg::mean(fc.weight).item()) < 0.001);
  CHECK(fc.extra_repr() == "in_features=784, out_features=128, bias=true");
  CHECK(fc.repr() == "Linear(in_features=784, out_features=128, bias=true)");

  nn::Linear nb({.in_features = 3, .out_features = 2, .bias = false});
  CHECK(param_layout(nb) == std::vector<std::pair<std::string, Shape>>{{"weight", {2, 3}}});
  CHECK(!nb.bias.defined());
  CHECK(nb.extra_repr() == "in_features=3, out_features=2, bias=false");

  // y = x W^T + b with known values
  nn::Linear l(3, 2);
  {
    xg::NoGradGuard g;
    l.weight.copy_(xg::tensor({1, 2, 3, -1, 0, 1}, {2, 3}));
    l.bias.copy_(xg::tensor({0.5, -0.5}));
  }
  Tensor y = l.forward(xg::tensor({1, 1, 1, 2, 0, -1}, {2, 3}));
  CHECK(y.shape() == Shape{2, 2});
  CHECK(y.to_vector<double>() == std::vector<double>{6.5, -0.5, -0.5, -3.5});
  // leading axes are kept, 1-D inputs work
  CHECK(l.forward(xg::randn({4, 5, 3})).shape() == Shape{4, 5, 2});
  CHECK(l.forward(xg::randn({3})).shape() == Shape{2});
  CHECK(l(xg::randn({7, 3})).shape() == Shape{7, 2});
  CHECK_ERROR(l.forward(xg::randn({4, 5})), xg::ShapeError, "Linear", "[4, 5]", "in_features = 3");
  CHECK_ERROR(nn::Linear(0, 3), xg::ValueError, "Linear:", "in_features must be positive, got 0");
}

TEST_CASE("Linear and Bilinear: float64 gradcheck with respect to input and parameters") {
  xg::manual_seed(2);
  nn::Linear fc(4, 3);
  check_layer_grads(fc, xg::randn({2, 4}));
  nn::Linear nb({.in_features = 3, .out_features = 2, .bias = false});
  check_layer_grads(nb, xg::randn({2, 2, 3}));

  nn::Bilinear bl(3, 2, 4);
  bl.to(Dtype::float64);
  Tensor x1 = xg::randn({2, 3}, {.dtype = Dtype::float64, .requires_grad = true});
  Tensor x2 = xg::randn({2, 2}, {.dtype = Dtype::float64, .requires_grad = true});
  auto f = [&](const std::vector<Tensor>& in) { return bl.forward(in[0], in[1]); };
  const std::vector<Tensor> inputs{x1, x2, bl.weight, bl.bias};
  const auto r = xg::gradcheck(f, inputs);
  CHECK_MESSAGE(r.passed, r.str());
  const auto r2 = xg::gradgradcheck(f, inputs);
  CHECK_MESSAGE(r2.passed, r2.str());
}

TEST_CASE("Bilinear: parameters, bounds and values against the formula") {
  xg::manual_seed(3);
  nn::Bilinear bl({.in1_features = 20, .in2_features = 30, .out_features = 40});
  CHECK(param_layout(bl) ==
        std::vector<std::pair<std::string, Shape>>{{"weight", {40, 20, 30}}, {"bias", {40}}});
  const double bound = 1.0 / std::sqrt(20.0);
  CHECK(max_abs(bl.weight) <= bound);
  CHECK(max_abs(bl.weight) > 0.99 * bound);
  CHECK(max_abs(bl.bias) <= bound);
  CHECK(bl.extra_repr() == "in1_features=20, in2_features=30, out_features=40, bias=true");
  Tensor a = xg::randn({5, 20}), b = xg::randn({5, 30});
  Tensor y = bl(a, b);
  CHECK(y.shape() == Shape{5, 40});
  // y[n, o] = a[n] . W[o] . b[n] + bias[o]
  const auto av = a.to_vector<double>(), bv = b.to_vector<double>(), wv = bl.weight.to_vector<double>(),
             cv = bl.bias.to_vector<double>();
  double worst = 0;
  for (int n = 0; n < 5; ++n)
    for (int o = 0; o < 40; ++o) {
      double s = cv[o];
      for (int i = 0; i < 20; ++i)
        for (int j = 0; j < 30; ++j) s += av[n * 20 + i] * wv[(o * 20 + i) * 30 + j] * bv[n * 30 + j];
      worst = std::max(worst, std::abs(s - y.at({n, o})));
    }
  CHECK(worst < 1e-4);
  CHECK(bl(xg::randn({2, 3, 20}), xg::randn({2, 3, 30})).shape() == Shape{2, 3, 40});
  CHECK_ERROR(bl(xg::randn({5, 21}), b), xg::ShapeError, "bilinear", "in1_features = 20", "[5, 21]");
  CHECK_ERROR(bl(a, xg::randn({4, 30})), xg::ShapeError, "bilinear", "leading axes", "[5, 20]", "[4, 30]");
}

TEST_CASE("Identity returns its input, has no parameters, gradcheck") {
  nn::Identity id;
  CHECK(id.parameters().empty());
  CHECK(id.repr() == "Identity()");
  xg::Tensor x = xg::randn({2, 3});
  CHECK(id.forward(x).data<float>() == x.data<float>());  // the same tensor, not a copy
  check_layer_grads(id, x);
}
