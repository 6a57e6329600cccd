// nn/pooling.cpp: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvg/MaxPool1d/2d, Flatten and Unflatten: no
// parameters, shapes, values (PyTorch's), reprs, errors, and a float64 gradcheck w.r.t. the input.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
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

namespace {
// sin(0.7 i + 0.3) * 2 over i = 0, 1, ... reshaped: the input of the PyTorch numbers below.
Tensor wave(const Shape& s) {
  return xg::reshape(
      xg::sin(xg::arange(0, static_cast<double>(s.numel()), 1, {.dtype = xg::Dtype::float64}) * 0.7 + 0.3) *
          2.0,
      s);
}
std::vector<int64_t> ints(const Tensor& t) {
  return t.to_vector<int64_t>();
}
}  // namespace

TEST_CASE("MaxPool1d and AvgPool1d: values and indices as PyTorch, ceil_mode, padding, dilation") {
  const Tensor x = wave({1, 2, 8});
  nn::MaxPool1d mp({.kernel_size = 3, .stride = 2, .padding = 1, .ceil_mode = true});
  CHECK(mp.parameters().empty());
  CHECK(mp.repr() == "MaxPool1d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=true)");
  // torch.nn.functional.max_pool1d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
  auto [v, i] = mp.forward_with_indices(x);
  CHECK(v.shape() == Shape{1, 2, 5});
  xg_test::check_close(
      v.to_vector<double>(),
      {1.682941969615793, 1.9833296209049371, 1.3509263611023026, -1.2237157818854378, -1.7669093114403072,
       0.6230827270267557, 1.9787164932467638, 1.9787164932467638, 0.04955085090671553, -1.961872460132983},
      0);
  CHECK(ints(i) == std::vector<int64_t>{1, 2, 3, 5, 7, 1, 3, 3, 5, 7});
  CHECK(xg::max(xg::abs(mp.forward(x) - v)).item() == 0.0);
  // unbatched, dilation 3: max_pool1d(x, 2, 1, 0, 3, return_indices=True) on [2, 9]
  auto [vd, id] =
      nn::MaxPool1d({.kernel_size = 2, .stride = 1, .dilation = 3}).forward_with_indices(wave({2, 9}));
  CHECK(vd.shape() == Shape{2, 6});
  CHECK(ints(id) == std::vector<int64_t>{3, 1, 2, 3, 4, 8, 3, 1, 2, 3, 4, 8});
  CHECK(vd.to_vector<double>()[4] == doctest::Approx(0.08316132486658187).epsilon(1e-15));

  nn::AvgPool1d ap(
      {.kernel_size = 3, .stride = 2, .padding = 1, .ceil_mode = true, .count_include_pad = false});
  CHECK(ap.repr() == "AvgPool1d(kernel_size=(3,), stride=(2,), padding=(1,))");
  // avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
  xg_test::check_close(
      ap.forward(x).to_vector<double>(),
      {1.136991191469236, 1.6723993172076774, 0.07012396802781555, -1.6485617762186464, -1.7669093114403072,
       -0.06233530131685899, 1.4342241538435492, 1.1180686014392822, -1.0541543023373439, -1.961872460132983},
      1e-15);
  // avg_pool1d(x, 3, 2, 1): the divisor counts the padding
  xg_test::check_close(
      nn::AvgPool1d({.kernel_size = 3, .stride = 2, .padding = 1}).forward(x).to_vector<double>(),
      {0.7579941276461574, 1.6723993172076774, 0.07012396802781555, -1.6485617762186464, -0.04155686754457266,
       1.4342241538435492, 1.1180686014392822, -1.0541543023373439},
      1e-15);
}

TEST_CASE("AdaptiveAvgPool1d, AdaptiveMaxPool1d/2d: values and indices as PyTorch") {
  nn::AdaptiveAvgPool1d aap(3);
  CHECK(aap.repr() == "AdaptiveAvgPool1d(output_size=3)");
  // adaptive_avg_pool1d(x, 3) on [1, 2, 7]
  xg_test::check_close(aap.forward(wave({1, 2, 7})).to_vector<double>(),
                       {1.4191040012811367, 1.1391391022912738, -1.0318715641163498, -0.630526638024675,
                        1.4342241538435492, 1.1180686014392822},
                       1e-15);
  nn::AdaptiveMaxPool2d amp({2, 3});
  CHECK(amp.repr() == "AdaptiveMaxPool2d(output_size=(2, 3))");
  // adaptive_max_pool2d(x, (2, 3), return_indices=True) on [1, 1, 5, 7]
  auto [v, i] = amp.forward_with_indices(wave({1, 1, 5, 7}));
  xg_test::check_close(v.to_vector<double>(),
                       {1.9833296209049371, 1.9833296209049371, 1.9787164932467638, 1.9678133892372334,
                        1.2748451923004778, 1.9735439285492267},
                       0);
  CHECK(ints(i) == std::vector<int64_t>{2, 2, 11, 29, 30, 20});
  // adaptive_max_pool1d(x, 3, return_indices=True) on [1, 2, 7]
  auto [v1, i1] = nn::AdaptiveMaxPool1d(3).forward_with_indices(wave({1, 2, 7}));
  CHECK(ints(i1) == std::vector<int64_t>{2, 2, 4, 2, 4, 4});
  CHECK(v1.to_vector<double>()[3] == 0.6230827270267557);
  // NaN wins its window, as PyTorch
  Tensor n = xg::tensor({1.0, NAN, 3.0, 2.0}, {1, 1, 4}, {.dtype = xg::Dtype::float64});
  auto [vn, in] = xg::adaptive_max_pool1d_with_indices(n, 2);
  CHECK(std::isnan(vn.to_vector<double>()[0]));
  CHECK(ints(in) == std::vector<int64_t>{1, 2});
  // a global max pool through the gradient: each plane's maximum gets the whole gradient
  Tensor g = wave({1, 2, 3, 3}).requires_grad_();
  xg::sum(xg::adaptive_max_pool2d(g, 1)).backward();
  CHECK(xg::sum(g.grad()).item() == 2.0);
}

TEST_CASE("1-D and adaptive pools: errors name the op and the shapes") {
  CHECK_ERROR(nn::MaxPool1d({.kernel_size = 2, .padding = 2}), xg::ValueError, "MaxPool1d:", "padding 2");
  CHECK_ERROR(nn::AvgPool1d(0), xg::ValueError, "AvgPool1d:", "kernel_size");
  CHECK_ERROR(nn::MaxPool1d(2).forward(xg::zeros({1, 2, 3, 4})), xg::ShapeError,
              "max_pool1d:", "[1, 2, 3, 4]");
  CHECK_ERROR(nn::AvgPool1d(2).forward(xg::zeros({4})), xg::ShapeError, "avg_pool1d:", "[4]");
  CHECK_ERROR(xg::max_pool1d(xg::zeros({1, 2, 5}), 3, 1, 2), xg::ValueError, "max_pool1d:", "[1, 2, 5]");
  CHECK_ERROR(nn::AdaptiveMaxPool2d({0, 2}), xg::ValueError, "AdaptiveMaxPool2d:");
  CHECK_ERROR(nn::AdaptiveMaxPool2d(2).forward(xg::zeros({2, 3})), xg::ShapeError,
              "adaptive_max_pool2d:", "[2, 3]");
  CHECK_ERROR(nn::AdaptiveAvgPool1d(2).forward(xg::zeros({1, 2, 3, 3})), xg::ShapeError,
              "adaptive_avg_pool1d:", "[1, 2, 3, 3]");
  CHECK_ERROR(xg::adaptive_max_pool2d(xg::zeros({1, 1, 0, 3}), 2), xg::ShapeError,
              "adaptive_max_pool2d:", "[1, 1, 0, 3]");
}

TEST_CASE("Unflatten: shapes, -1, repr, errors") {
  nn::Unflatten u(1, {2, 3});
  CHECK(u.repr() == "Unflatten(dim=1, unflattened_size=(2, 3))");
  const Tensor x = wave({4, 6, 5});
  const Tensor y = u.forward(x);
  CHECK(y.shape() == Shape{4, 2, 3, 5});
  CHECK(y.to_vector<double>() == x.to_vector<double>());
  CHECK(nn::Unflatten(-1, {5, -1}).forward(x).shape() == Shape{4, 6, 5, 1});
  CHECK(nn::Unflatten(1, {-1, 2}).forward(x).shape() == Shape{4, 3, 2, 5});
  CHECK_ERROR(u.forward(wave({4, 5})), xg::ShapeError, "Unflatten:", "[2, 3]", "[4, 5]");
  CHECK_ERROR(u.forward(wave({4})), xg::IndexError, "Unflatten:", "dim 1", "[4]");
  CHECK_ERROR(nn::Unflatten(1, {-1, -1}), xg::ValueError, "Unflatten:", "-1");
  CHECK_ERROR(nn::Unflatten(1, {-2, 3}), xg::ValueError, "Unflatten:", "[-2, 3]");
}

TEST_CASE("1-D and adaptive pools, Unflatten: float64 gradcheck with respect to the input") {
  xg::manual_seed(8);
  nn::MaxPool1d mp({.kernel_size = 3, .stride = 2, .padding = 1, .ceil_mode = true});
  check_layer_grads(mp, xg::randn({2, 2, 8}));
  nn::MaxPool1d mpd({.kernel_size = 2, .stride = 1, .dilation = 2});
  check_layer_grads(mpd, xg::randn({3, 7}));
  nn::AvgPool1d ap({.kernel_size = 3, .stride = 2, .padding = 1, .count_include_pad = false});
  check_layer_grads(ap, xg::randn({2, 2, 7}));
  nn::AdaptiveAvgPool1d aap(3);
  check_layer_grads(aap, xg::randn({2, 2, 7}));
  nn::AdaptiveMaxPool1d amp1(4);
  check_layer_grads(amp1, xg::randn({1, 2, 9}));
  nn::AdaptiveMaxPool2d amp({2, 3});
  check_layer_grads(amp, xg::randn({2, 2, 5, 7}));
  nn::Unflatten un(1, {2, 2});
  check_layer_grads(un, xg::randn({2, 4, 3}));
}
