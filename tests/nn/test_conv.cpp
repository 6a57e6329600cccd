// nn/conv.cpp: Conv2d and Conv1d, their parameters as PyTorch's (names, shapes, initialisation
// bounds), output shapes, reprs, equality with the functional ops, errors, and a float64
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
