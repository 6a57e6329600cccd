// nn/pooling.cpp: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and Flatten: no parameters, shapes,
// values, reprs, errors, and a float64 gradcheck with respect to the input.
#include <doctest/doctest.h>

#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/pooling.hpp"

using xg::Shape;
using xg::Tensor;
namespace nn = xg::nn;
using xg_test::check_layer_grads;

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
  CHECK(ap.forward(x).to_vector<double>() ==
        std::vector<double>{2.5, 4.5, 10.5, 12.5, 18.5, 20.5, 26.5, 28.5});
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
  CHECK_ERROR(nn::MaxPool2d({.kernel_size = 2, .padding = 2}), xg::ValueError,
              "MaxPool2d:", "padding (2, 2)");
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
