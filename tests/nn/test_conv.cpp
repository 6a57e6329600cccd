// nn/conv.cpp: Conv2d, Conv1d, ConvTranspose2d and ConvTranspose1d, their parameters as PyTorch's
// (names, shapes, initialisation bounds), output shapes, reprs, padding "same" / "valid" and the
// padding modes against PyTorch's numbers, equality with the functional ops, errors, and a float64
// gradcheck with respect to the input and the parameters.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/conv.hpp"
#include "xgrad/nn/functional.hpp"

using xg::Dtype;
using xg::Shape;
using xg::Tensor;
namespace nn = xg::nn;
namespace F = xg::nn::functional;
using xg_test::check_layer_grads;
using xg_test::max_abs;
using xg_test::param_layout;

TEST_CASE("Conv2d: parameters as PyTorch's, init bounds, output shapes, repr") {
  xg::manual_seed(4);
  nn::Conv2d conv(nn::Conv2dOptions{.in_channels = 1, .out_channels = 32, .kernel_size = 3, .padding = 1});
  CHECK(param_layout(conv) ==
        std::vector<std::pair<std::string, Shape>>{{"weight", {32, 1, 3, 3}}, {"bias", {32}}});
  CHECK(max_abs(conv.weight) <= 1.0 / 3.0);  // fan_in = 1 * 3 * 3
  CHECK(max_abs(conv.weight) > 0.95 / 3.0);
  CHECK(max_abs(conv.bias) <= 1.0 / 3.0);
  CHECK(conv.forward(xg::randn({4, 1, 28, 28})).shape() == Shape{4, 32, 28, 28});
  CHECK(conv.forward(xg::randn({1, 28, 28})).shape() == Shape{32, 28, 28});
  CHECK(conv.extra_repr() == "1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)");

  nn::Conv2d g({.in_channels = 8,
                .out_channels = 16,
                .kernel_size = {3, 5},
                .stride = 2,
                .padding = {1, 2},
                .dilation = 2,
                .groups = 4,
                .bias = false});
  CHECK(param_layout(g) == std::vector<std::pair<std::string, Shape>>{{"weight", {16, 2, 3, 5}}});
  CHECK(max_abs(g.weight) <= 1.0 / std::sqrt(30.0));  // fan_in = 8 / 4 * 3 * 5
  CHECK(max_abs(g.weight) > 0.9 / std::sqrt(30.0));
  // H: (20 + 2 - 2 * 2 - 1) / 2 + 1 = 9; W: (21 + 4 - 2 * 4 - 1) / 2 + 1 = 9
  CHECK(g.forward(xg::randn({2, 8, 20, 21})).shape() == Shape{2, 16, 9, 9});
  CHECK(g.extra_repr() ==
        "8, 16, kernel_size=(3, 5), stride=(2, 2), padding=(1, 2), dilation=(2, 2), groups=4, bias=false");

  auto c2 = std::make_shared<nn::Conv2d>(32, 64, 3);
  CHECK(param_layout(*c2) ==
        std::vector<std::pair<std::string, Shape>>{{"weight", {64, 32, 3, 3}}, {"bias", {64}}});
  // the layer is the functional form with its parameters
  Tensor x = xg::randn({2, 32, 6, 6});
  CHECK(xg::max(xg::abs(c2->forward(x) - F::conv2d(x, c2->weight, c2->bias))).item() == 0.0);

  CHECK_ERROR(conv.forward(xg::randn({4, 3, 28, 28})), xg::ShapeError, "Conv2d", "[4, 3, 28, 28]",
              "3 channels", "in_channels = 1");
  CHECK_ERROR(conv.forward(xg::randn({28, 28})), xg::ShapeError, "Conv2d", "[28, 28]");
  CHECK_ERROR(nn::Conv2d({.in_channels = 6, .out_channels = 4, .kernel_size = 3, .groups = 4}),
              xg::ValueError, "Conv2d", "in_channels 6", "groups 4");
  CHECK_ERROR(nn::Conv2d({.in_channels = 1, .out_channels = 4}), xg::ValueError, "Conv2d", "kernel_size");
}

TEST_CASE("Conv1d: parameters, shapes, repr, equal to Conv2d on [N, C, 1, L]") {
  xg::manual_seed(5);
  nn::Conv1d c({.in_channels = 16, .out_channels = 33, .kernel_size = 3, .stride = 2});
  CHECK(param_layout(c) ==
        std::vector<std::pair<std::string, Shape>>{{"weight", {33, 16, 3}}, {"bias", {33}}});
  CHECK(max_abs(c.weight) <= 1.0 / std::sqrt(48.0));
  CHECK(max_abs(c.weight) > 0.95 / std::sqrt(48.0));
  CHECK(c.forward(xg::randn({20, 16, 50})).shape() == Shape{20, 33, 24});
  CHECK(c.extra_repr() == "16, 33, kernel_size=(3,), stride=(2,)");
  Tensor x = xg::randn({2, 16, 9});
  Tensor ref = xg::squeeze(xg::conv2d(xg::unsqueeze(x, 2), xg::unsqueeze(c.weight, 2), c.bias, {1, 2}), 2);
  CHECK(xg::max(xg::abs(c.forward(x) - ref)).item() == 0.0);
  CHECK_ERROR(c.forward(xg::randn({2, 15, 9})), xg::ShapeError, "Conv1d", "[2, 15, 9]", "in_channels = 16");
  nn::Conv1d p({.in_channels = 4,
                .out_channels = 4,
                .kernel_size = 3,
                .padding = 1,
                .dilation = 2,
                .groups = 2,
                .bias = false});
  CHECK(p.extra_repr() ==
        "4, 4, kernel_size=(3,), stride=(1,), padding=(1,), dilation=(2,), groups=2, bias=false");
}

TEST_CASE("Conv2d and Conv1d: float64 gradcheck with respect to input and parameters") {
  xg::manual_seed(6);
  nn::Conv2d c({.in_channels = 2, .out_channels = 3, .kernel_size = 3, .stride = 2, .padding = 1});
  check_layer_grads(c, xg::randn({2, 2, 5, 5}));
  nn::Conv2d g({.in_channels = 4,
                .out_channels = 2,
                .kernel_size = {2, 3},
                .dilation = {2, 1},
                .groups = 2,
                .bias = false});
  check_layer_grads(g, xg::randn({1, 4, 5, 5}));
  nn::Conv1d c1({.in_channels = 2, .out_channels = 3, .kernel_size = 3, .padding = 1});
  check_layer_grads(c1, xg::randn({2, 2, 6}));
}

namespace {
Tensor f64(std::vector<double> v, const Shape& s) {
  return xg::tensor(v, s, {.dtype = Dtype::float64});
}
// Sets a float64 copy of the layer's weight to w and every bias entry to b.
template <class M>
void set_params(M& m, const Tensor& w, double b) {
  m.to(Dtype::float64);
  xg::NoGradGuard g;
  m.weight.copy_(w);
  if (m.bias.defined()) m.bias.copy_(xg::full(m.bias.shape(), b, {.dtype = Dtype::float64}));
}
void check_values(const Tensor& got, const std::vector<double>& want) {
  const auto g = got.to_vector<double>();
  REQUIRE(g.size() == want.size());
  for (std::size_t i = 0; i < g.size(); ++i) CHECK(g[i] == doctest::Approx(want[i]).epsilon(1e-13));
}
}  // namespace

TEST_CASE("Conv2d / Conv1d padding same / valid and padding_mode: PyTorch's values") {
  const Tensor x = xg::reshape(xg::arange(0, 12, 1, {.dtype = Dtype::float64}), {1, 1, 3, 4}) * 0.1;
  const Tensor w = (xg::reshape(xg::arange(0, 6, 1, {.dtype = Dtype::float64}), {1, 1, 2, 3}) - 2.0) * 0.1;
  // torch.nn.Conv2d(1, 1, (2, 3), padding=..., padding_mode=...) with weight (arange(6) - 2) * 0.1,
  // bias 0.5, on arange(12).reshape(1, 1, 3, 4) * 0.1. "same" with kh = 2: the extra row goes below.
  nn::Conv2d same({.in_channels = 1, .out_channels = 1, .kernel_size = {2, 3}, .padding = "same"});
  set_params(same, w, 0.5);
  check_values(same.forward(x), {0.73, 0.81, 0.84, 0.63, 0.89, 0.93, 0.96, 0.63, 0.42, 0.25, 0.22, 0.19});
  CHECK(same.extra_repr() == "1, 1, kernel_size=(2, 3), stride=(1, 1), padding=same");
  nn::Conv2d refl({.in_channels = 1,
                   .out_channels = 1,
                   .kernel_size = {2, 3},
                   .padding = "same",
                   .padding_mode = "reflect"});
  set_params(refl, w, 0.5);
  check_values(refl.forward(x), {0.76, 0.81, 0.84, 0.81, 0.88, 0.93, 0.96, 0.93, 0.52, 0.57, 0.6, 0.57});
  CHECK(refl.extra_repr() == "1, 1, kernel_size=(2, 3), stride=(1, 1), padding=same, padding_mode=reflect");
  // unbatched [C, H, W] is the batch of one
  check_values(refl.forward(xg::squeeze(x, 0)), refl.forward(x).to_vector<double>());
  nn::Conv2d repl({.in_channels = 1,
                   .out_channels = 1,
                   .kernel_size = {2, 3},
                   .padding = 1,
                   .padding_mode = "replicate"});
  set_params(repl, w, 0.5);
  const Tensor yr = repl.forward(x);
  CHECK(yr.shape() == Shape{1, 1, 4, 4});
  check_values(
      yr, {0.53, 0.57, 0.6, 0.6, 0.77, 0.81, 0.84, 0.84, 0.89, 0.93, 0.96, 0.96, 0.77, 0.81, 0.84, 0.84});
  nn::Conv2d circ({.in_channels = 1,
                   .out_channels = 1,
                   .kernel_size = {2, 3},
                   .padding = {1, 2},
                   .padding_mode = "circular"});
  set_params(circ, w, 0.5);
  const Tensor yc = circ.forward(x);
  CHECK(yc.shape() == Shape{1, 1, 4, 6});
  check_values(yc, {0.27, 0.26, 0.33, 0.36, 0.27, 0.26, 0.75, 0.74, 0.81, 0.84, 0.75, 0.74,
                    0.87, 0.86, 0.93, 0.96, 0.87, 0.86, 0.27, 0.26, 0.33, 0.36, 0.27, 0.26});
  CHECK(circ.extra_repr() ==
        "1, 1, kernel_size=(2, 3), stride=(1, 1), padding=(1, 2), padding_mode=circular");
  nn::Conv2d valid(
      {.in_channels = 1, .out_channels = 1, .kernel_size = 3, .padding = "valid", .bias = false});
  CHECK(valid.forward(xg::zeros({1, 1, 5, 6})).shape() == Shape{1, 1, 3, 4});
  CHECK(valid.extra_repr() == "1, 1, kernel_size=(3, 3), stride=(1, 1), padding=valid, bias=false");

  // torch.nn.Conv1d(1, 1, 4, padding='same', padding_mode='reflect', bias=False), weight
  // [1, -1, 2, 0.5], on arange(6): left pad 1, right pad 2
  nn::Conv1d c1({.in_channels = 1,
                 .out_channels = 1,
                 .kernel_size = 4,
                 .padding = "same",
                 .bias = false,
                 .padding_mode = "reflect"});
  set_params(c1, f64({1, -1, 2, 0.5}, {1, 1, 4}), 0);
  check_values(c1.forward(xg::reshape(xg::arange(0, 6, 1, {.dtype = Dtype::float64}), {1, 1, 6})),
               {4.0, 4.5, 7.0, 9.5, 11.0, 8.5});
  CHECK(c1.extra_repr() ==
        "1, 1, kernel_size=(4,), stride=(1,), padding=same, bias=false, padding_mode=reflect");

  // PyTorch's errors
  CHECK_ERROR(
      nn::Conv2d({.in_channels = 3, .out_channels = 4, .kernel_size = 3, .stride = 2, .padding = "same"}),
      xg::ValueError, "Conv2d", "padding='same' is not supported for strided convolutions");
  CHECK_ERROR(nn::Conv2d({.in_channels = 3, .out_channels = 4, .kernel_size = 3, .padding = "foo"}),
              xg::ValueError, "Conv2d", "invalid padding string 'foo'");
  CHECK_ERROR(nn::Conv1d({.in_channels = 3, .out_channels = 4, .kernel_size = 3, .padding_mode = "mirror"}),
              xg::ValueError, "Conv1d", "padding_mode must be one of", "'mirror'");
  // reflect needs the padding smaller than the input: xg::pad says so
  nn::Conv2d big(
      {.in_channels = 1, .out_channels = 1, .kernel_size = 3, .padding = 3, .padding_mode = "reflect"});
  CHECK_ERROR(big.forward(xg::zeros({1, 1, 3, 4})), xg::ShapeError, "pad", "less than the axis' size 3");
}

TEST_CASE("ConvTranspose2d: parameters in the transposed layout, init bounds, values, output_size, repr") {
  xg::manual_seed(7);
  nn::ConvTranspose2d c(
      {.in_channels = 2, .out_channels = 4, .kernel_size = 3, .stride = 2, .padding = 1, .groups = 2});
  CHECK(param_layout(c) ==
        std::vector<std::pair<std::string, Shape>>{{"weight", {2, 2, 3, 3}}, {"bias", {4}}});
  // fan_in = weight.size(1) * 3 * 3 = 18, PyTorch's computation on [in, out / groups, kh, kw]
  CHECK(max_abs(c.weight) <= 1.0 / std::sqrt(18.0));
  CHECK(max_abs(c.weight) > 0.8 / std::sqrt(18.0));
  CHECK(max_abs(c.bias) <= 1.0 / std::sqrt(18.0));
  CHECK(c.extra_repr() == "2, 4, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), groups=2");
  // torch.nn.ConvTranspose2d(2, 4, 3, stride=2, padding=1, groups=2), weight (arange(36) - 17) * 0.02,
  // bias [0.1, 0.2, -0.1, 0], on arange(8).reshape(1, 2, 2, 2) * 0.25
  set_params(c, (xg::reshape(xg::arange(0, 36, 1, {.dtype = Dtype::float64}), {2, 2, 3, 3}) - 17.0) * 0.02,
             0);
  {
    xg::NoGradGuard g;
    c.bias.copy_(f64({0.1, 0.2, -0.1, 0}, {4}));
  }
  const Tensor x = xg::reshape(xg::arange(0, 8, 1, {.dtype = Dtype::float64}), {1, 2, 2, 2}) * 0.25;
  const Tensor y = c.forward(x);
  CHECK(y.shape() == Shape{1, 4, 3, 3});
  check_values(y, {0.1,  0.03, 0.035, -0.06, -0.36, -0.19, -0.03, -0.23, -0.095, 0.2,  0.175, 0.18,
                   0.13, 0.01, 0.09,  0.16,  0.095, 0.14,  0.0,   0.12,  0.025,  0.12, 0.38,  0.17,
                   0.05, 0.22, 0.075, 0.28,  0.625, 0.35,  0.67,  1.47,  0.81,   0.42, 0.905, 0.49});
  // m(x, output_size=[4, 4]): output_padding 1 adds the last row and column
  const Tensor y4 = c.forward(x, {4, 4});
  CHECK(y4.shape() == Shape{1, 4, 4, 4});
  check_values(xg::slice(y4, 2, 3, 4), {0.0, -0.155, -0.05, -0.035, 0.19, 0.17, 0.185, 0.2, 0.14, 0.415, 0.18,
                                        0.215, 0.51, 1.1, 0.595, 0.63});
  check_values(c.forward(x, {1, 4, 4, 4}), y4.to_vector<double>());
  // the layer is the functional form with its parameters; unbatched input works
  CHECK(xg::max(xg::abs(y - F::conv_transpose2d(x, c.weight, c.bias, 2, 1, 0, 2))).item() == 0.0);
  check_values(c.forward(xg::squeeze(x, 0)), y.to_vector<double>());
  CHECK_ERROR(c.forward(x, {5, 4}), xg::ValueError, "ConvTranspose2d",
              "requested an output size of [5, 4], but valid sizes range from [3, 3] to [4, 4]", "[2, 2]");
  CHECK_ERROR(c.forward(x, {4}), xg::ValueError, "ConvTranspose2d", "output_size must have 2 or 4 elements");
  CHECK_ERROR(c.forward(xg::zeros({1, 3, 2, 2})), xg::ShapeError, "ConvTranspose2d", "[1, 3, 2, 2]",
              "in_channels = 2");
  CHECK_ERROR(c.forward(xg::zeros({2, 2})), xg::ShapeError, "ConvTranspose2d", "[2, 2]");

  nn::ConvTranspose2d d({.in_channels = 4,
                         .out_channels = 6,
                         .kernel_size = {2, 3},
                         .stride = 2,
                         .padding = 1,
                         .output_padding = 1,
                         .groups = 2,
                         .bias = false,
                         .dilation = 2});
  CHECK(param_layout(d) == std::vector<std::pair<std::string, Shape>>{{"weight", {4, 3, 2, 3}}});
  // as PyTorch prints it: dilation before output_padding
  CHECK(d.extra_repr() ==
        "4, 6, kernel_size=(2, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 2), output_padding=(1, 1), "
        "groups=2, bias=false");
  // H: (5 - 1) 2 - 2 + 2 (2 - 1) + 1 + 1 = 10; W: (4 - 1) 2 - 2 + 2 (3 - 1) + 1 + 1 = 10
  CHECK(d.forward(xg::randn({2, 4, 5, 4})).shape() == Shape{2, 6, 10, 10});
  CHECK_ERROR(nn::ConvTranspose2d(
                  {.in_channels = 4, .out_channels = 4, .kernel_size = 3, .stride = 2, .output_padding = 2}),
              xg::ValueError, "ConvTranspose2d", "output_padding (2, 2) must be smaller than either stride");
  CHECK_ERROR(nn::ConvTranspose2d({.in_channels = 6, .out_channels = 4, .kernel_size = 3, .groups = 4}),
              xg::ValueError, "ConvTranspose2d", "in_channels 6", "groups 4");
  auto e = std::make_shared<nn::ConvTranspose2d>(16, 8, 2);
  CHECK(param_layout(*e) ==
        std::vector<std::pair<std::string, Shape>>{{"weight", {16, 8, 2, 2}}, {"bias", {8}}});
}

TEST_CASE(
    "ConvTranspose1d: parameters, shapes, repr, output_size, equal to ConvTranspose2d on [N, C, 1, L]") {
  xg::manual_seed(8);
  nn::ConvTranspose1d c({.in_channels = 4,
                         .out_channels = 2,
                         .kernel_size = 3,
                         .stride = 3,
                         .padding = 1,
                         .output_padding = 2,
                         .groups = 2,
                         .dilation = 2});
  CHECK(param_layout(c) == std::vector<std::pair<std::string, Shape>>{{"weight", {4, 1, 3}}, {"bias", {2}}});
  CHECK(max_abs(c.weight) <= 1.0 / std::sqrt(3.0));  // fan_in = 1 * 3
  CHECK(c.extra_repr() ==
        "4, 2, kernel_size=(3,), stride=(3,), padding=(1,), dilation=(2,), output_padding=(2,), groups=2");
  Tensor x = xg::randn({2, 4, 5});
  const Tensor y = c.forward(x);
  CHECK(y.shape() == Shape{2, 2, 17});  // (5 - 1) 3 - 2 + 2 * 2 + 2 + 1, as PyTorch's
  Tensor ref = xg::squeeze(xg::conv_transpose2d(xg::unsqueeze(x, 2), xg::unsqueeze(c.weight, 2), c.bias,
                                                {1, 3}, {0, 1}, {0, 2}, 2, {1, 2}),
                           2);
  CHECK(xg::max(xg::abs(y - ref)).item() == 0.0);
  nn::ConvTranspose1d s(2, 3, 4);
  CHECK(s.extra_repr() == "2, 3, kernel_size=(4,), stride=(1,)");
  nn::ConvTranspose1d s2({.in_channels = 2, .out_channels = 3, .kernel_size = 4, .stride = 2});
  CHECK(s2.forward(xg::randn({2, 2, 5}), {13}).shape() == Shape{2, 3, 13});
  CHECK(s2.forward(xg::randn({2, 5}), {3, 12}).shape() == Shape{3, 12});
  CHECK_ERROR(s2.forward(xg::randn({2, 2, 5}), {14}), xg::ValueError, "ConvTranspose1d", "[12] to [13]");
  CHECK_ERROR(s2.forward(xg::randn({2, 3, 5})), xg::ShapeError, "ConvTranspose1d", "[2, 3, 5]",
              "in_channels = 2");
  CHECK_ERROR(nn::ConvTranspose1d(
                  {.in_channels = 2, .out_channels = 2, .kernel_size = 3, .stride = 2, .output_padding = 2}),
              xg::ValueError, "ConvTranspose1d", "output_padding (2,)", "stride (2,) or dilation (1,)");
}

TEST_CASE("ConvTranspose2d / ConvTranspose1d and padded Conv2d / Conv1d: float64 gradcheck") {
  xg::manual_seed(9);
  nn::ConvTranspose2d t({.in_channels = 4,
                         .out_channels = 2,
                         .kernel_size = 3,
                         .stride = 2,
                         .padding = 1,
                         .output_padding = 1,
                         .groups = 2});
  check_layer_grads(t, xg::randn({2, 4, 3, 3}));
  nn::ConvTranspose2d td({.in_channels = 2,
                          .out_channels = 3,
                          .kernel_size = 2,
                          .output_padding = 1,
                          .bias = false,
                          .dilation = 2});
  check_layer_grads(td, xg::randn({1, 2, 3, 2}));
  nn::ConvTranspose1d t1({.in_channels = 2, .out_channels = 3, .kernel_size = 3, .stride = 2});
  check_layer_grads(t1, xg::randn({2, 2, 4}));
  for (const char* mode : {"zeros", "reflect", "replicate", "circular"}) {
    CAPTURE(mode);
    nn::Conv2d c({.in_channels = 2,
                  .out_channels = 2,
                  .kernel_size = {2, 3},
                  .padding = "same",
                  .padding_mode = mode});
    check_layer_grads(c, xg::randn({1, 2, 4, 5}));
    nn::Conv1d c1(
        {.in_channels = 2, .out_channels = 2, .kernel_size = 3, .padding = 2, .padding_mode = mode});
    check_layer_grads(c1, xg::randn({2, 2, 5}));
  }
}

TEST_CASE("F::conv2d / F::conv1d with padding \"same\" / \"valid\", as torch.nn.functional's") {
  const Tensor x = xg::reshape(xg::arange(0, 12, 1, {.dtype = Dtype::float64}), {1, 1, 3, 4}) * 0.1;
  const Tensor w = (xg::reshape(xg::arange(0, 6, 1, {.dtype = Dtype::float64}), {1, 1, 2, 3}) - 2.0) * 0.1;
  const Tensor b = f64({0.5}, {1});
  // torch.nn.functional.conv2d(x, w, b, 1, 'same'): the odd row of padding goes below
  check_values(F::conv2d(x, w, b, 1, "same"),
               {0.73, 0.81, 0.84, 0.63, 0.89, 0.93, 0.96, 0.63, 0.42, 0.25, 0.22, 0.19});
  CHECK(F::conv2d(x, w, b, 1, "valid").shape() == Shape{1, 1, 2, 2});
  CHECK(F::conv2d(x, w, b, 1, 0).shape() == Shape{1, 1, 2, 2});       // an integer 0 is zero padding 0
  CHECK(F::conv2d(x, w, b, 1, {1, 0}).shape() == Shape{1, 1, 4, 2});  // and a pair is (h, w)
  CHECK(F::conv2d(x, w, b, 1, std::string("valid")).shape() == Shape{1, 1, 2, 2});
  CHECK(F::conv2d(xg::squeeze(x, 0), w, b, 1, "same").shape() == Shape{1, 3, 4});
  // torch.nn.functional.conv1d(arange(6).reshape(1, 1, 6), [[[1, -1, 2, 0.5]]], None, 1, 'same'[,
  // dilation=2])
  const Tensor x1 = xg::reshape(xg::arange(0, 6, 1, {.dtype = Dtype::float64}), {1, 1, 6});
  const Tensor w1 = f64({1, -1, 2, 0.5}, {1, 1, 4});
  check_values(F::conv1d(x1, w1, Tensor(), 1, "same"), {3.0, 4.5, 7.0, 9.5, 9.0, -1.0});
  check_values(F::conv1d(x1, w1, Tensor(), 1, "same", 2), {3.5, 6.0, 7.5, 6.0, 8.0, -2.0});
  CHECK_ERROR(F::conv2d(x, w, b, 2, "same"), xg::ValueError, "conv2d",
              "padding='same' is not supported for strided convolutions");
  CHECK_ERROR(F::conv1d(x1, w1, Tensor(), 1, "full"), xg::ValueError, "conv1d",
              "invalid padding string 'full'");
}

// The kernels split the batch into sample blocks per thread count (autograd/ops/conv.cpp): each
// split must give the float64 result to float32 rounding, and the same bits when run again.
TEST_CASE("conv2d and its gradients: the same values at 1, 2 and 3 threads, repeatable bits") {
  const int before = xg::get_num_threads();
  xg::manual_seed(11);
  struct Case {
    Shape xs, ws;
    xg::Size2 stride, padding, dilation;
    int64_t groups;
  };
  for (const Case& c :
       {Case{{9, 4, 7, 6}, {6, 2, 3, 3}, {1, 2}, {1, 0}, 1, 2},
        Case{{1, 3, 8, 8}, {4, 3, 3, 3}, 1, 1, {2, 1}, 1}, Case{{5, 3, 4, 4}, {2, 3, 1, 1}, 1, 0, 1, 1},
        Case{{20, 2, 5, 5}, {3, 2, 2, 2}, 2, 1, 1, 1}}) {
    const Tensor x = xg::randn(c.xs), w = xg::randn(c.ws), b = xg::randn({c.ws[0]});
    auto run = [&](const Tensor& xi, const Tensor& wi, const Tensor& bi) {
      const Tensor y = xg::conv2d(xi, wi, bi, c.stride, c.padding, c.dilation, c.groups);
      const Tensor gy = xg::cos(y * 0.7);
      return std::vector<Tensor>{
          y, xg::conv2d_input_grad(gy, wi, c.xs, c.stride, c.padding, c.dilation, c.groups),
          xg::conv2d_weight_grad(xi, gy, c.ws, c.stride, c.padding, c.dilation, c.groups)};
    };
    xg::set_num_threads(1);
    const std::vector<Tensor> ref = run(x.to(Dtype::float64), w.to(Dtype::float64), b.to(Dtype::float64));
    for (int t : {1, 2, 3}) {
      xg::set_num_threads(t);
      const std::vector<Tensor> r1 = run(x, w, b), r2 = run(x, w, b);
      for (std::size_t i = 0; i < ref.size(); ++i) {
        INFO("input " << c.xs.str() << ", threads " << t << ", result " << i);
        CHECK(max_abs(r1[i].to(Dtype::float64) - ref[i]) < 1e-4 * (1 + max_abs(ref[i])));
        CHECK(max_abs(r1[i] - r2[i]) == 0.0);
      }
    }
  }
  xg::set_num_threads(before);
}
