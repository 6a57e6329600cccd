// nn/upsampling.cpp: Upsample, UpsamplingNearest2d / UpsamplingBilinear2d, PixelShuffle and
// PixelUnshuffle: values against PyTorch, reprs, errors and float64 gradchecks w.r.t. the input.
#include <doctest/doctest.h>

#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/upsampling.hpp"

using xg::Shape;
using xg::Tensor;
namespace nn = xg::nn;
using xg_test::check_close;
using xg_test::check_layer_grads;

namespace {
// sin(0.7 i + 0.3) * 2 over i = 0, 1, ... reshaped: the input of the PyTorch numbers below.
Tensor wave(const Shape& s) {
  return xg::reshape(
      xg::sin(xg::arange(0, static_cast<double>(s.numel()), 1, {.dtype = xg::Dtype::float64}) * 0.7 + 0.3) *
          2.0,
      s);
}
std::vector<double> at(const Tensor& y, const std::vector<int64_t>& flat) {
  const std::vector<double> v = y.to_vector<double>();
  std::vector<double> out;
  for (int64_t i : flat) out.push_back(v[static_cast<std::size_t>(i)]);
  return out;
}
}  // namespace

TEST_CASE("Upsample: nearest and bilinear as PyTorch, reprs") {
  const Tensor x = wave({1, 1, 2, 3});
  nn::Upsample bi({.scale_factor = {2.0}, .mode = xg::InterpMode::bilinear, .align_corners = true});
  CHECK(bi.parameters().empty());
  CHECK(bi.repr() == "Upsample(scale_factor=2.0, mode=bilinear)");
  const Tensor y = bi.forward(x);
  CHECK(y.shape() == Shape{1, 1, 4, 6});
  // torch.nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)
  check_close(at(y, {0, 5, 13, 23}),
              {0.5910404133226791, 1.9833296209049371, 0.9051472430186511, -1.2237157818854378}, 1e-15);
  nn::Upsample near({.size = {3, 5}});
  CHECK(near.repr() == "Upsample(size=(3, 5), mode=nearest)");
  // torch.nn.Upsample(size=(3, 5))
  check_close(
      near.forward(x).to_vector<double>(),
      {0.5910404133226791, 0.5910404133226791, 1.682941969615793, 1.682941969615793, 1.9833296209049371,
       0.5910404133226791, 0.5910404133226791, 1.682941969615793, 1.682941969615793, 1.9833296209049371,
       1.3509263611023026, 1.3509263611023026, 0.08316132486658187, 0.08316132486658187, -1.2237157818854378},
      0);
  CHECK(nn::Upsample({.size = {4}}).repr() == "Upsample(size=4, mode=nearest)");
  nn::UpsamplingBilinear2d ub(std::vector<int64_t>{3, 4});
  CHECK(ub.repr() == "UpsamplingBilinear2d(size=(3, 4), mode=bilinear)");
  // torch.nn.UpsamplingBilinear2d(size=(3, 4)): align_corners=True
  check_close(at(ub.forward(x), {1, 6, 11}), {1.318974784184755, 0.7153034046640415, -1.2237157818854378},
              1e-15);
  CHECK(nn::UpsamplingBilinear2d(std::vector<int64_t>{}, {2.0}).repr() ==
        "UpsamplingBilinear2d(scale_factor=2.0, mode=bilinear)");
  CHECK(ub.clone()->type_name() == "UpsamplingBilinear2d");
  nn::UpsamplingNearest2d un(std::vector<int64_t>{}, {2.0});
  CHECK(un.forward(x).shape() == Shape{1, 1, 4, 6});
  CHECK(xg::max(xg::abs(un.forward(x) - nn::Upsample({.scale_factor = {2.0}}).forward(x))).item() == 0.0);
}

TEST_CASE("Upsample errors name the layer") {
  CHECK_ERROR(nn::Upsample(nn::UpsampleOptions{}), xg::ValueError, "Upsample:", "size or scale_factor");
  CHECK_ERROR(nn::Upsample({.size = {2}, .scale_factor = {2.0}}), xg::ValueError, "Upsample:", "only one");
  CHECK_ERROR(nn::Upsample({.scale_factor = {-1.0}}), xg::ValueError, "Upsample:", "scale_factor");
  CHECK_ERROR(nn::Upsample({.size = {2}, .align_corners = true}), xg::ValueError,
              "Upsample:", "align_corners");
  CHECK_ERROR(nn::Upsample({.size = {2}, .mode = xg::InterpMode::bilinear}).forward(wave({1, 2, 3})),
              xg::ShapeError, "interpolate:", "bilinear", "[1, 2, 3]");
}

TEST_CASE("PixelShuffle and PixelUnshuffle: inverse of each other, values, errors") {
  nn::PixelShuffle ps(2);
  nn::PixelUnshuffle pu(2);
  CHECK(ps.repr() == "PixelShuffle(upscale_factor=2)");
  CHECK(pu.repr() == "PixelUnshuffle(downscale_factor=2)");
  const Tensor x = xg::reshape(xg::arange(0, 16, 1, {.dtype = xg::Dtype::float64}), {1, 4, 2, 2});
  const Tensor y = ps.forward(x);
  CHECK(y.shape() == Shape{1, 1, 4, 4});
  // torch.nn.PixelShuffle(2)(torch.arange(16.).reshape(1, 4, 2, 2))
  CHECK(y.to_vector<double>() == std::vector<double>{0, 4, 1, 5, 8, 12, 9, 13, 2, 6, 3, 7, 10, 14, 11, 15});
  CHECK(pu.forward(y).to_vector<double>() == x.to_vector<double>());
  CHECK_ERROR(ps.forward(xg::zeros({1, 3, 2, 2})), xg::ShapeError, "pixel_shuffle:", "[1, 3, 2, 2]");
  CHECK_ERROR(nn::PixelShuffle(0), xg::ValueError, "PixelShuffle:");
  CHECK_ERROR(nn::PixelUnshuffle(-1), xg::ValueError, "PixelUnshuffle:");
}

TEST_CASE("Upsample, PixelShuffle, PixelUnshuffle: float64 gradcheck with respect to the input") {
  xg::manual_seed(9);
  nn::Upsample bi({.size = {3, 5}, .mode = xg::InterpMode::bilinear, .align_corners = false});
  check_layer_grads(bi, xg::randn({1, 2, 2, 3}));
  nn::Upsample lin({.scale_factor = {1.5}, .mode = xg::InterpMode::linear, .align_corners = true});
  check_layer_grads(lin, xg::randn({2, 1, 4}));
  nn::Upsample near({.scale_factor = {2.0}});
  check_layer_grads(near, xg::randn({1, 2, 2, 2}));
  nn::PixelShuffle ps(2);
  check_layer_grads(ps, xg::randn({1, 8, 2, 3}));
  nn::PixelUnshuffle pu(3);
  check_layer_grads(pu, xg::randn({1, 1, 3, 6}));
}
