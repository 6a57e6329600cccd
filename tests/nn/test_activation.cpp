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

TEST_CASE("the activation layers of the newer functions: wrapped ops, reprs, PyTorch values, gradcheck") {
  xg::manual_seed(13);
  Tensor x = xg::randn({3, 4}, {.dtype = Dtype::float64});
  struct Case {
    nn::ModulePtr m;
    Tensor want;
    std::string repr;
  };
  std::vector<Case> cases = {
      {std::make_shared<nn::Mish>(), xg::mish(x), "Mish()"},
      {std::make_shared<nn::Hardswish>(), xg::hardswish(x), "Hardswish()"},
      {std::make_shared<nn::Hardsigmoid>(), xg::hardsigmoid(x), "Hardsigmoid()"},
      {std::make_shared<nn::SELU>(), xg::selu(x), "SELU()"},
      {std::make_shared<nn::CELU>(0.5), xg::celu(x, 0.5), "CELU(alpha=0.5)"},
      {std::make_shared<nn::GLU>(), xg::glu(x, -1), "GLU(dim=-1)"},
      {std::make_shared<nn::Softsign>(), xg::softsign(x), "Softsign()"},
      {std::make_shared<nn::Tanhshrink>(), xg::tanhshrink(x), "Tanhshrink()"},
      {std::make_shared<nn::Hardtanh>(), xg::hardtanh(x), "Hardtanh(min_val=-1.0, max_val=1.0)"},
      {std::make_shared<nn::ReLU6>(), xg::hardtanh(x, 0, 6), "ReLU6()"},
      {std::make_shared<nn::LogSigmoid>(), xg::logsigmoid(x), "LogSigmoid()"},
      {std::make_shared<nn::Softmin>(1), xg::softmin(x, 1), "Softmin(dim=1)"},
  };
  for (Case& c : cases) {
    CAPTURE(c.repr);
    CHECK(c.m->parameters().empty());
    CHECK(c.m->repr() == c.repr);
    CHECK(xg::max(xg::abs(c.m->forward(x) - c.want)).item() == 0.0);
    check_layer_grads(*c.m, x);
  }
  // torch.nn.<layer>()(x) for x = sin(0.9 i - 0.2) * 4, i = 0..6
  const Tensor w = xg::sin(xg::arange(0, 7, 1, {.dtype = Dtype::float64}) * 0.9 - 0.2) * 4.0;
  auto run = [&](nn::Module&& m) { return m.forward(w).to_vector<double>(); };
  xg_test::check_close(run(nn::Mish()),
                       {-0.2832215176784592, 2.551279854913046, 3.9956996477971716, 2.3606277165394767,
                        -0.3046288763123341, -0.09266058225113903, -0.1016583462666956},
                       1e-14);
  xg_test::check_close(run(nn::Hardswish()),
                       {-0.2920866535939692, 2.3951458506083942, 3.9982944121660204, 2.1520613742569443,
                        -0.33694552452009613, 0, 0},
                       1e-14);
  xg_test::check_close(run(nn::SELU()),
                       {-0.963918446966517, 2.7075206402100243, 4.201011886600739, 2.5152610908591138,
                        -1.1255082822394586, -1.7130695253252681, -1.7067747515104146},
                       1e-14);
  xg_test::check_close(run(nn::CELU(0.5)),
                       {-0.397971370827662, 2.576870748950764, 3.998294412166021, 2.3938885764158258,
                        -0.4352664714941796, -0.4996719926937106, -0.49957387781191076},
                       1e-14);
  xg_test::check_close(run(nn::Hardtanh(-0.5, 2.0)), {-0.5, 2, 2, 2, -0.5, -0.5, -0.5}, 0);
  xg_test::check_close(run(nn::ReLU6()),
                       {0, 2.576870748950764, 3.998294412166021, 2.3938885764158258, 0, 0, 0}, 1e-15);
  xg_test::check_close(run(nn::LogSigmoid()),
                       {-1.1674311869373621, -0.07326114131944665, -0.018180630683456423,
                        -0.08734588219665515, -1.3295132968575432, -3.6899540172584984, -3.562593841339864},
                       1e-14);
  xg_test::check_close(run(nn::Softmin(0)),
                       {0.028208929879380562, 0.000968594253398965, 0.00023378973285271222,
                        0.0011630812000914884, 0.0354146534987849, 0.497514655285001, 0.43649629615049046},
                       1e-15);
  xg_test::check_close(nn::GLU(0).forward(xg::slice(w, 0, 0, 6)).to_vector<double>(),
                       {-0.7282105819381116, 0.6818554988742803, 0.09985000749775448}, 1e-15);
  CHECK_ERROR(nn::Hardtanh(1.0, 1.0), xg::ValueError, "Hardtanh:", "max_val");
  CHECK_ERROR(nn::CELU(0.0), xg::ValueError, "CELU:", "alpha");
  CHECK_ERROR(nn::GLU(1).forward(xg::zeros({2, 3})), xg::ShapeError, "glu", "[2, 3]");
}

TEST_CASE("PReLU: PyTorch's parameter, init 0.25, values, gradients, gradcheck") {
  nn::PReLU one;
  CHECK(xg_test::names_of(one.named_parameters()) == std::vector<std::string>{"weight"});
  CHECK(one.weight.shape() == xg::Shape{1});
  CHECK(one.weight.to_vector<float>() == std::vector<float>{0.25f});
  CHECK(one.repr() == "PReLU(num_parameters=1)");
  nn::PReLU p(3);
  CHECK(p.weight.to_vector<float>() == std::vector<float>{0.25f, 0.25f, 0.25f});
  CHECK(nn::PReLU(2, 0.1).weight.to_vector<float>() == std::vector<float>{0.1f, 0.1f});
  p.to(Dtype::float64);
  const Tensor x =
      xg::reshape(xg::sin(xg::arange(0, 12, 1, {.dtype = Dtype::float64}) * 0.7 + 0.3) * 2.0, {2, 3, 2});
  Tensor y = p.forward(x);
  // torch.nn.PReLU(3) on sin(0.7 i + 0.3) * 2 reshaped [2, 3, 2]; y.sum().backward()
  xg_test::check_close(y.to_vector<double>(),
                       {0.5910404133226791, 1.682941969615793, 1.9833296209049371, 1.3509263611023026,
                        0.08316132486658187, -0.30592894547135946, -0.48876505883254845, -0.4417273278600768,
                        -0.18693833241511842, 0.6230827270267557, 1.7008732412571288, 1.9787164932467638},
                       1e-15);
  xg::sum(y).backward();
  xg_test::check_close(p.weight.grad().to_vector<double>(),
                       {-3.721969546770501, -0.7477533296604737, -1.2237157818854378}, 1e-14);
  check_layer_grads(p, xg::randn({2, 3, 4}));
  check_layer_grads(one, xg::randn({5}));
  CHECK_ERROR(p.forward(xg::zeros({2, 4})), xg::ShapeError, "prelu", "[2, 4]");
  CHECK_ERROR(nn::PReLU(0), xg::ValueError, "PReLU:", "num_parameters");
}
