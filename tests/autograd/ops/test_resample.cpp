// The padding modes, interpolate, pixel_shuffle / pixel_unshuffle and unfold / fold
// (autograd/ops/resample.cpp): values and gradients against PyTorch 1.13 (each expectation names
// the torch call; seq(shape) is torch.arange(n.).reshape(shape), wav(shape) is
// torch.sin(0.7 * torch.arange(n.) + 0.3).reshape(shape), and gradients are for the upstream
// gradient 0.5 * (1, 2, 3, ...)), plus errors naming the op and the shapes. Every op's samples are
// also gradchecked and gradgradchecked by the registry sweep.
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "xgrad/autograd.hpp"
#include "xgrad/nn/functional.hpp"

using xg::InterpMode;
using xg::PadMode;
using xg::Tensor;
using xg_test::check_values;

namespace {
Tensor seq(const xg::Shape& s) {
  return xg::reshape(xg::arange(0, static_cast<double>(s.numel()), 1, {.dtype = xg::Dtype::float64}), s);
}
Tensor wav(const xg::Shape& s) {
  return xg::reshape(
      xg::sin(xg::arange(0, static_cast<double>(s.numel()), 1, {.dtype = xg::Dtype::float64}) * 0.7 + 0.3),
      s);
}
// The gradient of f at x for the upstream gradient 0.5 * (1, 2, 3, ...).
Tensor grad_of(const std::function<Tensor(const Tensor&)>& f, const Tensor& x0) {
  Tensor x = x0.detach().requires_grad_(true);
  const Tensor y = f(x);
  const Tensor up =
      xg::reshape(xg::arange(1, static_cast<double>(y.numel()) + 1, 1, {.dtype = xg::Dtype::float64}),
                  y.shape()) *
      0.5;
  return xg::grad({y}, {x}, {up})[0];
}
}  // namespace

TEST_CASE("pad: reflect, replicate and circular on 1, 2 and 3 axes, as torch.nn.functional.pad") {
  struct Case {
    PadMode mode;
    std::vector<double> one, one_g, two, two_g, three, three_g, crop;
  };
  // F.pad(seq(1, 2, 4), (2, 1), mode=m), F.pad(seq(1, 1, 3, 4), (1, 2, 2, 1), mode=m),
  // F.pad(x3, (1, 1, 1, 0, 1, 1), mode=m) with x3 = seq(1, 2, 2, 3) (seq(1, 1, 2, 2, 3) for circular,
  // which takes batched inputs only), F.pad(seq(1, 1, 4), (-1, 2), mode=m); and their gradients.
  const std::vector<Case> cases = {
      {PadMode::reflect,
       {2.0, 1.0, 0.0, 1.0, 2.0, 3.0, 2.0, 6.0, 5.0, 4.0, 5.0, 6.0, 7.0, 6.0},
       {1.5, 3.0, 6.5, 3.0, 5.0, 10.0, 17.0, 6.5},
       {9.0, 8.0, 9.0, 10.0, 11.0, 10.0, 9.0, 5.0, 4.0, 5.0, 6.0, 7.0, 6.0, 5.0,
        1.0, 0.0, 1.0, 2.0,  3.0,  2.0,  1.0, 5.0, 4.0, 5.0, 6.0, 7.0, 6.0, 5.0,
        9.0, 8.0, 9.0, 10.0, 11.0, 10.0, 9.0, 5.0, 4.0, 5.0, 6.0, 7.0, 6.0, 5.0},
       {8.0, 26.5, 19.0, 9.5, 34.5, 111.0, 78.0, 39.0, 16.0, 53.0, 38.0, 19.0},
       {10.0, 9.0, 10.0, 11.0, 10.0, 7.0, 6.0, 7.0, 8.0, 7.0, 10.0, 9.0, 10.0, 11.0, 10.0,
        4.0,  3.0, 4.0,  5.0,  4.0,  1.0, 0.0, 1.0, 2.0, 1.0, 4.0,  3.0, 4.0,  5.0,  4.0,
        10.0, 9.0, 10.0, 11.0, 10.0, 7.0, 6.0, 7.0, 8.0, 7.0, 10.0, 9.0, 10.0, 11.0, 10.0,
        4.0,  3.0, 4.0,  5.0,  4.0,  1.0, 0.0, 1.0, 2.0, 1.0, 4.0,  3.0, 4.0,  5.0,  4.0},
       {37.0, 114.0, 39.0, 74.0, 228.0, 78.0, 22.0, 69.0, 24.0, 44.0, 138.0, 48.0},
       {1.0, 2.0, 3.0, 2.0, 1.0}},
      {PadMode::replicate,
       {0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 3.0, 4.0, 4.0, 4.0, 5.0, 6.0, 7.0, 7.0},
       {3.0, 2.0, 2.5, 6.5, 13.5, 5.5, 6.0, 13.5},
       {0.0, 0.0, 1.0, 2.0,  3.0,  3.0,  3.0,  0.0, 0.0, 1.0, 2.0,  3.0,  3.0,  3.0,
        0.0, 0.0, 1.0, 2.0,  3.0,  3.0,  3.0,  4.0, 4.0, 5.0, 6.0,  7.0,  7.0,  7.0,
        8.0, 8.0, 9.0, 10.0, 11.0, 11.0, 11.0, 8.0, 8.0, 9.0, 10.0, 11.0, 11.0, 11.0},
       {25.5, 15.0, 16.5, 58.5, 22.5, 12.0, 12.5, 40.5, 66.0, 34.5, 35.5, 112.5},
       {0.0, 0.0, 1.0, 2.0, 2.0, 0.0, 0.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0,  5.0,  5.0,
        0.0, 0.0, 1.0, 2.0, 2.0, 0.0, 0.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0,  5.0,  5.0,
        6.0, 6.0, 7.0, 8.0, 8.0, 6.0, 6.0, 7.0, 8.0, 8.0, 9.0, 9.0, 10.0, 11.0, 11.0,
        6.0, 6.0, 7.0, 8.0, 8.0, 6.0, 6.0, 7.0, 8.0, 8.0, 9.0, 9.0, 10.0, 11.0, 11.0},
       {46.0, 26.0, 58.0, 38.0, 20.5, 44.0, 166.0, 86.0, 178.0, 98.0, 50.5, 104.0},
       {1.0, 2.0, 3.0, 3.0, 3.0}},
      {PadMode::circular,
       {2.0, 3.0, 0.0, 1.0, 2.0, 3.0, 0.0, 6.0, 7.0, 4.0, 5.0, 6.0, 7.0, 4.0},
       {5.0, 2.0, 3.0, 4.0, 12.0, 5.5, 10.0, 11.0},
       {7.0,  4.0, 5.0, 6.0,  7.0,  4.0, 5.0, 11.0, 8.0, 9.0, 10.0, 11.0, 8.0, 9.0,
        3.0,  0.0, 1.0, 2.0,  3.0,  0.0, 1.0, 7.0,  4.0, 5.0, 6.0,  7.0,  4.0, 5.0,
        11.0, 8.0, 9.0, 10.0, 11.0, 8.0, 9.0, 3.0,  0.0, 1.0, 2.0,  3.0,  0.0, 1.0},
       {57.0, 59.0, 28.5, 55.0, 29.0, 31.0, 14.5, 27.0, 43.0, 45.0, 21.5, 41.0},
       {11.0, 9.0, 10.0, 11.0, 9.0, 8.0, 6.0, 7.0, 8.0, 6.0, 11.0, 9.0, 10.0, 11.0, 9.0,
        5.0,  3.0, 4.0,  5.0,  3.0, 2.0, 0.0, 1.0, 2.0, 0.0, 5.0,  3.0, 4.0,  5.0,  3.0,
        11.0, 9.0, 10.0, 11.0, 9.0, 8.0, 6.0, 7.0, 8.0, 6.0, 11.0, 9.0, 10.0, 11.0, 9.0,
        5.0,  3.0, 4.0,  5.0,  3.0, 2.0, 0.0, 1.0, 2.0, 0.0, 5.0,  3.0, 4.0,  5.0,  3.0},
       {77.0, 38.0, 75.0, 154.0, 76.0, 150.0, 47.0, 23.0, 45.0, 94.0, 46.0, 90.0},
       {1.0, 2.0, 3.0, 1.0, 2.0}},
  };
  for (const Case& c : cases) {
    CAPTURE(static_cast<int>(c.mode));
    auto f1 = [&](const Tensor& x) { return xg::pad(x, {2, 1}, c.mode); };
    auto f2 = [&](const Tensor& x) { return xg::pad(x, {1, 2, 2, 1}, c.mode); };
    auto f3 = [&](const Tensor& x) { return xg::pad(x, {1, 1, 1, 0, 1, 1}, c.mode); };
    const Tensor x3 = c.mode == PadMode::circular ? seq({1, 1, 2, 2, 3}) : seq({1, 2, 2, 3});
    CHECK(f1(seq({1, 2, 4})).shape() == xg::Shape{1, 2, 7});
    check_values(f1(seq({1, 2, 4})), c.one);
    check_values(grad_of(f1, seq({1, 2, 4})), c.one_g);
    CHECK(f2(seq({1, 1, 3, 4})).shape() == xg::Shape{1, 1, 6, 7});
    check_values(f2(seq({1, 1, 3, 4})), c.two);
    check_values(grad_of(f2, seq({1, 1, 3, 4})), c.two_g);
    check_values(f3(x3), c.three);
    check_values(grad_of(f3, x3), c.three_g);
    check_values(xg::pad(seq({1, 1, 4}), {-1, 2}, c.mode), c.crop);
  }
  // F.pad(seq(1, 1, 2), (3, 4), mode='replicate'): replicate has no size limit.
  check_values(xg::pad(seq({1, 1, 2}), {3, 4}, PadMode::replicate),
               {0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0});
  // Constant mode is the constant pad.
  check_values(xg::pad(seq({1, 2}), {1, 0}, PadMode::constant, 7.0), {7, 0, 1});
  // The backward is an op linear in the upstream gradient u, whose own gradient is the pad again:
  // d/du sum(dx(u) * v) = pad(v).
  const Tensor x = seq({1, 2, 4}).requires_grad_(true);
  const Tensor u = wav({1, 2, 7}).requires_grad_(true);
  const Tensor gx = xg::grad({xg::pad(x, {2, 1}, PadMode::reflect)}, {x}, {u}, true, true)[0];
  const Tensor gu = xg::grad({xg::sum(gx * seq({1, 2, 4}))}, {u})[0];
  CHECK(gu.to_vector<double>() == xg::pad(seq({1, 2, 4}), {2, 1}, PadMode::reflect).to_vector<double>());
}

TEST_CASE("pad: the modes' errors name the op, the mode and the shape") {
  const Tensor x = seq({1, 2, 3});
  CHECK_ERROR(xg::pad(x, {3, 0}, PadMode::reflect), xg::ShapeError, "pad", "reflect", "(3, 0)", "[1, 2, 3]",
              "less than");
  CHECK_ERROR(xg::pad(x, {0, 3}, PadMode::reflect), xg::ShapeError, "pad", "[1, 2, 3]");
  CHECK_ERROR(xg::pad(x, {4, 0}, PadMode::circular), xg::ShapeError, "pad", "circular", "wraps", "[1, 2, 3]");
  CHECK_ERROR(xg::pad(x, {-2, -1}, PadMode::replicate), xg::ShapeError, "pad", "replicate", "size 0");
  CHECK_ERROR(xg::pad(x, {-2, -1}, PadMode::reflect), xg::ShapeError, "pad", "reflect", "size 0");
  CHECK(xg::pad(x, {-3, 0}, PadMode::circular).shape() == xg::Shape{1, 2, 0});  // as torch: an empty axis
  CHECK_ERROR(xg::pad(x, {-3, 2}, PadMode::circular), xg::ShapeError, "pad", "wraps");
  // Wrong rank: 1-D padding takes [C, W] or [N, C, W]; 2-D padding [C, H, W] or [N, C, H, W].
  CHECK_ERROR(xg::pad(seq({3}), {1, 1}, PadMode::reflect), xg::ShapeError, "pad", "[3]");
  CHECK_ERROR(xg::pad(seq({1, 1, 1, 3}), {1, 1}, PadMode::reflect), xg::ShapeError, "pad", "[1, 1, 1, 3]");
  CHECK_ERROR(xg::pad(x, {1, 1, 1}, PadMode::replicate), xg::ShapeError, "pad", "3 values", "[1, 2, 3]");
  CHECK_ERROR(xg::pad(x, {1, 1, 1, 1, 1, 1, 1, 1}, PadMode::replicate), xg::ShapeError, "pad", "[1, 2, 3]");
  CHECK_ERROR(xg::pad(seq({2, 3}), {1, 1}, PadMode::circular), xg::ShapeError, "pad", "circular", "batched",
              "[2, 3]");
  CHECK_ERROR(xg::pad(x, {1, 1}, PadMode::reflect, 1.0), xg::ValueError, "pad", "reflect", "value");
  CHECK_ERROR(xg::pad(xg::zeros({1, 0, 3}, {.dtype = xg::Dtype::float64}), {1, 1}, PadMode::reflect),
              xg::ShapeError, "pad", "[1, 0, 3]");
  CHECK_ERROR(xg::pad(xg::zeros({1, 1, 3}, {.dtype = xg::Dtype::int64}), {1, 1}, PadMode::reflect),
              xg::TypeError, "pad", "int64", "[1, 1, 3]");
  // int64 circular padding works (as torch), without gradient.
  CHECK(xg::pad(xg::zeros({1, 1, 3}, {.dtype = xg::Dtype::int64}), {1, 1}, PadMode::circular).shape() ==
        xg::Shape{1, 1, 5});
  // An empty batch is fine.
  CHECK(xg::pad(xg::zeros({0, 1, 3}, {.dtype = xg::Dtype::float64}), {1, 1}, PadMode::reflect).shape() ==
        xg::Shape{0, 1, 5});
}

TEST_CASE("interpolate nearest: index floor(o * scale), scale = in / out or 1 / scale_factor") {
  using O = xg::InterpolateOptions;
  // F.interpolate(seq(1, 1, 5), size=8)
  check_values(xg::interpolate(seq({1, 1, 5}), O{.size = {8}}), {0.0, 0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 4.0});
  // F.interpolate(seq(1, 1, 5), scale_factor=1.1): 5 outputs, but read with scale 1 / 1.1, not 5 / 5
  check_values(xg::interpolate(seq({1, 1, 5}), O{.scale_factor = {1.1}}), {0.0, 0.0, 1.0, 2.0, 3.0});
  // ... and with recompute_scale_factor=True, in / out = 1
  check_values(xg::interpolate(seq({1, 1, 5}), O{.scale_factor = {1.1}, .recompute_scale_factor = true}),
               {0.0, 1.0, 2.0, 3.0, 4.0});
  // F.interpolate(seq(1, 1, 5), scale_factor=1.7) and with recompute_scale_factor=True
  check_values(xg::interpolate(seq({1, 1, 5}), O{.scale_factor = {1.7}}),
               {0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 4.0});
  check_values(xg::interpolate(seq({1, 1, 5}), O{.scale_factor = {1.7}, .recompute_scale_factor = true}),
               {0.0, 0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 4.0});
  // F.interpolate(seq(1, 1, 30), size=22): output 11 reads input 15, since 11 * 30 / 22 =
  // 14.999999999999998 is rounded to float (15) before the floor.
  const Tensor n30 = xg::interpolate(seq({1, 1, 30}), O{.size = {22}});
  check_values(n30, {0.0,  1.0,  2.0,  4.0,  5.0,  6.0,  8.0,  9.0,  10.0, 12.0, 13.0,
                     15.0, 16.0, 17.0, 19.0, 20.0, 21.0, 23.0, 24.0, 25.0, 27.0, 28.0});
  CHECK(n30.to_vector<double>()[11] == 15.0);
  // F.interpolate(seq(1, 1, 3, 4), size=(5, 7)) and F.interpolate(seq(1, 1, 5, 6), scale_factor=(0.6, 0.5))
  check_values(xg::interpolate(seq({1, 1, 3, 4}), O{.size = {5, 7}}),
               {0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 4.0,  4.0,  5.0, 5.0,
                6.0, 6.0, 7.0, 4.0, 4.0, 5.0, 5.0, 6.0, 6.0, 7.0, 8.0, 8.0, 9.0, 9.0, 10.0, 10.0, 11.0});
  check_values(xg::interpolate(seq({1, 1, 5, 6}), O{.scale_factor = {0.6, 0.5}}),
               {0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 18.0, 20.0, 22.0});
  // One size for both axes, as an int size.
  CHECK(xg::interpolate(seq({2, 3, 3, 4}), O{.size = {5}}).shape() == xg::Shape{2, 3, 5, 5});
  // Gradients: the sum over the outputs that read each input (torch's on these shapes).
  check_values(grad_of(
                   [](const Tensor& x) {
                     return xg::interpolate(x, O{.size = {5, 7}});
                   },
                   seq({1, 1, 3, 4})),
               {10.0, 14.0, 18.0, 10.5, 38.0, 42.0, 46.0, 24.5, 29.5, 31.5, 33.5, 17.5});
  check_values(grad_of([](const Tensor& x) { return xg::interpolate(x, O{.size = {3}}); }, seq({1, 1, 5})),
               {0.5, 1.0, 0.0, 1.5, 0.0});
}

TEST_CASE("interpolate linear and bilinear, with and without align_corners") {
  using O = xg::InterpolateOptions;
  const Tensor xl = wav({1, 2, 5});
  // F.interpolate(wav(1, 2, 5), size=8, mode='linear') and align_corners=True
  check_values(xg::interpolate(xl, O{.size = {8}, .mode = InterpMode::linear}),
               {0.29552020666133955, 0.5343736721004582, 0.8508580989106822, 0.9447292399385397,
                0.892851801108307, 0.6952257824199836, 0.31890426410985484, 0.041580662433290935,
                -0.6118578909427189, -0.7718394901337593, -0.971650401293538, -0.9128532375779485,
                -0.7242115335670546, -0.4057252892608566, 0.011670976113046412, 0.31154136351337786});
  check_values(xg::interpolate(xl, O{.size = {8}, .mode = InterpMode::linear, .align_corners = true}),
               {0.29552020666133955, 0.6074920798879435, 0.8629272456142639, 0.9487522888397336,
                0.9013214876235208, 0.7206348419656253, 0.4037992442149255, 0.041580662433290935,
                -0.6118578909427189, -0.820813449069792, -0.9640907659586764, -0.9103333591329946,
                -0.7378609440373203, -0.4466735206716537, -0.0801260812544021, 0.31154136351337786});
  // scale_factor=1.7 (scale 1 / 1.7) and recompute_scale_factor=True (scale 5 / 8)
  check_values(xg::interpolate(xl, O{.scale_factor = {1.7}, .mode = InterpMode::linear}),
               {0.29552020666133955, 0.5042660924232584, 0.8254136089800567, 0.9254028285504515,
                0.9451645707610984, 0.7591636119956175, 0.4703835423365493, 0.09751147285545489,
                -0.6118578909427189, -0.7516737423365694, -0.9667750521732623, -0.9249585359899815,
                -0.8085167158834011, -0.5087649565363913, -0.15212377330730256, 0.2510633021889415});
  check_values(xg::interpolate(
                   xl, O{.scale_factor = {1.7}, .mode = InterpMode::linear, .recompute_scale_factor = true}),
               {0.29552020666133955, 0.5343736721004582, 0.8508580989106822, 0.9447292399385397,
                0.892851801108307, 0.6952257824199836, 0.31890426410985484, 0.041580662433290935,
                -0.6118578909427189, -0.7718394901337593, -0.971650401293538, -0.9128532375779485,
                -0.7242115335670546, -0.4057252892608566, 0.011670976113046412, 0.31154136351337786});
  // size=3 (downsampling); size=1 with align_corners=True (the first input);
  // scale_factor=1.1 keeps the size 5, which is copied
  check_values(xg::interpolate(xl, O{.size = {3}, .mode = InterpMode::linear}),
               {0.47750379937685855, 0.9916648104524686, 0.2528748351392442, -0.7337486331835116,
                -0.8834546557201536, 0.08306868739883984});
  check_values(xg::interpolate(xl, O{.size = {1}, .mode = InterpMode::linear, .align_corners = true}),
               {0.29552020666133955, -0.6118578909427189});
  check_values(xg::interpolate(xl, O{.scale_factor = {1.1}, .mode = InterpMode::linear}),
               {0.29552020666133955, 0.8414709848078965, 0.9916648104524686, 0.6754631805511513,
                0.041580662433290935, -0.6118578909427189, -0.9775301176650969, -0.8834546557201536,
                -0.37387666483023685, 0.31154136351337786});
  check_values(
      grad_of([](const Tensor& x) { return xg::interpolate(x, O{.size = {8}, .mode = InterpMode::linear}); },
              xl),
      {1.0625, 2.46875, 3.375, 5.125, 5.96875, 7.3125, 9.21875, 9.375, 11.875, 12.21875});
  check_values(
      grad_of(
          [](const Tensor& x) {
            return xg::interpolate(x, O{.size = {8}, .mode = InterpMode::linear, .align_corners = true});
          },
          xl),
      {0.9285714285714286, 2.428571428571429, 3.8571428571428585, 5.285714285714285, 5.499999999999999,
       6.642857142857143, 9.285714285714286, 10.714285714285715, 12.14285714285714, 11.214285714285712});
  // F.interpolate(wav(1, 2, 3, 4), size=(5, 7), mode='bilinear', align_corners=False / True)
  const Tensor xb = wav({1, 2, 3, 4});
  auto bil = [](bool ac) {
    return [ac](const Tensor& x) {
      return xg::interpolate(x, O{.size = {5, 7}, .mode = InterpMode::bilinear, .align_corners = ac});
    };
  };
  check_values(bil(false)(xb),
               {0.29552020666133955,   0.490502627427967,    0.8024745006545709,   0.9165678976301825,
                0.9690789797452317,    0.7883923340873361,   0.6754631805511513,   0.19394438897012012,
                0.21758547666209524,   0.2554112169692554,   0.23206313685654645,  0.19312321112238445,
                0.10621418645791982,   0.051896046042629436, 0.041580662433290935, -0.19179024948671256,
                -0.5651837085587181,   -0.7946940043039079,  -0.9708104418118867,  -0.9170530349862048,
                -0.8834546557201536,   -0.20769373392482568, -0.15416680690490972, -0.06852372367304417,
                0.030715793521019323,  0.12789157962359013,  0.1970248141235146,   0.2402330856859675,
                -0.37387666483023685,  -0.12908451185037448, 0.2625829329174053,   0.5809889920709711,
                0.8603595939139085,    0.9397433801966614,   0.9893582466233819,   0.6629692300821833,
                0.43504287128617425,   0.07036069721255964,  -0.3001476117197622,  -0.6504896189767113,
                -0.8538413796473453,   -0.9809362300664916,  0.04760066817393867,  -0.01526616246772396,
                -0.11585309149438425,  -0.18623953565168447, -0.2441129278532696,  -0.24459544123420934,
                -0.24489701209729675,  -0.8754521746884285,  -0.6907297130985715,  -0.39517377455480013,
                -0.015377421549567838, 0.3654521088318931,   0.6692734663854948,   0.8591618148564958,
                0.24188230868939634,   0.24366755244301855,  0.246523942448814,    0.19132433856308906,
                0.12327004525572474,   0.023288919888404914, -0.03919928346616993, 0.9867719642746133,
                0.8665990628040788,    0.6743224204512237,   0.32912551197152706,  -0.038184663795054266,
                -0.40736744444298856,  -0.6381066823479474});
  check_values(bil(true)(xb),
               {0.29552020666133955,   0.568495595734618,     0.8414709848078965,    0.9165678976301825,
                0.9916648104524686,    0.8335639955018099,    0.6754631805511513,    0.16855043454731525,
                0.14167849073995203,   0.1148065469325888,    0.060936946663137315,  0.007067346393685836,
                -0.048464195595407655, -0.10399573758450115,  0.041580662433290935,  -0.285138614254714,
                -0.6118578909427189,   -0.7946940043039079,   -0.9775301176650969,   -0.9304923866926252,
                -0.8834546557201536,   -0.16614800119847295,  -0.15815313245657175,  -0.15015826371467053,
                -0.1068525061164684,   -0.06354674851826625,  -0.005297476533326073, 0.05295179545161416,
                -0.37387666483023685,  -0.031167650658429497, 0.31154136351337786,   0.5809889920709711,
                0.8504366206285644,    0.9198974336259731,    0.9893582466233819,    0.6629692300821833,
                0.34387232776777055,   0.024775425453357765,  -0.3001476117197622,   -0.6250706488928821,
                -0.8030034394796868,   -0.9809362300664916,   -0.10624147230312259,  -0.13648420034742903,
                -0.16672692839173547,  -0.157762516634665,    -0.14879810487759454,  -0.10484265624129618,
                -0.060887207604997884, -0.8754521746884285,   -0.6168407284626286,   -0.3582292822368287,
                -0.015377421549567838, 0.32747443913769303,   0.5933181269970944,    0.8591618148564958,
                0.05565989479309241,   0.10084458687661824,   0.14602927896014406,   0.1568740452109796,
                0.1677188114618152,    0.13912318885804467,   0.11052756625427418,   0.9867719642746133,
                0.8185299022158651,    0.6502878401571168,    0.32912551197152706,   0.007963183785937343,
                -0.31507174928100506,  -0.6381066823479474});
  check_values(grad_of(bil(false), xb), {5.6000000000000005,
                                         8.15,
                                         10.778571428571434,
                                         12.571428571428571,
                                         23.850000000000005,
                                         27.45,
                                         30.407142857142865,
                                         31.69285714285714,
                                         36.79999999999999,
                                         40.64999999999999,
                                         43.27857142857143,
                                         43.77142857142857,
                                         53.6,
                                         58.15,
                                         60.77857142857144,
                                         60.57142857142857,
                                         77.85000000000001,
                                         83.69999999999999,
                                         86.65714285714287,
                                         85.69285714285714,
                                         84.80000000000001,
                                         90.64999999999998,
                                         93.27857142857142,
                                         91.77142857142856});
  check_values(grad_of(bil(true), xb),
               {4.125, 8.0,  11.0, 10.125, 23.0, 34.0,  38.0,  31.0, 30.375, 43.0, 46.0, 36.375,
                43.5,  60.5, 63.5, 49.5,   75.5, 104.0, 108.0, 83.5, 69.75,  95.5, 98.5, 75.75});
  // F.interpolate(wav(1, 1, 5, 6), scale_factor=(0.5, 1.5), mode='bilinear')
  check_values(
      xg::interpolate(wav({1, 1, 5, 6}), O{.scale_factor = {0.5, 1.5}, .mode = InterpMode::bilinear}),
      {-0.3410049555018787, -0.18099839547900362, 0.03398914925507881, 0.2539130880999085,
       0.40119817242169026, 0.48558666694870845, 0.45392424661448383, 0.3173794096856296, 0.1887501778403315,
       0.4952218346099382, 0.4685952273824325, 0.39844895974425, 0.22437031810154248, 0.007763231368089152,
       -0.2100609117041137, -0.3890077787018192, -0.4659562388718168, -0.49816798229238807});
  // An inf meets a weight 0 even on a copied axis: inf * 0 = NaN, as torch (size=3 on [1, inf, 3]).
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor y = xg::interpolate(xg::tensor({1.0, inf, 3.0}, {1, 1, 3}, {.dtype = xg::Dtype::float64}),
                                   O{.size = {3}, .mode = InterpMode::linear});
  CHECK(y.to_vector<double>()[0] == 1.0);
  CHECK(std::isnan(y.to_vector<double>()[1]));
  // float32 works too.
  CHECK(xg::interpolate(xg::ones({1, 1, 2, 2}), O{.size = {3, 3}, .mode = InterpMode::bilinear}).dtype() ==
        xg::Dtype::float32);
}

TEST_CASE("interpolate: errors name the op and the shapes") {
  using O = xg::InterpolateOptions;
  CHECK_ERROR(xg::interpolate(seq({3, 4}), O{.size = {5}}), xg::ShapeError, "interpolate", "[3, 4]");
  CHECK_ERROR(xg::interpolate(seq({1, 1, 1, 3, 4}), O{.size = {5}}), xg::ShapeError, "interpolate",
              "[1, 1, 1, 3, 4]");
  CHECK_ERROR(xg::interpolate(seq({1, 1, 3, 4}), O{.size = {5}, .mode = InterpMode::linear}), xg::ShapeError,
              "interpolate", "linear", "[1, 1, 3, 4]");
  CHECK_ERROR(xg::interpolate(seq({1, 1, 4}), O{.size = {5}, .mode = InterpMode::bilinear}), xg::ShapeError,
              "interpolate", "bilinear", "[1, 1, 4]");
  CHECK_ERROR(xg::interpolate(seq({1, 1, 4}), O{.size = {5}, .align_corners = false}), xg::ValueError,
              "interpolate", "align_corners");
  CHECK_ERROR(xg::interpolate(seq({1, 1, 4}), O{.size = {5}, .scale_factor = {2.0}}), xg::ValueError,
              "interpolate", "only one");
  CHECK_ERROR(xg::interpolate(seq({1, 1, 4}), O{}), xg::ValueError, "interpolate", "either");
  CHECK_ERROR(xg::interpolate(seq({1, 1, 4}), O{.size = {5}, .recompute_scale_factor = true}), xg::ValueError,
              "interpolate", "recompute_scale_factor");
  CHECK_ERROR(xg::interpolate(seq({1, 1, 3, 4}), O{.size = {5, 6, 7}}), xg::ValueError, "interpolate",
              "3 values", "[1, 1, 3, 4]");
  CHECK_ERROR(xg::interpolate(seq({1, 1, 3, 4}), O{.size = {0, 3}, .mode = InterpMode::bilinear}),
              xg::ShapeError, "interpolate", "[1, 1, 3, 4]", "(0, 3)");
  CHECK_ERROR(xg::interpolate(seq({1, 1, 4}), O{.scale_factor = {0.2}}), xg::ShapeError, "interpolate",
              "(0)");
  CHECK_ERROR(xg::interpolate(seq({1, 1, 4}), O{.scale_factor = {std::nan("")}}), xg::ValueError,
              "interpolate", "scale_factor");
  CHECK_ERROR(xg::interpolate(seq({1, 0, 4}), O{.size = {5}}), xg::ShapeError, "interpolate", "[1, 0, 4]");
  CHECK_ERROR(xg::interpolate(xg::zeros({1, 1, 4}, {.dtype = xg::Dtype::int64}), O{.size = {5}}),
              xg::TypeError, "interpolate", "int64");
  CHECK(xg::interpolate(xg::zeros({0, 1, 4}, {.dtype = xg::Dtype::float64}), O{.size = {5}}).shape() ==
        xg::Shape{0, 1, 5});
}

TEST_CASE("pixel_shuffle and pixel_unshuffle move channels to space and back") {
  // F.pixel_shuffle(seq(1, 8, 2, 3), 2) and F.pixel_unshuffle(seq(1, 1, 4, 6), 2)
  const Tensor ps = xg::pixel_shuffle(seq({1, 8, 2, 3}), 2);
  CHECK(ps.shape() == xg::Shape{1, 2, 4, 6});
  check_values(
      ps, {0.0,  6.0,  1.0,  7.0,  2.0,  8.0,  12.0, 18.0, 13.0, 19.0, 14.0, 20.0, 3.0,  9.0,  4.0,  10.0,
           5.0,  11.0, 15.0, 21.0, 16.0, 22.0, 17.0, 23.0, 24.0, 30.0, 25.0, 31.0, 26.0, 32.0, 36.0, 42.0,
           37.0, 43.0, 38.0, 44.0, 27.0, 33.0, 28.0, 34.0, 29.0, 35.0, 39.0, 45.0, 40.0, 46.0, 41.0, 47.0});
  const Tensor pu = xg::pixel_unshuffle(seq({1, 1, 4, 6}), 2);
  CHECK(pu.shape() == xg::Shape{1, 4, 2, 3});
  check_values(pu, {0.0, 2.0, 4.0,  12.0, 14.0, 16.0, 1.0, 3.0, 5.0,  13.0, 15.0, 17.0,
                    6.0, 8.0, 10.0, 18.0, 20.0, 22.0, 7.0, 9.0, 11.0, 19.0, 21.0, 23.0});
  // Each undoes the other, with any number of leading axes.
  const Tensor x = seq({2, 3, 18, 2, 1});
  CHECK(xg::pixel_unshuffle(xg::pixel_shuffle(x, 3), 3).to_vector<double>() == x.to_vector<double>());
  CHECK_ERROR(xg::pixel_shuffle(seq({1, 5, 2, 2}), 2), xg::ShapeError, "pixel_shuffle", "[1, 5, 2, 2]", "4");
  CHECK_ERROR(xg::pixel_shuffle(seq({4, 2}), 2), xg::ShapeError, "pixel_shuffle", "[4, 2]");
  CHECK_ERROR(xg::pixel_shuffle(seq({1, 4, 2, 2}), 0), xg::ValueError, "pixel_shuffle", "0");
  CHECK_ERROR(xg::pixel_unshuffle(seq({1, 1, 3, 4}), 2), xg::ShapeError, "pixel_unshuffle", "[1, 1, 3, 4]");
  CHECK_ERROR(xg::pixel_unshuffle(seq({1, 1, 4, 4}), -1), xg::ValueError, "pixel_unshuffle", "-1");
}

TEST_CASE("unfold and fold: im2col and col2im, each the other's gradient") {
  // F.unfold(seq(1, 2, 3, 4), (2, 3)) -> [1, 12, 4]
  const Tensor u = xg::unfold(seq({1, 2, 3, 4}), {2, 3});
  CHECK(u.shape() == xg::Shape{1, 12, 4});
  check_values(
      u, {0.0,  1.0,  4.0,  5.0,  1.0,  2.0,  5.0,  6.0,  2.0,  3.0,  6.0,  7.0,  4.0,  5.0,  8.0,  9.0,
          5.0,  6.0,  9.0,  10.0, 6.0,  7.0,  10.0, 11.0, 12.0, 13.0, 16.0, 17.0, 13.0, 14.0, 17.0, 18.0,
          14.0, 15.0, 18.0, 19.0, 16.0, 17.0, 20.0, 21.0, 17.0, 18.0, 21.0, 22.0, 18.0, 19.0, 22.0, 23.0});
  // F.unfold(seq(1, 2, 3, 4), 2, dilation=(1, 2), padding=1, stride=2) -> [1, 8, 4]
  auto u2 = [](const Tensor& x) { return xg::unfold(x, 2, {1, 2}, 1, 2); };
  CHECK(u2(seq({1, 2, 3, 4})).shape() == xg::Shape{1, 8, 4});
  check_values(u2(seq({1, 2, 3, 4})),
               {0.0, 0.0, 0.0, 5.0,  0.0, 0.0, 5.0,  7.0,  0.0, 1.0,  0.0, 9.0,  1.0,  3.0,  9.0,  11.0,
                0.0, 0.0, 0.0, 17.0, 0.0, 0.0, 17.0, 19.0, 0.0, 13.0, 0.0, 21.0, 13.0, 15.0, 21.0, 23.0});
  check_values(grad_of(u2, seq({1, 2, 3, 4})),
               {0.0, 11.5, 0.0, 7.0,  0.0, 5.5,  0.0, 4.0,  0.0, 13.5, 0.0, 8.0,
                0.0, 27.5, 0.0, 15.0, 0.0, 21.5, 0.0, 12.0, 0.0, 29.5, 0.0, 16.0});
  // Unbatched [C, H, W] -> [C kh kw, L].
  CHECK(xg::unfold(seq({2, 3, 4}), {2, 3}).to_vector<double>() == u.to_vector<double>());
  // F.fold(seq(1, 8, 6), (3, 4), 2) -> [1, 2, 3, 4], overlaps summed
  auto f1 = [](const Tensor& x) { return xg::fold(x, {3, 4}, 2); };
  CHECK(f1(seq({1, 8, 6})).shape() == xg::Shape{1, 2, 3, 4});
  check_values(f1(seq({1, 8, 6})),
               {0.0,  7.0,  9.0,  8.0,  15.0, 44.0,  48.0,  31.0, 15.0, 37.0, 39.0, 23.0,
                24.0, 55.0, 57.0, 32.0, 63.0, 140.0, 144.0, 79.0, 39.0, 85.0, 87.0, 47.0});
  check_values(grad_of(f1, seq({1, 8, 6})),
               {0.5, 1.0, 1.5, 2.5,  3.0, 3.5, 1.0, 1.5,  2.0,  3.0,  3.5, 4.0, 2.5,  3.0,  3.5,  4.5,
                5.0, 5.5, 3.0, 3.5,  4.0, 5.0, 5.5, 6.0,  6.5,  7.0,  7.5, 8.5, 9.0,  9.5,  7.0,  7.5,
                8.0, 9.0, 9.5, 10.0, 8.5, 9.0, 9.5, 10.5, 11.0, 11.5, 9.0, 9.5, 10.0, 11.0, 11.5, 12.0});
  // F.fold(seq(1, 4, 8), (5, 4), 2, dilation=(1, 2), padding=(0, 1), stride=(2, 1)) -> [1, 1, 5, 4]
  check_values(xg::fold(seq({1, 4, 8}), {5, 4}, 2, {1, 2}, {0, 1}, {2, 1}),
               {1.0,  10.0, 12.0, 10.0, 17.0, 42.0, 44.0, 26.0, 5.0, 18.0,
                20.0, 14.0, 21.0, 50.0, 52.0, 30.0, 0.0,  0.0,  0.0, 0.0});
  CHECK(xg::fold(seq({4, 8}), {5, 4}, 2, {1, 2}, {0, 1}, {2, 1}).shape() == xg::Shape{1, 5, 4});
  // Re-exported as nn::functional's.
  namespace F = xg::nn::functional;
  CHECK(F::fold(F::unfold(seq({1, 1, 4, 4}), 2, 1, 0, 2), {4, 4}, 2, 1, 0, 2).to_vector<double>() ==
        seq({1, 1, 4, 4}).to_vector<double>());
  CHECK(F::interpolate(seq({1, 1, 2}), F::InterpolateOptions{.size = {4}}).shape() == xg::Shape{1, 1, 4});
  CHECK(F::pad(seq({1, 1, 2}), {1, 1}, F::PadMode::replicate).shape() == xg::Shape{1, 1, 4});
  CHECK(F::pixel_unshuffle(F::pixel_shuffle(seq({1, 4, 1, 1}), 2), 2).shape() == xg::Shape{1, 4, 1, 1});
}

TEST_CASE("unfold and fold: errors name the op and the shapes") {
  CHECK_ERROR(xg::unfold(seq({5, 6}), 2), xg::ShapeError, "unfold", "[5, 6]");
  CHECK_ERROR(xg::unfold(seq({2, 3, 5, 5}), {7, 3}), xg::ShapeError, "unfold", "[2, 3, 5, 5]", "(7, 3)");
  CHECK_ERROR(xg::unfold(seq({1, 1, 5, 5}), {0, 3}), xg::ValueError, "unfold", "kernel_size", "(0, 3)");
  CHECK_ERROR(xg::unfold(seq({1, 1, 5, 5}), 2, 1, 0, 0), xg::ValueError, "unfold", "stride");
  CHECK_ERROR(xg::unfold(seq({1, 1, 5, 5}), 2, 1, -1), xg::ValueError, "unfold", "padding");
  CHECK_ERROR(xg::unfold(seq({1, 0, 5, 5}), 2), xg::ShapeError, "unfold", "[1, 0, 5, 5]");
  CHECK_ERROR(xg::unfold(xg::zeros({1, 1, 3, 3}, {.dtype = xg::Dtype::int64}), 2), xg::TypeError, "unfold",
              "int64");
  // fold: the blocks of output_size must match the input's columns.
  CHECK_ERROR(xg::fold(seq({2, 12, 9}), {5, 5}, 2, 1, 0, 2), xg::ShapeError, "fold", "[2, 12, 9]", "(5, 5)",
              "2 * 2 = 4");
  CHECK_ERROR(xg::fold(seq({2, 12, 9}), {4, 4}, 5), xg::ShapeError, "fold", "[2, 12, 9]", "divisible", "25");
  CHECK_ERROR(xg::fold(seq({9}), {4, 4}, 2), xg::ShapeError, "fold", "[9]");
  CHECK_ERROR(xg::fold(seq({2, 4, 9}), {0, 4}, 2), xg::ValueError, "fold", "output_size");
  CHECK_ERROR(xg::fold(seq({2, 0, 9}), {4, 4}, 2), xg::ShapeError, "fold", "[2, 0, 9]");
  CHECK(xg::fold(xg::zeros({0, 4, 9}, {.dtype = xg::Dtype::float64}), {4, 4}, 2).shape() ==
        xg::Shape{0, 1, 4, 4});
}

TEST_CASE("the resampling ops are registered, the forwards with their PyTorch callables") {
  for (const char* name : {"pad_reflect", "pad_replicate", "pad_circular", "interpolate", "pixel_shuffle",
                           "pixel_unshuffle", "unfold", "fold"}) {
    CAPTURE(name);
    const xg::OpInfo* op = xg::find_op(name);
    REQUIRE(op != nullptr);
    REQUIRE(op->torch != nullptr);
    CHECK(std::string(op->torch).rfind("torch.nn.functional.", 0) == 0);
  }
  CHECK(xg::find_op("pad_mode_backward") != nullptr);
  CHECK(xg::find_op("interpolate_backward") != nullptr);
  // A reflect pad records pad_reflect; its gradient records pad_mode_backward.
  const Tensor x = seq({1, 1, 3}).requires_grad_(true);
  const Tensor y = xg::pad(x, {1, 1}, PadMode::reflect);
  REQUIRE(y.grad_fn() != nullptr);
  CHECK(std::string(y.grad_fn()->info().name) == "pad_reflect");
}
