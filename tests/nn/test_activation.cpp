// nn/activation.cpp: every activation layer equals the function it wraps, its repr, a float64
// gradcheck, spot values.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/functional.hpp"

using xg::Dtype;
using xg::Tensor;
namespace nn = xg::nn;
namespace F = xg::nn::functional;
using xg_test::check_layer_grads;

TEST_CASE("activation layers: the functions they wrap, reprs, gradcheck") {
  xg::manual_seed(12);
  Tensor x = xg::randn({3, 5}, {.dtype = Dtype::float64});
  struct Case {
    nn::ModulePtr m;
    Tensor want;
    std::string repr;
  };
  std::vector<Case> cases = {
      {std::make_shared<nn::ReLU>(), xg::relu(x), "ReLU()"},
      {std::make_shared<nn::LeakyReLU>(0.2), xg::leaky_relu(x, 0.2), "LeakyReLU(negative_slope=0.2)"},
      {std::make_shared<nn::LeakyReLU>(), xg::leaky_relu(x, 0.01), "LeakyReLU(negative_slope=0.01)"},
      {std::make_shared<nn::ELU>(), xg::elu(x, 1.0), "ELU(alpha=1.0)"},
      {std::make_shared<nn::ELU>(nn::ELUOptions{.alpha = 0.5}), xg::elu(x, 0.5), "ELU(alpha=0.5)"},
      {std::make_shared<nn::GELU>(), xg::gelu(x), "GELU(approximate='none')"},
      {std::make_shared<nn::GELU>(nn::GELUOptions{.approximate = "tanh"}), F::gelu(x, "tanh"),
       "GELU(approximate='tanh')"},
      {std::make_shared<nn::SiLU>(), xg::silu(x), "SiLU()"},
      {std::make_shared<nn::Sigmoid>(), xg::sigmoid(x), "Sigmoid()"},
      {std::make_shared<nn::Tanh>(), xg::tanh(x), "Tanh()"},
      {std::make_shared<nn::Softmax>(1), xg::softmax(x, 1), "Softmax(dim=1)"},
      {std::make_shared<nn::LogSoftmax>(0), xg::log_softmax(x, 0), "LogSoftmax(dim=0)"},
      {std::make_shared<nn::Softplus>(), xg::softplus(x), "Softplus(beta=1.0, threshold=20.0)"},
      {std::make_shared<nn::Softplus>(nn::SoftplusOptions{.beta = 2, .threshold = 10}),
       xg::softplus(x, 2, 10), "Softplus(beta=2.0, threshold=10.0)"},
  };
  for (Case& c : cases) {
    CAPTURE(c.repr);
    CHECK(c.m->parameters().empty());
    CHECK(c.m->repr() == c.repr);
    Tensor y = c.m->forward(x);
    CHECK(y.shape() == x.shape());
    CHECK(xg::max(xg::abs(y - c.want)).item() == 0.0);
    check_layer_grads(*c.m, x);
  }
  // spot values
  CHECK(nn::ReLU().forward(xg::tensor({-1, 2})).to_vector<double>() == std::vector<double>{0, 2});
  CHECK(nn::LeakyReLU(0.1).forward(xg::tensor({-1, 2})).to_vector<float>() == std::vector<float>{-0.1f, 2});
  CHECK(nn::Sigmoid().forward(xg::tensor({0.0})).item() == 0.5);
  Tensor sm = nn::Softmax(1).forward(x);
  for (double s : xg::sum(sm, {1}).to_vector<double>()) CHECK(s == doctest::Approx(1.0));
  // the tanh approximation of GELU stays within 1e-3 of the exact one
  Tensor wide = xg::linspace(-6, 6, 1001, {.dtype = Dtype::float64});
  CHECK(xg::max(xg::abs(F::gelu(wide, "tanh") - xg::gelu(wide))).item() < 1e-3);
  CHECK(F::gelu(xg::tensor({1.0}, {.dtype = Dtype::float64}), "tanh").item() ==
        doctest::Approx(0.8411919906082768).epsilon(1e-12));
  CHECK_ERROR(nn::GELU(nn::GELUOptions{.approximate = "fast"}), xg::ValueError, "GELU:", "\"fast\"");
}
