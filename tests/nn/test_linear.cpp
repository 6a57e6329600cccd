// nn layers: output shapes, PyTorch's parameter names, shapes and initialisation bounds, reprs,
// Dropout's train/eval behaviour, Embedding's padding_idx, and a float64 gradcheck (and
// gradgradcheck) of every layer with respect to its input and its parameters.
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "xgrad/autograd.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/conv.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/embedding.hpp"
#include "xgrad/nn/functional.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/pooling.hpp"

using xg::Dtype;
using xg::Shape;
using xg::Tensor;
namespace nn = xg::nn;
namespace F = xg::nn::functional;

namespace {

using xg_test::contains;

// Names and shapes of a module's parameters, in registration order.
std::vector<std::pair<std::string, Shape>> param_layout(const nn::Module& m) {
  std::vector<std::pair<std::string, Shape>> out;
  for (const auto& [n, t] : m.named_parameters()) out.emplace_back(n, t.shape());
  return out;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

// Converts the module to float64 and gradchecks forward with respect to x and every parameter
// (the parameters are passed to gradcheck as inputs: it perturbs them in place).
void check_layer_grads(nn::Module& m, const Tensor& x0, bool second_order = true, std::function<void()> before = {}) {
  m.to(Dtype::float64);
  Tensor x = x0.to(Dtype::float64).detach().requires_grad_();
  std::vector<Tensor> inputs{x};
  for (const Tensor& p : m.parameters()) {
    REQUIRE(p.dtype() == Dtype::float64);
    REQUIRE(p.requires_grad());
    inputs.push_back(p);
  }
  auto f = [&](const std::vector<Tensor>& in) {
    if (before) before();
    return m.forward(in[0]);
  };
  const xg::GradcheckReport r = xg::gradcheck(f, inputs);
  CHECK_MESSAGE(r.passed, m.type_name(), ": ", r.str());
  CHECK(r.inputs_checked == static_cast<int>(inputs.size()));
  if (second_order) {
    const xg::GradcheckReport r2 = xg::gradgradcheck(f, inputs);
    CHECK_MESSAGE(r2.passed, m.type_name(), ": ", r2.str());
  }
}

}  // namespace

// ================================================================ Linear, Bilinear
TEST_CASE("Linear: PyTorch's parameters, init bounds, values, shapes and repr") {
  xg::manual_seed(1);
  nn::Linear fc(784, 128);
  CHECK(param_layout(fc) == std::vector<std::pair<std::string, Shape>>{{"weight", {128, 784}}, {"bias", {128}}});
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
  CHECK(param_layout(bl) == std::vector<std::pair<std::string, Shape>>{{"weight", {40, 20, 30}}, {"bias", {40}}});
  const double bound = 1.0 / std::sqrt(20.0);
  CHECK(max_abs(bl.weight) <= bound);
  CHECK(max_abs(bl.weight) > 0.99 * bound);
  CHECK(max_abs(bl.bias) <= bound);
  CHECK(bl.extra_repr() == "in1_features=20, in2_features=30, out_features=40, bias=true");
  Tensor a = xg::randn({5, 20}), b = xg::randn({5, 30});
  Tensor y = bl(a, b);
  CHECK(y.shape() == Shape{5, 40});
  // y[n, o] = a[n] . W[o] . b[n] + bias[o]
  const auto av = a.to_vector<double>(), bv = b.to_vector<double>(), wv = bl.weight.to_vector<double>(), cv = bl.bias.to_vector<double>();
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

// ================================================================ Conv2d, Conv1d
TEST_CASE("Conv2d: parameters as PyTorch's, init bounds, output shapes, repr") {
  xg::manual_seed(4);
  nn::Conv2d conv(nn::Conv2dOptions{.in_channels = 1, .out_channels = 32, .kernel_size = 3, .padding = 1});
  CHECK(param_layout(conv) == std::vector<std::pair<std::string, Shape>>{{"weight", {32, 1, 3, 3}}, {"bias", {32}}});
  CHECK(max_abs(conv.weight) <= 1.0 / 3.0);  // fan_in = 1 * 3 * 3
  CHECK(max_abs(conv.weight) > 0.95 / 3.0);
  CHECK(max_abs(conv.bias) <= 1.0 / 3.0);
  CHECK(conv.forward(xg::randn({4, 1, 28, 28})).shape() == Shape{4, 32, 28, 28});
  CHECK(conv.forward(xg::randn({1, 28, 28})).shape() == Shape{32, 28, 28});
  CHECK(conv.extra_repr() == "1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)");

  nn::Conv2d g({.in_channels = 8, .out_channels = 16, .kernel_size = {3, 5}, .stride = 2, .padding = {1, 2}, .dilation = 2, .groups = 4, .bias = false});
  CHECK(param_layout(g) == std::vector<std::pair<std::string, Shape>>{{"weight", {16, 2, 3, 5}}});
  CHECK(max_abs(g.weight) <= 1.0 / std::sqrt(30.0));  // fan_in = 8 / 4 * 3 * 5
  CHECK(max_abs(g.weight) > 0.9 / std::sqrt(30.0));
  // H: (20 + 2 - 2 * 2 - 1) / 2 + 1 = 9; W: (21 + 4 - 2 * 4 - 1) / 2 + 1 = 9
  CHECK(g.forward(xg::randn({2, 8, 20, 21})).shape() == Shape{2, 16, 9, 9});
  CHECK(g.extra_repr() == "8, 16, kernel_size=(3, 5), stride=(2, 2), padding=(1, 2), dilation=(2, 2), groups=4, bias=false");

  auto c2 = std::make_shared<nn::Conv2d>(32, 64, 3);
  CHECK(param_layout(*c2) == std::vector<std::pair<std::string, Shape>>{{"weight", {64, 32, 3, 3}}, {"bias", {64}}});
  // the layer is the functional form with its parameters
  Tensor x = xg::randn({2, 32, 6, 6});
  CHECK(xg::max(xg::abs(c2->forward(x) - F::conv2d(x, c2->weight, c2->bias))).item() == 0.0);

  CHECK_ERROR(conv.forward(xg::randn({4, 3, 28, 28})), xg::ShapeError, "Conv2d", "[4, 3, 28, 28]", "3 channels", "in_channels = 1");
  CHECK_ERROR(conv.forward(xg::randn({28, 28})), xg::ShapeError, "Conv2d", "[28, 28]");
  CHECK_ERROR(nn::Conv2d({.in_channels = 6, .out_channels = 4, .kernel_size = 3, .groups = 4}), xg::ValueError, "Conv2d", "in_channels 6",
              "groups 4");
  CHECK_ERROR(nn::Conv2d({.in_channels = 1, .out_channels = 4}), xg::ValueError, "Conv2d", "kernel_size");
}

TEST_CASE("Conv1d: parameters, shapes, repr, equal to Conv2d on [N, C, 1, L]") {
  xg::manual_seed(5);
  nn::Conv1d c({.in_channels = 16, .out_channels = 33, .kernel_size = 3, .stride = 2});
  CHECK(param_layout(c) == std::vector<std::pair<std::string, Shape>>{{"weight", {33, 16, 3}}, {"bias", {33}}});
  CHECK(max_abs(c.weight) <= 1.0 / std::sqrt(48.0));
  CHECK(max_abs(c.weight) > 0.95 / std::sqrt(48.0));
  CHECK(c.forward(xg::randn({20, 16, 50})).shape() == Shape{20, 33, 24});
  CHECK(c.extra_repr() == "16, 33, kernel_size=(3,), stride=(2,)");
  Tensor x = xg::randn({2, 16, 9});
  Tensor ref = xg::squeeze(xg::conv2d(xg::unsqueeze(x, 2), xg::unsqueeze(c.weight, 2), c.bias, {1, 2}), 2);
  CHECK(xg::max(xg::abs(c.forward(x) - ref)).item() == 0.0);
  CHECK_ERROR(c.forward(xg::randn({2, 15, 9})), xg::ShapeError, "Conv1d", "[2, 15, 9]", "in_channels = 16");
  nn::Conv1d p({.in_channels = 4, .out_channels = 4, .kernel_size = 3, .padding = 1, .dilation = 2, .groups = 2, .bias = false});
  CHECK(p.extra_repr() == "4, 4, kernel_size=(3,), stride=(1,), padding=(1,), dilation=(2,), groups=2, bias=false");
}

TEST_CASE("Conv2d and Conv1d: float64 gradcheck with respect to input and parameters") {
  xg::manual_seed(6);
  nn::Conv2d c({.in_channels = 2, .out_channels = 3, .kernel_size = 3, .stride = 2, .padding = 1});
  check_layer_grads(c, xg::randn({2, 2, 5, 5}));
  nn::Conv2d g({.in_channels = 4, .out_channels = 2, .kernel_size = {2, 3}, .dilation = {2, 1}, .groups = 2, .bias = false});
  check_layer_grads(g, xg::randn({1, 4, 5, 5}));
  nn::Conv1d c1({.in_channels = 2, .out_channels = 3, .kernel_size = 3, .padding = 1});
  check_layer_grads(c1, xg::randn({2, 2, 6}));
}

// ================================================================ pools, Flatten
TEST_CASE("MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten: no parameters, shapes, values, repr") {
  Tensor x = xg::reshape(xg::arange(0, 32), {1, 2, 4, 4});
  nn::MaxPool2d mp(2);
  CHECK(mp.parameters().empty());
  CHECK(mp.forward(x).shape() == Shape{1, 2, 2, 2});
  CHECK(mp.forward(x).to_vector<double>() == std::vector<double>{5, 7, 13, 15, 21, 23, 29, 31});
  CHECK(mp.extra_repr() == "kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=false");
  nn::MaxPool2d mp2({.kernel_size = {3, 2}, .stride = 1, .padding = {1, 0}, .ceil_mode = true});
  CHECK(mp2.forward(x).shape() == Shape{1, 2, 4, 3});
  CHECK(mp2.extra_repr() == "kernel_size=(3, 2), stride=1, padding=(1, 0), dilation=1, ceil_mode=true");

  nn::AvgPool2d ap(2);
  CHECK(ap.parameters().empty());
  CHECK(ap.forward(x).to_vector<double>() == std::vector<double>{2.5, 4.5, 10.5, 12.5, 18.5, 20.5, 26.5, 28.5});
  CHECK(ap.extra_repr() == "kernel_size=2, stride=2, padding=0");
  nn::AvgPool2d ap2({.kernel_size = 3, .stride = 2, .padding = 1, .count_include_pad = false});
  CHECK(ap2.forward(x).shape() == Shape{1, 2, 2, 2});
  CHECK(ap2.forward(x).at({0, 0, 0, 0}) == doctest::Approx((0 + 1 + 4 + 5) / 4.0));
  CHECK(ap2.extra_repr() == "kernel_size=3, stride=2, padding=1, count_include_pad=false");

  nn::AdaptiveAvgPool2d gap(1);
  CHECK(gap.forward(x).shape() == Shape{1, 2, 1, 1});
  CHECK(gap.forward(x).to_vector<double>() == std::vector<double>{7.5, 23.5});
  CHECK(gap.extra_repr() == "output_size=1");
  CHECK(nn::AdaptiveAvgPool2d({3, 2}).forward(x).shape() == Shape{1, 2, 3, 2});
  CHECK(nn::AdaptiveAvgPool2d({3, 2}).extra_repr() == "output_size=(3, 2)");

  nn::Flatten fl;
  CHECK(fl.forward(xg::zeros({5, 2, 3, 4})).shape() == Shape{5, 24});
  CHECK(nn::Flatten(0, 1).forward(xg::zeros({5, 2, 3, 4})).shape() == Shape{10, 3, 4});
  CHECK(nn::Flatten(1, 2).forward(xg::zeros({5, 2, 3, 4})).shape() == Shape{5, 6, 4});
  CHECK(fl.extra_repr() == "start_dim=1, end_dim=-1");
  CHECK_ERROR(nn::MaxPool2d({.kernel_size = 2, .padding = 2}), xg::ValueError, "MaxPool2d:", "padding (2, 2)");
  CHECK_ERROR(nn::AdaptiveAvgPool2d(0), xg::ValueError, "AdaptiveAvgPool2d:", "output_size must be positive");
}

TEST_CASE("pools and Flatten: float64 gradcheck with respect to the input") {
  xg::manual_seed(7);
  nn::MaxPool2d mp({.kernel_size = 3, .stride = 2, .padding = 1});
  check_layer_grads(mp, xg::randn({2, 2, 5, 5}));
  nn::AvgPool2d ap({.kernel_size = 2, .stride = 1, .ceil_mode = true});
  check_layer_grads(ap, xg::randn({1, 2, 4, 5}));
  nn::AdaptiveAvgPool2d gap({2, 3});
  check_layer_grads(gap, xg::randn({2, 1, 5, 7}));
  nn::Flatten fl;
  check_layer_grads(fl, xg::randn({2, 3, 2}));
}

// ================================================================ Dropout
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
    if (e == 0.0f) ++zeros;
    else only_two_values = only_two_values && std::abs(e - 1.0f / 0.7f) < 1e-6f;
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

// ================================================================ Embedding
TEST_CASE("Embedding: weight N(0, 1), lookups, padding_idx zero and without gradient") {
  xg::manual_seed(10);
  nn::Embedding big(1000, 100);
  CHECK(param_layout(big) == std::vector<std::pair<std::string, Shape>>{{"weight", {1000, 100}}});
  CHECK(std::abs(xg::mean(big.weight).item()) < 0.01);
  CHECK(xg::std(big.weight).item() == doctest::Approx(1.0).epsilon(0.01));
  CHECK(big.extra_repr() == "1000, 100");

  nn::Embedding emb({.num_embeddings = 10, .embedding_dim = 3, .padding_idx = 0});
  CHECK(emb.extra_repr() == "10, 3, padding_idx=0");
  CHECK(xg::slice(emb.weight, 0, 0, 1).to_vector<double>() == std::vector<double>{0, 0, 0});
  CHECK(max_abs(xg::slice(emb.weight, 0, 1, 10)) > 0);
  Tensor idx = xg::from_vector(std::vector<int64_t>{1, 2, 0, 2, 5, 0}, {2, 3});
  Tensor y = emb.forward(idx);
  CHECK(y.shape() == Shape{2, 3, 3});
  for (int64_t k = 0; k < 3; ++k) {
    CHECK(y.at({0, 0, k}) == emb.weight.at({1, k}));
    CHECK(y.at({1, 1, k}) == emb.weight.at({5, k}));
    CHECK(y.at({0, 2, k}) == 0.0);
  }
  // the gradient counts the uses of each row; the padding row gets none
  y.backward(xg::ones_like(y));
  const Tensor g = emb.weight.grad();
  const std::vector<double> counts = {0, 1, 2, 0, 0, 1, 0, 0, 0, 0};
  for (int64_t r = 0; r < 10; ++r)
    for (int64_t k = 0; k < 3; ++k) CHECK(g.at({r, k}) == counts[r]);

  // a padding row set to other values is still returned, and still gets no gradient
  {
    xg::NoGradGuard ng;
    emb.weight.fill_(2.0);
  }
  emb.zero_grad();
  Tensor y2 = emb.forward(xg::from_vector(std::vector<int64_t>{0, 3}, {2}));
  CHECK(y2.to_vector<double>() == std::vector<double>{2, 2, 2, 2, 2, 2});
  xg::sum(y2 * y2).backward();
  CHECK(emb.weight.grad().at({0, 0}) == 0.0);
  CHECK(emb.weight.grad().at({3, 0}) == 4.0);

  // negative padding_idx counts from the end
  nn::Embedding neg({.num_embeddings = 5, .embedding_dim = 2, .padding_idx = -1});
  CHECK(neg.options().padding_idx == 4);
  CHECK(xg::slice(neg.weight, 0, 4, 5).to_vector<double>() == std::vector<double>{0, 0});

  CHECK_ERROR(emb.forward(xg::from_vector(std::vector<int64_t>{3, 10}, {2})), xg::IndexError, "embedding", "10", "[10, 3]");
  CHECK_ERROR(emb.forward(xg::zeros({2})), xg::TypeError, "embedding", "int64", "float32");
  CHECK_ERROR(nn::Embedding({.num_embeddings = 5, .embedding_dim = 2, .padding_idx = 5}), xg::IndexError, "Embedding: padding_idx 5", "num_embeddings = 5");

  auto pre = nn::Embedding::from_pretrained(xg::tensor({1, 2, 3, 4, 5, 6}, {3, 2}, {.dtype = Dtype::float64}));
  CHECK(pre->weight.dtype() == Dtype::float64);
  CHECK_FALSE(pre->weight.requires_grad());
  CHECK(pre->forward(xg::from_vector(std::vector<int64_t>{2, 0}, {2})).to_vector<double>() == std::vector<double>{5, 6, 1, 2});
}

TEST_CASE("Embedding: float64 gradcheck with respect to the weight") {
  xg::manual_seed(11);
  nn::Embedding emb({.num_embeddings = 6, .embedding_dim = 3, .padding_idx = 2});
  emb.to(Dtype::float64);
  // (Not at the padding index: there the output depends on the row but, by design, passes no
  // gradient to it, which the Embedding test above checks.)
  Tensor idx = xg::from_vector(std::vector<int64_t>{1, 3, 4, 1, 5}, {5});
  auto f = [&](const std::vector<Tensor>&) { return emb.forward(idx); };
  const auto r = xg::gradcheck(f, {emb.weight});
  CHECK_MESSAGE(r.passed, r.str());
  const auto r2 = xg::gradgradcheck(f, {emb.weight});
  CHECK_MESSAGE(r2.passed, r2.str());
}

// ================================================================ activations
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
      {std::make_shared<nn::GELU>(nn::GELUOptions{.approximate = "tanh"}), F::gelu(x, "tanh"), "GELU(approximate='tanh')"},
      {std::make_shared<nn::SiLU>(), xg::silu(x), "SiLU()"},
      {std::make_shared<nn::Sigmoid>(), xg::sigmoid(x), "Sigmoid()"},
      {std::make_shared<nn::Tanh>(), xg::tanh(x), "Tanh()"},
      {std::make_shared<nn::Softmax>(1), xg::softmax(x, 1), "Softmax(dim=1)"},
      {std::make_shared<nn::LogSoftmax>(0), xg::log_softmax(x, 0), "LogSoftmax(dim=0)"},
      {std::make_shared<nn::Softplus>(), xg::softplus(x), "Softplus(beta=1.0, threshold=20.0)"},
      {std::make_shared<nn::Softplus>(nn::SoftplusOptions{.beta = 2, .threshold = 10}), xg::softplus(x, 2, 10), "Softplus(beta=2.0, threshold=10.0)"},
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
  CHECK(F::gelu(xg::tensor({1.0}, {.dtype = Dtype::float64}), "tanh").item() == doctest::Approx(0.8411919906082768).epsilon(1e-12));
  CHECK_ERROR(nn::GELU(nn::GELUOptions{.approximate = "fast"}), xg::ValueError, "GELU:", "\"fast\"");
}

// ================================================================ putting layers together
TEST_CASE("a small CNN in Sequential: dotted parameter names, shapes, backward, state dict round trip") {
  xg::manual_seed(13);
  auto net = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 1, .out_channels = 4, .kernel_size = 3, .padding = 1}),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Dropout>(0.25),
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(4 * 7 * 7, 10), std::make_shared<nn::LogSoftmax>(1)});
  std::vector<std::pair<std::string, Shape>> want = {{"0.weight", {4, 1, 3, 3}}, {"0.bias", {4}}, {"5.weight", {10, 196}}, {"5.bias", {10}}};
  CHECK(param_layout(*net) == want);
  Tensor x = xg::randn({8, 1, 14, 14});
  Tensor y = net->forward(x);
  CHECK(y.shape() == Shape{8, 10});
  xg::mean(y).backward();
  for (const Tensor& p : net->parameters()) CHECK(p.grad().defined());
  std::ostringstream s;
  s << *net;
  CHECK(contains(s.str(), "(0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"));
  CHECK(contains(s.str(), "(3): Dropout(p=0.25)"));
  CHECK(contains(s.str(), "(5): Linear(in_features=196, out_features=10, bias=true)"));
  // eval() reaches the Dropout: two evaluations agree
  net->eval();
  CHECK(xg::max(xg::abs(net->forward(x) - net->forward(x))).item() == 0.0);
  // weights move to another instance by name
  xg::manual_seed(14);
  auto other = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 1, .out_channels = 4, .kernel_size = 3, .padding = 1}),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Dropout>(0.25),
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(4 * 7 * 7, 10), std::make_shared<nn::LogSoftmax>(1)});
  other->eval();
  CHECK(xg::max(xg::abs(other->forward(x) - net->forward(x))).item() > 0.0);
  other->load_state_dict(net->state_dict());
  CHECK(xg::max(xg::abs(other->forward(x) - net->forward(x))).item() == 0.0);
}
