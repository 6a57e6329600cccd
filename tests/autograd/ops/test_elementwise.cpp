// Element-wise ops of autograd/ops/elementwise.cpp: NaN propagation and the gradients at special
// points, as PyTorch 1.13 (values from torch, named in each case). Accuracy on extreme values is
// measured op by op in test_extreme_values.cpp; every op is also gradchecked by the registry sweep.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"

namespace {
using xg::Tensor;
using xg_test::check_values;
Tensor f64(const std::vector<double>& v) {
  return xg::tensor(v, {.dtype = xg::Dtype::float64});
}
std::vector<double> vec(const Tensor& t) {
  return t.to_vector<double>();
}
}  // namespace

TEST_CASE("maximum and minimum propagate NaN from either operand; both get the gradient there") {
  // torch.maximum([nan, 1, 2], [0, nan, 2]) = [nan, nan, 2], gradients [1, 1, 0.5] for both (the
  // same for minimum). xgrad returned the other operand where the first was NaN.
  for (bool larger : {true, false}) {
    Tensor a = f64({NAN, 1, 2}).requires_grad_(), b = f64({0, NAN, 2}).requires_grad_();
    Tensor m = larger ? xg::maximum(a, b) : xg::minimum(a, b);
    const std::vector<double> v = vec(m.detach());
    CHECK(std::isnan(v[0]));
    CHECK(std::isnan(v[1]));
    CHECK(v[2] == 2);
    const std::vector<Tensor> g = xg::grad({xg::sum(m)}, {a, b});
    check_values(g[0], {1, 1, 0.5});
    check_values(g[1], {1, 1, 0.5});
  }
}

TEST_CASE("relu passes the gradient at NaN; abs(-0) is +0; pow's gradients at 0") {
  // torch.relu backward at [nan, -1, 2]: [1, 0, 1] (its mask is "not y <= 0")
  Tensor r = f64({NAN, -1, 2}).requires_grad_();
  check_values(xg::grad({xg::sum(xg::relu(r))}, {r})[0], {1, 0, 1});
  CHECK_FALSE(std::signbit(vec(xg::abs(f64({-0.0})))[0]));
  // torch.pow([0, 0, 2], [0, 2, 0]): d/da [0, 0, 0], d/db [0, 0, log 2] (was NaN and -inf at (0, 0))
  Tensor a = f64({0, 0, 2}).requires_grad_(), b = f64({0, 2, 0}).requires_grad_();
  const std::vector<Tensor> g = xg::grad({xg::sum(xg::pow(a, b))}, {a, b});
  check_values(g[0], {0, 0, 0});
  check_values(g[1], {0, 0, 0.6931471805599453});
}

TEST_CASE("div's gradient for the divisor does not underflow") {
  // float32 d/db (0 / 1e-30) = -(0 / b) / b = -0 (PyTorch the same); -a / b^2 was 0 / 0 = NaN
  Tensor a = xg::tensor({0.0f, 1e-20f}).requires_grad_(), b = xg::tensor({1e-30f, 1e-20f}).requires_grad_();
  const std::vector<float> gb = xg::grad({xg::sum(xg::div(a, b))}, {b})[0].to_vector<float>();
  CHECK(gb[0] == 0.0f);
  CHECK(gb[1] == doctest::Approx(-1e20).epsilon(1e-6));  // -(1e-20 / 1e-20) / 1e-20
}
